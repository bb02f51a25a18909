#!/usr/bin/env bash
# One command: ketch beside ProcessPoolExecutor and Ray. Makes bench/.venv-ray (Ray + ketch,
# kept apart from the test venv) if it is missing, then runs bench/core.py with it.
#   bench/run_core.sh [--quick] [--no-ray] [--json PATH]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv-ray"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import ray, ketch, psutil" 2>/dev/null; then
    echo "bench: creating $venv (ray ${RAY_VERSION:-2.60.0}, psutil, ketch editable)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "ray==${RAY_VERSION:-2.60.0}" psutil
    "$venv/bin/pip" install -q -e "$here/.."
fi
exec "$venv/bin/python" "$here/core.py" "$@"
