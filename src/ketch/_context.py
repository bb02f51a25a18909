"""Where this code runs: on the caller's machine, or inside a ketch container, and which
input it is handling there."""

from __future__ import annotations

import contextlib
import contextvars
import os

current_input: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "ketch_current_input", default=None)


_importing = contextvars.ContextVar("ketch_importing_user_code", default=False)


@contextlib.contextmanager
def importing_user_code():
    """Marks a container's import of the user's module, during which App.run() and
    deploy() are refused (a script's unguarded `with app.run():` would start apps from
    every container)."""
    token = _importing.set(True)
    try:
        yield
    finally:
        _importing.reset(token)


def in_import_context() -> bool:
    return _importing.get()


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
