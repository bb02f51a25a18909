"""Modal's `modal.call_graph`: FunctionCall.get_call_graph() and its types are not in
ketch yet."""

from ._missing import not_yet

__all__: list[str] = []

__getattr__ = not_yet(__name__, {
    "InputInfo": "call graphs; FunctionCall.get() gives a call's result",
    "InputStatus": "call graphs; FunctionCall.get() gives a call's result",
})
