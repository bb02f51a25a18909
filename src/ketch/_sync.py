"""One async core, two faces: every SDK call is a coroutine run on ketch's own event loop
thread; the blocking face waits for it, the `.aio` face awaits it from any other loop.

    class Function:
        @twin
        async def remote(self, *args): ...

    f.remote(1)              # blocking
    await f.remote.aio(1)    # async
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import functools
import inspect
import logging
import threading
from typing import AsyncIterator, Awaitable, Callable

from ._context import current_input
from ._traceback import user_frames_only

log = logging.getLogger("ketch")

_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_exited = False   # the interpreter is exiting: the loop has stopped for good
_lock = threading.Lock()
# How long exit waits for a busy loop to finish its callback and stop.
EXIT_JOIN_S = 1.0


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


def loop() -> asyncio.AbstractEventLoop:
    """ketch's event loop, running in a daemon thread, started on first use."""
    global _loop, _thread
    if _exited:
        raise RuntimeError("ketch's event loop has stopped: the interpreter is exiting, "
                           "so no more ketch calls can be made (make them before exit)")
    if _loop is None:
        with _lock:
            if _loop is None:
                new = _new_loop()
                started = threading.Event()

                def run():
                    asyncio.set_event_loop(new)
                    new.call_soon(started.set)
                    new.run_forever()

                _thread = threading.Thread(target=run, name="ketch-loop", daemon=True)
                _thread.start()
                started.wait()
                _loop = new
                atexit.register(_stop_at_exit)
    return _loop


def _stop_at_exit():
    """The loop stops and its thread ends before the interpreter tears itself down. Left
    running, the daemon thread can wake (a timer, a socket closing) while Python finalizes,
    and uvloop's C code then crashes the process: `ketch server stop` segfaulted so once,
    after its work was done."""
    global _exited
    _exited = True
    running, thread = _loop, _thread
    if running is None or thread is None or not thread.is_alive():
        return   # never started here (a forked container inherits no loop thread)
    running.call_soon_threadsafe(running.stop)
    thread.join(EXIT_JOIN_S)


def on_ketch_loop() -> bool:
    try:
        return asyncio.get_running_loop() is _loop
    except RuntimeError:
        return False


def _with_callers_input(coro: Awaitable) -> Awaitable:
    """Inside a container, the input the caller is running goes along to ketch's loop
    (which runs in another thread, with its own context), so a call made there names it
    as its parent (call graphs). Outside a container there is none: the coroutine as is."""
    running = current_input.get()
    if running is None:
        return coro

    async def carried():
        current_input.set(running)   # this task's own copy of the context
        return await coro

    return carried()


def run(coro: Awaitable):
    """Runs a coroutine on ketch's loop and blocks until it is done.

    The caller waits on a plain lock that the task releases as it ends, on ketch's loop:
    one wakeup each way, without the condition variable, the second future and the done
    callback's loop iteration of `asyncio.run_coroutine_threadsafe` (measured: 34 against
    52 µs of CPU a call here)."""
    if on_ketch_loop():
        coro.close()
        raise RuntimeError("a blocking ketch call was made on ketch's own event loop")
    done = threading.Lock()
    done.acquire()
    task: list[asyncio.Task] = []
    outcome: list = []   # [result] or [result, exception]
    coro = _with_callers_input(coro)

    async def running():
        try:
            outcome.append(await coro)
        except asyncio.CancelledError:  # as run_coroutine_threadsafe said it: an Exception
            outcome.extend((None, concurrent.futures.CancelledError()))
        except BaseException as exc:
            outcome.extend((None, exc))
        finally:
            done.release()  # from the task itself: no loop iteration for a done callback

    def start():
        task.append(asyncio.ensure_future(running()))

    ketch_loop = loop()
    ketch_loop.call_soon_threadsafe(start)
    try:
        done.acquire()
    except KeyboardInterrupt:
        ketch_loop.call_soon_threadsafe(lambda: task and task[0].cancel())
        raise
    if len(outcome) == 2:
        exc = outcome[1]
        outcome.clear()  # no reference cycle through the traceback
        raise exc
    return outcome[0]


async def run_aio(coro: Awaitable):
    """Awaits a coroutine that runs on ketch's loop, from the caller's loop."""
    with user_frames_only():
        if on_ketch_loop():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
            _with_callers_input(coro), loop()))


async def run_aio_taking(coro: Awaitable, give_back: Callable[[object], Awaitable]):
    """Like run_aio, for calls that take something from the server (a queue's items):
    a result that arrives after the caller gave up (cancelled) is never dropped on the
    floor but handed to give_back(result) on ketch's loop."""
    if on_ketch_loop():
        return await coro
    user_loop = asyncio.get_running_loop()
    waiter = user_loop.create_future()
    ketch_loop = loop()
    task: list[asyncio.Task] = []

    def settle(result):  # on the caller's loop
        if waiter.done():  # it gave up meanwhile
            hand_back(result)
        else:
            waiter.set_result(result)

    def fail(exc):
        if not waiter.done():
            waiter.set_exception(exc)

    def ended(t: asyncio.Task):  # on ketch's loop
        if t.cancelled():
            user_loop.call_soon_threadsafe(fail, asyncio.CancelledError())
        elif t.exception() is not None:
            user_loop.call_soon_threadsafe(fail, t.exception())
        else:
            user_loop.call_soon_threadsafe(settle, t.result())

    def start():
        task.append(asyncio.ensure_future(coro))
        task[0].add_done_callback(ended)

    def hand_back(result):
        handing_back = asyncio.run_coroutine_threadsafe(give_back(result), ketch_loop)
        handing_back.add_done_callback(_report_failed_give_back)

    ketch_loop.call_soon_threadsafe(start)
    try:
        return await waiter
    except asyncio.CancelledError:
        if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
            # The result came in just before the cancellation reached this task, which
            # then raised instead of returning it: it goes back too.
            hand_back(waiter.result())
        ketch_loop.call_soon_threadsafe(lambda: task and task[0].cancel())
        raise


def _report_failed_give_back(handing_back):
    if not handing_back.cancelled() and handing_back.exception() is not None:
        log.error("what a cancelled .aio call took from the server could not be given back "
                  "and is lost: %s", handing_back.exception())


def iterate(agen: AsyncIterator, chunked: bool = False):
    """Blocking iteration over an async iterator that runs on ketch's loop. `chunked`: it
    yields lists of items (all that were ready), handed over in one thread hop and
    flattened here."""
    try:
        while True:
            try:
                with user_frames_only():
                    item = run(agen.__anext__())
            except StopAsyncIteration:
                return
            if chunked:
                yield from item
            else:
                yield item
    finally:
        if not on_ketch_loop():
            asyncio.run_coroutine_threadsafe(agen.aclose(), loop())


async def iterate_aio(agen: AsyncIterator, chunked: bool = False):
    try:
        while True:
            try:
                item = await run_aio(agen.__anext__())
            except StopAsyncIteration:
                return
            if chunked:
                for one in item:
                    yield one
            else:
                yield item
    finally:
        await run_aio(agen.aclose())


class _Bound:
    __slots__ = ("_fn", "_obj", "_gen", "_give_back", "_chunked", "_blocking", "__doc__",
                 "__name__")

    def __init__(self, fn, obj, gen, give_back=None, chunked=False, blocking=None):
        self._fn, self._obj, self._gen, self._give_back = fn, obj, gen, give_back
        self._chunked, self._blocking = chunked, blocking
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def __call__(self, *args, **kwargs):
        if self._gen:
            return iterate(self._fn(self._obj, *args, **kwargs), self._chunked)
        with user_frames_only():
            if self._blocking is not None:
                return self._blocking(self._obj, *args, **kwargs)
            return run(self._fn(self._obj, *args, **kwargs))

    def aio(self, *args, **kwargs):
        if self._gen:
            return iterate_aio(self._fn(self._obj, *args, **kwargs), self._chunked)
        if self._give_back is not None:
            return run_aio_taking(self._fn(self._obj, *args, **kwargs),
                                  lambda result: self._give_back(self._obj, result, *args,
                                                                 **kwargs))
        return run_aio(self._fn(self._obj, *args, **kwargs))


class twin:
    """Descriptor: an `async def` (or async generator) method with a blocking face and its
    `.aio` twin. (Named apart from Modal's `live_method`, which means "hydrate first".)"""

    def __init__(self, fn: Callable, give_back: Callable | None = None,
                 chunked: bool = False, blocking: Callable | None = None):
        self._fn = fn
        self._gen = inspect.isasyncgenfunction(fn)
        self._give_back = give_back
        self._chunked = chunked
        self._blocking = blocking
        functools.update_wrapper(self, fn)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return _Bound(self._fn, obj, self._gen, self._give_back, self._chunked,
                      self._blocking)


def twin_chunked(fn: Callable) -> twin:
    """twin for an async generator that yields lists of items (all it had ready at once):
    both faces yield the items one by one, but the blocking face crosses threads once per
    list rather than once per item (a .map's outputs)."""
    return twin(fn, chunked=True)


def twin_blocking(blocking: Callable):
    """twin whose blocking face is `blocking(obj, *args, **kwargs)` itself rather than the
    coroutine run on ketch's loop: for a call that can often be made from the caller's own
    thread (a blocking `.remote()`), and runs the coroutine when it cannot."""
    return lambda fn: twin(fn, blocking=blocking)


def twin_taking(give_back: Callable):
    """twin for a call that takes something from the server: if its `.aio` caller
    gives up just as the result arrives, `await give_back(obj, result, *args, **kwargs)`
    runs so nothing taken is lost."""
    return lambda fn: twin(fn, give_back)


class twin_classmethod(twin):
    """The same for a classmethod: `Dict.delete("name")`, `await Dict.delete.aio("name")`."""

    def __get__(self, obj, objtype=None):
        return _Bound(self._fn, objtype if objtype is not None else type(obj), self._gen)


class twin_staticmethod(twin):
    """The same for a staticmethod: `FunctionCall.gather(a, b)`,
    `await FunctionCall.gather.aio(a, b)`."""

    def __get__(self, obj, objtype=None):
        return _Bound(_without_owner(self._fn), None, self._gen)


def _without_owner(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def call(_owner, *args, **kwargs):
        return fn(*args, **kwargs)

    return call
