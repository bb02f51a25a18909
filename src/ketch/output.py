"""Modal's `modal.output`, for ported imports (`from ketch.output import enable_output`)."""

from ._missing import not_yet
from ._output import enable_output

__all__ = ["enable_output"]

__getattr__ = not_yet(__name__, {
    "OutputManager": "Modal's output internals; use ketch.enable_output()",
})
