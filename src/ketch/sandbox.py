"""Modal's `modal.sandbox`: sandboxes are not in ketch yet."""

from ._missing import not_yet

__all__: list[str] = []

_SANDBOXES = "sandboxes; run the code in a function"
__getattr__ = not_yet(__name__, {name: _SANDBOXES for name in (
    "Probe", "Sandbox", "SandboxSnapshot", "SidecarContainer", "SidecarManager")})
