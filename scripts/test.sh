#!/usr/bin/env bash
# Installs what the tests need — Debian packages (as root, from .ci/apt-packages.txt,
# through scripts/system-packages.sh) and ketch with its test dependencies in .venv —
# then runs the test suite on two pytest-xdist workers (tests/conftest.py keeps each file on
# one worker; tests/store_fixtures.py starts its own PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh

python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test,postgres,ray]'
exec .venv/bin/python -m pytest -q -n 2 --durations=25 "$@"
