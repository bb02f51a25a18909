"""The options of `@app.function` and `@app.cls`: each is checked when the decorator runs
and kept, validated, in a `FunctionOptions`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ._image import check_image
from ._partial import BATCHED, CLUSTERED, CONCURRENT
from ._secret import check_secrets
from ._volume import check_volumes
from .exception import InvalidError
from .retries import Retries

# Accepted so that Modal apps port, but not built in ketch yet: each is refused with this
# message when given a value.
_NOT_YET = {
    "cloud": "ketch is self-hosted: there is no cloud to choose. Remove cloud=",
    "region": "ketch is self-hosted: there are no regions. Remove region=",
}
_NOT_YET_DEFAULTS = {"cloud": None, "region": None}


def refuse_not_yet(where: str, options: dict):
    for key, default in _NOT_YET_DEFAULTS.items():
        value = options.get(key, default)
        if value not in (default, None, (), [], {}):
            raise NotImplementedError(f"{where}: {_NOT_YET[key]}")


@dataclass
class FunctionOptions:
    """The validated settings of one @app.function or @app.cls."""

    cpu_request: float = 0.125
    cpu_limit: float = 0.0
    memory_request_mib: int = 128
    memory_limit_mib: int = 0
    gpu: str = ""
    timeout: float = 300.0
    startup_timeout: float = 0.0
    retries: Retries = field(default_factory=lambda: Retries(max_retries=0))
    min_containers: int = 0
    max_containers: int = 0
    buffer_containers: int = 0
    scaledown_window: float = 60.0
    env: dict[str, str] = field(default_factory=dict)
    max_inputs: int = 1
    target_inputs: int = 0
    batch_max_size: int = 0
    batch_wait_ms: int = 0
    serialized: bool = False
    secrets: list = field(default_factory=list)        # ketch.Secret, in order
    volumes: dict = field(default_factory=dict)        # mount path → ketch.Volume
    image: Any = None                                  # ketch.Image, or None
    ephemeral_disk_mib: int = 0
    block_network: bool = False                        # loopback only (bwrap runtime)
    include_source: bool = True   # False: no code uploaded, the image carries it
    schedule: Any = None          # pb.Schedule of a scheduled function, or None
    cluster_size: int = 0         # @ketch.clustered(size=N): gangs of N containers
    enable_memory_snapshot: bool = False  # fork containers from a zygote that loaded it


def _number(name: str, value, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InvalidError(f"{name}={value!r}: give a number from {low:g} to {high:g}")
    return float(value)


def _count(name: str, value, low: int = 0, high: int = 10_000) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidError(f"{name}={value!r}: give an int from {low} to {high}")
    return value


def _request_limit(name: str, value, low: float, high: float):
    if isinstance(value, tuple):
        if len(value) != 2:
            raise InvalidError(f"{name}={value!r}: give a number or a (request, limit) pair")
        request = _number(name, value[0], low, high)
        limit = _number(name, value[1], low, high)
        if limit < request:
            raise InvalidError(f"{name}={value!r}: the limit must be at least the request")
        return request, limit
    return _number(name, value, low, high), 0.0


_GPU_RE = re.compile(r"^[A-Za-z0-9-]+(:[1-8])?$")


def _gpu(value) -> str:
    if value is None:
        return ""
    choices = value if isinstance(value, (list, tuple)) else [value]
    for choice in choices:
        if not isinstance(choice, str) or not _GPU_RE.match(choice):
            raise InvalidError(f"gpu={value!r}: give a GPU type like 'A100', 'H100:2' or "
                               "'any', or a list of them in order of preference")
    return ",".join(choices)


def build_options(where: str, *, cpu=None, memory=None, gpu=None, timeout=300,
                  startup_timeout=None, retries=None, min_containers=0, max_containers=None,
                  buffer_containers=0, scaledown_window=60, env=None, serialized=False,
                  target=None, secrets=(), volumes=None, image=None,
                  ephemeral_disk=None, block_network=False) -> FunctionOptions:
    opts = FunctionOptions()
    if not isinstance(block_network, bool):
        raise InvalidError(f"{where}: block_network={block_network!r}: give True or False")
    opts.block_network = block_network
    opts.image = check_image(where, image)
    if ephemeral_disk is not None:
        opts.ephemeral_disk_mib = _count("ephemeral_disk", ephemeral_disk, 1, 3 * 1024 * 1024)
    opts.secrets = check_secrets(where, secrets)
    opts.volumes = check_volumes(where, volumes)
    if cpu is not None:
        opts.cpu_request, opts.cpu_limit = _request_limit("cpu", cpu, 0.01, 512)
    if memory is not None:
        req, lim = _request_limit("memory", memory, 1, 16 * 1024 * 1024)
        opts.memory_request_mib, opts.memory_limit_mib = int(req), int(lim)
    opts.gpu = _gpu(gpu)
    opts.timeout = _number("timeout", timeout, 1, 86400)
    if startup_timeout is not None:
        opts.startup_timeout = _number("startup_timeout", startup_timeout, 1, 86400)
    opts.retries = Retries.coerce(retries)
    opts.min_containers = _count("min_containers", min_containers)
    opts.buffer_containers = _count("buffer_containers", buffer_containers)
    if max_containers is not None:
        opts.max_containers = _count("max_containers", max_containers, 1)
        if opts.max_containers < opts.min_containers:
            raise InvalidError(f"{where}: max_containers={max_containers} is below "
                               f"min_containers={min_containers}")
    opts.scaledown_window = _number("scaledown_window", scaledown_window, 1, 86400)
    if env is not None:
        if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in env.items()):
            raise InvalidError(f"{where}: env= takes a dict of str to str")
        opts.env = dict(env)
    opts.serialized = bool(serialized)
    if target is not None:
        conc = getattr(target, CONCURRENT, None)
        if conc:
            opts.max_inputs, opts.target_inputs = conc
        batch = getattr(target, BATCHED, None)
        if batch:
            if conc:
                raise InvalidError(f"{where}: @ketch.batched and @ketch.concurrent cannot be "
                                   "combined")
            opts.batch_max_size, opts.batch_wait_ms = batch
        size = getattr(target, CLUSTERED, None)
        if size:
            _check_clustered(where, opts, size, conc or batch)
    return opts


def _check_clustered(where: str, opts: FunctionOptions, size: int, concurrent_or_batched):
    if concurrent_or_batched:
        raise InvalidError(f"{where}: @ketch.clustered runs one input at a time on its gang; "
                           "it cannot be combined with @ketch.concurrent or @ketch.batched")
    for name in ("min_containers", "max_containers", "buffer_containers"):
        if getattr(opts, name) % size:
            raise InvalidError(f"{where}: {name}={getattr(opts, name)} must be a multiple of "
                               f"the cluster size {size} (it counts containers, not gangs)")
    opts.cluster_size = size
