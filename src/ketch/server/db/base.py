"""What every database of the server offers its modules."""

from __future__ import annotations

import contextlib
from typing import Any, Iterable, Iterator, Protocol, Sequence
from urllib.parse import urlsplit, urlunsplit


class StoreUnavailable(Exception):
    """The store cannot be opened: the message names it and what to do."""


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class Cursor(Protocol):
    def fetchone(self) -> tuple | None: ...
    def fetchall(self) -> list[tuple]: ...
    def __iter__(self) -> Iterator[tuple]: ...


class Database(Protocol):
    kind: str                       # "sqlite" or "postgresql"
    url: str                        # where it is, password masked
    Error: type[Exception]          # what its driver raises

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """→ the number of rows the statements changed."""

    def script(self, ddl: str):
        """Runs schema statements, separated by `;` (none inside a literal)."""

    def transaction(self) -> contextlib.AbstractContextManager:
        """One transaction around the block (nested blocks join the outer one)."""

    def claim(self):
        """Makes this server the store's only one, or raises StoreUnavailable."""

    def lock_for_migration(self):
        """Inside a transaction: keeps other servers' migrations out until it ends."""

    def columns(self, table: str) -> set[str]: ...

    def has_table(self, table: str) -> bool: ...

    def size_bytes(self) -> int: ...

    def companion(self, name: str) -> "Database":
        """A database for a part kept apart in SQLite (a file of its own beside this
        one, as older servers had it); with PostgreSQL, this same database."""

    def close(self): ...


def statements(ddl: str) -> list[str]:
    return [s.strip() for s in ddl.split(";") if s.strip()]
