"""Functions in a Debian 13 image, whose Python (3.13) is not the client's."""

import sys

import ketch

image = ketch.Image.debian_slim(python_version="3.13")
app = ketch.App("py313", image=image)


@app.function()
def facts(data: dict) -> dict:
    """Plain data in, plain data out: it crosses minor versions."""
    return {"version": f"{sys.version_info.major}.{sys.version_info.minor}",
            "echo": data, "doubled": [2 * x for x in data["xs"]],
            "os": open("/etc/debian_version").read().strip()}


@app.function()
def fails():
    raise ValueError("raised under Python " + sys.version.split()[0])
