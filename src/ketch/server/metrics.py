"""Metrics of one server: what is counted, and the scrape that exposes it.

Counting must cost the call path next to nothing, so events only bump plain counters and
bucket arrays here (`FunctionStats`, `GatewayStats`); a scrape turns them, and what the
live records say right then (queues, containers, their cgroups, the process), into
Prometheus metric families (`metrics_export.py`, with prometheus-client, imported at the
first scrape so it adds nothing to the server's start).

Every series about a workspace's work carries a `workspace` label: a workspace token's
scrape sees only its own series, and the server-wide ones (gateway totals, the process,
the store) only the admin token sees.
"""

from __future__ import annotations

import bisect
from typing import Callable

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
    def __init__(self, store_bytes: Callable[[], int]):
        self.store_bytes = store_bytes   # the size of the server's database
        self.function_stats: dict[Labels, FunctionStats] = {}
        self.gateway_stats: dict[Labels, GatewayStats] = {}
        self.functions = None
        self._registry = None    # prometheus-client's, built at the first scrape

    def observe(self, functions):
        """Scrapes also read `functions` (the functions service: its queues, containers
        and their cgroups). Given after it is built, since it is built with the call
        history, which counts into these metrics."""
        self.functions = functions

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
        from . import metrics_export  # prometheus-client: only once someone scrapes

        if self._registry is None:
            self._registry = metrics_export.registry_for(self)
        return metrics_export.render(self._registry, workspace)
