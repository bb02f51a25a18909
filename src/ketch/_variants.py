"""Options given at run time: `with_options`, `with_concurrency` and `with_batching` on a
Function or a Cls. Each is checked when it is called and kept as `Overrides`; the first
call of the returned handle asks the server for a variant of the function with them (its
own containers, scaled apart from the base), as on Modal. Later calls stack: what a later
one sets replaces what an earlier one set.
"""

from __future__ import annotations

from typing import Any

from ._options import _count, _gpu, _number, _request_limit
from ._secret import check_secrets
from ._volume import check_volumes
from .exception import InvalidError
from .proto import ketch_pb2 as pb
from .retries import Retries


class Overrides:
    """What a variant changes: field paths of the FunctionSpec and their values."""

    def __init__(self, values: dict[str, Any]):
        self.values = values

    def merged(self, later: "Overrides | None") -> "Overrides":
        return Overrides({**self.values, **(later.values if later else {})})

    async def to_proto(self) -> tuple[pb.FunctionSpec, list[str]]:
        spec = pb.FunctionSpec()
        for path, value in self.values.items():
            owner_name, _, name = path.rpartition(".")
            owner = getattr(spec, owner_name) if owner_name else spec
            if name == "env":
                owner.env.update(value)
            elif name == "secret_ids":
                owner.secret_ids.extend([await s._id() for s in value])
            elif name == "volumes":
                owner.volumes.extend([pb.VolumeMount(path=p, volume_id=await v._id(),
                                                     name=v.name or "",
                                                     read_only=v._read_only)
                                      for p, v in value.items()])
            elif name == "retries":
                owner.retries.CopyFrom(pb.RetryPolicy(
                    max_retries=value.max_retries,
                    backoff_coefficient=value.backoff_coefficient,
                    initial_delay_s=value.initial_delay, max_delay_s=value.max_delay))
            else:
                setattr(owner, name, value)
        return spec, sorted(self.values)


def options(where: str, *, cpu=None, memory=None, gpu=None, env=None, secrets=None,
            volumes=None, retries=None, max_containers=None, buffer_containers=None,
            scaledown_window=None, timeout=None, region=None, cloud=None,
            routing_region=None) -> Overrides:
    """`with_options(...)`: options left as None keep the base's (none can be unset)."""
    for name, value in (("region", region), ("cloud", cloud),
                        ("routing_region", routing_region)):
        if value is not None:
            raise InvalidError(f"{where}({name}=...): ketch is self-hosted: there are no "
                               f"regions or clouds. Remove {name}=")
    values: dict[str, Any] = {}
    if cpu is not None:
        values["resources.cpu_request"], values["resources.cpu_limit"] = \
            _request_limit("cpu", cpu, 0.01, 512)
    if memory is not None:
        req, lim = _request_limit("memory", memory, 1, 16 * 1024 * 1024)
        values["resources.memory_request_mib"] = int(req)
        values["resources.memory_limit_mib"] = int(lim)
    if gpu is not None:
        values["resources.gpu"] = _gpu(gpu)
    if env is not None:
        if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in env.items()):
            raise InvalidError(f"{where}: env= takes a dict of str to str")
        values["env"] = dict(env)
    if secrets is not None:
        values["secret_ids"] = check_secrets(where, secrets)
    if volumes:
        values["volumes"] = check_volumes(where, volumes)
    if retries is not None:
        values["retries"] = Retries.coerce(retries)
    if max_containers is not None:
        values["scaling.max_containers"] = _count("max_containers", max_containers, 1)
    if buffer_containers is not None:
        values["scaling.buffer_containers"] = _count("buffer_containers", buffer_containers)
    if scaledown_window is not None:
        values["scaling.scaledown_window_s"] = _number("scaledown_window", scaledown_window,
                                                       1, 86400)
    if timeout is not None:
        values["timeout_s"] = _number("timeout", timeout, 1, 86400)
    return Overrides(values)


def concurrency(where: str, max_inputs, target_inputs=None) -> Overrides:
    """`with_concurrency(...)`: as `@ketch.concurrent` on the base (no batching then)."""
    values = {"max_inputs": _count("max_inputs", max_inputs, 1, 1000),
              "target_inputs": 0 if target_inputs is None else
              _count("target_inputs", target_inputs, 1, 1000),
              "batch_max_size": 0, "batch_wait_ms": 0}
    if values["target_inputs"] > values["max_inputs"]:
        raise InvalidError(f"{where}: target_inputs={target_inputs} is above "
                           f"max_inputs={max_inputs}")
    return Overrides(values)


def batching(where: str, max_batch_size, wait_ms) -> Overrides:
    """`with_batching(...)`: as `@ketch.batched` on the base (no input concurrency)."""
    return Overrides({"batch_max_size": _count("max_batch_size", max_batch_size, 1, 1000),
                      "batch_wait_ms": _count("wait_ms", wait_ms, 0, 10 * 60 * 1000),
                      "max_inputs": 1, "target_inputs": 0})
