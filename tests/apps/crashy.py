"""Functions that leave in unusual ways: sys.exit, os._exit, a segfault."""

import ctypes
import os
import sys

import ketch

app = ketch.App("crashy")


@app.function(timeout=5, startup_timeout=60)
def sys_exit(code=4):
    sys.exit(code)


@app.function(timeout=5, startup_timeout=60)
async def async_sys_exit(code=4):
    sys.exit(code)


@app.function()
def hard_exit(code=3):
    os._exit(code)


@app.function()
def segfault():
    ctypes.string_at(0)


@app.function()
def square(x):
    return x * x
