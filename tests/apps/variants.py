"""Functions and a class that the tests run with options given at run time."""

import os
import time

import ketch

app = ketch.App("variants")


@app.function(max_containers=1, env={"FLAVOUR": "base"})
def flavour(seconds: float = 0) -> str:
    time.sleep(seconds)
    return f"{os.environ.get('FLAVOUR')}:{os.getpid()}"


@app.function(max_containers=1)
def batch_sizes(items):
    """Written for batches (with_batching): each item learns how big its batch was."""
    return [len(items)] * len(items)


@app.cls(max_containers=1, env={"FLAVOUR": "base"})
class Model:
    size: int = ketch.parameter(default=1)

    @ketch.method()
    def describe(self, seconds: float = 0) -> str:
        time.sleep(seconds)
        return f"{os.environ.get('FLAVOUR')}:{self.size}"


@app.function()
@ketch.fastapi_endpoint()
def page():
    return {"ok": True}
