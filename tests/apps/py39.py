"""A function in a Debian 11 image, whose Python (3.9) is not the client's."""

import sys

import ketch

app = ketch.App("py39", image=ketch.Image.debian_slim(python_version="3.9"))


@app.function()
def facts(data: dict) -> dict:
    return {"version": sys.version.split()[0], "echo": data,
            "os": open("/etc/debian_version").read().strip()}
