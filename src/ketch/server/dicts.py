"""Dicts: key-value maps shared by every client and container of the server.

Keys and values arrive cloudpickled; keys compare as bytes. Every operation is one SQLite
transaction run on the server's event loop, so concurrent writers never interleave inside
one: `put(skip_if_exists=True)` and `pop` are atomic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..proto import ketch_pb2 as pb

if TYPE_CHECKING:
    from .api import Session

MAX_KEY_BYTES = 64 * 1024
MAX_VALUE_BYTES = 16 * 1024 * 1024
SCAN_PAGE = 1000
SCAN_BYTES = 32 * 1024 * 1024   # a page stays well under the frame limit


def _check_sizes(keys, values=()):
    for key in keys:
        if len(key) > MAX_KEY_BYTES:
            raise ValueError(f"a Dict key is {len(key)} bytes pickled; the limit is "
                             f"{MAX_KEY_BYTES} bytes. Use a shorter key (a hash, say).")
    for value in values:
        if len(value) > MAX_VALUE_BYTES:
            raise ValueError(f"a Dict value is {len(value)} bytes pickled; the limit is "
                             f"{MAX_VALUE_BYTES // (1024 * 1024)} MiB. Put large data on a "
                             "Volume and store its path.")


def dict_request(session: "Session", frame, msg: pb.DictRequest):
    server = session.server
    server.objects.get(msg.object_id, "dict")
    store = server.objects.store
    oid = msg.object_id
    op = msg.op
    reply = pb.DictReply()
    if op in (pb.DICT_GET, pb.DICT_POP, pb.DICT_CONTAINS):
        if len(msg.keys) != 1:
            raise ValueError("give exactly one key")
        _check_sizes(msg.keys)
        key = msg.keys[0]
        if op == pb.DICT_GET:
            value = store.dict_get(oid, key)
        elif op == pb.DICT_POP:
            value = store.dict_pop(oid, key)
        else:
            value = store.dict_get(oid, key)
        if value is not None:
            reply.found = True
            if op != pb.DICT_CONTAINS:
                reply.value = value
    elif op == pb.DICT_PUT:
        if len(msg.keys) != len(msg.values):
            raise ValueError("give one value per key")
        _check_sizes(msg.keys, msg.values)
        reply.n = store.dict_put(oid, list(zip(msg.keys, msg.values)), msg.skip_if_exists)
    elif op == pb.DICT_LEN:
        reply.n = store.dict_len(oid)
    elif op == pb.DICT_CLEAR:
        store.dict_clear(oid)
    elif op == pb.DICT_SCAN:
        limit = min(msg.limit or SCAN_PAGE, SCAN_PAGE)
        rows = store.dict_scan(oid, msg.after_key, limit, msg.with_values)
        reply.done = len(rows) < limit
        size = 0
        for key, value in rows:
            size += len(key) + len(value or b"")
            if reply.keys and size > SCAN_BYTES:
                reply.done = False
                break
            reply.keys.append(key)
            if msg.with_values:
                reply.values.append(value)
    else:
        raise ValueError(f"unknown dict operation {op}")
    session.conn.reply(frame, dict_reply=reply)


HANDLERS = {"dict_request": dict_request}
