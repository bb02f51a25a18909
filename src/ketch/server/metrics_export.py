"""The Prometheus side of the metrics: a registry of this server's own (never
prometheus-client's global one) whose collectors turn `ServerMetrics`' counts and the
live records into metric families at each scrape, in the text exposition format."""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

from .runtime.cgroups import process_cpu_seconds


def registry_for(metrics) -> CollectorRegistry:
    """The registry of a `ServerMetrics` (metrics.py, which imports this module when it
    is first scraped)."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(namespace="ketch_server", registry=registry)
    registry.register(_Collector(metrics))
    if metrics.functions is not None:
        registry.register(_LiveCollector(metrics.functions))
    return registry


def render(registry: CollectorRegistry, workspace: str | None) -> bytes:
    """Every series (workspace None) or only those labelled with one workspace."""
    if workspace is None:
        return generate_latest(registry)
    return generate_latest(_OneWorkspace(registry, workspace))


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
    def __init__(self, metrics):
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
        store = GaugeMetricFamily("ketch_server_store_bytes", "Size of the server's store "
                                  "(SQLite with its write-ahead log, or the PostgreSQL "
                                  "database).")
        store.add_metric([], self.m.store_bytes())
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
