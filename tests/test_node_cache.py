"""Issue 11, item 5: images and code travel once. Two "nodes" (two LayerCaches with their
own roots and node credentials) pull a layer and a code bundle from a real server: once
each per node however many ask at once, hash-checked, the same files the server holds;
a corrupted archive is caught; hostile archives are refused; a node credential opens
nothing but node fetches, and nothing else can fetch as a node."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest

from ketch import _wire
from ketch._volume_copy import ENV
from ketch.node.fetch import FetchError, ServerLink
from ketch.node.layer_cache import LayerCache
from ketch.node.unpack import LayerUnpack, gnu_tar, unpack_layer
from ketch.node.transfer import NodeTransfer
from ketch.proto import ketch_pb2 as pb
from ketch.server.images.layers import LayerStore
from ketch.server.node_files import pack_layer
from node_fixtures import NodeServer


def _make_layer(images: Path) -> str:
    """A layer made by the image service's own store: files, an executable, a setuid
    file, links (as a root file system has them) and a hard link."""
    store = LayerStore(images)
    scratch = store.scratch()
    fs = scratch / "fs"
    (fs / "usr" / "bin").mkdir(parents=True)
    (fs / "usr" / "bin" / "tool").write_bytes(b"#!/bin/sh\necho hi\n")
    os.chmod(fs / "usr" / "bin" / "tool", 0o755)
    (fs / "usr" / "bin" / "su").write_bytes(b"x")
    os.chmod(fs / "usr" / "bin" / "su", 0o4755)
    (fs / "data.bin").write_bytes(os.urandom(9 * 1024 * 1024))   # over two chunks
    os.link(fs / "data.bin", fs / "data-again.bin")
    os.symlink("usr/bin", fs / "bin")
    os.symlink("/etc/os-release", fs / "os-release")   # absolute: means the image's /etc
    key = hashlib.sha256(os.urandom(16)).hexdigest()
    store.commit(key, scratch, fs, {})
    return key


def _tree(root: Path) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", stat.S_IMODE(st.st_mode),
                            hashlib.sha256(p.read_bytes()).hexdigest())
            else:
                out[rel] = ("dir",)
    return out


def _bundle() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"def f():\n    return 42\n"
        info = tarfile.TarInfo("app.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="module")
def node_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("node-cache")
    images = root / "images"
    key = _make_layer(images)
    srv = NodeServer(root / "server", ["n1", "n2"],
                     extra_env={"KETCH_IMAGES_DIR": str(images)}).start()
    srv.layer_key, srv.images = key, images
    yield srv
    srv.stop()


async def _upload(srv, data: bytes) -> str:
    conn = await _wire.open_connection(srv.address)
    await conn.request(hello=pb.Hello(token=srv.admin_token(), role="client"))
    reply = await conn.request(blob_put=pb.BlobPut(upload_id="bundle1", data=data, last=True))
    conn.close()
    return reply.blob_put_done.blob_id


def test_each_node_pulls_each_layer_once(node_server, tmp_path):
    srv, key = node_server, node_server.layer_key

    async def main():
        bundle = await _upload(srv, _bundle())
        caches = [LayerCache(tmp_path / n, ServerLink(srv.address, srv.node_token(n), n))
                  for n in ("n1", "n2")]
        # Each node asked three times at once, for the layer and the code.
        asks = [c.ensure_layers([key]) for c in caches for _ in range(3)]
        asks += [c.ensure_code(bundle) for c in caches for _ in range(3)]
        results = await asyncio.gather(*asks)
        for c in caches:
            assert c.pulls == {("layer", key): 1, ("code", bundle): 1}
            assert await c.ensure_layers([key]) == [c.layer_path(key)]   # cached: no pull
            assert c.pulls[("layer", key)] == 1
            assert c.layer_keys() == {key}
        # The same tree as the server's layer: modes (setuid too), links, hard links.
        assert _tree(results[0][0]) == _tree(srv.images / "layers" / key / "fs")
        local = results[0][0]
        assert os.stat(local / "data.bin").st_ino == os.stat(local / "data-again.bin").st_ino
        code = results[6]
        assert (code / "app.py").read_text().endswith("return 42\n")
        assert not os.access(code / "app.py", os.W_OK) or os.geteuid() == 0
        assert stat.S_IMODE((code / "app.py").stat().st_mode) == 0o444
        # An agent that restarts finds its cache: nothing is pulled again.
        again = LayerCache(tmp_path / "n1", ServerLink(srv.address, srv.node_token("n1"), "n1"))
        await again.ensure_layers([key])
        await again.ensure_code(bundle)
        assert not again.pulls
        for c in caches + [again]:
            await c.link.close()

    asyncio.run(main())


def test_a_corrupted_archive_is_caught(node_server, tmp_path):
    srv, key = node_server, node_server.layer_key

    async def main():
        link = ServerLink(srv.address, srv.node_token("n1"), "n1")
        await LayerCache(tmp_path / "a", link).ensure_layers([key])   # packs the archive
        archive = srv.images / "archives" / f"{key}.tar"
        with open(archive, "r+b") as f:      # one flipped byte in the server's copy
            f.seek(5 * 1024 * 1024)
            byte = f.read(1)
            f.seek(5 * 1024 * 1024)
            f.write(bytes([byte[0] ^ 0xFF]))
        cache = LayerCache(tmp_path / "b", link)
        with pytest.raises(FetchError, match="hashing to"):
            await cache.ensure_layers([key])
        assert not cache.has_layer(key) and not list(cache.tmp.iterdir())
        archive.unlink()   # the server packs it again on the next ask
        (srv.images / "archives" / f"{key}.sha256").unlink()
        assert await cache.ensure_layers([key]) == [cache.layer_path(key)]
        with pytest.raises(ValueError, match="64 hex digits"):
            await cache.ensure_layers(["../../etc/passwd"])
        with pytest.raises(FetchError, match="no layer"):
            await cache.ensure_layers(["0" * 64])
        await link.close()

    asyncio.run(main())


def test_node_credentials_open_only_node_sessions(node_server):
    srv = node_server

    async def hello(**fields):
        conn = await _wire.open_connection(srv.address)
        try:
            await conn.request(hello=pb.Hello(**fields))
            return conn
        except _wire.RemoteFailure as exc:
            conn.close()
            return str(exc)

    async def main():
        token = srv.node_token("n1")
        assert "only a node agent's own credential" in await hello(token=token, role="client")
        assert "only a node agent's own credential" in await hello(
            token=token, role="container", container_id="ct-1")
        assert "only a node agent's own credential" in await hello(
            token=token, role="node", node_id="n2")
        # The admin token is no node either, and a client cannot fetch as one.
        assert "only a node agent's own credential" in await hello(
            token=srv.admin_token(), role="node", node_id="n1")
        admin = await hello(token=srv.admin_token(), role="client")
        with pytest.raises(_wire.RemoteFailure, match="cannot send 'node_fetch'"):
            await admin.request(node_fetch=pb.NodeFetch(kind="layer", key=srv.layer_key))
        admin.close()
        node = await hello(token=token, role="node", node_id="n1")
        with pytest.raises(_wire.RemoteFailure, match="cannot send 'dict_request'"):
            await node.request(dict_request=pb.DictRequest())
        with pytest.raises(_wire.RemoteFailure, match="'layer' or 'code'"):
            await node.request(node_fetch=pb.NodeFetch(kind="blob", key="0" * 64))
        node.close()

    asyncio.run(main())


def _tar(tmp: Path, *members: tuple[tarfile.TarInfo, bytes]) -> Path:
    path = tmp / "evil.tar"
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return path


def _info(name, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


# Both ways a node unpacks: GNU tar beside a checker, or tarfile where there is no GNU tar.
UNPACKERS = [pytest.param(True, id="gnu-tar", marks=pytest.mark.skipif(
    gnu_tar() is None, reason="no GNU tar here")), pytest.param(False, id="tarfile")]


@pytest.mark.parametrize("use_gnu_tar", UNPACKERS)
@pytest.mark.parametrize("members, why", [
    ([(_info("../escape"), b"x")], "outside"),
    ([(_info("/etc/escape"), b"x")], "outside"),
    ([(_info("shadow", tarfile.LNKTYPE, "../../../../etc/shadow"), b"")], "hard link"),
    ([(_info("etc", tarfile.SYMTYPE, "/etc"), b""), (_info("etc/escape"), b"x")], "outside"),
    ([(_info("up", tarfile.SYMTYPE, "/"), b""),
      (_info("shadow", tarfile.LNKTYPE, "up/etc/shadow"), b"")], "outside"),
    ([(_info("here", tarfile.SYMTYPE, "/etc/escape"), b""), (_info("here"), b"x")],
     "replace a link"),
    ([(_info("a"), b"x"), (_info("b", tarfile.LNKTYPE, "dev/mem"), b"")], "hard link"),
])
def test_hostile_layer_archives_are_refused(tmp_path, members, why, use_gnu_tar):
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(ValueError, match=why):
        unpack_layer(_tar(tmp_path, *members), into, use_gnu_tar)
    assert not Path("/etc/escape").exists()


@pytest.mark.parametrize("use_gnu_tar", UNPACKERS)
def test_device_files_are_left_out_and_the_tree_is_the_servers(node_server, tmp_path,
                                                               use_gnu_tar):
    into = tmp_path / "into"
    into.mkdir()
    dev = _info("dev/mem", tarfile.CHRTYPE)
    dev.devmajor, dev.devminor = 1, 1
    fifo = _info("run/fifo", tarfile.FIFOTYPE)
    unpack_layer(_tar(tmp_path, (dev, b""), (fifo, b""), (_info("ok"), b"fine")), into,
                 use_gnu_tar)
    assert not (into / "dev" / "mem").exists() and not (into / "run" / "fifo").exists()
    assert (into / "ok").read_bytes() == b"fine"
    # The server's packed archive of a whole layer (links, setuid, a hard link).
    key = node_server.layer_key
    asyncio.run(LayerCache(tmp_path / "n", ServerLink(
        node_server.address, node_server.node_token("n1"), "n1")).ensure_layers([key]))
    whole = tmp_path / "whole"
    whole.mkdir()
    unpack_layer(node_server.images / "archives" / f"{key}.tar", whole, use_gnu_tar)
    assert _tree(whole) == _tree(node_server.images / "layers" / key / "fs")


def test_a_truncated_layer_is_refused_and_never_visible(node_server, tmp_path):
    """The archive ends early (a server cut off mid-layer): tar and the checker see the
    cut, nothing is renamed into place, the scratch is gone."""
    srv, key = node_server, node_server.layer_key
    archive = srv.images / "archives" / f"{key}.tar"

    async def main():
        link = ServerLink(srv.address, srv.node_token("n2"), "n2")
        await LayerCache(tmp_path / "a", link).ensure_layers([key])   # packs the archive
        cut = tmp_path / "cut.tar"
        cut.write_bytes(archive.read_bytes()[:3 * 1024 * 1024 + 100])
        for use_gnu_tar in ([True] if gnu_tar() else []) + [False]:
            into = tmp_path / f"into-{use_gnu_tar}"
            into.mkdir()
            with pytest.raises(ValueError):
                unpack_layer(cut, into, use_gnu_tar)
            # Aborted mid-archive (a cancelled pull): tar is gone, and a write still in
            # flight is refused rather than sent to a closed descriptor.
            (tmp_path / f"into-{use_gnu_tar}-2").mkdir()
            unpack = LayerUnpack(tmp_path / f"into-{use_gnu_tar}-2", use_gnu_tar)
            unpack.write(archive.read_bytes()[:1024 * 1024])
            unpack.abort()
            assert unpack.proc is None or unpack.proc.poll() is not None
            with pytest.raises(ValueError, match="stopped"):
                unpack.write(b"more")
        await link.close()

    asyncio.run(main())


@pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts and trusted.* attributes need root")
@pytest.mark.parametrize("use_gnu_tar", UNPACKERS)
def test_a_snapshot_layer_keeps_its_whiteouts_and_opaque_directories(tmp_path, use_gnu_tar):
    """What overlayfs reads in a sandbox's upper directory survives the tar a node and the
    server exchange: a whiteout (a 0/0 device: a deleted file) and an opaque directory
    (one deleted and made again); no other extended attribute travels."""
    fs = tmp_path / "fs"
    (fs / "etc" / "again").mkdir(parents=True)
    os.mknod(fs / "etc" / "debian_version", 0o600 | stat.S_IFCHR, os.makedev(0, 0))
    os.setxattr(fs / "etc" / "again", "trusted.overlay.opaque", b"y")
    os.setxattr(fs / "etc", "trusted.overlay.redirect", b"/elsewhere")
    (fs / "etc" / "again" / "new").write_text("made again")
    pack_layer(fs, tmp_path / "l.tar", tmp_path / "l.sha256", "")
    into = tmp_path / "into"
    into.mkdir()
    unpack_layer(tmp_path / "l.tar", into, use_gnu_tar)
    gone = (into / "etc" / "debian_version").lstat()
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == os.makedev(0, 0)
    for kind in ("trusted", "user"):   # host root's overlay, a user namespace's
        assert os.getxattr(into / "etc" / "again", f"{kind}.overlay.opaque") == b"y"
    assert "trusted.overlay.redirect" not in os.listxattr(into / "etc")
    assert (into / "etc" / "again" / "new").read_text() == "made again"


def test_a_launch_made_on_the_server_is_localized_for_the_node(node_server, tmp_path):
    """NodeTransfer, as the agent uses it: server paths in, this node's paths out."""
    srv, key = node_server, node_server.layer_key

    async def main():
        bundle = await _upload(srv, _bundle())
        run = tmp_path / "run"
        transfer = NodeTransfer(tmp_path / "node", srv.address, srv.node_token("n2"), "n2",
                                "s" * 32, run / "server.sock", lambda cid: run / cid)
        run.mkdir()
        port = await transfer.start("127.0.0.1")
        fields = await transfer.localize({
            "container_id": "ct-1", "env": {"A": "1"},
            "image_layers": [str(srv.images / "layers" / key / "fs")],
            "code_dir": str(srv.data_dir / "code" / bundle),
            "mounts": [{"source": "/srv/volumes/vo-1", "target": "/data",
                        "read_only": False, "object_id": "vo-1"},
                       {"source": "/srv/other", "target": "/ro", "read_only": True}]})
        assert fields["image_layers"] == [str(transfer.cache.layer_path(key))]
        assert Path(fields["code_dir"], "app.py").is_file()
        copy = Path(fields["mounts"][0]["source"])
        assert copy.is_dir() and not list(copy.iterdir())
        assert fields["mounts"][1]["source"] == "/srv/other"   # not a volume: as it was
        assert json.loads(fields["env"][ENV]) == [
            {"path": "/data", "object_id": "vo-1", "read_only": False}]
        assert fields["env"]["A"] == "1"
        assert transfer.stats() == {f"layer:{key}": 1, f"code:{bundle}": 1}
        assert transfer._known_web_dir("ct-1") == run / "ct-1"
        assert transfer._known_web_dir("ct-other") is None   # not started here
        transfer.finished("ct-1")
        assert not copy.exists() and transfer._known_web_dir("ct-1") is None
        assert port and (run / "server.sock").exists()
        await transfer.close()

    asyncio.run(main())
