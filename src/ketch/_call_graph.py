"""`FunctionCall.get_call_graph()`'s types, as Modal's: `InputInfo` trees of
`InputStatus`es, built from the flat list of inputs the server sends."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class InputStatus(enum.IntEnum):
    """Where an input is: waiting or running, or how it ended."""

    PENDING = 0
    SUCCESS = 1
    FAILURE = 2
    TERMINATED = 3
    TIMEOUT = 4
    INIT_FAILURE = 5

    @classmethod
    def _missing_(cls, value):
        return cls.PENDING


@dataclass
class InputInfo:
    """One input of a call graph, with the inputs of the calls its code made."""

    input_id: str
    function_call_id: str
    task_id: str           # the container that ran it ("" if none yet)
    status: InputStatus
    function_name: str
    module_name: str
    children: list["InputInfo"] = field(default_factory=list)


def build(inputs) -> list[InputInfo]:
    """Trees from flat `pb.CallGraphInput`s: an input whose parent is not among them (the
    root call's, or one too old to be kept) is at the top."""
    infos = {i.input_id: InputInfo(i.input_id, i.call_id, i.container_id,
                                   InputStatus(i.status), i.function_name, i.module_name)
             for i in inputs}
    roots = []
    for i in inputs:
        parent = infos.get(i.parent_input_id) if i.parent_input_id else None
        (parent.children if parent is not None else roots).append(infos[i.input_id])
    return roots
