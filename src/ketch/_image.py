"""`Image`: a container's root file system, described in Python with Modal's names.

    image = (ketch.Image.debian_slim()
             .apt_install("git")
             .pip_install("numpy")
             .add_local_python_source("mylib"))

    @app.function(image=image)
    def f(): ...

An Image is an immutable list of steps; each method returns a new Image with one more.
Nothing is built until an app that uses it runs or deploys: then the server builds each
step into a cached layer (an unchanged image costs one hash per step), streaming progress
to the terminal when output is enabled (`ketch run`, `ketch.enable_output()`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import secrets as _secrets
import shlex
from pathlib import Path, PurePosixPath
from typing import Callable, Sequence

from . import _client, _local_files, _output, _pythons, _sync
from ._build_printer import BuildPrinter
from ._image_args import argv, env_dict, flatten, pip_options, step_secrets, version
from ._image_dockerfile import DockerfileMethods
from ._image_missing import NotYet, no_gpu, step_options_not_yet
from ._image_projects import ProjectInstalls
from ._object import refuse_client
from ._client import Client
from ._context import is_local
from ._serialization import serialize
from .exception import InvalidError, NotFoundError
from .proto import ketch_pb2 as pb

# Build steps: a file-system change made by a command. After a copy=False add_local_*,
# none of these may follow (the files are meant to change without a rebuild).
_BUILD_KINDS = {"pip_install", "uv_pip_install", "pip_install_from_requirements",
                "apt_install", "run_commands", "run_function", "workdir", "uv_sync",
                "poetry_install", "copy_from"}
# add_local_python_source's default: only Python files.
_NOT_PYTHON = ("__pycache__", "*.pyc", ".*")


class Image(DockerfileMethods, ProjectInstalls, NotYet):
    """A container image built from steps. Start with `Image.debian_slim()` or
    `Image.from_registry(...)`."""

    def __init__(self, _steps: tuple = (), _mounted: bool = False, _shell: tuple = (),
                 _resolve: tuple = ()):
        self._steps: tuple[pb.ImageStep, ...] = _steps
        # Per step, what is resolved when it is built: (the ketch.Secrets its build sees,
        # the Image it copies files from).
        self._resolve = _resolve
        self._mounted = _mounted        # a copy=False add_local_* step has been added
        self._shell = _shell            # what runs later run_commands (shell()); () is sh
        self._held = ("", "")           # (server id, image id): built already, no steps
        self._held_name = ""            # Image.from_name's: looked up when first built
        self._built: dict[tuple[str, str], str] = {}  # (server, steps digest) → image id

    @classmethod
    def _held_image(cls, server_id: str, image_id: str) -> "Image":
        """An image the server already holds (a sandbox's snapshot, Image.from_id)."""
        image = cls()
        image._held = (server_id, image_id)
        return image

    def __repr__(self):
        kinds = " → ".join(s.kind for s in self._steps) or self._held[1] or self._held_name
        return f"<ketch.Image {kinds}>"

    def _extend(self, kind: str, args: Sequence[str] = (), *, options: dict | None = None,
                env: dict | None = None, pickled: bytes = b"", content_hash: str = "",
                force_build: bool = False, mounted: bool = False, secrets: tuple = (),
                source: "Image | None" = None, origin: str = "") -> "Image":
        if self._steps and self._steps[0].kind == "from_scratch" and kind in _BUILD_KINDS \
                and kind != "copy_from":   # which runs in the image it copies from
            raise InvalidError(f"image.{kind}() on Image.from_scratch(): it has no shell or "
                               "Python to run it; add files with add_local_file/add_local_dir "
                               "(copy=True), or start from debian_slim or from_registry")
        if self._held[1] or self._held_name:
            raise NotImplementedError(f"image.{kind}() on an image the server already holds "
                                      "(a sandbox's snapshot, Image.from_id or from_name) is "
                                      "not in ketch yet: add the step to the image's "
                                      "definition instead")
        if self._mounted and kind in _BUILD_KINDS:
            raise InvalidError(
                f"image.{kind}() comes after an add_local_*(copy=False) step. Files added "
                "with copy=False are picked up afresh each time the app runs without "
                "rebuilding the steps before them, so no build step may follow them: move the "
                f"add_local_* calls after {kind}(), or pass copy=True to build them into the "
                "image")
        options = dict(options or {})
        if force_build or (os.environ.get("KETCH_FORCE_BUILD") == "1" and kind in _BUILD_KINDS):
            options["force"] = _secrets.token_hex(8)  # a fresh key: this step and what follows
        step = pb.ImageStep(kind=kind, args=list(args), options=options, env=env or {},
                            pickled=pickled, content_hash=content_hash, origin=origin)
        return Image(self._steps + (step,), self._mounted or mounted, self._shell,
                     self._padded() + ((tuple(secrets), source),))

    def _padded(self) -> tuple:
        return self._resolve + (((), None),) * (len(self._steps) - len(self._resolve))

    # -- bases

    @staticmethod
    def debian_slim(python_version: str | None = None, force_build: bool = False) -> "Image":
        """Debian with Python, built by the server with mmdebstrap: Python 3.9 (Debian 11),
        3.11 (Debian 12) or 3.13 (Debian 13) as the release's own python3; 3.14 or 3.15
        (Debian 14's) added to Debian 12 as add_python does. python_version defaults to this
        client's when it is one of them, else 3.11. Only a pickled function (serialized=True)
        needs the client's and the image's minor versions to match; arguments and results of
        plain data cross versions."""
        if python_version is None:
            # The parameter shadows _client.python_version, hence the module prefix.
            version = _client.python_version()
            if version not in _pythons.ADDED_PYTHONS:
                version = _pythons.DEFAULT_DEBIAN_PYTHON
        else:
            version = python_version
            if not isinstance(version, str) or not version.replace(".", "").isdigit():
                raise InvalidError(f"debian_slim(python_version={python_version!r}): give a "
                                   f"version like '3.11' (on offer: {_pythons.offered()})")
            version = ".".join(version.split(".")[:2])
            if _pythons.unoffered(version):
                raise InvalidError(_pythons.unoffered(version))
        if version in _pythons.DEBIAN_PYTHONS:
            return Image()._extend("debian_slim", [version], force_build=force_build)
        # A version no release has as its python3: Debian 12 with that Python added.
        return (Image()._extend("debian_slim", [_pythons.DEFAULT_DEBIAN_PYTHON],
                                force_build=force_build)
                ._extend("add_python", [version], force_build=force_build))

    @staticmethod
    def from_scratch(force_build: bool = False) -> "Image":
        """An image with no files (Docker's FROM scratch), to add files to with copy=True
        and mount in a sandbox (Sandbox.mount_image); functions and sandboxes cannot run in
        it: it has no Python."""
        return Image()._extend("from_scratch", force_build=force_build)

    @staticmethod
    def from_registry(tag: str, secret=None, *, add_python: str | None = None,
                      setup_dockerfile_commands: Sequence[str] = (),
                      force_build: bool = False, **unsupported) -> "Image":
        """An image pulled from an OCI registry, e.g. 'python:3.11-slim' or
        'localhost:5000/team/app:v1'. It must have python3 on its PATH, or add_python names
        a Python for ketch to add (any of 3.9, 3.11, 3.13, 3.14, 3.15: a Debian release's,
        with its own C library, so it runs on any Linux base). The added Python's python,
        python3 and pip are in /usr/local/bin."""
        if unsupported:
            raise InvalidError(f"Image.from_registry(): unknown option "
                               f"{sorted(unsupported)[0]!r}")
        if not isinstance(tag, str) or not tag.strip() or " " in tag:
            raise InvalidError(f"Image.from_registry({tag!r}): give an image reference like "
                               "'python:3.11-slim'")
        if secret is not None:
            raise NotImplementedError("Image.from_registry(secret=...): private registries "
                                      "are not in ketch yet")
        if add_python and _pythons.unoffered_addition(add_python):
            raise InvalidError(f"Image.from_registry({tag!r}, "
                               f"{_pythons.unoffered_addition(add_python)}")
        image = Image()._extend("from_registry", [tag.strip()], force_build=force_build)
        if add_python:
            image = image._extend("add_python", [add_python], force_build=force_build)
        if setup_dockerfile_commands:
            image = image.dockerfile_commands(setup_dockerfile_commands,
                                              force_build=force_build)
        return image

    @_sync.twin_classmethod
    async def from_id(cls, image_id: str, client=None) -> "Image":
        """An image this workspace built before, by its id (`image.object_id`): it is
        used as it is (steps cannot be added to it yet)."""
        refuse_client("Image.from_id", client)
        conn = await Client.get()
        listed = (await conn.request(image_list=pb.ImageList())).image_list_reply.images
        if not isinstance(image_id, str) or image_id not in {i.image_id for i in listed}:
            raise NotFoundError(f"Image.from_id({image_id!r}): this workspace has no such "
                                "image on this server (`ketch image list` shows them)")
        return cls._held_image(conn.hello.server_id, image_id)

    # -- Python packages

    def pip_install(self, *packages, index_url: str | None = None,
                    extra_index_url: str | None = None, find_links: str | None = None,
                    pre: bool = False, extra_options: str = "", force_build: bool = False,
                    env: dict | None = None, secrets=(), gpu=None) -> "Image":
        """Installs Python packages with pip (env: the build step's environment)."""
        no_gpu("pip_install", gpu)
        pkgs = flatten("pip_install", packages)
        if not pkgs:
            return self
        return self._extend("pip_install", pkgs, options=pip_options(
            index_url, extra_index_url, find_links, pre, extra_options),
            env=env_dict("pip_install", env, build=True), force_build=force_build,
            secrets=step_secrets("pip_install", secrets))

    def uv_pip_install(self, *packages, requirements: Sequence[str] | None = None,
                       find_links: str | None = None, index_url: str | None = None,
                       extra_index_url: str | None = None, pre: bool = False,
                       extra_options: str = "", force_build: bool = False,
                       uv_version: str | None = None, env: dict | None = None, secrets=(),
                       gpu=None) -> "Image":
        """Installs Python packages with uv (fast)."""
        no_gpu("uv_pip_install", gpu)
        options = pip_options(index_url, extra_index_url, find_links, pre, extra_options)
        if uv_version is not None:
            options["uv_version"] = version("uv_pip_install", "uv_version", uv_version)
        image = self
        for req in requirements or ():
            image = image.pip_install_from_requirements(req, find_links=find_links,
                                                        index_url=index_url,
                                                        extra_index_url=extra_index_url,
                                                        pre=pre, force_build=force_build,
                                                        env=env, secrets=secrets)
        pkgs = flatten("uv_pip_install", packages)
        if not pkgs:
            return image
        return image._extend("uv_pip_install", pkgs, options=options,
                             env=env_dict("uv_pip_install", env, build=True),
                             force_build=force_build,
                             secrets=step_secrets("uv_pip_install", secrets))

    def pip_install_from_requirements(self, requirements_txt: str, find_links=None, *,
                                      index_url=None, extra_index_url=None, pre=False,
                                      extra_options="", force_build=False, env=None,
                                      secrets=(), gpu=None) -> "Image":
        """Installs the packages a requirements file lists (read now, on this machine)."""
        no_gpu("pip_install_from_requirements", gpu)
        if not is_local():
            return self  # in a container, the image is already built: nothing to read
        path = os.path.expanduser(str(requirements_txt))
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise InvalidError(f"pip_install_from_requirements({requirements_txt!r}): cannot "
                               f"read it: {exc.strerror or exc}") from None
        options = pip_options(index_url, extra_index_url, find_links, pre, extra_options)
        options["path"] = os.path.basename(path)
        return self._extend("pip_install_from_requirements", [text], options=options,
                            env=env_dict("pip_install_from_requirements", env, build=True),
                            force_build=force_build,
                            secrets=step_secrets("pip_install_from_requirements", secrets))

    # -- the system

    def apt_install(self, *packages, force_build: bool = False, env: dict | None = None,
                    secrets=(), gpu=None) -> "Image":
        """Installs Debian packages (bwrap runtime)."""
        no_gpu("apt_install", gpu)
        pkgs = flatten("apt_install", packages)
        if not pkgs:
            return self
        return self._extend("apt_install", pkgs, env=env_dict("apt_install", env, build=True),
                            force_build=force_build, secrets=step_secrets("apt_install", secrets))

    def run_commands(self, *commands, env: dict[str, str] | None = None, secrets=(),
                     volumes=None, gpu=None, force_build: bool = False) -> "Image":
        """Runs shell commands in the image, in order, stopping at the first that fails
        (bwrap runtime)."""
        step_options_not_yet("run_commands", gpu=gpu, volumes=volumes)
        cmds = flatten("run_commands", commands)
        if not cmds:
            return self
        if self._shell:
            cmds = [shlex.join([*self._shell, c]) for c in cmds]
        return self._extend("run_commands", cmds, env=env_dict("run_commands", env, True),
                            force_build=force_build,
                            secrets=step_secrets("run_commands", secrets))

    def entrypoint(self, entrypoint_commands: list[str]) -> "Image":
        """Sets the image's ENTRYPOINT: a sandbox of the image runs it with its arguments
        (or else the image's cmd) after it. Functions do not use it, as on Modal."""
        return self._extend("entrypoint", argv("entrypoint", entrypoint_commands))

    def cmd(self, cmd: list[str]) -> "Image":
        """Sets the image's CMD: what a sandbox of the image runs when Sandbox.create gets
        no command (after the entrypoint, if any). Functions do not use it, as on Modal."""
        return self._extend("cmd", argv("cmd", cmd))

    def shell(self, shell_commands: list[str]) -> "Image":
        """Sets the shell that later run_commands (and Dockerfile RUN/CMD lines in shell
        form) run in, e.g. ["/bin/bash", "-c"]; the default is sh."""
        shell = tuple(argv("shell", shell_commands))
        return self._extend("shell") if self._held[1] or self._held_name else Image(self._steps, self._mounted,
                                                                 shell, self._resolve)

    def pipe(self, func: Callable, *args, **kwargs) -> "Image":
        """func(image, *args, **kwargs), which must return an Image: reusable recipes that
        chain like the methods."""
        out = func(self, *args, **kwargs)
        if not isinstance(out, Image):
            raise InvalidError(f"image.pipe({getattr(func, '__name__', func)!r}): it "
                               f"returned {type(out).__name__}, not an Image")
        return out

    def run_function(self, raw_f: Callable, *, env: dict | None = None, secrets=(),
                     volumes=None, network_file_systems=None, gpu=None, cpu=None,
                     memory=None, timeout: int = 3600, cloud=None, region=None,
                     force_build: bool = False, args: Sequence = (),
                     kwargs: dict | None = None, include_source=None) -> "Image":
        """Runs a Python function in the image (with args and kwargs) and keeps what it
        wrote (bwrap runtime)."""
        step_options_not_yet("run_function", gpu=gpu, volumes=volumes,
                             network_file_systems=network_file_systems, cloud=cloud,
                             region=region)
        if not callable(raw_f):
            raise InvalidError(f"run_function({raw_f!r}): give a function")
        pickled = serialize((raw_f, tuple(args), dict(kwargs or {})))
        return self._extend("run_function", [], pickled=pickled,
                            options={"name": getattr(raw_f, "__qualname__", "function")},
                            env=env_dict("run_function", env, build=True),
                            force_build=force_build,
                            secrets=step_secrets("run_function", secrets))

    def env(self, vars: dict[str, str]) -> "Image":
        """Sets environment variables in the image's containers (and later build steps)."""
        return self._extend("env", env=env_dict("env", vars))

    def workdir(self, path: str | PurePosixPath) -> "Image":
        """Sets (and creates) the working directory of later steps and of containers."""
        path = str(path)
        if not path.startswith("/"):
            raise InvalidError(f"workdir({path!r}): give an absolute path")
        return self._extend("workdir", [path])

    # -- local files

    def add_local_file(self, local_path: str | Path, remote_path: str, *,
                       copy: bool = False) -> "Image":
        """Adds a local file at remote_path. With copy=False (the default) it is picked up
        afresh each time the app runs, as the image's last layers; with copy=True it is a
        build step like any other, and steps may follow it."""
        if not is_local():
            return self  # in a container, the image is already built: nothing to read
        local = os.path.abspath(os.path.expanduser(str(local_path)))
        if not os.path.isfile(local):
            raise InvalidError(f"add_local_file({str(local_path)!r}): no such file")
        remote = str(remote_path)
        if remote.endswith("/"):
            remote += os.path.basename(local)
        return self._extend("add_local_file", [local, remote],
                            content_hash=_local_files.hash_files(local, [""]),
                            options={"copy": "1" if copy else "0"}, mounted=not copy)

    def add_local_dir(self, local_path: str | Path, remote_path: str, *, copy: bool = False,
                      ignore: Sequence[str] | Callable[[Path], bool] = ()) -> "Image":
        """Adds a local directory at remote_path, less what `ignore` (glob patterns, or a
        function of each path) excludes."""
        if not is_local():
            return self
        local = os.path.abspath(os.path.expanduser(str(local_path)))
        if not os.path.isdir(local):
            raise InvalidError(f"add_local_dir({str(local_path)!r}): no such directory")
        files = _local_files.walk(local, ignore)
        return self._extend("add_local_dir", [local, str(remote_path), *files],
                            content_hash=_local_files.hash_files(local, files),
                            options={"copy": "1" if copy else "0"}, mounted=not copy)

    def add_local_python_source(self, *modules: str, copy: bool = False,
                                ignore: Sequence[str] | Callable[[Path], bool] = _NOT_PYTHON
                                ) -> "Image":
        """Adds local Python modules or packages (as importable here) under /root, where
        containers import them."""
        image = self
        if not is_local():
            return self
        for name in modules:
            if not isinstance(name, str) or not name or "." in name:
                raise InvalidError(f"add_local_python_source({name!r}): give top-level module "
                                   "names, like 'mylib'")
            spec = importlib.util.find_spec(name)
            if spec is None or not spec.origin and not spec.submodule_search_locations:
                raise InvalidError(f"add_local_python_source({name!r}): no module {name!r} is "
                                   "importable here")
            if spec.submodule_search_locations:
                folder = list(spec.submodule_search_locations)[0]
                image = image.add_local_dir(folder, f"/root/{name}", copy=copy, ignore=ignore)
            else:
                image = image.add_local_file(spec.origin, f"/root/{os.path.basename(spec.origin)}",
                                             copy=copy)
        return image

    # -- using it

    @contextlib.contextmanager
    def imports(self):
        """For imports that only work inside the image: `with image.imports(): import
        torch`. On this machine a missing package is ignored; in a container it raises."""
        try:
            yield
        except ImportError:
            if not is_local():
                raise

    @property
    def object_id(self) -> str | None:
        return self._held[1] or next(iter(self._built.values()), None)

    async def _build(self, client: Client, force: bool = False) -> str:
        if self._held_name and not self._held[1]:
            named = await client.request(image_from_name=pb.ImageFromName(name=self._held_name))
            self._held = (client.hello.server_id, named.image_named.image_id)
        if self._held[1]:
            if client.hello.server_id != self._held[0]:
                raise InvalidError(f"image {self._held[1]} is held by another ketch server")
            return self._held[1]
        steps = await self._resolved_steps()
        # Local files are read again each time: an edit since the last build is a new key.
        server = (client.hello.server_id, hashlib.sha256(b"".join(
            step.SerializeToString(deterministic=True) for step in steps)).hexdigest())
        if server in self._built and not force:
            return self._built[server]
        build_id = _secrets.token_hex(8)
        printer = BuildPrinter() if _output.enabled() else None
        if printer is not None:
            client.log_handlers[build_id] = printer
        try:
            reply = await client.request(image_build=pb.ImageBuild(
                build_id=build_id, image=pb.ImageDef(steps=steps), force=force))
        finally:
            client.log_handlers.pop(build_id, None)
        image_id = reply.image_built.image_id
        if printer is not None:
            printer.finished(reply.image_built)
        self._built[server] = image_id
        return image_id

    async def _resolved_steps(self) -> list[pb.ImageStep]:
        """The steps as the server builds them: local files hashed as they are now, secrets
        by id (their values stay on the server), an image copied from as its own steps."""
        return [await _resolved(_local_files.with_fresh_hash(step), secrets, source)
                for step, (secrets, source) in zip(self._steps, self._padded())]

    @_sync.twin
    async def build(self, app=None, force: bool = False) -> "Image":
        """Builds the image now (it is otherwise built when an app using it runs)."""
        await self._build(await Client.get(), force)
        return self

    @_sync.twin
    async def publish(self, name: str, *, environment_name=None, experimental_options=None,
                      client=None) -> None:
        """Names the built image NAME[:TAG] (":latest" without a tag) in this workspace,
        for Image.from_name; publishing again under a name moves it."""
        refuse_client("image.publish", client)
        if experimental_options:
            raise InvalidError("image.publish(experimental_options=...): ketch has none")
        if not self.object_id:
            raise InvalidError(f"image.publish({name!r}): build the image first "
                               "(image.build()), as on Modal")
        conn = await Client.get()
        await conn.request(image_publish=pb.ImagePublish(name=name, image_id=self.object_id))

    @classmethod
    def from_name(cls, name: str, *, environment_name=None, client=None) -> "Image":
        """The image this workspace published as NAME[:TAG] (image.publish), looked up
        when it is first built or used, as on Modal (so an app can name one not yet
        published when it is imported)."""
        refuse_client("Image.from_name", client)
        if not isinstance(name, str) or not name.strip():
            raise InvalidError(f"Image.from_name({name!r}): give the name image.publish had")
        image = cls()
        image._held_name = name
        return image

    @_sync.twin
    async def hydrate(self, client=None) -> "Image":
        """Builds the image if it is not built yet (as Modal's hydrate resolves it)."""
        refuse_client("Image.hydrate", client)
        await self._build(await Client.get())
        return self


async def _resolved(step: pb.ImageStep, secrets: tuple, source) -> pb.ImageStep:
    if not secrets and source is None:
        return step
    out = pb.ImageStep()
    out.CopyFrom(step)
    if secrets:
        out.options["secret_ids"] = ",".join([await s._id() for s in secrets])
    if source is not None:
        out.pickled = pb.ImageDef(steps=await source._resolved_steps()).SerializeToString(
            deterministic=True)
    return out


def check_image(where: str, image) -> "Image | None":
    if image is not None and not isinstance(image, Image):
        raise InvalidError(f"{where}: image={image!r} is not a ketch.Image; build one with "
                           "ketch.Image.debian_slim()...")
    return image


