"""A tree copied out of a sandbox, made a layer as images hold them.

A sandbox forked from an image's zygote runs in that zygote's user namespace: what it
writes is owned on disk by the namespace's host ids (base + the id inside), and its
overlay (mounted there, `userxattr`) marks opaque directories with `user.overlay.opaque`.
A layer holds the ids as the container sees them (0 = root), so that any later container
(by exec as host root, or in another zygote's namespace, whose idmapped layers show host
id N as its own N) sees the same owners; and it marks opaque directories for both kinds
of overlay: `trusted.overlay.opaque` for one mounted by host root, `user.overlay.opaque`
for one mounted in a user namespace.

Imports only the standard library and node/unpack.py (it runs wherever the copy is made).
"""

from __future__ import annotations

import os
import stat

from ...node.unpack import mark_opaque_dir

IDS = 65536   # the ids a zygote's user namespace maps (runtime/userns.py)
CAPS = "security.capability"   # file capabilities (setcap), which a chown clears
_V3, _V3_SIZE = 3, 24          # vfs_cap_data revision 3: with its namespace's root id


def make_layer(fs: str, base: int = 0):
    """Shifts every owner in [base, base + IDS) back by base (base 0: none), and marks each
    opaque directory for both overlays. Ids outside that range are left as they are: the
    namespace cannot have made them."""
    _fix(fs, base)
    for dirpath, dirnames, filenames in os.walk(fs):
        for name in dirnames + filenames:
            _fix(os.path.join(dirpath, name), base)


def _fix(path: str, base: int):
    st = os.lstat(path)
    if base:
        caps = _caps(path) if stat.S_ISREG(st.st_mode) else None
        shifted = _shifted(caps, base) if caps is not None else None
        uid = st.st_uid - base if base <= st.st_uid < base + IDS else -1
        gid = st.st_gid - base if base <= st.st_gid < base + IDS else -1
        if uid >= 0 or gid >= 0:
            os.lchown(path, uid, gid)
            if stat.S_ISREG(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                os.chmod(path, stat.S_IMODE(st.st_mode))  # chown cleared them
        if caps is not None and (uid >= 0 or gid >= 0 or caps != shifted):
            os.setxattr(path, CAPS, shifted, follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        mark_opaque_dir(path)


def _caps(path: str) -> bytes | None:
    try:
        return os.getxattr(path, CAPS, follow_symlinks=False)
    except OSError:   # none (ENODATA), or a file system without xattrs
        return None


def _shifted(caps: bytes, base: int) -> bytes:
    """A v3 capability names the root of the namespace it works in by host id (one set in
    the sandbox names base): shifted back like the owners, so it works for the ids the
    layer holds (0 = root) wherever the layer is mounted."""
    if len(caps) != _V3_SIZE or caps[3] != _V3:   # magic_etc, little-endian: revision last
        return caps
    rootid = int.from_bytes(caps[20:24], "little")
    if not base <= rootid < base + IDS:
        return caps
    return caps[:20] + (rootid - base).to_bytes(4, "little")


