"""The placement rule on its own (no server): requests land only where they fit, spread
over the least loaded nodes, prefer a node that holds the image, and never oversubscribe;
a request no node can hold says why."""

from __future__ import annotations

from ketch.proto import ketch_pb2 as pb
from ketch.server.cluster.nodes import ClusterResources, NodeRecord
from ketch.server.resources import MachineResources


def cluster(*nodes: tuple[str, float, int, list[str]]) -> ClusterResources:
    c = ClusterResources()
    for node_id, cpu, memory, gpus in nodes:
        c.nodes[node_id] = NodeRecord(node_id, f"10.0.0.{len(c.nodes) + 1}",
                                      MachineResources(cpu, memory, gpus))
    return c


def req(cpu=0.125, memory=128, gpu="") -> pb.Resources:
    return pb.Resources(cpu_request=cpu, memory_request_mib=memory, gpu=gpu)


def test_spreads_then_never_oversubscribes():
    c = cluster(("a", 2, 4096, []), ("b", 2, 4096, []))
    placed = [c.reserve(req(cpu=1)) for _ in range(5)]
    assert [r.node_id for r in placed[:4]].count("a") == 2   # spread: two on each
    assert placed[4] is None                                # full: waits, not stacked
    assert c.cpu_used == 4 and c.fitting(req(cpu=1), 3) == 0
    c.release(placed[0])
    assert c.reserve(req(cpu=1)).node_id == placed[0].node_id


def test_memory_and_gpu_pick_the_node_that_has_them():
    c = cluster(("small", 4, 1024, []), ("gpu", 1, 8192, ["NVIDIA H100 80GB HBM3"]))
    assert c.reserve(req(memory=4096)).node_id == "gpu"
    r = c.reserve(req(gpu="H100"))
    assert r.node_id == "gpu" and r.gpus == [0]
    assert c.reserve(req(gpu="H100")) is None     # its one GPU is taken
    assert c.unmet(req(gpu="H100")) is None       # but the cluster has one: it waits
    why = c.unmet(req(gpu="A100:2"))
    assert why.startswith("waits for 2× A100") and "no node of the cluster" in why


def test_prefers_a_node_holding_the_image():
    c = cluster(("a", 4, 4096, []), ("b", 4, 4096, []))
    c.nodes["b"].images.add("im-1")
    c.reserve(req(cpu=2), "")                     # b is no longer the emptiest...
    assert c.reserve(req(), "im-1").node_id == "b"  # ...yet holds the image's layers


def test_dead_nodes_hold_nothing_and_no_nodes_say_so():
    c = cluster(("a", 1, 1024, []))
    c.nodes["a"].state = "dead"
    assert c.reserve(req()) is None and c.cpu == 0
    assert "the cluster has no node yet" in c.unmet(req())


class Idle:
    """An idle container as the autoscaler sees it: its reservation."""

    def __init__(self, reservation):
        self.reservation = reservation


def test_room_is_made_on_one_node_by_the_fewest_evictions():
    c = cluster(("a", 1, 4096, []), ("b", 1, 4096, []))

    def hold(node_id: str, cpu: float) -> Idle:
        r = c.nodes[node_id].resources.reserve(req(cpu=cpu))
        r.node_id = node_id
        return Idle(r)

    x = hold("a", 0.5)
    ys = [hold("b", 0.25) for _ in range(3)]
    # 0.75 fits nowhere now (the cluster has 1.25 CPUs free, but no node 0.75): one
    # eviction on a makes room, where b would need two.
    assert c.reserve(req(cpu=0.75)) is None
    assert c.evictions_for(req(cpu=0.75), [*ys, x], []) == [x]
    # With x already stopping, nothing more needs to go.
    assert c.evictions_for(req(cpu=0.75), ys, [x]) == []
