"""Functions under Pythons ketch adds to an image, each with its own C library: 3.9
(older than the image's glibc) on a registry image that has no Python, and 3.15 (newer)
on Debian 12, with a package pip-installed into it."""

import os
import shutil
import subprocess
import sys

import ketch

# The test's registry; containers import this module too, where nothing is pulled.
BASE = os.environ.get("KETCH_TEST_NO_PYTHON_IMAGE", "localhost:1/unused:v1")
oldest = ketch.Image.from_registry(BASE, add_python="3.9")
newest = ketch.Image.debian_slim(python_version="3.15").pip_install("six==1.16.0")
app = ketch.App("added-python")


def _facts() -> dict:
    image_libc = subprocess.run(["ldd", "--version"], capture_output=True, text=True)
    return {"version": sys.version.split()[0], "executable": sys.executable,
            "python_libc": os.confstr("CS_GNU_LIBC_VERSION"),
            "image_libc": image_libc.stdout.splitlines()[0].split()[-1],
            "pip": shutil.which("pip")}


@app.function(image=oldest)
def on_oldest(data: dict) -> dict:
    return {**_facts(), "echo": data}


@app.function(image=newest)
def on_newest() -> dict:
    import six  # pip-installed into the added Python

    return {**_facts(), "six": six.__version__}
