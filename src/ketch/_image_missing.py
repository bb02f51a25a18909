"""Modal's Image methods ketch does not have yet. Each exists, so a ported app gets a
clear error when it calls one (what it is, why it is missing, what to use instead),
never an AttributeError."""

from __future__ import annotations

from ._missing import DOCS


def no_gpu(where: str, gpu=None):
    """Build steps take no GPUs yet: a clear error when one is asked for."""
    if gpu:
        raise NotImplementedError(f"{where}(gpu=...): GPUs during image builds are not in "
                                  "ketch yet")


# Options of build steps ketch does not have yet, and why.
_STEP_OPTIONS = {
    "volumes": "volumes in image builds are not in ketch yet; copy the files in with "
               "add_local_dir(copy=True)",
    "network_file_systems": "network file systems are not in ketch (use a Volume)",
    "cloud": "ketch is self-hosted: there is no cloud to choose. Remove cloud=",
    "region": "ketch is self-hosted: there are no regions. Remove region=",
}


def step_options_not_yet(where: str, **given):
    """Refuses each option of `given` that has a value (gpu too)."""
    no_gpu(where, given.pop("gpu", None))
    for key, value in given.items():
        if value not in (None, (), [], {}):
            raise NotImplementedError(f"{where}({key}=...): {_STEP_OPTIONS[key]}")


def _not_yet(name: str, hint: str, static: bool = False):
    def method(*args, **kwargs):
        raise NotImplementedError(f"Image.{name} is not in ketch yet ({hint}); {DOCS}")

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"Not in ketch yet: {hint}."
    return staticmethod(method) if static else method


class NotYet:
    """The methods of `ketch.Image` that say they are not in ketch yet."""

    micromamba = _not_yet(
        "micromamba", "conda packages come from conda channels, which ketch's builder does "
        "not fetch; use Image.debian_slim() with pip_install or apt_install", static=True)
    micromamba_install = _not_yet(
        "micromamba_install", "conda channels are not fetched by ketch's builder; use "
        "pip_install, uv_pip_install or apt_install")
    from_aws_ecr = _not_yet(
        "from_aws_ecr", "private registries; use Image.from_registry with a public image",
        static=True)
    from_gcp_artifact_registry = _not_yet(
        "from_gcp_artifact_registry", "private registries; use Image.from_registry with a "
        "public image", static=True)
    pip_install_private_repos = _not_yet(
        "pip_install_private_repos", "installing from private GitHub/GitLab repositories; "
        "run_commands('pip install git+https://$GITHUB_TOKEN@github.com/org/repo', "
        "secrets=[...]) does the same, or vendor the package with add_local_python_source")

    @property
    def logs(self):
        raise NotImplementedError("Image.logs is not in ketch yet (a finished build's "
                                  "logs); builds stream their output under ketch run or "
                                  f"ketch.enable_output(); {DOCS}")
