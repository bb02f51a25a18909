"""Without a cluster, `ketch node list` shows the one local node, and containers say they
run there (KETCH_NODE_ID=local)."""

import json


def test_one_local_node(server):
    out = server.ketch("node", "list", "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert listed["ray_address"] == "" and len(listed["nodes"]) == 1
    node = listed["nodes"][0]
    assert node["id"] == "local" and node["state"] == "alive"
    assert node["cpu"] > 0 and node["memory_mib"] > 0
    table = server.ketch("node", "list").stdout
    assert "local" in table and "Containers" in table
    ran = server.python("import ketch, os\napp = ketch.App('node-local')\n"
                        "@app.function(serialized=True)\n"
                        "def where():\n    return os.environ['KETCH_NODE_ID']\n"
                        "with app.run():\n    print(where.remote())")
    assert ran.stdout.strip() == "local", ran.stdout + ran.stderr
