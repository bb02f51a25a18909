"""What each image step means: its title, its cache key, and whether it makes a layer.

A step's key hashes its parent's key with everything the step reads (its arguments, the
files it copies, the function it runs), so a changed step changes its own key and every
key after it, and an unchanged one finds its layer again.
"""

from __future__ import annotations

import hashlib
import json
import os

from ..._dockerfile import expand
from ...proto import ketch_pb2 as pb
from . import python_layer

# Steps that start an image: they have no parent.
BASES = {"debian_slim", "from_registry", "from_scratch"}
# Steps that change only the configuration (environment, what a sandbox runs), not the
# file system.
CONFIG_ONLY = {"env", "entrypoint", "cmd"}
KNOWN = BASES | CONFIG_ONLY | {
    "pip_install", "uv_pip_install", "pip_install_from_requirements", "apt_install",
    "run_commands", "run_function", "workdir", "add_local_file", "add_local_dir",
    "add_python", "uv_sync", "poetry_install", "copy_from"}
# How deep images copied from (COPY --from) may nest in one definition.
MAX_SOURCE_DEPTH = 4
# Steps whose arguments are the project files they install from (not worth showing).
_FILE_ARGS = {"uv_sync": "uv_sync", "poetry_install": "poetry_install_from_file"}
# What an image is on the process backend: a virtualenv of the server's Python.
VENV_STEPS = {"debian_slim", "pip_install", "uv_pip_install", "pip_install_from_requirements",
              "env", "entrypoint", "cmd"}

ROOT_KEY = "ketch-image-v1"
# Steps whose layer the server makes by a recipe of its own: a new recipe, a new key.
STEP_RECIPES = {"add_python": python_layer.RECIPE}


def step_key(parent: str, step: pb.ImageStep) -> str:
    material = {
        "parent": parent, "kind": step.kind, "args": list(step.args),
        "options": dict(sorted(step.options.items())), "env": dict(sorted(step.env.items())),
        "pickled": hashlib.sha256(step.pickled).hexdigest() if step.pickled else "",
        "content": step.content_hash,
    }
    if step.kind in STEP_RECIPES:
        material["recipe"] = STEP_RECIPES[step.kind]
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def root_key(backend: str, recipe: str) -> str:
    """The key every image's first step builds on: the backend and its builder's recipe."""
    return hashlib.sha256(f"{ROOT_KEY}:{backend}:{recipe}".encode()).hexdigest()


def title(step: pb.ImageStep) -> str:
    """The step as a person would write it, shortened."""
    kind = step.kind
    if kind in _FILE_ARGS:
        return _FILE_ARGS[kind]
    if kind == "copy_from":
        args = [" ".join(step.args[:-1]), "→", step.args[-1]]
    if kind == "pip_install_from_requirements":
        args = [step.options.get("path", "requirements.txt")]
    elif kind in ("add_local_file", "add_local_dir"):
        args = list(step.args[:2])
    elif kind == "run_function":
        args = [step.options.get("name", "function")]
    elif kind == "env":
        args = [f"{k}=…" for k in sorted(step.env)]
    elif kind == "run_commands":
        args = ["; ".join(step.args)]
    else:
        args = list(step.args)
    text = f"{kind} {' '.join(args)}".strip()
    return text if len(text) <= 100 else text[:99] + "…"


def _check_local_paths(i: int, step: pb.ImageStep):
    """The paths an add_local step writes to stay inside the image: no '..' anywhere."""
    if len(step.args) < 2:
        raise ValueError(f"image step {i} ({step.kind}) needs a local and a remote path")
    for path in step.args[1:]:
        if ".." in path.replace("\\", "/").split("/"):
            raise ValueError(f"image step {i} ({step.kind}): {path!r} uses '..'; name where the "
                             "files go inside the image without it, e.g. '/root/data'")
    for rel in step.args[2:]:
        if os.path.isabs(rel):
            raise ValueError(f"image step {i} ({step.kind}): {rel!r} must be relative to the "
                             "directory")


def source_of(i: int, step: pb.ImageStep, depth: int) -> pb.ImageDef:
    """The image a copy_from step copies from (its steps travel in the step)."""
    if depth >= MAX_SOURCE_DEPTH:
        raise ValueError(f"image step {i} (copy_from): images copied from nest more than "
                         f"{MAX_SOURCE_DEPTH} deep")
    try:
        return pb.ImageDef.FromString(step.pickled)
    except Exception:   # protobuf's DecodeError
        raise ValueError(f"image step {i} (copy_from): the image it copies from is not "
                         "readable") from None


def check(steps: list[pb.ImageStep], backend: str, depth: int = 0):
    """Raises ValueError naming the first step this backend cannot build."""
    if not steps:
        raise ValueError("the image has no steps; start it with Image.debian_slim() or "
                         "Image.from_registry(...)")
    if steps[0].kind not in BASES:
        raise ValueError(f"an image starts with debian_slim, from_registry or from_scratch, "
                         f"not {steps[0].kind}")
    for i, step in enumerate(steps, 1):
        if step.kind not in KNOWN:
            raise ValueError(f"image step {i} ({step.kind}) is not a step ketch knows; "
                             "upgrade the server")
        if i > 1 and step.kind in BASES:
            raise ValueError(f"image step {i}: {step.kind} can only start an image")
        if step.kind in ("add_local_file", "add_local_dir"):
            _check_local_paths(i, step)
        if step.kind in _FILE_ARGS and len(step.args) != 2:
            raise ValueError(f"image step {i} ({step.kind}) takes a pyproject.toml and a lock "
                             "file (empty for none)")
        if step.kind in ("entrypoint", "cmd") and not step.args:
            raise ValueError(f"image step {i} ({step.kind}) needs at least one argument")
        if step.kind == "copy_from":
            if len(step.args) < 2 or not all(a.startswith("/") for a in step.args):
                raise ValueError(f"image step {i} (copy_from) takes absolute source paths "
                                 "and a destination")
            check(list(source_of(i, step, depth).steps), backend, depth + 1)
        if backend == "process" and step.kind not in VENV_STEPS:
            raise ValueError(
                f"image step {i} ({title(step)}) needs the bwrap runtime: this server runs "
                "containers with the process backend, where an image is a virtualenv and "
                "only pip_install, uv_pip_install, pip_install_from_requirements and env "
                "work. Start the server with --runtime bwrap (Linux, bubblewrap installed, "
                "as root)")


def secret_ids(step: pb.ImageStep) -> list[str]:
    """The secrets whose variables the step's build sees (secrets= on Modal)."""
    return [i for i in step.options.get("secret_ids", "").split(",") if i]


def secret_ids_within(steps: list[pb.ImageStep], depth: int = 0) -> set[str]:
    """The secrets of the steps and of the images they copy from: all must be the
    workspace's before any layer is used (a cached copy_from layer holds what its source
    image's secrets made)."""
    out: set[str] = set()
    for i, step in enumerate(steps, 1):
        out.update(secret_ids(step))
        if step.kind == "copy_from":
            out |= secret_ids_within(list(source_of(i, step, depth).steps), depth + 1)
    return out


def configure(step: pb.ImageStep, config: dict):
    """A configuration-only step applied to the image's configuration so far: its "env"
    (a Dockerfile's ENV values expand $NAME from it), "entrypoint" and "cmd" (a new
    entrypoint drops the cmd before it, as Docker does)."""
    if step.kind == "env":
        before = dict(config["env"])   # one ENV line's values all read the env before it
        for name, value in step.env.items():
            config["env"][name] = expand(value, before) if step.options.get("expand") == "1" \
                else value
    elif step.kind == "entrypoint":
        config["entrypoint"], config["cmd"] = list(step.args), []
    elif step.kind == "cmd":
        config["cmd"] = list(step.args)
