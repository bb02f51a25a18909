"""`ketch node list`: the machines containers run on."""

from __future__ import annotations

import click

from ..proto import ketch_pb2 as pb
from ._common import client, console, print_json, run_async, table


@click.group()
def node():
    """See the nodes containers run on: this machine, or each node of the Ray cluster the
    server joined (`ketch server start --ray ADDRESS`)."""


def _gpus(n: pb.NodeInfo) -> str:
    if not n.gpus:
        return "-"
    counts: dict[str, int] = {}
    for name in n.gpus:
        counts[name] = counts.get(name, 0) + 1
    return f"{n.gpus_used}/{len(n.gpus)} " + ", ".join(f"{k}×{v}" for k, v in counts.items())


@node.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_nodes(as_json: bool):
    """List nodes with their state, CPU, memory and GPUs (in use / total) and containers,
    then what waits because no node can hold it."""
    async def fetch():
        c = await client()
        return (await c.request(node_list=pb.NodeList())).node_list_reply

    reply = run_async(fetch())
    if as_json:
        print_json({"ray_address": reply.ray_address, "waiting": list(reply.waiting),
                    "nodes": [{"id": n.node_id, "address": n.address, "state": n.state,
                               "cpu": n.cpu, "cpu_used": n.cpu_used,
                               "memory_mib": n.memory_mib,
                               "memory_used_mib": n.memory_used_mib, "gpus": list(n.gpus),
                               "gpus_used": n.gpus_used, "containers": n.containers,
                               "lost_because": n.lost_because} for n in reply.nodes]})
        return
    table(["Node", "Address", "State", "CPU", "Memory (MiB)", "GPUs", "Containers"],
          [[n.node_id[:12], n.address,
            n.state if not n.lost_because else f"{n.state} ({n.lost_because})",
            f"{n.cpu_used:g}/{n.cpu:g}", f"{n.memory_used_mib}/{n.memory_mib}", _gpus(n),
            n.containers] for n in reply.nodes],
          title=f"Ray cluster {reply.ray_address}" if reply.ray_address else None)
    for line in reply.waiting:
        console.print(f"[yellow]waiting:[/yellow] {line}", markup=True, highlight=False)
