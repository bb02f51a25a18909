"""An app for the dashboard's browser tests: a slow function to chart while a map runs,
one that fails (its traceback), one that prints (the log tail)."""

import time

import ketch

app = ketch.App("dashboard-app")


@app.function(max_containers=2, scaledown_window=60)
def slow(x: int) -> int:
    time.sleep(0.25)
    return x


@app.function()
def fails(x: int) -> int:
    raise ValueError(f"dashboard test failure for {x}")


@app.function(scaledown_window=120)
def chatty(word: str) -> str:
    for i in range(3):
        print(f"chatty says {word} {i}", flush=True)
    return word


@app.function(scaledown_window=120)
def credential() -> str:
    """The container's own credential, to show that it cannot log a browser in."""
    import os

    return os.environ["KETCH_TOKEN"]


@app.function()
@ketch.fastapi_endpoint(method="GET")
def ping():
    return {"pong": True}
