"""Functions for the code and volume security tests (tests/test_security_code.py): what a
container can read of the host, and what it can leave in a volume."""

import os

import ketch

MOUNT = "/mnt/secure"
vol = ketch.Volume.from_name("secure-code-tests", create_if_missing=True)

app = ketch.App("secure-code")


@app.function()
def try_read(paths: list[str]) -> dict:
    out = {}
    for path in paths:
        try:
            with open(path, "rb") as handle:
                out[path] = f"read {len(handle.read())} bytes"
        except OSError as exc:
            out[path] = f"error: {exc.strerror}"
    return out


@app.function(volumes={MOUNT: vol})
def plant_link(name: str, target: str):
    path = os.path.join(MOUNT, name)
    if os.path.lexists(path):
        os.unlink(path)
    os.symlink(target, path)


@app.function(volumes={MOUNT: vol})
def make_setuid(name: str) -> dict:
    """Leaves a setuid-root executable in the volume; says how the volume is mounted."""
    path = os.path.join(MOUNT, name)
    with open(path, "w") as handle:
        handle.write("#!/bin/sh\nid -u\n")
    os.chmod(path, 0o4755)
    options = ""
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            if fields[4] == MOUNT:
                options = fields[5]
    vol.commit()
    return {"mode": os.stat(path).st_mode, "options": options}
