"""Modal's `modal.sandbox`, for ported imports (`from ketch.sandbox import Sandbox`)."""

from ._missing import not_yet
from ._sandbox import Sandbox

__all__ = ["Sandbox"]

__getattr__ = not_yet(__name__, {
    "Probe": "readiness probes; poll with sb.exec(...)",
    "SandboxSnapshot": "sandbox memory snapshots",
    "SidecarContainer": "sidecar containers",
    "SidecarManager": "sidecar containers",
})
