"""Sandboxes in the store, so that an id outlives the server: each sandbox's info is
written when it starts and when it ends. A sandbox does not outlive its server (its
supervisor's one connection is how anything reaches its processes, and it ends them when
that connection is lost), so at start the server records every sandbox the last server
left running as ended by the restart; `Sandbox.from_id` (and `from_name(...,
include_terminated=True)`) then say so instead of finding nothing.

SQL in the subset SQLite and PostgreSQL share (the store's rule)."""

from __future__ import annotations

import logging
import time

from ...proto import ketch_pb2 as pb
from ..db.schema import migrate
from .model import MAIN, EndReason, SandboxRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sandboxes (
    sandbox_id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    app_name TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at REAL NOT NULL,
    done INTEGER NOT NULL,
    info BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sandboxes_by_name ON sandboxes (workspace, app_name, name);
"""
KEEP_S = 7 * 86400       # ended sandboxes are found by id this long
KEEP_MAX = 10_000        # ...and at most this many of them
log = logging.getLogger("ketch.server")
LOST = "the server stopped or restarted while it ran (a sandbox ends with its server)"


class SandboxTable:
    def __init__(self, db):
        self.db = db
        migrate(db, "sandboxes", [_SCHEMA])

    def save(self, sb: SandboxRecord):
        try:
            self._save(sb)
        except Exception:   # the store closed under a late exit: restore() records the end
            log.warning("sandbox %s: its record could not be written", sb.id, exc_info=True)

    def _save(self, sb: SandboxRecord):
        self.db.execute(
            "INSERT INTO sandboxes (sandbox_id, workspace, app_name, name, created_at, done, "
            "info) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sandbox_id) DO UPDATE SET "
            "done = excluded.done, info = excluded.info",
            (sb.id, sb.workspace, sb.app_name, sb.name, sb.created_at, int(sb.done),
             sb.info().SerializeToString()))

    def restore(self):
        """What the last server left running ended with it; old records go."""
        lost = self.db.execute("SELECT sandbox_id, info FROM sandboxes WHERE done = 0"
                               ).fetchall()
        for sandbox_id, blob in lost:
            info = pb.SandboxInfo.FromString(blob)
            info.done, info.state, info.returncode = True, "finished", 137
            info.reason, info.message = EndReason.SERVER_STOPPED.value, LOST
            self.db.execute("UPDATE sandboxes SET done = 1, info = ? WHERE sandbox_id = ?",
                            (info.SerializeToString(), sandbox_id))
        self.db.execute("DELETE FROM sandboxes WHERE done = 1 AND created_at < ?",
                        (time.time() - KEEP_S,))
        self.db.execute("DELETE FROM sandboxes WHERE done = 1 AND created_at < (SELECT "
                        "created_at FROM sandboxes ORDER BY created_at DESC LIMIT 1 OFFSET ?)",
                        (KEEP_MAX,))
        return len(lost)

    def ended(self, workspace: str, sandbox_id: str = "", app_name: str = "",
              name: str = "") -> SandboxRecord | None:
        """An ended sandbox of this workspace, by id or (the latest) by app and name."""
        if sandbox_id:
            row = self.db.execute("SELECT info FROM sandboxes WHERE sandbox_id = ? AND "
                                  "workspace = ? AND done = 1",
                                  (sandbox_id, workspace)).fetchone()
        else:
            row = self.db.execute(
                "SELECT info FROM sandboxes WHERE workspace = ? AND app_name = ? AND "
                "name = ? AND done = 1 ORDER BY created_at DESC LIMIT 1",
                (workspace, app_name, name)).fetchone()
        return _record(workspace, pb.SandboxInfo.FromString(row[0])) if row else None


class _App:
    def __init__(self, app_id: str, name: str):
        self.id, self.name = app_id, name


def _record(workspace: str, info: pb.SandboxInfo) -> SandboxRecord:
    """An ended sandbox as the service's record: its result, no processes, no output."""
    sb = SandboxRecord(info.sandbox_id, workspace, _App(info.app_id, info.app_name),
                       info.name, info.tags, pb.SandboxSpec())
    sb.created_at, sb.tunnels = info.created_at, []
    sb.done, sb.returncode, sb.message = True, info.returncode, info.message
    sb.reason = EndReason(info.reason) if info.reason else EndReason.EXITED
    sb.finished_at = time.monotonic()
    main = sb.execs[MAIN]
    main.finish(info.returncode, info.message)
    for out in main.outputs.values():
        out.end()
    sb.ended.set()
    return sb
