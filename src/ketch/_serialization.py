"""How values, exceptions and functions cross process boundaries (cloudpickle)."""

from __future__ import annotations

import pickle
import cloudpickle

from ._traceback import format_exception
from .proto import ketch_pb2 as pb

# Arguments and results larger than this travel through the server's blob store.
INLINE_LIMIT = 2 * 1024 * 1024
BLOB_CHUNK = 1024 * 1024


# Pickle protocol 5 is read by every Python ketch runs (3.8 and later): plain-data
# arguments and results cross a client and a container of different minor versions, as on
# Modal. (A function pickled by value does not: its bytecode is its version's.)
PICKLE_PROTOCOL = 5


_PLAIN = frozenset((int, float, str, bytes, bool, type(None)))
_PLAIN_DEPTH, _PLAIN_ITEMS = 3, 64


def _plain(obj, depth: int = 0) -> bool:
    """Small plain data (numbers, strings, bytes, None, and short tuples, lists and
    str-keyed dicts of them): what the standard pickler writes exactly as cloudpickle
    would, in a tenth of the time (cloudpickle's pickler is costly to set up)."""
    t = type(obj)
    if t in _PLAIN:
        return True
    if depth >= _PLAIN_DEPTH:
        return False
    if t is tuple or t is list:
        return len(obj) <= _PLAIN_ITEMS and all(_plain(x, depth + 1) for x in obj)
    if t is dict:
        return len(obj) <= _PLAIN_ITEMS and all(
            type(k) is str and _plain(v, depth + 1) for k, v in obj.items())
    return False


def serialize(obj) -> bytes:
    if _plain(obj):
        return pickle.dumps(obj, protocol=PICKLE_PROTOCOL)
    return cloudpickle.dumps(obj, protocol=PICKLE_PROTOCOL)


def deserialize(data: bytes):
    return pickle.loads(data)


def serialize_exception(exc: BaseException) -> tuple[bytes, str, str]:
    """→ (pickled exception or b"", one-line message, formatted traceback)."""
    tb = format_exception(exc)  # less ketch's own frames
    message = f"{type(exc).__name__}: {exc}"
    try:
        data = serialize(exc)
        pickle.loads(data)  # some exceptions pickle but cannot be rebuilt
    except Exception:
        data = b""
    return data, message, tb


# Messages batched into one frame stay under this many bytes, well below the transport's
# frame limit, however many of them are ready at once.
FRAME_BATCH_BYTES = 8 * 1024 * 1024


def batches_by_size(messages: list, limit: int = FRAME_BATCH_BYTES) -> list[list]:
    """Splits protobuf messages into runs whose serialized sizes add up to at most `limit`
    (a single larger message gets a run of its own)."""
    if len(messages) == 1:   # the common case on the call path: no sizes to add up
        return [messages]
    batches, current, size = [], [], 0
    for msg in messages:
        n = msg.ByteSize()
        if current and size + n > limit:
            batches.append(current)
            current, size = [], 0
        current.append(msg)
        size += n
    if current:
        batches.append(current)
    return batches


def outputs_frame(outputs: list) -> pb.Frame:
    """A frame of these outputs, built in place: the keyword form, Frame(outputs=
    OutputBatch(outputs=...)), copies each message twice (for one input, that took twice
    as long here)."""
    frame = pb.Frame()
    frame.outputs.outputs.extend(outputs)
    return frame


def inputs_frame(inputs: list) -> pb.Frame:
    """A frame of these inputs, built in place (see outputs_frame)."""
    frame = pb.Frame()
    frame.inputs.inputs.extend(inputs)
    return frame
