"""`add_python`: a Debian release's CPython, made independent of the image it lands in.

The interpreter, its standard library and every shared library it loads, its own glibc
and dynamic loader included, go into one prefix, /usr/local/ketch-python/X.Y. patchelf
points the interpreter at that loader and that library directory (DT_RPATH, which also
covers the extension modules it opens), so it runs on any Linux base, whatever C library
(or none) the base has, and sets no LD_* variable that the image's own programs would
inherit. python, python3, pythonX.Y and pip land in /usr/local/bin, as on Modal.

Each version's layer is built once per cache, keyed by version, suite and this recipe, and
every image that adds that Python shares it (like a registry image's layers).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

from ..._pythons import ADDED_PYTHONS, unoffered_addition
from .errors import BuildFailed

PREFIX_ROOT = "/usr/local/ketch-python"
RECIPE = "ketch-python-4"
# Beside pythonX.Y: pip's wheel (Debian 11 named its package for Python 2 and 3 together)
# and, where Debian split it off, distutils (Debian 11's pip imports it).
_PACKAGES = {"bullseye": ["python-pip-whl", "python3-distutils"],
             "bookworm": ["python3-pip-whl", "python3-distutils"]}
# Links into the image's /etc that mean nothing inside the prefix; Debian's mark that pip
# must not install into its Python, which is ketch's own here.
_DROPPED = ("sitecustomize.py", "EXTERNALLY-MANAGED")


def prefix(version: str) -> str:
    return f"{PREFIX_ROOT}/{version}"


def layer_key(version: str) -> str:
    """A plain sha256, as other layers' keys are (cluster nodes fetch layers by such keys);
    its layer.json's title names the Python."""
    return hashlib.sha256(f"{RECIPE}:{version}:{ADDED_PYTHONS[version]}".encode()).hexdigest()


# One build of each version at a time: images that add the same Python wait for it.
_building: dict[str, asyncio.Lock] = {}


async def ensure(version: str, store, log, host_command) -> str:
    """The key of the layer that holds Python `version`, built into `store` if missing.
    `host_command(argv, log)` runs a command on the server's machine."""
    if unoffered_addition(version):
        raise BuildFailed(unoffered_addition(version), "")
    key = layer_key(version)
    async with _building.setdefault(key, asyncio.Lock()):
        if not store.has(key):
            await _build(version, key, store, log, host_command)
    return key


async def _build(version: str, key: str, store, log, host_command):
    for tool in ("mmdebstrap", "patchelf"):
        if not shutil.which(tool):
            raise BuildFailed(f"add_python needs {tool} on the server's machine (apt-get "
                              f"install {tool})", "")
    suite = ADDED_PYTHONS[version]
    scratch = store.scratch()
    try:
        debian = scratch / "debian"
        mirror = os.environ.get("KETCH_DEBIAN_MIRROR", "http://deb.debian.org/debian")
        log(f"fetching Python {version} from Debian {suite}")
        # extract: unpacks the packages and their dependencies, runs none of their scripts.
        # Testing's Release files expire within days; a mirror's copy may be older.
        await host_command(
            ["mmdebstrap", "--variant=extract", "--mode=root",
             "--aptopt=Acquire::Check-Valid-Until \"false\"", "--aptopt=Acquire::Retries \"3\"",
             "--include=" + ",".join([f"python{version}",
                                      *_PACKAGES.get(suite, ["python3-pip-whl"])]),
             suite, str(debian), mirror], log)
        fs = scratch / "fs"
        try:
            await asyncio.to_thread(_assemble, debian, fs, version)
        except OSError as exc:  # Debian's packages are not laid out as this recipe expects
            raise BuildFailed(f"relocating Debian {suite}'s Python {version} failed: {exc}",
                              "") from None
        shutil.rmtree(debian, ignore_errors=True)
        log(f"relocated Python {version} into {prefix(version)}")
        await asyncio.to_thread(store.commit, key, scratch, fs,
                                {"title": f"Python {version} (Debian {suite})"})
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _assemble(debian: Path, fs: Path, version: str):
    top = fs / prefix(version).lstrip("/")
    lib = top / "lib"
    (top / "bin").mkdir(parents=True)
    python = top / "bin" / f"python{version}"
    shutil.copy2(debian / "usr" / "bin" / f"python{version}", python)
    stdlib = lib / f"python{version}"
    shutil.copytree(debian / "usr" / "lib" / f"python{version}", stdlib, symlinks=True)
    for name in _DROPPED:
        (stdlib / name).unlink(missing_ok=True)
    # Debian 11 keeps its C library in /lib, later releases in /usr/lib.
    for libdir in sorted((debian / "usr" / "lib").glob("*-linux-gnu*")) + \
            sorted(debian.glob("lib/*-linux-gnu*")):
        for entry in libdir.iterdir():
            if ".so" in entry.name and not entry.is_dir():
                shutil.copy2(entry, lib / entry.name, follow_symlinks=False)
    loader = os.path.basename(_patchelf("--print-interpreter", str(python)))
    if not (lib / loader).exists():
        raise BuildFailed(f"Debian's python{version} asks for the loader {loader}, which its "
                          "packages did not bring", "")
    _patchelf("--set-interpreter", f"{prefix(version)}/lib/{loader}", "--force-rpath",
              "--set-rpath", f"{prefix(version)}/lib", str(python))
    _add_pip(debian, fs, top, version)
    _compile(fs, top, version, loader)
    bin_dir = fs / "usr" / "local" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in (f"python{version}", "python3", "python"):
        os.symlink(f"{prefix(version)}/bin/python{version}", bin_dir / name)


def _add_pip(debian: Path, fs: Path, top: Path, version: str):
    """Debian's pip wheel, unpacked where this Python installs packages: Debian's Python
    puts them in <prefix>/local/lib/pythonX.Y/dist-packages and their commands in
    <prefix>/local/bin, so <prefix>/local is /usr/local (as for Debian's own /usr)."""
    wheels = sorted((debian / "usr" / "share" / "python-wheels").glob("pip-*.whl"))
    if not wheels:
        raise BuildFailed(f"Debian's packages brought no pip wheel for Python {version}", "")
    os.symlink("/usr/local", top / "local")
    site = fs / "usr" / "local" / "lib" / f"python{version}" / "dist-packages"
    site.mkdir(parents=True)
    with zipfile.ZipFile(wheels[-1]) as wheel:
        wheel.extractall(site)
    # Debian 11's pip imports the libraries it vendors from these wheels, under sys.prefix.
    shutil.copytree(wheels[-1].parent, top / "share" / "python-wheels")
    bin_dir = fs / "usr" / "local" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("pip", "pip3", f"pip{version}"):
        launcher = bin_dir / name
        launcher.write_text(f"#!{prefix(version)}/bin/python{version}\nimport sys\n"
                            "from pip._internal.cli.main import main\n"
                            "sys.exit(main())\n")
        launcher.chmod(0o755)


def _compile(fs: Path, top: Path, version: str, loader: str):
    """Byte-compiles the standard library and pip, as Debian's install scripts would have:
    without it every container start compiles them again (seconds). The interpreter is
    started through its loader, as it is not yet where its path says it will be."""
    lib = top / "lib"
    for tree, final in ((lib / f"python{version}", f"{prefix(version)}/lib/python{version}"),
                        (fs / "usr" / "local" / "lib" / f"python{version}" / "dist-packages",
                         f"/usr/local/lib/python{version}/dist-packages")):
        done = subprocess.run(
            [str(lib / loader), "--library-path", str(lib), str(top / "bin" / f"python{version}"),
             "-m", "compileall", "-q", "-d", final, str(tree)],
            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        if done.returncode != 0:
            raise BuildFailed(f"byte-compiling Python {version}'s {os.path.basename(final)} "
                              "failed", (done.stdout + done.stderr)[-2000:])


def _patchelf(*args: str) -> str:
    done = subprocess.run(["patchelf", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildFailed(f"patchelf {args[0]} failed", done.stderr[-2000:])
    return done.stdout.strip()
