"""What a container of a function is started with: its image, environment (the
function's, its secrets', the server's address and token), resources, code and mounts."""

from __future__ import annotations

import os
import sys

from ...proto import ketch_pb2 as pb
from ..runtime import ContainerLaunch
from .model import ContainerRecord

_PASS_PREFIXES = ("LANG", "LC_", "TZ", "OPENBLAS_", "OMP_", "MKL_", "CUDA_", "NVIDIA_",
                  "LD_LIBRARY_PATH", "SSL_CERT", "VIRTUAL_ENV", "PYENV", "HF_", "TORCH_")


def runtime_python_version() -> str:
    """The Python that containers without an image run: the server's own."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


class Launcher:
    """Builds a `ContainerLaunch` from a function, its image, its secrets and its mounts."""

    def __init__(self, images, secrets, volumes, server_address: str, token: str):
        self.images = images
        self.secrets = secrets
        self.volumes = volumes
        self.server_address = server_address   # as containers reach it
        self.token = token

    def launch_for(self, c: ContainerRecord) -> ContainerLaunch:
        fn = c.fn
        env = {k: v for k, v in os.environ.items() if _passes_through(k)}
        image = self.images.require(fn.spec.image_id) if fn.spec.image_id else None
        if image is not None:
            env.update(image.env)
        env.update(fn.spec.env)
        env.update(self.secrets.env_for(fn.spec.secret_ids))
        env.update({
            "KETCH_SERVER_ADDR": self.server_address,
            "KETCH_TOKEN": self.token,
            "KETCH_CONTAINER_ID": c.id,
            "KETCH_APP_ID": fn.app.id,
            "PYTHONUNBUFFERED": "1",
        })
        res = fn.spec.resources
        return ContainerLaunch(
            container_id=c.id, env=env, cpu=res.cpu_request, memory_mib=res.memory_request_mib,
            cpu_limit=res.cpu_limit, memory_limit_mib=res.memory_limit_mib,
            gpus=c.reservation.gpus if c.reservation else [],
            code_paths=_code_paths(fn.spec), ephemeral_disk_mib=fn.spec.ephemeral_disk_mib,
            **(image.launch_fields() if image is not None else {}),
            mounts=self.volumes.mounts_for(fn.spec), block_network=fn.spec.block_network)

    def check(self, spec: pb.FunctionSpec):
        """Refuses a function whose image, secrets or volume mounts cannot be had here."""
        why = self.images.check_function(spec)
        if why:
            raise ValueError(f"{spec.name}: {why}")
        self.secrets.check_exist(spec.secret_ids)
        self.volumes.check_mounts(spec)

    def after_clean_exit(self, spec: pb.FunctionSpec):
        """A container that exited cleanly commits its volumes, as Modal does."""
        if spec.volumes:
            self.volumes.commit_after_exit(spec)


def _code_paths(spec: pb.FunctionSpec) -> list[str]:
    """The user's module (its top-level package or file) that a container imports: an
    isolated container sees it and nothing else of the client's tree."""
    top = spec.module.split(".")[0]
    paths = []
    for root in spec.sys_path:
        for candidate in (os.path.join(root, top), os.path.join(root, top + ".py")):
            if os.path.exists(candidate):
                paths.append(candidate)
                break
    return paths


def _passes_through(name: str) -> bool:
    """Host variables a container inherits: locale, math-library and GPU settings. Others
    (the server's own secrets among them) stay out."""
    return name.startswith(_PASS_PREFIXES)
