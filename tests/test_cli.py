"""The ketch command line, run as a user would, against a real server."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import ServerProcess

ROOT = Path(__file__).parent.parent


def test_run_example_end_to_end(fresh_server):
    out = fresh_server.ketch("run", str(ROOT / "examples" / "hello.py"), "--n", "3")
    assert out.returncode == 0, out.stderr
    assert "3 checksums computed in containers" in out.stdout
    assert "Hi, world!" in out.stdout
    # Container output streams to the terminal, prefixed with function and container.
    assert "[Greeter" in out.stdout and "ready to greet" in out.stdout
    assert "app completed" in out.stderr


def test_entrypoint_parameters_become_options(fresh_server):
    out = fresh_server.ketch("run", "apps/cli_app.py::main", "--word", "hey", "--times", "2",
                             "--loud")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("HEY!") == 2
    assert "shouting hey" in out.stdout


def test_run_one_function(fresh_server):
    out = fresh_server.ketch("run", "apps/cli_app.py::shout", "--word", "yo")
    assert out.returncode == 0, out.stderr
    assert "YO!" in out.stdout


def test_run_help_lists_entrypoint_options(fresh_server):
    out = fresh_server.ketch("run", "apps/cli_app.py::main", "--help")
    assert out.returncode == 0
    assert "--word" in out.stdout and "--times" in out.stdout


def test_several_entrypoints_need_a_choice(fresh_server):
    out = fresh_server.ketch("run", "apps/cli_app.py")
    assert out.returncode == 1
    assert "several local entrypoints" in out.stderr


def test_missing_file(fresh_server):
    out = fresh_server.ketch("run", "nope.py")
    assert out.returncode == 1 and "no such file: nope.py" in out.stderr
    assert "Traceback" not in out.stderr


def test_no_such_function(fresh_server):
    out = fresh_server.ketch("run", "apps/cli_app.py::nothing")
    assert out.returncode == 1
    assert "no local entrypoint or function named 'nothing'" in out.stderr


def test_syntax_error_shows_users_line(fresh_server, tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("import ketch\napp = ketch.App('b')\ndef oops(:\n    pass\n")
    out = fresh_server.ketch("run", str(bad))
    assert out.returncode == 1
    assert "syntax error" in out.stderr and "def oops(:" in out.stderr


def test_import_error_shows_users_traceback(fresh_server, tmp_path):
    bad = tmp_path / "raises.py"
    bad.write_text("import ketch\nraise ValueError('bad config')\n")
    out = fresh_server.ketch("run", str(bad))
    assert out.returncode == 1
    assert "ValueError: bad config" in out.stderr and "raises.py" in out.stderr
    # an SDK call that refuses its input shows the user's line, none of ketch's own frames
    bad.write_text("import ketch\nimage = ketch.Image.debian_slim().dockerfile_commands("
                   "['USER app'])\n")
    out = fresh_server.ketch("run", str(bad))
    assert out.returncode == 1 and "line 1 (USER): USER is not in ketch yet" in out.stderr
    frames = [line for line in out.stderr.splitlines() if line.startswith('  File "')]
    assert len(frames) == 1 and "raises.py" in frames[0], out.stderr


def test_entrypoint_exception_fails_with_traceback(fresh_server):
    out = fresh_server.ketch("run", "apps/cli_app.py::explode")
    assert out.returncode == 1
    assert "the entrypoint blew up" in out.stderr


def test_bad_token(fresh_server):
    out = fresh_server.ketch("app", "list", extra_env={"KETCH_TOKEN": "wrong"})
    assert out.returncode == 1
    assert "rejected the token" in out.stderr
    assert "Traceback" not in out.stderr


def test_unreachable_server(tmp_path):
    srv = ServerProcess(tmp_path / "never-started")
    out = srv.ketch("app", "list")
    assert out.returncode == 1
    assert f"cannot reach the ketch server at {srv.address}" in out.stderr
    assert "Traceback" not in out.stderr


def test_detached_run_then_list_logs_and_stop(fresh_server):
    run = fresh_server.ketch("run", "--detach", "apps/cli_app.py::main", "--word", "bye")
    assert run.returncode == 0, run.stderr
    apps = json.loads(fresh_server.ketch("app", "list", "--json").stdout)
    mine = [a for a in apps if a["name"] == "cli-app"]
    assert mine and mine[0]["state"] == "detached"
    logs = fresh_server.ketch("app", "logs", "cli-app")
    assert "shouting bye" in logs.stdout
    listed = json.loads(fresh_server.ketch("container", "list", "--json").stdout)
    assert any(c["function"] == "shout" for c in listed)
    table = fresh_server.ketch("container", "list")
    assert "shout" in table.stdout and "Container ID" in table.stdout
    assert fresh_server.ketch("app", "stop", "cli-app").returncode == 0
    apps = json.loads(fresh_server.ketch("app", "list", "--json").stdout)
    assert not [a for a in apps if a["name"] == "cli-app"]


def test_container_stop(fresh_server):
    assert fresh_server.ketch("run", "-d", "apps/cli_app.py::main").returncode == 0
    listed = json.loads(fresh_server.ketch("container", "list", "--json").stdout)
    cid = listed[0]["container_id"]
    out = fresh_server.ketch("container", "stop", cid)
    assert out.returncode == 0, out.stderr
    bad = fresh_server.ketch("container", "stop", "ta-nonexistent")
    assert bad.returncode == 1 and "no running container" in bad.stderr


def test_server_status_and_stop(fresh_server):
    status = json.loads(fresh_server.ketch("server", "status", "--json").stdout)
    assert status["running"] is True and status["address"] == fresh_server.address
    assert status["runtime"] == "process"
    # Registered before ketch is imported, this exit hook runs after ketch's: by then the
    # CLI's event loop thread has ended, so no thread runs while Python finalizes (one
    # that did made `ketch server stop` segfault once).
    out = subprocess.run([sys.executable, "-c", (
        "import atexit, sys, threading\n"
        "atexit.register(lambda: print('threads at exit:', [t.name for t in "
        "threading.enumerate() if t is not threading.main_thread()]))\n"
        "from ketch.cli import main\n"
        "sys.argv = ['ketch', 'server', 'stop']\n"
        "main()\n")], env=fresh_server.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "stopped" in out.stdout, out.stderr
    assert "threads at exit: []" in out.stdout, out.stdout
    fresh_server.proc.wait(10)
    down = fresh_server.ketch("server", "status", "--json")
    assert down.returncode == 1 and json.loads(down.stdout)["running"] is False


def test_embedded_server_starts_itself(tmp_path):
    """With no server running at a local address, the first command starts one."""
    srv = ServerProcess(tmp_path / "embedded")
    env = {k: v for k, v in srv.env.items() if k != "KETCH_NO_AUTOSTART"}
    try:
        out = subprocess.run([sys.executable, "-m", "ketch.cli", "run", "apps/cli_app.py::shout",
                              "--word", "auto"], env=env, capture_output=True, text=True,
                             timeout=60, cwd=Path(__file__).parent)
        assert out.returncode == 0, out.stderr
        assert "AUTO!" in out.stdout
        assert f"started a local server at {srv.address}" in out.stderr
        assert (tmp_path / "embedded" / "token").stat().st_mode & 0o777 == 0o600
    finally:
        subprocess.run([sys.executable, "-m", "ketch.cli", "server", "stop"], env=env,
                       capture_output=True, timeout=30)


def test_logs_follow_streams_until_the_app_stops(fresh_server):
    assert fresh_server.ketch("deploy", "apps/cli_app.py").returncode == 0
    follower = subprocess.Popen(
        [sys.executable, "-m", "ketch.cli", "app", "logs", "cli-app", "--follow"],
        env=fresh_server.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).parent)
    try:
        call = fresh_server.python(
            "import ketch\nprint(ketch.Function.from_name('cli-app', 'shout').remote('live'))\n")
        assert call.stdout.strip() == "LIVE!", call.stderr
        assert fresh_server.ketch("app", "stop", "cli-app").returncode == 0
        out, err = follower.communicate(timeout=30)
    finally:
        follower.kill()
    assert follower.returncode == 0, err
    assert "shouting live" in out


def test_async_entrypoint(fresh_server):
    out = fresh_server.ketch("run", "apps/cli_app.py::async_main")
    assert out.returncode == 0, out.stderr
    assert "ASYNC!" in out.stdout
