"""Issue 11 items 5-7 on the real Ray cluster (tests/cluster_fixtures.py): layers and code
pulled once per node by its agent, a volume committed on one node and reloaded on
another, and a web request and a WebSocket served from a worker node through its relay."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

TIMEOUT = 120


@pytest.fixture(scope="module")
def xfer(cluster_server):
    out = cluster_server.ketch("deploy", "apps/cluster_xfer_app.py", timeout=TIMEOUT)
    assert out.returncode == 0, out.stdout + out.stderr
    return cluster_server


def _run(srv, code: str) -> str:
    out = srv.python("import ketch, json\n" + code, timeout=TIMEOUT)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout.strip()


def _ids(srv) -> dict[str, str]:
    listed = json.loads(srv.ketch("node", "list", "--json").stdout)
    return {n["address"]: n["id"] for n in listed["nodes"]}


def test_a_volume_committed_on_one_node_is_reloaded_on_another(xfer):
    w2 = _ids(xfer)[xfer.cluster.nodes[2].ip]
    assert _run(xfer, "print(ketch.Function.from_name('xfer', 'write_on_w2')"
                      ".remote('from w2'))") == w2
    seen = json.loads(_run(xfer, "print(json.dumps(list(ketch.Function.from_name("
                                 "'xfer', 'read_shared').map(range(4)))))"))
    assert all(text == "from w2" for _, text in seen), seen


def test_web_and_websocket_from_a_worker_node(xfer):
    w2 = _ids(xfer)[xfer.cluster.nodes[2].ip]
    url = f"http://127.0.0.1:{xfer.gateway_port}/xfer--edge"
    answer = httpx.get(url + "/", timeout=TIMEOUT)
    assert answer.status_code == 200 and answer.text == w2, answer.text

    async def talk():
        async with websockets.connect(url.replace("http://", "ws://") + "/ws",
                                      open_timeout=TIMEOUT) as ws:
            await ws.send("hi")
            return await ws.recv()

    assert asyncio.run(talk()) == "echo: hi"


def test_each_node_pulled_each_layer_and_bundle_once(xfer):
    # The nodes ketch holds alive (a node killed by an earlier test may still be "alive"
    # to Ray for its ~15 s of health checks, its agent unreachable).
    listed = json.loads(xfer.ketch("node", "list", "--json").stdout)["nodes"]
    alive = [n["id"] for n in listed if n["state"] == "alive"]
    stats = json.loads(_run(xfer, f"""
import ray
ray.init(address="{xfer.cluster.head_ip}:{xfer.cluster.port}", namespace="ketch",
         log_to_driver=False)
out = {{}}
for node_id in {alive!r}:
    agent = ray.get_actor("agent-" + node_id)
    out[node_id] = ray.get(agent.transfer_stats.remote())
print(json.dumps(out))"""))
    pulled = [s for s in stats.values() if s]
    assert pulled, stats                              # nodes pulled code (and layers)
    assert all(n == 1 for s in pulled for n in s.values()), stats
