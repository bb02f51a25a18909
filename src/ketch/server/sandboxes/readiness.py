"""A sandbox's readiness probe (Modal's `Probe`): checked at create, handed to its
supervisor, which tries it inside the sandbox until it passes once and says so; clients
wait for that with `wait_until_ready`."""

from __future__ import annotations

import asyncio

from ...proto import ketch_pb2 as pb
from .model import SandboxRecord

MAX_ARGV_BYTES = 64 * 1024
MAX_INTERVAL_MS = 60_000


def check_probe(spec: pb.SandboxSpec) -> None:
    if not spec.HasField("readiness_probe"):
        return
    probe = spec.readiness_probe
    if bool(probe.tcp_port) == bool(probe.exec_argv):
        raise ValueError("readiness_probe: give a TCP port or a command, one of them "
                         "(ketch.Probe.with_tcp(port) or ketch.Probe.with_exec(*argv))")
    if probe.tcp_port > 65535:
        raise ValueError(f"readiness_probe: port {probe.tcp_port} is not 1-65535")
    if sum(len(a) for a in probe.exec_argv) > MAX_ARGV_BYTES:
        raise ValueError(f"readiness_probe: the command is over {MAX_ARGV_BYTES} bytes")
    if not 1 <= probe.interval_ms <= MAX_INTERVAL_MS:
        raise ValueError(f"readiness_probe: interval_ms={probe.interval_ms}: give 1 to "
                         f"{MAX_INTERVAL_MS}")


def start_probe(sb: SandboxRecord) -> None:
    """Sent ahead of everything else the supervisor gets, so it starts trying at once."""
    if sb.spec.HasField("readiness_probe"):
        sb.send(pb.Frame(sandbox_probe=sb.spec.readiness_probe))


async def wait_ready(sb: SandboxRecord, timeout: float) -> SandboxRecord:
    """Until its probe passed, it ended, or timeout (seconds) passed; the caller reads
    which from its info (ready, done)."""
    if sb.ready.is_set() or sb.done:
        return sb
    if not sb.spec.HasField("readiness_probe"):
        raise ValueError(f"sandbox {sb.id} has no readiness_probe to wait for; create it "
                         "with readiness_probe=ketch.Probe.with_tcp(port) (or with_exec)")
    waits = [asyncio.ensure_future(sb.ready.wait()), asyncio.ensure_future(sb.ended.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout if timeout >= 0 else None,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
    return sb
