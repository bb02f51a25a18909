"""The ketch functions that bench/core.py calls. An importable module, so ketch containers
import it by name (the path a user's own module takes) rather than unpickling it."""

import ketch

app = ketch.App("bench-core")


@app.function()
def noop(x):
    return x


def cold_noop(x):
    """Left undecorated: core.py's cold-start benchmark decorates it with a fresh App each
    repetition, so every repetition's first call finds no container."""
    return x


def plain_noop(x):
    """The same trivial function for ProcessPoolExecutor (which pickles it by reference)."""
    return x
