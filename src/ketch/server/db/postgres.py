"""The shared store: PostgreSQL through psycopg 3, one connection in autocommit mode.

The modules' SQL is written in the subset SQLite and PostgreSQL share; what differs is
translated here, once per statement text (cached): `?` placeholders become `%s`, and in
schema statements the column types become PostgreSQL's (REAL is 4 bytes there: times need
DOUBLE PRECISION), `INTEGER PRIMARY KEY AUTOINCREMENT` a BIGSERIAL, and SQLite's
`WITHOUT ROWID` goes.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
from typing import Any, Iterable, Sequence

from .base import StoreUnavailable, mask_url, statements

CONNECT_TIMEOUT_S = 5
# Any numbers: the keys of the advisory locks that serialize schema migrations and that a
# server holds for as long as it uses the store.
MIGRATION_LOCK = 7419
SERVER_LOCK = 7420
# A server killed just before this one started may hold the store a moment longer.
CLAIM_WAIT_S = 5
# TCP keepalives, so that PostgreSQL frees the store of a server whose machine died
# within about 25 s, and such a server notices a database gone.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
              "keepalives_count": 3}

_TYPES = [
    (re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b", re.I), "BIGSERIAL PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
    (re.compile(r"\)\s*WITHOUT ROWID\b", re.I), ")"),
]


@functools.lru_cache(maxsize=1024)
def query(sql: str) -> str:
    """A statement with `?` placeholders, as psycopg takes it."""
    return sql.replace("%", "%%").replace("?", "%s")


def ddl(statement: str) -> str:
    for pattern, replacement in _TYPES:
        statement = pattern.sub(replacement, statement)
    return statement


class PostgresDatabase:
    kind = "postgresql"

    def __init__(self, url: str):
        self.url = mask_url(url)
        try:
            import psycopg
        except ImportError as exc:
            raise StoreUnavailable(
                f"the store {self.url} is PostgreSQL, which needs the psycopg package: "
                "pip install 'ketch[postgres]'") from exc
        self.Error = psycopg.Error
        self._psycopg = psycopg
        self._url = url
        self._depth = 0
        self._claimed = False
        self._connect()

    def _connect(self):
        try:
            self.conn = self._psycopg.connect(self._url, autocommit=True,
                                              connect_timeout=CONNECT_TIMEOUT_S,
                                              application_name="ketch-server", **KEEPALIVES)
            for name in ("idle", "interval", "count"):   # the server's side of them
                self.conn.execute(f"SET tcp_keepalives_{name} = {KEEPALIVES['keepalives_' + name]}")
        except self._psycopg.Error as exc:
            # psycopg's message spans lines; the CLI shows the server's last line.
            reason = " ".join(str(exc).replace(self._url, self.url).split())
            reason += "" if reason.endswith((".", "?")) else "."
            raise StoreUnavailable(
                f"cannot reach the PostgreSQL store {self.url}: {reason} Check that the "
                "server runs and the URL's host, port, user, password and database are "
                "right (the database must exist: createdb NAME)") from None

    def _live(self):
        # A connection lost (PostgreSQL restarted) fails the statement it was running;
        # the next one reconnects (and claims the store again: the lock went with it).
        if self.conn.closed and not self._depth:
            self._connect()
            if self._claimed:
                self.claim()
        return self.conn

    def claim(self):
        """Makes this connection the store's one server: a session lock, freed when the
        connection ends (the server stops, is killed, or its machine dies)."""
        deadline = time.monotonic() + CLAIM_WAIT_S
        while not self.conn.execute("SELECT pg_try_advisory_lock(%s)",
                                    (SERVER_LOCK,)).fetchone()[0]:
            if time.monotonic() > deadline:
                raise StoreUnavailable(
                    f"another ketch server uses the store {self.url} (it holds the store's "
                    "lock): stop that one first (`ketch server stop` where it runs), or give "
                    "this server a database of its own")
            time.sleep(0.2)
        self._claimed = True

    def execute(self, sql: str, args: Sequence[Any] = ()):
        if args:
            return self._live().execute(query(sql), args)
        return self._live().execute(sql)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        rows = list(rows)
        if not rows:
            return 0
        with self._live().cursor() as cur:
            cur.executemany(query(sql), rows)   # pipelined by psycopg: one round trip
            return cur.rowcount

    def script(self, text: str):
        for statement in statements(text):
            self._live().execute(ddl(statement))

    @contextlib.contextmanager
    def transaction(self):
        if self._depth:
            yield
            return
        self._depth = 1
        try:
            # Not in pipeline mode, which would save BEGIN's and COMMIT's round trips:
            # psycopg 3.3's pipeline hangs on a batch of large values (a 75 MiB Dict.update).
            with self._live().transaction():
                yield
        finally:
            self._depth = 0

    def lock_for_migration(self):
        self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))

    def columns(self, table: str) -> set[str]:
        return {row[0] for row in self.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = ?", (table,))}

    def has_table(self, table: str) -> bool:
        return self.execute("SELECT to_regclass(?) IS NOT NULL", (table,)).fetchone()[0]

    def size_bytes(self) -> int:
        return self.execute("SELECT pg_database_size(current_database())").fetchone()[0]

    def companion(self, name: str) -> "PostgresDatabase":
        return self

    def close(self):
        self.conn.close()
