"""Modal names ketch does not have yet. Each module lists its own with a hint (what the
name is, what to use instead) and takes its module `__getattr__` from here, so a ported
app says what is missing instead of failing with a bare AttributeError.

`from ketch.x import Name` turns an AttributeError into a bare "cannot import name", so an
import gets the same message as an ImportError.
"""

from __future__ import annotations

import dis
import sys

DOCS = "see docs/api.md for what ketch implements"
_IMPORT_FROM = dis.opmap["IMPORT_FROM"]


def not_yet(module: str, missing: dict[str, str]):
    """A module `__getattr__` for `module`, whose Modal names in `missing` say they are
    not in ketch yet (with their hint)."""

    def __getattr__(name: str):
        if name not in missing:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        message = f"{module}.{name} is not in ketch yet ({missing[name]}); {DOCS}"
        if _importing_from():
            raise ImportError(message, name=module)
        raise AttributeError(message)

    return __getattr__


def _importing_from() -> bool:
    """Whether the attribute is looked up by a `from module import name` statement."""
    frame = sys._getframe(2)  # the frame that asked: not __getattr__, not this helper
    code = frame.f_code.co_code
    return 0 <= frame.f_lasti < len(code) and code[frame.f_lasti] == _IMPORT_FROM
