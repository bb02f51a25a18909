"""A gang of two for tests/test_clustered.py: rank 0 listens, rank 1 connects to rank 0's
address from get_cluster_info() and sends who it is; rank 0's answer is the result."""

import os
import socket
import time

import ketch
from ketch.experimental import get_cluster_info

app = ketch.App("clustered")


@app.function(cpu=0.75)    # more than half a 1-CPU node: the two ranks get two nodes
@ketch.clustered(size=2)
def exchange(port: int):
    info = get_cluster_info()
    cluster = ketch.Cluster.from_context()
    me = {"rank": info.rank, "node": os.environ["KETCH_NODE_ID"],
          "ips": info.container_ips, "cluster_id": info.cluster_id,
          "containers": cluster.container_ids(), "container": os.environ["KETCH_CONTAINER_ID"],
          "same": [cluster.container_rank(), cluster.container_ips("ipv4"),
                   cluster.object_id] == [info.rank, info.container_ips, info.cluster_id]}
    if info.rank == 0:
        with socket.create_server(("0.0.0.0", port)) as server:
            server.settimeout(20)
            conn, _ = server.accept()
            with conn, conn.makefile("r") as f:
                me["peer"] = eval(f.readline())    # rank 1's dict, as repr() wrote it
        return me
    deadline = time.monotonic() + 20
    while True:         # until rank 0 listens
        try:
            with socket.create_connection((info.container_ips[0], port), timeout=2) as s:
                s.sendall((repr(me) + "\n").encode())
            return me
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
