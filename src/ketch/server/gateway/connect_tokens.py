"""Sandbox connect tokens (`Sandbox.create_connect_token`): each opens one port of one
sandbox to HTTP clients through the gateway (sandbox_connect.py).

A token is shown once, to the client that made it; the server keeps only its SHA-256, in
memory, beside the sandbox it opens, the port and the user metadata the gateway sends on.
Tokens end with their sandbox (and with the server: a restarted server knows none). A
sandbox has at most MAX_PER_SANDBOX of them, so a client that loops cannot grow the table
without bound.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

MAX_PER_SANDBOX = 100
MAX_METADATA_BYTES = 8 * 1024   # it travels in a request header: keep it far below the head limit
PREFIX = "ct-"


class Grant:
    """What one token opens: `sandbox` (its record: .id, .done, .touch()), `port`, and the
    metadata sent as X-Verified-User-Data."""

    __slots__ = ("metadata", "port", "sandbox")

    def __init__(self, sandbox, port: int, metadata: str):
        self.sandbox = sandbox
        self.port = port
        self.metadata = metadata


def _digest(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()


def check_metadata(metadata: str) -> str:
    if len(metadata.encode()) > MAX_METADATA_BYTES:
        raise ValueError(f"create_connect_token: user_metadata is over {MAX_METADATA_BYTES} "
                         "bytes; it travels in a request header, so keep it small (an id, "
                         "not the data)")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in metadata):
        raise ValueError("create_connect_token: user_metadata has a control character (a "
                         "newline?); a header value cannot hold one. Pass a dict (sent as "
                         "one-line JSON) or a one-line string")
    return metadata


class ConnectTokens:
    def __init__(self):
        self.grants: dict[str, Grant] = {}            # token digest -> what it opens
        self.by_sandbox: dict[str, set[str]] = {}     # sandbox id -> its tokens' digests

    def mint(self, sandbox, port: int, metadata: str) -> str:
        if not 1 <= port <= 65535:
            raise ValueError(f"create_connect_token: port {port}: give a port number from "
                             "1 to 65535")
        check_metadata(metadata)
        digests = self.by_sandbox.setdefault(sandbox.id, set())
        if len(digests) >= MAX_PER_SANDBOX:
            raise ValueError(f"create_connect_token: sandbox {sandbox.id} has "
                             f"{MAX_PER_SANDBOX} connect tokens already; reuse one (a token "
                             "serves any number of requests while the sandbox runs)")
        token = PREFIX + secrets.token_urlsafe(32)
        digest = _digest(token.encode())
        self.grants[digest] = Grant(sandbox, port, metadata)
        digests.add(digest)
        return token

    def check(self, token: bytes | None, sandbox_id: str) -> Grant | str:
        """The grant `token` gives for sandbox `sandbox_id`, or why it gives none."""
        if not token:
            return ("no connect token: send `Authorization: Bearer <token>`, the "
                    "_modal_connect_token query parameter or its cookie, with a token "
                    "from sb.create_connect_token()")
        grant = self.grants.get(_digest(token))
        # The digest found the grant; comparing ids in constant time keeps which sandbox a
        # near-miss token belongs to out of the timing.
        if grant is None or not hmac.compare_digest(grant.sandbox.id, sandbox_id):
            return "invalid connect token for this sandbox"
        if grant.sandbox.done:
            self.revoke_sandbox(grant.sandbox.id)
            return "this connect token's sandbox has ended"
        return grant

    def revoke_sandbox(self, sandbox_id: str):
        """Its sandbox ended: its tokens open nothing any more."""
        for digest in self.by_sandbox.pop(sandbox_id, ()):
            self.grants.pop(digest, None)
