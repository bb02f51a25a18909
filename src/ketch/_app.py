"""`App`: a named group of functions and classes, run ephemerally or deployed.

Decorators check their options at once and keep them; nothing talks to the server until
`app.run()` or `app.deploy()` sends each function's spec.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
from typing import Callable

from . import _context, _deploy, _interactive, _output, _sync, _web
from ._app_lookup import lookup_app
from ._client import Client, python_version
from ._cls import Cls, class_batching, class_spec_methods
from ._definition import Definition
from ._functions import Function, _Target
from ._image import check_image
from ._options import build_options, refuse_not_yet
from ._partial import class_parameters
from ._schedule import check_schedule
from ._secret import check_secrets
from ._source import make_bundle
from ._volume import check_volumes
from .exception import InvalidError
from .proto import ketch_pb2 as pb

_NAME_RE = _deploy.APP_NAME_RE


def _check_web_class_parameters(where: str, user_cls):
    """A class's web methods build it with default parameters (a request has no way to
    give them), so each parameter needs a default."""
    required = [n for n, p in class_parameters(user_cls).items() if p.required]
    if required:
        raise InvalidError(f"{where}: the class has web endpoints, which build it with "
                           f"default parameters, but parameter {required[0]!r} has no "
                           "default; give it one (ketch.parameter(default=...))")


def _refuse_in_import(what: str):
    if _context.in_import_context():
        raise InvalidError(f"{what} cannot be called in global scope: the container is "
                           "importing this module to run its functions. Use `if __name__ == "
                           "\"__main__\":` to run apps in a script, or a local entrypoint and "
                           "`ketch run`")


class LocalEntrypoint:
    """A function that `ketch run` calls on the local machine, with the app running."""

    def __init__(self, app: "App", raw_f: Callable, name: str):
        self.app = app
        self.raw_f = raw_f
        self.name = name
        self.__doc__ = raw_f.__doc__

    def __call__(self, *args, **kwargs):
        return self.raw_f(*args, **kwargs)


class App:
    """A group of functions and classes that run on ketch, as an ephemeral app
    (`app.run()`, `ketch run`) or a deployed one (`app.deploy()`, `ketch deploy`)."""

    def __init__(self, name: str | None = None, *, image=None, secrets=(), volumes=None,
                 include_source: bool = True, **unsupported):
        """`include_source=True` (Modal's default): the source of the module that defines
        each function is uploaded and its containers import it from /root. With False,
        nothing is uploaded and the image must carry the code
        (`Image.add_local_python_source`); functions can override it."""
        if unsupported:
            raise InvalidError(f"App(): unknown option {sorted(unsupported)[0]!r}")
        if not isinstance(include_source, bool):
            raise InvalidError(f"App({name!r}): include_source={include_source!r}: give "
                               "True or False")
        self._include_source = include_source
        if name is not None and (not isinstance(name, str) or not _NAME_RE.match(name)):
            raise InvalidError(f"App name {name!r}: use 1-64 letters, digits, '.', '-' or '_', "
                               "starting with a letter or digit")
        self._image = check_image(f"App({name!r})", image)
        self._secrets = check_secrets(f"App({name!r})", secrets)
        self._volumes = check_volumes(f"App({name!r})", volumes)
        self._name = name
        # Unnamed apps take the name of the module that made them, as in Modal.
        self._module = sys._getframe(1).f_globals.get("__name__", "")
        self._definitions: dict[str, Definition] = {}
        self._local_entrypoints: dict[str, LocalEntrypoint] = {}
        self._app_id: str | None = None
        self._function_ids: dict[str, str] = {}
        self._deployed = pb.AppPublished()  # deploy()'s: the app id and version recorded

    def __repr__(self):
        return f"<ketch.App {self._name or '(unnamed)'}>"

    @property
    def name(self) -> str | None:
        return self._name

    @property
    def app_id(self) -> str | None:
        return self._app_id

    @property
    def image(self):
        """The app's default image (`App(image=...)`), or None: the server's environment."""
        return self._image

    @property
    def registered_functions(self) -> dict[str, Function]:
        return {t: d.handle for t, d in self._definitions.items() if not d.is_class}

    @property
    def registered_classes(self) -> dict[str, Cls]:
        return {t: d.handle for t, d in self._definitions.items() if d.is_class}

    @property
    def registered_entrypoints(self) -> dict[str, LocalEntrypoint]:
        return dict(self._local_entrypoints)

    # -- decorators

    def function(self, _f=None, *, image=None, schedule=None, env=None, secrets=(), gpu=None,
                 volumes=None, cpu=None, memory=None, ephemeral_disk=None, min_containers=0,
                 max_containers=None, buffer_containers=0, scaledown_window=60, retries=None,
                 timeout=300, startup_timeout=None, name=None, serialized=False,
                 enable_memory_snapshot=False, block_network=False,
                 single_use_containers=False, include_source=None, cloud=None, region=None,
                 **unsupported):
        """Makes a Python function run in ketch containers: `@app.function(cpu=2)`.
        Options ketch does not have yet (cloud=, …) are refused
        with a message saying what to do instead."""
        if _f is not None:
            raise InvalidError("use @app.function() with parentheses")
        if unsupported:
            key = sorted(unsupported)[0]
            raise InvalidError(f"@app.function(): unknown option {key!r}. See "
                               "docs/api.md for the options ketch takes")
        if single_use_containers:
            raise NotImplementedError("@app.function(single_use_containers=True) is not in "
                                      "ketch yet")

        def decorate(f):
            if isinstance(f, (Function, Cls)):
                raise InvalidError(f"{f!r} is already a ketch function; decorate it once")
            if inspect.isclass(f):
                raise InvalidError(f"{f.__name__} is a class: decorate it with @app.cls()")
            if not callable(f) or not inspect.isfunction(f):
                raise InvalidError("@app.function() decorates a function defined with def")
            where = f"@app.function() on {f.__qualname__}"
            refuse_not_yet(where, dict(cloud=cloud, region=region))
            tag = name if name is not None else f.__name__
            opts = build_options(where, cpu=cpu, memory=memory, gpu=gpu, timeout=timeout,
                                 startup_timeout=startup_timeout, retries=retries,
                                 min_containers=min_containers, max_containers=max_containers,
                                 buffer_containers=buffer_containers,
                                 scaledown_window=scaledown_window, env=env,
                                 serialized=serialized, target=f,
                                 secrets=[*self._secrets, *check_secrets(where, secrets)],
                                 volumes={**self._volumes, **check_volumes(where, volumes)},
                                 image=image or self._image, ephemeral_disk=ephemeral_disk,
                                 block_network=block_network)
            opts.include_source = self._include_source if include_source is None \
                else bool(include_source)
            opts.enable_memory_snapshot = bool(enable_memory_snapshot)
            opts.schedule = check_schedule(where, schedule, f)
            if "<locals>" in f.__qualname__ and not serialized:
                raise InvalidError(f"{where}: {f.__name__} is defined inside another function, "
                                   "so a container cannot import it; define it at module level "
                                   "or pass serialized=True")
            if opts.batch_max_size and (inspect.isgeneratorfunction(f) or
                                        inspect.isasyncgenfunction(f)):
                raise InvalidError(f"{where}: a @ketch.batched function cannot be a generator")
            handle = Function(_Target(tag, app=self), raw_f=f,
                              is_generator=inspect.isgeneratorfunction(f) or
                              inspect.isasyncgenfunction(f))
            self._add(Definition(tag, f, opts, False, handle), where)
            return handle

        return decorate

    def cls(self, _c=None, *, image=None, env=None, secrets=(), gpu=None, volumes=None,
            cpu=None, memory=None, ephemeral_disk=None, min_containers=0, max_containers=None,
            buffer_containers=0, scaledown_window=60, retries=None, timeout=300,
            startup_timeout=None, serialized=False, enable_memory_snapshot=False,
            block_network=False, single_use_containers=False, include_source=None,
            cloud=None, region=None, **unsupported):
        """Makes a class whose @ketch.method()s run in ketch containers."""
        if _c is not None:
            raise InvalidError("use @app.cls() with parentheses")
        if unsupported:
            raise InvalidError(f"@app.cls(): unknown option {sorted(unsupported)[0]!r}")
        if single_use_containers:
            raise NotImplementedError("@app.cls(single_use_containers=True) is not in "
                                      "ketch yet")

        def decorate(c):
            if not inspect.isclass(c):
                raise InvalidError("@app.cls() decorates a class; use @app.function() for "
                                   "functions")
            where = f"@app.cls() on {c.__qualname__}"
            refuse_not_yet(where, dict(cloud=cloud, region=region))
            opts = build_options(where, cpu=cpu, memory=memory, gpu=gpu, timeout=timeout,
                                 startup_timeout=startup_timeout, retries=retries,
                                 min_containers=min_containers, max_containers=max_containers,
                                 buffer_containers=buffer_containers,
                                 scaledown_window=scaledown_window, env=env,
                                 serialized=serialized, target=c,
                                 secrets=[*self._secrets, *check_secrets(where, secrets)],
                                 volumes={**self._volumes, **check_volumes(where, volumes)},
                                 image=image or self._image, ephemeral_disk=ephemeral_disk,
                                 block_network=block_network)
            opts.include_source = self._include_source if include_source is None \
                else bool(include_source)
            opts.enable_memory_snapshot = bool(enable_memory_snapshot)
            opts.batch_max_size, opts.batch_wait_ms = class_batching(
                where, c, concurrent=opts.max_inputs > 1 or bool(opts.target_inputs))
            if opts.cluster_size and len(class_spec_methods(c)) > 1:   # as Modal refuses it
                raise InvalidError(f"{where}: a clustered class exposes one @ketch.method()")
            if not class_spec_methods(c) and not _web.endpoints_of(c, c.__name__, True):
                raise InvalidError(f"{where}: the class has no @ketch.method() and no web "
                                   "endpoint; mark the methods to call remotely")
            if "<locals>" in c.__qualname__ and not serialized:
                raise InvalidError(f"{where}: the class is defined inside a function; define "
                                   "it at module level or pass serialized=True")
            handle = Cls(c.__name__, app=self, user_cls=c)
            self._add(Definition(c.__name__, c, opts, True, handle), where)
            return handle

        return decorate

    def local_entrypoint(self, _f=None, *, name: str | None = None):
        """Marks a function that `ketch run` calls locally with the app running; its
        parameters become command-line options."""
        def decorate(f):
            if not inspect.isfunction(f):
                raise InvalidError("@app.local_entrypoint() decorates a function")
            tag = name or f.__name__
            if tag in self._local_entrypoints:
                raise InvalidError(f"there are two local entrypoints named {tag!r}")
            entry = LocalEntrypoint(self, f, tag)
            self._local_entrypoints[tag] = entry
            return entry

        return decorate(_f) if _f is not None else decorate

    def _add(self, definition: Definition, where: str):
        if definition.tag in self._definitions:
            raise InvalidError(f"{where}: this app already has a function or class named "
                               f"{definition.tag!r}; pass name= to tell them apart")
        endpoints = _web.endpoints_of(definition.obj, definition.tag, definition.is_class)
        if endpoints and definition.options.cluster_size:   # as Modal refuses them
            raise InvalidError(f"{where}: a clustered function cannot be a web endpoint")
        if endpoints and definition.is_class:
            _check_web_class_parameters(where, definition.obj)
        taken = {ep.label: d.tag for d in self._definitions.values()
                 for ep in _web.endpoints_of(d.obj, d.tag, d.is_class)}
        _web.check_definition(where, endpoints, bool(definition.options.batch_max_size), taken)
        self._definitions[definition.tag] = definition

    def include(self, other: "App", inherit_tags: bool = True) -> "App":
        """Adds another app's functions and classes to this one. (`inherit_tags` is
        Modal's; ketch apps have no tags, so there are none to inherit.)"""
        for definition in other._definitions.values():
            self._add(definition, f"app.include({other!r})")
            definition.handle._target.app = self
        return self

    # -- running

    def _default_name(self) -> str:
        if self._name:
            return self._name
        stem = self._module.rpartition(".")[2]
        if stem == "__main__":
            main = sys.modules.get("__main__")
            stem = os.path.splitext(os.path.basename(getattr(main, "__file__", "") or ""))[0]
        return stem if stem and _NAME_RE.match(stem) else "ephemeral"

    async def _create(self, client: Client, name: str, ephemeral: bool, detach: bool,
                      interactive: bool = False):
        for d in self._definitions.values():  # looked up now: a missing one fails the deploy
            for obj in [*d.options.secrets, *d.options.volumes.values()]:
                await obj._id()
        specs = [(tag, d.spec()) for tag, d in self._definitions.items()]
        bundles: dict[tuple[str, str], str] = {}   # each distinct source is sent once
        for tag, spec in specs:
            root = self._definitions[tag].source()
            if root is not None:
                if root not in bundles:
                    data = make_bundle(*root, spec.module)
                    bundles[root] = await client.put_blob(data)
                spec.code_bundle = bundles[root]
        for tag, spec in specs:  # each distinct image is built once, before the app exists
            image = self._definitions[tag].options.image
            if image is not None:
                spec.image_id = await image._build(client)
        reply = await client.request(app_create=pb.AppCreate(
            name=name, ephemeral=ephemeral, detach=detach, interactive=interactive))
        app_id = reply.app_created.app_id
        ids = {}
        for tag, spec in specs:
            created = await client.request(function_create=pb.FunctionCreate(app_id=app_id,
                                                                              spec=spec))
            ids[tag] = created.function_created.function_id
            if created.function_created.warning:
                _deploy.warn(created.function_created.warning)
        return app_id, ids

    async def _start(self, detach: bool, interactive: bool = False) -> str:
        if self._app_id is not None:
            raise InvalidError(f"{self!r} is already running")
        client = await Client.get()
        name = self._default_name()
        app_id, ids = await self._create(client, name, True, detach, interactive)
        self._app_id, self._function_ids = app_id, ids
        if interactive:
            _interactive.attach(client, app_id)
        if _output.enabled():
            _output.follow_logs(client, app_id)
        return app_id

    async def _stop(self):
        app_id, self._app_id = self._app_id, None
        self._function_ids = {}
        if app_id is None:
            return
        client = await Client.get()
        await client.request(app_stop=pb.AppStop(app_id=app_id))
        await _output.wait_for_end(client, app_id)
        _interactive.detach(client, app_id)

    def run(self, *, detach: bool = False, show_progress=None, environment_name=None,
            interactive: bool = False) -> "_RunningApp":
        """Runs the app ephemerally for the block (`with app.run():` or
        `async with app.run():`): its functions can be called, and the app stops at the
        end (unless detach=True).

        show_progress=True shows the app's logs and map progress for the block, as
        `with ketch.enable_output():` does; None or False leave that to
        `ketch.enable_output()`. environment_name is accepted and ignored (a ketch server
        has no environments). interactive=True makes this process's terminal the
        containers' (their stdin, for input() and breakpoint(); their output as written)."""
        _refuse_in_import("App.run()")
        if interactive and detach:
            raise InvalidError("app.run(interactive=True, detach=True): an interactive app "
                               "needs this process attached; drop one of them")
        return _RunningApp(self, detach, show_output=bool(show_progress),
                           interactive=interactive)

    async def _leave(self, detach: bool):
        if detach:
            self._app_id = None
            self._function_ids = {}
        else:
            await self._stop()

    def deploy(self, *, name: str | None = None, environment_name=None, tag=None) -> "App":
        """Deploys the app under its name: its functions stay available to
        `Function.from_name` until it is stopped. A redeploy is rolling (new calls go to the
        new version; the old one's containers finish what they hold) and each deploy is
        recorded with its tag (`ketch app history`). environment_name is accepted and
        ignored: the workspace comes from the client's token (KETCH_WORKSPACE)."""
        _refuse_in_import("App.deploy()")
        self._deployed = _sync.run(_deploy.deploy(self, name, tag))
        return self

    @_sync.twin_classmethod
    async def lookup(cls, name: str, *, create_if_missing: bool = False,
                     environment_name=None, client=None) -> "App":
        """The deployed app `name` (made empty with create_if_missing=True), for sandboxes."""
        return await lookup_app(cls, name, create_if_missing, client)


class _RunningApp:
    """`app.run()`'s context manager, usable with `with` and `async with`."""

    def __init__(self, app: App, detach: bool, show_output: bool = False,
                 interactive: bool = False):
        self.app = app
        self.detach = detach
        self.interactive = interactive
        self.show_output = show_output
        self.output = contextlib.ExitStack()   # holds enable_output() for show_progress=True

    def _enable_output(self):
        if self.show_output:
            self.output.enter_context(_output.enable_output())

    def __enter__(self) -> App:
        self._enable_output()
        try:
            _sync.run(self.app._start(self.detach, self.interactive))
        except BaseException:
            self.output.close()
            raise
        return self.app

    def __exit__(self, exc_type, exc, tb):
        with self.output:
            try:
                _sync.run(self.app._leave(self.detach))
            except Exception:
                if exc is None:
                    raise
                # Stopping failed too (the server went away, say): the original error is
                # the one to see, not this one.

    async def __aenter__(self) -> App:
        self._enable_output()
        try:
            await _sync.run_aio(self.app._start(self.detach, self.interactive))
        except BaseException:
            self.output.close()
            raise
        return self.app

    async def __aexit__(self, *exc):
        with self.output:
            await _sync.run_aio(self.app._leave(self.detach))
