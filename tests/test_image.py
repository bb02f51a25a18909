"""Images defined in code: real builds into cached layers, containers that run in them,
failing steps, local files, registry pulls, and the process backend's venv images."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port, wait_for_port
from isolation_helpers import IMAGES_DIR, needs_bwrap, run_client, start_server

BUILD = """
    import json, os, sys
    import ketch
    from ketch import _sync
    from ketch._client import Client
    from ketch.proto import ketch_pb2 as pb

    def build(img):
        c = _sync.run(Client.get())
        r = _sync.run(c.request(image_build=pb.ImageBuild(
            build_id="test", image=pb.ImageDef(steps=img._steps))))
        return [r.image_built.image_id, r.image_built.n_cached, r.image_built.n_steps]

    def error_of(fn, *args):
        try:
            fn(*args)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return None
"""


def nonce() -> str:
    return os.urandom(4).hex()


@pytest.fixture(scope="module")
def bwrap_server(tmp_path_factory):
    if not shutil.which("bwrap"):
        pytest.skip("needs bubblewrap")
    srv = start_server(tmp_path_factory.mktemp("image-server"), "bwrap")
    yield srv
    srv.stop()


@needs_bwrap
def test_function_runs_in_an_image_built_from_code(bwrap_server):
    out = run_client(bwrap_server, """
        import json, ketch
        from apps import imaged
        with imaged.app.run():
            out = imaged.describe.remote()
            out["cls"] = imaged.Reader().marker_and_cwd.remote()
            print(json.dumps(out))
    """)
    assert out.pop("cls") == ["from-run-commands", "/srv/work"]  # @app.cls takes App's image
    assert out == {"python": "3.11", "marker": "from-run-commands",
                   "greeting": "hello from the image", "cwd": "/srv/work",
                   "made_by_function": "from run_function", "debian": True,
                   "only_in_image": "image", "host_tests_visible": False}


@needs_bwrap
def test_unchanged_image_is_cached_and_a_changed_step_rebuilds_from_there(bwrap_server):
    tag = nonce()
    out = run_client(bwrap_server, BUILD + f"""
    base = ketch.Image.debian_slim()
    a = base.run_commands("echo {tag} > /a").run_commands("echo after > /b")
    b = base.run_commands("echo {tag} > /a").run_commands("echo changed > /b")
    print(json.dumps([build(a), build(a), build(b), build(a)]))
    """)
    first, again, changed, back = out
    assert first[1:] == [1, 3]           # only the Debian base was cached
    assert again == [first[0], 3, 3]     # unchanged: every step cached, same image
    assert changed[1:] == [2, 3] and changed[0] != first[0]  # only the last step rebuilt
    assert back == again


def layers_titled(tag: str) -> list[str]:
    """The cached layers whose step mentions tag. (Other test workers build into the same
    cache meanwhile, so "no new layer" is asked of this test's own steps.)"""
    found = []
    for layer in (IMAGES_DIR / "layers").iterdir():
        try:
            if tag in json.loads((layer / "layer.json").read_text())["title"]:
                found.append(layer.name)
        except FileNotFoundError:
            pass
    return found


@needs_bwrap
def test_failing_step_names_itself_shows_output_and_leaves_no_layer(bwrap_server):
    tag = nonce()
    out = run_client(bwrap_server, BUILD + f"""
    img = ketch.Image.debian_slim().run_commands("echo about to fail {tag}", "exit 3",
                                                 "echo never")
    print(json.dumps(error_of(build, img)))
    """)
    assert out.startswith("ExecutionError: image build failed at step 2/2 (run_commands")
    assert "exited with code 3" in out
    assert f"about to fail {tag}" in out and "never" not in out.split("Its last output:")[1]
    assert layers_titled(tag) == []
    pid = str(bwrap_server.proc.pid)
    assert not [d for d in os.listdir(IMAGES_DIR / "tmp") if d.startswith(pid + "-")]


def test_build_step_after_mounted_files_is_refused(tmp_path):
    import ketch
    from ketch.exception import InvalidError

    (tmp_path / "f.txt").write_text("x")
    img = ketch.Image.debian_slim().add_local_file(tmp_path / "f.txt", "/data/f.txt")
    with pytest.raises(InvalidError, match="copy=True"):
        img.pip_install("six")
    # copy=True bakes the file into a layer, so steps may follow.
    ketch.Image.debian_slim().add_local_file(tmp_path / "f.txt", "/f", copy=True) \
        .pip_install("six")


@needs_bwrap
def test_local_files_dirs_and_python_source(bwrap_server, tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "keep.txt").write_text("kept")
    (data / "skip.log").write_text("skipped")
    (data / "sub" / "deep.txt").write_text("deep")
    lib = tmp_path / "libs" / "mylib_for_test"
    lib.mkdir(parents=True)
    (lib / "__init__.py").write_text("VALUE = 42\n")
    (lib / "__pycache__").mkdir()
    (lib / "__pycache__" / "junk.pyc").write_bytes(b"junk")
    (tmp_path / "app_files.py").write_text(f"""
import os, sys
sys.path.insert(0, {str(tmp_path / 'libs')!r})
import ketch

image = (ketch.Image.debian_slim()
         .add_local_file({str(data / 'keep.txt')!r}, "/etc/copied.txt", copy=True)
         .run_commands("cat /etc/copied.txt > /etc/copied-then-run.txt")
         .add_local_dir({str(data)!r}, "/data", ignore=["*.log"])
         .add_local_python_source("mylib_for_test"))
app = ketch.App("files", image=image)

@app.function()
def look():
    import mylib_for_test
    found = []
    for root, dirs, files in os.walk("/data"):
        found += [os.path.relpath(os.path.join(root, f), "/data") for f in files]
    return {{"data": sorted(found), "copied": open("/etc/copied-then-run.txt").read(),
             "lib": mylib_for_test.VALUE,
             "junk": os.path.exists("/root/mylib_for_test/__pycache__/junk.pyc")}}

@app.function()
def read_kept():
    return open("/data/keep.txt").read()
""")
    code = f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        import ketch, app_files
        with app_files.app.run():
            print(json.dumps(app_files.look.remote()))
    """
    out = run_client(bwrap_server, code)
    assert out == {"data": ["keep.txt", "sub/deep.txt"], "copied": "kept", "lib": 42,
                   "junk": False}
    # A changed local file reaches the next run.
    (data / "sub" / "deep.txt").unlink()
    (data / "new.txt").write_text("new")
    out = run_client(bwrap_server, code)
    assert out["data"] == ["keep.txt", "new.txt"]
    # ...and an edit between two runs in one process too.
    out = run_client(bwrap_server, f"""
        import json, pathlib, sys
        sys.path.insert(0, {str(tmp_path)!r})
        import app_files
        with app_files.app.run():
            before = app_files.read_kept.remote()
        pathlib.Path({str(data / 'keep.txt')!r}).write_text("edited")
        with app_files.app.run():
            print(json.dumps([before, app_files.read_kept.remote()]))
    """)
    assert out == ["kept", "edited"]


@needs_bwrap
def test_pip_uv_requirements_and_apt_install(bwrap_server, tmp_path):
    (tmp_path / "requirements.txt").write_text("tomli==2.0.1\n")
    out = run_client(bwrap_server, f"""
        import json, ketch
        app = ketch.App("installs")
        image = (ketch.Image.debian_slim().apt_install("jq").pip_install("six==1.16.0")
                 .uv_pip_install("idna==3.7")
                 .pip_install_from_requirements({str(tmp_path / "requirements.txt")!r}))

        @app.function(image=image, serialized=True)
        def check():
            import shutil, idna, six, tomli
            return {{"six": six.__version__, "jq": shutil.which("jq"),
                     "idna": idna.__version__, "tomli": tomli.__version__,
                     "uv_left_behind": shutil.which("uv") or ""}}

        with app.run():
            print(json.dumps(check.remote()))
    """)
    assert out == {"six": "1.16.0", "jq": "/usr/bin/jq", "idna": "3.7", "tomli": "2.0.1",
                   "uv_left_behind": ""}


# ---------------------------------------------------------------- from_registry

def _push(base: str, repo: str, tag: str, layers: list[tuple[bytes, str]], config: dict):
    """Pushes an image to a registry with the v2 HTTP API (monolithic uploads)."""
    def put_blob(data: bytes) -> dict:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        req = urllib.request.Request(f"{base}/v2/{repo}/blobs/uploads/", method="POST")
        with urllib.request.urlopen(req) as resp:
            location = resp.headers["Location"]
        if location.startswith("/"):
            location = base + location
        sep = "&" if "?" in location else "?"
        req = urllib.request.Request(f"{location}{sep}digest={digest}", data=data,
                                     method="PUT",
                                     headers={"Content-Type": "application/octet-stream"})
        urllib.request.urlopen(req).close()
        return {"digest": digest, "size": len(data)}

    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   **put_blob(json.dumps(config).encode())},
        "layers": [{"mediaType": media, **put_blob(data)} for data, media in layers],
    }
    req = urllib.request.Request(
        f"{base}/v2/{repo}/manifests/{tag}", data=json.dumps(manifest).encode(),
        method="PUT", headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    urllib.request.urlopen(req).close()


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    exe = shutil.which("docker-registry")
    if not exe:
        pytest.skip("needs docker-registry (apt-get install docker-registry)")
    d = tmp_path_factory.mktemp("registry")
    port = free_port()
    (d / "config.yml").write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {d / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n")
    log = open(d / "registry.log", "wb")
    proc = subprocess.Popen([exe, "serve", str(d / "config.yml")], stdout=log, stderr=log)
    try:
        wait_for_port(port)
        yield f"localhost:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def debian_base_tar(srv) -> bytes:
    """The cached Debian base layer (built through srv if need be) as a tar, to push."""
    base_id = run_client(srv, BUILD + """
    print(json.dumps(build(ketch.Image.debian_slim())[0]))
    """)
    record = json.loads((IMAGES_DIR / "images" / f"{base_id}.json").read_text())
    base_fs = IMAGES_DIR / "layers" / record["layers"][0] / "fs"
    return subprocess.run(["tar", "-C", str(base_fs), "--numeric-owner", "-cf", "-", "."],
                          capture_output=True, check=True).stdout


@pytest.fixture(scope="module")
def pushed_debian(bwrap_server, registry) -> tuple[str, str]:
    """An image in the registry: the cached Debian base as layer one, and a second layer
    that adds /etc/from-layer-two (its content the tag returned) and deletes
    /etc/debian_version (an OCI whiteout); Env FROM_REGISTRY_CONFIG=yes, WorkingDir /etc."""
    layer1 = debian_base_tar(bwrap_server)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tag = nonce().encode()
        for name, data in (("etc/from-layer-two", tag), ("etc/.wh.debian_version", b"")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    layer2 = gzip.compress(buf.getvalue(), compresslevel=1)
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin",
                                 "FROM_REGISTRY_CONFIG=yes"], "WorkingDir": "/etc"},
              "rootfs": {"type": "layers", "diff_ids": []}}
    _push(f"http://{registry}", "ketch-test/debian", "v1",
          [(layer1, "application/vnd.oci.image.layer.v1.tar"),
           (layer2, "application/vnd.oci.image.layer.v1.tar+gzip")], config)
    return f"{registry}/ketch-test/debian:v1", tag.decode()


@needs_bwrap
def test_from_registry_pulls_layers_with_whiteouts_and_config(bwrap_server, pushed_debian):
    ref, tag = pushed_debian
    out = run_client(bwrap_server, f"""
        import json, os, ketch
        app = ketch.App("pulled")
        image = ketch.Image.from_registry("{ref}")

        @app.function(image=image, serialized=True)
        def look():
            return {{"layer_two": open("/etc/from-layer-two").read(),
                     "whiteout_removed": not os.path.exists("/etc/debian_version"),
                     "env": os.environ.get("FROM_REGISTRY_CONFIG"), "cwd": os.getcwd()}}

        with app.run():
            print(json.dumps(look.remote()))
    """)
    assert out == {"layer_two": tag, "whiteout_removed": True, "env": "yes", "cwd": "/etc"}


@needs_bwrap
def test_dockerfile_builds_as_steps_and_sandboxes_run_its_entrypoint(bwrap_server,
                                                                    pushed_debian, tmp_path):
    ref, _ = pushed_debian
    (tmp_path / "data" / "sub").mkdir(parents=True)
    (tmp_path / "data" / "sub" / "keep.txt").write_text("kept")
    (tmp_path / "data" / "skip.log").write_text("skipped")
    (tmp_path / ".dockerignore").write_text("# comment\ndata/*.log\n")
    (tmp_path / "tool.sh").write_text('#!/bin/sh\necho "tool:$*:$GREETING"\n')
    (tmp_path / "Dockerfile").write_text(textwrap.dedent("""\
        ARG BASE
        FROM ${BASE} AS build
        RUN mkdir -p /out/lib && echo built > /out/lib/artifact
        FROM ${BASE}
        ARG GREETING=hello
        ENV GREETING=$GREETING PATH="/opt/tool/bin:$PATH"
        WORKDIR /srv
        COPY data/ ./data/
        COPY tool.sh /opt/tool/bin/tool
        COPY --from=build /out/lib /srv/lib
        RUN ["chmod", "+x", "/opt/tool/bin/tool"]
        # the base's own environment is there, and the ARG too
        RUN echo "$GREETING from run" > from-run \\
            && test "$FROM_REGISTRY_CONFIG" = yes
        SHELL ["/bin/bash", "-c"]
        RUN [[ -n "$BASH_VERSION" ]] && echo bash > shell
        RUN test "$BUILD_TOKEN" = s3cret && echo seen > token-seen
        EXPOSE 8000
        ENTRYPOINT ["tool"]
        CMD ["default-arg"]
        """))
    # A RUN that fails names its Dockerfile, line and instruction, not only the step.
    (tmp_path / "Broken.dockerfile").write_text(
        "ARG BASE\nFROM ${BASE}\n# fails below\nRUN echo half-way && exit 4\n")
    out = run_client(bwrap_server, f"""
        import json, os, warnings, ketch
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            image = ketch.Image.from_dockerfile(
                {str(tmp_path / "Dockerfile")!r}, context_dir={str(tmp_path)!r},
                build_args={{"BASE": "{ref}", "GREETING": "hi"}},
                secrets=[ketch.Secret.from_dict({{"BUILD_TOKEN": "s3cret"}})])
        app = ketch.App("dockerfile", image=image)

        @app.function(serialized=True)
        def look():
            found = [os.path.relpath(os.path.join(r, f), "/srv/data")
                     for r, _, fs in os.walk("/srv/data") for f in fs]
            return {{"data": found, "run": open("from-run").read().strip(),
                     "shell": open("/srv/shell").read().strip(), "cwd": os.getcwd(),
                     "path": os.environ["PATH"], "greeting": os.environ["GREETING"],
                     "token_seen": open("token-seen").read().strip(),
                     "from_stage": open("/srv/lib/artifact").read().strip(),
                     "token_kept": "BUILD_TOKEN" in os.environ}}

        def sandbox_says(*args, image=image):
            sb = ketch.Sandbox.create(*args, app=app, image=image)
            sb.wait()
            return sb.stdout.read().strip()

        def error_of(fn, *args):
            try:
                fn(*args)
            except Exception as exc:
                return f"{{type(exc).__name__}}: {{exc}}"

        scratch = ketch.Image.from_scratch().add_local_file({str(tmp_path / "tool.sh")!r},
                                                           "/bin/tool", copy=True)

        with app.run():
            out = look.remote()
            box = ketch.Sandbox.create(app=app, image=ketch.Image.debian_slim())
            box.exec("true").wait()   # started
            box.mount_image("/mnt/scratch", scratch)
            out["scratch"] = box.exec("ls", "-R", "/mnt/scratch").stdout.read().split()
            box.terminate()
            out["scratch_runs"] = error_of(lambda: ketch.Sandbox.create(app=app, image=scratch))
            out["scratch_id"] = scratch.object_id
            image.publish("ketch-test/tool")   # :latest
            out["sandboxes"] = [sandbox_says(), sandbox_says("a", "b"),
                                sandbox_says(image=ketch.Image.from_name("ketch-test/tool"))]
        broken = ketch.Image.from_dockerfile({str(tmp_path / "Broken.dockerfile")!r},
                                             build_args={{"BASE": "{ref}"}})
        out["broken"] = error_of(broken.hydrate).splitlines()[0]
        out["from_id"] = ketch.Image.from_id(image.object_id).object_id == image.object_id
        out["errors"] = [error_of(ketch.Image.from_name("ketch-test/tool:v2").hydrate),
                         error_of(ketch.Image.from_id, "im-nosuchimage")]
        out["warned"] = [str(w.message) for w in caught]
        print(json.dumps(out))
    """)
    scratch_id = out.pop("scratch_id")
    assert out.pop("broken") == (
        "ExecutionError: image build failed at step 2/2 (run_commands echo half-way && exit 4), "
        f"from {tmp_path / 'Broken.dockerfile'} line 4: RUN echo half-way && exit 4: exited "
        "with code 4"), out
    assert out.pop("errors") == [
        "NotFoundError: Image.from_name('ketch-test/tool:v2'): this workspace has published "
        "no image of that name (image.publish(name) names one)",
        "NotFoundError: Image.from_id('im-nosuchimage'): this workspace has no such image on "
        "this server (`ketch image list` shows them)"]
    assert out.pop("warned") == [f"{tmp_path / 'Dockerfile'}: ketch ignores EXPOSE (line 18): "
                                 "they describe the image without changing what runs in it"]
    assert out == {"data": ["sub/keep.txt"], "run": "hi from run", "shell": "bash",
                   "cwd": "/srv", "path": "/opt/tool/bin:/usr/local/bin:/usr/bin:/bin",
                   "greeting": "hi", "from_id": True, "token_seen": "seen", "token_kept": False,
                   "from_stage": "built",
                   "scratch": ["/mnt/scratch:", "bin", "/mnt/scratch/bin:", "tool"],
                   "scratch_runs": f"InvalidError: Sandbox.create: its image {scratch_id} has no "
                   "Python, which a container needs (an Image.from_scratch or snapshot_directory "
                   "image is for Sandbox.mount_image); start the image from debian_slim or "
                   "from_registry",
                   "sandboxes": ["tool:default-arg:hi", "tool:a b:hi", "tool:default-arg:hi"]}
    # the CLI shows the published name, and removes the image by it
    listed = json.loads(bwrap_server.ketch("image", "list", "--json").stdout)["images"]
    named = [i["image_id"] for i in listed if "ketch-test/tool:latest" in i["names"]]
    assert len(named) == 1, listed
    removed = bwrap_server.ketch("image", "rm", "ketch-test/tool")
    assert removed.returncode == 0 and named[0] in removed.stdout, removed.stderr


@needs_bwrap
def test_uv_sync_and_poetry_install_the_locked_dependencies(bwrap_server):
    projects = Path(__file__).parent / "projects"
    out = run_client(bwrap_server, f"""
        import json, ketch
        app = ketch.App("projects")
        synced = ketch.Image.debian_slim().uv_sync({str(projects / "uv_project")!r},
                                                   groups=["extra-tools"])
        poetry = ketch.Image.debian_slim().poetry_install_from_file(
            {str(projects / "poetry_project" / "pyproject.toml")!r})

        @app.function(image=synced, serialized=True)
        def uv_env():
            import shutil, sys, idna, six
            return {{"six": six.__version__, "idna": idna.__version__, "prefix": sys.prefix,
                     "uv_left_behind": shutil.which("uv") or ""}}

        @app.function(image=poetry, serialized=True)
        def poetry_env():
            import sys, tomli
            return {{"tomli": tomli.__version__, "prefix": sys.prefix}}

        hydrated = synced.hydrate().object_id   # built now, and not again by the run
        with app.run():
            print(json.dumps([hydrated, uv_env.remote(), poetry_env.remote()]))
    """)
    assert out.pop(0).startswith("im-")
    assert out == [{"six": "1.16.0", "idna": "3.7", "prefix": "/.uv/.venv", "uv_left_behind": ""},
                   {"tomli": "2.0.1", "prefix": "/usr"}]


@needs_bwrap
@pytest.mark.timeout(900)  # a cold cache fetches and relocates two Pythons first (~1 min each)
def test_add_python_runs_on_a_base_without_python_whatever_its_glibc(bwrap_server, registry):
    # The base: Debian 12 (glibc 2.36) with its Python removed (OCI whiteouts).
    layer1 = debian_base_tar(bwrap_server)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("usr/bin/.wh.python3", "usr/bin/.wh.python3.11", "usr/lib/.wh.python3",
                     "usr/lib/.wh.python3.11"):
            tar.addfile(tarfile.TarInfo(name), io.BytesIO(b""))
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Env": ["PATH=/usr/bin:/bin"]},
              "rootfs": {"type": "layers", "diff_ids": []}}
    _push(f"http://{registry}", "ketch-test/no-python", "v1",
          [(layer1, "application/vnd.oci.image.layer.v1.tar"),
           (buf.getvalue(), "application/vnd.oci.image.layer.v1.tar")], config)
    tag = f"{registry}/ketch-test/no-python:v1"

    out = run_client(bwrap_server, BUILD + f"""
    os.environ["KETCH_TEST_NO_PYTHON_IMAGE"] = "{tag}"
    from apps import added_python as ap
    no_python = error_of(build, ketch.Image.from_registry("{tag}"))
    with ap.app.run():
        oldest, newest = ap.on_oldest.remote({{"t": (1, "ü")}}), ap.on_newest.remote()
    app = ketch.App("pickled-added", image=ap.newest)

    @app.function(serialized=True)
    def inline():
        return 1

    print(json.dumps({{"newest": newest, "oldest": oldest, "no_python": no_python,
                      "refused": error_of(app.run().__enter__)}}))
    """, timeout=900)
    newest, oldest = out["newest"], out["oldest"]
    assert newest["version"].startswith("3.15.") and oldest["version"].startswith("3.9.")
    assert newest["executable"] == oldest["executable"] == "/usr/local/bin/python3"
    # Each Python runs on its own glibc; the image's programs keep the image's.
    def libc(text):
        return tuple(int(part) for part in text.split()[-1].split("."))
    assert libc(newest["python_libc"]) > (2, 36) > libc(oldest["python_libc"])
    assert newest["image_libc"] == oldest["image_libc"] == "2.36"
    assert newest["six"] == "1.16.0"
    assert newest["pip"] == oldest["pip"] == "/usr/local/bin/pip"
    assert oldest["echo"] == {"t": [1, "ü"]}       # plain data crosses minor versions
    assert "no python3 on its PATH" in out["no_python"]
    assert "add_python='3.11'" in out["no_python"] and "3.9, 3.11, 3.13, 3.14, 3.15" in \
        out["no_python"]
    assert "VersionError" in out["refused"] and "would run Python 3.15" in out["refused"]


# ---------------------------------------------------------------- the process backend

@pytest.fixture(scope="module")
def process_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("venv-image-server"), "process")
    yield srv
    srv.stop()


def test_process_backend_images_are_virtualenvs(process_server):
    out = run_client(process_server, BUILD + """
    app = ketch.App("venv-image")
    image = (ketch.Image.debian_slim().pip_install("six==1.16.0")
             .uv_pip_install("idna==3.7").env({"IN_VENV": "1"}))

    @app.function(image=image, serialized=True)
    def check():
        import os, sys, idna, six
        return {"six": six.__version__, "prefix": sys.prefix, "env": os.environ["IN_VENV"],
                "idna": idna.__version__}

    with app.run():
        result = check.remote()
    apt = error_of(build, ketch.Image.debian_slim().apt_install("jq"))
    added = error_of(build, ketch.Image.debian_slim(python_version="3.15"))
    print(json.dumps({"result": result, "apt": apt, "added": added}))
    """)
    assert out["result"]["six"] == "1.16.0" and out["result"]["env"] == "1"
    assert out["result"]["idna"] == "3.7"
    assert out["result"]["prefix"].startswith(str(IMAGES_DIR / "layers"))
    assert "apt_install" in out["apt"] and "--runtime bwrap" in out["apt"]
    assert "add_python 3.15" in out["added"] and "--runtime bwrap" in out["added"]


# ---------------------------------------------------------------- the CLI

@needs_bwrap
def test_image_list_and_rm(bwrap_server):
    tag = nonce()
    built = run_client(bwrap_server, BUILD + f"""
    print(json.dumps(build(ketch.Image.debian_slim().run_commands("echo {tag} > /x"))))
    """)
    image_id = built[0]
    listed = json.loads(bwrap_server.ketch("image", "list", "--json").stdout)
    mine = [i for i in listed["images"] if i["image_id"] == image_id]
    assert mine and mine[0]["layers"] == 2 and mine[0]["last_step"].startswith("run_commands")
    table = bwrap_server.ketch("image", "list").stdout
    assert image_id in table
    removed = bwrap_server.ketch("image", "rm", image_id, "--json")
    assert removed.returncode == 0 and json.loads(removed.stdout) == {"removed": [image_id]}
    listed = json.loads(bwrap_server.ketch("image", "list", "--json").stdout)
    assert image_id not in [i["image_id"] for i in listed["images"]]
    # The shared Debian base stays for the other images; this image's own layer is gone.
    rebuilt = run_client(bwrap_server, BUILD + f"""
    print(json.dumps(build(ketch.Image.debian_slim().run_commands("echo {tag} > /x"))))
    """)
    assert rebuilt == [image_id, 1, 2]
    missing = bwrap_server.ketch("image", "rm", "im-nosuchimage")
    assert missing.returncode != 0 and "ketch image list" in missing.stderr
    # An image a running app uses stays.
    out = run_client(bwrap_server, BUILD + f"""
    import subprocess
    app = ketch.App("uses-image")
    image = ketch.Image.debian_slim().run_commands("echo {tag} > /x")

    @app.function(image=image, serialized=True)
    def f():
        return 1

    with app.run():
        rm = subprocess.run([sys.executable, "-m", "ketch.cli", "image", "rm",
                             "{image_id}"], capture_output=True, text=True)
    print(json.dumps([rm.returncode, rm.stderr]))
    """)
    assert out[0] != 0 and "used by a running or deployed app" in out[1]


@needs_bwrap
def test_interrupted_build_leaves_no_half_made_layer(tmp_path):
    srv = start_server(tmp_path / "a", "bwrap")
    tag = nonce()
    client = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(BUILD) + textwrap.dedent(f"""
        build(ketch.Image.debian_slim().run_commands("echo {tag}", "sleep 120"))
        """)], env={**srv.env, "PYTHONPATH": str(Path(__file__).parent)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        prefix = f"{srv.proc.pid}-"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until the step's build container is running
            scratch = [d for d in os.listdir(IMAGES_DIR / "tmp") if d.startswith(prefix)]
            if scratch and (IMAGES_DIR / "tmp" / scratch[0] / "box" / "upper").exists():
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"the build never started:\n{srv.log()}")
        srv.kill()  # the server dies mid-step; its build container goes with it
    finally:
        client.kill()
        client.wait()
    # The next server to use the cache sweeps the dead build's scratch away.
    other = start_server(tmp_path / "b", "bwrap")
    other.stop()
    assert not (IMAGES_DIR / "tmp" / scratch[0]).exists()
    assert layers_titled(tag) == []
