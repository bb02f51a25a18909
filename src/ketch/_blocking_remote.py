"""The blocking `.remote()`, made from the caller's own thread.

The coroutine path wakes ketch's loop thread to write the call and a task there to read
its output before the caller wakes: two thread handovers and several loop iterations per
call. Here the caller writes the quiet CallCreate to the socket itself and sleeps until
the loop, as it reads the output, wakes it (`Client.call_from_thread`): one handover.

It applies when all that the call needs is at hand: a connected client, a function id
known without asking the server, arguments small enough to travel inline, and a caller
that is not ketch's loop. Any other call takes the coroutine path, as does the retry of a
function that a redeploy replaced (its id is looked up again there, once).
"""

from __future__ import annotations

from typing import Any

from . import _context, _sync
from ._call_io import decode_output, new_call_id, output_value, serialize_args
from ._client import Client
from ._serialization import INLINE_LIMIT
from .exception import NotFoundError
from .proto import ketch_pb2 as pb


def remote(fn, args: tuple, kwargs: dict) -> Any:
    """`fn.remote(*args, **kwargs)` for a `Function` `fn` (it imports this module)."""
    fn._check_not_generator(".remote(...)")
    client = Client.connected()
    target = fn._target
    function_id = target.known_id() if client is not None else None
    if function_id is None or _sync.on_ketch_loop():
        return _sync.run(fn._remote(args, kwargs))
    data = serialize_args(fn._name, args, kwargs)
    if len(data) > INLINE_LIMIT:
        return _sync.run(fn._remote(args, kwargs))
    frame = pb.Frame()   # built in place: nested keyword messages are copied (2x slower)
    create = frame.call_create
    create.call_id, create.function_id = new_call_id(), function_id
    create.kind, create.quiet = pb.REMOTE, True
    create.parent_input_id = _context.current_input_id() or ""
    inp = create.inputs.add()
    inp.args, inp.method = data, target.method
    try:
        out = client.call_from_thread(frame)
    except NotFoundError:
        if not target._forget():
            raise
        return _sync.run(fn._remote(args, kwargs, looked_up_again=True))
    if out.data_blob:
        return _sync.run(decode_output(client, out))
    return output_value(out, out.data)
