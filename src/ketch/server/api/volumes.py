"""Volumes: list, read, write (chunks as raw bytes), remove, copy and commit files. Each
first checks that the volume is the caller's workspace's."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..services import Services
from .context import Request


async def volume_list_dir(svc: Services, req: Request, msg: pb.VolumeListDir):
    svc.objects.get(msg.object_id, "volume", req.workspace)
    entries = await svc.volumes.list_dir(msg.object_id, msg.path, msg.recursive)
    req.reply(volume_entries=pb.VolumeEntries(entries=entries))


async def volume_read(svc: Services, req: Request, msg: pb.VolumeRead):
    svc.objects.get(msg.object_id, "volume", req.workspace)
    async with req.conn.bulk:  # the chunk holds its slot until it has (mostly) left
        data, size = await svc.volumes.read(msg.object_id, msg.path, msg.offset, msg.length)
        req.reply(raw=data, volume_data=pb.VolumeData(size=size,
                                                      eof=msg.offset + len(data) >= size))
        await req.conn.drain()


def volume_write(svc: Services, req: Request, msg: pb.VolumeWrite):
    svc.objects.get(msg.object_id, "volume", req.workspace)
    done = svc.volumes.write(req.owner_id, msg, req.raw or [])

    async def reply():
        await done
        req.reply(ok=pb.Ok())

    return reply()


async def volume_remove(svc: Services, req: Request, msg: pb.VolumeRemove):
    svc.objects.get(msg.object_id, "volume", req.workspace)
    await svc.volumes.remove(msg.object_id, msg.path, msg.recursive)
    req.reply(ok=pb.Ok())


async def volume_copy(svc: Services, req: Request, msg: pb.VolumeCopy):
    svc.objects.get(msg.object_id, "volume", req.workspace)
    await svc.volumes.copy(msg.object_id, list(msg.src_paths), msg.dst_path)
    req.reply(ok=pb.Ok())


async def volume_commit(svc: Services, req: Request, msg: pb.VolumeCommit):
    svc.objects.get(msg.object_id, "volume", req.workspace)
    await svc.volumes.commit(msg.object_id)
    req.reply(ok=pb.Ok())
