"""Modal's `modal.sandbox`, for ported imports (`from ketch.sandbox import Sandbox`)."""

from ._missing import not_yet
from ._probe import Probe
from ._sandbox import Sandbox

__all__ = ["Probe", "Sandbox"]

__getattr__ = not_yet(__name__, {
    "SandboxSnapshot": "sandbox memory snapshots",
    "SidecarContainer": "sidecar containers",
    "SidecarManager": "sidecar containers",
})
