"""Proxy-auth tokens: what callers of `requires_proxy_auth=True` endpoints present.

A token is an id (`wk-…`, sent as the `Modal-Key` header) and a secret (`ws-…`, sent as
`Modal-Secret`), as in Modal. Each belongs to one workspace and opens only that
workspace's endpoints. The secret is shown once, at creation; only its SHA-256 is kept, in
the server's database (with SQLite, a small file of its own in the data directory:
`proxy-tokens.db`), and in memory for the gateway's
per-request check.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from ...proto import ketch_pb2 as pb
from ..db import Database, migrate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS proxy_tokens (
    token_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at REAL NOT NULL,
    workspace TEXT NOT NULL DEFAULT 'main'
);
"""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _create(db: Database):
    db.script(_SCHEMA)
    # Files made before workspaces: every token was the default workspace's.
    if "workspace" not in db.columns("proxy_tokens"):
        db.execute("ALTER TABLE proxy_tokens ADD COLUMN workspace TEXT NOT NULL "
                   "DEFAULT 'main'")


class ProxyTokens:
    def __init__(self, db: Database):
        self.db = db
        migrate(db, "proxy_tokens", [_create])
        # token id -> (secret digest, workspace)
        self.digests = {tid: (digest, ws) for tid, digest, ws in self.db.execute(
            "SELECT token_id, secret_sha256, workspace FROM proxy_tokens")}
        self.last_used: dict[str, float] = {}

    def create(self, workspace: str, name: str) -> tuple[str, str]:
        token_id = "wk-" + secrets.token_urlsafe(12)
        secret = "ws-" + secrets.token_urlsafe(24)
        self.db.execute("INSERT INTO proxy_tokens (token_id, name, secret_sha256, created_at, "
                        "workspace) VALUES (?, ?, ?, ?, ?)",
                        (token_id, name, _digest(secret), time.time(), workspace))
        self.digests[token_id] = (_digest(secret), workspace)
        return token_id, secret

    def revoke(self, workspace: str, token_id: str):
        if self.digests.get(token_id, (None, None))[1] != workspace:
            raise LookupError(f"no proxy-auth token {token_id}; `ketch proxy-auth list` "
                              "shows them")
        del self.digests[token_id]
        self.db.execute("DELETE FROM proxy_tokens WHERE token_id = ?", (token_id,))

    def list(self, workspace: str) -> list[pb.ProxyTokenInfo]:
        return [pb.ProxyTokenInfo(token_id=tid, name=name, created_at=created,
                                  last_used_at=self.last_used.get(tid, 0.0))
                for tid, name, created in self.db.execute(
                    "SELECT token_id, name, created_at FROM proxy_tokens WHERE workspace = ? "
                    "ORDER BY created_at", (workspace,))]

    def check(self, key: bytes | None, secret: bytes | None, workspace: str) -> str | None:
        """None when the headers carry a valid token of the endpoint's workspace, else why
        not (for the 401 body)."""
        if not key or not secret:
            return "missing credentials for proxy authorization"
        digest, owner = self.digests.get(key.decode("latin-1"), (None, None))
        if digest is None or owner != workspace or not hmac.compare_digest(
                digest, hashlib.sha256(secret).hexdigest()):
            return "invalid credentials for proxy authorization"
        self.last_used[key.decode("latin-1")] = time.time()
        return None
