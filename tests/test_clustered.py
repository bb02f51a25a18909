"""@ketch.clustered (issue 11 item 10): a gang of two on the session's Ray cluster
(tests/cluster_fixtures.py), whose ranks talk over TCP at the addresses get_cluster_info()
gives (the nodes' own 10.77.x addresses, in their network namespaces); and the errors a
bad decoration gets at once."""

from __future__ import annotations

import json

import pytest

import ketch
from ketch.exception import InvalidError

pytestmark = pytest.mark.timeout(300)


def test_gang_of_two_exchanges_a_message_by_rank(cluster_server):
    out = cluster_server.ketch("deploy", "apps/clustered_app.py", timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    run = cluster_server.python(
        "import ketch, json\n"
        "f = ketch.Function.from_name('clustered', 'exchange')\n"
        "print(json.dumps([f.remote(29517), f.remote(29518)]))", timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    first, second = json.loads(run.stdout.strip().splitlines()[-1])
    nodes = {n["id"]: n["address"] for n in json.loads(
        cluster_server.ketch("node", "list", "--json").stdout)["nodes"]}
    for result in (first, second):      # rank 0's output, carrying what rank 1 sent it
        peer = result["peer"]
        assert (result["rank"], peer["rank"]) == (0, 1), result
        assert result["cluster_id"] == peer["cluster_id"]
        assert result["ips"] == peer["ips"] == [nodes[result["node"]], nodes[peer["node"]]]
        assert result["node"] != peer["node"], result      # spread: one rank per node
        assert all(ip.startswith("10.77.") or ip == nodes[result["node"]]
                   for ip in result["ips"])
    assert second["cluster_id"] == first["cluster_id"]     # the same gang, kept warm
    assert f"gang {first['cluster_id']} of exchange: Ray placement group (SPREAD)" in \
        cluster_server.log()
    # One rank stopped ends the whole gang; the next input gets a new gang.
    rows = json.loads(cluster_server.ketch("container", "list", "--json").stdout)
    ranks = [r for r in rows if r["function"] == "exchange"]
    assert len(ranks) == 2, rows
    # From outside the gang, Cluster.from_id asks the server for it (its IPs: members only)
    seen = json.loads(_run(cluster_server, f"""
c = ketch.Cluster.from_id({first['cluster_id']!r})
out = [c.object_id, c.container_ids(), c.container_rank({second['peer']['container']!r})]
for call in (c.container_ips, c.container_rank, lambda: ketch.Cluster.from_id("cl-nope")):
    try:
        call()
    except Exception as exc:
        out.append(type(exc).__name__ + ": " + str(exc))
print(json.dumps(out))"""))
    assert seen[:3] == [first["cluster_id"], [second["container"],
                                              second["peer"]["container"]], 1], seen
    assert seen[3].startswith("InvalidError") and "container of cluster" in seen[3], seen
    assert seen[4].startswith("InvalidError"), seen
    assert seen[5].startswith("NotFoundError") and "no running cluster 'cl-nope'" in seen[5]
    cluster_server.ketch("container", "stop", ranks[1]["container_id"])
    run = cluster_server.python(
        "import ketch\nprint(ketch.Function.from_name('clustered', 'exchange').remote(29519)"
        "['cluster_id'])", timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() not in ("", first["cluster_id"])
    logs = cluster_server.ketch("app", "logs", "clustered").stdout
    assert "another container of its gang stopped" in logs, logs
    print(f"gang on {first['node'][:12]} ({first['ips'][0]}) and "
          f"{first['peer']['node'][:12]} ({first['ips'][1]})")


def _run(srv, code: str) -> str:
    out = srv.python("import ketch, json\n" + code, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_gang_on_one_machine_without_ray(server):
    """Without --ray the gang is N containers on this machine, every rank at 127.0.0.1."""
    out = server.ketch("deploy", "apps/clustered_app.py", timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    run = server.python("import ketch, json\nprint(json.dumps(ketch.Function.from_name("
                        "'clustered', 'exchange').remote(29527)))", timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert (result["rank"], result["peer"]["rank"]) == (0, 1), result
    assert result["ips"] == ["127.0.0.1", "127.0.0.1"]
    assert result["peer"]["cluster_id"] == result["cluster_id"]
    # ketch.Cluster.from_context() agrees, and lists the ranks' containers in rank order
    assert result["same"] and result["peer"]["same"], result
    assert result["containers"] == [result["container"], result["peer"]["container"]]
    server.ketch("app", "stop", "clustered")


def test_gang_bigger_than_the_machine_fails_clearly(server):
    """A gang that can never fit waits as a too-big request does: a warning at deploy,
    then each call fails past the startup timeout with what is missing."""
    code = """
import ketch
app = ketch.App('gang-too-big')

@app.function(cpu=2, startup_timeout=1)   # 64 CPUs at once: more than here
@ketch.clustered(size=32)
def f():
    return 1

with app.run():
    try:
        f.remote()
    except Exception as exc:
        print(type(exc).__name__, exc)
"""
    run = server.python(code, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ResourceError" in run.stdout and "waits for a gang of 32: only" in run.stdout, \
        run.stdout + run.stderr


@pytest.mark.parametrize("kwargs, says", [
    ({"size": 0}, "size=0: give an int from 1 to 32"),
    ({"size": "2"}, "size='2': give an int from 1 to 32"),
    ({"size": 2, "rdma": True}, "no RDMA"),
    ({"size": 2, "broadcast": False}, "every input runs on every container"),
])
def test_bad_cluster_size_or_option_is_refused(kwargs, says):
    with pytest.raises(InvalidError, match=says):
        ketch.clustered(**kwargs)


def test_clustered_cannot_combine_with_concurrent_or_split_min_containers():
    app = ketch.App("clustered-bad")

    def work():
        return 0

    def other():
        return 0

    with pytest.raises(InvalidError, match="cannot be combined with @ketch.concurrent"):
        app.function()(ketch.clustered(size=2)(ketch.concurrent(max_inputs=2)(work)))
    with pytest.raises(InvalidError, match="min_containers=3 must be a multiple of"):
        app.function(min_containers=3)(ketch.clustered(size=2)(other))


def test_cluster_info_outside_a_gang_says_where_it_works():
    with pytest.raises(InvalidError, match=r"inside a container of a function decorated"):
        ketch.experimental.get_cluster_info()


def test_modal_older_experimental_clustered_takes_size_positionally():
    def work():
        return 0

    assert ketch.experimental.clustered(2)(work) is work
    with pytest.raises(InvalidError, match="fabric_size"):
        ketch.experimental.clustered(2, fabric_size=4)


def test_clustered_class_exposes_one_method():
    app = ketch.App("clustered-cls")

    class TwoMethods:
        @ketch.method()
        def a(self):
            return 0

        @ketch.method()
        def b(self):
            return 0

    with pytest.raises(InvalidError, match="a clustered class exposes one"):
        app.cls()(ketch.clustered(size=2)(TwoMethods))
