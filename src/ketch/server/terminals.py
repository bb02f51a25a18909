"""Interactive apps (`ketch run -i`): the client that created the app is its containers'
terminal. A container that reads stdin asks the client for input (which reads its
terminal only then); what is typed waits here (bounded) until a container of the app reads
it; what the containers write to stdout and stderr is passed on to that client.
Only the connection that created the app feeds its stdin, and a container reads and
writes only its own app's terminal."""

from __future__ import annotations

import asyncio
import logging

from ..proto import ketch_pb2 as pb
from .errors import ServiceError

log = logging.getLogger("ketch.server")

MAX_TYPED_AHEAD = 1024 * 1024      # bytes typed and not yet read by a container
MAX_READ = 64 * 1024               # bytes one read hands a container
MAX_UNSENT = 16 * 1024 * 1024      # output held for a client that does not read
CLOSED_CHECK_S = 1.0               # a waiting read notices its client left this soon


class Terminal:
    def __init__(self, conn):
        self.conn = conn                     # the client's connection
        self.typed = bytearray()
        self.eof = False
        self.changed = asyncio.Event()


class Terminals:
    def __init__(self):
        self.by_app: dict[str, Terminal] = {}

    def open(self, app_id: str, conn):
        for gone in [a for a, t in self.by_app.items() if t.conn.closed]:
            del self.by_app[gone]
        self.by_app[app_id] = Terminal(conn)

    def feed(self, app_id: str, conn, data: bytes, eof: bool):
        term = self.by_app.get(app_id)
        if term is None or term.conn is not conn:
            raise LookupError(f"app {app_id} has no terminal of this connection; only the "
                              "client that ran it with -i (interactive) types into it")
        if len(term.typed) + len(data) > MAX_TYPED_AHEAD:
            raise ServiceError(f"more than {MAX_TYPED_AHEAD} bytes typed ahead of what the "
                               "app's containers read; wait for them", "resource")
        term.typed += data
        term.eof = term.eof or eof
        term.changed.set()

    async def read(self, app_id: str, max_bytes: int) -> pb.TerminalData:
        """What was typed (waiting for some), or eof: typed Ctrl-D, the client left, or
        the app is not interactive."""
        term = self.by_app.get(app_id)
        while term is not None and not term.typed and not term.eof and not term.conn.closed:
            # The client reads its terminal only when asked (so its own code, a local
            # entrypoint's input(), has it otherwise); asked again each CLOSED_CHECK_S in
            # case an ask crossed the end of its last read.
            term.conn.send(pb.Frame(terminal_data=pb.TerminalData(app_id=app_id,
                                                                  wants_input=True)))
            term.changed.clear()
            try:
                await asyncio.wait_for(term.changed.wait(), CLOSED_CHECK_S)
            except asyncio.TimeoutError:
                pass
        if term is None or not term.typed:
            return pb.TerminalData(eof=True)
        n = min(max_bytes or MAX_READ, MAX_READ, len(term.typed))
        data = bytes(term.typed[:n])
        del term.typed[:n]
        return pb.TerminalData(data=data)

    def write(self, app_id: str, fd: int, data: bytes):
        term = self.by_app.get(app_id)
        if term is None or term.conn.closed or fd not in (1, 2):
            return
        if term.conn.unsent_bytes() > MAX_UNSENT:   # the app's log keeps every line
            log.warning("app %s: its client reads its terminal too slowly; output dropped",
                        app_id)
            return
        term.conn.send(pb.Frame(terminal_data=pb.TerminalData(app_id=app_id, fd=fd,
                                                              data=data)))
