"""Image steps that install a local Python project's dependencies: from its
pyproject.toml (pip), its uv lock (`uv sync`) or its Poetry lock. The project files are
read now, on this machine, and travel in the step (as pip_install_from_requirements's
file does); the project itself is not installed (add it with add_local_python_source).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ._context import is_local
from ._image_args import env_dict, step_secrets, version
from ._image_missing import no_gpu
from .exception import InvalidError

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None


def _read(where: str, path: str) -> str:
    try:
        return Path(os.path.expanduser(path)).read_text()
    except OSError as exc:
        raise InvalidError(f"{where}({path!r}): cannot read it: {exc.strerror or exc}") from None


def _names(where: str, key: str, value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not all(isinstance(v, str) and re.match(
            r"^[A-Za-z0-9][A-Za-z0-9._-]*$", v) for v in value):
        raise InvalidError(f"{where}({key}=...): give a list of names")
    return list(value)


def _toml(where: str, path: str, text: str) -> dict:
    if tomllib is None:
        raise InvalidError(f"{where}: reading pyproject.toml needs Python 3.11 or later "
                           "on this machine (tomllib)")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidError(f"{where}({path!r}): not valid TOML: {exc}") from None


class ProjectInstalls:
    """The project-file methods of `ketch.Image`."""

    def pip_install_from_pyproject(self, pyproject_toml: str,
                                   optional_dependencies: list[str] = (), *,
                                   find_links=None, index_url=None, extra_index_url=None,
                                   pre: bool = False, extra_options: str = "",
                                   force_build: bool = False, env=None, secrets=(),
                                   gpu=None):
        """Installs with pip the [project.dependencies] of a local pyproject.toml, and
        those of the [project.optional-dependencies] groups named."""
        where = "pip_install_from_pyproject"
        groups = _names(where, "optional_dependencies", optional_dependencies)
        if not is_local():
            return self
        project = _toml(where, pyproject_toml, _read(where, pyproject_toml)).get("project", {})
        packages = list(project.get("dependencies", []))
        optional = project.get("optional-dependencies", {})
        for group in groups:
            if group not in optional:
                raise InvalidError(f"{where}({pyproject_toml!r}): it has no optional "
                                   f"dependencies {group!r} (it has {sorted(optional)})")
            packages += optional[group]
        return self.pip_install(*packages, index_url=index_url,
                                extra_index_url=extra_index_url, find_links=find_links,
                                pre=pre, extra_options=extra_options, env=env,
                                force_build=force_build, secrets=secrets, gpu=gpu)

    def uv_sync(self, uv_project_dir: str = "./", *, force_build: bool = False,
                groups: list[str] | None = None, extras: list[str] | None = None,
                frozen: bool = True, extra_options: str = "", uv_version: str | None = None,
                env=None, secrets=(), gpu=None):
        """Installs the dependencies of a local uv project (its pyproject.toml and
        uv.lock) with `uv sync` into a virtualenv at /.uv/.venv, which goes first on
        PATH. The project itself and uv workspaces are not installed, as on Modal."""
        where = "uv_sync"
        no_gpu(where, gpu)
        options = {"groups": ",".join(_names(where, "groups", groups)),
                   "extras": ",".join(_names(where, "extras", extras)),
                   "frozen": "1" if frozen else "0"}
        if uv_version is not None:
            options["uv_version"] = version(where, "uv_version", uv_version)
        if extra_options:
            options["extra_options"] = str(extra_options)
        if not is_local():
            return self
        folder = os.path.expanduser(uv_project_dir)
        pyproject = _read(where, os.path.join(folder, "pyproject.toml"))
        project = _toml(where, os.path.join(folder, "pyproject.toml"), pyproject)
        if project.get("tool", {}).get("uv", {}).get("workspace"):
            raise NotImplementedError(f"{where}({uv_project_dir!r}): uv workspaces are not "
                                      "in ketch yet (nor on Modal)")
        lock_path = os.path.join(folder, "uv.lock")
        lock = _read(where, lock_path) if os.path.exists(lock_path) else ""
        return self._extend("uv_sync", [pyproject, lock], options=options,
                            env=env_dict(where, env, build=True), force_build=force_build,
                            secrets=step_secrets(where, secrets))

    def poetry_install_from_file(self, poetry_pyproject_toml: str,
                                 poetry_lockfile: str | None = None, *,
                                 ignore_lockfile: bool = False, force_build: bool = False,
                                 with_: list[str] = (), without: list[str] = (),
                                 only: list[str] = (), poetry_version: str | None = "latest",
                                 old_installer: bool = False, env=None, secrets=(), gpu=None):
        """Installs a local Poetry project's dependencies (not the project) with
        `poetry install --no-root` into the image's Python, from its lock file (next to
        the pyproject.toml unless poetry_lockfile names it; ignore_lockfile=True
        resolves afresh). Poetry is pip-installed first unless poetry_version=None."""
        where = "poetry_install_from_file"
        no_gpu(where, gpu)
        if poetry_version is not None and (not isinstance(poetry_version, str) or
                                           not re.match(r"^(latest|[0-9][0-9a-z.*]*)$",
                                                        poetry_version)):
            raise InvalidError(f"{where}(poetry_version={poetry_version!r}): give a "
                               "version like '2.1.3', 'latest', or None")
        options = {"with": ",".join(_names(where, "with_", with_)),
                   "without": ",".join(_names(where, "without", without)),
                   "only": ",".join(_names(where, "only", only)),
                   "poetry_version": "" if poetry_version is None else poetry_version,
                   "old_installer": "1" if old_installer else "0"}
        if not is_local():
            return self
        pyproject = _read(where, poetry_pyproject_toml)
        lock = ""
        if not ignore_lockfile:
            lock_path = poetry_lockfile or os.path.join(
                os.path.dirname(os.path.expanduser(poetry_pyproject_toml)), "poetry.lock")
            if not os.path.exists(os.path.expanduser(lock_path)):
                raise InvalidError(f"{where}: no lock file at {lock_path!r}; run `poetry "
                                   "lock`, name it with poetry_lockfile=, or pass "
                                   "ignore_lockfile=True")
            lock = _read(where, lock_path)
        return self._extend("poetry_install", [pyproject, lock], options=options,
                            env=env_dict(where, env, build=True), force_build=force_build,
                            secrets=step_secrets(where, secrets))
