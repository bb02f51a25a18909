"""The code that runs inside a container.

It connects to the server, fetches its function's spec, imports the user's code (by module
path, or from a cloudpickle), runs `@enter` hooks, reports ready, then runs the inputs the
server pushes and sends outputs back in batches. Sync user code runs in worker threads so
the event loop stays free for cancellations; async user code runs on the loop.

Imports nothing from `ketch.server`.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib
import inspect
import os
import queue
import signal
import sys
import threading
import time
import traceback

from .. import _context, _wire
from .._partial import ENTER, EXIT, instantiate, lifecycle_methods
from .._serialization import INLINE_LIMIT, BLOB_CHUNK, batches_by_size, deserialize, \
    serialize, serialize_exception
from ..exception import InputCancellation, SerializationError
from ..proto import ketch_pb2 as pb
from .web import WebServing


STOP_DRAIN_S = 8.0  # below the server's 10 s grace before it kills a stopping container


def load_target(cs: pb.ContainerSpec):
    """The user's function or class object named by the spec."""
    spec = cs.spec
    for path in reversed(spec.sys_path):
        if path not in sys.path:
            sys.path.insert(0, path)
    if spec.pickled:
        return deserialize(spec.pickled)
    obj = importlib.import_module(spec.module)
    for part in spec.qualname.split("."):
        obj = getattr(obj, part)
    # The module's decorators turned it into a ketch handle; take the user's object.
    from .._cls import Cls
    from .._functions import Function

    if isinstance(obj, Function):
        return obj._raw_f
    if isinstance(obj, Cls):
        return obj._user_cls
    return obj


class Container:
    def __init__(self, conn: _wire.FrameProtocol, cs: pb.ContainerSpec):
        self.conn = conn
        self.cs = cs
        self.spec = cs.spec
        self.loop = asyncio.get_running_loop()
        self.outbox: list[pb.Output] = []
        self.outbox_lock = threading.Lock()
        self.flush_scheduled = False
        self.instance = None
        self.target = None
        self.stopping = asyncio.Event()
        self.running: dict[str, object] = {}   # input id → thread ident or asyncio task
        self.cancelled: set[str] = set()
        self.work: queue.SimpleQueue | asyncio.Queue | None = None
        self.batch_queue: asyncio.Queue | None = None

    # -- setup

    async def setup(self):
        """Imports the user's code and, for classes, builds the instance and runs @enter."""
        target = load_target(self.cs)
        if self.spec.is_class:
            args, kwargs = deserialize(self.cs.class_params) if self.cs.class_params else ((), {})
            self.instance = instantiate(target, args, kwargs)
            for name in lifecycle_methods(target, ENTER):
                result = getattr(self.instance, name)()
                if inspect.iscoroutine(result):
                    await result
        self.target = target

    def callable_for(self, method: str):
        if self.spec.is_class:
            return getattr(self.instance, method)
        return self.target

    # -- outputs

    def emit(self, out: pb.Output):
        """Queues an output; callable from any thread. Outputs queued together leave in one
        frame."""
        with self.outbox_lock:
            self.outbox.append(out)
            if self.flush_scheduled:
                return
            self.flush_scheduled = True
        if threading.get_ident() == self.loop_thread:
            self.loop.call_soon(self.flush)
        else:
            self.loop.call_soon_threadsafe(self.flush)

    def flush(self):
        with self.outbox_lock:
            outs, self.outbox = self.outbox, []
            self.flush_scheduled = False
        for batch in batches_by_size(outs):
            self.conn.send(pb.Frame(outputs=pb.OutputBatch(outputs=batch)))

    async def put_blob(self, data: bytes) -> str:
        upload_id = os.urandom(8).hex()
        reply = None
        for start in range(0, len(data), BLOB_CHUNK):
            reply = await self.conn.request(blob_put=pb.BlobPut(
                upload_id=upload_id, data=data[start:start + BLOB_CHUNK],
                last=start + BLOB_CHUNK >= len(data)))
        return reply.blob_put_done.blob_id

    async def get_blob(self, blob_id: str) -> bytes:
        parts, offset = [], 0
        while True:
            reply = await self.conn.request(blob_get=pb.BlobGet(blob_id=blob_id, offset=offset))
            parts.append(reply.blob_chunk.data)
            offset += len(reply.blob_chunk.data)
            if reply.blob_chunk.last:
                return b"".join(parts)

    def result_output(self, inp: pb.Input, value, status=pb.SUCCESS, gen_index=0,
                      duration=0.0) -> pb.Output:
        out = pb.Output(input_id=inp.input_id, idx=inp.idx, call_id=inp.call_id,
                        status=status, gen_index=gen_index, duration_s=duration)
        try:
            data = serialize(value)
        except Exception as exc:
            err = SerializationError(f"the result of {self.spec.name} could not be pickled: "
                                     f"{exc}. Return plain data (numbers, strings, bytes, lists, "
                                     "dicts, arrays).")
            return self.error_output(inp, err, duration)
        if len(data) > INLINE_LIMIT:
            if threading.get_ident() == self.loop_thread:
                raise RuntimeError("large results are uploaded from worker threads")
            out.data_blob = asyncio.run_coroutine_threadsafe(self.put_blob(data),
                                                             self.loop).result()
        else:
            out.data = data
        return out

    def error_output(self, inp: pb.Input, exc: BaseException, duration=0.0,
                     status=pb.FAILURE) -> pb.Output:
        if isinstance(exc, InputCancellation):
            status = pb.CANCELLED
        data, message, tb = serialize_exception(exc)
        return pb.Output(input_id=inp.input_id, idx=inp.idx, call_id=inp.call_id,
                         status=status, data=data, message=message, traceback=tb,
                         duration_s=duration)

    # -- inputs

    def on_frame(self, frame: pb.Frame):
        kind = frame.WhichOneof("body")
        if kind == "inputs":
            for inp in frame.inputs.inputs:
                if inp.args_blob:
                    asyncio.ensure_future(self._fetch_then_queue(inp))
                else:
                    self.queue_input(inp)
        elif kind == "cancel_inputs":
            for input_id in frame.cancel_inputs.input_ids:
                self.cancel(input_id)

    async def _fetch_then_queue(self, inp: pb.Input):
        try:
            inp.args = await self.get_blob(inp.args_blob)
        except Exception as exc:  # the input fails rather than waiting for its timeout
            self.emit(self.error_output(inp, exc, status=pb.INTERNAL_ERROR))
            return
        inp.args_blob = ""
        self.queue_input(inp)

    def queue_input(self, inp: pb.Input):
        if self.batch_queue is not None:
            self.batch_queue.put_nowait(inp)
        elif isinstance(self.work, asyncio.Queue):
            self.work.put_nowait(inp)
        else:
            self.work.put(inp)

    def cancel(self, input_id: str):
        self.cancelled.add(input_id)
        running = self.running.get(input_id)
        if isinstance(running, asyncio.Task):
            running.cancel()
        elif isinstance(running, int):
            # Raise InputCancellation inside the worker thread running the input.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(running),
                                                       ctypes.py_object(InputCancellation))

    # -- running sync code in threads

    def thread_worker(self):
        while True:
            inp = self.work.get()
            if inp is None:
                return
            self.run_sync_input(inp)

    def run_sync_input(self, inp: pb.Input):
        """Runs one input of sync user code in the calling (worker) thread."""
        if inp.input_id in self.cancelled:
            self.emit(self.error_output(inp, InputCancellation("the input was cancelled")))
            return
        self.running[inp.input_id] = threading.get_ident()
        start = time.perf_counter()
        token = _context.current_input.set((inp.input_id, inp.call_id))
        try:
            args, kwargs = deserialize(inp.args)
            fn = self.callable_for(inp.method)
            if inp.is_generator:
                index = 0
                for value in fn(*args, **kwargs):
                    self.emit(self.result_output(inp, value, pb.GENERATOR_ITEM, index))
                    index += 1
                out = self.result_output(inp, None, duration=time.perf_counter() - start)
            else:
                value = fn(*args, **kwargs)
                out = self.result_output(inp, value, duration=time.perf_counter() - start)
        except BaseException as exc:  # the user's code may raise anything
            out = self.error_output(inp, exc, time.perf_counter() - start)
        finally:
            _context.current_input.reset(token)
            self.running.pop(inp.input_id, None)
        self.emit(out)

    # -- running async code on the loop

    async def async_worker(self):
        while True:
            inp = await self.work.get()
            if inp is None:
                return
            if inp.input_id in self.cancelled:
                self.emit(self.error_output(inp, InputCancellation("the input was cancelled")))
                continue
            task = asyncio.ensure_future(self._run_async(inp))
            self.running[inp.input_id] = task
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.done():
                    raise
            finally:
                self.running.pop(inp.input_id, None)

    async def _run_async(self, inp: pb.Input):
        fn = self.callable_for(inp.method)
        if not (inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)):
            # A sync method of a class that also has async ones.
            await self.loop.run_in_executor(None, self.run_sync_input, inp)
            return
        start = time.perf_counter()
        _context.current_input.set((inp.input_id, inp.call_id))
        try:
            args, kwargs = deserialize(inp.args)
            if inp.is_generator:
                index = 0
                async for value in fn(*args, **kwargs):
                    self.emit(await self._result_async(inp, value, pb.GENERATOR_ITEM, index))
                    index += 1
                out = await self._result_async(inp, None, duration=time.perf_counter() - start)
            else:
                value = await fn(*args, **kwargs)
                out = await self._result_async(inp, value, duration=time.perf_counter() - start)
        except asyncio.CancelledError:
            out = self.error_output(inp, InputCancellation("the input was cancelled"))
        except BaseException as exc:
            out = self.error_output(inp, exc, time.perf_counter() - start)
        self.emit(out)

    async def _result_async(self, inp, value, status=pb.SUCCESS, index=0, duration=0.0):
        """Like result_output, uploading large values without blocking the loop."""
        try:
            data = serialize(value)
        except Exception:
            return self.result_output(inp, value, status, index, duration)  # builds the error
        out = pb.Output(input_id=inp.input_id, idx=inp.idx, call_id=inp.call_id,
                        status=status, gen_index=index, duration_s=duration)
        if len(data) > INLINE_LIMIT:
            out.data_blob = await self.put_blob(data)
        else:
            out.data = data
        return out

    # -- @batched

    async def batch_collector(self):
        size, wait = self.spec.batch_max_size, self.spec.batch_wait_ms / 1000
        while True:
            first = await self.batch_queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + wait
            while len(batch) < size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    inp = await asyncio.wait_for(self.batch_queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
                if inp is None:
                    break
                batch.append(inp)
            await self.run_batch(batch)

    async def run_batch(self, batch: list[pb.Input]):
        start = time.perf_counter()
        try:
            decoded = [deserialize(inp.args) for inp in batch]
            n_pos = len(decoded[0][0])
            keys = set(decoded[0][1])
            if any(len(a) != n_pos or set(k) != keys for a, k in decoded):
                raise TypeError("every input of a @ketch.batched function must pass the same "
                                "arguments (same positions and keywords)")
            args = [[a[i] for a, _ in decoded] for i in range(n_pos)]
            kwargs = {key: [k[key] for _, k in decoded] for key in keys}
            fn = self.callable_for(batch[0].method)
            if inspect.iscoroutinefunction(fn):
                results = await fn(*args, **kwargs)
            else:
                results = await self.loop.run_in_executor(None, lambda: fn(*args, **kwargs))
            if not isinstance(results, list) or len(results) != len(batch):
                raise TypeError(f"a @ketch.batched function must return a list with one result "
                                f"per input: got {type(results).__name__} for {len(batch)} "
                                "inputs")
        except BaseException as exc:
            for inp in batch:
                self.emit(self.error_output(inp, exc, time.perf_counter() - start))
            return
        per = (time.perf_counter() - start) / len(batch)
        for inp, value in zip(batch, results, strict=True):
            self.emit(await self._result_async(inp, value, duration=per))

    # -- lifecycle

    async def serve(self):
        self.loop_thread = threading.get_ident()
        web = WebServing(self) if self.spec.web_endpoints else None
        try:
            await self.setup()
            ready = pb.Frame(container_ready=pb.ContainerReady(ok=True)) if web is None else \
                pb.Frame(web_ready=await web.start())
        except BaseException as exc:
            data, message, tb = serialize_exception(exc)
            self.conn.send(pb.Frame(container_ready=pb.ContainerReady(
                ok=False, data=data, message=message, traceback=tb)))
            traceback.print_exc()
            await asyncio.sleep(0.05)
            self.conn.close()
            return 1
        n = max(1, self.spec.max_inputs or 1)
        workers = []
        if self.spec.batch_max_size:
            self.batch_queue = asyncio.Queue()
            workers.append(asyncio.ensure_future(self.batch_collector()))
        elif self.spec.is_async:
            self.work = asyncio.Queue()
            workers = [asyncio.ensure_future(self.async_worker()) for _ in range(n)]
        else:
            self.work = queue.SimpleQueue()
            for i in range(n):
                threading.Thread(target=self.thread_worker, name=f"ketch-input-{i}",
                                 daemon=True).start()
        self.conn.send(ready)
        await self.stopping.wait()
        if web is not None:
            await web.stop()
        # Asked to stop (SIGTERM): let the inputs already running finish, for a while,
        # before @exit hooks tear down what they use.
        deadline = time.monotonic() + STOP_DRAIN_S
        while self.running and not self.conn.closed and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await self.run_exit_hooks()
        self.flush()
        await asyncio.sleep(0)
        self.conn.close()
        return 0

    async def run_exit_hooks(self):
        if not self.spec.is_class or self.instance is None:
            return
        for name in lifecycle_methods(self.target, EXIT):
            try:
                result = getattr(self.instance, name)()
                if inspect.iscoroutine(result):
                    await result
            except Exception:
                traceback.print_exc()


async def _main() -> int:
    address = os.environ["KETCH_SERVER_ADDR"]
    container: Container | None = None
    stop = asyncio.Event()

    def on_frame(frame):
        if container is not None:
            container.on_frame(frame)

    def on_close(exc):
        stop.set()
        if container is not None:
            container.stopping.set()

    conn = await _wire.open_connection(address, on_frame, on_close)
    await conn.request(hello=pb.Hello(token=os.environ.get("KETCH_TOKEN", ""), role="container",
                                      container_id=os.environ["KETCH_CONTAINER_ID"]))
    reply = await conn.request(container_init=pb.ContainerInit())
    container = Container(conn, reply.container_spec)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, container.stopping.set)
    if stop.is_set():
        return 1
    return await container.serve()


def main():
    try:
        from uvloop import run as run_loop
    except ImportError:
        run_loop = asyncio.run
    try:
        code = run_loop(_main())
    except (_wire.ConnectionLost, ConnectionError, _wire.RemoteFailure) as exc:
        print(f"ketch container: {exc}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # Worker threads may still be inside user code; leave without waiting for them.
    os._exit(code)
