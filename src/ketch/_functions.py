"""`Function` and `FunctionCall`: handles for running code in ketch containers.

Each public call (`remote`, `map`, `spawn`, …) is an async core on ketch's loop with a
blocking face and an `.aio` twin (see `_sync`).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, AsyncIterator, Callable

from . import _autoscaler, _blocking_remote, _call_graph, _context, _sync, _variants, _web
from ._call_io import InputBatcher, decode_output, make_input, new_call_id
from ._client import Client
# MAP_WINDOW and READ_AHEAD bound a map's memory; they are named here for readers of Function.
from ._map import MAP_WINDOW, READ_AHEAD, MapCall, known_length, tuples, zip_args  # noqa: F401
from ._sync import twin
from .exception import ConnectionError as KetchConnectionError
from .exception import ExecutionError, InvalidError, NotFoundError
from .proto import ketch_pb2 as pb

# How long a FunctionCall.get() keeps asking a server that went away (a restart: a loaded
# machine takes several seconds to bring one back), and how often.
GET_RECONNECT_S = 30.0
GET_RECONNECT_EVERY_S = 0.5


class _Target:
    """What a Function handle points at and how it finds its server-side id."""

    def __init__(self, tag: str, *, app=None, app_name: str | None = None,
                 method: str | None = None, obj=None):
        self.tag = tag
        self.app = app                # the App that defines it, when defined here
        self.app_name = app_name      # set for Function.from_name
        self.method = method or ""
        self.obj = obj                # the class instance handle, for methods
        self.function_id: str | None = None
        self.overrides: _variants.Overrides | None = None   # with_options and kin
        self._variants: dict[str, str] = {}                 # base id → variant id
        self.variant_id: str | None = None                  # the one last resolved

    def variant(self, overrides: _variants.Overrides) -> "_Target":
        """A target for the same function with these options stacked on its own."""
        t = _Target(self.tag, app=self.app, app_name=self.app_name)
        t.function_id = self.function_id
        t.overrides = overrides if self.overrides is None else self.overrides.merged(overrides)
        return t

    async def resolve(self, client: Client) -> str:
        base = await self._resolve_base(client)
        if self.overrides is None:
            return base
        if base not in self._variants:
            spec, fields = await self.overrides.to_proto()
            reply = await client.request(function_variant=pb.FunctionVariant(
                function_id=base, overrides=spec, fields=fields))
            self._variants[base] = reply.function_created.function_id
        self.variant_id = self._variants[base]
        return self.variant_id

    def known_id(self) -> str | None:
        """The id `resolve` would return, when it needs no request to the server."""
        base = self.obj._known_bound_id() if self.obj is not None else self._known_base()
        if base is None or self.overrides is None:
            return base
        variant = self._variants.get(base)
        if variant:
            self.variant_id = variant
        return variant

    def _known_base(self) -> str | None:
        if self.function_id:
            return self.function_id
        if self.app is not None and self.app._app_id:
            return self.app._function_ids.get(self.tag)
        return None

    async def _resolve_base(self, client: Client) -> str:
        if self.obj is not None:
            return await self.obj._bound_id(client)
        known = self._known_base()
        if known:
            return known
        container_app = os.environ.get("KETCH_APP_ID")
        if self.app_name is None and self.app is not None and container_app:
            reply = await client.request(function_get=pb.FunctionGet(app_id=container_app,
                                                                     name=self.tag))
            self.function_id = reply.container_spec.function_id
            return self.function_id
        if self.app_name is not None:
            reply = await client.request(function_get=pb.FunctionGet(app_name=self.app_name,
                                                                     name=self.tag))
            self.function_id = reply.container_spec.function_id
            return self.function_id
        raise ExecutionError(
            f"{self.tag} is not running anywhere yet: its app is not running. Call it inside "
            "`with app.run():`, from a `ketch run` entrypoint, or deploy the app and use "
            f"ketch.Function.from_name(app_name, {self.tag!r}).")

    async def create_call(self, client: Client, call_id: str, kind: int,
                          inputs: list[pb.Input] = (), is_generator: bool = False):
        """Creates a call on the server. A handle looked up by name follows a redeploy:
        when its cached function is gone, it looks the name up again once."""
        for attempt in (0, 1):
            fid = await self.resolve(client)
            try:
                return await client.request(call_create=pb.CallCreate(
                    call_id=call_id, function_id=fid, kind=kind, inputs=inputs,
                    is_generator=is_generator,
                    parent_input_id=_context.current_input_id() or ""))
            except NotFoundError:
                if attempt or not self._forget():
                    raise

    async def create_quiet(self, client: Client, call_id: str, inp: pb.Input,
                           stream) -> int:
        """Creates a one-input call without waiting for the server's Ok: its output (or
        the create's error) arrives on `stream`. → the request id to forget after."""
        fid = await self.resolve(client)
        return client.request_quiet(stream, call_create=pb.CallCreate(
            call_id=call_id, function_id=fid, kind=pb.REMOTE, inputs=[inp], quiet=True,
            parent_input_id=_context.current_input_id() or ""))

    def _forget(self) -> bool:
        """Drops a cached function id that may be stale; True if there was one to drop."""
        if self.obj is not None:
            return self.obj._forget_bound()
        had_variant = bool(self._variants)
        self._variants.clear()
        if self.app_name is not None and self.function_id:
            self.function_id = None
            return True
        return had_variant


class Function:
    """A function that runs in ketch containers. Made by `@app.function`, by
    `Function.from_name`, or as a method of an `@app.cls` instance."""

    __ketch_handle__ = True   # see _partial.HANDLE

    def __init__(self, target: _Target, *, raw_f: Callable | None = None,
                 is_generator: bool = False):
        self._target = target
        self._raw_f = raw_f
        self._is_generator = is_generator
        if raw_f is not None:
            self.__doc__ = raw_f.__doc__
            self.__name__ = getattr(raw_f, "__name__", target.tag)
            self.__qualname__ = getattr(raw_f, "__qualname__", target.tag)
            self.__module__ = getattr(raw_f, "__module__", None)

    def __repr__(self):
        return f"<ketch.Function {self._target.tag}{'.' + self._target.method if self._target.method else ''}>"

    @property
    def _name(self) -> str:
        t = self._target
        return f"{t.tag}.{t.method}" if t.method else t.tag

    @staticmethod
    def from_name(app_name: str, name: str, *, environment_name: str | None = None
                  ) -> "Function":
        """A handle to function `name` of the deployed app `app_name`; looked up on first use.
        `environment_name` is accepted and ignored: a ketch server has no environments."""
        if not isinstance(app_name, str) or not isinstance(name, str) or not app_name or not name:
            raise InvalidError("Function.from_name(app_name, name) takes two non-empty strings")
        if "." in name:
            raise InvalidError(f"{name!r} looks like a class method: use "
                               "ketch.Cls.from_name(app_name, class_name) and call the method")
        return Function(_Target(name, app_name=app_name))

    @twin
    async def hydrate(self) -> "Function":
        """Looks the function up on the server now (otherwise it happens on first use)."""
        await self._target.resolve(await Client.get())
        return self

    @property
    def object_id(self) -> str | None:
        t = self._target
        return t.variant_id if t.overrides is not None else t.function_id

    def __call__(self, *args, **kwargs):
        raise InvalidError(
            f"{self._name} is a ketch Function: call it with .remote(...) to run it in a "
            "container, or .local(...) to run it here")

    # -- local

    def local(self, *args, **kwargs):
        """Runs the function in this process, as plain Python."""
        t = self._target
        if t.obj is not None:
            return t.obj._local_call(t.method, args, kwargs)
        if self._raw_f is None:
            raise ExecutionError(f"{self._name} was looked up by name; its code is not in this "
                                 "process, so .local() cannot run it")
        return self._raw_f(*args, **kwargs)

    # -- one call

    def _check_not_generator(self, what: str):
        if getattr(self._raw_f, _web.WEB, None) is not None:
            raise InvalidError(f"{self._name} is a web endpoint: it cannot be invoked with "
                               f"{what}. Call it over HTTP at its URL (.get_web_url()), or "
                               "run it here with .local()")
        if self._is_generator:
            raise InvalidError(f"{self._name} is a generator function: use .remote_gen(...) "
                               f"instead of {what}")

    def _remote_blocking(self, *args, **kwargs) -> Any:
        return _blocking_remote.remote(self, args, kwargs)

    @_sync.twin_blocking(_remote_blocking)
    async def remote(self, *args, **kwargs) -> Any:
        """Runs the function once in a container and returns its result."""
        return await self._remote(args, kwargs)

    async def _remote(self, args: tuple, kwargs: dict, looked_up_again: bool = False):
        """`looked_up_again`: a first try found the function gone and dropped its id."""
        self._check_not_generator(".remote(...)")
        client = await Client.get()
        inp = await make_input(client, self._name, 0, args, kwargs, self._target.method)
        for attempt in (1,) if looked_up_again else (0, 1):
            call_id = new_call_id()
            stream = client.open_stream(call_id)
            out = rid = None
            try:
                rid = await self._target.create_quiet(client, call_id, inp, stream)
                out = await stream.next()
            except NotFoundError:
                if attempt or not self._target._forget():
                    raise
                continue  # a redeployed function: looked up again once
            finally:
                client.close_stream(call_id)
                if rid is not None:
                    client.forget_request(rid)
                if out is None and not client.conn.closed:
                    # Cancelled or interrupted here: the server stops running it too.
                    client.send(call_close=pb.CallClose(call_id=call_id))
            return await decode_output(client, out)

    @twin
    async def remote_gen(self, *args, **kwargs) -> AsyncIterator:
        """Runs a generator function in a container, yielding its values as they come."""
        if not self._is_generator:
            raise InvalidError(f"{self._name} is not a generator function: use .remote(...)")
        client = await Client.get()
        inp = await make_input(client, self._name, 0, args, kwargs, self._target.method)
        call_id = new_call_id()
        stream = client.open_stream(call_id)
        done = False
        try:
            await self._target.create_call(client, call_id, pb.REMOTE, [inp], is_generator=True)
            pending: dict[int, pb.Output] = {}
            next_index = 0
            while True:
                out = await stream.next()
                if out.status != pb.GENERATOR_ITEM:
                    done = True
                    await decode_output(client, out)  # raises if the generator failed
                    return
                pending[out.gen_index] = out
                while next_index in pending:
                    yield await decode_output(client, pending.pop(next_index))
                    next_index += 1
        finally:
            client.close_stream(call_id)
            if not done and not client.conn.closed:
                client.send(call_close=pb.CallClose(call_id=call_id))

    @twin
    async def spawn(self, *args, **kwargs) -> "FunctionCall":
        """Starts the function in a container and returns at once with a FunctionCall;
        the call is stored by the server and survives its restarts."""
        self._check_not_generator(".spawn(...)")
        client = await Client.get()
        inp = await make_input(client, self._name, 0, args, kwargs, self._target.method)
        call_id = new_call_id()
        await self._target.create_call(client, call_id, pb.SPAWN, [inp])
        return FunctionCall(call_id)

    # -- many calls

    @_sync.twin_chunked
    async def map(self, *iterables, kwargs: dict | None = None, order_outputs: bool = True,
                  return_exceptions: bool = False) -> AsyncIterator:
        """Runs the function over zipped iterables in parallel containers, yielding results
        (in input order unless order_outputs=False). A raised exception stops the map
        unless return_exceptions=True, which yields it in place."""
        if not iterables:
            raise InvalidError(f"{self._name}.map(...) needs at least one iterable")
        self._check_not_generator(".map(...)")
        call = await self._map_call(kwargs, order_outputs, return_exceptions,
                                    known_length(*iterables))
        async for chunk in call.results(zip_args(iterables)):
            yield chunk

    @_sync.twin_chunked
    async def starmap(self, input_iterator, *, kwargs: dict | None = None,
                      order_outputs: bool = True, return_exceptions: bool = False
                      ) -> AsyncIterator:
        """Like map, but each item of `input_iterator` is a tuple of positional arguments."""
        self._check_not_generator(".starmap(...)")
        call = await self._map_call(kwargs, order_outputs, return_exceptions,
                                    known_length(input_iterator))
        async for chunk in call.results(tuples(input_iterator)):
            yield chunk

    @twin
    async def for_each(self, *iterables, kwargs: dict | None = None,
                       ignore_exceptions: bool = False) -> None:
        """Runs the function over the inputs for their side effects; returns None."""
        self._check_not_generator(".for_each(...)")
        call = await self._map_call(kwargs, False, ignore_exceptions, known_length(*iterables))
        async for _ in call.results(zip_args(iterables)):
            pass

    @twin
    async def spawn_map(self, *iterables, kwargs: dict | None = None) -> None:
        """Queues the function over the inputs and returns at once (fire and forget); the
        inputs are stored by the server and run even if this process exits."""
        self._check_not_generator(".spawn_map(...)")
        client = await Client.get()
        call_id = new_call_id()
        await self._target.create_call(client, call_id, pb.SPAWN)
        batch = InputBatcher(client, call_id)
        idx = 0
        async for args in zip_args(iterables):
            batch.add(await make_input(client, self._name, idx, args, kwargs or {},
                                       self._target.method))
            idx += 1
            if batch.full():
                batch.send()
                await client.conn.drain()
        batch.send(last=True)
        # A round trip so the inputs are on the server before we return.
        await client.request(server_status=pb.ServerStatus())

    async def _map_call(self, kwargs: dict | None, order_outputs: bool,
                        return_exceptions: bool, total: int | None) -> MapCall:
        return MapCall(await Client.get(), self._target, self._name, kwargs or {},
                       order_outputs, return_exceptions, total)

    # -- unsupported here

    # -- options at run time: a variant with containers of its own

    def with_options(self, *, cpu=None, memory=None, gpu=None, env=None, secrets=None,
                     volumes=None, retries=None, max_containers=None, buffer_containers=None,
                     scaledown_window=None, timeout=None, region=None, cloud=None,
                     routing_region=None) -> "Function":
        """This function with some options replaced, run in containers of its own that
        scale apart from the base's: `f.with_options(gpu="H100").remote(x)`. Options
        cannot be unset; secrets and volumes replace the base's, env adds to it."""
        where = self._variant_where("with_options")
        return self._with(_variants.options(
            where, cpu=cpu, memory=memory, gpu=gpu, env=env, secrets=secrets,
            volumes=volumes, retries=retries, max_containers=max_containers,
            buffer_containers=buffer_containers, scaledown_window=scaledown_window,
            timeout=timeout, region=region, cloud=cloud, routing_region=routing_region))

    def with_concurrency(self, *, max_inputs: int, target_inputs: int | None = None
                         ) -> "Function":
        """This function as if under `@ketch.concurrent(max_inputs=, target_inputs=)`."""
        return self._with(_variants.concurrency(self._variant_where("with_concurrency"),
                                                max_inputs, target_inputs))

    def with_batching(self, *, max_batch_size: int, wait_ms: int) -> "Function":
        """This function as if under `@ketch.batched(max_batch_size=, wait_ms=)`: it then
        takes lists of inputs and returns lists of outputs."""
        return self._with(_variants.batching(self._variant_where("with_batching"),
                                             max_batch_size, wait_ms))

    def _variant_where(self, what: str) -> str:
        if self._target.obj is not None:
            raise InvalidError(f"{self._name}.{what}: options of a class apply to all its "
                               f"methods: call {what} on the class ({self._target.tag}."
                               f"{what}(...)) and make the instance from what it returns")
        if getattr(self._raw_f, _web.WEB, None) is not None:
            raise InvalidError(f"{self._name} is a web endpoint: {what} makes variants of "
                               "functions called with .remote(); set its options on "
                               "@app.function(...)")
        return f"{self._name}.{what}"

    def _with(self, overrides: _variants.Overrides) -> "Function":
        return Function(self._target.variant(overrides), raw_f=self._raw_f,
                        is_generator=self._is_generator)

    @twin
    async def update_autoscaler(self, *, min_containers: int | None = None,
                                max_containers: int | None = None,
                                buffer_containers: int | None = None,
                                scaledown_window: int | None = None
                                ) -> _autoscaler.FunctionAutoscalerSettings:
        """Changes this live function's autoscaling now; what is left out keeps its value.
        It lasts until the app is deployed again (a restart of the server keeps it)."""
        client = await Client.get()
        return await _autoscaler.update(
            client, await self._target.resolve(client), f"{self._name}.update_autoscaler",
            min_containers=min_containers, max_containers=max_containers,
            buffer_containers=buffer_containers, scaledown_window=scaledown_window)

    @twin
    async def get_current_stats(self) -> _autoscaler.FunctionCurrentStats:
        """Its load now: inputs waiting (backlog), containers, inputs running, free slots."""
        client = await Client.get()
        return await _autoscaler.current_stats(client, await self._target.resolve(client))

    @twin
    async def get_web_url(self) -> str | None:
        """The URL of this web endpoint while its app runs (None if it is not one):
        http://<app>--<label>.localhost:<port>, or the gateway's path form where this
        machine cannot resolve *.localhost names."""
        client = await Client.get()
        t = self._target
        owner = t.obj._cls._target if t.obj is not None else t
        fid = await owner.resolve(client)
        reply = await client.request(web_url_get=pb.WebUrlGet(function_id=fid,
                                                              method=t.method))
        return _web.reachable_url(reply.web_url) or None


class FunctionCall:
    """A handle to a spawned call: `.get()` its result, `.cancel()` it, or pass its
    `object_id` to another process and rebuild it with `FunctionCall.from_id`."""

    def __init__(self, call_id: str):
        self.object_id = call_id

    def __repr__(self):
        return f"<ketch.FunctionCall {self.object_id}>"

    @staticmethod
    def from_id(function_call_id: str) -> "FunctionCall":
        if not isinstance(function_call_id, str) or not function_call_id.startswith("fc-"):
            raise InvalidError(f"{function_call_id!r} is not a function call id (they look "
                               "like 'fc-…'; see FunctionCall.object_id)")
        return FunctionCall(function_call_id)

    @twin
    async def get(self, timeout: float | None = None):
        """The call's result, waiting up to `timeout` seconds (None: as long as it takes).
        Raises TimeoutError if it is not done by then."""
        if timeout is not None and timeout < 0:
            raise InvalidError("timeout must be >= 0 or None")
        deadline = None if timeout is None else time.monotonic() + timeout
        gone_since = None   # when the server was first found gone
        while True:
            remaining = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                client = await Client.get()  # reconnects after a lost connection
                reply = await client.request(call_get=pb.CallGet(call_id=self.object_id,
                                                                 timeout_s=remaining))
                break
            except KetchConnectionError:
                # Spawned calls outlive a server restart: wait for it and ask again.
                gone_since = gone_since or time.monotonic()
                if time.monotonic() - gone_since >= GET_RECONNECT_S or \
                        (deadline is not None and time.monotonic() >= deadline):
                    raise
                await asyncio.sleep(GET_RECONNECT_EVERY_S)
        outputs = reply.outputs.outputs
        if not outputs:
            raise NotFoundError(f"function call {self.object_id} has no output")
        if len(outputs) > 1:
            return [await decode_output(client, o) for o in outputs]
        return await decode_output(client, outputs[0])

    @twin
    async def cancel(self, terminate_containers: bool = False):
        """Stops the call; `get()` then raises InputCancellation. With
        terminate_containers=True the containers running it are stopped too."""
        client = await Client.get()
        await client.request(call_cancel=pb.CallCancel(
            call_id=self.object_id, terminate_containers=terminate_containers))

    @_sync.twin_staticmethod
    async def gather(*calls: "FunctionCall") -> list:
        """Waits for several calls and returns their results in order."""
        for c in calls:
            if not isinstance(c, FunctionCall):
                raise InvalidError(f"FunctionCall.gather takes FunctionCall objects, got "
                                   f"{type(c).__name__}")
        return list(await asyncio.gather(*(c.get.aio() for c in calls)))

    @twin
    async def get_call_graph(self) -> list[_call_graph.InputInfo]:
        """The tree of inputs this call is part of: from the call at its root, each input
        with the calls its code made as children. Best effort, as on Modal: the server
        keeps the newest calls' graphs in memory (not across a restart)."""
        client = await Client.get()
        reply = await client.request(call_graph_get=pb.CallGraphGet(call_id=self.object_id))
        return _call_graph.build(reply.call_graph.inputs)
