"""The Python versions ketch's images offer, all from Debian's own packages (no other
download): `Image.debian_slim` builds a Debian release whose own Python it is, and
`add_python` (also debian_slim's other versions) adds a release's Python, relocated with
its own C library, on top of any base. Shared by the SDK (to refuse other versions at
decoration) and the server's image builder (to pick the release)."""

from __future__ import annotations

# The releases whose own python3 a debian_slim base is.
DEBIAN_PYTHONS = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}
# Every version add_python can add, and the suite its packages come from (Debian 14,
# "forky", carries 3.14 and 3.15 beside each other).
ADDED_PYTHONS = {**DEBIAN_PYTHONS, "3.14": "forky", "3.15": "forky"}
# Under Debian 11's Python 3.9.2, protobuf's C module (which ketch's container runtime
# imports) fails to build messages; its pure-Python implementation works there.
SUITE_ENV = {"bullseye": {"PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}}
DEFAULT_DEBIAN_PYTHON = "3.11"   # Debian 12's, the base when a client's own is not offered


def offered() -> str:
    return ", ".join(ADDED_PYTHONS)


def unoffered(version: str) -> str:
    """Why debian_slim cannot have `version` ("" when it can)."""
    if version in ADDED_PYTHONS:
        return ""
    return (f"debian_slim(python_version={version!r}): ketch's images take their Python "
            f"from Debian's packages, which offer Python {offered()} (3.9: Debian 11, "
            "3.11: Debian 12, 3.13: Debian 13, 3.14 and 3.15: Debian 14); pick one of them, "
            "or use Image.from_registry with an image that has your Python")


def unoffered_addition(version) -> str:
    """Why add_python cannot add `version` ("" when it can)."""
    if isinstance(version, str) and version in ADDED_PYTHONS:
        return ""
    if isinstance(version, str) and version.count(".") > 1:
        return (f"add_python={version!r}: give a minor version like '3.11' (Debian's "
                "packages decide the patch release)")
    return (f"add_python={version!r}: ketch adds Python {offered()}, relocated from "
            "Debian's packages; pick one of them")
