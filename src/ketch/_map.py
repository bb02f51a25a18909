"""One `.map` (also `starmap` and `for_each`): a `MapCall` sends the inputs, keeping at most
MAP_WINDOW of them in flight, and hands the outputs to the caller in input order or as
they come; the helpers below turn the caller's iterables into argument tuples.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from typing import Any, AsyncIterator

from . import _output
from ._call_io import InputBatcher, decode_output, make_input, new_call_id
from ._client import Client, OutputStream
from .exception import InvalidError
from .proto import ketch_pb2 as pb

MAP_WINDOW = 1000        # inputs in flight per map: bounds memory whatever the input count


class MapCall:
    """The state of one map call: how many inputs were sent, how many outputs came back
    and how many were handed to the caller; the task sending the inputs; the progress bar.

    `target` is the Function's `_Target` (it creates the call on the server); `name` names
    the function in errors and on the progress bar."""

    def __init__(self, client: Client, target, name: str, kwargs: dict, order_outputs: bool,
                 return_exceptions: bool, total: int | None):
        self.client = client
        self.target = target
        self.name = name
        self.kwargs = kwargs
        self.order_outputs = order_outputs
        self.return_exceptions = return_exceptions
        self.call_id = new_call_id()
        self.stream: OutputStream | None = None
        self.sent = 0
        self.received = 0
        self.released = 0   # outputs handed to the caller (or waiting only for earlier ones)
        self.sending_done = False
        self.send_error: BaseException | None = None
        self.window_open = asyncio.Event()
        self.window_open.set()
        self.progress = _output.map_progress(f"{name}.map", total)

    async def results(self, arg_tuples: AsyncIterator[tuple]) -> AsyncIterator[list]:
        """Runs the call, yielding its results in lists (see `_outputs`); leaving early
        cancels it on the server."""
        client = self.client
        self.stream = client.open_stream(self.call_id)
        finished = False
        sender = None
        try:
            with self.progress:
                await self.target.create_call(client, self.call_id, pb.MAP)
                sender = asyncio.ensure_future(self._send_inputs(arg_tuples))
                async for chunk in self._outputs():
                    yield chunk
            finished = True
        finally:
            client.close_stream(self.call_id)
            if sender is not None and not sender.done():
                sender.cancel()
            if not finished and not client.conn.closed:
                client.send(call_close=pb.CallClose(call_id=self.call_id))

    async def _send_inputs(self, arg_tuples: AsyncIterator[tuple]):
        """Sends the inputs in batches, pausing while MAP_WINDOW of them are in flight. An
        error is kept for the reader to raise."""
        client = self.client
        batch = InputBatcher(client, self.call_id)
        try:
            async for args in arg_tuples:
                if self.sent - self.released >= MAP_WINDOW:
                    batch.send()
                    self.window_open.clear()
                    await self.window_open.wait()
                batch.add(await make_input(client, self.name, self.sent, args, self.kwargs,
                                           self.target.method))
                self.sent += 1
                if batch.full():
                    batch.send()
                    await client.conn.drain()
            batch.send(last=True)
        except BaseException as exc:
            self.send_error = exc
        finally:
            self.sending_done = True
            self.stream.event.set()  # wake the reader to notice the end

    async def _outputs(self) -> AsyncIterator[list]:
        """Yields lists of results: every one that is ready (in order, when ordered) at
        once, so the blocking face crosses threads once per list, not once per result."""
        stream = self.stream
        buffered: dict[int, Any] = {}
        next_idx = 0
        while True:
            if self.send_error is not None:
                raise self.send_error
            if self.sending_done and self.received >= self.sent:
                return
            if not stream.items:
                if stream.closed_error is not None:
                    raise stream.closed_error
                stream.event.clear()
                await stream.event.wait()
                continue
            chunk = []
            items = stream.items
            while items:
                out = items.popleft()
                self.received += 1
                self.progress.advance()
                try:
                    value = await decode_output(self.client, out)
                except Exception as exc:
                    if not self.return_exceptions:
                        if chunk:  # what came before the error is handed over first
                            yield chunk
                        raise
                    value = exc
                if not self.order_outputs:
                    chunk.append(value)
                    continue
                # Outputs waiting for an earlier one count against the window, so a slow
                # first input cannot make the buffer grow without bound.
                buffered[out.idx] = value
                while next_idx in buffered:
                    chunk.append(buffered.pop(next_idx))
                    next_idx += 1
            if chunk:
                # The window opens once the caller has taken the whole chunk (it asks for
                # the next one), so a handed-over chunk still counts against it.
                yield chunk
                self._release(self.released + len(chunk))

    def _release(self, released: int):
        self.released = released
        if not self.window_open.is_set() and self.sent - self.released < MAP_WINDOW:
            self.window_open.set()


def known_length(*iterables) -> int | None:
    """How many inputs a map will have, when its iterables know their length."""
    try:
        return min(len(it) for it in iterables)
    except (TypeError, ValueError):
        return None


async def zip_args(iterables) -> AsyncIterator[tuple]:
    """Zips sync and async iterables into argument tuples without blocking ketch's loop on
    a slow user generator."""
    iters = [_aiter(it) for it in iterables]
    while True:
        args = []
        for it in iters:
            try:
                args.append(await it.__anext__())
            except StopAsyncIteration:
                return
        yield tuple(args)


async def tuples(iterable) -> AsyncIterator[tuple]:
    async for item in _aiter(iterable):
        if not isinstance(item, tuple):
            raise InvalidError(f"starmap takes an iterable of tuples, got {type(item).__name__}")
        yield item


async def _aiter(iterable) -> AsyncIterator:
    if hasattr(iterable, "__aiter__"):
        async for item in iterable:
            yield item
        return
    try:
        it = iter(iterable)
    except TypeError:
        raise InvalidError(f"map takes iterables; {type(iterable).__name__} is not "
                           "iterable") from None
    if isinstance(iterable, (list, tuple, range, dict, set, frozenset, str, bytes)):
        for item in it:
            yield item
        return
    async for item in _iterate_in_thread(it):
        yield item


READ_AHEAD = 1024


async def _iterate_in_thread(it) -> AsyncIterator:
    """Pulls from a user's iterator in a worker thread, since its next() may be slow or
    block, handing each item over as soon as it exists and reading at most READ_AHEAD
    items ahead of the consumer."""
    loop = asyncio.get_running_loop()
    items: collections.deque = collections.deque()
    room = threading.Semaphore(READ_AHEAD)
    ready = asyncio.Event()
    state = {"done": False, "error": None, "waiting": False, "stop": False}

    def wake():
        if state["waiting"]:
            loop.call_soon_threadsafe(ready.set)

    def pump():
        try:
            for item in it:
                room.acquire()
                if state["stop"]:
                    return
                items.append(item)
                wake()
        except BaseException as exc:
            state["error"] = exc
        finally:
            state["done"] = True
            wake()

    threading.Thread(target=pump, name="ketch-map-inputs", daemon=True).start()
    try:
        while True:
            while items:
                room.release()
                yield items.popleft()
            if state["done"] and not items:
                if state["error"] is not None:
                    raise state["error"]
                return
            ready.clear()
            state["waiting"] = True
            if not items and not state["done"]:
                await ready.wait()
            state["waiting"] = False
    finally:
        state["stop"] = True
        room.release()  # let a pump blocked on a full read-ahead see the stop
