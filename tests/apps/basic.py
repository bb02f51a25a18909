"""Functions the tests run in real containers. Imported by module path in containers."""

import asyncio
import os
import signal
import time
from pathlib import Path

import ketch

app = ketch.App("basic")


@app.function()
def square(x):
    return x * x


@app.function()
def add(a, b=0, *, c=0):
    return a + b + c


@app.function()
async def async_double(x):
    await asyncio.sleep(0.001)
    return 2 * x


@app.function()
def countdown(n):
    for i in range(n, 0, -1):
        yield i


@app.function()
async def async_countdown(n):
    for i in range(n, 0, -1):
        yield i


@app.function()
def fail_on(x, bad=3):
    if x == bad:
        raise KeyError(f"input {x} is bad")
    return x


class CustomError(Exception):
    def __init__(self, code, detail):
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


@app.function()
def raise_custom():
    raise CustomError(42, "custom detail")


@app.function()
def whoami(_=None):
    return {
        "local": ketch.is_local(),
        "input_id": ketch.current_input_id(),
        "call_id": ketch.current_function_call_id(),
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "env": os.environ.get("GREETING"),
    }


@app.function(env={"GREETING": "hi"})
def with_env():
    return os.environ.get("GREETING")


@app.function()
def sleep_for(seconds, marker=None):
    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(seconds)
    return seconds


@app.function(timeout=1, startup_timeout=60)   # a slow start under load is not the subject
def too_slow():
    time.sleep(30)


@app.function()
def crash(code=3):
    os._exit(code)


@app.function()
def kill_self():
    os.kill(os.getpid(), signal.SIGKILL)


@app.function(retries=ketch.Retries(max_retries=2, initial_delay=0.0, backoff_coefficient=1.0))
def flaky(counter_path, fail_times):
    """Fails until it has been called `fail_times` times (counted in a file)."""
    path = Path(counter_path)
    n = int(path.read_text()) if path.exists() else 0
    path.write_text(str(n + 1))
    if n < fail_times:
        raise RuntimeError(f"attempt {n + 1} failed")
    return n + 1


@app.function(retries=ketch.Retries(max_retries=1, initial_delay=0.0, backoff_coefficient=1.0))
def crash_once(counter_path):
    path = Path(counter_path)
    n = int(path.read_text()) if path.exists() else 0
    path.write_text(str(n + 1))
    if n == 0:
        os._exit(9)
    return "survived"


@app.function()
def echo_bytes(data):
    return data


@app.function()
def make_bytes(n):
    return os.urandom(n)


@app.function()
def identity(x):
    return x


@app.function()
def unpicklable_result():
    import threading

    return threading.Lock()


@app.function()
def call_square(x):
    """Calls another function of the same app from inside a container."""
    return square.remote(x) + 1


@app.function(max_containers=1)
@ketch.concurrent(max_inputs=4)
def concurrent_sleep(seconds):
    start = time.time()
    time.sleep(seconds)
    return (os.getpid(), start, time.time())


@app.function(max_containers=1)
@ketch.concurrent(max_inputs=10)
async def concurrent_async(seconds):
    start = time.time()
    await asyncio.sleep(seconds)
    return (os.getpid(), start, time.time())


@app.function()
@ketch.batched(max_batch_size=8, wait_ms=200)
def batch_double(xs):
    return [(x * 2, len(xs)) for x in xs]


@app.function()
@ketch.batched(max_batch_size=4, wait_ms=100)
def batch_wrong_length(xs):
    return xs[:1]


@app.cls()
class BatchedModel:
    """A class whose only remote method is @batched, as Modal allows (issue 10)."""
    scale: int = ketch.parameter(default=1)

    @ketch.enter()
    def load(self):
        self.pid = os.getpid()

    @ketch.batched(max_batch_size=8, wait_ms=200)
    def predict(self, xs):
        return [(x * self.scale, len(xs), self.pid) for x in xs]


@app.cls()
class Counter:
    start: int = ketch.parameter(default=0)
    exit_marker: str = ketch.parameter(default="")

    @ketch.enter()
    def setup(self):
        self.enters = getattr(self, "enters", 0) + 1
        self.pid = os.getpid()

    @ketch.method()
    def info(self, x=0):
        return {"start": self.start, "x": x, "enters": self.enters, "pid": self.pid}

    @ketch.method()
    def steps(self, n):
        for i in range(n):
            yield self.start + i

    @ketch.exit()
    def teardown(self):
        if self.exit_marker:
            Path(self.exit_marker).write_text(f"exited {self.pid}")


@app.cls()
class AsyncModel:
    @ketch.enter()
    async def load(self):
        await asyncio.sleep(0.01)
        self.weights = [1, 2, 3]

    @ketch.method()
    async def predict(self, x):
        return sum(w * x for w in self.weights)

    @ketch.method()
    def sync_predict(self, x):
        return -x


@app.function(retries=ketch.Retries(max_retries=3, initial_delay=10.0))
def fails_with_slow_retries():
    raise RuntimeError("always fails")


@app.function(retries=ketch.Retries(max_retries=2, initial_delay=0.0, backoff_coefficient=1.0))
def yields_then_fails(counter_path):
    """Counts its runs in a file: a generator that has yielded must not be re-run."""
    path = Path(counter_path)
    path.write_text(str(int(path.read_text()) + 1 if path.exists() else 1))
    yield "first"
    raise RuntimeError("failed after yielding")


@app.cls(min_containers=1)
class NeverStarts:
    @ketch.enter()
    def load(self):
        raise RuntimeError("the model file is missing")

    @ketch.method()
    def predict(self, x):
        return x
