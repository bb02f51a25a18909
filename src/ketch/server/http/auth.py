"""Bearer tokens on the HTTP side: the same credentials as the wire protocol's Hello.

`Authorization: Bearer <token>` with the admin token or a workspace token (Prometheus's
`authorization` scrape setting sends exactly this). Containers' own credentials are not
accepted here: code in a container has no business scraping the server.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from ..tokens import Principal, Tokens

if TYPE_CHECKING:
    from starlette.requests import Request

# Longer than any token ketch makes: a huge header is refused before it is hashed.
MAX_TOKEN_CHARS = 512


def bearer_principal(request: Request, tokens: Tokens) -> Principal | None:
    """Who the request's bearer token speaks for, or None (no token, a malformed header, an
    unknown or revoked token, or a container's credential)."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if not hmac.compare_digest(scheme.lower().encode(), b"bearer") or not secret \
            or len(secret) > MAX_TOKEN_CHARS:
        return None
    principal = tokens.authenticate(secret)
    if principal is None or principal.container_id or not tokens.valid(principal):
        return None
    return principal
