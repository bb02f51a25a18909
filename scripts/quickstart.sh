#!/usr/bin/env bash
# Installs ketch into .venv and runs the example app end to end on the embedded default:
# the first ketch command starts a local server in the background by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e .
exec .venv/bin/ketch run examples/hello.py --n 20
