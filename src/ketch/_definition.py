"""`Definition`: one function or class defined on an App, and the `FunctionSpec` the
server gets for it."""

from __future__ import annotations

import inspect
import os
import sys
from dataclasses import dataclass
from typing import Any

from . import _web
from ._client import python_version
from ._cls import class_spec_methods
from ._options import FunctionOptions
from ._serialization import serialize
from ._source import source_root
from .proto import ketch_pb2 as pb


@dataclass
class Definition:
    """A function or class defined on this App, as it will be sent to the server."""

    tag: str
    obj: Any                  # the user's function or class
    options: FunctionOptions
    is_class: bool
    handle: Any               # the Function or Cls handed back to the user

    def spec(self) -> pb.FunctionSpec:
        o = self.options
        obj = self.obj
        module = self.module
        qualname = obj.__qualname__
        pickled = serialize(obj) if self.serialized else b""
        is_gen = (not self.is_class and (inspect.isgeneratorfunction(obj) or
                                         inspect.isasyncgenfunction(obj)))
        return pb.FunctionSpec(
            name=self.tag, module=module, qualname=qualname, pickled=pickled,
            is_generator=is_gen, is_class=self.is_class,
            methods=class_spec_methods(obj) if self.is_class else [],
            resources=pb.Resources(cpu_request=o.cpu_request, cpu_limit=o.cpu_limit,
                                   memory_request_mib=o.memory_request_mib,
                                   memory_limit_mib=o.memory_limit_mib, gpu=o.gpu),
            timeout_s=o.timeout,
            retries=pb.RetryPolicy(max_retries=o.retries.max_retries,
                                   backoff_coefficient=o.retries.backoff_coefficient,
                                   initial_delay_s=o.retries.initial_delay,
                                   max_delay_s=o.retries.max_delay),
            scaling=pb.Scaling(min_containers=o.min_containers,
                               max_containers=o.max_containers,
                               buffer_containers=o.buffer_containers,
                               scaledown_window_s=o.scaledown_window),
            env=o.env, max_inputs=o.max_inputs, target_inputs=o.target_inputs,
            batch_max_size=o.batch_max_size, batch_wait_ms=o.batch_wait_ms,
            python_version=python_version(), startup_timeout_s=o.startup_timeout,
            is_async=_is_async(obj),
            web_endpoints=_web.endpoints_of(obj, self.tag, self.is_class),
            secret_ids=[secret.object_id for secret in o.secrets],
            ephemeral_disk_mib=o.ephemeral_disk_mib, block_network=o.block_network,
            volumes=[pb.VolumeMount(path=path, volume_id=vol.object_id, name=vol.name or "",
                                    read_only=vol._read_only)
                     for path, vol in o.volumes.items()],
            schedule=o.schedule, cluster_size=o.cluster_size,
            enable_memory_snapshot=o.enable_memory_snapshot,
        )


    @property
    def module(self) -> str:
        """The module containers import. A script run as __main__ is imported by its
        file's name, as Modal does, so what `with image.imports():` brings in is there."""
        name = self.obj.__module__
        if name != "__main__":
            return name
        main = sys.modules.get("__main__")
        spec = getattr(main, "__spec__", None)
        if spec is not None and spec.name:   # python -m pkg.app
            return spec.name
        stem = os.path.splitext(os.path.basename(getattr(main, "__file__", None) or ""))[0]
        return stem if stem.isidentifier() else name   # no file (-c, a notebook): pickled

    @property
    def serialized(self) -> bool:
        """Sent by value (cloudpickled): asked for, or not importable by module path."""
        return self.options.serialized or self.module == "__main__" or \
            "<locals>" in self.obj.__qualname__

    def source(self) -> tuple[str, str] | None:
        """What of this machine's code its containers get, as Modal's include_source:
        none for serialized functions (their code travels pickled) or include_source=False
        (the image carries it)."""
        if self.serialized or not self.options.include_source:
            return None
        return source_root(self.obj.__module__)


def _is_async(obj) -> bool:
    """Async functions, and classes with any async method, run on the container's loop."""
    if inspect.isclass(obj):
        return any(inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f)
                   for _, f in inspect.getmembers(obj, inspect.isfunction))
    return inspect.iscoroutinefunction(obj) or inspect.isasyncgenfunction(obj)
