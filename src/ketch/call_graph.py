"""Modal's `modal.call_graph`: the types of `FunctionCall.get_call_graph()`."""

from ._call_graph import InputInfo, InputStatus

__all__ = ["InputInfo", "InputStatus"]
