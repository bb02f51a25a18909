"""Workspaces, and the credentials that act in them.

Three kinds of credential open a session:
- the admin token (`<data dir>/token`, made at first start): every right, acting in the
  workspace `main` unless its Hello names another;
- workspace tokens (`ketch token create --workspace NAME`): a client of that workspace only.
  Only the SHA-256 of a secret is stored (and kept in memory for the per-session check);
- container credentials: one per running container, minted at its launch and dropped when
  it exits, held in memory only. With it the container speaks for itself (its spec, inputs,
  outputs) and acts as a client of its workspace; never as admin.
- node credentials: one per cluster node agent, minted when the server starts the agent and
  dropped when the node goes, held in memory only. It opens only a `node` session, which
  fetches image layers and code bundles by key; it is no client of any workspace.

A secret is found by its SHA-256: a timing difference in that lookup tells an attacker
about hashes of their guesses, not about the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Callable

from ..proto import ketch_pb2 as pb
from .errors import ServiceError

DEFAULT_WORKSPACE = "main"
WORKSPACE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS workspaces (
    name TEXT PRIMARY KEY,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    token_id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
);
"""

NOT_ISOLATED = ("this server runs the `process` runtime, which isolates nothing: every "
                "container could act as any workspace. It serves one workspace, 'main'; "
                "restart the server with `--runtime bwrap` for more")


@dataclass(frozen=True)
class Principal:
    """Who a session's credential speaks for."""

    workspace: str
    admin: bool = False
    token_id: str = ""        # a workspace token
    container_id: str = ""    # a container's own credential
    node_id: str = ""         # a cluster node agent's credential
    digest: str = field(default="", repr=False)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_workspace_name(name: str):
    # It leads its web endpoints' host names, where "--" separates the parts.
    if not WORKSPACE_RE.match(name) or "--" in name or name.endswith("-"):
        raise ValueError(f"workspace name {name!r}: use 1-48 lowercase letters, digits and "
                         "single hyphens, starting and ending with a letter or digit")


class Tokens:
    def __init__(self, db: sqlite3.Connection, admin_token: str, isolated: bool):
        self.db = db
        db.executescript(_SCHEMA)
        self.admin = Principal(DEFAULT_WORKSPACE, admin=True)
        self._admin_token = admin_token
        self.isolated = isolated      # the runtime keeps containers apart
        # digest -> who it speaks for: workspace tokens (from the db) and live containers.
        self._live: dict[str, Principal] = {
            digest: Principal(ws, token_id=tid, digest=digest) for tid, ws, digest in
            db.execute("SELECT token_id, workspace, secret_sha256 FROM tokens")}
        self._containers: dict[str, str] = {}   # container id -> its credential's digest
        self._nodes: dict[str, str] = {}        # node id -> its credential's digest
        # digest -> how to close each open session of that credential
        self._sessions: dict[str, set[Callable[[], None]]] = {}
        self.last_used: dict[str, float] = {}

    # -- sessions

    def authenticate(self, secret: str) -> Principal | None:
        """Who `secret` speaks for, or None for an unknown secret."""
        if hmac.compare_digest(secret.encode(), self._admin_token.encode()):
            return self.admin
        principal = self._live.get(_digest(secret))
        if principal is None:
            return None
        if principal.token_id:
            self.last_used[principal.token_id] = time.time()
        return principal

    def workspace_for(self, principal: Principal, asked: str) -> str:
        """The workspace a session acts in: the credential's, or (admin only) one it names."""
        workspace = asked or principal.workspace
        if workspace != principal.workspace and not principal.admin:
            raise ServiceError(f"this token belongs to workspace {principal.workspace!r}, not "
                               f"{workspace!r}; use a token of {workspace!r}", code="auth")
        if workspace != DEFAULT_WORKSPACE:
            if not self.isolated:
                raise ServiceError(NOT_ISOLATED, code="auth")
            if not self._exists(workspace):
                raise LookupError(f"no workspace {workspace!r}; the admin creates one with "
                                  f"`ketch token create --workspace {workspace}`")
        return workspace

    def valid(self, principal: Principal) -> bool:
        """False once the credential was revoked (or its container exited)."""
        return principal.admin or self._live.get(principal.digest) is principal

    def opened(self, principal: Principal, close: Callable[[], None]):
        """A session of `principal` is open: `close` ends it when the credential ends, so
        one that only waits (for logs, say) does not outlive it."""
        if not principal.admin:
            self._sessions.setdefault(principal.digest, set()).add(close)

    def closed(self, principal: Principal, close: Callable[[], None]):
        sessions = self._sessions.get(principal.digest)
        if sessions is not None:
            sessions.discard(close)
            if not sessions:
                del self._sessions[principal.digest]

    def _ended(self, digest: str):
        self._live.pop(digest, None)
        for close in self._sessions.pop(digest, ()):
            close()

    # -- workspace tokens (admin)

    def create(self, workspace: str, name: str = "") -> tuple[str, str]:
        check_workspace_name(workspace)
        if workspace != DEFAULT_WORKSPACE and not self.isolated:
            raise ServiceError(f"cannot create workspace {workspace!r}: {NOT_ISOLATED}",
                               code="invalid")
        token_id = "tk-" + secrets.token_hex(6)
        secret = "kt-" + secrets.token_urlsafe(24)
        digest = _digest(secret)
        now = time.time()
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("INSERT OR IGNORE INTO workspaces VALUES (?, ?)", (workspace, now))
            self.db.execute("INSERT INTO tokens VALUES (?, ?, ?, ?, ?)",
                            (token_id, workspace, name, digest, now))
        self._live[digest] = Principal(workspace, token_id=token_id, digest=digest)
        return token_id, secret

    def list(self) -> list[pb.TokenInfo]:
        return [pb.TokenInfo(token_id=tid, workspace=ws, name=name, created_at=created,
                             last_used_at=self.last_used.get(tid, 0.0))
                for tid, ws, name, created in self.db.execute(
                    "SELECT token_id, workspace, name, created_at FROM tokens "
                    "ORDER BY created_at")]

    def describe(self, principal: Principal) -> str:
        """Who a credential is, for records people read: "admin", or a token's name (its id
        when it has none)."""
        if principal.admin:
            return "admin"
        row = self.db.execute("SELECT name FROM tokens WHERE token_id = ?",
                              (principal.token_id,)).fetchone()
        name = row[0] if row else ""
        return f"token {name} ({principal.token_id})" if name else f"token {principal.token_id}"

    def revoke(self, token_id: str):
        row = self.db.execute("DELETE FROM tokens WHERE token_id = ? RETURNING secret_sha256",
                              (token_id,)).fetchone()
        if row is None:
            raise LookupError(f"no token {token_id}; `ketch token list` shows them")
        self._ended(row[0])

    def _exists(self, workspace: str) -> bool:
        return self.db.execute("SELECT 1 FROM workspaces WHERE name = ?",
                               (workspace,)).fetchone() is not None

    # -- container credentials

    def mint_container(self, container_id: str, workspace: str) -> str:
        secret = "kc-" + secrets.token_urlsafe(24)
        digest = _digest(secret)
        self._live[digest] = Principal(workspace, container_id=container_id, digest=digest)
        self._containers[container_id] = digest
        return secret

    def drop_container(self, container_id: str):
        digest = self._containers.pop(container_id, None)
        if digest is not None:
            self._ended(digest)

    # -- node credentials

    def mint_node(self, node_id: str) -> str:
        """A node agent's credential (a new one replaces the node's old one)."""
        self.drop_node(node_id)
        secret = "kn-" + secrets.token_urlsafe(24)
        digest = _digest(secret)
        self._live[digest] = Principal("", node_id=node_id, digest=digest)
        self._nodes[node_id] = digest
        return secret

    def drop_node(self, node_id: str):
        digest = self._nodes.pop(node_id, None)
        if digest is not None:
            self._ended(digest)
