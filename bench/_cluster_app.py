"""The functions bench/cluster.py calls. The bench's cluster declares GPUs to Ray where
none exist, to pin work: an L4 on the head, an H100 on worker w2 (placement, not CUDA)."""

import os
import time

import ketch

app = ketch.App("bench-cluster")


@app.function(gpu="L4")
def on_head(x):
    return x


@app.function(gpu="H100")
def on_worker(x):
    return x


@app.function(cpu=1.0)
def one_second(x):
    time.sleep(1)
    return os.environ["KETCH_NODE_ID"]
