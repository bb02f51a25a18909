"""Web endpoints through the gateway of a real server, with real HTTP and WebSocket clients
(httpx, websockets) and real containers (tests/apps/web.py)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import socket

import httpx
import pytest
import websockets

import ketch
from ketch.exception import InvalidError

TIMEOUT = 60


@pytest.fixture(scope="session")
def web_app(server):
    from apps import web

    with web.app.run():
        yield web


def url_of(fn) -> str:
    url = fn.get_web_url()
    assert url and url.startswith("http://")
    return url


def test_fastapi_endpoint_maps_query_and_json(web_app):
    r = httpx.get(url_of(web_app.hello), params={"name": "ada", "times": 3}, timeout=TIMEOUT)
    assert r.status_code == 200 and r.json() == {"greeting": "hello ada", "times": 3}
    r = httpx.post(url_of(web_app.add), json={"values": [1, 2, 39]}, timeout=TIMEOUT)
    assert r.json() == {"total": 42}
    # FastAPI's own validation answers bad input, as it would under Modal.
    assert httpx.get(url_of(web_app.hello), params={"times": "many"},
                     timeout=TIMEOUT).status_code == 422


def test_get_web_url_inside_the_endpoint(web_app):
    url = url_of(web_app.whoami)
    assert httpx.get(url, timeout=TIMEOUT).json() == url
    assert web_app.hello.get_web_url.aio is not None  # the async twin exists


def test_fastapi_endpoint_on_a_class_runs_enter_first(web_app):
    url = url_of(web_app.Model().predict)
    assert "model-predict" in url
    r = httpx.get(url, params={"x": 21}, timeout=TIMEOUT)
    assert r.json() == {"y": 42, "greeting": "hi", "loaded": True}


def test_host_and_path_routing(web_app, server):
    port = server.gateway_port
    # The host form, as browsers and curl send it for http://webtest--stream-dev.localhost.
    r = httpx.get(f"http://127.0.0.1:{port}/a/b?x=1", timeout=TIMEOUT,
                  headers={"Host": f"webtest--stream-dev.localhost:{port}"})
    assert r.text == "GET /a/b x=1 prefix="
    # The path form, for clients that cannot set a host name: the prefix is stripped.
    r = httpx.get(f"http://127.0.0.1:{port}/webtest--stream-dev/a/b?x=1", timeout=TIMEOUT)
    assert r.text == "GET /a/b x=1 prefix=/webtest--stream-dev"
    r = httpx.get(f"http://127.0.0.1:{port}/webtest--stream-dev?y=2", timeout=TIMEOUT)
    assert r.text == "GET / y=2 prefix=/webtest--stream-dev"


def test_clients_cannot_forge_forwarding_headers(web_app, server):
    port = server.gateway_port
    r = httpx.get(f"http://127.0.0.1:{port}/webtest--stream-dev/forwarded", timeout=TIMEOUT,
                  headers={"X-Forwarded-Host": "evil.example", "Forwarded": "host=evil",
                           "X-Forwarded-For": "6.6.6.6"})
    host, forwarded, peer = r.text.split("|")
    assert host == "-" and forwarded == "-"
    assert peer == "127.0.0.1"  # the gateway's own, not the client's claim


def test_request_and_response_bodies_stream(web_app):
    url = url_of(web_app.stream)

    def upload():
        for _ in range(50):
            yield b"u" * 100_000

    # A chunked upload of 5 MB, echoed back as its size.
    assert httpx.post(url + "/echo", content=upload(), timeout=TIMEOUT).text == "5000000"
    assert httpx.post(url + "/echo", content=b"k" * 3_000_000, timeout=TIMEOUT).text == "3000000"
    with httpx.stream("GET", url + "/big", timeout=TIMEOUT) as r:
        assert sum(len(chunk) for chunk in r.iter_bytes()) == 10 * 1024 * 1024


def test_server_sent_events_pass_through(web_app):
    events = []
    with httpx.stream("GET", url_of(web_app.stream) + "/sse", timeout=TIMEOUT) as r:
        assert r.headers["content-type"] == "text/event-stream"
        for line in r.iter_lines():
            if line:
                events.append(line)
    assert events == [f"data: {i}" for i in range(5)]


def test_websocket_echo_both_ways(web_app):
    url = url_of(web_app.stream).replace("http://", "ws://") + "/ws"

    async def talk():
        async with websockets.connect(url, open_timeout=TIMEOUT) as ws:
            replies = []
            for i in range(20):
                await ws.send(f"m{i}")
                replies.append(await ws.recv())
            await ws.send(b"\x01\x02\x03")
            replies.append(await ws.recv())
            return replies

    replies = asyncio.run(talk())
    assert replies[:20] == [f"echo: m{i}" for i in range(20)]
    assert replies[20] == b"\x03\x02\x01"


def test_keep_alive_and_pipelining(web_app, server):
    """Several requests on one connection, the last two sent in one write."""
    host = f"webtest--stream-dev.localhost:{server.gateway_port}"
    with socket.create_connection(("127.0.0.1", server.gateway_port), timeout=TIMEOUT) as s:
        reader = s.makefile("rb")

        def response() -> bytes:
            status = reader.readline()
            length = 0
            while (line := reader.readline()) != b"\r\n":
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            assert status.startswith(b"HTTP/1.1 200"), status
            return reader.read(length)

        s.sendall(f"GET /one HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        assert response() == b"GET /one  prefix="
        s.sendall(f"GET /two HTTP/1.1\r\nHost: {host}\r\n\r\n"
                  f"POST /three HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n".encode())
        assert response() == b"GET /two  prefix="
        assert response() == b"POST /three  prefix="


def test_head_and_expect_100_continue(web_app, server):
    url = url_of(web_app.stream)
    with httpx.Client(timeout=TIMEOUT) as client:
        head = client.head(url + "/x")
        assert head.status_code == 200 and head.content == b""
        assert client.get(url + "/after-head").text == "GET /after-head  prefix=" + \
            ("" if ".localhost" in url else "/webtest--stream-dev")
    # The WSGI app reads the body before answering, so uvicorn sends 100 Continue first.
    url_of(web_app.classic)
    host = f"webtest--classic-dev.localhost:{server.gateway_port}"
    with socket.create_connection(("127.0.0.1", server.gateway_port), timeout=TIMEOUT) as s:
        s.sendall(f"POST /c HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n"
                  "Expect: 100-continue\r\n\r\n".encode())
        reader = s.makefile("rb")
        assert reader.readline().startswith(b"HTTP/1.1 100")
        assert reader.readline() == b"\r\n"
        s.sendall(b"12345")
        assert reader.readline().startswith(b"HTTP/1.1 200")
        rest = b""
        while b"wsgi POST /c 12345" not in rest:
            chunk = reader.read1(65536)
            assert chunk, "the connection closed before the response"
            rest += chunk


def test_wsgi_app_sees_the_path_prefix_as_script_name(web_app, server):
    base = f"http://127.0.0.1:{server.gateway_port}"
    r = httpx.post(f"{base}/webtest--classic-dev/a", content=b"form=1", timeout=TIMEOUT)
    assert r.status_code == 200 and r.text == "wsgi POST /webtest--classic-dev/a form=1"
    r = httpx.post(f"{base}/a", content=b"form=1", timeout=TIMEOUT,
                   headers={"Host": f"webtest--classic-dev.localhost:{server.gateway_port}"})
    assert r.text == "wsgi POST /a form=1"


def test_fastapi_docs_work_under_the_path_prefix(web_app, server):
    base = f"http://127.0.0.1:{server.gateway_port}/webtest--hello-dev"
    docs = httpx.get(base + "/docs", timeout=TIMEOUT)
    assert docs.status_code == 200 and "/webtest--hello-dev/openapi.json" in docs.text
    schema = httpx.get(base + "/openapi.json", timeout=TIMEOUT).json()
    assert "/" in schema["paths"]


def test_web_server_proxies_to_the_users_process(web_app):
    r = httpx.get(url_of(web_app.files) + "/web.py", timeout=TIMEOUT)
    assert r.status_code == 200 and "Web endpoints the gateway tests serve" in r.text


def test_unknown_app_or_label_is_404(web_app, server):
    port = server.gateway_port
    r = httpx.get(f"http://127.0.0.1:{port}/webtest--nothing-dev/", timeout=TIMEOUT)
    assert r.status_code == 404 and "no running app serves 'webtest--nothing-dev'" in r.text
    r = httpx.get(f"http://127.0.0.1:{port}/", timeout=TIMEOUT)
    assert r.status_code == 404 and "<app>--<label>" in r.text
    # The deployed name (no -dev) is not the ephemeral app.
    r = httpx.get(f"http://127.0.0.1:{port}/webtest--hello/", timeout=TIMEOUT)
    assert r.status_code == 404
    # The gateway's own answers keep the connection open.
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        reader = s.makefile("rb")
        for _ in range(2):
            s.sendall(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
            assert reader.readline().startswith(b"HTTP/1.1 404")
            length = 0
            while (line := reader.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)


def test_proxy_auth(web_app, server):
    url = url_of(web_app.private)
    r = httpx.get(url, timeout=TIMEOUT)
    assert r.status_code == 401 and "missing credentials for proxy authorization" in r.text
    created = server.ketch("proxy-auth", "create", "ci", "--json")
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)
    assert token["token_id"].startswith("wk-") and token["secret"].startswith("ws-")
    good = {"Modal-Key": token["token_id"], "Modal-Secret": token["secret"]}
    r = httpx.get(url, headers=good, timeout=TIMEOUT)
    assert r.status_code == 200 and r.json() == "hello friend"
    bad = {"Modal-Key": token["token_id"], "Modal-Secret": "ws-wrong"}
    assert httpx.get(url, headers=bad, timeout=TIMEOUT).status_code == 401
    listed = server.ketch("proxy-auth", "list")
    assert token["token_id"] in listed.stdout and token["secret"] not in listed.stdout
    assert server.ketch("proxy-auth", "revoke", token["token_id"]).returncode == 0
    assert httpx.get(url, headers=good, timeout=TIMEOUT).status_code == 401
    missing = server.ketch("proxy-auth", "revoke", token["token_id"])
    assert missing.returncode == 1 and "no proxy-auth token" in missing.stderr


def test_app_that_fails_to_start_answers_503_with_its_error(web_app):
    r = httpx.get(url_of(web_app.broken), timeout=TIMEOUT)
    assert r.status_code == 503
    first_line = r.text.splitlines()[0]
    assert first_line.endswith("failed to start: RuntimeError: this app cannot start: "
                               "missing model weights")
    assert "Its last output:" in r.text and "Traceback" in r.text


def test_startup_timeout_answers_503_saying_why(web_app):
    r = httpx.get(url_of(web_app.stuck), timeout=TIMEOUT)
    assert r.status_code == 503 and "startup timeout" in r.text


def test_a_request_past_the_function_timeout_is_504(web_app):
    r = httpx.get(url_of(web_app.sleepy), timeout=TIMEOUT)
    assert r.status_code == 504 and "timeout of 2 s" in r.text


def test_crash_mid_request_is_502_and_the_next_request_succeeds(web_app):
    url = url_of(web_app.crashy)
    first = httpx.get(url + "/pid", timeout=TIMEOUT).text
    r = httpx.get(url + "/crash", timeout=TIMEOUT)
    assert r.status_code == 502 and "closed the connection before answering" in r.text
    r = httpx.get(url + "/pid", timeout=TIMEOUT)
    assert r.status_code == 200 and r.text != first


def test_concurrency_limit_and_scale_out_from_zero(web_app, server):
    """Six concurrent requests to a function with max_inputs=2 and no container: each
    container runs at most two at once, so more containers start."""
    listed = json.loads(server.ketch("container", "list", "--json").stdout)
    assert [c for c in listed if c["function"] == "slow"] == []
    url = url_of(web_app.slow)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        # Long enough that the second container is ready before the first is free again.
        replies = list(pool.map(lambda _: httpx.get(url + "/?2.5", timeout=TIMEOUT), range(6)))
    assert all(r.status_code == 200 for r in replies)
    pids, most = zip(*(r.text.split() for r in replies))
    assert max(int(m) for m in most) <= 2
    assert len(set(pids)) >= 2


def test_a_container_with_a_request_in_flight_is_not_scaled_down(web_app):
    """A request outlasts the function's scaledown window of 1 s: the autoscaler counts it
    as work, so the container is not stopped under it and serves the next request too."""
    url = url_of(web_app.lingering)
    first = httpx.get(url + "/?3", timeout=TIMEOUT)
    second = httpx.get(url, timeout=TIMEOUT)
    assert first.status_code == second.status_code == 200
    assert first.text == second.text


def test_remote_on_a_web_endpoint_is_refused(web_app):
    with pytest.raises(InvalidError, match="web endpoint"):
        web_app.hello.remote()
    assert web_app.hello.local(name="x") == {"greeting": "hello x", "times": 1}


def test_decorators_check_their_arguments_at_once():
    with pytest.raises(InvalidError, match="label"):
        ketch.asgi_app(label="Not_A_Label")
    with pytest.raises(InvalidError, match="method"):
        ketch.fastapi_endpoint(method="FETCH")
    with pytest.raises(InvalidError, match="port"):
        ketch.web_server(port=70000)
    with pytest.raises(InvalidError, match="takes no arguments"):
        @ketch.asgi_app()
        def needs_args(x):
            return x

    app = ketch.App("web-checks")
    with pytest.raises(InvalidError, match="below @app.function"):
        @ketch.asgi_app()
        @app.function(serialized=True)
        def wrong_order():
            pass

    with pytest.raises(InvalidError, match="two web decorators"):
        @ketch.asgi_app()
        @ketch.wsgi_app()
        def twice():
            pass

    @app.function(serialized=True)
    @ketch.fastapi_endpoint(label="same")
    def first():
        pass

    with pytest.raises(InvalidError, match="already used"):
        @app.function(serialized=True)
        @ketch.fastapi_endpoint(label="same")
        def second():
            pass

    with pytest.raises(InvalidError, match="has no default"):
        @app.cls(serialized=True)
        class Needs:
            size: int = ketch.parameter()

            @ketch.fastapi_endpoint()
            def get(self):
                return self.size
