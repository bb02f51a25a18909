"""Sandboxes (issue 12) on the shared server: create with and without an entrypoint,
exec with stdin/stdout/stderr, stream modes, exit codes, exec timeouts, large output
streamed in bounded memory, tags, from_id/from_name/list from another process, timeouts
with their reason, and a sandbox that outlives the client that made it."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import pytest

import ketch
from ketch.exception import InvalidError, NotFoundError, SandboxTimeoutError
from ketch.stream_type import StreamType

PY = sys.executable


@pytest.fixture(scope="module")
def app(server):
    return ketch.App.lookup("sandbox-tests", create_if_missing=True)


@pytest.fixture(scope="module")
def sb(app):
    sandbox = ketch.Sandbox.create(app=app, timeout=600)
    yield sandbox
    sandbox.terminate()


def test_entrypoint_streams_and_exit_code(app):
    sb = ketch.Sandbox.create(PY, "-c", "import sys; print('out'); print('err', file=sys.stderr);"
                              " sys.exit(3)", app=app)
    assert sb.object_id.startswith("sb-")
    assert sb.stdout.read() == "out\n"
    assert sb.stderr.read() == "err\n"
    sb.wait()
    assert sb.returncode == 3 and sb.poll() == 3


def test_entrypoint_stdin(app):
    sb = ketch.Sandbox.create("bash", "-c", "read line; echo \"got $line\"", app=app)
    sb.stdin.write("hello\n")
    sb.stdin.write_eof()
    sb.stdin.drain()
    assert sb.stdout.read() == "got hello\n"
    sb.wait()
    assert sb.returncode == 0


def test_exec_pipes_stdin_and_exit_codes(sb):
    p = sb.exec("bash", "-c", "cat; echo done >&2; exit 7")
    p.stdin.write(b"abc")
    p.stdin.write("def")
    p.stdin.write_eof()
    p.stdin.drain()
    assert p.stdout.read() == "abcdef"
    assert p.stderr.read() == "done\n"
    assert p.wait() == 7 and p.returncode == 7 and p.poll() == 7
    with pytest.raises(ValueError, match="write_eof"):
        p.stdin.write("more")


def test_exec_bytes_lines_and_devnull(sb):
    p = sb.exec("bash", "-c", "printf 'a\\nb\\nc'; echo noise >&2", text=False, bufsize=1,
                stderr=StreamType.DEVNULL)
    assert list(p.stdout) == [b"a\n", b"b\n", b"c"]
    assert p.stderr.read() == b""
    assert p.wait() == 0
    p = sb.exec("bash", "-c", "for i in 1 2 3; do echo line$i; sleep 0.05; done", bufsize=1)
    assert [line for line in p.stdout] == ["line1\n", "line2\n", "line3\n"]


def test_exec_stdout_printed_here(sb, capfd):
    p = sb.exec("echo", "printed-here", stdout=StreamType.STDOUT)
    assert p.wait() == 0
    assert p.stdout.read() == ""
    deadline = time.monotonic() + 5
    seen = ""
    while "printed-here" not in seen and time.monotonic() < deadline:
        time.sleep(0.05)
        seen += capfd.readouterr().out
    assert "printed-here" in seen


def test_exec_missing_program_and_timeout(sb):
    p = sb.exec("no-such-program-here")
    assert p.wait() == 127
    assert "no-such-program-here" in p.stderr.read()
    p = sb.exec("true", workdir="/no/such/dir")
    assert p.wait() == 127 and "workdir /no/such/dir" in p.stderr.read()
    started = time.monotonic()
    p = sb.exec("sleep", "30", timeout=1)
    assert p.wait() == 137
    assert time.monotonic() - started < 10
    # The sandbox itself goes on.
    assert sb.exec("true").wait() == 0 and sb.poll() is None


def test_process_that_never_reads_stdin(sb):
    p = sb.exec("bash", "-c", "echo quick")
    p.stdin.write(b"x" * 200_000)   # more than a pipe holds; the process never reads it
    p.stdin.drain()                 # returns: the process ended and takes no more
    assert p.wait() == 0 and p.stdout.read() == "quick\n"


def test_exec_env_workdir_and_no_credential(sb):
    p = sb.exec("bash", "-c", "echo $GREETING; pwd; env | grep -c KETCH_TOKEN || true",
                env={"GREETING": "hi"}, workdir="/tmp")
    assert p.stdout.read().split() == ["hi", "/tmp", "0"]


def test_large_output_streams_in_bounded_memory(sb):
    """200 MB through stdout: the reader holds one chunk at a time, and the server holds no
    more than its window per stream (its RSS grows far less than the output)."""
    size = 200 * 1024 * 1024
    p = sb.exec("head", "-c", str(size), "/dev/zero", text=False)
    total, biggest = 0, 0
    for chunk in p.stdout:
        total += len(chunk)
        biggest = max(biggest, len(chunk))
    assert total == size and biggest <= 16 * 1024 * 1024
    assert p.wait() == 0


def test_output_waits_for_a_slow_reader(sb, server):
    """A process writing faster than anyone reads blocks once the window is full: the
    server does not take its output into memory."""
    p = sb.exec("bash", "-c", "head -c 100000000 /dev/zero; echo finished >&2", text=False)
    time.sleep(2)
    assert p.poll() is None            # blocked on a full pipe: nobody reads
    rss = _rss_mib(server.proc.pid)
    assert rss < 400, f"server RSS {rss} MiB while 100 MB waited to be read"
    assert len(p.stdout.read()) == 100_000_000
    assert p.wait() == 0 and p.stderr.read() == b"finished\n"


def _rss_mib(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_aio_twins(sb):
    async def main():
        p = await sb.exec.aio("bash", "-c", "echo one; echo two", bufsize=1)
        lines = [line async for line in p.stdout]
        code = await p.wait.aio()
        found = await ketch.Sandbox.from_id.aio(sb.object_id)
        return lines, code, await found.poll.aio(), await p.stderr.read.aio()

    assert asyncio.run(main()) == (["one\n", "two\n"], 0, None, "")


def test_tags_list_from_name_and_another_process(app, server):
    sb = ketch.Sandbox.create(app=app, name="tagged-one", tags={"team": "a", "kind": "x"})
    other = ketch.Sandbox.create(app=app, tags={"team": "a"})
    try:
        assert sb.get_tags() == {"team": "a", "kind": "x"}
        ids = {s.object_id for s in ketch.Sandbox.list(tags={"team": "a"})}
        assert {sb.object_id, other.object_id} <= ids
        ids = {s.object_id for s in ketch.Sandbox.list(app_id=app.app_id,
                                                        tags={"team": "a", "kind": "x"})}
        assert ids == {sb.object_id}
        other.set_tags({"team": "b"})
        assert other.object_id not in {s.object_id for s in
                                       ketch.Sandbox.list(tags={"team": "a"})}
        assert ketch.Sandbox.from_name("sandbox-tests", "tagged-one").object_id == sb.object_id
        with pytest.raises(InvalidError, match="no readiness_probe"):
            sb.wait_until_ready()
        with pytest.raises(ketch.exception.AlreadyExistsError):
            ketch.Sandbox.create(app=app, name="tagged-one")
        code = f"""
import ketch
sb = ketch.Sandbox.from_id({sb.object_id!r})
p = sb.exec("bash", "-c", "echo from-elsewhere")
print(p.stdout.read().strip(), p.wait())
"""
        out = server.python(code)
        assert out.stdout.split() == ["from-elsewhere", "0"], out.stderr
    finally:
        sb.terminate()
        other.terminate()
    sb.wait(raise_on_termination=False)
    with pytest.raises(NotFoundError):
        ketch.Sandbox.from_name("sandbox-tests", "tagged-one")
    ended = ketch.Sandbox.from_name("sandbox-tests", "tagged-one", include_terminated=True)
    assert ended.object_id == sb.object_id and ended.returncode is not None


def test_outlives_the_client_that_made_it(app, server):
    out = server.python("""
import ketch
app = ketch.App.lookup("sandbox-tests")
sb = ketch.Sandbox.create("sleep", "600", app=app)
sb.exec("bash", "-c", "echo kept > /tmp/ketch-sandbox-kept-$KETCH_SANDBOX_ID").wait()
print(sb.object_id)
""")
    sandbox_id = out.stdout.strip()
    assert sandbox_id.startswith("sb-"), out.stderr
    sb = ketch.Sandbox.from_id(sandbox_id)
    assert sb.poll() is None
    p = sb.exec("bash", "-c", "cat /tmp/ketch-sandbox-kept-$KETCH_SANDBOX_ID; "
                "rm /tmp/ketch-sandbox-kept-$KETCH_SANDBOX_ID")
    assert p.stdout.read() == "kept\n"
    assert sb.terminate(wait=True) == 143
    with pytest.raises(ketch.exception.SandboxTerminatedError):
        sb.wait()
    sb.wait(raise_on_termination=False)
    listed = json.loads(server.ketch("container", "list", "--json").stdout)
    assert sandbox_id not in json.dumps(listed)


def test_timeout_and_idle_timeout_record_why(app):
    sb = ketch.Sandbox.create("sleep", "60", app=app, timeout=1)
    with pytest.raises(SandboxTimeoutError, match="timeout of 1 s"):
        sb.wait()
    idle = ketch.Sandbox.create(app=app, idle_timeout=1)
    assert idle.exec("sleep", "2").wait() == 0   # a running exec is not idle
    with pytest.raises(SandboxTimeoutError, match="idle_timeout of 1 s"):
        idle.wait()
    with pytest.raises(ketch.exception.ExecutionError, match="has ended"):
        idle.exec("true")


def test_bad_input_is_refused_early(app):
    with pytest.raises(InvalidError, match="needs app="):
        ketch.Sandbox.create()
    with pytest.raises(InvalidError, match="timeout"):
        ketch.Sandbox.create(app=app, timeout=-1)
    with pytest.raises(InvalidError, match="h2_ports"):
        ketch.Sandbox.create(app=app, h2_ports=["8080"])
    with pytest.raises(InvalidError, match="block_network"):
        ketch.Sandbox.create(app=app, block_network=True, encrypted_ports=[8080])
    with pytest.raises(InvalidError, match="port numbers"):
        ketch.Sandbox.create(app=app, unencrypted_ports=[70000])
    with pytest.raises(InvalidError, match="unknown option"):
        ketch.Sandbox.create(app=app, colour="red")
    with pytest.raises(NotFoundError):
        ketch.Sandbox.from_id("sb-0000000000000000")
    sb = ketch.Sandbox.create(app=app)
    try:
        with pytest.raises(InvalidError, match="bufsize"):
            sb.exec("true", bufsize=0)
        with pytest.raises(InvalidError, match="needs a command"):
            sb.exec()
        with pytest.raises(InvalidError, match="needs the bwrap runtime"):
            sb.snapshot_filesystem()
        with pytest.raises(InvalidError, match="needs the bwrap runtime"):
            sb.snapshot_directory("/tmp")
        with pytest.raises(InvalidError, match="not a ketch.Image"):
            sb.mount_image("/mnt", "debian")
        sb.reload_volumes()   # a ketch volume is one directory: changes are already seen
    finally:
        sb.terminate()


def test_tunnel_to_a_web_server_inside(app):
    import socket
    import urllib.request

    with socket.socket() as s:   # the process runtime shares the host's ports: a free one
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sb = ketch.Sandbox.create(PY, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                              app=app, encrypted_ports=[port], workdir="/tmp")
    try:
        sb.filesystem.write_text("through the tunnel", "/tmp/hello.txt")
        tunnel = sb.tunnels()[port]
        assert isinstance(tunnel, ketch.Tunnel) and tunnel.url.startswith("http://")
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(tunnel.url + "/hello.txt", timeout=5) as r:
                    assert r.read() == b"through the tunnel"
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert tunnel.tcp_socket == (tunnel.host, tunnel.port)
    finally:
        sb.terminate()


def test_entrypoint_and_exec_with_a_pty(app, sb):
    boxed = ketch.Sandbox.create("bash", "-c", "tty; echo to-stderr >&2", app=app, pty=True)
    out = boxed.stdout.read()
    assert out.startswith("/dev/pts/") and "to-stderr" in out   # one stream, as Modal's
    assert boxed.stderr.read() == ""
    p = sb.exec("bash", "-c", "read -r line; echo \"[$line]\"", pty=True)
    p.stdin.write("typed\n")
    p.stdin.drain()
    assert "[typed]" in p.stdout.read() and p.wait() == 0


def test_forward_from_a_functions_container(server):
    """ketch.forward(port) inside a function: the port is reachable from here while the
    `with` block lasts."""
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = ketch.App("forward-test")

    @app.function(serialized=True, timeout=120)
    def serve(port: int, queue_name: str):
        import http.server
        import threading

        import ketch as k

        class Hello(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"from the function")

        httpd = http.server.HTTPServer(("127.0.0.1", port), Hello)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        q = k.Queue.from_name(queue_name)
        with k.forward(port) as tunnel:
            q.put(tunnel.url, partition="url")
            q.get(partition="done", timeout=60)
        return "served"

    with pytest.raises(InvalidError, match="inside a function's container"):
        ketch.forward(port)
    name = f"forward-{port}"
    named = ketch.Queue.from_name(name, create_if_missing=True)
    try:
        with app.run():
            call = serve.spawn(port, name)
            url = named.get(partition="url", timeout=60)
            with urllib.request.urlopen(url, timeout=10) as r:
                assert r.read() == b"from the function"
            named.put("ok", partition="done")
            assert call.get(timeout=60) == "served"
    finally:
        ketch.Queue.delete(name)


def test_secrets_reach_the_sandbox_and_its_execs(app):
    ketch.Secret.create("sandbox-test-secret", {"API_KEY": "s3cret"}, overwrite=True)
    secret = ketch.Secret.from_name("sandbox-test-secret")
    sb = ketch.Sandbox.create("bash", "-c", "echo $API_KEY $PLAIN", app=app, secrets=[secret],
                              env={"PLAIN": "plain", "UNSET": None})
    assert sb.stdout.read() == "s3cret plain\n"
    other = ketch.Sandbox.create(app=app)
    try:
        p = other.exec("bash", "-c", "echo ${API_KEY:-none}", secrets=[secret])
        assert p.stdout.read() == "s3cret\n"
        assert other.exec("bash", "-c", "echo ${API_KEY:-none}").stdout.read() == "none\n"
    finally:
        other.terminate()


def test_a_sandbox_ends_with_its_ephemeral_app(server):
    app = ketch.App("sandbox-ephemeral")
    with app.run():
        sb = ketch.Sandbox.create(app=app, timeout=600)
        assert sb.exec("true").wait() == 0
    with pytest.raises(ketch.exception.SandboxTerminatedError, match="was stopped"):
        sb.wait()


H2_ECHO = """
import socket, sys
srv = socket.create_server(("127.0.0.1", int(sys.argv[1])))
while True:   # the readiness probe's connection comes first, and says nothing
    conn, _ = srv.accept()
    preface = b""
    while len(preface) < 24 and (chunk := conn.recv(24 - len(preface))):
        preface += chunk
    if len(preface) == 24:
        conn.sendall(b"seen " + preface)
"""


def test_h2_ports_pass_http2_through_a_tunnel(app):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sb = ketch.Sandbox.create(PY, "-c", H2_ECHO, str(port), app=app, h2_ports=[port],
                              readiness_probe=ketch.Probe.with_tcp(port, interval_ms=20))
    try:
        sb.wait_until_ready(timeout=30)
        tunnel = sb.tunnels()[port]
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"   # what an h2c client sends first
        with socket.create_connection(tunnel.tcp_socket, timeout=10) as conn:
            conn.sendall(preface)
            got = b""
            while len(got) < 5 + len(preface):
                got += conn.recv(100)
        assert got == b"seen " + preface
    finally:
        sb.terminate()


def test_readiness_probe_and_wait_until_ready(app):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    web = ketch.Sandbox.create("bash", "-c", f"sleep 0.5; exec {PY} -m http.server {port} "
                               "--bind 127.0.0.1", app=app,
                               readiness_probe=ketch.Probe.with_tcp(port, interval_ms=50))
    flag = ketch.Sandbox.create(app=app, readiness_probe=ketch.sandbox.Probe.with_exec(
        "sh", "-c", "test -f /tmp/ketch-ready-$KETCH_SANDBOX_ID"))
    early = ketch.Sandbox.create("true", app=app, readiness_probe=ketch.Probe.with_tcp(port))
    try:
        web.wait_until_ready(timeout=30)
        p = web.exec(PY, "-c", "import socket; socket.create_connection(('127.0.0.1', "
                     f"{port})); print('up')")
        assert p.stdout.read() == "up\n" and p.wait() == 0
        with pytest.raises(ketch.exception.TimeoutError, match="not ready within 1 s"):
            flag.wait_until_ready(timeout=1)
        flag.exec("sh", "-c", "touch /tmp/ketch-ready-$KETCH_SANDBOX_ID").wait()
        asyncio.run(flag.wait_until_ready.aio(timeout=30))
        flag.exec("sh", "-c", "rm /tmp/ketch-ready-$KETCH_SANDBOX_ID").wait()
        with pytest.raises(ketch.exception.SandboxTerminatedError, match="ended before"):
            early.wait_until_ready(timeout=30)
    finally:
        web.terminate()
        flag.terminate()
    with pytest.raises(InvalidError, match="port number"):
        ketch.Probe.with_tcp(0)
    with pytest.raises(InvalidError, match="needs a command"):
        ketch.Probe.with_exec()
    with pytest.raises(InvalidError, match="interval_ms"):
        ketch.Probe.with_tcp(80, interval_ms=0)
    with pytest.raises(InvalidError, match="give a ketch.Probe"):
        ketch.Sandbox.create(app=app, readiness_probe="tcp:80")


def test_logs_keep_the_entrypoints_output(app, server):
    import datetime
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    sb = ketch.Sandbox.create("bash", "-c", "for i in 1 2 3; do echo out $i; done; "
                              "echo oops >&2; printf 'no newline'", app=app)
    sb.wait()
    assert [e.message for e in sb.logs.tail(2, source="stdout")] == ["out 3\n",
                                                                      "no newline\n"]
    last = list(sb.logs.tail(1))[0]   # the server's line about its end comes last
    assert last.source == "system" and "exited with code 0" in last.message
    got = [e.message for e in sb.logs.fetch(since=start, source="stdout", search_text="out")]
    assert got == ["out 1\n", "out 2\n", "out 3\n"]
    again = ketch.Sandbox.from_id(sb.object_id)
    entries = asyncio.run(_collect(again.logs.tail.aio(10, source="stderr")))
    assert [str(e) for e in entries] == ["oops\n"] and entries[0].object_id == sb.object_id
    with pytest.raises(InvalidError, match="source="):
        list(sb.logs.tail(source="stdin"))
    cli = server.ketch("container", "logs", sb.object_id)
    assert "out 2" in cli.stdout and "oops" in cli.stdout + cli.stderr, cli.stderr
    quiet = ketch.Sandbox.create(app=app)   # running, nothing said yet: no lines, no error
    try:
        cli = server.ketch("container", "logs", quiet.object_id)
        assert cli.returncode == 0, cli.stderr
    finally:
        quiet.terminate()


async def _collect(agen):
    return [item async for item in agen]


def test_idle_function_containers_make_room_for_a_sandbox(fresh_server):
    """A warm, idle function container holding the whole machine's CPU is stopped for a
    sandbox (as the autoscaler evicts idle containers for a function's), not refused."""
    out = fresh_server.python("""
import json, os, ketch
app = ketch.App("roomy")

@app.function(cpu=float(os.cpu_count()), serialized=True)
def hold():
    return "held"

with app.run():
    first = hold.remote()
    sb = ketch.Sandbox.create(app=app)
    said = sb.exec("echo", "hi").stdout.read()
    sb.terminate()
print(json.dumps([first, said]))
""", timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr + fresh_server.log()[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["held", "hi\n"]
    assert "scaled down to make room" in fresh_server.log()
