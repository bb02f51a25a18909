#!/usr/bin/env bash
# Installs what the tests need — Debian packages (as root, from .ci/apt-packages.txt) and
# ketch with its test dependencies in .venv — then runs the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh

missing=$(xargs -a .ci/apt-packages.txt -n1 sh -c 'dpkg -s "$0" >/dev/null 2>&1 || echo "$0"')
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq $missing
    else
        echo "scripts/test.sh: missing Debian packages: $missing (install them as root;" \
             "tests that need them will fail or skip)" >&2
    fi
fi

python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
exec .venv/bin/python -m pytest -q "$@"
