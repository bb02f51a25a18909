"""Images: builds an image definition into content-addressed layers, caches them, and
tells the runtime what a container of that image runs on.

The cache lives in `<data dir>/images` (or KETCH_IMAGES_DIR, which several servers may
share). An unchanged image costs one hash per step and a look at the disk; a changed step
rebuilds itself and what follows. The process backend's images are virtualenvs
(venv_build.py); the bwrap backend's are root file systems (sandbox_build.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..._pythons import offered
from ...proto import ketch_pb2 as pb
from ..runtime import cgroups
from . import sandbox_build, steps, venv_build
from .builds import BuildHistory, BuildRecord
from .errors import BuildFailed, ImageBuildError
from .layers import LayerStore
from .owners import ImageOwners

server_log = logging.getLogger("ketch.server")

# (step number, number of steps, title, text, state)
BuildLog = Callable[[int, int, str, str, str], None]


def pickled_across_versions(client: str, container: str) -> str:
    """Why a serialized=True function cannot run: its code travels as bytecode, which only
    its own minor version reads (plain-data arguments and results cross versions)."""
    return (f"this client runs Python {client} but its container would run Python "
            f"{container}, and a serialized=True function travels pickled as Python "
            f"{client} bytecode, which Python {container} cannot load. Run the client with "
            f"Python {container}, use an image with Python {client}, or drop serialized=True "
            "so the container imports the function from its module")


@dataclass
class BuiltImage:
    """A built image, as containers use it (the SDK's `Image` is its definition)."""

    image_id: str
    layers: list[Path]
    env: dict[str, str]
    workdir: str
    python_version: str
    backend: str
    on_host: bool = False   # its layers lie over the host system (runtime/seed.py)
    entrypoint: tuple = ()  # what a sandbox of it runs its command with (Dockerfile's)
    cmd: tuple = ()         # what a sandbox of it runs when given no command

    def sandbox_command(self, args) -> list[str]:
        """What a sandbox of this image runs, given Sandbox.create's arguments: the
        entrypoint, then the arguments or else the cmd, as Docker and Modal do (a pulled
        image's own too). Nothing at all: the sandbox waits, running nothing."""
        return [*self.entrypoint, *(args or self.cmd)]

    def launch_fields(self) -> dict:
        """ContainerLaunch fields for a container of this image."""
        if self.backend == "process":
            return {"python": str(self.layers[-1] / "bin" / "python")}
        if self.on_host:
            return {"seed_layers": [str(p) for p in self.layers], "workdir": self.workdir}
        return {"image_layers": [str(p) for p in self.layers], "python": "python3",
                "workdir": self.workdir}


class ImageService:
    def __init__(self, backend: str, data_dir: Path, owners: ImageOwners, secrets=None):
        self.backend = backend  # the runtime's name: which kind of image it runs
        self.secrets = secrets  # SecretService: the variables of a step's secrets=
        root = Path(os.environ.get("KETCH_IMAGES_DIR") or data_dir / "images")
        self.store = LayerStore(root)
        self.owners = owners    # each workspace sees and removes the images it built
        if owners.new:
            for rec in self.store.image_records():
                owners.claim("main", rec["image_id"])
        self.builder = venv_build if self.backend == "process" else sandbox_build
        # bwrap build steps run in cgroups below the server's own group (process builds run
        # on the host, unconfined like its containers).
        self._build_options = {} if self.backend == "process" else \
            {"group": cgroups.server_group(data_dir)}
        self._building: dict[str, asyncio.Lock] = {}
        self.builds = BuildHistory()

    # -- building

    async def build(self, workspace: str, definition: pb.ImageDef, force: bool, log: BuildLog
                    ) -> pb.ImageBuilt:
        """Builds (or finds built) an image; the server log and `builds` record each
        build."""
        started, started_at = time.monotonic(), time.time()
        title = steps.title(definition.steps[-1]) if definition.steps else ""
        try:
            built = await self._build(workspace, definition, force, log)
        except Exception as exc:
            server_log.info("image build for workspace %s failed after %.1f s: %s", workspace,
                            time.monotonic() - started, exc)
            self.builds.record(BuildRecord(workspace, started_at, time.monotonic() - started,
                                           title=title, n_steps=len(definition.steps),
                                           error=str(exc)))
            raise
        self.builds.record(BuildRecord(workspace, started_at, time.monotonic() - started,
                                       built.image_id, title, built.n_steps, built.n_cached))
        server_log.info("built image %s for workspace %s in %.1f s (%d steps, %d cached)",
                        built.image_id, workspace, time.monotonic() - started, built.n_steps,
                        built.n_cached)
        return built

    async def _build(self, workspace: str, definition: pb.ImageDef, force: bool,
                     log: BuildLog) -> pb.ImageBuilt:
        step_list = list(definition.steps)
        steps.check(step_list, self.backend)
        secret_ids = steps.secret_ids_within(step_list)
        if secret_ids:   # before any cached layer is used: the secrets are the workspace's
            self.secrets.check_exist(sorted(secret_ids), workspace)
        n = len(step_list)
        key = steps.root_key(self.backend, self.builder.RECIPE)
        layers: list[str] = []
        env: dict[str, str] = {}
        config = {"env": env, "entrypoint": [], "cmd": []}
        workdir = ""
        python = ""
        n_cached = 0
        for i, step in enumerate(step_list, 1):
            title = steps.title(step)
            key = steps.step_key(key, step)
            if step.kind in steps.CONFIG_ONLY:
                steps.configure(step, config)
                n_cached += 1
                log(i, n, title, "", "done")
                continue
            meta = await self._layer(workspace, key, step, title, i, n, layers, env, workdir,
                                     force, log)
            if meta is None:
                n_cached += 1
                meta = self.store.meta(key)
            layers += meta.get("below", [])
            if not meta.get("empty"):
                layers.append(key)
            env.update(meta.get("env", {}))
            if "entrypoint" in meta:   # a pulled image's own
                config.update(entrypoint=meta["entrypoint"], cmd=meta.get("cmd", []))
            workdir = meta.get("workdir") or workdir
            python = meta.get("python") or python
            if step.kind == "from_registry" and not python and \
                    not any(s.kind == "add_python" for s in step_list[i:]):
                raise ImageBuildError(_failure_message(i, n, title, BuildFailed(
                    _no_python(step.args[0]), ""), step.origin))
        image_id = "im-" + key[:24]
        now = time.time()
        previous = self.store.load_image(image_id)
        self.store.save_image({
            "image_id": image_id, "layers": layers, "env": env, "workdir": workdir,
            "entrypoint": config["entrypoint"], "cmd": config["cmd"],
            "python": python, "backend": self.backend, "title": steps.title(step_list[-1]),
            "n_steps": n, "created_at": previous["created_at"] if previous else now,
            "used_at": now})
        self.owners.claim(workspace, image_id)
        return pb.ImageBuilt(image_id=image_id, n_steps=n, n_cached=n_cached)

    async def _layer(self, workspace, key, step, title, i, n, layers, env, workdir, force,
                     log) -> dict | None:
        """Builds the step's layer unless it is cached; returns its metadata when built,
        None when it was found."""
        lock = self._building.setdefault(key, asyncio.Lock())
        async with lock:
            if self.store.has(key) and not force:
                log(i, n, title, "", "cached")
                return None
            log(i, n, title, "", "running")
            scratch = self.store.scratch()
            started = time.monotonic()
            try:
                if steps.secret_ids(step):   # the step's environment only, not the image's
                    env = {**env, **self.secrets.env_for(steps.secret_ids(step))}
                options = dict(self._build_options)
                if step.kind == "copy_from":   # the image it copies from is built first
                    options["source"] = await self._source(workspace, step, i, n, title,
                                                           force, log)
                fs, meta = await self.builder.make(
                    step, [self.store.path(k) for k in layers], env, workdir, scratch,
                    self.store, lambda text: log(i, n, title, text, ""), **options)
                meta = {**meta, "title": title}
                if force and self.store.has(key):
                    self.store.remove(key)
                await asyncio.to_thread(self.store.commit, key, scratch, fs, meta)
            except BuildFailed as exc:
                log(i, n, title, "", "failed")
                raise ImageBuildError(_failure_message(i, n, title, exc, step.origin)) from None
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
                self._building.pop(key, None)
            log(i, n, title, f"done in {time.monotonic() - started:.1f} s", "done")
            return meta

    async def _source(self, workspace, step, i, n, title, force, log) -> list[Path]:
        """The layers of the image a copy_from step copies from, built (or found) now; its
        steps show as the step's output."""
        def source_log(j, m, t, text, state):
            if state:
                log(i, n, title, f"from [{j}/{m}] {t} ({state})", "")
            elif text:
                log(i, n, title, text, "")
        built = await self._build(workspace, steps.source_of(i, step, 0), force, source_log)
        return self.require(built.image_id).layers

    # -- using

    def get(self, image_id: str) -> BuiltImage | None:
        record = self.store.load_image(image_id)
        if record is None or any(not self.store.has(k) for k in record["layers"]):
            return None
        if self.backend != "process":
            for k in record["layers"]:
                self.store.mark_opaque_once(k)
        return BuiltImage(image_id, [self.store.path(k) for k in record["layers"]],
                     record["env"], record["workdir"], record["python"], record["backend"],
                     record.get("on_host", False), tuple(record.get("entrypoint", ())),
                     tuple(record.get("cmd", ())))

    def require(self, image_id: str) -> BuiltImage:
        """The image a container is about to start in; it must still be here."""
        image = self.get(image_id)
        if image is None:
            raise LookupError(f"its image {image_id} is no longer on this server; run or "
                              "deploy the app again to rebuild it")
        return image

    def check_function(self, spec: pb.FunctionSpec, workspace: str) -> str:
        """Why a function cannot run in its image here ("" when it can)."""
        if not spec.image_id:
            return ""
        image = self.get(spec.image_id)
        if image is None or not self.owners.owns(workspace, spec.image_id):
            return (f"its image {spec.image_id} is not on this server (removed with `ketch "
                    "image rm`?); run the app again to rebuild it")
        if image.backend != self.backend:
            return (f"its image {spec.image_id} was built for the {image.backend} runtime but "
                    f"this server runs {self.backend}; run the app again to rebuild it")
        if image.backend == "bwrap" and not image.python_version:
            return (f"its image {spec.image_id} has no Python, which a container needs (an "
                    "Image.from_scratch or snapshot_directory image is for "
                    "Sandbox.mount_image); start the image from debian_slim or from_registry")
        return ""

    def publish(self, workspace: str, name: str, image_id: str) -> str:
        """Names one of the workspace's images (NAME[:TAG], the tag "latest" by default);
        → the name with its tag."""
        name = image_name(name)
        if self.get(image_id) is None or not self.owners.owns(workspace, image_id):
            raise LookupError(f"image.publish({name!r}): this workspace has no image "
                              f"{image_id!r} on this server; build it first (image.build())")
        self.owners.name(workspace, name, image_id)
        return name

    def named(self, workspace: str, name: str) -> tuple[str, str]:
        """(name with its tag, image id) of an image the workspace published."""
        name = image_name(name)
        image_id = self.owners.named(workspace, name)
        if image_id is None or self.get(image_id) is None:
            raise LookupError(f"Image.from_name({name!r}): this workspace has published no "
                              "image of that name (image.publish(name) names one)")
        return name, image_id

    def list(self, workspace: str) -> pb.ImageListReply:
        images = []
        owned, names = self.owners.owned(workspace), self.owners.names(workspace)
        records = [r for r in self.store.image_records() if r["image_id"] in owned]
        for rec in sorted(records, key=lambda r: -r.get("used_at", 0)):
            own = sum(self.store.meta(k).get("size_bytes", 0) for k in rec["layers"])
            images.append(pb.ImageInfo(
                image_id=rec["image_id"], title=rec.get("title", ""),
                n_layers=len(rec["layers"]), size_bytes=own,
                created_at=rec.get("created_at", 0), used_at=rec.get("used_at", 0),
                names=names.get(rec["image_id"], [])))
        total = sum(self.store.meta(k).get("size_bytes", 0) for k in self.store.keys())
        return pb.ImageListReply(images=images, layers_bytes=total)

    def remove(self, workspace: str, image_id: str, all_images: bool, busy: set[str]
               ) -> list[str]:
        """Removes the workspace's images, and then the files and layers no workspace and
        no remaining image uses; returns the ids. `busy` images (of the workspace's running
        or deployed apps) stay."""
        records = {r["image_id"]: r for r in self.store.image_records()}
        owned = self.owners.owned(workspace)
        if all_images:
            doomed = [i for i in records if i not in busy and i in owned]
        else:
            if image_id not in records and _IMAGE_NAME.match(image_id):   # a published name
                image_id = self.owners.named(workspace, image_name(image_id)) or image_id
            if image_id not in records or image_id not in owned:
                raise LookupError(f"no image {image_id}; `ketch image list` shows the images")
            if image_id in busy:
                raise ValueError(f"image {image_id} is used by a running or deployed app; "
                                 "stop the app first (`ketch app stop`)")
            doomed = [image_id]
        gone = [i for i in doomed if not self.owners.release(workspace, i)]
        for i in gone:
            self.store.remove_image(i)
        keep = {k for i, r in records.items() if i not in gone for k in r["layers"]}
        for key in self.store.keys():
            if key not in keep:
                self.store.remove(key)
        return doomed


_IMAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$")


def image_name(name: str) -> str:
    """NAME[:TAG] checked, with ":latest" when it has no tag (Docker's convention)."""
    if not _IMAGE_NAME.match(name or ""):
        raise ValueError(f"image name {name!r}: use NAME or NAME:TAG, letters, digits, '.', "
                         "'_', '-' ('/' in the name), e.g. 'my-image:v1'")
    return name if ":" in name else name + ":latest"


def _no_python(ref: str) -> str:
    return (f"the image {ref} has no python3 on its PATH, which ketch's container runtime "
            f"needs; add one with Image.from_registry({ref!r}, add_python='3.11') (ketch adds "
            f"Python {offered()}), or use an image that has Python 3")


def _failure_message(i: int, n: int, title: str, exc: BuildFailed, origin: str = "") -> str:
    where = f", from {origin}" if origin else ""   # a Dockerfile's line, as written there
    msg = f"image build failed at step {i}/{n} ({title}){where}: {exc.reason}"
    if exc.output.strip():
        msg += f"\nIts last output:\n{exc.output}"
    return msg
