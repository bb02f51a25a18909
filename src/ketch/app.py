"""Modal's `modal.app`, for ported imports (`from ketch.app import App`)."""

from ._app import App, LocalEntrypoint
from ._missing import not_yet

__all__ = ["App", "LocalEntrypoint"]

__getattr__ = not_yet(__name__, {
    "AppSandboxesManager": "app.sandboxes; use ketch.Sandbox.list(app_id=app.app_id)",
    "check_sequence": "an internal helper of Modal's",
})
