"""A container's I/O with the server: outputs queued from any thread leave together in one
frame, and values too large to inline go through the blob store."""

from __future__ import annotations

import asyncio
import threading

from .. import _blobs, _wire
from .._serialization import INLINE_LIMIT, batches_by_size, outputs_frame, serialize, \
    serialize_exception
from ..exception import InputCancellation, SerializationError
from ..proto import ketch_pb2 as pb


class ContainerIO:
    """Made on the container's event loop, whose thread it remembers: worker threads hand
    their outputs over to it."""

    def __init__(self, conn: _wire.FrameProtocol, function_name: str):
        self.conn = conn
        self.function_name = function_name
        self.loop = asyncio.get_running_loop()
        self.loop_thread = threading.get_ident()
        self.outbox: list[pb.Output] = []
        self.outbox_lock = threading.Lock()
        self.flush_scheduled = False

    # -- outputs

    def emit(self, out: pb.Output, alone: bool = False):
        """Queues an output; callable from any thread. Outputs queued together leave in one
        frame. `alone`: from a worker thread that has no other input waiting, so nothing
        would be gathered with it: it leaves at once, from that thread, when no other
        output waits (the loop thread is not woken to send it)."""
        on_loop = threading.get_ident() == self.loop_thread
        with self.outbox_lock:
            if alone and not on_loop and not self.outbox and not self.flush_scheduled:
                # Under the lock, as flush sends: an input's outputs stay in order.
                self.conn.write_now(outputs_frame([out]))
                return
            self.outbox.append(out)
            if self.flush_scheduled:
                return
            self.flush_scheduled = True
        if on_loop:
            self.loop.call_soon(self.flush)
        else:
            self.loop.call_soon_threadsafe(self.flush)

    def flush(self):
        with self.outbox_lock:
            outs, self.outbox = self.outbox, []
            self.flush_scheduled = False
            for batch in batches_by_size(outs):  # already gathered: sent now
                self.conn.send(outputs_frame(batch), now=True)

    # -- blobs

    async def put_blob(self, data: bytes) -> str:
        return await _blobs.put_blob(self.conn.request, data)

    async def get_blob(self, blob_id: str) -> bytes:
        return await _blobs.get_blob(self.conn.request, blob_id)

    # -- building outputs

    def result_output(self, inp: pb.Input, value, status=pb.SUCCESS, gen_index=0,
                      duration=0.0) -> pb.Output:
        """The output carrying `value`; called from a worker thread, which waits for a
        large value's upload."""
        out = pb.Output(input_id=inp.input_id, idx=inp.idx, call_id=inp.call_id,
                        status=status, gen_index=gen_index, duration_s=duration)
        try:
            data = serialize(value)
        except Exception as exc:
            err = SerializationError(f"the result of {self.function_name} could not be "
                                     f"pickled: {exc}. Return plain data (numbers, strings, "
                                     "bytes, lists, dicts, arrays).")
            return self.error_output(inp, err, duration)
        if len(data) > INLINE_LIMIT:
            if threading.get_ident() == self.loop_thread:
                raise RuntimeError("large results are uploaded from worker threads")
            out.data_blob = asyncio.run_coroutine_threadsafe(self.put_blob(data),
                                                             self.loop).result()
        else:
            out.data = data
        return out

    async def result_output_async(self, inp: pb.Input, value, status=pb.SUCCESS, index=0,
                                  duration=0.0) -> pb.Output:
        """Like result_output, on the loop, uploading large values without blocking it."""
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

    @staticmethod
    def error_output(inp: pb.Input, exc: BaseException, duration=0.0,
                     status=pb.FAILURE) -> pb.Output:
        if isinstance(exc, InputCancellation):
            status = pb.CANCELLED
        data, message, tb = serialize_exception(exc)
        return pb.Output(input_id=inp.input_id, idx=inp.idx, call_id=inp.call_id,
                         status=status, data=data, message=message, traceback=tb,
                         duration_s=duration)
