"""Sandbox connect tokens (issue 12): a real HTTP server in a real bwrap sandbox, reached
through the gateway with `sb.create_connect_token()` by httpx and a WebSocket client; the
token checked before anything is forwarded, taken out of what the sandbox gets, and bound
to one sandbox for as long as it runs."""

from __future__ import annotations

import json
import textwrap

import pytest
from isolation_helpers import needs_bwrap, run_client, start_server

pytestmark = needs_bwrap

# The sandbox's server: GET echoes its path and headers (and how many requests reached
# it), POST the size and digest of its body, and a WebSocket upgrade echoes one text
# message (the handshake by hand: the sandbox has only the standard library).
APP = r'''
import base64, hashlib, json, struct
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SEEN = [0]   # requests that reached this server

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send_json(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        SEEN[0] += 1
        if self.headers.get("upgrade", "").lower() == "websocket":
            return self.websocket()
        self.send_json({"path": self.path, "seen": SEEN[0],
                        "headers": {k.lower(): v for k, v in self.headers.items()}})

    def do_POST(self):
        SEEN[0] += 1
        data = self.rfile.read(int(self.headers["content-length"]))
        self.send_json({"size": len(data), "sha256": hashlib.sha256(data).hexdigest()})

    def frame(self):
        b1, b2 = self.rfile.read(2)
        n = b2 & 127
        if n == 126:
            n = struct.unpack(">H", self.rfile.read(2))[0]
        mask = self.rfile.read(4)
        return b1 & 15, bytes(c ^ mask[i % 4] for i, c in enumerate(self.rfile.read(n)))

    def websocket(self):
        key = self.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        self.send_response(101)
        self.send_header("upgrade", "websocket")
        self.send_header("connection", "Upgrade")
        self.send_header("sec-websocket-accept",
                         base64.b64encode(hashlib.sha1(key.encode()).digest()).decode())
        self.end_headers()
        self.wfile.flush()
        _, data = self.frame()
        reply = b"echo:" + data
        self.wfile.write(bytes([0x81, len(reply)]) + reply)
        self.wfile.flush()
        if self.frame()[0] == 8:
            self.wfile.write(b"\x88\x00")
        self.close_connection = True

ThreadingHTTPServer(("127.0.0.1", 8080), Handler).serve_forever()
'''

CLIENT = """
import hashlib, json, os, time
import httpx, ketch
from websockets.sync.client import connect as ws_connect

app = ketch.App.lookup("sb-connect", create_if_missing=True)
gateway = f"http://127.0.0.1:{GATEWAY_PORT}"

def started():
    sb = ketch.Sandbox.create(app=app, workdir="/srv")
    sb.filesystem.write_text(APP, "/srv/app.py")
    sb.exec("python3", "/srv/app.py")
    return sb

def get(sb, path="/", token=None, query=None, **kw):
    # The host form, sent as browsers and curl send http://<sandbox id>.localhost:<port>
    # (this machine's resolver may not resolve *.localhost).
    headers = {"host": f"{sb.object_id}.localhost:{GATEWAY_PORT}", **kw.pop("headers", {})}
    if token:
        headers["authorization"] = "Bearer " + token
    return httpx.get(gateway + path, headers=headers, params=query, timeout=10, **kw)

first, second = started(), started()
creds = first.create_connect_token(user_metadata={"user": "alice", "n": 1})
plain = first.create_connect_token()
other = second.create_connect_token(user_metadata="bob")
res = {"url": creds.url, "id": first.object_id, "plain": plain.token}
deadline = time.monotonic() + 20
while True:   # the server in the sandbox starts listening soon after its exec
    r = get(first, "/hello?x=1", creds.token,
            headers={"x-verified-user-data": "forged", "x-forwarded-for": "1.2.3.4"})
    if r.status_code == 200 or time.monotonic() > deadline:
        break
    time.sleep(0.1)
res["header"] = [r.status_code, r.json()]
r = get(first, "/q", query={"a": "1", "_modal_connect_token": plain.token, "b": "2"})
res["query"] = [r.status_code, r.json()]
sandbox_id = first.object_id
r = httpx.get(creds.url + "/by/path",
              headers={"authorization": "Bearer " + creds.token}, timeout=10)
res["path"] = [r.status_code, r.json()]
body = os.urandom(3 << 20)
r = httpx.post(f"{gateway}/{sandbox_id}/upload", content=body,
               headers={"authorization": "Bearer " + creds.token}, timeout=30)
res["post"] = [r.status_code, r.json(), hashlib.sha256(body).hexdigest()]
with ws_connect(f"ws://127.0.0.1:{GATEWAY_PORT}/{sandbox_id}/ws",
                additional_headers={"authorization": "Bearer " + creds.token},
                close_timeout=2) as ws:
    ws.send("ping")
    res["ws"] = ws.recv(timeout=10)
res["none"] = [get(first).status_code, get(first).text]
res["wrong"] = get(first, token="ct-" + "x" * 43).status_code
res["second_on_first"] = [get(first, token=other.token).status_code,
                          get(second, token=creds.token).status_code]
r = get(first, token=first.create_connect_token(port=9999).token)
res["no_server"] = [r.status_code, r.text]
res["seen_after_refusals"] = get(first, "/", creds.token).json()["seen"]
r = get(second, "/", other.token)
res["second"] = [r.status_code, r.json()["headers"].get("x-verified-user-data")]
try:
    first.create_connect_token(port=70000)
    res["bad_port"] = "accepted"
except ketch.exception.InvalidError as exc:
    res["bad_port"] = str(exc)
# The cookie form: a query token comes back as a cookie that then opens the sandbox alone
# (and never reaches it), whatever else the browser sends.
r = get(first, "/c", query={"_modal_connect_token": plain.token})
res["set_cookie"] = r.headers.get_list("set-cookie")
cookie = {"cookie": f"theme=dark; _modal_connect_token={plain.token}; lang=en"}
r = get(first, "/c2", headers=cookie)
res["by_cookie"] = [r.status_code, r.json()["headers"].get("cookie"),
                    r.headers.get_list("set-cookie")]
r = get(first, "/c3", creds.token, headers={"cookie": "_modal_connect_token=ct-stale"})
res["stale_cookie_bearer"] = [r.status_code, r.json()["headers"].get("cookie")]
res["stale_cookie"] = get(first, headers={"cookie": "_modal_connect_token=ct-stale"}
                          ).status_code
res["other_cookie"] = get(first, headers={"cookie": f"_modal_connect_token={other.token}"}
                          ).status_code
r = httpx.get(f"{gateway}/{sandbox_id}/p", params={"_modal_connect_token": plain.token},
              timeout=10)
res["path_cookie"] = r.headers.get_list("set-cookie")
first.terminate()
first.wait(raise_on_termination=False)
res["after"] = [get(first, token=creds.token).status_code,
                get(second, token=other.token).status_code,
                get(first, headers=cookie).status_code]
second.terminate()
print(json.dumps(res))
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("sandbox-connect"), "bwrap")
    yield server
    server.stop()


def test_connect_token_reaches_only_its_sandbox(srv):
    out = run_client(srv, f"APP = {APP!r}\nGATEWAY_PORT = {srv.gateway_port}\n"
                     + textwrap.dedent(CLIENT))
    sandbox_id = out["id"]
    # The host form, or the path form where this machine cannot resolve *.localhost.
    assert out["url"] in (f"http://{sandbox_id}.localhost:{srv.gateway_port}",
                          f"http://127.0.0.1:{srv.gateway_port}/{sandbox_id}")
    status, seen = out["header"]
    assert status == 200 and seen["path"] == "/hello?x=1"
    headers = seen["headers"]
    # The token's metadata, and not the client's forgery; the token itself stays outside.
    assert json.loads(headers["x-verified-user-data"]) == {"user": "alice", "n": 1}
    assert "authorization" not in headers and headers["x-forwarded-for"] == "127.0.0.1"
    status, seen = out["query"]
    assert status == 200 and seen["path"] == "/q?a=1&b=2"
    assert "x-verified-user-data" not in seen["headers"]   # that token has no metadata
    status, seen = out["path"]
    assert status == 200 and seen["path"] == "/by/path"
    if "/sb-" in out["url"]:
        assert seen["headers"]["x-forwarded-prefix"] == f"/{sandbox_id}"
    status, seen, digest = out["post"]
    assert status == 200 and seen == {"size": 3 << 20, "sha256": digest}
    assert out["ws"] == "echo:ping"
    assert out["none"][0] == 401 and "no connect token" in out["none"][1]
    assert out["wrong"] == 401
    assert out["no_server"][0] == 502 and "answered on port 9999" in out["no_server"][1]
    assert out["second_on_first"] == [401, 401]
    # Nothing refused reached the server: after the first GET, only the query, path, POST
    # and WebSocket requests did, then this one.
    assert out["seen_after_refusals"] == out["header"][1]["seen"] + 5
    assert out["second"] == [200, "bob"]
    assert "port" in out["bad_port"] and "65535" in out["bad_port"]
    assert out["set_cookie"] == [f"_modal_connect_token={out['plain']}; Path=/; HttpOnly; "
                                 "SameSite=Lax"]
    assert out["by_cookie"] == [200, "theme=dark; lang=en", []]
    assert out["stale_cookie_bearer"] == [200, None]
    assert out["stale_cookie"] == 401 and out["other_cookie"] == 401
    assert out["path_cookie"] == [f"_modal_connect_token={out['plain']}; Path=/{sandbox_id}; "
                                  "HttpOnly; SameSite=Lax"]
    assert out["after"] == [401, 200, 401]


def as_workspace(srv, code: str, token: str):
    proc = srv.python(code, timeout=120, extra_env={"KETCH_TOKEN": token})
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and lines, proc.stderr + srv.log()[-3000:]
    return json.loads(lines[-1])


def test_another_workspaces_token_opens_nothing_here(srv):
    tokens = {}
    for ws in ("ctalpha", "ctbeta"):
        made = srv.ketch("token", "create", "--workspace", ws, "--json")
        assert made.returncode == 0, made.stderr
        tokens[ws] = json.loads(made.stdout)["secret"]
    prelude = f"APP = {APP!r}\nGATEWAY_PORT = {srv.gateway_port}\n"
    alpha = as_workspace(srv, prelude + textwrap.dedent("""
    import json, ketch
    app = ketch.App.lookup("ct", create_if_missing=True)
    sb = ketch.Sandbox.create(app=app, workdir="/srv", timeout=60)
    sb.filesystem.write_text(APP, "/srv/app.py")
    sb.exec("python3", "/srv/app.py")
    print(json.dumps({"id": sb.object_id, "token": sb.create_connect_token().token}))
    """), tokens["ctalpha"])
    beta = as_workspace(srv, prelude + textwrap.dedent(f"""
    import json, time, httpx, ketch
    from ketch import _sync
    from ketch._client import Client
    from ketch.exception import NotFoundError
    from ketch.proto import ketch_pb2 as pb
    app = ketch.App.lookup("ct", create_if_missing=True)
    own = ketch.Sandbox.create(app=app).create_connect_token()
    async def theirs():
        c = await Client.get()
        try:
            await c.request(sandbox_connect_token=pb.SandboxConnectToken(
                sandbox_id={alpha['id']!r}, port=8080))
            return "minted"
        except NotFoundError:
            return "not found"
    def status(token):
        return httpx.get(f"http://127.0.0.1:{{GATEWAY_PORT}}/{alpha['id']}/",
                         headers={{"authorization": "Bearer " + token}}, timeout=10
                         ).status_code
    deadline = time.monotonic() + 20
    while status({alpha['token']!r}) != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    print(json.dumps({{"mint": _sync.run(theirs()), "own": status(own.token),
                      "alpha": status({alpha['token']!r})}}))
    """), tokens["ctbeta"])
    # Beta cannot mint a token for alpha's sandbox, and its own token does not open it;
    # alpha's token does (whoever holds it, as on Modal).
    assert beta == {"mint": "not found", "own": 401, "alpha": 200}
