"""Variants of a live function (`with_options`, `with_concurrency`, `with_batching`): its
spec with some fields replaced, run in containers of its own.

Only the fields named here may be replaced; the rest (code, image, web endpoints) stay the
base function's. A variant never runs on a schedule: the base one does.
"""

from __future__ import annotations

import hashlib

from ...proto import ketch_pb2 as pb

FIELDS = frozenset({
    "resources.cpu_request", "resources.cpu_limit", "resources.memory_request_mib",
    "resources.memory_limit_mib", "resources.gpu", "env", "secret_ids", "volumes", "retries",
    "scaling.max_containers", "scaling.buffer_containers", "scaling.scaledown_window_s",
    "timeout_s", "max_inputs", "target_inputs", "batch_max_size", "batch_wait_ms",
})
# The key a variant is stored under among its base's bound records; pickled class
# parameters (the other keys) start with pickle's protocol byte, never with this.
KEY_PREFIX = b"variant:"


def apply(base: pb.FunctionSpec, overrides: pb.FunctionSpec, fields) -> pb.FunctionSpec:
    """The base spec with `fields` taken from `overrides`; ValueError for any other."""
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        raise ValueError(f"a function variant cannot change {unknown[0]!r}")
    if base.web_endpoints:
        raise ValueError(f"{base.name} is a web endpoint: with_options and its kin make "
                         "variants of functions called with .remote(), not of endpoints")
    spec = pb.FunctionSpec()
    spec.CopyFrom(base)
    spec.ClearField("schedule")
    _copy(overrides, spec, fields)
    if spec.batch_max_size and (spec.max_inputs > 1 or spec.target_inputs):
        raise ValueError(f"{base.name}: batching and input concurrency cannot be combined")
    return spec


def key(overrides: pb.FunctionSpec, fields) -> bytes:
    """The same overrides give the same key (and so the same variant)."""
    picked = pb.FunctionSpec()
    _copy(overrides, picked, fields)
    digest = hashlib.sha256(",".join(sorted(set(fields))).encode() + b"\0" +
                            picked.SerializeToString(deterministic=True)).hexdigest()
    return KEY_PREFIX + digest.encode()


def _copy(src_spec: pb.FunctionSpec, dst_spec: pb.FunctionSpec, fields):
    for path in sorted(set(fields)):
        owner_name, _, name = path.rpartition(".")
        src = getattr(src_spec, owner_name) if owner_name else src_spec
        dst = getattr(dst_spec, owner_name) if owner_name else dst_spec
        value = getattr(src, name)
        if name == "env":
            dst.env.update(value)          # merged over the base's, as a secret would be
        elif name in ("secret_ids", "volumes"):
            dst.ClearField(name)           # replaced, as on Modal
            getattr(dst, name).extend(value)
        elif name == "retries":
            dst.retries.CopyFrom(value)
        else:
            setattr(dst, name, value)
