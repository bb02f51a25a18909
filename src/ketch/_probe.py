"""`Probe`: how a sandbox tells it is ready (Modal's readiness probe). The supervisor
inside the sandbox tries it every `interval_ms` until it passes once; `wait_until_ready`
waits for that.

    sb = ketch.Sandbox.create("python3", "-m", "http.server", "8080", app=app,
                              readiness_probe=ketch.Probe.with_tcp(8080))
    sb.wait_until_ready()
"""

from __future__ import annotations

from dataclasses import dataclass

from .exception import InvalidError
from .proto import ketch_pb2 as pb


def _interval(where: str, interval_ms) -> int:
    if isinstance(interval_ms, bool) or not isinstance(interval_ms, int) or \
            not 0 < interval_ms <= 60_000:
        raise InvalidError(f"{where}: interval_ms={interval_ms!r}: give milliseconds from 1 "
                           "to 60000")
    return interval_ms


@dataclass(frozen=True)
class Probe:
    """A readiness probe: make it with `Probe.with_tcp(port)` (ready once 127.0.0.1:port
    inside the sandbox accepts a connection) or `Probe.with_exec(*argv)` (ready once the
    command exits 0)."""

    tcp_port: int | None = None
    exec_argv: tuple[str, ...] | None = None
    interval_ms: int = 100

    def __post_init__(self):
        if (self.tcp_port is None) == (self.exec_argv is None):
            raise InvalidError("make a Probe with Probe.with_tcp(port) or "
                               "Probe.with_exec(*argv)")

    @classmethod
    def with_tcp(cls, port: int, *, interval_ms: int = 100) -> "Probe":
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise InvalidError(f"Probe.with_tcp: port={port!r}: give a port number 1-65535")
        return cls(tcp_port=port, interval_ms=_interval("Probe.with_tcp", interval_ms))

    @classmethod
    def with_exec(cls, *argv: str, interval_ms: int = 100) -> "Probe":
        if not argv or not all(isinstance(a, str) for a in argv):
            raise InvalidError("Probe.with_exec needs a command: strings, as "
                               "Probe.with_exec('test', '-f', '/tmp/ready')")
        return cls(exec_argv=tuple(argv), interval_ms=_interval("Probe.with_exec", interval_ms))

    def _to_proto(self) -> pb.SandboxProbe:
        return pb.SandboxProbe(tcp_port=self.tcp_port or 0, exec_argv=self.exec_argv or (),
                               interval_ms=self.interval_ms)


def probe_proto(probe) -> pb.SandboxProbe | None:
    """Sandbox.create's readiness_probe=, checked."""
    if probe is None:
        return None
    if not isinstance(probe, Probe):
        raise InvalidError(f"readiness_probe={probe!r}: give a ketch.Probe "
                           "(Probe.with_tcp(port) or Probe.with_exec(*argv))")
    return probe._to_proto()
