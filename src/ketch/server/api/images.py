"""Images: build (with progress pushed to the caller), list, remove, name."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..services import Services
from .context import Request


async def image_build(svc: Services, req: Request, msg: pb.ImageBuild):
    dropped = 0

    def log(step: int, n: int, title: str, text: str, state: str):
        nonlocal dropped
        if req.closed:
            return
        if not state and req.lagging:  # output lines may go; a step's state must not
            dropped += 1
            return
        if dropped and not state:
            text = f"[ketch: {dropped} lines of output dropped: read too slowly]\n{text}"
            dropped = 0
        req.send(pb.Frame(image_build_log=pb.ImageBuildLog(
            build_id=msg.build_id, step=step, n_steps=n, title=title, text=text,
            state=state)))

    req.reply(image_built=await svc.images.build(req.workspace, msg.image, msg.force, log))


def image_list(svc: Services, req: Request, msg: pb.ImageList):
    req.reply(image_list_reply=svc.images.list(req.workspace))


def image_remove(svc: Services, req: Request, msg: pb.ImageRemove):
    removed = svc.images.remove(req.workspace, msg.image_id, msg.all,
                                busy=svc.functions.images_in_use(req.workspace))
    req.reply(image_list_reply=pb.ImageListReply(
        images=[pb.ImageInfo(image_id=i) for i in removed]))


def image_publish(svc: Services, req: Request, msg: pb.ImagePublish):
    name = svc.images.publish(req.workspace, msg.name, msg.image_id)
    req.reply(image_named=pb.ImageNamed(name=name, image_id=msg.image_id))


def image_from_name(svc: Services, req: Request, msg: pb.ImageFromName):
    name, image_id = svc.images.named(req.workspace, msg.name)
    req.reply(image_named=pb.ImageNamed(name=name, image_id=image_id))
