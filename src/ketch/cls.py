"""Modal's `modal.cls`, for ported imports (`from ketch.cls import Cls, parameter`)."""

from ._cls import Cls
from ._cls import ClsInstance as Obj
from ._partial import _Parameter, parameter

__all__ = ["Cls", "Obj", "is_parameter", "parameter"]


def is_parameter(p) -> bool:
    """Whether `p` is a class attribute made by `ketch.parameter()`."""
    return isinstance(p, _Parameter)
