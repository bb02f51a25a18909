"""Dashboard logins: one-time codes, and the browser sessions they become.

`ketch dashboard --url` asks the server, over the client's authenticated connection, for
a code (`create_code`); the browser that opens the URL trades it, once, for a session
(`redeem`), whose secret travels only in an HttpOnly, SameSite=Strict cookie. A session
acts in the workspace of the credential that asked for the code, and lives no longer than
that credential (the pages check `Tokens.valid` on every request). Codes and sessions are
held in memory only: a restarted server asks for a new login.

Only SHA-256 digests of codes and session secrets are kept, as for tokens, so a look at
this process's memory or a timing difference in the lookup tells nothing usable.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from ..tokens import Principal

CODE_TTL_S = 60.0               # a code is typed or clicked right after it is printed
SESSION_IDLE_S = 12 * 3600.0    # a session unused this long ends
SESSION_MAX_S = 7 * 86400.0     # and none outlives a week, used or not
MAX_CODES = 64                  # outstanding codes; the oldest go first
MAX_SESSIONS = 256              # open sessions; the least recently used go first
_SECRET_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
MAX_SECRET_LEN = 64             # longer input is refused before it is hashed


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def well_formed(secret: str | None) -> bool:
    """A code or session secret as this module makes them: short, URL-safe base64."""
    return bool(secret) and len(secret) <= MAX_SECRET_LEN and set(secret) <= _SECRET_CHARS


@dataclass
class DashboardSession:
    workspace: str
    principal: Principal = field(repr=False)
    csrf: str = field(repr=False)   # sent back by every state-changing form
    created_at: float = 0.0
    seen_at: float = 0.0


@dataclass
class _Code:
    workspace: str
    principal: Principal = field(repr=False)
    expires_at: float = 0.0
    path: str = "/"          # where the browser lands once logged in


class Logins:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._codes: OrderedDict[str, _Code] = OrderedDict()
        self._sessions: OrderedDict[str, DashboardSession] = OrderedDict()

    def create_code(self, workspace: str, principal: Principal, path: str = "/"
                    ) -> tuple[str, float]:
        """A new one-time code for `workspace` that lands on `path` (checked by the
        caller), and how many seconds it stays valid."""
        self._drop_expired_codes()
        while len(self._codes) >= MAX_CODES:
            self._codes.popitem(last=False)
        code = secrets.token_urlsafe(24)
        self._codes[_digest(code)] = _Code(workspace, principal, self._clock() + CODE_TTL_S,
                                           path)
        return code, CODE_TTL_S

    def redeem(self, code: str | None) -> tuple[str, DashboardSession, str] | None:
        """Trades a code for a new session: its secret (for the cookie), the session, and
        the path to land on. None when the code is unknown, used already or expired."""
        if not well_formed(code):
            return None
        entry = self._codes.pop(_digest(code), None)
        now = self._clock()
        if entry is None or entry.expires_at < now:
            return None
        while len(self._sessions) >= MAX_SESSIONS:
            self._sessions.popitem(last=False)
        secret = secrets.token_urlsafe(32)
        session = DashboardSession(entry.workspace, entry.principal,
                                   secrets.token_urlsafe(24), now, now)
        self._sessions[_digest(secret)] = session
        return secret, session, entry.path

    def session(self, secret: str | None) -> DashboardSession | None:
        """The live session a cookie names (and it counts as used now), or None."""
        if not well_formed(secret):
            return None
        key = _digest(secret)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self._clock()
        if now - session.seen_at > SESSION_IDLE_S or now - session.created_at > SESSION_MAX_S:
            del self._sessions[key]
            return None
        session.seen_at = now
        self._sessions.move_to_end(key)
        return session

    def end(self, secret: str | None):
        if well_formed(secret):
            self._sessions.pop(_digest(secret), None)

    def _drop_expired_codes(self):
        now = self._clock()
        for key in [k for k, c in self._codes.items() if c.expires_at < now]:
            del self._codes[key]
