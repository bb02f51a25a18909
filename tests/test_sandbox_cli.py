"""`ketch container exec` and `ketch shell` through a real pseudo-terminal (pexpect):
a pty in the sandbox, the window size passed on, Ctrl-C reaching the process, the exit
code coming back; and `container list`/`stop` showing and ending sandboxes."""

from __future__ import annotations

import json
import sys
import time

import pexpect
import pytest

import ketch

TIMEOUT = 60


@pytest.fixture(scope="module")
def sandbox(server):
    app = ketch.App.lookup("sandbox-cli", create_if_missing=True)
    sb = ketch.Sandbox.create(app=app, timeout=600)
    yield sb
    sb.terminate()


def spawn(server, *args: str, rows: int = 30, cols: int = 100) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "ketch.cli", *args], env=server.env,
                         dimensions=(rows, cols), timeout=TIMEOUT, encoding="utf-8")


def test_container_exec_with_a_pty(server, sandbox):
    child = spawn(server, "container", "exec", sandbox.object_id, "--", "bash", "--norc",
                  "-i", rows=33, cols=77)
    child.sendline("PS1='rea''dy> '")   # the echo of this line does not match the prompt
    child.expect("ready> ")
    child.sendline("tty; stty size")
    child.expect(r"/dev/pts/\d+")
    child.expect("33 77")
    child.setwinsize(40, 120)                 # a resize reaches the sandbox's terminal
    child.expect("ready> ")
    child.sendline("stty size")
    child.expect("40 120")
    child.sendline("echo sleeping; sleep 30; echo not-interrupted")
    child.expect("sleeping\r\n")             # the output ("sleeping;" is the echoed line)
    time.sleep(0.5)                           # the sleep is the terminal's foreground now
    child.sendcontrol("c")                    # Ctrl-C: SIGINT to the sleep, not the CLI
    child.expect("ready> ")
    child.sendline("echo still-here; exit 6")
    child.expect("still-here")
    child.expect(pexpect.EOF)
    child.close()
    assert "not-interrupted" not in child.before
    assert child.exitstatus == 6


def test_container_exec_without_a_terminal(server, sandbox):
    out = server.ketch("container", "exec", sandbox.object_id, "--", "bash", "-c",
                       "echo out; echo err >&2; exit 3")
    assert (out.stdout, out.stderr, out.returncode) == ("out\n", "err\n", 3)
    refused = server.ketch("container", "exec", "ta-123", "--", "true")
    assert refused.returncode != 0 and "no running container ta-123" in refused.stderr


def test_container_exec_into_a_functions_container(server, tmp_path):
    """A running function's container takes execs too; it stays the function's."""
    app = ketch.App("exec-into-fn")

    @app.function(serialized=True, env={"IN_FUNCTION": "yes"}, timeout=120)
    def linger(seconds: float):
        import time
        time.sleep(seconds)
        return "done"

    with app.run():
        call = linger.spawn(30)
        deadline = time.monotonic() + 60
        rows = []
        while not rows and time.monotonic() < deadline:
            rows = [r for r in json.loads(server.ketch("container", "list", "--json").stdout)
                    if r["app"] == "exec-into-fn" and r["state"] == "ready"]
            time.sleep(0.2)
        container_id = rows[0]["container_id"]
        out = server.ketch("container", "exec", container_id, "--", "bash", "-c",
                           "echo $IN_FUNCTION; exit 2")
        assert (out.stdout, out.returncode) == ("yes\n", 2), out.stderr
        assert container_id not in {s.object_id for s in ketch.Sandbox.list()}
        call.cancel()


def test_container_list_and_stop_show_and_end_sandboxes(server, sandbox):
    app = ketch.App.lookup("sandbox-cli")
    doomed = ketch.Sandbox.create(app=app, timeout=600)
    rows = json.loads(server.ketch("container", "list", "--json").stdout)
    ids = {r["container_id"]: r for r in rows}
    assert doomed.object_id in ids and ids[doomed.object_id]["app"] == "sandbox-cli"
    assert ids[doomed.object_id]["function"] == "sandbox"
    stop = server.ketch("container", "stop", doomed.object_id)
    assert stop.returncode == 0, stop.stderr
    with pytest.raises(ketch.exception.SandboxTerminatedError):
        doomed.wait()


def test_shell_with_an_image_flag_and_a_command(server):
    out = server.ketch("shell", "--image", "python:3.11-slim", "--cmd", "true", timeout=120)
    # The process runtime cannot pull registry images; the error says why, with no hang.
    assert out.returncode != 0 and "could not be pulled" in out.stderr, out.stderr
    # (test_sandbox_bwrap's test_shell_with_an_image runs one by id and by published name)
    for ref, said in (("im-nosuchimage", "has no such image"),
                      ("Not A Ref", "not an image id, a published name or a registry")):
        out = server.ketch("shell", "--image", ref, "--cmd", "true")
        assert out.returncode == 1 and said in out.stderr, out.stderr


def test_shell_in_a_functions_environment(server, tmp_path):
    app_file = tmp_path / "shellapp.py"
    app_file.write_text(
        "import ketch\n"
        "app = ketch.App('shellapp')\n"
        "@app.function(env={'FROM_FUNCTION': 'yes'})\n"
        "def work():\n"
        "    return 1\n")
    child = pexpect.spawn(sys.executable, ["-m", "ketch.cli", "shell", f"{app_file}::work",
                                           "--cmd", "bash --norc -i"],
                          env=server.env, timeout=TIMEOUT, encoding="utf-8", cwd=str(tmp_path))
    child.sendline("PS1='s''h> '")
    child.expect("sh> ")
    child.sendline("echo $FROM_FUNCTION; ls $KETCH_CODE_DIR")   # its code is there too
    child.expect("yes")
    child.expect("shellapp.py")
    child.sendline("exit 9")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 9
    assert not [s for s in ketch.Sandbox.list(app_id=ketch.App.lookup("ketch-shell").app_id)]
