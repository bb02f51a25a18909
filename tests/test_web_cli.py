"""`ketch serve` hot reload, `ketch deploy` URLs, and a server whose gateway port is
taken — each with a server of its own."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx

from conftest import ServerProcess

TIMEOUT = 60

APP = '''
import asyncio
import ketch

app = ketch.App("{name}")


@app.function()
@ketch.concurrent(max_inputs=10)
@ketch.asgi_app()
def page():
    async def asgi(scope, receive, send):
        if scope["type"] != "http":
            return
        await asyncio.sleep(float(scope["query_string"].decode() or 0))
        await send({{"type": "http.response.start", "status": 200, "headers": []}})
        await send({{"type": "http.response.body", "body": b"version 1"}})
    return asgi
'''


class Lines:
    """A child process's stderr, read as it comes, so a test can wait for a line."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def wait_for(self, text: str, after: int = 0) -> int:
        """Waits until a line from index `after` on contains `text`; returns its index."""
        with self.cond:
            found = self.cond.wait_for(lambda: next(
                (i for i, line in enumerate(self.lines) if i >= after and text in line),
                None) is not None, timeout=TIMEOUT)
            assert found, f"no line with {text!r} in {self.lines}"
            return next(i for i, line in enumerate(self.lines) if i >= after and text in line)


def in_flight(server, function: str) -> int:
    listed = json.loads(server.ketch("container", "list", "--json").stdout)
    return sum(c.get("inputs_in_flight", 0) for c in listed if c.get("function") == function)


def test_serve_reloads_on_change_without_dropping_requests(fresh_server, tmp_path):
    source = tmp_path / "served.py"
    source.write_text(APP.format(name="served"))
    proc = subprocess.Popen([sys.executable, "-m", "ketch.cli", "serve", "served.py", "--json",
                             "-q"], cwd=tmp_path, env=fresh_server.env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = Lines(proc.stderr)
    try:
        url = json.loads(proc.stdout.readline())["urls"]["page"]
        assert "served--page-dev" in url
        assert httpx.get(url, timeout=TIMEOUT).text == "version 1"
        slow = {}
        inflight = threading.Thread(
            target=lambda: slow.setdefault("r", httpx.get(url + "/?3", timeout=TIMEOUT)))
        inflight.start()
        deadline = time.monotonic() + TIMEOUT
        while in_flight(fresh_server, "page") < 1:  # the slow request reached its container
            assert time.monotonic() < deadline and inflight.is_alive()
        source.write_text(APP.format(name="served").replace("version 1", "version 2"))
        seen = err.wait_for("reloaded after a change to served.py")
        assert httpx.get(url, timeout=TIMEOUT).text == "version 2"
        inflight.join(TIMEOUT)
        # The request that was in flight during the reload finished on the old code.
        assert slow["r"].status_code == 200 and slow["r"].text == "version 1"
        # A broken edit keeps the last good version serving.
        source.write_text("this is not python(")
        err.wait_for("kept the previous version running", after=seen)
        assert httpx.get(url, timeout=TIMEOUT).text == "version 2"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(TIMEOUT)
    err.wait_for("stopped serving")


def test_deploy_prints_urls_that_from_name_finds(fresh_server, tmp_path):
    (tmp_path / "deployed.py").write_text(APP.format(name="shop"))
    out = fresh_server.ketch("deploy", "deployed.py", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    url = json.loads(out.stdout)["web_urls"]["page"]
    assert "shop--page" in url and "-dev" not in url
    assert httpx.get(url, timeout=TIMEOUT).text == "version 1"
    found = fresh_server.python("import ketch; print(ketch.Function.from_name('shop', "
                                "'page').get_web_url())")
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == url
    text = fresh_server.ketch("deploy", "deployed.py", cwd=tmp_path)
    assert f"web       page   {url}" in text.stdout


def test_deployed_endpoints_and_tokens_survive_a_server_restart(fresh_server, tmp_path):
    (tmp_path / "kept.py").write_text(APP.format(name="kept").replace(
        "@ketch.asgi_app()", "@ketch.asgi_app(requires_proxy_auth=True)"))
    out = fresh_server.ketch("deploy", "kept.py", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    url = json.loads(out.stdout)["web_urls"]["page"]
    token = json.loads(fresh_server.ketch("proxy-auth", "create", "--json").stdout)
    headers = {"Modal-Key": token["token_id"], "Modal-Secret": token["secret"]}
    assert httpx.get(url, headers=headers, timeout=TIMEOUT).text == "version 1"
    fresh_server.stop()
    fresh_server.start()
    assert httpx.get(url, timeout=TIMEOUT).status_code == 401
    r = httpx.get(url, headers=headers, timeout=TIMEOUT)
    assert r.status_code == 200 and r.text == "version 1"


def test_run_prints_urls_and_the_entrypoint_can_call_them(fresh_server, tmp_path):
    (tmp_path / "ran.py").write_text(APP.format(name="ran") + """

@app.local_entrypoint()
def main():
    import httpx
    print("got", httpx.get(page.get_web_url(), timeout=60).text)
""")
    out = fresh_server.ketch("run", "ran.py", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "got version 1" in out.stdout
    assert "web       page   http://" in out.stderr and "ran--page-dev" in out.stderr


def test_a_taken_gateway_port_leaves_the_server_running(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        srv = ServerProcess(tmp_path / "server")
        srv.gateway_port = taken.getsockname()[1]
        srv.start()
        try:
            (tmp_path / "deployed.py").write_text(APP.format(name="noport"))
            out = srv.ketch("deploy", "deployed.py", cwd=tmp_path)
            assert out.returncode == 0, out.stderr
            assert "no URL: the gateway is not listening" in out.stdout
            assert "the gateway cannot listen on" in srv.log()
            status = srv.ketch("server", "status", "--json")
            assert status.returncode == 0 and json.loads(status.stdout)["running"] is True
        finally:
            srv.stop()
