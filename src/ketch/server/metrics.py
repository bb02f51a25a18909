"""Prometheus metrics of one server, written with prometheus-client.

Counting must cost the call path next to nothing, so events only bump plain counters and
bucket arrays here (`FunctionStats`, `GatewayStats`); a scrape turns them, and what the
live records say right then (queues, containers, their cgroups, the process), into metric
families. The registry is this server's own, never prometheus-client's global one.

Every series about a workspace's work carries a `workspace` label: a workspace token's
scrape sees only its own series, and the server-wide ones (gateway totals, the process,
the store) only the admin token sees.
"""

from __future__ import annotations

import bisect
import os
from pathlib import Path

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, \
    HistogramMetricFamily

from .runtime.cgroups import process_cpu_seconds

# Seconds; an input runs from under a millisecond to hours, a container starts in tens of
# milliseconds (a warm image) to minutes (a model loaded in @enter).
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
                    300, 900, 3600)
COLD_START_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Buckets:
    """A histogram's counts, kept as plain numbers until a scrape reads them."""

    __slots__ = ("bounds", "counts", "total", "n")

    def __init__(self, bounds: tuple[float, ...]):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float):
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.n += 1

    def cumulative(self) -> list[tuple[str, float]]:
        out, running = [], 0
        for bound, count in zip(self.bounds, self.counts):
            running += count
            out.append((repr(float(bound)), running))
        out.append(("+Inf", self.n))
        return out


class FunctionStats:
    """What happened to one function's inputs and calls (by workspace, app and name, so
    the series carry on across redeploys)."""

    __slots__ = ("inputs", "calls", "duration", "cold_start", "exits")

    def __init__(self):
        self.inputs: dict[str, int] = {}      # inputs ended, by status
        self.calls: dict[str, int] = {}       # calls ended, by status
        self.duration = Buckets(DURATION_BUCKETS)
        self.cold_start = Buckets(COLD_START_BUCKETS)
        self.exits: dict[str, int] = {}       # containers exited, by stop reason


class GatewayStats:
    __slots__ = ("requests", "latency")

    def __init__(self):
        self.requests: dict[str, int] = {}    # by status code
        self.latency = Buckets(LATENCY_BUCKETS)


Labels = tuple[str, str, str]   # (workspace, app name, function name or web label)


class ServerMetrics:
    def __init__(self, store_path: Path):
        self.store_path = store_path
        self.function_stats: dict[Labels, FunctionStats] = {}
        self.gateway_stats: dict[Labels, GatewayStats] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(namespace="ketch_server", registry=self.registry)
        self.registry.register(_Collector(self))

    def observe(self, functions):
        """Scrapes also read `functions` (the functions service: its queues, containers
        and their cgroups). Given after it is built, since it is built with the call
        history, which counts into these metrics."""
        self.registry.register(_LiveCollector(functions))

    # ------------------------------------------------------------------ events

    def stats_for(self, fn) -> FunctionStats:
        key = (fn.app.workspace, fn.app.name, fn.label)
        stats = self.function_stats.get(key)
        if stats is None:
            stats = self.function_stats[key] = FunctionStats()
        return stats

    def container_ready(self, c, seconds: float):
        self.stats_for(c.fn).cold_start.observe(seconds)

    def container_exited(self, c, how: str):
        reason = c.stop_reason.value if c.stop_reason else "unknown"
        exits = self.stats_for(c.fn).exits
        exits[reason] = exits.get(reason, 0) + 1

    def gateway_request(self, fn, label: str, status: int, seconds: float):
        """A web request was answered (`fn` None: it matched no endpoint)."""
        key = (fn.app.workspace, fn.app.name, label) if fn is not None else ("", "", "")
        stats = self.gateway_stats.get(key)
        if stats is None:
            stats = self.gateway_stats[key] = GatewayStats()
        code = str(status)
        stats.requests[code] = stats.requests.get(code, 0) + 1
        stats.latency.observe(seconds)

    # ------------------------------------------------------------------ scrapes

    def render(self, workspace: str | None) -> bytes:
        """The text exposition: everything (workspace None, the admin) or one
        workspace's series."""
        if workspace is None:
            return generate_latest(self.registry)
        return generate_latest(_OneWorkspace(self.registry, workspace))


class _OneWorkspace:
    """A registry view with only the series labelled with one workspace."""

    def __init__(self, registry: CollectorRegistry, workspace: str):
        self.registry = registry
        self.workspace = workspace

    def collect(self):
        for family in self.registry.collect():
            samples = [s for s in family.samples if s.labels.get("workspace") == self.workspace]
            if samples:
                family.samples = samples
                yield family


class _Collector:
    def __init__(self, metrics: ServerMetrics):
        self.m = metrics

    def collect(self):
        yield from self._function_families()
        yield from self._gateway_families()
        yield from self._server_families()

    def _function_families(self):
        names = ["workspace", "app", "function"]
        inputs = CounterMetricFamily("ketch_function_inputs", "Inputs ended, by status "
                                     "(after retries).", labels=names + ["status"])
        calls = CounterMetricFamily("ketch_function_calls", "Calls ended, by status.",
                                    labels=names + ["status"])
        exits = CounterMetricFamily("ketch_function_container_exits", "Containers "
                                    "exited, by why they stopped.", labels=names + ["reason"])
        duration = HistogramMetricFamily("ketch_function_input_duration_seconds",
                                         "Run time of each input in its container.",
                                         labels=names)
        cold = HistogramMetricFamily("ketch_function_cold_start_seconds", "From a "
                                     "container's launch until it is ready for inputs.",
                                     labels=names)
        for key, st in list(self.m.function_stats.items()):
            labels = list(key)
            for status, n in st.inputs.items():
                inputs.add_metric(labels + [status], n)
            for status, n in st.calls.items():
                calls.add_metric(labels + [status], n)
            for reason, n in st.exits.items():
                exits.add_metric(labels + [reason], n)
            duration.add_metric(labels, st.duration.cumulative(), st.duration.total)
            cold.add_metric(labels, st.cold_start.cumulative(), st.cold_start.total)
        return [inputs, calls, exits, duration, cold]

    def _gateway_families(self):
        names = ["workspace", "app", "label"]
        requests = CounterMetricFamily("ketch_gateway_requests", "Web requests answered, "
                                       "by HTTP status.", labels=names + ["code"])
        latency = HistogramMetricFamily("ketch_gateway_request_duration_seconds", "From a "
                                        "request's head until its response ended.",
                                        labels=names)
        for key, st in list(self.m.gateway_stats.items()):
            for code, n in st.requests.items():
                requests.add_metric(list(key) + [code], n)
            latency.add_metric(list(key), st.latency.cumulative(), st.latency.total)
        return [requests, latency]

    def _server_families(self):
        store = GaugeMetricFamily("ketch_server_store_bytes", "Size of the server's SQLite "
                                  "store (with its write-ahead log).")
        size = 0
        for suffix in ("", "-wal"):
            try:
                size += os.stat(f"{self.m.store_path}{suffix}").st_size
            except OSError:
                pass
        store.add_metric([], size)
        return [store]


class _LiveCollector:
    """What the live records say at the moment of the scrape."""

    def __init__(self, functions):
        self.functions = functions

    def collect(self):
        names = ["workspace", "app", "function"]
        queued = GaugeMetricFamily("ketch_function_queue_depth", "Inputs waiting for a "
                                   "container (including retries waiting out a backoff).",
                                   labels=names)
        running = GaugeMetricFamily("ketch_function_inputs_in_flight", "Inputs (and web "
                                    "requests) on containers now.", labels=names)
        states = GaugeMetricFamily("ketch_function_containers", "Containers by state.",
                                   labels=names + ["state"])
        cpu = CounterMetricFamily("ketch_container_cpu_seconds", "CPU time the container "
                                  "used (from its cgroup; the process tree without one).",
                                  labels=names + ["container"])
        memory = GaugeMetricFamily("ketch_container_memory_bytes", "Memory the container "
                                   "uses now (from its cgroup; resident set without one).",
                                   labels=names + ["container"])
        functions = self.functions
        for fn in list(functions.functions.values()):
            labels = [fn.app.workspace, fn.app.name, fn.label]
            queued.add_metric(labels, len(fn.queue) + len(fn.delayed))
            running.add_metric(labels, fn.inflight())
            by_state = {"starting": 0, "ready": 0, "stopping": 0}
            for c in fn.containers.values():
                by_state[c.state] = by_state.get(c.state, 0) + 1
            for state, n in by_state.items():
                states.add_metric(labels + [state], n)
        for c in list(functions.containers.values()):
            usage = container_usage(c.handle)
            if usage is None:
                continue
            labels = [c.fn.app.workspace, c.fn.app.name, c.fn.label, c.id]
            cpu.add_metric(labels, usage[0])
            memory.add_metric(labels, usage[1])
        return [queued, running, states, cpu, memory]


def container_usage(handle) -> tuple[float, int] | None:
    """(CPU seconds, memory bytes) of a container: its cgroup's (bwrap), else its process
    tree's top process (the process runtime)."""
    if handle is None:
        return None
    cgroup = getattr(handle, "cgroup", None)
    if cgroup is not None:
        return cgroup.usage()
    pid = getattr(handle, "pid", 0)
    if not pid:
        return None
    try:
        rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return process_cpu_seconds(pid), rss_pages * os.sysconf("SC_PAGE_SIZE")
