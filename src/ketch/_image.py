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
import fnmatch
import hashlib
import importlib.util
import os
import secrets as _secrets
import sys
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Sequence

from . import _client, _output, _pythons, _sync
from ._client import Client
from ._context import is_local
from ._serialization import serialize
from .exception import InvalidError
from .proto import ketch_pb2 as pb

# Build steps: a file-system change made by a command. After a copy=False add_local_*,
# none of these may follow (the files are meant to change without a rebuild).
_BUILD_KINDS = {"pip_install", "uv_pip_install", "pip_install_from_requirements",
                "apt_install", "run_commands", "run_function", "workdir"}
# add_local_python_source's default: only Python files.
_NOT_PYTHON = ("__pycache__", "*.pyc", ".*")


def _flatten(where: str, items: Iterable) -> list[str]:
    out = []
    for item in items:
        if isinstance(item, (list, tuple)):
            out += _flatten(where, item)
        elif isinstance(item, str):
            if item.strip():
                out.append(item.strip())
        else:
            raise InvalidError(f"{where}: {item!r} is not a string; pass names as strings")
    return out


def _no_secrets_or_gpu(where: str, secrets=(), gpu=None):
    if secrets:
        raise NotImplementedError(f"{where}(secrets=...): secrets in image builds are not in "
                                  "ketch yet")
    if gpu:
        raise NotImplementedError(f"{where}(gpu=...): GPUs during image builds are not in "
                                  "ketch yet")


def _pip_options(index_url, extra_index_url, find_links, pre, extra_options) -> dict:
    opts = {}
    for key, value in (("index_url", index_url), ("extra_index_url", extra_index_url),
                       ("find_links", find_links), ("extra_options", extra_options)):
        if value:
            if not isinstance(value, str):
                raise InvalidError(f"{key}={value!r}: give a string")
            opts[key] = value
    if pre:
        opts["pre"] = "1"
    return opts


class Image:
    """A container image built from steps. Start with `Image.debian_slim()` or
    `Image.from_registry(...)`."""

    def __init__(self, _steps: tuple = (), _mounted: bool = False):
        self._steps: tuple[pb.ImageStep, ...] = _steps
        self._mounted = _mounted        # a copy=False add_local_* step has been added
        self._built: dict[tuple[str, str], str] = {}  # (server, steps digest) → image id

    def __repr__(self):
        kinds = " → ".join(s.kind for s in self._steps)
        return f"<ketch.Image {kinds}>"

    def _extend(self, kind: str, args: Sequence[str] = (), *, options: dict | None = None,
                env: dict | None = None, pickled: bytes = b"", content_hash: str = "",
                force_build: bool = False, mounted: bool = False) -> "Image":
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
                            pickled=pickled, content_hash=content_hash)
        return Image(self._steps + (step,), self._mounted or mounted)

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
        if setup_dockerfile_commands:
            raise NotImplementedError("setup_dockerfile_commands are not in ketch yet; use "
                                      ".run_commands(...) after from_registry")
        image = Image()._extend("from_registry", [tag.strip()], force_build=force_build)
        if add_python:
            image = image._extend("add_python", [add_python], force_build=force_build)
        return image

    @staticmethod
    def micromamba(*args, **kwargs):
        raise NotImplementedError("Image.micromamba is not in ketch yet; use "
                                  "Image.debian_slim() or Image.from_registry(...)")

    @staticmethod
    def from_dockerfile(*args, **kwargs):
        raise NotImplementedError("Image.from_dockerfile is not in ketch yet; use "
                                  "Image.debian_slim() with run_commands, or from_registry")

    @staticmethod
    def from_aws_ecr(*args, **kwargs):
        raise NotImplementedError("Image.from_aws_ecr is not in ketch yet (private "
                                  "registries); use Image.from_registry with a public image")

    @staticmethod
    def from_gcp_artifact_registry(*args, **kwargs):
        raise NotImplementedError("Image.from_gcp_artifact_registry is not in ketch yet "
                                  "(private registries); use Image.from_registry with a "
                                  "public image")

    # -- Python packages

    def pip_install(self, *packages, index_url: str | None = None,
                    extra_index_url: str | None = None, find_links: str | None = None,
                    pre: bool = False, extra_options: str = "", force_build: bool = False,
                    secrets=(), gpu=None) -> "Image":
        """Installs Python packages with pip."""
        _no_secrets_or_gpu("pip_install", secrets, gpu)
        pkgs = _flatten("pip_install", packages)
        if not pkgs:
            return self
        return self._extend("pip_install", pkgs, options=_pip_options(
            index_url, extra_index_url, find_links, pre, extra_options),
            force_build=force_build)

    def uv_pip_install(self, *packages, requirements: Sequence[str] | None = None,
                       find_links: str | None = None, index_url: str | None = None,
                       extra_index_url: str | None = None, pre: bool = False,
                       extra_options: str = "", force_build: bool = False,
                       uv_version: str | None = None, secrets=(), gpu=None) -> "Image":
        """Installs Python packages with uv (fast)."""
        _no_secrets_or_gpu("uv_pip_install", secrets, gpu)
        if uv_version:
            raise NotImplementedError("uv_pip_install(uv_version=...) is not in ketch yet")
        image = self
        for req in requirements or ():
            image = image.pip_install_from_requirements(req, find_links=find_links,
                                                        index_url=index_url,
                                                        extra_index_url=extra_index_url,
                                                        pre=pre, force_build=force_build)
        pkgs = _flatten("uv_pip_install", packages)
        if not pkgs:
            return image
        return image._extend("uv_pip_install", pkgs, options=_pip_options(
            index_url, extra_index_url, find_links, pre, extra_options),
            force_build=force_build)

    def pip_install_from_requirements(self, requirements_txt: str, find_links=None, *,
                                      index_url=None, extra_index_url=None, pre=False,
                                      extra_options="", force_build=False, secrets=(),
                                      gpu=None) -> "Image":
        """Installs the packages a requirements file lists (read now, on this machine)."""
        _no_secrets_or_gpu("pip_install_from_requirements", secrets, gpu)
        if not is_local():
            return self  # in a container, the image is already built: nothing to read
        path = os.path.expanduser(str(requirements_txt))
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise InvalidError(f"pip_install_from_requirements({requirements_txt!r}): cannot "
                               f"read it: {exc.strerror or exc}") from None
        options = _pip_options(index_url, extra_index_url, find_links, pre, extra_options)
        options["path"] = os.path.basename(path)
        return self._extend("pip_install_from_requirements", [text], options=options,
                            force_build=force_build)

    # -- the system

    def apt_install(self, *packages, force_build: bool = False, secrets=(), gpu=None
                    ) -> "Image":
        """Installs Debian packages (bwrap runtime)."""
        _no_secrets_or_gpu("apt_install", secrets, gpu)
        pkgs = _flatten("apt_install", packages)
        if not pkgs:
            return self
        return self._extend("apt_install", pkgs, force_build=force_build)

    def run_commands(self, *commands, env: dict[str, str] | None = None, secrets=(),
                     gpu=None, force_build: bool = False) -> "Image":
        """Runs shell commands in the image, in order, stopping at the first that fails
        (bwrap runtime)."""
        _no_secrets_or_gpu("run_commands", secrets, gpu)
        cmds = _flatten("run_commands", commands)
        if not cmds:
            return self
        return self._extend("run_commands", cmds, env=_env_dict("run_commands", env),
                            force_build=force_build)

    def run_function(self, raw_f: Callable, *, secrets=(), gpu=None, volumes=None,
                     memory=None, timeout: int = 3600, cpu=None, force_build: bool = False,
                     include_source=None, args: Sequence = (), kwargs: dict | None = None
                     ) -> "Image":
        """Runs a Python function in the image (with args and kwargs) and keeps what it
        wrote (bwrap runtime)."""
        _no_secrets_or_gpu("run_function", secrets, gpu)
        if volumes:
            raise NotImplementedError("run_function(volumes=...) is not in ketch yet")
        if not callable(raw_f):
            raise InvalidError(f"run_function({raw_f!r}): give a function")
        pickled = serialize((raw_f, tuple(args), dict(kwargs or {})))
        return self._extend("run_function", [], pickled=pickled,
                            options={"name": getattr(raw_f, "__qualname__", "function")},
                            force_build=force_build)

    def env(self, vars: dict[str, str]) -> "Image":
        """Sets environment variables in the image's containers (and later build steps)."""
        return self._extend("env", env=_env_dict("env", vars))

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
                            content_hash=_hash_files(local, [""]),
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
        files = _walk(local, ignore)
        return self._extend("add_local_dir", [local, str(remote_path), *files],
                            content_hash=_hash_files(local, files),
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
        return next(iter(self._built.values()), None)

    async def _build(self, client: Client, force: bool = False) -> str:
        steps = [_with_fresh_hash(step) for step in self._steps]
        # Local files are read again each time: an edit since the last build is a new key.
        server = (client.hello.server_id, hashlib.sha256(b"".join(
            step.SerializeToString(deterministic=True) for step in steps)).hexdigest())
        if server in self._built and not force:
            return self._built[server]
        build_id = _secrets.token_hex(8)
        printer = _BuildPrinter() if _output.enabled() else None
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

    @_sync.twin
    async def build(self, app=None, force: bool = False) -> "Image":
        """Builds the image now (it is otherwise built when an app using it runs)."""
        await self._build(await Client.get(), force)
        return self


def check_image(where: str, image) -> "Image | None":
    if image is not None and not isinstance(image, Image):
        raise InvalidError(f"{where}: image={image!r} is not a ketch.Image; build one with "
                           "ketch.Image.debian_slim()...")
    return image


def _env_dict(where: str, env) -> dict[str, str]:
    if env is None:
        return {}
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                            for k, v in env.items()):
        raise InvalidError(f"{where}: give a dict of str to str")
    return dict(env)


def _ignored(rel: str, ignore) -> bool:
    if callable(ignore):
        return bool(ignore(Path(rel)))
    parts = rel.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(os.path.basename(p), pat)
               for pat in ignore for p in prefixes)


def _walk(root: str, ignore) -> list[str]:
    """Relative paths of the files under root that `ignore` keeps, sorted."""
    if not callable(ignore) and (isinstance(ignore, str) or
                                 not all(isinstance(p, str) for p in ignore)):
        raise InvalidError("ignore=: give a list of glob patterns or a function of a Path")
    files = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        dirnames[:] = sorted(d for d in dirnames
                             if not _ignored(f"{rel_dir}/{d}".lstrip("/"), ignore))
        for name in sorted(filenames):
            rel = f"{rel_dir}/{name}".lstrip("/")
            if not _ignored(rel, ignore):
                files.append(rel)
    return files


def _with_fresh_hash(step: pb.ImageStep) -> pb.ImageStep:
    """The step with its files hashed as they are now (add_local_* steps)."""
    if step.kind not in ("add_local_file", "add_local_dir"):
        return step
    fresh = pb.ImageStep()
    fresh.CopyFrom(step)
    local = step.args[0]
    rels = [""] if step.kind == "add_local_file" else list(step.args[2:])
    try:
        fresh.content_hash = _hash_files(local, rels)
    except OSError as exc:
        raise InvalidError(f"{step.kind}({local!r}): cannot read {exc.filename}: "
                           f"{exc.strerror}") from None
    return fresh


def _hash_files(root: str, rels: list[str]) -> str:
    """The content hash of the files (names, modes and bytes): what a layer of them is."""
    h = hashlib.sha256()
    for rel in rels:
        path = os.path.join(root, rel) if rel else root
        st = os.stat(path)
        h.update(f"{rel}\0{st.st_mode & 0o777}\0{st.st_size}\0".encode())
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


class _BuildPrinter:
    """Shows a build's steps and their output in the terminal as it goes."""

    def __init__(self):
        from rich.console import Console

        self.console = Console(file=sys.stderr, highlight=False, soft_wrap=True)

    def __call__(self, log: pb.ImageBuildLog):
        head = f"[{log.step}/{log.n_steps}] {log.title}"
        if log.state == "cached":
            self.console.print(f"{head} (cached)", markup=False, style="dim")
        elif log.state == "running":
            self.console.print(head, markup=False, style="bold")
        elif log.state == "failed":
            self.console.print(f"{head} failed", markup=False, style="red")
        elif log.state == "done" and not log.text:  # a configuration step: nothing to run
            self.console.print(head, markup=False, style="dim")
        elif log.text:
            self.console.print(f"  {log.text}", markup=False, style="dim")

    def finished(self, built: pb.ImageBuilt):
        self.console.print(f"[green]✓[/green] image {built.image_id} ready "
                           f"({built.n_cached}/{built.n_steps} steps cached)", markup=True)
