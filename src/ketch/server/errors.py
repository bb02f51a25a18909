"""Errors that services raise for the caller to see; the api turns each into an error reply."""

from __future__ import annotations


class ServiceError(Exception):
    """Refused with a reason the caller can act on; `code` is the error reply's code."""

    code = "invalid"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
