"""Functions for the cluster tests: each says which node ran it (KETCH_NODE_ID)."""

import os
import time

import ketch

app = ketch.App("cluster")


def node() -> str:
    return os.environ["KETCH_NODE_ID"]


@app.function()
def where(x):
    time.sleep(0.3)
    return node(), x


@app.function(cpu=0.75)   # more than half a 1-CPU node: two never share one
def most_of_a_cpu(seconds):
    started = time.time()
    time.sleep(seconds)
    return node(), started, time.time()


@app.function(memory=2048)
def big_memory():
    return node()


@app.function(gpu="H100")
def on_h100():
    return node(), os.environ.get("CUDA_VISIBLE_DEVICES")


@app.function(gpu="A100", startup_timeout=90)
def on_a100():
    return node()


@app.function(cpu=0.75, retries=3)
def one_second(x):
    time.sleep(1)
    return node(), x
