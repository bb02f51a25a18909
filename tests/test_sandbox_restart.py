"""A sandbox and a server restart (issue 12): a sandbox does not outlive its server (its
processes end with their supervisor's connection), and after the restart its id still
answers, recorded as ended by the restart, instead of being lost."""

from __future__ import annotations

import os
import time

CREATE = """
import ketch
app = ketch.App.lookup("restart-sandboxes", create_if_missing=True)
ran = ketch.Sandbox.create("bash", "-c", "echo done", app=app, name="ran")
ran.wait()
kept = ketch.Sandbox.create("bash", "-c", "echo $$; exec sleep 600", app=app, name="kept")
print(ran.object_id, kept.object_id, next(iter(kept.stdout)).strip())
"""

AFTER = """
import ketch
from ketch.exception import ExecutionError, NotFoundError, SandboxTerminatedError
kept = ketch.Sandbox.from_id({kept!r})
print(kept.poll(), kept.returncode)
try:
    kept.wait()
except SandboxTerminatedError as exc:
    print("terminated:", exc)
try:
    kept.exec("true")
except ExecutionError as exc:
    print("exec:", exc)
try:
    ketch.Sandbox.from_name("restart-sandboxes", "kept")
except NotFoundError:
    print("no running one")
print(ketch.Sandbox.from_name("restart-sandboxes", "kept", include_terminated=True).object_id)
ran = ketch.Sandbox.from_id({ran!r})
print(ran.poll())
"""


def test_a_sandbox_is_recorded_as_ended_by_a_server_restart(fresh_server):
    out = fresh_server.python(CREATE)
    assert out.returncode == 0, out.stderr
    ran, kept, pid = out.stdout.split()
    os.kill(int(pid), 0)   # its entrypoint runs (the process runtime: a host pid)
    fresh_server.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:   # the supervisor ends its processes with the link
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the sandbox's process outlived its server")
    fresh_server.start()
    out = fresh_server.python(AFTER.format(kept=kept, ran=ran))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "137 137"
    assert lines[1].startswith("terminated:") and "restarted while it ran" in lines[1]
    assert lines[2].startswith("exec:") and "has ended (server_stopped" in lines[2]
    assert lines[3:] == ["no running one", kept, "0"]
