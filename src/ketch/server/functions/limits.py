"""The numbers in a function spec, checked: a client may be hand-made, so the server takes
no number on trust. Each is finite and in the range the SDK allows at decoration time
(`ketch._options`), or 0 where 0 means "not set"; a bad one is refused naming it, before
the scheduler ever sees it (a negative or NaN CPU request once wedged it)."""

from __future__ import annotations

import math

from ...proto import ketch_pb2 as pb

DAY_S = 86400.0
MAX_CPU = 512.0
MAX_MEMORY_MIB = 16 * 1024 * 1024
MAX_CONTAINERS = 10_000
MAX_INPUTS = 1000
MAX_BATCH_WAIT_MS = 600_000
MAX_EPHEMERAL_DISK_MIB = 3 * 1024 * 1024
MAX_RETRIES = 10
MAX_RETRY_DELAY_S = 60.0
MAX_BACKOFF = 10.0
# A spec that asks for no CPU at all (a hand-made one: the SDK always sets it) gets the
# SDK's default request: none at all would let its containers multiply without bound.
DEFAULT_CPU = 0.125


def check_spec_numbers(spec: pb.FunctionSpec):
    """Raises ValueError naming the first number of `spec` out of its range (a CPU request
    left unset becomes DEFAULT_CPU)."""
    res, retries, scaling = spec.resources, spec.retries, spec.scaling
    if res.cpu_request == 0:
        res.cpu_request = DEFAULT_CPU
    _in(spec, "cpu", res.cpu_request, 0.01, MAX_CPU)
    if res.cpu_limit:
        _in(spec, "cpu limit", res.cpu_limit, max(res.cpu_request, 0.01), MAX_CPU)
    _in(spec, "memory (MiB)", res.memory_request_mib, 0, MAX_MEMORY_MIB)
    if res.memory_limit_mib:
        _in(spec, "memory limit (MiB)", res.memory_limit_mib, max(res.memory_request_mib, 1),
            MAX_MEMORY_MIB)
    _in(spec, "timeout", spec.timeout_s, 1, DAY_S)
    if spec.startup_timeout_s:
        _in(spec, "startup_timeout", spec.startup_timeout_s, 1, DAY_S)
    _in(spec, "retries", retries.max_retries, 0, MAX_RETRIES)
    if retries.backoff_coefficient:
        _in(spec, "retries backoff_coefficient", retries.backoff_coefficient, 1, MAX_BACKOFF)
    _in(spec, "retries initial_delay", retries.initial_delay_s, 0, MAX_RETRY_DELAY_S)
    _in(spec, "retries max_delay", retries.max_delay_s, 0, MAX_RETRY_DELAY_S)
    _in(spec, "min_containers", scaling.min_containers, 0, MAX_CONTAINERS)
    _in(spec, "max_containers", scaling.max_containers, 0, MAX_CONTAINERS)
    _in(spec, "buffer_containers", scaling.buffer_containers, 0, MAX_CONTAINERS)
    _in(spec, "scaledown_window", scaling.scaledown_window_s, 0, DAY_S)
    _in(spec, "max_inputs", spec.max_inputs, 0, MAX_INPUTS)
    _in(spec, "target_inputs", spec.target_inputs, 0, MAX_INPUTS)
    _in(spec, "batch_max_size", spec.batch_max_size, 0, MAX_INPUTS)
    _in(spec, "batch wait_ms", spec.batch_wait_ms, 0, MAX_BATCH_WAIT_MS)
    _in(spec, "ephemeral_disk", spec.ephemeral_disk_mib, 0, MAX_EPHEMERAL_DISK_MIB)
    for ep in spec.web_endpoints:
        _in(spec, "web_server port", ep.port, 0, 65535)
        _in(spec, "web_server startup_timeout", ep.startup_timeout_s, 0, DAY_S)


def _in(spec: pb.FunctionSpec, name: str, value: float, low: float, high: float):
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{spec.name}: {name}={value!r} is out of range: give a finite "
                         f"number from {low:g} to {high:g}")
