"""Where this code runs: on the caller's machine, or inside a ketch container, and which
input it is handling there."""

from __future__ import annotations

import contextvars
import os

current_input: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "ketch_current_input", default=None)


def is_local() -> bool:
    """True outside ketch containers, False inside one."""
    return not os.environ.get("KETCH_CONTAINER_ID")


def current_input_id() -> str | None:
    """The id of the input this container is running, or None outside a container."""
    value = current_input.get()
    return value[0] if value else None


def current_function_call_id() -> str | None:
    """The id of the function call this input belongs to, or None outside a container."""
    value = current_input.get()
    return value[1] if value else None
