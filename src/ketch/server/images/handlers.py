"""Request handlers for images: build (with progress pushed to the caller), list, remove."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from .errors import ImageBuildError


async def image_build(session, frame, msg: pb.ImageBuild):
    conn = session.conn

    def log(step: int, n: int, title: str, text: str, state: str):
        if not conn.closed:
            conn.send(pb.Frame(image_build_log=pb.ImageBuildLog(
                build_id=msg.build_id, step=step, n_steps=n, title=title, text=text,
                state=state)))

    try:
        built = await session.server.images.build(msg.image, msg.force, log)
    except ImageBuildError as exc:
        conn.reply_error(frame, "execution", str(exc))
        return
    conn.reply(frame, image_built=built)


def image_list(session, frame, msg: pb.ImageList):
    session.conn.reply(frame, image_list_reply=session.server.images.list())


def image_remove(session, frame, msg: pb.ImageRemove):
    removed = session.server.images.remove(msg.image_id, msg.all)
    session.conn.reply(frame, image_list_reply=pb.ImageListReply(
        images=[pb.ImageInfo(image_id=i) for i in removed]))


HANDLERS = {
    "image_build": image_build,
    "image_list": image_list,
    "image_remove": image_remove,
}
