"""Apps, functions, calls, containers and logs: the handlers of the call path."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..errors import ServiceError
from ..functions import runtime_python_version
from ..services import Services
from .context import Request

LOG_BATCH_LINES = 500   # log history lines per frame


# -- apps

def app_create(svc: Services, req: Request, msg: pb.AppCreate):
    if not msg.name:
        raise ValueError("an app needs a name")
    app = svc.functions.create_app(msg.name, msg.ephemeral, msg.detach, req.peer)
    req.reply(app_created=pb.AppCreated(app_id=app.id, logs_path=str(svc.logs.path(app.id))))


def app_publish(svc: Services, req: Request, msg: pb.AppPublish):
    svc.functions.publish_app(msg.app_id)
    req.reply(ok=pb.Ok())


def app_stop(svc: Services, req: Request, msg: pb.AppStop):
    functions = svc.functions
    app_id = msg.app_id
    if not app_id:
        row = svc.store.deployed_app(msg.name)
        running = [a for a in functions.apps.values() if a.name == msg.name]
        if row is None and not running:
            raise LookupError(f"no running app named {msg.name!r}; `ketch app list` "
                              "shows the apps")
        app_id = row.app_id if row else running[0].id
    elif app_id not in functions.apps:
        raise LookupError(f"no running app with id {app_id}")
    functions.stop_app(app_id, "stopped by request")
    req.reply(ok=pb.Ok())


def app_list(svc: Services, req: Request, msg: pb.AppList):
    functions = svc.functions
    apps = []
    live = functions.apps
    for row in svc.store.apps():
        app = live.get(row.app_id)
        if app is None and row.state not in ("stopped",):
            continue  # a leftover of a previous server process
        n_fn = len(app.functions) if app else 0
        n_ct = sum(len(f.containers) for f in functions.functions.values()
                   if app is not None and f.app is app)
        apps.append(pb.AppInfo(app_id=row.app_id, name=row.name,
                               state=app.state if app else row.state,
                               created_at=row.created_at, n_functions=n_fn,
                               n_containers=n_ct, stopped_at=row.stopped_at or 0))
    req.reply(app_list_reply=pb.AppListReply(apps=apps))


# -- functions

def function_create(svc: Services, req: Request, msg: pb.FunctionCreate):
    spec = msg.spec
    why = svc.capacity.check(spec.resources)
    if why:
        raise ServiceError(f"{spec.name}: {why}", "resource")
    runtime_py = runtime_python_version()
    if spec.python_version and spec.python_version != runtime_py and not spec.image_id:
        raise ServiceError(
            f"{spec.name}: this client runs Python {spec.python_version} but the server's "
            f"containers run Python {runtime_py}; pickled functions and arguments cannot "
            f"cross minor versions. Run the client with Python {runtime_py}.", "version")
    if spec.timeout_s <= 0:
        raise ValueError(f"{spec.name}: timeout must be positive")
    runtime = svc.info.runtime
    if spec.ephemeral_disk_mib and runtime != "bwrap":
        raise ValueError(f"{spec.name}: ephemeral_disk= needs the bwrap runtime (this "
                         f"server runs {runtime}); start the server with "
                         "--runtime bwrap or remove ephemeral_disk=")
    why = svc.images.check_function(spec)
    if why:
        raise ValueError(f"{spec.name}: {why}")
    svc.secrets.check_exist(spec.secret_ids)
    svc.volumes.check_mounts(spec)
    fn = svc.functions.create_function(msg.app_id, spec)
    req.reply(function_created=pb.FunctionCreated(function_id=fn.id))


def function_get(svc: Services, req: Request, msg: pb.FunctionGet):
    fn = svc.functions.lookup(msg.app_name, msg.app_id, msg.name)
    req.reply(container_spec=pb.ContainerSpec(function_id=fn.id, app_id=fn.app.id,
                                              spec=fn.spec))


def function_bind(svc: Services, req: Request, msg: pb.FunctionBind):
    fn = svc.functions.bind(msg.function_id, msg.params)
    req.reply(function_created=pb.FunctionCreated(function_id=fn.id))


# -- calls

def call_create(svc: Services, req: Request, msg: pb.CallCreate):
    svc.functions.create_call(req.peer, msg.call_id, msg.function_id, msg.kind,
                              list(msg.inputs), msg.is_generator)
    req.reply(ok=pb.Ok())


def inputs(svc: Services, req: Request, msg: pb.InputBatch):
    call = svc.functions.calls.get(msg.call_id)
    if call is None:
        return  # closed meanwhile: nothing waits for these outputs
    svc.functions.add_inputs(call, list(msg.inputs), last=msg.last)


async def call_get(svc: Services, req: Request, msg: pb.CallGet):
    outputs = await svc.functions.wait_output(msg.call_id, msg.timeout_s)
    req.reply(outputs=pb.OutputBatch(outputs=outputs))


def call_cancel(svc: Services, req: Request, msg: pb.CallCancel):
    if msg.call_id not in svc.functions.calls and svc.store.call(msg.call_id) is None:
        raise LookupError(f"no function call with id {msg.call_id}")
    svc.functions.cancel_call(msg.call_id, msg.terminate_containers)
    req.reply(ok=pb.Ok())


def call_close(svc: Services, req: Request, msg: pb.CallClose):
    svc.functions.close_call(msg.call_id)


# -- containers, as clients see them

def container_list(svc: Services, req: Request, msg: pb.ContainerList):
    out = []
    for c in svc.functions.containers.values():
        if msg.app_id and c.fn.app.id != msg.app_id:
            continue
        out.append(pb.ContainerInfo(
            container_id=c.id, app_id=c.fn.app.id, app_name=c.fn.app.name,
            function_name=c.fn.label, state=c.state, started_at=c.started_at,
            inputs_in_flight=len(c.inflight) + c.web_requests,
            pid=getattr(c.handle, "pid", 0) or 0))
    req.reply(container_list_reply=pb.ContainerListReply(containers=out))


def container_stop(svc: Services, req: Request, msg: pb.ContainerStop):
    svc.functions.stop_container_by_id(msg.container_id)
    req.reply(ok=pb.Ok())


# -- logs

def log_subscribe(svc: Services, req: Request, msg: pb.LogSubscribe):
    app_id = msg.app_id
    if not app_id:
        rows = [r for r in svc.store.apps() if r.name == msg.app_name]
        if not rows:
            raise LookupError(f"no app named {msg.app_name!r}; `ketch app list` shows "
                              "the apps")
        app_id = rows[0].app_id
    logs = svc.logs
    if msg.history:
        lines = logs.history(app_id)
        for start in range(0, len(lines), LOG_BATCH_LINES):
            req.send(pb.Frame(log_batch=pb.LogBatch(
                app_id=app_id, lines=lines[start:start + LOG_BATCH_LINES])))
    live = msg.follow and app_id in svc.functions.apps
    if live:
        def sub(batch):
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
