"""A snapshot layer made on a cluster node, as the server takes it (server/sandboxes/
on_node.py): the node is not trusted. Here the node's agent is a hostile one speaking
the agent's Ray call shape (`agent.method.remote(*args).future()`); the server checks
size, every chunk and the hash itself, refuses a tar that reaches outside the layer, keeps
an honest layer under the hash it computed, and names the node when it is lost mid-call.
(The real agent on a real Ray cluster: tests/test_cluster_sandbox.py.)"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import io
import tarfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from ketch.server.cluster.nodes import ClusterResources, NodeRecord
from ketch.server.errors import ServiceError
from ketch.server.images.layers import LayerStore
from ketch.server.node_files import pack_layer
from ketch.server.resources import MachineResources
from ketch.server.sandboxes.on_node import OnNode


class _Call:
    """A Ray call: it runs when made (`.remote()`), its reply a future."""

    def __init__(self, fn, args):
        self.fut = concurrent.futures.Future()
        if fn is not None:    # else never done: a node that went silent
            self.fut.set_result(fn(*args))

    def future(self):
        return self.fut


class HostileAgent:
    """Serves `tar` as the staged layer, announcing `claim` (size, sha256) and sending
    what `chunk(data, offset, length)` makes of each read."""

    def __init__(self, tar: bytes, claim: dict | None = None, chunk=None, hang=False):
        self.tar = tar
        self.claim = claim or {"size": len(tar), "sha256": hashlib.sha256(tar).hexdigest()}
        self.chunk = chunk or (lambda data, offset, length: data[offset:offset + length])
        self.hang = hang
        self.dropped = []

    def __getattr__(self, name):
        method = {"sandbox_layer": lambda *a: {"ok": {"id": "s1", **self.claim}},
                  "sandbox_read": lambda _id, off, n: self.chunk(self.tar, off, n),
                  "sandbox_drop": self.dropped.append}[name]
        return SimpleNamespace(remote=lambda *args: _Call(
            None if self.hang else method, args))


def _tar(tmp_path: Path, *members: tuple[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _take(tmp_path: Path, agent: HostileAgent, node_state: str = "alive"):
    nodes = ClusterResources()
    node = NodeRecord("n" * 56, "10.0.0.9", MachineResources(1, 1024, []), agent=agent)
    nodes.nodes[node.node_id] = node
    store = LayerStore(tmp_path / "images")
    sb = SimpleNamespace(id="sb-test", handle=SimpleNamespace(node_id=node.node_id))

    async def go():
        if node_state != "alive":   # declared lost while the call is pending
            asyncio.get_running_loop().call_later(0.2, setattr, node, "state", node_state)
        return await OnNode(nodes, store).new_layer("snapshot_directory('/w')", sb,
                                                    "directory", "/w", "t")
    return store, asyncio.run(go())


def test_an_honest_layer_is_kept_under_the_hash_the_server_computed(tmp_path):
    fs = tmp_path / "fs"
    (fs / "sub").mkdir(parents=True)
    (fs / "sub" / "a.txt").write_text("one")
    pack_layer(fs, tmp_path / "l.tar", tmp_path / "l.sha256", "")
    tar = (tmp_path / "l.tar").read_bytes()
    agent = HostileAgent(tar)
    store, key = _take(tmp_path, agent)
    assert key == hashlib.sha256(tar).hexdigest() and store.has(key)
    assert (store.path(key) / "sub" / "a.txt").read_text() == "one"
    assert agent.dropped == ["s1"]                 # the node's staged copy is let go


@pytest.mark.parametrize("agent, says", [
    (lambda tar: HostileAgent(tar, {"size": len(tar), "sha256": "0" * 64}), "hashes to"),
    (lambda tar: HostileAgent(tar, {"size": 1 << 40, "sha256": "0" * 64}), "at most"),
    (lambda tar: HostileAgent(tar, {"size": -5, "sha256": "0" * 64}), "at most"),
    (lambda tar: HostileAgent(tar, chunk=lambda d, o, n: d[o:o + n] + b"x"), "not"),
    (lambda tar: HostileAgent(tar, chunk=lambda d, o, n: {"ok": "no"}), "sent"),
])
def test_what_a_node_claims_is_checked(tmp_path, agent, says):
    with pytest.raises(ServiceError, match=says):
        _take(tmp_path, agent(_tar(tmp_path, ("a", b"fine"))))


def test_a_layer_reaching_outside_is_refused(tmp_path):
    with pytest.raises(ServiceError, match="refused: .*outside"):
        _take(tmp_path, HostileAgent(_tar(tmp_path, ("../../escape", b"x"))))
    assert not (tmp_path / "escape").exists()


def test_a_node_lost_mid_call_is_named_at_once(tmp_path):
    start = time.monotonic()
    with pytest.raises(ServiceError, match=r"node nnnnnnnnnnnn \(10\.0\.0\.9\) was lost"):
        _take(tmp_path, HostileAgent(b"", hang=True), node_state="dead")
    assert time.monotonic() - start < 5
