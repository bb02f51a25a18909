"""The Python versions ketch's `Image.debian_slim` offers: each is the Python of a Debian
release that the server's mmdebstrap builds from Debian's own packages (no other download).
Shared by the SDK (to refuse other versions at decoration) and the server's image builder
(to pick the release)."""

from __future__ import annotations

DEBIAN_PYTHONS = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}
# Under Debian 11's Python 3.9.2, protobuf's C module (which ketch's container runtime
# imports) fails to build messages; its pure-Python implementation works there.
SUITE_ENV = {"bullseye": {"PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}}
DEFAULT_DEBIAN_PYTHON = "3.11"   # Debian 12's, the base when a client's own is not offered


def offered() -> str:
    return ", ".join(DEBIAN_PYTHONS)


def unoffered(version: str) -> str:
    """Why debian_slim cannot have `version` ("" when it can)."""
    if version in DEBIAN_PYTHONS:
        return ""
    return (f"debian_slim(python_version={version!r}): ketch builds Debian images with the "
            f"Python of a Debian release, which offers Python {offered()} (3.9: Debian 11, "
            "3.11: Debian 12, 3.13: Debian 13); pick one of them, or use "
            "Image.from_registry with an image that has your Python")
