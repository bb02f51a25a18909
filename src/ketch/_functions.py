"""`Function` and `FunctionCall`: handles for running code in ketch containers.

Each public call (`remote`, `map`, `spawn`, …) is an async core on ketch's loop with a
blocking face and an `.aio` twin (see `_sync`).
"""

from __future__ import annotations

import asyncio
import collections
import os
import secrets
import threading
import time
from typing import Any, AsyncIterator, Callable

from . import _output, _sync, _web
from ._client import Client
from ._serialization import FRAME_BATCH_BYTES, INLINE_LIMIT, RemoteTraceback, deserialize, \
    serialize
from ._sync import twin
from .exception import ConnectionError as KetchConnectionError
from .exception import DeserializationError, ExecutionError, InvalidError, NotFoundError, \
    OutputExpiredError, RemoteError, SerializationError
from .proto import ketch_pb2 as pb

MAP_WINDOW = 1000        # inputs in flight per map: bounds memory whatever the input count
MAP_BATCH = 100          # inputs per frame
GET_RECONNECTS = 5       # lost connections a FunctionCall.get() rides out


def new_call_id() -> str:
    return "fc-" + secrets.token_hex(8)


class _Target:
    """What a Function handle points at and how it finds its server-side id."""

    def __init__(self, tag: str, *, app=None, app_name: str | None = None,
                 method: str | None = None, obj=None):
        self.tag = tag
        self.app = app                # the App that defines it, when defined here
        self.app_name = app_name      # set for Function.from_name
        self.method = method or ""
        self.obj = obj                # the class instance handle, for methods
        self.function_id: str | None = None

    async def resolve(self, client: Client) -> str:
        if self.obj is not None:
            return await self.obj._bound_id(client)
        if self.function_id:
            return self.function_id
        if self.app is not None and self.app._app_id:
            fid = self.app._function_ids.get(self.tag)
            if fid:
                return fid
        container_app = os.environ.get("KETCH_APP_ID")
        if self.app_name is None and self.app is not None and container_app:
            reply = await client.request(function_get=pb.FunctionGet(app_id=container_app,
                                                                     name=self.tag))
            self.function_id = reply.container_spec.function_id
            return self.function_id
        if self.app_name is not None:
            reply = await client.request(function_get=pb.FunctionGet(app_name=self.app_name,
                                                                     name=self.tag))
            self.function_id = reply.container_spec.function_id
            return self.function_id
        raise ExecutionError(
            f"{self.tag} is not running anywhere yet: its app is not running. Call it inside "
            "`with app.run():`, from a `ketch run` entrypoint, or deploy the app and use "
            f"ketch.Function.from_name(app_name, {self.tag!r}).")

    async def create_call(self, client: Client, call_id: str, kind: int,
                          inputs: list[pb.Input] = (), is_generator: bool = False):
        """Creates a call on the server. A handle looked up by name follows a redeploy:
        when its cached function is gone, it looks the name up again once."""
        for attempt in (0, 1):
            fid = await self.resolve(client)
            try:
                return await client.request(call_create=pb.CallCreate(
                    call_id=call_id, function_id=fid, kind=kind, inputs=inputs,
                    is_generator=is_generator))
            except NotFoundError:
                if attempt or not self._forget():
                    raise

    def _forget(self) -> bool:
        """Drops a cached function id that may be stale; True if there was one to drop."""
        if self.obj is not None:
            return self.obj._forget_bound()
        if self.app_name is not None and self.function_id:
            self.function_id = None
            return True
        return False


def _serialize_args(name: str, args: tuple, kwargs: dict) -> bytes:
    try:
        return serialize((args, kwargs))
    except Exception as exc:
        raise SerializationError(
            f"cannot send the arguments of {name} to a container: {exc}. Arguments must be "
            "picklable (cloudpickle); pass data such as numbers, strings, bytes, lists or "
            "file paths rather than open files, locks, sockets or clients.") from None


async def make_input(client: Client, name: str, idx: int, args: tuple, kwargs: dict,
                     method: str) -> pb.Input:
    data = _serialize_args(name, args, kwargs)
    if len(data) > INLINE_LIMIT:
        return pb.Input(idx=idx, args_blob=await client.put_blob(data), method=method)
    return pb.Input(idx=idx, args=data, method=method)


async def decode_output(client: Client, out: pb.Output):
    """An output's value, or raises the error it carries (with the remote traceback)."""
    data = out.data
    if out.data_blob:
        try:
            data = await client.get_blob(out.data_blob)
        except NotFoundError:
            raise OutputExpiredError("this call's output is no longer stored: large results "
                                     "are kept for 7 days") from None
    if out.status in (pb.SUCCESS, pb.GENERATOR_ITEM):
        try:
            return deserialize(data)
        except Exception as exc:
            raise DeserializationError(
                f"could not unpickle a result here: {exc!r}. The result's type must be "
                "importable in this process (install the same packages locally).") from None
    raise exception_of(out, data)


def exception_of(out: pb.Output, data: bytes) -> BaseException:
    exc = None
    if data:
        try:
            exc = deserialize(data)
        except Exception:
            exc = None
    if not isinstance(exc, BaseException):
        exc = RemoteError(out.message or "the remote call failed")
    if out.traceback:
        exc.__cause__ = RemoteTraceback(out.traceback)
    return exc


class Function:
    """A function that runs in ketch containers. Made by `@app.function`, by
    `Function.from_name`, or as a method of an `@app.cls` instance."""

    __ketch_handle__ = True   # see _partial.HANDLE

    def __init__(self, target: _Target, *, raw_f: Callable | None = None,
                 is_generator: bool = False, info=None):
        self._target = target
        self._raw_f = raw_f
        self._is_generator = is_generator
        self._info = info   # the decoration's settings, for functions defined here
        if raw_f is not None:
            self.__doc__ = raw_f.__doc__
            self.__name__ = getattr(raw_f, "__name__", target.tag)
            self.__qualname__ = getattr(raw_f, "__qualname__", target.tag)
            self.__module__ = getattr(raw_f, "__module__", None)

    def __repr__(self):
        return f"<ketch.Function {self._target.tag}{'.' + self._target.method if self._target.method else ''}>"

    @property
    def _name(self) -> str:
        t = self._target
        return f"{t.tag}.{t.method}" if t.method else t.tag

    @staticmethod
    def from_name(app_name: str, name: str, *, environment_name: str | None = None
                  ) -> "Function":
        """A handle to function `name` of the deployed app `app_name`; looked up on first use."""
        if not isinstance(app_name, str) or not isinstance(name, str) or not app_name or not name:
            raise InvalidError("Function.from_name(app_name, name) takes two non-empty strings")
        if "." in name:
            raise InvalidError(f"{name!r} looks like a class method: use "
                               "ketch.Cls.from_name(app_name, class_name) and call the method")
        return Function(_Target(name, app_name=app_name))

    @twin
    async def hydrate(self) -> "Function":
        """Looks the function up on the server now (otherwise it happens on first use)."""
        await self._target.resolve(await Client.get())
        return self

    @property
    def object_id(self) -> str | None:
        return self._target.function_id

    def __call__(self, *args, **kwargs):
        raise InvalidError(
            f"{self._name} is a ketch Function: call it with .remote(...) to run it in a "
            "container, or .local(...) to run it here")

    # -- local

    def local(self, *args, **kwargs):
        """Runs the function in this process, as plain Python."""
        t = self._target
        if t.obj is not None:
            return t.obj._local_call(t.method, args, kwargs)
        if self._raw_f is None:
            raise ExecutionError(f"{self._name} was looked up by name; its code is not in this "
                                 "process, so .local() cannot run it")
        return self._raw_f(*args, **kwargs)

    # -- one call

    def _check_not_generator(self, what: str):
        if getattr(self._raw_f, _web.WEB, None) is not None:
            raise InvalidError(f"{self._name} is a web endpoint: it cannot be invoked with "
                               f"{what}. Call it over HTTP at its URL (.get_web_url()), or "
                               "run it here with .local()")
        if self._is_generator:
            raise InvalidError(f"{self._name} is a generator function: use .remote_gen(...) "
                               f"instead of {what}")

    @twin
    async def remote(self, *args, **kwargs) -> Any:
        """Runs the function once in a container and returns its result."""
        self._check_not_generator(".remote(...)")
        client = await Client.get()
        inp = await make_input(client, self._name, 0, args, kwargs, self._target.method)
        call_id = new_call_id()
        stream = client.open_stream(call_id)
        out = None
        try:
            await self._target.create_call(client, call_id, pb.REMOTE, [inp])
            out = await stream.next()
        finally:
            client.close_stream(call_id)
            if out is None and not client.conn.closed:
                # Cancelled or interrupted here: the server stops running it too.
                client.send(call_close=pb.CallClose(call_id=call_id))
        return await decode_output(client, out)

    @twin
    async def remote_gen(self, *args, **kwargs) -> AsyncIterator:
        """Runs a generator function in a container, yielding its values as they come."""
        if not self._is_generator:
            raise InvalidError(f"{self._name} is not a generator function: use .remote(...)")
        client = await Client.get()
        inp = await make_input(client, self._name, 0, args, kwargs, self._target.method)
        call_id = new_call_id()
        stream = client.open_stream(call_id)
        done = False
        try:
            await self._target.create_call(client, call_id, pb.REMOTE, [inp], is_generator=True)
            pending: dict[int, pb.Output] = {}
            next_index = 0
            while True:
                out = await stream.next()
                if out.status != pb.GENERATOR_ITEM:
                    done = True
                    await decode_output(client, out)  # raises if the generator failed
                    return
                pending[out.gen_index] = out
                while next_index in pending:
                    yield await decode_output(client, pending.pop(next_index))
                    next_index += 1
        finally:
            client.close_stream(call_id)
            if not done and not client.conn.closed:
                client.send(call_close=pb.CallClose(call_id=call_id))

    @twin
    async def spawn(self, *args, **kwargs) -> "FunctionCall":
        """Starts the function in a container and returns at once with a FunctionCall;
        the call is stored by the server and survives its restarts."""
        self._check_not_generator(".spawn(...)")
        client = await Client.get()
        inp = await make_input(client, self._name, 0, args, kwargs, self._target.method)
        call_id = new_call_id()
        await self._target.create_call(client, call_id, pb.SPAWN, [inp])
        return FunctionCall(call_id)

    # -- many calls

    @twin
    async def map(self, *iterables, kwargs: dict | None = None, order_outputs: bool = True,
                  return_exceptions: bool = False) -> AsyncIterator:
        """Runs the function over zipped iterables in parallel containers, yielding results
        (in input order unless order_outputs=False). A raised exception stops the map
        unless return_exceptions=True, which yields it in place."""
        if not iterables:
            raise InvalidError(f"{self._name}.map(...) needs at least one iterable")
        self._check_not_generator(".map(...)")
        async for value in self._map_core(_zip_args(iterables), kwargs or {}, order_outputs,
                                          return_exceptions, _known_length(*iterables)):
            yield value

    @twin
    async def starmap(self, input_iterator, *, kwargs: dict | None = None,
                      order_outputs: bool = True, return_exceptions: bool = False
                      ) -> AsyncIterator:
        """Like map, but each item of `input_iterator` is a tuple of positional arguments."""
        self._check_not_generator(".starmap(...)")
        async for value in self._map_core(_tuples(input_iterator), kwargs or {},
                                          order_outputs, return_exceptions,
                                          _known_length(input_iterator)):
            yield value

    @twin
    async def for_each(self, *iterables, kwargs: dict | None = None,
                       ignore_exceptions: bool = False) -> None:
        """Runs the function over the inputs for their side effects; returns None."""
        self._check_not_generator(".for_each(...)")
        async for _ in self._map_core(_zip_args(iterables), kwargs or {}, False,
                                      ignore_exceptions, _known_length(*iterables)):
            pass

    @twin
    async def spawn_map(self, *iterables, kwargs: dict | None = None) -> None:
        """Queues the function over the inputs and returns at once (fire and forget); the
        inputs are stored by the server and run even if this process exits."""
        self._check_not_generator(".spawn_map(...)")
        client = await Client.get()
        call_id = new_call_id()
        await self._target.create_call(client, call_id, pb.SPAWN)
        batch = _InputBatcher(client, call_id)
        idx = 0
        async for args in _zip_args(iterables):
            batch.add(await make_input(client, self._name, idx, args, kwargs or {},
                                       self._target.method))
            idx += 1
            if batch.full():
                batch.send()
                await client.conn.drain()
        batch.send(last=True)
        # A round trip so the inputs are on the server before we return.
        await client.request(server_status=pb.ServerStatus())

    async def _map_core(self, arg_tuples: AsyncIterator, kwargs: dict, order_outputs: bool,
                        return_exceptions: bool, total: int | None = None) -> AsyncIterator:
        client = await Client.get()
        call_id = new_call_id()
        stream = client.open_stream(call_id)
        method = self._target.method
        name = self._name
        sent = 0
        released = 0   # outputs handed to the caller (or waiting only for earlier ones)
        received = 0
        sending_done = False
        window_open = asyncio.Event()
        window_open.set()
        send_error: list[BaseException] = []

        async def send_inputs():
            nonlocal sent, sending_done
            batch = _InputBatcher(client, call_id)
            try:
                async for args in arg_tuples:
                    if sent - released >= MAP_WINDOW:
                        batch.send()
                        window_open.clear()
                        await window_open.wait()
                    batch.add(await make_input(client, name, sent, args, kwargs, method))
                    sent += 1
                    if batch.full():
                        batch.send()
                        await client.conn.drain()
                batch.send(last=True)
            except BaseException as exc:
                send_error.append(exc)
            finally:
                sending_done = True
                stream.event.set()  # wake the reader to notice the end

        finished = False
        sender = None
        progress = _output.map_progress(f"{name}.map", total)
        try:
            progress.__enter__()
            await self._target.create_call(client, call_id, pb.MAP)
            sender = asyncio.ensure_future(send_inputs())
            buffered: dict[int, Any] = {}
            next_idx = 0
            while True:
                if send_error:
                    raise send_error[0]
                if sending_done and received >= sent:
                    break
                if not stream.items:
                    if stream.closed_error is not None:
                        raise stream.closed_error
                    stream.event.clear()
                    await stream.event.wait()
                    continue
                out = stream.items.popleft()
                received += 1
                progress.advance()
                try:
                    value = await decode_output(client, out)
                except Exception as exc:
                    if not return_exceptions:
                        raise
                    value = exc
                if not order_outputs:
                    released += 1
                    self._open_window(window_open, sent, released)
                    yield value
                    continue
                # Outputs waiting for an earlier one count against the window, so a slow
                # first input cannot make the buffer grow without bound.
                buffered[out.idx] = value
                while next_idx in buffered:
                    next_idx += 1
                    released = next_idx
                    self._open_window(window_open, sent, released)
                    yield buffered.pop(next_idx - 1)
            finished = True
        finally:
            progress.__exit__(None, None, None)
            client.close_stream(call_id)
            if sender is not None and not sender.done():
                sender.cancel()
            if not finished and not client.conn.closed:
                client.send(call_close=pb.CallClose(call_id=call_id))

    @staticmethod
    def _open_window(window_open: asyncio.Event, sent: int, released: int):
        if not window_open.is_set() and sent - released < MAP_WINDOW:
            window_open.set()

    # -- unsupported here

    def with_options(self, **kwargs):
        raise NotImplementedError("Function.with_options is not in ketch yet: set the options "
                                  "on @app.function(...) instead")

    def with_concurrency(self, **kwargs):
        raise NotImplementedError("Function.with_concurrency is not in ketch yet: use "
                                  "@ketch.concurrent(...) under @app.function instead")

    def with_batching(self, **kwargs):
        raise NotImplementedError("Function.with_batching is not in ketch yet: use "
                                  "@ketch.batched(...) under @app.function instead")

    def update_autoscaler(self, **kwargs):
        raise NotImplementedError("Function.update_autoscaler is not in ketch yet: set "
                                  "min/max/buffer_containers and scaledown_window on "
                                  "@app.function(...) and deploy again")

    @twin
    async def get_web_url(self) -> str | None:
        """The URL of this web endpoint while its app runs (None if it is not one):
        http://<app>--<label>.localhost:<port>, or the gateway's path form where this
        machine cannot resolve *.localhost names."""
        client = await Client.get()
        t = self._target
        owner = t.obj._cls._target if t.obj is not None else t
        fid = await owner.resolve(client)
        reply = await client.request(web_url_get=pb.WebUrlGet(function_id=fid,
                                                              method=t.method))
        return _web.reachable_url(reply.web_url) or None


class _InputBatcher:
    """Collects a call's inputs into frames of at most MAP_BATCH inputs and
    FRAME_BATCH_BYTES bytes. What is collected also leaves as soon as the sender pauses
    (its iterator has nothing ready), so a slow input stream is not held back."""

    def __init__(self, client: Client, call_id: str):
        self.client = client
        self.call_id = call_id
        self.inputs: list[pb.Input] = []
        self.size = 0
        self.flush_scheduled = False

    def add(self, inp: pb.Input):
        self.inputs.append(inp)
        self.size += inp.ByteSize()
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_when_paused)

    def _flush_when_paused(self):
        self.flush_scheduled = False
        if not self.client.conn.closed:
            self.send()

    def full(self) -> bool:
        return len(self.inputs) >= MAP_BATCH or self.size >= FRAME_BATCH_BYTES

    def send(self, last: bool = False):
        if self.inputs or last:
            self.client.send(inputs=pb.InputBatch(call_id=self.call_id, inputs=self.inputs,
                                                  last=last))
        self.inputs, self.size = [], 0


def _known_length(*iterables) -> int | None:
    """How many inputs a map will have, when its iterables know their length."""
    try:
        return min(len(it) for it in iterables)
    except (TypeError, ValueError):
        return None


async def _zip_args(iterables) -> AsyncIterator[tuple]:
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


async def _tuples(iterable) -> AsyncIterator[tuple]:
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


class FunctionCall:
    """A handle to a spawned call: `.get()` its result, `.cancel()` it, or pass its
    `object_id` to another process and rebuild it with `FunctionCall.from_id`."""

    def __init__(self, call_id: str):
        self.object_id = call_id

    def __repr__(self):
        return f"<ketch.FunctionCall {self.object_id}>"

    @staticmethod
    def from_id(function_call_id: str) -> "FunctionCall":
        if not isinstance(function_call_id, str) or not function_call_id.startswith("fc-"):
            raise InvalidError(f"{function_call_id!r} is not a function call id (they look "
                               "like 'fc-…'; see FunctionCall.object_id)")
        return FunctionCall(function_call_id)

    @twin
    async def get(self, timeout: float | None = None):
        """The call's result, waiting up to `timeout` seconds (None: as long as it takes).
        Raises TimeoutError if it is not done by then."""
        if timeout is not None and timeout < 0:
            raise InvalidError("timeout must be >= 0 or None")
        deadline = None if timeout is None else time.monotonic() + timeout
        for attempt in range(GET_RECONNECTS + 1):
            remaining = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                client = await Client.get()  # reconnects after a lost connection
                reply = await client.request(call_get=pb.CallGet(call_id=self.object_id,
                                                                 timeout_s=remaining))
                break
            except KetchConnectionError:
                # Spawned calls outlive a server restart: wait for it and ask again.
                if attempt == GET_RECONNECTS:
                    raise
                await asyncio.sleep(0.5)
        outputs = reply.outputs.outputs
        if not outputs:
            raise NotFoundError(f"function call {self.object_id} has no output")
        if len(outputs) > 1:
            return [await decode_output(client, o) for o in outputs]
        return await decode_output(client, outputs[0])

    @twin
    async def cancel(self, terminate_containers: bool = False):
        """Stops the call; `get()` then raises InputCancellation. With
        terminate_containers=True the containers running it are stopped too."""
        client = await Client.get()
        await client.request(call_cancel=pb.CallCancel(
            call_id=self.object_id, terminate_containers=terminate_containers))

    @staticmethod
    def gather(*calls: "FunctionCall") -> list:
        """Waits for several calls and returns their results in order."""
        return _sync.run(_gather(calls))

    def get_call_graph(self):
        raise NotImplementedError("FunctionCall.get_call_graph is not in ketch yet")


async def _gather(calls) -> list:
    for c in calls:
        if not isinstance(c, FunctionCall):
            raise InvalidError(f"FunctionCall.gather takes FunctionCall objects, got "
                               f"{type(c).__name__}")
    return list(await asyncio.gather(*(c.get.aio() for c in calls)))


async def _gather_aio(*calls):
    return await _sync.run_aio(_gather(calls))


FunctionCall.gather.aio = _gather_aio  # type: ignore[attr-defined]
