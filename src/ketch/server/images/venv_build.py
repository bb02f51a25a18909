"""Builds image steps for the process backend, where an image is a virtualenv of the
server's Python: the base step makes one, each pip step installs into a copy of the layer
before it. Containers run the last layer's interpreter. There is no isolation on this
backend, so steps that need a root file system of their own are refused (see steps.py).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
from pathlib import Path

from ...proto import ketch_pb2 as pb
from ..._runtime.web import FALLBACK_SITE
from ..runtime.bwrap import SITE, runtime_binds
from .errors import BuildFailed, OutputTail
from ..._pythons import offered
from .sandbox_build import _pip_options

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
RECIPE = f"venv-1:{sys.version.split()[0]}"


async def make(step: pb.ImageStep, layers: list[Path], env: dict, workdir: str,
               scratch: Path, store, log) -> tuple[Path, dict]:
    fs = scratch / "fs"
    kind = step.kind
    if kind == "debian_slim":
        version = step.args[0] if step.args else ""
        if version and version != PYTHON:
            raise BuildFailed(
                f"debian_slim(python_version={version!r}): on the process backend an image "
                f"is a virtualenv of the server's Python, {PYTHON}; pass "
                f"python_version={PYTHON!r} or run the server with --runtime bwrap (which "
                f"offers Python {offered()})", "")
        await _command([sys.executable, "-m", "venv", str(fs)], env, log)
        _link_runtime(fs)
        return fs, {"python": PYTHON}
    await asyncio.to_thread(shutil.copytree, layers[-1], fs, symlinks=True)
    python = str(fs / "bin" / "python")
    opts = dict(step.options)
    if kind == "pip_install":
        argv = [python, "-m", "pip", "install", *_pip_options(opts), *step.args]
    elif kind == "uv_pip_install":
        tool = scratch / "uv"
        await _command([python, "-m", "pip", "install", "-q", "--target", str(tool), "uv"],
                       env, log)
        argv = [str(tool / "bin" / "uv"), "pip", "install", "--python", python,
                *_pip_options(opts, uv=True), *step.args]
    elif kind == "pip_install_from_requirements":
        req = scratch / "requirements.txt"
        req.write_text(step.args[0])
        argv = [python, "-m", "pip", "install", *_pip_options(opts), "-r", str(req)]
    else:
        raise ValueError(f"the virtualenv image builder has no step {kind!r}")
    await _command(argv, {**env, **step.env, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                          "PIP_NO_CACHE_DIR": "1"}, log)
    return fs, {}


def _link_runtime(venv: Path):
    """Makes ketch's container runtime importable in the venv without copying it."""
    site = next((venv / "lib").glob("python*/site-packages"))
    runtime = venv / "ketch-runtime"
    for host, inside in runtime_binds():
        # Both ketch's site and the web server's fallback site: ketch-runtime comes after
        # the venv's own packages either way.
        root = FALLBACK_SITE if inside.startswith(FALLBACK_SITE + "/") else SITE
        target = runtime / os.path.relpath(inside, root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(host)
    # Relative to the venv, which moves when its layer is committed or copied.
    (site / "ketch-runtime.pth").write_text(
        "import os, sys; sys.path.append(os.path.join(sys.prefix, 'ketch-runtime'))\n")


async def _command(argv: list[str], env: dict, log):
    tail = OutputTail()
    proc = await asyncio.create_subprocess_exec(
        *argv, env={**os.environ, **env}, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        start_new_session=True)
    try:
        async for raw in proc.stdout:
            text = raw.decode(errors="replace").rstrip("\n")
            tail.add(text)
            log(text)
        code = await proc.wait()
    except BaseException:
        proc.kill()
        raise
    if code != 0:
        raise BuildFailed(f"{shlex.join(argv[:4])} … exited with code {code}", tail.text())
