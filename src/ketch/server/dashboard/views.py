"""What each dashboard page shows, read from the live services of one workspace.

Plain functions from `Services` and a workspace to plain dicts and lists the templates
render (and the JSON endpoints return): nothing here knows HTTP or HTML, and nothing of
another workspace is ever read. Secrets show their key names, never their values.
"""

from __future__ import annotations

import asyncio
import socket
import time

from ..functions.model import ContainerRecord, FunctionRecord
from ..metrics_export import container_usage
from ..objects import KINDS
from ...proto import ketch_pb2 as pb
from ..services import Services
from . import logtail

LOG_TAIL_LINES = 200    # lines a page shows of a log at first
CALLS_PER_PAGE = 100    # calls a list shows, newest first
RECENT_CALLS = 10       # calls an app's or a function's page shows


def node_name() -> str:
    """The one node until ketch runs on a cluster: this machine."""
    return socket.gethostname()


# -- apps

def apps(svc: Services, workspace: str) -> list[dict]:
    """Every app of the workspace, newest first, numbered per name: the n-th run or
    deployment of a name is its version n."""
    rows = sorted(svc.functions.app_summaries(workspace), key=lambda a: a.created_at)
    seen: dict[str, int] = {}
    out = []
    for a in rows:
        seen[a.name] = seen.get(a.name, 0) + 1
        out.append({"app_id": a.app_id, "name": a.name, "state": a.state,
                    "version": seen[a.name], "created_at": a.created_at,
                    "stopped_at": a.stopped_at, "n_functions": a.n_functions,
                    "n_containers": a.n_containers,
                    "running": a.state != "stopped"})
    return out[::-1]


def app(svc: Services, workspace: str, app_id: str) -> dict:
    listed = {a["app_id"]: a for a in apps(svc, workspace)}
    info = listed.get(app_id)
    if info is None:
        raise LookupError(f"no app {app_id} in workspace {workspace!r}")
    record = svc.functions.apps.get(app_id)
    functions = [] if record is None else [
        function_summary(fn) for fn in svc.functions.functions.values() if fn.app is record]
    lines, _ = logtail.read(svc.logs.path(app_id), None)    # the end of it, read at most
    return {**info, "recent_calls": calls(svc, workspace, app=app_id, limit=RECENT_CALLS),
            "versions": [a for a in listed.values() if a["name"] == info["name"]],
            "functions": functions,
            "containers": [container_summary(c) for c in svc.functions.containers.values()
                           if record is not None and c.fn.app is record],
            "logs": lines[-LOG_TAIL_LINES:]}


# -- functions

def function_record(svc: Services, workspace: str, function_id: str) -> FunctionRecord:
    fn = svc.functions.functions.get(function_id)
    if fn is None or fn.app.workspace != workspace:
        raise LookupError(f"no live function {function_id} in workspace {workspace!r} (its "
                          "app may have stopped)")
    return fn


def function_summary(fn: FunctionRecord) -> dict:
    states = {"starting": 0, "ready": 0, "stopping": 0}
    for c in fn.containers.values():
        states[c.state] = states.get(c.state, 0) + 1
    spec = fn.spec
    return {"function_id": fn.id, "name": fn.label, "app_id": fn.app.id,
            "app_name": fn.app.name, "bound": fn.parent is not None,
            "backlog": len(fn.queue) + len(fn.delayed), "in_flight": fn.inflight(),
            "web_waiting": fn.web_waiting, "containers": len(fn.containers),
            "containers_by_state": states,
            "avg_duration_s": fn.avg_duration,
            "spec": {"cpu": spec.resources.cpu_request,
                     "memory_mib": spec.resources.memory_request_mib,
                     "gpu": spec.resources.gpu, "timeout_s": spec.timeout_s,
                     "min_containers": spec.scaling.min_containers,
                     "max_containers": spec.scaling.max_containers,
                     "max_inputs": fn.slots, "image_id": spec.image_id,
                     "web": [ep.label for ep in spec.web_endpoints]}}


def function(svc: Services, workspace: str, function_id: str) -> dict:
    fn = function_record(svc, workspace, function_id)
    return {**function_summary(fn), **function_stats(svc, fn),
            "container_list": [container_summary(c) for c in fn.containers.values()],
            "recent_calls": calls(svc, workspace, app=fn.app.id, function=fn.label,
                                  limit=RECENT_CALLS)}


def function_stats(svc: Services, fn: FunctionRecord) -> dict:
    """Counts since the server started, for the function's name in its app (so they carry
    on across redeploys): inputs and calls by status, mean run time and cold start."""
    stats = svc.metrics.function_stats.get((fn.app.workspace, fn.app.name, fn.label))
    if stats is None:
        return {"inputs_by_status": {}, "calls_by_status": {}, "mean_run_s": None,
                "mean_cold_start_s": None, "p50_run_s": None, "p95_run_s": None, "exits": {},
                "web": web_stats(svc, fn)}
    mean = (lambda b: b.total / b.n if b.n else None)
    return {"inputs_by_status": dict(stats.inputs), "calls_by_status": dict(stats.calls),
            "mean_run_s": mean(stats.duration), "mean_cold_start_s": mean(stats.cold_start),
            "p50_run_s": at_most(stats.duration, 0.5), "p95_run_s": at_most(stats.duration, 0.95),
            "exits": dict(stats.exits), "web": web_stats(svc, fn)}


def web_stats(svc: Services, fn: FunctionRecord) -> list[dict]:
    """Each web endpoint's requests by status code and latency, since the server started."""
    out = []
    for ep in fn.spec.web_endpoints:
        stats = svc.metrics.gateway_stats.get((fn.app.workspace, fn.app.name, ep.label))
        if stats is not None:
            out.append({"label": ep.label, "requests": dict(stats.requests),
                        "p50_s": at_most(stats.latency, 0.5),
                        "p95_s": at_most(stats.latency, 0.95)})
    return out


def at_most(buckets, q: float) -> float | None:
    """The histogram bucket bound that a `q` share of the observations stay within (what
    Prometheus's histogram_quantile rounds up to); None without observations, inf past the
    last bound."""
    if not buckets.n:
        return None
    running = 0
    for bound, count in zip((*buckets.bounds, float("inf")), buckets.counts):
        running += count
        if running >= q * buckets.n:
            return bound
    return float("inf")


def function_sample(svc: Services, workspace: str, function_id: str) -> dict:
    """One point of the function page's live chart."""
    fn = function_record(svc, workspace, function_id)
    s = function_summary(fn)
    done = sum(function_stats(svc, fn)["inputs_by_status"].values())
    return {"t": time.time(), "backlog": s["backlog"], "in_flight": s["in_flight"],
            "containers": s["containers"], "ready": s["containers_by_state"]["ready"],
            "inputs_done": done}


# -- containers

def container_summary(c: ContainerRecord) -> dict:
    return {"container_id": c.id, "app_id": c.fn.app.id, "app_name": c.fn.app.name,
            "function_id": c.fn.id, "function_name": c.fn.label, "state": c.state,
            "node": node_name(), "started_at": c.started_at, "ready_at": c.ready_at,
            "in_flight": len(c.inflight) + c.web_requests,
            "pid": getattr(c.handle, "pid", 0) or 0}


def containers(svc: Services, workspace: str) -> list[dict]:
    return [container_summary(c) for c in svc.functions.containers.values()
            if c.fn.app.workspace == workspace]


def container_record(svc: Services, workspace: str, container_id: str) -> ContainerRecord:
    c = svc.functions.containers.get(container_id)
    if c is None or c.fn.app.workspace != workspace:
        raise LookupError(f"no running container {container_id} in workspace {workspace!r}; "
                          "its lines stay in its app's log")
    return c


def exited_container(svc: Services, workspace: str, container_id: str) -> dict:
    """What is left of a container that has exited: its app and its log lines."""
    app_id = svc.logs.app_of_container(container_id)
    if app_id is None or svc.store.app_workspace(app_id) != workspace:
        raise LookupError(f"no container {container_id} in workspace {workspace!r}")
    name = next((a["name"] for a in apps(svc, workspace) if a["app_id"] == app_id), app_id)
    return {"container_id": container_id, "app_id": app_id, "app_name": name,
            "function_id": "", "function_name": "", "state": "exited", "node": node_name(),
            "started_at": None, "ready_at": None, "in_flight": 0, "pid": 0}


def container_sample(svc: Services, workspace: str, container_id: str) -> dict:
    """One point of the container page's CPU and memory charts (from its cgroup on bwrap,
    its process on the process runtime); the page turns CPU seconds into a rate."""
    c = container_record(svc, workspace, container_id)
    usage = container_usage(c.handle)
    cpu, memory = usage if usage is not None else (None, None)
    return {"t": time.time(), "cpu_seconds": cpu,
            "memory_mib": None if memory is None else round(memory / 2**20, 1),
            "in_flight": len(c.inflight) + c.web_requests, "state": c.state}


def log_line(line: pb.LogLine) -> dict:
    return {"ts": line.ts, "source": line.source, "function": line.function_name,
            "container_id": line.container_id, "text": line.text,
            "input_id": line.input_id, "call_id": line.call_id}


# -- calls

def call_summary(rec: pb.CallRecord) -> dict:
    ended = rec.finished_at or None
    return {"call_id": rec.call_id, "app_id": rec.app_id, "app_name": rec.app_name,
            "function_name": rec.function_name, "kind": rec.kind, "source": rec.source,
            "status": rec.status, "created_at": rec.created_at,
            "started_at": rec.started_at or None, "finished_at": ended,
            "duration_s": (ended - rec.created_at) if ended else None,
            # A running call's record counts its inputs as they end.
            "n_inputs": max(rec.n_inputs, sum(rec.counts.values())),
            "counts": dict(rec.counts),
            "container_ids": list(rec.container_ids), "node": rec.node,
            "message": rec.message}


def calls(svc: Services, workspace: str, app: str = "", function: str = "",
          status: str = "", limit: int = CALLS_PER_PAGE) -> list[dict]:
    return [call_summary(r) for r in svc.history.list(workspace, app=app, function=function,
                                                      status=status, limit=limit)]


async def call(svc: Services, workspace: str, call_id: str) -> dict:
    """One call: its inputs' outcomes (failures with their tracebacks) and its log lines
    (found in its app's whole log, so read off the event loop)."""
    rec = svc.history.get(workspace, call_id)
    lines = await asyncio.to_thread(
        svc.logs.history, rec.app_id, pb.LogSubscribe(call_id=call_id, tail=LOG_TAIL_LINES))
    live = {f.label: f.id for f in svc.functions.functions.values()
            if f.app.id == rec.app_id and f.parent is None}
    return {**call_summary(rec),
            "function_id": live.get(rec.function_name, ""),
            "live_containers": [c for c in rec.container_ids
                                if c in svc.functions.containers],
            "outcomes": [{"idx": o.idx, "input_id": o.input_id, "status": o.status,
                          "message": o.message, "traceback": o.traceback,
                          "container_id": o.container_id, "started_at": o.started_at or None,
                          "finished_at": o.finished_at or None, "attempts": o.attempts}
                         for o in rec.outcomes],
            "logs": [log_line(line) for line in lines]}


# -- images, objects, nodes

def images(svc: Services, workspace: str) -> dict:
    reply = svc.images.list(workspace)
    return {"images": [{"image_id": i.image_id, "title": i.title, "n_layers": i.n_layers,
                        "size_bytes": i.size_bytes, "created_at": i.created_at,
                        "used_at": i.used_at} for i in reply.images],
            "in_use": svc.functions.images_in_use(workspace),
            "builds": [vars(b) for b in svc.images.builds.of(workspace)]}


async def objects(svc: Services, workspace: str) -> dict[str, list[dict]]:
    """Named objects by kind with their sizes (a secret's size is its number of keys)."""
    out = {}
    for kind in KINDS:
        rows = []
        for row in svc.objects.named(workspace, kind):
            size, keys = await svc.object_contents(row)
            rows.append({"object_id": row.object_id, "name": row.name, "size": size,
                         "keys": keys, "created_at": row.created_at,
                         "updated_at": row.updated_at})
        out[kind] = rows
    return out


def nodes(svc: Services, workspace: str) -> list[dict]:
    res = svc.resources
    mine = containers(svc, workspace)
    return [{"name": node_name(), "runtime": svc.info.runtime,
             "cpu": res.cpu, "cpu_reserved": res.cpu_used,
             "memory_mib": res.memory_mib, "memory_reserved_mib": res.memory_used,
             "gpus": list(res.gpus), "gpus_used": len(res.gpus_used),
             "containers": len(mine)}]
