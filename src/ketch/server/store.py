"""Durable state: apps, functions and spawned calls, in the server's database (`db/`).

Only what must outlive the server process is here: deployed apps and their functions (so
they serve again after a restart) and spawned calls with their inputs and outputs (so a
`FunctionCall.from_id(...).get()` works across restarts). Per-input state of `.remote` and
`.map` lives in memory: its caller holds a connection that would see a restart anyway.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .db import Database, migrate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS apps (
    app_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    stopped_at REAL,
    workspace TEXT NOT NULL DEFAULT 'main'
);
CREATE INDEX IF NOT EXISTS apps_by_name ON apps (name, state);
CREATE TABLE IF NOT EXISTS functions (
    function_id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    name TEXT NOT NULL,
    spec BLOB NOT NULL,
    parent_id TEXT,
    params BLOB,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS functions_by_app ON functions (app_id);
CREATE TABLE IF NOT EXISTS calls (
    call_id TEXT PRIMARY KEY,
    function_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    n_inputs INTEGER NOT NULL DEFAULT 0,
    finished_at REAL,
    workspace TEXT NOT NULL DEFAULT 'main'
);
CREATE INDEX IF NOT EXISTS calls_open ON calls (finished_at);
CREATE TABLE IF NOT EXISTS call_inputs (
    call_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    input BLOB NOT NULL,
    output BLOB,
    PRIMARY KEY (call_id, idx)
);
"""


@dataclass
class AppRow:
    app_id: str
    name: str
    state: str
    created_at: float
    stopped_at: float | None
    workspace: str


_APP_COLS = "app_id, name, state, created_at, stopped_at, workspace"


@dataclass
class FunctionRow:
    function_id: str
    app_id: str
    name: str
    spec: bytes
    parent_id: str | None
    params: bytes | None


def _create(db: Database):
    db.script(_SCHEMA)
    # Data directories made before workspaces: everything was the default workspace's.
    for table in ("apps", "calls"):
        if "workspace" not in db.columns(table):
            db.execute(f"ALTER TABLE {table} ADD COLUMN workspace TEXT NOT NULL "
                       "DEFAULT 'main'")


MIGRATIONS = [_create]


class Store:
    """Apps, functions and spawned calls. Calls are short and synchronous; each one is a
    single transaction."""

    def __init__(self, db: Database):
        self.db = db
        migrate(db, "store", MIGRATIONS)

    # -- apps

    def add_app(self, app_id: str, name: str, state: str, workspace: str):
        self.db.execute(f"INSERT INTO apps ({_APP_COLS}) VALUES (?, ?, ?, ?, NULL, ?)",
                        (app_id, name, state, time.time(), workspace))

    def set_app_state(self, app_id: str, state: str):
        stopped = time.time() if state == "stopped" else None
        self.db.execute("UPDATE apps SET state = ?, stopped_at = ? WHERE app_id = ?",
                        (state, stopped, app_id))

    def apps(self, states: tuple[str, ...] | None = None, limit: int = 200,
             workspace: str | None = None) -> list[AppRow]:
        """The newest apps, of one workspace or (workspace None) of all."""
        sql = f"SELECT {_APP_COLS} FROM apps WHERE TRUE"
        args: tuple = ()
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args = states
        if workspace is not None:
            sql += " AND workspace = ?"
            args += (workspace,)
        sql += " ORDER BY created_at DESC LIMIT ?"
        return [AppRow(*row) for row in self.db.execute(sql, args + (limit,))]

    def deployed_app(self, name: str, workspace: str) -> AppRow | None:
        row = self.db.execute(
            f"SELECT {_APP_COLS} FROM apps WHERE name = ? AND state = 'deployed' AND "
            "workspace = ?", (name, workspace)).fetchone()
        return AppRow(*row) if row else None

    def app_workspace(self, app_id: str) -> str | None:
        row = self.db.execute("SELECT workspace FROM apps WHERE app_id = ?",
                              (app_id,)).fetchone()
        return row[0] if row else None

    # -- functions

    def add_function(self, function_id: str, app_id: str, name: str, spec: bytes,
                     parent_id: str | None = None, params: bytes | None = None):
        self.db.execute("INSERT INTO functions (function_id, app_id, name, spec, parent_id, "
                        "params, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (function_id, app_id, name, spec, parent_id, params, time.time()))

    def set_function_spec(self, function_id: str, spec: bytes):
        """Rewrites a function's spec (its autoscaler settings, changed while it runs)."""
        self.db.execute("UPDATE functions SET spec = ? WHERE function_id = ?",
                        (spec, function_id))

    def functions_of(self, app_id: str) -> list[FunctionRow]:
        rows = self.db.execute(
            "SELECT function_id, app_id, name, spec, parent_id, params FROM functions "
            "WHERE app_id = ? ORDER BY created_at", (app_id,))
        return [FunctionRow(*row) for row in rows]

    def function_origin(self, function_id: str) -> tuple | None:
        """→ (app name, workspace, function name, parent_id, params) of a stored function,
        its app running or not."""
        return self.db.execute(
            "SELECT a.name, a.workspace, f.name, f.parent_id, f.params FROM functions f "
            "JOIN apps a ON a.app_id = f.app_id WHERE f.function_id = ?",
            (function_id,)).fetchone()

    # -- spawned calls

    def add_call(self, call_id: str, function_id: str, workspace: str):
        self.db.execute("INSERT INTO calls (call_id, function_id, created_at, n_inputs, "
                        "finished_at, workspace) VALUES (?, ?, ?, 0, NULL, ?)",
                        (call_id, function_id, time.time(), workspace))

    def add_call_inputs(self, call_id: str, inputs: list[tuple[int, bytes]]):
        with self.db.transaction():
            self.db.executemany("INSERT INTO call_inputs (call_id, idx, input, output) "
                                "VALUES (?, ?, ?, NULL)",
                                [(call_id, idx, data) for idx, data in inputs])
            self.db.execute("UPDATE calls SET n_inputs = n_inputs + ? WHERE call_id = ?",
                            (len(inputs), call_id))

    def set_call_output(self, call_id: str, idx: int, output: bytes):
        self.db.execute("UPDATE call_inputs SET output = ? WHERE call_id = ? AND idx = ?",
                        (output, call_id, idx))

    def set_call_input(self, call_id: str, idx: int, data: bytes):
        """Rewrites a stored input (its attempt count, after a failed attempt)."""
        self.db.execute("UPDATE call_inputs SET input = ? WHERE call_id = ? AND idx = ?",
                        (data, call_id, idx))

    def finish_call(self, call_id: str):
        self.db.execute("UPDATE calls SET finished_at = ? WHERE call_id = ?",
                        (time.time(), call_id))

    def call(self, call_id: str, workspace: str) -> tuple[str, int, float | None] | None:
        """→ (function_id, n_inputs, finished_at) of a call of this workspace."""
        return self.db.execute(
            "SELECT function_id, n_inputs, finished_at FROM calls WHERE call_id = ? AND "
            "workspace = ?", (call_id, workspace)).fetchone()

    def call_outputs(self, call_id: str) -> list[tuple[int, bytes | None]]:
        return list(self.db.execute(
            "SELECT idx, output FROM call_inputs WHERE call_id = ? ORDER BY idx", (call_id,)))

    def open_calls(self) -> list[tuple[str, str]]:
        """Spawned calls not yet finished: → [(call_id, function_id)]."""
        return list(self.db.execute(
            "SELECT call_id, function_id FROM calls WHERE finished_at IS NULL"))

    def pending_inputs(self, call_id: str) -> list[tuple[int, bytes]]:
        return list(self.db.execute(
            "SELECT idx, input FROM call_inputs WHERE call_id = ? AND output IS NULL "
            "ORDER BY idx", (call_id,)))
