"""Which input made which call: the record behind `FunctionCall.get_call_graph()`.

A call made by code running in a container carries that input's id (its parent). The
record is in memory and bounded, best effort as Modal's: the newest calls are kept (the
oldest go first, up to a bound on calls and on inputs), and each call keeps its first
inputs only. Links never cross workspaces:
a parent named from another workspace is ignored.
"""

from __future__ import annotations

import collections

from ...proto import ketch_pb2 as pb

MAX_CALLS = 10_000
MAX_INPUTS = 100_000          # over all calls kept
MAX_INPUTS_PER_CALL = 1_000
MAX_ID_LEN = 64

# ketch's output status → Modal's InputStatus (ketch.call_graph.InputStatus).
PENDING, SUCCESS, FAILURE, TERMINATED, TIMEOUT = 0, 1, 2, 3, 4
_STATUS = {pb.SUCCESS: SUCCESS, pb.FAILURE: FAILURE, pb.CRASHED: FAILURE,
           pb.INTERNAL_ERROR: FAILURE, pb.TIMEOUT: TIMEOUT, pb.CANCELLED: TERMINATED}


class _Call:
    __slots__ = ("id", "workspace", "function_name", "module_name", "parent_input_id",
                 "inputs")

    def __init__(self, call_id, workspace, function_name, module_name, parent_input_id):
        self.id = call_id
        self.workspace = workspace
        self.function_name = function_name
        self.module_name = module_name
        self.parent_input_id = parent_input_id
        self.inputs: dict[str, list] = {}   # input id → [container id, status, method]


class CallGraph:
    def __init__(self):
        self._calls: collections.OrderedDict[str, _Call] = collections.OrderedDict()
        self._input_call: dict[str, str] = {}               # input id → call id
        self._children: dict[str, list[str]] = {}           # input id → call ids it made
        self._n_inputs = 0

    def called(self, call_id: str, workspace: str, spec: pb.FunctionSpec,
               parent_input_id: str):
        parent = parent_input_id[:MAX_ID_LEN]
        parent_call = self._calls.get(self._input_call.get(parent, ""))
        if parent_call is None or parent_call.workspace != workspace:
            parent = ""
        self._calls[call_id] = _Call(call_id, workspace, spec.name, spec.module, parent)
        if parent:
            self._children.setdefault(parent, []).append(call_id)
        while len(self._calls) > MAX_CALLS:
            self._evict(next(iter(self._calls)))

    def queued(self, call_id: str, input_id: str, method: str):
        call = self._calls.get(call_id)
        if call is not None and len(call.inputs) < MAX_INPUTS_PER_CALL:
            call.inputs[input_id] = ["", PENDING, method]
            self._input_call[input_id] = call_id
            self._n_inputs += 1
            while self._n_inputs > MAX_INPUTS and len(self._calls) > 1:
                self._evict(next(iter(self._calls)))

    def running(self, call_id: str, input_id: str, container_id: str):
        call = self._calls.get(call_id)
        entry = call.inputs.get(input_id) if call is not None else None
        if entry is not None:
            entry[0] = container_id

    def ended(self, out: pb.Output):
        call = self._calls.get(out.call_id)
        entry = call.inputs.get(out.input_id) if call is not None else None
        if entry is not None and out.status in _STATUS:
            entry[1] = _STATUS[out.status]

    def graph(self, workspace: str, call_id: str) -> list[pb.CallGraphInput]:
        """Every input of the tree this call is in, from its root call down."""
        call = self._calls.get(call_id)
        if call is None or call.workspace != workspace:
            raise LookupError(f"no call graph for {call_id}: it is not a call of this "
                              "workspace, or too old (the server keeps the newest "
                              f"{MAX_CALLS} calls' graphs, and none across a restart)")
        seen = {call.id}
        while call.parent_input_id:
            parent = self._calls.get(self._input_call.get(call.parent_input_id, ""))
            if parent is None or parent.id in seen:
                break
            seen.add(parent.id)
            call = parent
        out, todo, done = [], [call.id], set()
        while todo:
            current = self._calls.get(todo.pop())
            if current is None or current.id in done:
                continue
            done.add(current.id)
            for input_id, (container_id, status, method) in current.inputs.items():
                name = f"{current.function_name}.{method}" if method else \
                    current.function_name
                out.append(pb.CallGraphInput(
                    input_id=input_id, call_id=current.id, container_id=container_id,
                    status=status, function_name=name, module_name=current.module_name,
                    parent_input_id=current.parent_input_id))
                todo.extend(self._children.get(input_id, ()))
        return out

    def _evict(self, call_id: str):
        call = self._calls.pop(call_id)
        self._n_inputs -= len(call.inputs)
        for input_id in call.inputs:
            self._input_call.pop(input_id, None)
            self._children.pop(input_id, None)
        if call.parent_input_id in self._children:
            kids = self._children[call.parent_input_id]
            if call_id in kids:
                kids.remove(call_id)
