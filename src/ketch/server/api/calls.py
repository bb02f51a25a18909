"""Apps, functions, calls, containers and logs: the handlers of the call path."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..logs import matches
from ..functions.app_lookup import lookup_app
from ..services import Services
from .context import Request, wait_seconds

LOG_BATCH_LINES = 500   # log history lines per frame
MAX_LOG_FOLLOWS = 64    # logs one connection may follow at once (each costs every line)
MAX_SOURCE_CHARS = 64   # a call's source label, as the call history keeps it


# -- apps

def app_create(svc: Services, req: Request, msg: pb.AppCreate):
    if msg.interactive and (not msg.ephemeral or msg.detach):
        raise ValueError("an interactive app runs with its client attached: not deployed, "
                         "not detached")
    app = svc.functions.create_app(req.workspace, msg.name, msg.ephemeral, msg.detach, req.peer)
    if msg.interactive:
        app.interactive = True
        svc.terminals.open(app.id, req.conn)
    req.reply(app_created=pb.AppCreated(app_id=app.id, logs_path=str(svc.logs.path(app.id))))


def app_stop(svc: Services, req: Request, msg: pb.AppStop):
    svc.functions.stop_app_request(req.workspace, msg.app_id, msg.name)
    req.reply(ok=pb.Ok())


def app_lookup(svc: Services, req: Request, msg: pb.AppLookup):
    app_id = lookup_app(svc.functions, req.workspace, msg.name, msg.create_if_missing)
    req.reply(app_created=pb.AppCreated(app_id=app_id, logs_path=str(svc.logs.path(app_id))))


def app_list(svc: Services, req: Request, msg: pb.AppList):
    apps = svc.functions.app_summaries(req.workspace)
    for info in apps:
        info.next_run_at = svc.scheduler.next_run_of_app(info.app_id) or 0.0
    req.reply(app_list_reply=pb.AppListReply(apps=apps))


# -- functions

def function_create(svc: Services, req: Request, msg: pb.FunctionCreate):
    fn = svc.functions.create_function(req.workspace, msg.app_id, msg.spec)
    req.reply(function_created=pb.FunctionCreated(
        function_id=fn.id, warning=svc.functions.placement_warning(fn)))


def function_get(svc: Services, req: Request, msg: pb.FunctionGet):
    fn = svc.functions.lookup(req.workspace, msg.app_name, msg.app_id, msg.name)
    req.reply(container_spec=pb.ContainerSpec(function_id=fn.id, app_id=fn.app.id,
                                              spec=fn.spec))


def function_bind(svc: Services, req: Request, msg: pb.FunctionBind):
    fn = svc.functions.bind(req.workspace, msg.function_id, msg.params)
    req.reply(function_created=pb.FunctionCreated(function_id=fn.id))


def function_variant(svc: Services, req: Request, msg: pb.FunctionVariant):
    fn = svc.functions.variant(req.workspace, msg.function_id, msg.overrides, list(msg.fields))
    req.reply(function_created=pb.FunctionCreated(function_id=fn.id))


def function_update_autoscaler(svc: Services, req: Request,
                               msg: pb.FunctionUpdateAutoscaler):
    s = svc.functions.update_autoscaler(req.workspace, msg.function_id, msg)
    req.reply(function_autoscaler=pb.FunctionAutoscaler(
        min_containers=s.min_containers, max_containers=s.max_containers,
        buffer_containers=s.buffer_containers, scaledown_window_s=s.scaledown_window_s))


def function_stats_get(svc: Services, req: Request, msg: pb.FunctionStatsGet):
    req.reply(function_stats=svc.functions.current_stats(req.workspace, msg.function_id))


# -- calls

def call_create(svc: Services, req: Request, msg: pb.CallCreate):
    svc.functions.create_call(req.workspace, req.peer, msg.call_id, msg.function_id, msg.kind,
                              list(msg.inputs), msg.is_generator,
                              parent_input_id=msg.parent_input_id,
                              source=msg.source[:MAX_SOURCE_CHARS])
    if not msg.quiet:
        req.reply(ok=pb.Ok())
    return _room_for_more(svc, req, msg.call_id)


def inputs(svc: Services, req: Request, msg: pb.InputBatch):
    svc.functions.add_inputs(req.workspace, msg.call_id, list(msg.inputs), last=msg.last)
    return _room_for_more(svc, req, msg.call_id)


def _room_for_more(svc: Services, req: Request, call_id: str):
    """Back pressure: while the call's function has a full queue, the sender is not read
    (its next inputs wait in its socket), so queued inputs stay bounded in memory."""
    room = svc.functions.queue_room(call_id)
    return None if room is None else req.conn.hold_reading_until(room)


def call_graph_get(svc: Services, req: Request, msg: pb.CallGraphGet):
    req.reply(call_graph=pb.CallGraph(
        inputs=svc.functions.call_graph_of(req.workspace, msg.call_id)))


async def call_get(svc: Services, req: Request, msg: pb.CallGet):
    outputs = await svc.functions.wait_output(req.workspace, msg.call_id,
                                              wait_seconds("timeout_s", msg.timeout_s))
    req.reply(outputs=pb.OutputBatch(outputs=outputs))


def call_cancel(svc: Services, req: Request, msg: pb.CallCancel):
    svc.functions.cancel_call(req.workspace, msg.call_id, msg.terminate_containers)
    req.reply(ok=pb.Ok())


def call_close(svc: Services, req: Request, msg: pb.CallClose):
    svc.functions.close_call(req.workspace, msg.call_id)


# -- containers, as clients see them

def container_list(svc: Services, req: Request, msg: pb.ContainerList):
    req.reply(container_list_reply=pb.ContainerListReply(
        containers=svc.functions.container_infos(req.workspace, msg.app_id) +
        svc.sandboxes.container_infos(req.workspace, msg.app_id)))


def container_stop(svc: Services, req: Request, msg: pb.ContainerStop):
    if svc.sandboxes.is_sandbox(msg.container_id):   # `ketch container stop` ends sandboxes
        svc.sandboxes.terminate(req.workspace, msg.container_id)
    else:
        svc.functions.stop_container_by_id(req.workspace, msg.container_id)
    req.reply(ok=pb.Ok())


# -- logs

def log_subscribe(svc: Services, req: Request, msg: pb.LogSubscribe):
    app_id, name = msg.app_id, msg.app_name
    if msg.container_id and not (app_id or name):
        # `ketch container logs ID`: the container names its app (checked below to be
        # of this workspace, like any app).
        app_id = svc.logs.app_of_container(msg.container_id) or ""
        if not app_id and svc.sandboxes.is_sandbox(msg.container_id):  # nothing said yet
            app_id = svc.sandboxes.get(req.workspace, msg.container_id).app_id
        if not app_id:
            raise LookupError(f"no logs of container {msg.container_id} on this server "
                              "(`ketch container list` shows running ones)")
    app_id = svc.functions.log_app_id(req.workspace, app_id, name)
    logs = svc.logs
    filtered = bool(msg.function_name or msg.call_id or msg.container_id or msg.since)
    if msg.history:
        lines = logs.history(app_id, msg)
        for start in range(0, len(lines), LOG_BATCH_LINES):
            req.send(pb.Frame(log_batch=pb.LogBatch(
                app_id=app_id, lines=lines[start:start + LOG_BATCH_LINES])))
    live = msg.follow and svc.functions.app_is_running(app_id)
    if live and len(req.peer.log_subs) >= MAX_LOG_FOLLOWS:
        raise ValueError(f"this connection follows {MAX_LOG_FOLLOWS} app logs already; "
                         "follow fewer at once")
    if live:
        dropped = 0

        def sub(batch):
            nonlocal dropped
            if req.lagging:
                dropped += len(batch.lines)
                return
            if dropped:
                req.send(pb.Frame(log_batch=pb.LogBatch(app_id=app_id, lines=[pb.LogLine(
                    source="system", text=f"ketch: {dropped} log lines were dropped here: "
                    "this follower read them too slowly")])))
                dropped = 0
            if filtered and not batch.end:
                lines = [line for line in batch.lines if matches(line, msg)]
                if not lines:
                    return
                batch = pb.LogBatch(app_id=app_id, lines=lines)
            req.send(pb.Frame(log_batch=batch))
        logs.subscribe(app_id, sub)
        req.peer.log_subs.append((app_id, sub))
    else:
        req.send(pb.Frame(log_batch=pb.LogBatch(app_id=app_id, end=True)))
    req.reply(app_created=pb.AppCreated(app_id=app_id))


# -- a container's own requests

def container_init(svc: Services, req: Request, msg: pb.ContainerInit):
    req.reply(container_spec=svc.functions.container_spec(req.container))


def container_ready(svc: Services, req: Request, msg: pb.ContainerReady):
    svc.functions.container_ready(req.container, msg)


def container_outputs(svc: Services, req: Request, msg: pb.OutputBatch):
    svc.functions.container_outputs(req.container, msg.outputs)
