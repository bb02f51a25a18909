"""The flags Modal users type, on ketch's CLI against a real server: -m MODULE, -w FILE,
-e ENV, -i, --timestamps, deploy --name/--tag/--stream-logs, FILE::app.fn, options before
FILE, and Modal commands ketch has not got yet."""

import json
import re
import subprocess
import sys
import time

PACKAGE_APP = '''
import ketch

app = ketch.App("pkg-app")
other = ketch.App("pkg-other")


@app.function()
def double(x: int) -> int:
    from pkg import helper
    return helper.twice(x)


@app.function()
def greet(name: str) -> str:
    print(f"greeting {name}")
    return f"hello {name}"


@app.function()
def raw(n: int) -> bytes:
    return bytes(range(n))


@app.local_entrypoint()
def main(x: int = 2):
    print("double is", double.remote(x))
    return f"result {double.remote(x)}"


@other.function()
def triple(x: int) -> int:
    return 3 * x
'''


def _package(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text("def twice(x):\n    return 2 * x\n")
    (pkg / "apps.py").write_text(PACKAGE_APP)
    return tmp_path


def test_module_mode_app_dot_function_and_write_result(fresh_server, tmp_path):
    root = _package(tmp_path)
    out = fresh_server.ketch("run", "-m", "pkg.apps::app.main", "--x", "5", "-w",
                             str(tmp_path / "out.txt"), cwd=root)
    assert out.returncode == 0, out.stderr
    assert "double is 10" in out.stdout
    assert (tmp_path / "out.txt").read_text() == "result 10"
    # bytes are written as they are; a function of a second app is picked by APP.NAME.
    out = fresh_server.ketch("run", "-w", str(tmp_path / "raw.bin"), "-m",
                             "pkg.apps::app.raw", "--n", "4", cwd=root)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "raw.bin").read_bytes() == b"\x00\x01\x02\x03"
    out = fresh_server.ketch("run", "-m", "pkg.apps::other.triple", "--x", "7", cwd=root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "21"
    # Not str or bytes: said plainly, and nothing is written.
    out = fresh_server.ketch("run", "-m", "pkg.apps::app.double", "--x", "1", "-w",
                             str(tmp_path / "int.txt"), cwd=root)
    assert out.returncode == 1 and "the result is a int, not str or bytes" in out.stderr
    assert not (tmp_path / "int.txt").exists()
    missing = fresh_server.ketch("run", "-m", "pkg.nothing", cwd=root)
    assert missing.returncode == 1 and "no module named 'pkg.nothing'" in missing.stderr
    no_app = fresh_server.ketch("run", "-m", "pkg.apps::nope.double", cwd=root)
    assert no_app.returncode == 1 and "has no ketch.App named 'nope'" in no_app.stderr


def test_deploy_module_with_name_and_tag_then_call_it(fresh_server, tmp_path):
    root = _package(tmp_path)
    out = fresh_server.ketch("deploy", "--name", "renamed", "--tag", "t1", "-m",
                             "pkg.apps::app", "--json", cwd=root)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["app"] == "renamed" and data["version"] == 1 and "double" in data["functions"]
    run = fresh_server.python("import ketch\n"
                              "print(ketch.Function.from_name('renamed', 'double').remote(4))")
    assert run.stdout.strip() == "8", run.stderr
    history = json.loads(fresh_server.ketch("app", "history", "renamed", "--json").stdout)
    assert history[0]["tag"] == "t1"


def test_timestamps_on_streamed_logs(fresh_server, tmp_path):
    root = _package(tmp_path)
    out = fresh_server.ketch("run", "--timestamps", "-m", "pkg.apps::app.greet", "--name",
                             "ann", cwd=root)
    assert out.returncode == 0, out.stderr
    line = next(l for l in out.stdout.splitlines() if "greeting ann" in l)
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[greet \w+\] greeting ann$",
                    line), line
    plain = fresh_server.ketch("run", "-m", "pkg.apps::app.greet", "--name", "bo", cwd=root)
    assert any(l.startswith("[greet ") for l in plain.stdout.splitlines()), plain.stdout


def test_env_names_the_workspace(fresh_server):
    ok = fresh_server.ketch("run", "-e", "main", "apps/cli_app.py::shout", "--word", "hi")
    assert ok.returncode == 0, ok.stderr
    assert "HI!" in ok.stdout
    other = fresh_server.ketch("run", "--env", "staging", "apps/cli_app.py::shout", "--word",
                               "hi")
    # A process-runtime server serves one workspace and says so; a bwrap one would say
    # that the token may not act in 'staging'.
    assert other.returncode == 1 and "workspace" in other.stderr, other.stderr
    assert "Traceback" not in other.stderr


def test_deploy_stream_logs_follows_the_app(fresh_server, tmp_path):
    root = _package(tmp_path)
    streamer = subprocess.Popen(
        [sys.executable, "-m", "ketch.cli", "deploy", "--stream-logs", "-m", "pkg.apps::app"],
        env=fresh_server.env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # deployed once from_name finds it
            run = fresh_server.python(
                "import ketch\nprint(ketch.Function.from_name('pkg-app', 'greet')"
                ".remote('stream'))")
            if run.returncode == 0:
                break
            time.sleep(0.3)
        assert run.stdout.strip() == "hello stream", run.stderr
        time.sleep(1.0)  # the log line reaches the follower
    finally:
        streamer.terminate()
        out, err = streamer.communicate(timeout=20)
    assert "deployed app pkg-app" in out
    assert "greeting stream" in out, out + err


def test_commands_modal_has_and_ketch_not_yet(fresh_server):
    for name in ("nfs", "environment", "launch"):
        out = fresh_server.ketch(name, "list")
        assert out.returncode == 1 and f"`ketch {name}` is not in ketch yet" in out.stderr
    typo = fresh_server.ketch("deplyo", "x.py")
    assert typo.returncode == 2 and "Did you mean 'deploy'?" in typo.stderr


def test_serve_a_module_and_reload_it_when_its_package_changes(fresh_server, tmp_path):
    import httpx

    from test_web_cli import APP, TIMEOUT, Lines

    pkg = tmp_path / "webpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "site.py").write_text(APP.format(name="modsite"))
    proc = subprocess.Popen([sys.executable, "-m", "ketch.cli", "serve", "--json", "-q",
                             "-m", "webpkg.site"], cwd=tmp_path, env=fresh_server.env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = Lines(proc.stderr)
    try:
        url = json.loads(proc.stdout.readline())["urls"]["page"]
        assert "modsite--page-dev" in url
        assert httpx.get(url, timeout=TIMEOUT).text == "version 1"
        (pkg / "site.py").write_text(APP.format(name="modsite").replace("version 1",
                                                                         "version 2"))
        err.wait_for("reloaded after a change to site.py")
        assert httpx.get(url, timeout=TIMEOUT).text == "version 2"
    finally:
        proc.terminate()
        proc.wait(TIMEOUT)
