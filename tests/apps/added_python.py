"""Functions in registry images that have no Python of their own: ketch adds one
(add_python), with its own C library, newer (3.15) or older (3.9) than the image's."""

import os
import subprocess
import sys

import ketch

# The test's registry; containers import this module too, where nothing is pulled.
BASE = os.environ.get("KETCH_TEST_NO_PYTHON_IMAGE", "localhost:1/unused:v1")
newest = ketch.Image.from_registry(BASE, add_python="3.15").pip_install("six==1.16.0")
oldest = ketch.Image.from_registry(BASE, add_python="3.9")
app = ketch.App("added-python")


def _facts() -> dict:
    image_libc = subprocess.run(["ldd", "--version"], capture_output=True, text=True)
    return {"version": sys.version.split()[0], "executable": sys.executable,
            "python_libc": os.confstr("CS_GNU_LIBC_VERSION"),
            "image_libc": image_libc.stdout.splitlines()[0].split()[-1],
            "pip": subprocess.run([sys.executable, "-m", "pip", "--version"],
                                  capture_output=True, text=True).stdout.split()[1]}


@app.function(image=newest)
def on_newest(data: dict) -> dict:
    import six  # pip-installed into the added Python

    return {**_facts(), "six": six.__version__, "echo": data}


@app.function(image=oldest)
def on_oldest(data: dict) -> dict:
    return {**_facts(), "echo": data}
