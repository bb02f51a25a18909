"""Modal's `modal.functions`, for ported imports (`from ketch.functions import
FunctionCall`)."""

from ._functions import Function, FunctionCall
from ._missing import not_yet

__all__ = ["Function", "FunctionCall"]

__getattr__ = not_yet(__name__, {
    "FunctionAutoscalerManager": "changing a function's autoscaler at run time; set "
                                 "min_containers= and friends on @app.function",
})
