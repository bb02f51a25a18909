"""Issue 9, items 4 and 5: only uploaded code runs, and volumes and the data dir keep
containers and clients inside their bounds. Each test is an attack that worked before:
a client naming host paths in its spec, a container reading the server's files, archive
members and upload ids that escape, links planted in a volume, setuid files left there,
and a data dir anyone could read."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

from isolation_helpers import needs_bwrap, run_client, start_server

pytestmark = needs_bwrap

# A raw client: an ephemeral app of its own, and `out` to fill with what the server said.
RAW = """
import asyncio, json, os, sys
import ketch
from ketch._client import Client
from ketch.proto import ketch_pb2 as pb

def spec(**fields):
    v = sys.version_info
    return pb.FunctionSpec(name="f", qualname="f", timeout_s=10,
                           python_version=f"{{v.major}}.{{v.minor}}", **fields)

async def attempt(coro):
    try:
        await coro
        return "accepted"
    except Exception as exc:
        return f"refused: {{exc}}"

async def main():
    c = await Client.get()
    app_id = (await c.request(app_create=pb.AppCreate(name="raw", ephemeral=True))
              ).app_created.app_id
    create = lambda s: c.request(function_create=pb.FunctionCreate(app_id=app_id, spec=s))
    out = {{}}
{body}
    print(json.dumps(out))

asyncio.run(main())
"""


def raw(srv, body: str) -> dict:
    return run_client(srv, RAW.format(body=textwrap.indent(textwrap.dedent(body), "    ")))


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("security-code"), "bwrap")
    yield server
    server.stop()


def _module(root: Path, rel: str, text: str):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


APP = """
    import os
    import ketch

    app = ketch.App({name!r})

    @app.function()
    def where() -> dict:
        here = os.path.dirname(__file__)
        beside = os.path.join(here, "beside.txt")
        return {{"file": __file__, "cwd": os.getcwd(),
                 "beside": open(beside).read() if os.path.exists(beside) else None,
                 "root": sorted(os.listdir("/root"))}}
"""


def _run_where(srv, root: Path, module: str) -> dict:
    return run_client(srv, f"""
        import json, sys
        sys.path.insert(0, {str(root)!r})
        import importlib
        mod = importlib.import_module({module!r})
        with mod.app.run():
            print(json.dumps(mod.where.remote()))
    """)


def test_a_spec_naming_host_paths_is_refused(srv):
    # Before: the server bound sys_path's entries (here /etc, or its own data dir with the
    # token and secrets key) into the container, which then read them.
    out = raw(srv, f"""
        out["etc"] = await attempt(create(spec(module="passwd", sys_path=["/etc"])))
        out["data"] = await attempt(create(spec(module="token",
                                                 sys_path=[{str(srv.data_dir)!r}])))
        out["path_module"] = await attempt(create(spec(module="../../etc/passwd")))
        out["missing_bundle"] = await attempt(create(spec(module="m",
                                                           code_bundle="0" * 64)))
    """)
    assert out["etc"].startswith("refused") and "sys_path" in out["etc"], out
    assert out["data"].startswith("refused") and "sys_path" in out["data"], out
    assert out["path_module"].startswith("refused") and "module" in out["path_module"], out
    assert out["missing_bundle"].startswith("refused") and "not uploaded" in \
        out["missing_bundle"], out


def test_a_container_cannot_read_the_servers_files(srv):
    secret_files = [str(srv.data_dir / name) for name in ("token", "secrets.key", "ketch.db")]
    for path in secret_files:
        assert os.path.exists(path), path
    out = run_client(srv, f"""
        import json
        from apps import secure_code
        with secure_code.app.run():
            print(json.dumps(secure_code.try_read.remote({secret_files + ["/etc/shadow"]!r})))
    """)
    for path in secret_files:
        assert out[path].startswith("error"), (path, out[path])
    assert not out["/etc/shadow"].startswith("read ") or out["/etc/shadow"] == "read 0 bytes"


def test_the_module_is_at_root_and_finds_the_files_beside_it(srv, tmp_path):
    # A module in a package: the whole top-level package goes, data files included.
    _module(tmp_path, "sec_pkg/__init__.py", "")
    _module(tmp_path, "sec_pkg/app.py", APP.format(name="sec-pkg"))
    (tmp_path / "sec_pkg" / "beside.txt").write_text("next to the module")
    (tmp_path / "sec_pkg" / ".hidden").write_text("dot-files stay home")
    out = _run_where(srv, tmp_path, "sec_pkg.app")
    assert out["file"] == "/root/sec_pkg/app.py"
    assert out["beside"] == "next to the module"
    assert out["cwd"] == "/root"
    assert not any(p.startswith(str(tmp_path)) for p in out.values() if isinstance(p, str))
    # A module on its own: just its file, at /root/<module>.py.
    _module(tmp_path, "sec_solo.py", APP.format(name="sec-solo"))
    out = _run_where(srv, tmp_path, "sec_solo")
    assert out["file"] == "/root/sec_solo.py"
    assert "sec_solo.py" in out["root"] and "sec_pkg" not in out["root"]


def test_different_code_gets_different_bundles_and_the_same_code_is_kept_once(srv, tmp_path):
    code = srv.data_dir / "code"
    before = {p.name for p in code.iterdir() if not p.name.startswith(".")}
    for name in ("sec_one", "sec_two"):
        _module(tmp_path / name, f"{name}.py", APP.format(name=name.replace("_", "-")))
    _run_where(srv, tmp_path / "sec_one", "sec_one")
    _run_where(srv, tmp_path / "sec_two", "sec_two")
    after_two = {p.name for p in code.iterdir() if not p.name.startswith(".")} - before
    assert len(after_two) == 2
    _run_where(srv, tmp_path / "sec_one", "sec_one")  # the same code again: nothing new
    assert {p.name for p in code.iterdir() if not p.name.startswith(".")} - before == after_two
    for bundle in after_two:
        files = [p for p in (code / bundle).rglob("*") if p.is_file()]
        assert files and all(not f.stat().st_mode & 0o222 for f in files)  # read-only


def _tar_gz(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buf.getvalue()


def _member(name: str, kind=tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def test_archive_members_that_escape_are_refused(srv, tmp_path):
    landing = srv.data_dir / "code" / "escaped.txt"
    bad = {"dotdot": _tar_gz((_member("../escaped.txt"), b"x")),
           "absolute": _tar_gz((_member(str(landing)), b"x")),
           "symlink": _tar_gz((_member("m.py", tarfile.SYMTYPE, "/etc/shadow"), b"")),
           "hardlink": _tar_gz((_member("m.py", tarfile.LNKTYPE, "/etc/shadow"), b"")),
           "device": _tar_gz((_member("m.py", tarfile.CHRTYPE), b""))}
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    out = raw(srv, f"""
        for name in {sorted(bad)!r}:
            data = open(os.path.join({str(tmp_path)!r}, name), "rb").read()
            bundle = await c.put_blob(data)
            out[name] = await attempt(create(spec(module="m", code_bundle=bundle)))
    """)
    for name in bad:
        assert out[name].startswith("refused"), (name, out[name])
    assert "outside" in out["dotdot"] and "outside" in out["absolute"]
    assert "links" in out["symlink"] and "links" in out["hardlink"]
    assert not landing.exists() and not (srv.data_dir / "escaped.txt").exists()
    # The same checks hold without a server, as do the size limits: a small archive that
    # unpacks to more than the limit (a zip bomb) is refused before anything is written.
    from ketch.server.code import MAX_UNPACKED_MIB, unpack

    (tmp_path / "unpacked").mkdir()
    with pytest.raises(ValueError, match="outside"):
        unpack(bad["dotdot"], tmp_path / "unpacked")
    bomb = _tar_gz((_member("big.py"), bytes((MAX_UNPACKED_MIB + 1) * 1024 * 1024)))
    assert len(bomb) < 1024 * 1024
    with pytest.raises(ValueError, match=f"over {MAX_UNPACKED_MIB} MiB"):
        unpack(bomb, tmp_path / "unpacked")
    assert list((tmp_path / "unpacked").iterdir()) == []


def test_source_over_the_limit_is_refused_at_the_client_naming_the_fix(srv, tmp_path):
    from ketch._source import MAX_BUNDLE_MIB

    _module(tmp_path, "sec_big/__init__.py", "")
    _module(tmp_path, "sec_big/app.py", APP.format(name="sec-big"))
    (tmp_path / "sec_big" / "weights.bin").write_bytes(bytes((MAX_BUNDLE_MIB + 1) << 20))
    proc = srv.python(f"""
import sys
sys.path.insert(0, {str(tmp_path)!r})
from sec_big import app
with app.app.run():
    pass
""")
    assert proc.returncode != 0
    assert f"{MAX_BUNDLE_MIB} MiB" in proc.stderr and "Volume" in proc.stderr, proc.stderr


def test_upload_ids_that_name_paths_are_refused(srv, tmp_path):
    # Before: the upload id named <data>/volumes/.uploads/<id>.part, so '../<volume>/x'
    # opened (and truncated) a link the container had planted as x.part: a host file.
    host_file = tmp_path / "host-file"
    host_file.write_text("host data")
    out = run_client(srv, f"""
        import json
        from ketch import _sync
        from ketch._client import Client
        from ketch.proto import ketch_pb2 as pb
        from apps import secure_code

        with secure_code.app.run():
            secure_code.plant_link.remote("evil.part", {str(host_file)!r})

        async def main():
            c = await Client.get()
            vid = await secure_code.vol._id()
            out = {{}}
            for upload_id in (f"../{{vid}}/evil", "../x", "a/b", ".."):
                try:
                    await c.request(raw=b"PWNED", volume_write=pb.VolumeWrite(
                        object_id=vid, upload_id=upload_id, path="x.txt", last=True))
                    out[upload_id] = "accepted"
                except Exception as exc:
                    out[upload_id] = f"refused: {{exc}}"
            try:
                await c.request(blob_put=pb.BlobPut(upload_id="../../x", data=b"x", last=True))
                out["blob"] = "accepted"
            except Exception as exc:
                out["blob"] = f"refused: {{exc}}"
            return out

        print(json.dumps(_sync.run(main())))
    """)
    assert all(v.startswith("refused") and "upload id" in v for v in out.values()), out
    assert host_file.read_text() == "host data"


def test_a_write_never_follows_a_link_planted_in_the_volume(srv, tmp_path):
    host_dir = tmp_path / "host-dir"
    host_dir.mkdir()
    host_file = tmp_path / "host-file"
    host_file.write_text("host data")
    (tmp_path / "up").write_text("uploaded")
    out = run_client(srv, f"""
        import json
        from apps import secure_code
        vol = secure_code.vol
        with secure_code.app.run():
            secure_code.plant_link.remote("linkdir", {str(host_dir)!r})
            secure_code.plant_link.remote("linkfile", {str(host_file)!r})
        out = {{}}
        def attempt(fn):
            try:
                fn()
                return "done"
            except Exception as exc:
                return f"refused: {{exc}}"
        def upload(remote):
            with vol.batch_upload(force=True) as batch:
                batch.put_file({str(tmp_path / "up")!r}, remote)
        out["through_dir"] = attempt(lambda: upload("linkdir/up.txt"))
        out["copy_through"] = attempt(lambda: vol.copy_files(["linkfile"], "linkdir/c.txt"))
        out["read_through"] = attempt(lambda: b"".join(vol.read_file("linkfile")))
        out["remove_through"] = attempt(lambda: vol.remove_file("linkdir/anything"))
        out["onto_link"] = attempt(lambda: upload("linkfile"))  # replaces the link itself
        out["after"] = b"".join(vol.read_file("linkfile")).decode()
        print(json.dumps(out))
    """)
    assert out["through_dir"].startswith("refused") and "symlink" in out["through_dir"]
    assert out["copy_through"].startswith("refused")
    assert out["read_through"].startswith("refused")
    assert out["remove_through"].startswith("refused")
    # A file uploaded where a link was replaces the link: the host file is untouched.
    assert out["onto_link"] == "done" and out["after"] == "uploaded"
    assert host_file.read_text() == "host data"
    assert list(host_dir.iterdir()) == []


def test_a_setuid_file_left_in_a_volume_is_not_setuid_anywhere(srv):
    out = run_client(srv, """
        import json
        from apps import secure_code
        with secure_code.app.run():
            made = secure_code.make_setuid.remote("suid.sh")
        secure_code.vol.copy_files(["suid.sh"], "suid-copy.sh")
        made["vid"] = secure_code.vol.object_id
        print(json.dumps(made))
    """)
    # Inside, the container could set the bit, but its volume mount is nosuid and nodev.
    assert out["mode"] & stat.S_ISUID
    options = out["options"].split(",")
    assert "nosuid" in options and "nodev" in options, out["options"]
    # On the host the bit is taken off once the container has exited; a copy never had it.
    volume = srv.data_dir / "volumes" / out["vid"]
    assert not (volume / "suid-copy.sh").stat().st_mode & (stat.S_ISUID | stat.S_ISGID)
    deadline = time.monotonic() + 20
    while (volume / "suid.sh").stat().st_mode & stat.S_ISUID and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (volume / "suid.sh").stat().st_mode & (stat.S_ISUID | stat.S_ISGID)
    # And nobody but the server's user can reach the volume's directory at all.
    assert stat.S_IMODE(srv.data_dir.stat().st_mode) == 0o700


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_the_data_dir_is_0700_and_its_files_0600_even_when_an_older_server_left_them_open(
        tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    (data / "logs").mkdir(mode=0o755)
    (data / "logs" / "old.jsonl").write_text("[]\n")
    os.chmod(data / "logs" / "old.jsonl", 0o644)
    (data / "ketch.db").touch(mode=0o644)
    os.chmod(data / "ketch.db", 0o644)
    server = start_server(data, "process")
    try:
        run_client(server, """
            import json
            from apps import basic
            with basic.app.run():
                print(json.dumps(basic.square.remote(3)))
        """)
    finally:
        server.stop()
    assert _mode(data) == 0o700
    for name in ("token", "secrets.key", "ketch.db", "proxy-tokens.db"):
        assert _mode(data / name) == 0o600, name
    for sub in ("logs", "blobs"):
        assert _mode(data / sub) == 0o700, sub
    logs = list((data / "logs").iterdir())
    assert len(logs) >= 2 and all(_mode(p) == 0o600 for p in logs), \
        {p.name: oct(_mode(p)) for p in logs}
    assert json.loads((data / "logs" / "old.jsonl").read_text()) == []


IMAGED = """
    import os
    import ketch

    image = ketch.Image.debian_slim(){add}
    app = ketch.App({name!r}, image=image, include_source={include})

    @app.function()
    def where() -> dict:
        beside = os.path.join(os.path.dirname(__file__), "beside.txt")
        return {{"file": __file__, "cwd": os.getcwd(),
                 "beside": open(beside).read() if os.path.exists(beside) else None,
                 "root": sorted(os.listdir("/root"))}}
"""


def test_in_an_image_the_code_sits_beside_what_the_image_put_in_root(srv, tmp_path):
    # Modal's layout (issue 10 item 3): an image's files under /root and the uploaded
    # module side by side, so the module finds them beside its __file__.
    (tmp_path / "beside.txt").write_text("from the image")
    _module(tmp_path, "sec_img.py", IMAGED.format(
        add=f".add_local_file({str(tmp_path / 'beside.txt')!r}, '/root/beside.txt')",
        name="sec-img", include=True))
    out = _run_where(srv, tmp_path, "sec_img")
    assert out["file"] == "/root/sec_img.py" and out["beside"] == "from the image"
    assert {"beside.txt", "sec_img.py"} <= set(out["root"])


def test_include_source_false_uploads_nothing_and_the_image_carries_the_code(srv, tmp_path):
    code = srv.data_dir / "code"
    before = set(os.listdir(code))
    _module(tmp_path, "sec_noinc.py", IMAGED.format(
        add=".add_local_python_source('sec_noinc')", name="sec-noinc", include=False))
    out = _run_where(srv, tmp_path, "sec_noinc")
    assert out["file"] == "/root/sec_noinc.py" and "sec_noinc.py" in out["root"]
    assert set(os.listdir(code)) == before


SCRIPT = """
    import json, sys
    import ketch

    app = ketch.App("sec-script")

    if not ketch.is_local():   # as `with image.imports():` does: only in the container
        ONLY_THERE = "defined in the container's import"

    @app.function()
    def f():
        return [__name__, __file__, ONLY_THERE]

    if __name__ == "__main__":
        with app.run():
            print(json.dumps(f.remote()))
"""


def test_a_script_run_as_main_is_imported_by_its_name_in_the_container(srv, tmp_path):
    # Issue 10 item 4: a `python app.py` script's functions were cloudpickled from the
    # half-imported local module; now, as on Modal, the container imports the file.
    _module(tmp_path, "sec_script.py", SCRIPT)
    proc = subprocess.run([sys.executable, str(tmp_path / "sec_script.py")], env=srv.env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + srv.log()[-3000:]
    assert json.loads(proc.stdout.splitlines()[-1]) == [
        "sec_script", "/root/sec_script.py", "defined in the container's import"]


def test_app_run_in_global_scope_of_a_module_a_container_imports_is_refused():
    # Else an unguarded `with app.run():` in a script would start an app from every
    # container that imports it (Modal refuses it the same way).
    import ketch
    from ketch._context import importing_user_code

    app = ketch.App("sec-unguarded")
    with importing_user_code(), pytest.raises(ketch.exception.InvalidError,
                                              match="__name__"):
        app.run()


def test_the_process_runtime_mounts_volumes_nosuid_and_nodev_too(server):
    out = run_client(server, """
        import json
        from apps import secure_code
        with secure_code.app.run():
            print(json.dumps(secure_code.make_setuid.remote("suid-process.sh")))
    """)
    options = out["options"].split(",")
    assert "nosuid" in options and "nodev" in options, out["options"]


def test_another_connections_upload_cannot_be_written_into(server):
    """An unfinished upload is keyed by its id; a chunk with that id from another
    connection (a guessed or leaked id) is refused, and the upload lands untouched."""
    import uuid

    import ketch
    from ketch import _config, _sync
    from ketch._client import Client
    from ketch.proto import ketch_pb2 as pb

    vol = ketch.Volume.from_name(f"uploads-{uuid.uuid4().hex[:8]}", create_if_missing=True)

    async def main():
        owner = await Client._connect(_config.server_address())
        intruder = await Client._connect(_config.server_address())
        try:
            vid = await vol._id()
            write = dict(object_id=vid, upload_id="shared-upload-id", path="f.txt")
            await owner.request(raw=b"mine ", volume_write=pb.VolumeWrite(**write))
            try:
                await intruder.request(raw=b"theirs", volume_write=pb.VolumeWrite(
                    **write, last=True))
                refused = ""
            except Exception as exc:
                refused = str(exc)
            await owner.request(raw=b"only", volume_write=pb.VolumeWrite(**write, last=True))
            return refused
        finally:
            owner.conn.close()
            intruder.conn.close()

    refused = _sync.run(main())
    assert "belongs to another upload" in refused
    assert b"".join(vol.read_file("f.txt")) == b"mine only"
    ketch.Volume.delete(vol._name)
