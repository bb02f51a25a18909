"""Sandboxes: containers with no function, created by a client and driven from outside
(exec with streamed stdin/stdout/stderr, files), living until their entrypoint ends, they
time out or are terminated. They start through the same runtime and launch path as
function containers, so they get the same isolation (docs/security.md)."""

from .service import SandboxService

__all__ = ["SandboxService"]
