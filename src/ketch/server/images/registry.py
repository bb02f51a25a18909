"""`Image.from_registry`: pulls an OCI or Docker image over the registry HTTP API (v2) and
turns each of its layers into a cached ketch layer, keyed by the layer's own digest.

Layers unpack with GNU tar (which keeps a layer's symlinks from redirecting later files
outside it); the OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`) then become overlayfs's
(a 0/0 character device, the `trusted.overlay.opaque` attribute).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import platform
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ...proto import ketch_pb2 as pb
from .errors import BuildFailed

_INDEX_TYPES = {"application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json"}
_MANIFEST_TYPES = {"application/vnd.oci.image.manifest.v1+json",
                   "application/vnd.docker.distribution.manifest.v2+json"}
_LAYER_TYPES = {"application/vnd.oci.image.layer.v1.tar",
                "application/vnd.oci.image.layer.v1.tar+gzip",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "application/vnd.docker.image.rootfs.diff.tar"}
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(platform.machine(),
                                                                    platform.machine())
_CHUNK = 1 << 20


def parse_ref(ref: str) -> tuple[str, str, str]:
    """'localhost:5000/team/app:v1' → ('localhost:5000', 'team/app', 'v1')."""
    name, digest = (ref.split("@", 1) + [""])[:2]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = "registry-1.docker.io", name
        if "/" not in path:
            path = "library/" + path
    tag = "latest"
    m = re.match(r"^(.*):([\w][\w.-]{0,127})$", path)
    if m:
        path, tag = m.group(1), m.group(2)
    if not re.match(r"^[a-z0-9]+([._/-][a-z0-9]+)*$", path):
        raise BuildFailed(f"from_registry({ref!r}): {path!r} is not a valid repository name",
                          "")
    return host, path, digest or tag


class _Registry:
    def __init__(self, host: str, repo: str):
        insecure = os.environ.get("KETCH_INSECURE_REGISTRIES", "").split(",")
        plain = host.split(":")[0] in ("localhost", "127.0.0.1", "::1") or host in insecure
        self.base = f"{'http' if plain else 'https'}://{host}/v2/{repo}"
        self.host = host
        self.token = ""

    def open(self, path: str, accept: str = ""):
        url = f"{self.base}/{path}"
        for _ in range(2):
            req = urllib.request.Request(url)
            if accept:
                req.add_header("Accept", accept)
            if self.token:
                req.add_header("Authorization", f"Bearer {self.token}")
            try:
                return urllib.request.urlopen(req, timeout=60)
            except urllib.error.HTTPError as exc:
                challenge = exc.headers.get("WWW-Authenticate", "")
                if exc.code == 401 and challenge.startswith("Bearer") and not self.token:
                    self.token = _anonymous_token(challenge)
                    continue
                raise BuildFailed(f"the registry {self.host} answered {exc.code} {exc.reason} "
                                  f"for {url}", "") from None
            except OSError as exc:
                raise BuildFailed(f"cannot reach the registry {self.host}: "
                                  f"{getattr(exc, 'reason', exc)}", "") from None
        raise BuildFailed(f"the registry {self.host} refused anonymous access; private "
                          "registries (secret=) are not in ketch yet", "")


def _anonymous_token(challenge: str) -> str:
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = fields.pop("realm", "")
    if not realm:
        return ""
    with urllib.request.urlopen(f"{realm}?{urllib.parse.urlencode(fields)}",
                                timeout=30) as resp:
        body = json.load(resp)
    return body.get("token") or body.get("access_token") or ""


def _manifest(reg: _Registry, reference: str) -> dict:
    accept = ", ".join(sorted(_INDEX_TYPES | _MANIFEST_TYPES))
    with reg.open(f"manifests/{reference}", accept) as resp:
        doc = json.load(resp)
    media = doc.get("mediaType", "")
    if media in _INDEX_TYPES or "manifests" in doc:
        for entry in doc.get("manifests", []):
            plat = entry.get("platform", {})
            if plat.get("os") == "linux" and plat.get("architecture") == _ARCH:
                return _manifest(reg, entry["digest"])
        raise BuildFailed(f"the image has no linux/{_ARCH} variant", "")
    return doc


def _download(reg: _Registry, digest: str, dest: Path):
    algo, _, want = digest.partition(":")
    h = hashlib.new(algo)
    with reg.open(f"blobs/{digest}") as resp, open(dest, "wb") as out:
        while chunk := resp.read(_CHUNK):
            h.update(chunk)
            out.write(chunk)
    if h.hexdigest() != want:
        raise BuildFailed(f"blob {digest} arrived corrupted (its digest does not match)", "")


async def pull(step: pb.ImageStep, scratch: Path, store, log) -> tuple[Path, dict]:
    """Pulls the image's layers into the store; returns an empty layer whose metadata
    lists them and carries the image's configuration."""
    ref = step.args[0]
    host, repo, reference = parse_ref(ref)
    reg = _Registry(host, repo)
    log(f"resolving {ref}")
    manifest = await asyncio.to_thread(_manifest, reg, reference)
    config_blob = scratch / "config.json"
    await asyncio.to_thread(_download, reg, manifest["config"]["digest"], config_blob)
    config = json.loads(config_blob.read_text()).get("config") or {}
    below = []
    for i, layer in enumerate(manifest.get("layers", []), 1):
        digest, media = layer["digest"], layer.get("mediaType", "")
        if media not in _LAYER_TYPES:
            raise BuildFailed(f"layer {digest} has media type {media!r}, which ketch cannot "
                              "unpack (it takes tar and tar+gzip layers)", "")
        key = "oci-" + digest.replace(":", "-")
        if not store.has(key):
            size = layer.get("size", 0)
            log(f"pulling layer {i}/{len(manifest['layers'])} {digest[:19]} "
                f"({size / 1e6:.1f} MB)")
            layer_scratch = store.scratch()
            try:
                blob = layer_scratch / "blob"
                await asyncio.to_thread(_download, reg, digest, blob)
                fs = layer_scratch / "fs"
                await _unpack(blob, fs)
                blob.unlink()
                store.commit(key, layer_scratch, fs, {"title": f"{ref} layer {i}"})
            except BaseException:
                shutil.rmtree(layer_scratch, ignore_errors=True)
                raise
        below.append(key)
    env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
    fs = scratch / "fs"
    fs.mkdir()
    return fs, {"below": below, "env": env, "workdir": config.get("WorkingDir") or "",
                "empty": True, "entrypoint": _argv(config.get("Entrypoint")),
                "cmd": _argv(config.get("Cmd"))}


def _argv(value) -> list[str]:
    """The config's Entrypoint or Cmd as a list of str (it may be null)."""
    return [str(a) for a in value] if isinstance(value, list) else []


async def _unpack(blob: Path, fs: Path):
    fs.mkdir()
    proc = await asyncio.create_subprocess_exec(
        "tar", "-x", "-f", str(blob), "-C", str(fs), "--numeric-owner", "-p",
        "--same-owner", stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise BuildFailed("unpacking a layer failed", out.decode(errors="replace")[-4000:])
    await asyncio.to_thread(_convert_whiteouts, fs)


def _convert_whiteouts(fs: Path):
    for dirpath, dirnames, filenames in os.walk(fs):
        for name in filenames:
            if not name.startswith(".wh."):
                continue
            path = os.path.join(dirpath, name)
            os.unlink(path)
            if name == ".wh..wh..opq":
                os.setxattr(dirpath, "trusted.overlay.opaque", b"y")
            else:
                os.mknod(os.path.join(dirpath, name[4:]), 0o600 | 0o020000, os.makedev(0, 0))
