"""Functions for autoscaler tests."""

import os
import time

import ketch

app = ketch.App("scaling")


@app.function(min_containers=1)
def warm(x):
    return os.getpid()


@app.function(scaledown_window=1)
def quick_to_leave(x):
    return os.getpid()


@app.function(max_containers=2)
def capped(seconds):
    time.sleep(seconds)
    return os.getpid()


@app.function(buffer_containers=1)
def buffered(seconds):
    time.sleep(seconds)
    return os.getpid()


@app.function()
def fan_out(seconds):
    time.sleep(seconds)
    return os.getpid()
