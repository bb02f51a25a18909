"""`ketch run -i`: the interactive app's client types (terminal_input), its containers
read that (terminal_read) and write their output to it (terminal_data)."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..services import Services
from .context import Request


def terminal_input(svc: Services, req: Request, msg: pb.TerminalInput):
    svc.terminals.feed(msg.app_id, req.conn, msg.data, msg.eof)
    req.reply(ok=pb.Ok())


async def terminal_read(svc: Services, req: Request, msg: pb.TerminalRead):
    req.reply(terminal_data=await svc.terminals.read(req.container.fn.app.id, msg.max_bytes))


def terminal_data(svc: Services, req: Request, msg: pb.TerminalData):
    svc.terminals.write(req.container.fn.app.id, msg.fd, msg.data)
