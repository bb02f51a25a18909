"""Sandboxes: the client's handlers (create, find, exec, streams, files) and the
supervisor's (its output, exits, acknowledgements), translated to SandboxService calls."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..services import Services
from .context import Request, wait_seconds


# -- clients

async def sandbox_create(svc: Services, req: Request, msg: pb.SandboxCreate):
    sb = await svc.sandboxes.create(req.workspace, msg)
    req.reply(sandbox_info=sb.info())


def sandbox_get(svc: Services, req: Request, msg: pb.SandboxGet):
    req.reply(sandbox_info=svc.sandboxes.find(req.workspace, msg).info())


def sandbox_list(svc: Services, req: Request, msg: pb.SandboxList):
    found = svc.sandboxes.list(req.workspace, msg.app_id, msg.tags, msg.include_finished)
    req.reply(sandbox_list_reply=pb.SandboxListReply(sandboxes=[sb.info() for sb in found]))


def sandbox_set_tags(svc: Services, req: Request, msg: pb.SandboxSetTags):
    svc.sandboxes.set_tags(req.workspace, msg.sandbox_id, msg.tags)
    req.reply(ok=pb.Ok())


async def sandbox_wait(svc: Services, req: Request, msg: pb.SandboxWait):
    sb = await svc.sandboxes.wait(req.workspace, msg.sandbox_id,
                                  wait_seconds("timeout_s", msg.timeout_s))
    req.reply(sandbox_info=sb.info())


def sandbox_terminate(svc: Services, req: Request, msg: pb.SandboxTerminate):
    svc.sandboxes.terminate(req.workspace, msg.sandbox_id)
    req.reply(ok=pb.Ok())


def sandbox_exec(svc: Services, req: Request, msg: pb.SandboxExec):
    exec_id = svc.sandboxes.exec(req.workspace, msg)
    req.reply(sandbox_exec_started=pb.SandboxExecStarted(exec_id=exec_id))


async def sandbox_read(svc: Services, req: Request, msg: pb.SandboxRead):
    reply, data = await svc.sandboxes.read(req.workspace, msg)
    req.reply(data or None, sandbox_data=reply)   # the bytes ride raw after the reply


async def sandbox_stdin(svc: Services, req: Request, msg: pb.SandboxStdin):
    await svc.sandboxes.stdin(req.workspace, msg)
    req.reply(ok=pb.Ok())


async def sandbox_wait_ready(svc: Services, req: Request, msg: pb.SandboxWaitReady):
    sb = await svc.sandboxes.wait_ready(req.workspace, msg.sandbox_id,
                                        wait_seconds("timeout", msg.timeout_s))
    req.reply(sandbox_info=sb.info())


async def sandbox_exec_wait(svc: Services, req: Request, msg: pb.SandboxExecWait):
    wait_seconds("timeout_s", msg.timeout_s)
    req.reply(sandbox_exec_exit=await svc.sandboxes.exec_wait(req.workspace, msg))


async def sandbox_file_op(svc: Services, req: Request, msg: pb.SandboxFileOp):
    req.reply(sandbox_file_result=await svc.sandboxes.file_op(req.workspace, msg))


async def sandbox_snapshot_fs(svc: Services, req: Request, msg: pb.SandboxSnapshotFs):
    image_id = await svc.sandboxes.snapshot_filesystem(req.workspace, msg.sandbox_id)
    req.reply(image_built=pb.ImageBuilt(image_id=image_id, n_steps=1))


async def sandbox_snapshot_dir(svc: Services, req: Request, msg: pb.SandboxSnapshotDir):
    sb = svc.sandboxes.live(req.workspace, msg.sandbox_id)
    sb.touch()
    image_id = await svc.sandboxes.directories.snapshot(sb, msg.path)
    req.reply(image_built=pb.ImageBuilt(image_id=image_id, n_steps=1))


async def sandbox_mount_image(svc: Services, req: Request, msg: pb.SandboxMountImage):
    sb = svc.sandboxes.live(req.workspace, msg.sandbox_id)
    sb.touch()
    if msg.image_id:
        await svc.sandboxes.directories.mount(sb, msg.path, msg.image_id)
    else:
        await svc.sandboxes.directories.unmount(sb, msg.path)
    req.reply(ok=pb.Ok())


def sandbox_connect_token(svc: Services, req: Request, msg: pb.SandboxConnectToken):
    sb = svc.sandboxes.live(req.workspace, msg.sandbox_id)
    gateway = svc.gateway
    if sb.function_container or sb.spec.block_network:
        raise ValueError(f"create_connect_token: {sb.id} " + (
            "is a function's container, not a sandbox" if sb.function_container else
            "was created with block_network=True, which lets no connection in; create it "
            "without block_network"))
    if gateway.listener is None:
        raise LookupError("create_connect_token: the gateway is not listening (see the "
                          "server's log for why); restart the server with a free "
                          "--gateway-address")
    port = msg.port or 8080
    token = gateway.sandbox_connect.tokens.mint(sb, port, msg.user_metadata)
    sb.send(pb.Frame(sandbox_serve_port=pb.SandboxServePort(port=port)))
    url, path_url = gateway.sandbox_connect.urls(gateway.host, gateway.port, sb.id)
    req.reply(sandbox_connect_credentials=pb.SandboxConnectCredentials(
        url=url, path_url=path_url, token=token))


async def tunnel_open(svc: Services, req: Request, msg: pb.TunnelOpen):
    c = svc.functions.containers.get(req.principal.container_id if req.principal else "")
    if c is None or c.fn.app.workspace != req.workspace:
        raise ValueError("ketch.forward() works inside a running function's container only")
    req.reply(sandbox_tunnel=await svc.sandboxes.tunnels.open_forward(
        req.owner_id, c.id, msg.port, not msg.unencrypted))


def tunnel_close(svc: Services, req: Request, msg: pb.TunnelClose):
    svc.sandboxes.tunnels.close_forward(req.owner_id, msg.port)
    req.reply(ok=pb.Ok())


# -- the supervisor inside a sandbox

def supervisor_hello(svc: Services, req: Request, msg: pb.SandboxHello):
    svc.sandboxes.supervisor_hello(req.conn)


def supervisor_data(svc: Services, req: Request, msg: pb.SandboxData):
    svc.sandboxes.supervisor_data(req.conn, msg, req.raw or ())


def supervisor_exec_exit(svc: Services, req: Request, msg: pb.SandboxExecExit):
    svc.sandboxes.supervisor_exec_exit(req.conn, msg)


def supervisor_stdin_ack(svc: Services, req: Request, msg: pb.SandboxStdinAck):
    svc.sandboxes.supervisor_stdin_ack(req.conn, msg)


def supervisor_ready(svc: Services, req: Request, msg: pb.SandboxReady):
    svc.sandboxes.supervisor_ready(req.conn)


def supervisor_file_result(svc: Services, req: Request, msg: pb.SandboxFileResult):
    svc.sandboxes.supervisor_file_result(req.conn, msg)


CLIENT_ROUTES = {
    "sandbox_create": sandbox_create,
    "sandbox_get": sandbox_get,
    "sandbox_list": sandbox_list,
    "sandbox_set_tags": sandbox_set_tags,
    "sandbox_wait": sandbox_wait,
    "sandbox_terminate": sandbox_terminate,
    "sandbox_exec": sandbox_exec,
    "sandbox_read": sandbox_read,
    "sandbox_stdin": sandbox_stdin,
    "sandbox_exec_wait": sandbox_exec_wait,
    "sandbox_wait_ready": sandbox_wait_ready,
    "sandbox_file_op": sandbox_file_op,
    "sandbox_snapshot_fs": sandbox_snapshot_fs,
    "sandbox_snapshot_dir": sandbox_snapshot_dir,
    "sandbox_mount_image": sandbox_mount_image,
    "sandbox_connect_token": sandbox_connect_token,
    "tunnel_open": tunnel_open,
    "tunnel_close": tunnel_close,
}

# What a process host sends: a sandbox's supervisor, or a function's container.
EXEC_ROUTES = {
    "sandbox_data": supervisor_data,
    "sandbox_exec_exit": supervisor_exec_exit,
    "sandbox_stdin_ack": supervisor_stdin_ack,
    "sandbox_file_result": supervisor_file_result,
}

SUPERVISOR_ROUTES = {"sandbox_hello": supervisor_hello, "sandbox_ready": supervisor_ready,
                     **EXEC_ROUTES}
