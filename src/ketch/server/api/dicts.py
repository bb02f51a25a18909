"""Dicts: one request type, `DictRequest`, whose `op` picks the operation."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..dicts import DictService
from ..services import Services
from .context import Request


def _one_key(msg: pb.DictRequest) -> bytes:
    if len(msg.keys) != 1:
        raise ValueError("give exactly one key")
    return msg.keys[0]


def _found(value: bytes | None, with_value: bool = True) -> pb.DictReply:
    if value is None:
        return pb.DictReply()
    return pb.DictReply(found=True, value=value) if with_value else pb.DictReply(found=True)


def _get(dicts: DictService, msg: pb.DictRequest) -> pb.DictReply:
    return _found(dicts.get(msg.object_id, _one_key(msg)))


def _pop(dicts: DictService, msg: pb.DictRequest) -> pb.DictReply:
    return _found(dicts.pop(msg.object_id, _one_key(msg)))


def _contains(dicts: DictService, msg: pb.DictRequest) -> pb.DictReply:
    return _found(dicts.get(msg.object_id, _one_key(msg)), with_value=False)


def _put(dicts: DictService, msg: pb.DictRequest) -> pb.DictReply:
    if len(msg.keys) != len(msg.values):
        raise ValueError("give one value per key")
    pairs = list(zip(msg.keys, msg.values))
    return pb.DictReply(n=dicts.put(msg.object_id, pairs, msg.skip_if_exists))


def _len(dicts: DictService, msg: pb.DictRequest) -> pb.DictReply:
    return pb.DictReply(n=dicts.size(msg.object_id))


def _clear(dicts: DictService, msg: pb.DictRequest) -> pb.DictReply:
    dicts.clear(msg.object_id)
    return pb.DictReply()


def _scan(dicts: DictService, msg: pb.DictRequest) -> pb.DictReply:
    rows, done = dicts.scan(msg.object_id, msg.after_key, msg.limit, msg.with_values)
    reply = pb.DictReply(done=done, keys=[k for k, _ in rows])
    if msg.with_values:
        reply.values.extend(v for _, v in rows)
    return reply


_OPS = {
    pb.DICT_GET: _get,
    pb.DICT_POP: _pop,
    pb.DICT_CONTAINS: _contains,
    pb.DICT_PUT: _put,
    pb.DICT_LEN: _len,
    pb.DICT_CLEAR: _clear,
    pb.DICT_SCAN: _scan,
}


def dict_request(svc: Services, req: Request, msg: pb.DictRequest):
    op = _OPS.get(msg.op)
    if op is None:
        raise ValueError(f"unknown dict operation {msg.op}")
    svc.objects.get(msg.object_id, "dict", req.workspace)
    req.reply(dict_reply=op(svc.dicts, msg))
