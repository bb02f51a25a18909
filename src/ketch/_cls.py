"""`Cls`: a class whose methods run in ketch containers.

`Model(scale=3)` makes a handle; `Model(scale=3).predict.remote(x)` runs `predict` in a
container of its own for those parameters, where `@enter` methods ran once at start.
"""

from __future__ import annotations

import inspect

from . import _autoscaler, _variants
from ._client import Client
from ._functions import Function, _Target
from ._partial import (BATCHED, ENTER, METHOD, check_parameters, instantiate,
                       lifecycle_methods)
from ._serialization import serialize
from ._sync import twin
from ._web import WEB
from .exception import InvalidError
from .proto import ketch_pb2 as pb


class Cls:
    """A class whose `@ketch.method()`s run in ketch containers. Made by `@app.cls` or
    `Cls.from_name`; calling it gives an instance handle."""

    __ketch_handle__ = True   # see _partial.HANDLE

    def __init__(self, tag: str, *, app=None, app_name: str | None = None, user_cls=None):
        self._tag = tag
        self._app = app
        self._app_name = app_name
        self._user_cls = user_cls
        self._target = _Target(tag, app=app, app_name=app_name)
        if user_cls is not None:
            self.__doc__ = user_cls.__doc__
            self.__name__ = user_cls.__name__
            self.__qualname__ = user_cls.__qualname__
            self.__module__ = user_cls.__module__

    def __repr__(self):
        return f"<ketch.Cls {self._tag}>"

    @staticmethod
    def from_name(app_name: str, name: str, *, environment_name: str | None = None) -> "Cls":
        """A handle to class `name` of the deployed app `app_name`; looked up on first use.
        `environment_name` is accepted and ignored: a ketch server has no environments."""
        if not isinstance(app_name, str) or not isinstance(name, str) or not app_name or not name:
            raise InvalidError("Cls.from_name(app_name, name) takes two non-empty strings")
        return Cls(name, app_name=app_name)

    def __call__(self, *args, **kwargs) -> "ClsInstance":
        if self._user_cls is not None:
            check_parameters(self._user_cls, args, kwargs)
        try:
            params = serialize((args, kwargs))
        except Exception as exc:
            raise InvalidError(f"{self._tag}(...): its parameters must be picklable: "
                               f"{exc}") from None
        return ClsInstance(self, args, kwargs, params)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        # `Model.predict.remote(x)` on a class without parameters, as Modal allows.
        return getattr(self(), name)

    # -- options at run time: a variant of the class, with containers of its own

    def with_options(self, *, cpu=None, memory=None, gpu=None, env=None, secrets=None,
                     volumes=None, retries=None, max_containers=None, buffer_containers=None,
                     scaledown_window=None, timeout=None, region=None, cloud=None,
                     routing_region=None) -> "Cls":
        """This class with some options replaced, its instances in containers of their own:
        `Model.with_options(gpu="A100")(x=1).predict.remote(y)`. Calls stack."""
        return self._with(_variants.options(
            f"{self._tag}.with_options", cpu=cpu, memory=memory, gpu=gpu, env=env,
            secrets=secrets, volumes=volumes, retries=retries, max_containers=max_containers,
            buffer_containers=buffer_containers, scaledown_window=scaledown_window,
            timeout=timeout, region=region, cloud=cloud, routing_region=routing_region))

    def with_concurrency(self, *, max_inputs: int, target_inputs: int | None = None
                         ) -> "Cls":
        """This class as if under `@ketch.concurrent(max_inputs=, target_inputs=)`."""
        return self._with(_variants.concurrency(f"{self._tag}.with_concurrency", max_inputs,
                                                target_inputs))

    def with_batching(self, *, max_batch_size: int, wait_ms: int) -> "Cls":
        """This class as if under `@ketch.batched(...)`: its method takes lists."""
        return self._with(_variants.batching(f"{self._tag}.with_batching", max_batch_size,
                                             wait_ms))

    def _with(self, overrides: _variants.Overrides) -> "Cls":
        cls = Cls(self._tag, app=self._app, app_name=self._app_name, user_cls=self._user_cls)
        cls._target = self._target.variant(overrides)
        return cls


class ClsInstance:
    """A parametrized instance of a Cls: its methods are Functions."""

    def __init__(self, cls: Cls, args: tuple, kwargs: dict, params: bytes):
        self._cls = cls
        self._args = args
        self._kwargs = kwargs
        self._params = params
        self._bound: dict[str, str] = {}   # server id → bound function id
        self._local = None

    def __repr__(self):
        return f"<ketch.Obj {self._cls._tag}>"

    def _known_bound_id(self) -> str | None:
        """_bound_id, when it needs no request to the server (else None)."""
        parent = self._cls._target.known_id()
        if parent is None or (not self._args and not self._kwargs):
            return parent
        return self._bound.get(parent)

    async def _bound_id(self, client: Client) -> str:
        parent = await self._cls._target.resolve(client)
        if not self._args and not self._kwargs:
            # The default instance runs in the class's own containers (those min_containers
            # keeps warm), as on Modal, rather than in a second set started beside them.
            return parent
        bound = self._bound.get(parent)
        if bound is None:
            reply = await client.request(function_bind=pb.FunctionBind(
                function_id=parent, params=self._params))
            bound = self._bound[parent] = reply.function_created.function_id
        return bound

    @twin
    async def update_autoscaler(self, *, min_containers: int | None = None,
                                max_containers: int | None = None,
                                scaledown_window: int | None = None,
                                buffer_containers: int | None = None
                                ) -> _autoscaler.FunctionAutoscalerSettings:
        """Changes the autoscaling of this instance's containers now, as
        Function.update_autoscaler does; it lasts until the app is deployed again."""
        client = await Client.get()
        return await _autoscaler.update(
            client, await self._bound_id(client), f"{self._cls._tag}().update_autoscaler",
            min_containers=min_containers, max_containers=max_containers,
            buffer_containers=buffer_containers, scaledown_window=scaledown_window)

    def _forget_bound(self) -> bool:
        """Drops cached ids after a redeploy; True if there was one to drop."""
        had = bool(self._bound)
        self._bound.clear()
        return self._cls._target._forget() or had

    def __getattr__(self, name: str) -> Function:
        if name.startswith("_"):
            raise AttributeError(name)
        user_cls = self._cls._user_cls
        is_generator = False
        if user_cls is not None:
            attr = getattr(user_cls, name, None)
            marks = getattr(attr, METHOD, None)
            if marks is None and getattr(attr, WEB, None) is None and \
                    getattr(attr, BATCHED, None) is None:
                raise AttributeError(
                    f"{self._cls._tag}.{name} is not a remote method; decorate it with "
                    "@ketch.method() to call it with .remote()")
            is_generator = bool(marks and marks["is_generator"])
        fn = Function(_Target(self._cls._tag, method=name, obj=self),
                      raw_f=getattr(user_cls, name, None) if user_cls else None,
                      is_generator=is_generator)
        return fn

    def _local_call(self, method: str, args, kwargs):
        user_cls = self._cls._user_cls
        if user_cls is None:
            raise InvalidError(f"{self._cls._tag} was looked up by name; its code is not in "
                               "this process, so .local() cannot run it")
        if self._local is None:
            self._local = instantiate(user_cls, self._args, self._kwargs)
            for hook in lifecycle_methods(user_cls, ENTER):
                getattr(self._local, hook)()
        return getattr(self._local, method)(*args, **kwargs)


def remote_method_names(user_cls) -> list[str]:
    """The methods called with .remote(): those marked @ketch.method() or @ketch.batched
    (which, as on Modal, also makes a method remote)."""
    return [name for name, value in inspect.getmembers(user_cls, inspect.isfunction)
            if getattr(value, METHOD, None) or getattr(value, BATCHED, None)]


def class_spec_methods(user_cls) -> list[pb.Method]:
    methods = []
    for name in remote_method_names(user_cls):
        marks = getattr(getattr(user_cls, name), METHOD, None) or {"is_generator": False}
        methods.append(pb.Method(name=name, is_generator=marks["is_generator"]))
    return methods


def class_batching(where: str, user_cls, concurrent: bool) -> tuple[int, int]:
    """The (max_batch_size, wait_ms) of the class's @ketch.batched method, or (0, 0). As on
    Modal, a class has at most one, and then no other remote method: batching is a setting
    of the class's containers, which every method would share."""
    batched = lifecycle_methods(user_cls, BATCHED)
    if not batched:
        return 0, 0
    if len(batched) > 1:
        raise InvalidError(f"{where}: a class can have only one @ketch.batched method, not "
                           f"{', '.join(batched)}; move the others to classes of their own")
    name = batched[0]
    others = [n for n in remote_method_names(user_cls) if n != name] + \
        [n for n, f in inspect.getmembers(user_cls, inspect.isfunction)
         if getattr(f, WEB, None) is not None]
    if others:
        raise InvalidError(f"{where}: a class with a @ketch.batched method ({name}) cannot "
                           f"have other remote methods ({', '.join(others)}), as on Modal; "
                           "move them to another @app.cls class")
    if concurrent:
        raise InvalidError(f"{where}: @ketch.batched and @ketch.concurrent cannot be combined")
    f = getattr(user_cls, name)
    if inspect.isgeneratorfunction(f) or inspect.isasyncgenfunction(f) or \
            (getattr(f, METHOD, None) or {}).get("is_generator"):
        raise InvalidError(f"{where}: the @ketch.batched method {name} cannot be a generator")
    return getattr(f, BATCHED)

