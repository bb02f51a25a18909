"""A call's data on the wire: its inputs (pickled arguments, inline or as a blob), sent in
frames of batched inputs, and its outputs (a value, or the error it carries)."""

from __future__ import annotations

import asyncio
import secrets

from ._client import Client
from ._serialization import FRAME_BATCH_BYTES, INLINE_LIMIT, deserialize, serialize
from ._traceback import attach_remote
from .exception import DeserializationError, NotFoundError, OutputExpiredError, RemoteError, \
    SerializationError
from .proto import ketch_pb2 as pb

INPUT_BATCH = 100        # inputs per frame


def new_call_id() -> str:
    return "fc-" + secrets.token_hex(8)


def serialize_args(name: str, args: tuple, kwargs: dict) -> bytes:
    try:
        return serialize((args, kwargs))
    except Exception as exc:
        raise SerializationError(
            f"cannot send the arguments of {name} to a container: {exc}. Arguments must be "
            "picklable (cloudpickle); pass data such as numbers, strings, bytes, lists or "
            "file paths rather than open files, locks, sockets or clients.") from None


async def make_input(client: Client, name: str, idx: int, args: tuple, kwargs: dict,
                     method: str) -> pb.Input:
    data = serialize_args(name, args, kwargs)
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
    return output_value(out, data)


def output_value(out: pb.Output, data: bytes):
    """decode_output, once the output's data is at hand (inline, or fetched)."""
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
    elif not isinstance(exc, Exception):
        # SystemExit, KeyboardInterrupt...: raised here they would end the caller (or the
        # SDK's event loop) rather than fail the call.
        exc = RemoteError(f"the function raised {exc!r} in its container, which failed this "
                          "input (the container goes on serving); return a value or raise "
                          "an exception instead of exiting")
    if out.traceback:
        attach_remote(exc, out.traceback)
    return exc


class InputBatcher:
    """Collects a call's inputs into frames of at most INPUT_BATCH inputs and
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
        return len(self.inputs) >= INPUT_BATCH or self.size >= FRAME_BATCH_BYTES

    def send(self, last: bool = False):
        if self.inputs or last:
            self.client.send(inputs=pb.InputBatch(call_id=self.call_id, inputs=self.inputs,
                                                  last=last))
        self.inputs, self.size = [], 0
