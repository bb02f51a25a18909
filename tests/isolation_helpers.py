"""Shared by the bwrap and image tests: a server on the bwrap runtime, the image cache
they share across runs, and a way to run client code against a server."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from conftest import ServerProcess
from ketch.server.runtime.bwrap import bwrap_usable

# The image layer cache outlives test runs (the Debian base takes a while to build cold).
IMAGES_DIR = Path(os.environ.get("KETCH_TEST_IMAGES_DIR", "/var/cache/ketch-test/images"))

needs_bwrap = pytest.mark.skipif(
    not bwrap_usable(), reason="the bwrap runtime needs bubblewrap, root and cgroups "
                               "(apt-get install bubblewrap; run as root)")


# Isolation tests run on the ways a container starts: forked from a zygote, exec'd, and
# (a subset: `not_on_image`) forked from the unprivileged zygote of an image (the test
# apps take a Debian image when KETCH_TEST_APP_IMAGE is set).
START_PATHS = ["fork", "exec", "image"]


def path_env(path: str) -> dict:
    env = {"KETCH_ZYGOTE": "0" if path == "exec" else "1"}
    if path == "image":
        env["KETCH_TEST_APP_IMAGE"] = "1"
    return env


def skip_on_exec(srv):
    """For a test whose subject does not depend on how the container started."""
    if getattr(srv, "start_path", "fork") in ("exec", "image"):
        pytest.skip("the same on every start path: run on the forked one")


def not_on_image(srv, why: str):
    """For a test of the host system's view, or one the image path shares as is."""
    if getattr(srv, "start_path", "fork") == "image":
        pytest.skip(why)


def start_server(data_dir: Path, runtime: str, **env) -> ServerProcess:
    IMAGES_DIR.mkdir(parents=True, exist_ok=True)
    return ServerProcess(data_dir, runtime=runtime,
                         extra_env={"KETCH_IMAGES_DIR": str(IMAGES_DIR), **env}).start()


def run_client(srv: ServerProcess, code: str, timeout: float = 600):
    """Runs client code (dedented) against srv; its last line of stdout is JSON."""
    proc = srv.python(textwrap.dedent(code), timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"client failed (exit {proc.returncode}):\nstdout:\n"
                             f"{proc.stdout}\nstderr:\n{proc.stderr}\nserver log:\n"
                             f"{srv.log()[-4000:]}")
    return json.loads(lines[-1])
