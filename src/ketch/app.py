"""Modal's `modal.app`, for ported imports (`from ketch.app import App`)."""

from ._app import App, LocalEntrypoint
from ._missing import not_yet

__all__ = ["App", "LocalEntrypoint"]

__getattr__ = not_yet(__name__, {
    "AppSandboxesManager": "sandboxes; run the code in a function",
    "check_sequence": "an internal helper of Modal's",
})
