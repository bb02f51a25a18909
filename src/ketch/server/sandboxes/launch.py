"""What a sandbox's container is started with: the function launch path's image, secrets,
mounts and credential, its supervisor as the program, and a spec check up front."""

from __future__ import annotations

import math
import os

from ...proto import ketch_pb2 as pb
from ..errors import ServiceError
from ..functions.launch import _passes_through
from ..runtime import ContainerLaunch
from ..._runtime.supervisor import BOOT
from .model import SandboxRecord

MAX_TIMEOUT_S = 24 * 3600
MAX_TAGS = 64
MAX_PORTS = 16
MAX_ENTRYPOINT_BYTES = 128 * 1024


def function_spec(spec: pb.SandboxSpec) -> pb.FunctionSpec:
    """The parts of a function's spec a sandbox shares, for the function checks."""
    return pb.FunctionSpec(name="sandbox", image_id=spec.image_id,
                           secret_ids=spec.secret_ids, volumes=spec.volumes)


def check_spec(spec: pb.SandboxSpec, tags) -> None:
    """Every number finite and in range, the rest bounded, before anything is used."""
    for name, value in (("timeout", spec.timeout_s), ("idle_timeout", spec.idle_timeout_s)):
        if not math.isfinite(value) or value < 0 or value > MAX_TIMEOUT_S:
            raise ValueError(f"Sandbox.create: {name}={value!r}: give seconds between 1 and "
                             f"{MAX_TIMEOUT_S}")
    if spec.timeout_s and spec.timeout_s < 1:
        raise ValueError("Sandbox.create: timeout must be at least 1 second")
    ports = [*spec.encrypted_ports, *spec.unencrypted_ports]
    if any(not 1 <= p <= 65535 for p in ports) or len(set(ports)) != len(ports) or \
            len(ports) > MAX_PORTS:
        raise ValueError(f"Sandbox.create: ports {ports}: give at most {MAX_PORTS} distinct "
                         "port numbers from 1 to 65535")
    if spec.block_network and (spec.encrypted_ports or spec.unencrypted_ports):
        raise ValueError("Sandbox.create: block_network=True leaves no network to reach "
                         "encrypted_ports or unencrypted_ports through; drop one of them")
    if sum(len(a) for a in spec.entrypoint) > MAX_ENTRYPOINT_BYTES:
        raise ValueError(f"Sandbox.create: the entrypoint is over {MAX_ENTRYPOINT_BYTES} bytes")
    if len(tags) > MAX_TAGS or any(len(k) > 256 or len(v) > 1024 for k, v in tags.items()):
        raise ValueError(f"sandbox tags: at most {MAX_TAGS}, keys up to 256 characters and "
                         "values up to 1024")
    res = spec.resources
    for name, value in (("cpu", res.cpu_request), ("cpu limit", res.cpu_limit)):
        if not math.isfinite(value) or value < 0 or value > 1024:
            raise ValueError(f"Sandbox.create: {name}={value!r} is out of range")
    if spec.workdir and not os.path.isabs(spec.workdir):
        raise ValueError(f"Sandbox.create: workdir={spec.workdir!r}: give an absolute path")


class SandboxLauncher:
    """Builds a sandbox's `ContainerLaunch` from the function launcher's services."""

    def __init__(self, launcher):
        self.launcher = launcher   # functions.launch.Launcher: images, secrets, volumes, ...

    def check(self, spec: pb.SandboxSpec, workspace: str):
        """Its image, secrets and volumes exist in its workspace, as for a function."""
        la, fn_spec = self.launcher, function_spec(spec)
        why = la.images.check_function(fn_spec, workspace)
        if why:
            raise ServiceError(f"Sandbox.create: {why}")
        la.secrets.check_exist(fn_spec.secret_ids, workspace)
        if spec.code_bundle:
            la.code.ensure(spec.code_bundle)
        try:
            la.volumes.check_mounts(fn_spec, workspace)
        except ValueError as exc:
            raise ServiceError(str(exc).replace("sandbox: ", "Sandbox.create: ")) from None

    def command(self, spec: pb.SandboxSpec) -> list[str]:
        """What the sandbox runs first: its arguments after its image's entrypoint, or
        the image's cmd when it has none (a Dockerfile's ENTRYPOINT and CMD, as on Modal)."""
        image = self.launcher.images.get(spec.image_id) if spec.image_id else None
        return image.sandbox_command(spec.entrypoint) if image else list(spec.entrypoint)

    def secret_env(self, secret_ids, workspace: str) -> dict[str, str]:
        """An exec's secrets: of the sandbox's workspace only (another's ids are not
        found), as at create."""
        self.launcher.secrets.check_exist(secret_ids, workspace)
        return self.launcher.secrets.env_for(secret_ids)

    def launch_for(self, sb: SandboxRecord) -> ContainerLaunch:
        la, spec = self.launcher, sb.spec
        node_id = (sb.reservation.node_id if sb.reservation else "") or la.node_id
        env = {k: v for k, v in os.environ.items() if _passes_through(k)}
        image = la.images.require(spec.image_id) if spec.image_id else None
        if image is not None:
            env.update(image.env)
        env.update(spec.env)
        env.update(la.secrets.env_for(spec.secret_ids))
        env.update({
            "KETCH_SERVER_ADDR": la.server_address,
            "KETCH_TOKEN": la.credentials.mint_container(sb.id, sb.workspace),
            "KETCH_CONTAINER_ID": sb.id,
            "KETCH_APP_ID": sb.app_id,   # an image's zygote serves one app
            "KETCH_NODE_ID": node_id,    # as in a function's container
            "KETCH_SANDBOX_WORKDIR": spec.workdir,
            "KETCH_SANDBOX_PORTS": ",".join(str(p) for p in
                                            [*spec.encrypted_ports, *spec.unencrypted_ports]),
        })
        res = spec.resources
        fields = image.launch_fields() if image is not None else {}
        return ContainerLaunch(
            container_id=sb.id, env=env, cpu=res.cpu_request, memory_mib=res.memory_request_mib,
            cpu_limit=res.cpu_limit, memory_limit_mib=res.memory_limit_mib,
            gpus=sb.reservation.gpus if sb.reservation else [], **fields,
            code_dir=str(la.code.path(spec.code_bundle)) if spec.code_bundle else "",
            mounts=la.volumes.mounts_for(function_spec(spec)),
            block_network=spec.block_network, entry=["-c", BOOT],
            node_id=node_id)

    def forget(self, sb: SandboxRecord):
        self.launcher.credentials.drop_container(sb.id)
        if sb.spec.volumes:
            self.launcher.volumes.commit_after_exit(function_spec(sb.spec))
