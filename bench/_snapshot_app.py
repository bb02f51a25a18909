"""The memory-snapshot bench's app: a class whose @enter imports torch (CPU build, from
this machine's wheel: examples/minilm.py's image), with and without a snapshot."""

import os
import sys

import ketch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import minilm  # noqa: E402

image = minilm.image()
app = ketch.App("snapbench", image=image)


@app.cls(enable_memory_snapshot=True, scaledown_window=1)
class Snapped:
    @ketch.enter(snap=True)
    def load(self):
        import torch
        self.weights = torch.ones(256, 256)

    @ketch.method()
    def first(self, i: int) -> float:
        return float(self.weights.sum()) + i


@app.cls(scaledown_window=1)
class Plain:
    @ketch.enter()
    def load(self):
        import torch
        self.weights = torch.ones(256, 256)

    @ketch.method()
    def first(self, i: int) -> float:
        return float(self.weights.sum()) + i
