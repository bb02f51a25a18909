"""What a container of a function is started with: its image, environment (the
function's, its secrets', the server's address and the container's own credential),
resources, code (the app's uploaded bundle, never a host path the client names) and
mounts."""

from __future__ import annotations

import os
import sys

from ...proto import ketch_pb2 as pb
from ..runtime import ContainerLaunch
from . import gangs
from .model import ContainerRecord

_PASS_PREFIXES = ("LANG", "LC_", "TZ", "OPENBLAS_", "OMP_", "MKL_", "CUDA_", "NVIDIA_",
                  "LD_LIBRARY_PATH", "SSL_CERT", "VIRTUAL_ENV", "PYENV", "HF_", "TORCH_")


def runtime_python_version() -> str:
    """The Python that containers without an image run: the server's own."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


class Launcher:
    """Builds a `ContainerLaunch` from a function, its image, its secrets and its mounts."""

    def __init__(self, images, secrets, volumes, server_address: str, credentials, code,
                 node_id: str = "local"):
        self.code = code       # the unpacked code bundles
        self.node_id = node_id  # where containers run when no cluster places them
        self.images = images
        self.secrets = secrets
        self.volumes = volumes
        self.server_address = server_address   # as containers reach it
        self.credentials = credentials         # tokens.Tokens: one credential per container

    def launch_for(self, c: ContainerRecord) -> ContainerLaunch:
        fn = c.fn
        node_id = (c.reservation.node_id if c.reservation else "") or self.node_id
        env = {k: v for k, v in os.environ.items() if _passes_through(k)}
        image = self.images.require(fn.spec.image_id) if fn.spec.image_id else None
        if image is not None:
            env.update(image.env)
        env.update(fn.spec.env)
        env.update(self.secrets.env_for(fn.spec.secret_ids))
        env.update({
            "KETCH_SERVER_ADDR": self.server_address,
            "KETCH_TOKEN": self.credentials.mint_container(c.id, fn.app.workspace),
            "KETCH_CONTAINER_ID": c.id,
            "KETCH_APP_ID": fn.app.id,
            "KETCH_NODE_ID": node_id,
            "PYTHONUNBUFFERED": "1",
            **gangs.env_of(c),
        })
        res = fn.spec.resources
        return ContainerLaunch(
            container_id=c.id, env=env, cpu=res.cpu_request, memory_mib=res.memory_request_mib,
            cpu_limit=res.cpu_limit, memory_limit_mib=res.memory_limit_mib,
            gpus=c.reservation.gpus if c.reservation else [],
            code_dir=str(self.code.path(fn.spec.code_bundle)) if fn.spec.code_bundle else "",
            ephemeral_disk_mib=fn.spec.ephemeral_disk_mib,
            **(image.launch_fields() if image is not None else {}),
            mounts=self.volumes.mounts_for(fn.spec), block_network=fn.spec.block_network,
            node_id=node_id, snapshot=pb.ContainerSpec(
                spec=fn.spec, class_params=fn.params or b"").SerializeToString(
                deterministic=True) if fn.spec.enable_memory_snapshot else b"")

    def check(self, spec: pb.FunctionSpec, workspace: str):
        """Refuses a function whose code, image, secrets or volume mounts cannot be had
        here (in its workspace)."""
        self.code.check(spec)
        why = self.images.check_function(spec, workspace)
        if why:
            raise ValueError(f"{spec.name}: {why}")
        self.secrets.check_exist(spec.secret_ids, workspace)
        self.volumes.check_mounts(spec, workspace)

    def python_of(self, spec: pb.FunctionSpec) -> str:
        """The Python minor version its containers run ("" when its image does not say)."""
        if not spec.image_id:
            return runtime_python_version()
        image = self.images.get(spec.image_id)
        return image.python_version if image is not None else ""

    def forget(self, c: ContainerRecord):
        """The container exited: its credential stops working."""
        self.credentials.drop_container(c.id)

    def after_clean_exit(self, spec: pb.FunctionSpec):
        """A container that exited cleanly commits its volumes, as Modal does."""
        if spec.volumes:
            self.volumes.commit_after_exit(spec)


def _passes_through(name: str) -> bool:
    """Host variables a container inherits: locale, math-library and GPU settings. Others
    (the server's own secrets among them) stay out."""
    return name.startswith(_PASS_PREFIXES)
