"""Builds image steps for the bwrap backend: each step runs in an isolated build container
over the layers before it, and what it wrote (overlayfs's upper directory) becomes its
layer. The Debian base comes from mmdebstrap; local files are copied in directly.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shlex
import shutil
from pathlib import Path

from ..._pythons import ADDED_PYTHONS, DEBIAN_PYTHONS, SUITE_ENV, unoffered
from ...proto import ketch_pb2 as pb
from ..runtime import Mount, cgroups
from ..runtime.bwrap import IMAGE_PATH, SITE, Sandbox, spawn
from . import python_layer, registry
from .errors import BuildFailed, OutputTail

DEBIAN_SUITE = "bookworm"   # the base's; debian_slim(python_version=) picks another
DEBIAN_PYTHON = "3.11"
# What python:slim (the base of Modal's debian_slim) has beside Python: time zones, CAs.
DEBIAN_PACKAGES = ("python3", "python3-pip", "ca-certificates", "tzdata", "netbase")
# Inside build containers, files a step reads are bound here; removed from its layer after.
BUILD_DIR = "/opt/ketch/build"
UV_ROOT = "/.uv"            # uv_sync's project and virtualenv, as on Modal
COPY_DIR = "/.ketch-copy"   # where a copy_from step's build container gathers its files
BASE_ENV = {"PATH": IMAGE_PATH, "LANG": "C.UTF-8", "PIP_BREAK_SYSTEM_PACKAGES": "1",
            "PIP_ROOT_USER_ACTION": "ignore", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_CACHE_DIR": "1"}




def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name}={value!r}: give a positive whole number")
    return int(value)


# Build steps run install scripts nobody reviewed: each runs in a cgroup under these limits
# (a server's environment may raise them), so one step cannot take the machine's memory,
# fill its process table or hold every CPU.
STEP_LIMITS = cgroups.Limits(
    memory_limit_mib=_env_int("KETCH_BUILD_MEMORY_MIB", 8192),
    pids_max=_env_int("KETCH_BUILD_PIDS", 4096),
    cpu_limit=float(min(_env_int("KETCH_BUILD_CPUS", 4), os.cpu_count() or 1)))

_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# What the base is made of: a change here changes every layer's key.
RECIPE = f"rootfs-1:{DEBIAN_SUITE}:{','.join(DEBIAN_PACKAGES)}"
_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


async def make(step: pb.ImageStep, layers: list[Path], env: dict, workdir: str,
               scratch: Path, store, log, group: str = cgroups.BASE,
               source: list[Path] = ()) -> tuple[Path, dict]:
    """Runs one step (its cgroup below `group`, the server's); returns the directory that
    becomes its layer and its metadata. `source`: the layers copy_from copies from."""
    kind = step.kind
    if kind == "debian_slim":
        return await _debian(step, scratch, log)
    if kind == "from_registry":
        fs, meta = await registry.pull(step, scratch, store, log)
        meta["python"] = await _python_of([str(store.path(k)) for k in meta["below"]],
                                          meta["env"], scratch, group)
        return fs, meta
    if kind in ("add_local_file", "add_local_dir"):
        return _copy_local(step, scratch), {}
    if kind == "from_scratch":   # no files at all: for Sandbox.mount_image
        (scratch / "fs").mkdir()
        return scratch / "fs", {}
    if kind == "add_python":
        return await _add_python(step.args[0], env, scratch, store, log)
    if kind == "copy_from":
        return await _copy_from(step, source, scratch, log, group), {}
    script, binds = _script(step, scratch)
    binds += _host_trust(layers)
    box = Sandbox(command=["sh", "-ec", script],
                  env={**BASE_ENV, **env, **step.env, "HOME": "/root",
                       "DEBIAN_FRONTEND": "noninteractive"},
                  layers=[str(p) for p in layers], scratch=scratch / "box",
                  workdir=workdir or "/", binds=binds)
    await run(box, log, group)
    upper = scratch / "box" / "upper"
    # The mount points bubblewrap made for ketch's own binds are not the step's doing.
    shutil.rmtree(upper / "opt" / "ketch", ignore_errors=True)
    try:
        (upper / "opt").rmdir()  # only if the step left nothing else there
    except OSError:
        pass
    meta = {"workdir": step.args[0]} if kind == "workdir" else {}
    if kind == "uv_sync":   # the synced virtualenv's python and scripts come first
        meta["env"] = {"PATH": f"{UV_ROOT}/.venv/bin:" + (env.get("PATH") or IMAGE_PATH)}
    return upper, meta


async def _python_of(layers: list[str], env: dict, scratch: Path, group: str) -> str:
    """The "major.minor" of the image's python3, which ketch's runtime needs ("" when it
    has none: an add_python step may follow)."""
    found: list[str] = []
    box = Sandbox(command=["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                  env={"PATH": IMAGE_PATH, **env}, layers=layers, scratch=scratch / "probe")
    try:
        await run(box, found.append, group)
    except BuildFailed:
        pass
    return found[-1] if found and re.match(r"^3\.\d+$", found[-1]) else ""


async def _add_python(version: str, env: dict, scratch: Path, store, log
                      ) -> tuple[Path, dict]:
    """A layer of its own for the relocated Python, shared by every image that adds it;
    this step's layer is empty and lists it below."""
    key = await python_layer.ensure(version, store, log, _host_command)
    fs = scratch / "fs"
    fs.mkdir()
    path = env.get("PATH") or IMAGE_PATH
    if "/usr/local/bin" not in path.split(":"):
        path = "/usr/local/bin:" + path
    return fs, {"below": [key], "empty": True, "python": version,
                "env": {"PATH": path, "LANG": env.get("LANG") or "C.UTF-8",
                        **SUITE_ENV.get(ADDED_PYTHONS[version], {})}}


async def run(box: Sandbox, log, group: str):
    """Runs a build container under STEP_LIMITS; a failure names the limit it hit."""
    tail = OutputTail()

    def on_line(source, text):
        tail.add(text)
        log(text)

    box.cgroup = cg = await asyncio.to_thread(
        cgroups.Cgroup.create, "build-" + secrets.token_hex(6), STEP_LIMITS, group)
    try:
        proc, readers = await spawn(box, on_line)
        try:
            code = await proc.wait()
        except BaseException:  # the build was interrupted: its container goes too
            proc.kill()
            raise
        for r in readers:
            await r
        oom, forks_refused = cg.oom_kills(), cg.pids_refused()
    finally:
        cg.kill_all()
        await asyncio.to_thread(cg.remove)
    if code == 0:
        return
    lim = STEP_LIMITS
    if oom:
        raise BuildFailed(f"it ran out of memory at the build limit of {lim.memory_limit_mib} "
                          "MiB and was killed (the server's KETCH_BUILD_MEMORY_MIB sets the "
                          "limit)", tail.text())
    if forks_refused:
        raise BuildFailed(f"it hit the build limit of {lim.pids_max} processes (the server's "
                          "KETCH_BUILD_PIDS sets the limit)", tail.text())
    raise BuildFailed(f"exited with code {code}", tail.text())


def _script(step: pb.ImageStep, scratch: Path) -> tuple[str, list[Mount]]:
    kind, args, opts = step.kind, list(step.args), dict(step.options)
    binds: list[Mount] = []
    q = shlex.join
    if kind == "pip_install":
        return q(["python3", "-m", "pip", "install", *_pip_options(opts), *args]), binds
    if kind == "uv_pip_install":
        # uv trusts its own roots unless told to use the system's bundle (see _host_trust).
        return ("if [ -z \"${SSL_CERT_FILE:-}\" ] && [ -f " + _CA_BUNDLE + " ]; then "
                "export SSL_CERT_FILE=" + _CA_BUNDLE + "; fi\n"
                + q(["python3", "-m", "pip", "install", "-q", "--target", "/tmp/ketch-uv",
                     _uv(opts)])
                + " && " + q(["/tmp/ketch-uv/bin/uv", "pip", "install", "--system",
                              "--break-system-packages", *_pip_options(opts, uv=True), *args])
                + " && rm -rf /tmp/ketch-uv"), binds
    if kind == "pip_install_from_requirements":
        req = scratch / "requirements.txt"
        req.write_text(args[0])
        binds.append(Mount(str(req), f"{BUILD_DIR}/requirements.txt"))
        return q(["python3", "-m", "pip", "install", *_pip_options(opts), "-r",
                  f"{BUILD_DIR}/requirements.txt"]), binds
    if kind == "apt_install":
        return ("apt-get update -q && " + q(["apt-get", "install", "-y", "-q",
                                             "--no-install-recommends", *args])
                + " && apt-get clean && rm -rf /var/lib/apt/lists/*"), binds
    if kind == "run_commands":
        return "\n".join(args), binds
    if kind == "run_function":
        fn = scratch / "function.pkl"
        fn.write_bytes(step.pickled)
        binds.append(Mount(str(fn), f"{BUILD_DIR}/function.pkl"))
        code = ("import sys; sys.path.append(%r); import cloudpickle; "
                "f, a, k = cloudpickle.load(open(%r, 'rb')); f(*a, **k)"
                % (SITE, f"{BUILD_DIR}/function.pkl"))
        return q(["python3", "-c", code]), binds
    if kind == "workdir":
        return q(["mkdir", "-p", args[0]]), binds
    if kind in ("uv_sync", "poetry_install"):
        project = scratch / "project"
        project.mkdir()
        (project / "pyproject.toml").write_text(args[0])
        if args[1]:
            (project / ("uv.lock" if kind == "uv_sync" else "poetry.lock")).write_text(args[1])
        binds.append(Mount(str(project), f"{BUILD_DIR}/project"))
        return (_uv_sync(opts) if kind == "uv_sync" else _poetry_install(opts)), binds
    raise ValueError(f"the bwrap image builder has no step {kind!r}")


async def _copy_from(step: pb.ImageStep, source: list[Path], scratch: Path, log, group: str
                     ) -> Path:
    """COPY --from: a build container over the source image copies the paths under
    COPY_DIR in its own root; what it wrote there is the layer (no bind: cp -a keeps
    owners and modes as the source has them)."""
    *paths, dest = step.args
    q = shlex.quote
    lines = []
    for path in paths:
        # A directory's contents go into dest; a file goes into dest/ or becomes dest.
        into = dest.endswith("/") or len(paths) > 1
        target = COPY_DIR + dest.rstrip("/")
        lines.append(
            f"if [ -d {q(path)} ]; then mkdir -p {q(target)} && cp -a {q(path)}/. {q(target)}/; "
            + (f"else mkdir -p {q(target)} && cp -a {q(path)} {q(target)}/; fi" if into else
               f"else mkdir -p {q(os.path.dirname(target) or '/')} && "
               f"cp -a {q(path)} {q(target)}; fi"))
    box = Sandbox(command=["sh", "-ec", "\n".join(lines)], env={"PATH": IMAGE_PATH},
                  layers=[str(p) for p in source], scratch=scratch / "box")
    await run(box, log, group)
    fs = scratch / "box" / "upper" / COPY_DIR.lstrip("/")
    if not fs.is_dir():
        raise BuildFailed("it copied nothing", "")
    return fs


def _uv(opts: dict) -> str:
    """The uv to fetch for a step: the version it names, else the newest."""
    return "uv" + (f"=={opts['uv_version']}" if opts.get("uv_version") else "")


def _uv_sync(opts: dict) -> str:
    """uv (pip-installed for the step, then removed) syncs the project's lock into
    UV_ROOT/.venv with the image's python3; the project itself is not installed."""
    q = shlex.join
    argv = ["/tmp/ketch-uv/bin/uv", "sync", f"--project={UV_ROOT}", "--no-install-workspace",
            "--compile-bytecode", "--python", "python3", "--no-python-downloads"]
    argv += [f"--group={g}" for g in opts.get("groups", "").split(",") if g]
    argv += [f"--extra={e}" for e in opts.get("extras", "").split(",") if e]
    if opts.get("frozen") == "1":
        argv.append("--frozen")   # ignored by uv without a lock, as on Modal
    argv += shlex.split(opts.get("extra_options", ""))
    return ("if [ -z \"${SSL_CERT_FILE:-}\" ] && [ -f " + _CA_BUNDLE + " ]; then "
            "export SSL_CERT_FILE=" + _CA_BUNDLE + "; fi\n"
            + q(["python3", "-m", "pip", "install", "-q", "--target", "/tmp/ketch-uv", _uv(opts)])
            + f" && mkdir -p {UV_ROOT} && cp -a {BUILD_DIR}/project/. {UV_ROOT}/"
            + " && " + q(argv) + " && rm -rf /tmp/ketch-uv /root/.cache/uv")


def _poetry_install(opts: dict) -> str:
    """Poetry (pip-installed unless poetry_version is "") installs the project's locked
    dependencies into the image's own Python (no virtualenv), not the project."""
    q = shlex.join
    version = opts.get("poetry_version", "")
    script = ""
    if version:
        spec = "poetry" if version == "latest" else f"poetry=={version}"
        script = q(["python3", "-m", "pip", "install", "-q", spec]) + " && "
    argv = ["poetry", "install", "--no-root", "--no-interaction"]
    for flag in ("with", "without", "only"):
        if opts.get(flag):
            argv.append(f"--{flag}={opts[flag]}")
    # Poetry's downloads (requests) trust certifi's roots unless told the system's.
    script = ("if [ -z \"${REQUESTS_CA_BUNDLE:-}\" ] && [ -f " + _CA_BUNDLE + " ]; then "
              "export REQUESTS_CA_BUNDLE=" + _CA_BUNDLE + "; fi\n" + script)
    env = "POETRY_VIRTUALENVS_CREATE=false"
    if opts.get("old_installer") == "1":
        env += " POETRY_INSTALLER_MODERN_INSTALLATION=false"
    return (script + f"rm -rf /tmp/ketch-poetry && cp -a {BUILD_DIR}/project /tmp/ketch-poetry"
            f" && cd /tmp/ketch-poetry && {env} " + q(argv)
            + " && cd / && rm -rf /tmp/ketch-poetry /root/.cache/pypoetry")


def _host_trust(layers: list[Path]) -> list[Mount]:
    """Build steps trust the certificate authorities this machine trusts, so downloads
    work behind a TLS-inspecting proxy too. Only where the image keeps a CA bundle."""
    if os.path.isfile(_CA_BUNDLE) and any((p / _CA_BUNDLE[1:]).exists() for p in layers):
        return [Mount(_CA_BUNDLE, _CA_BUNDLE)]
    return []


def _pip_options(opts: dict, uv: bool = False) -> list[str]:
    out = []
    if opts.get("index_url"):
        out += ["--index-url", opts["index_url"]]
    if opts.get("extra_index_url"):
        out += ["--extra-index-url", opts["extra_index_url"]]
    if opts.get("find_links"):
        out += ["--find-links", opts["find_links"]]
    if opts.get("pre") == "1":
        out += ["--prerelease=allow"] if uv else ["--pre"]
    if opts.get("extra_options"):
        out += shlex.split(opts["extra_options"])
    return out


async def _debian(step: pb.ImageStep, scratch: Path, log) -> tuple[Path, dict]:
    version = (step.args[0] if step.args else "") or DEBIAN_PYTHON
    if unoffered(version):
        raise BuildFailed(unoffered(version), "")
    suite = DEBIAN_PYTHONS[version]
    if not shutil.which("mmdebstrap"):
        raise BuildFailed("Image.debian_slim() needs mmdebstrap on the server's machine "
                          "(apt-get install mmdebstrap)", "")
    fs = scratch / "fs"
    mirror = os.environ.get("KETCH_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    argv = ["mmdebstrap", "--variant=apt", "--mode=root", "--include=" +
            ",".join(DEBIAN_PACKAGES),
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            "--aptopt=Acquire::Retries \"3\"", suite, str(fs), mirror]
    await _host_command(argv, log)
    hosts = fs / "etc" / "hosts"
    if not hosts.exists():
        hosts.write_text(_HOSTS)
    return fs, {"env": {**BASE_ENV, **SUITE_ENV.get(suite, {})}, "python": version}


async def _host_command(argv: list[str], log):
    import asyncio

    tail = OutputTail()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    try:
        async for raw in proc.stdout:
            text = raw.decode(errors="replace").rstrip("\n")
            tail.add(text)
            log(text)
        code = await proc.wait()
    except BaseException:
        proc.kill()
        raise
    if code != 0:
        raise BuildFailed(f"{os.path.basename(argv[0])} exited with code {code}", tail.text())


def _under(root: Path, path: Path) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top + os.sep)


def _copy_local(step: pb.ImageStep, scratch: Path) -> Path:
    """add_local_file/dir: the files the client named, copied under their remote path.
    The server reads them from the client's paths (a local server)."""
    fs = scratch / "fs"
    local, remote = step.args[0], step.args[1]
    if not os.path.isabs(remote):
        remote = "/root/" + remote  # Modal resolves relative remote paths from /root
    dest = fs / remote.lstrip("/")
    if not _under(fs, dest) or not all(_under(fs, dest / rel) for rel in step.args[2:]):
        raise BuildFailed(f"{remote!r} leads outside the image; name a path inside it", "")
    try:
        if step.kind == "add_local_file":
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(local, dest)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            for rel in step.args[2:]:
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(os.path.join(local, rel), target, follow_symlinks=True)
    except OSError as exc:
        raise BuildFailed(f"cannot copy {exc.filename or local}: {exc.strerror or exc}. The "
                          "server reads local files from the client's paths, so it must run "
                          "on the same machine", "") from None
    return fs

