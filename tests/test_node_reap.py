"""A node agent that Ray restarts (its process was killed: nothing stopped its containers)
reaps the containers its dead predecessor started, before it starts any of its own, as a
server restarted on its data directory does. The agent here is a real NodeAgent on the
`process` backend in a process of its own, killed with SIGKILL; its successor is made as
Ray makes it again, with the same node id and data directory. (The `bwrap` backend reaps
through the cgroups it keeps under the same directory.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil

from ketch.node.agent import NodeAgent

_FIRST_AGENT = textwrap.dedent("""
    import asyncio, json, sys
    from ketch.node.agent import NodeAgent

    async def main():
        agent = NodeAgent("node-reap", "process", data_dir=sys.argv[1])
        # A container with a child of its own (in its process group), both long-lived.
        entry = ["-c", "import subprocess, sys, time; "
                       "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
                       "print(p.pid, flush=True); time.sleep(120)"]
        pid = await agent.start({"container_id": "ct-old", "env": {}, "entry": entry})
        child = None
        while child is None:
            await asyncio.sleep(0.05)
            child = next((e["text"] for _, e in agent.pending if e["kind"] == "line"), None)
        print(json.dumps([pid, int(child)]), flush=True)
        await asyncio.sleep(120)

    asyncio.run(main())
""")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_restarted_agent_reaps_its_predecessors_containers(tmp_path):
    first = subprocess.Popen([sys.executable, "-c", _FIRST_AGENT, str(tmp_path)],
                             stdout=subprocess.PIPE, text=True)
    try:
        pids = json.loads(first.stdout.readline())
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert all(_alive(p) for p in pids), pids          # orphans now, still running

    NodeAgent("node-reap", "process", data_dir=str(tmp_path))
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [p for p in pids if _alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, f"the restarted agent left its predecessor's processes {left}"
