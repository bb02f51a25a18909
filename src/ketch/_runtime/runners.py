"""Running the inputs the server pushes to a container: sync user code in worker threads
(so the event loop stays free for cancellations), async user code as tasks on the loop,
and @batched functions a batch at a time."""

from __future__ import annotations

import asyncio
import ctypes
import inspect
import queue
import threading
import time

from .. import _context
from .._serialization import deserialize
from ..exception import InputCancellation
from ..proto import ketch_pb2 as pb
from .loading import UserCode
from .outbox import ContainerIO


class InputRunner:
    def __init__(self, spec: pb.FunctionSpec, code: UserCode, io: ContainerIO):
        self.spec = spec
        self.code = code
        self.io = io
        self.running: dict[str, object] = {}   # input id → thread ident or asyncio task
        self.cancelled: set[str] = set()
        self.work: queue.SimpleQueue | asyncio.Queue | None = None
        self.batch_queue: asyncio.Queue | None = None
        self.tasks: list[asyncio.Task] = []    # held here: the loop keeps only weak refs
        self.threads_lock = threading.Lock()
        self.thread_limit = self.threads_started = self.idle_threads = 0

    def start(self):
        """Starts the workers the spec asks for: a batch collector, max_inputs async
        workers, or up to max_inputs worker threads (started as inputs need them: a
        thousand threads at start would cost a cold start ~0.4 s)."""
        n = max(1, self.spec.max_inputs or 1)
        if self.spec.batch_max_size:
            self.batch_queue = asyncio.Queue()
            self.tasks.append(asyncio.ensure_future(self.batch_collector()))
        elif self.spec.is_async:
            self.work = asyncio.Queue()
            self.tasks = [asyncio.ensure_future(self.async_worker()) for _ in range(n)]
        else:
            self.work = queue.SimpleQueue()
            self.thread_limit = n

    # -- inputs in, cancellations

    def add_inputs(self, inputs):
        for inp in inputs:
            if inp.args_blob:
                asyncio.ensure_future(self._fetch_then_queue(inp))
            else:
                self.queue_input(inp)

    async def _fetch_then_queue(self, inp: pb.Input):
        try:
            inp.args = await self.io.get_blob(inp.args_blob)
        except Exception as exc:  # the input fails rather than waiting for its timeout
            self.io.emit(self.io.error_output(inp, exc, status=pb.INTERNAL_ERROR))
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
            self._more_threads()

    def _more_threads(self):
        """An idle worker thread takes the input just queued, else a new one starts."""
        with self.threads_lock:
            if self.idle_threads > 0:
                self.idle_threads -= 1
                return
            if self.threads_started >= self.thread_limit:
                return
            self.threads_started += 1
            name = f"ketch-input-{self.threads_started - 1}"
        threading.Thread(target=self.thread_worker, name=name, daemon=True).start()

    def cancel(self, input_id: str):
        self.cancelled.add(input_id)
        running = self.running.get(input_id)
        if isinstance(running, asyncio.Task):
            running.cancel()
        elif isinstance(running, int):
            # Raise InputCancellation inside the worker thread running the input.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(running),
                                                       ctypes.py_object(InputCancellation))

    def _emit_cancelled(self, inp: pb.Input):
        self.io.emit(self.io.error_output(inp, InputCancellation("the input was cancelled")))

    # -- sync code in threads

    def thread_worker(self):
        while True:
            inp = self.work.get()
            if inp is None:
                return
            self.run_sync_input(inp)
            with self.threads_lock:
                self.idle_threads += 1

    def run_sync_input(self, inp: pb.Input):
        """Runs one input of sync user code in the calling (worker) thread."""
        if inp.input_id in self.cancelled:
            self._emit_cancelled(inp)
            return
        io = self.io
        self.running[inp.input_id] = threading.get_ident()
        start = time.perf_counter()
        token = _context.current_input.set((inp.input_id, inp.call_id))
        try:
            args, kwargs = deserialize(inp.args)
            fn = self.code.callable_for(inp.method)
            if inp.is_generator:
                index = 0
                for value in fn(*args, **kwargs):
                    io.emit(io.result_output(inp, value, pb.GENERATOR_ITEM, index))
                    index += 1
                out = io.result_output(inp, None, duration=time.perf_counter() - start)
            else:
                value = fn(*args, **kwargs)
                out = io.result_output(inp, value, duration=time.perf_counter() - start)
        except BaseException as exc:  # the user's code may raise anything
            out = io.error_output(inp, exc, time.perf_counter() - start)
        finally:
            _context.current_input.reset(token)
            self.running.pop(inp.input_id, None)
        io.emit(out, alone=isinstance(self.work, queue.SimpleQueue) and self.work.empty())

    # -- async code on the loop

    async def async_worker(self):
        while True:
            inp = await self.work.get()
            if inp is None:
                return
            if inp.input_id in self.cancelled:
                self._emit_cancelled(inp)
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
        io = self.io
        fn = self.code.callable_for(inp.method)
        if not (inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)):
            # A sync method of a class that also has async ones.
            await io.loop.run_in_executor(None, self.run_sync_input, inp)
            return
        start = time.perf_counter()
        _context.current_input.set((inp.input_id, inp.call_id))
        try:
            args, kwargs = deserialize(inp.args)
            if inp.is_generator:
                index = 0
                async for value in fn(*args, **kwargs):
                    io.emit(await io.result_output_async(inp, value, pb.GENERATOR_ITEM, index))
                    index += 1
                out = await io.result_output_async(inp, None,
                                                   duration=time.perf_counter() - start)
            else:
                value = await fn(*args, **kwargs)
                out = await io.result_output_async(inp, value,
                                                   duration=time.perf_counter() - start)
        except asyncio.CancelledError:
            out = io.error_output(inp, InputCancellation("the input was cancelled"))
        except BaseException as exc:
            out = io.error_output(inp, exc, time.perf_counter() - start)
        io.emit(out)

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
        io = self.io
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
            fn = self.code.callable_for(batch[0].method)
            if inspect.iscoroutinefunction(fn):
                results = await fn(*args, **kwargs)
            else:
                results = await io.loop.run_in_executor(None, lambda: fn(*args, **kwargs))
            if not isinstance(results, list) or len(results) != len(batch):
                raise TypeError(f"a @ketch.batched function must return a list with one result "
                                f"per input: got {type(results).__name__} for {len(batch)} "
                                "inputs")
        except BaseException as exc:
            for inp in batch:
                io.emit(io.error_output(inp, exc, time.perf_counter() - start))
            return
        per = (time.perf_counter() - start) / len(batch)
        for inp, value in zip(batch, results, strict=True):
            io.emit(await io.result_output_async(inp, value, duration=per))
