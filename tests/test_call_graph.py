"""FunctionCall.get_call_graph(): which input made which call, recorded by the server
from the parent input id a call made inside a container carries."""

from __future__ import annotations

import pytest

import ketch
from ketch.call_graph import InputInfo, InputStatus
from ketch.exception import NotFoundError


@pytest.fixture(scope="module")
def graph_app(server):
    from apps import graph

    with graph.app.run():
        yield graph


def shape(info: InputInfo):
    return (info.function_name, info.status.name,
            sorted(shape(child) for child in info.children))


def test_the_tree_of_calls_a_call_made(graph_app):
    call = graph_app.top.spawn()
    assert call.get(timeout=60) == 1       # middle(2) = 0 + 1, middle(1) = 0, twice
    [root] = call.get_call_graph()
    leaf0, leaf1 = ("leaf", "SUCCESS", []), ("leaf", "SUCCESS", [])
    assert shape(root) == ("top", "SUCCESS", sorted([
        ("middle", "SUCCESS", [leaf0, leaf1]),
        ("middle", "SUCCESS", [("leaf", "SUCCESS", [])]),
        ("middle", "SUCCESS", [("leaf", "SUCCESS", [])])]))
    assert root.function_call_id == call.object_id and root.task_id.startswith("ta-")
    assert root.module_name == "apps.graph"
    # A child's call knows the same tree: it is found from its root.
    child = root.children[0]
    again = ketch.FunctionCall.from_id(child.function_call_id).get_call_graph()
    assert [shape(r) for r in again] == [shape(root)]


def test_a_failed_input_and_an_unknown_call(graph_app):
    call = graph_app.fails.spawn()
    with pytest.raises(ValueError):
        call.get(timeout=60)
    [info] = call.get_call_graph()
    assert info.status is InputStatus.FAILURE and info.children == []
    with pytest.raises(NotFoundError, match="no call graph"):
        ketch.FunctionCall.from_id("fc-0000000000000000").get_call_graph()


def test_a_forged_parent_from_another_workspace_is_ignored():
    from ketch.proto import ketch_pb2 as pb
    from ketch.server.functions.call_graph import CallGraph

    g = CallGraph()
    spec = pb.FunctionSpec(name="f", module="m")
    g.called("fc-a", "alice", spec, "")
    g.queued("fc-a", "in-1", "")
    g.called("fc-b", "mallory", spec, "in-1")    # names alice's input as its parent
    g.queued("fc-b", "in-2", "")
    assert [i.input_id for i in g.graph("alice", "fc-a")] == ["in-1"]
    assert [(i.input_id, i.parent_input_id) for i in g.graph("mallory", "fc-b")] == \
        [("in-2", "")]
    with pytest.raises(LookupError):
        g.graph("mallory", "fc-a")
