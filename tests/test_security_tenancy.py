"""Tenants and containers as attackers (issue 9, items 1, 2 and 9).

Two workspaces share one bwrap server. Each test is an attack that worked when every
client and container held the server's one token: reading another workspace's secret,
overwriting its Dict, stopping its app, listing its apps and containers, getting its
calls; and, with a container's own credential, shutting the server down, minting tokens,
speaking for another container or workspace, or acting after the container exited.
"""

from __future__ import annotations

import json
import socket
import struct
import textwrap
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ServerProcess
from isolation_helpers import start_server
from ketch.proto import ketch_pb2 as pb
from ketch.server.runtime.bwrap import bwrap_usable

APP_FILE = "apps/tenant.py"


class Wire:
    """A raw connection to the server, as an attacker would open one."""

    def __init__(self, srv: ServerProcess, token: str, role: str = "client",
                 container_id: str = "", workspace: str = ""):
        self.sock = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        self.next_id = 0
        self.hello = self.request(hello=pb.Hello(token=token, role=role,
                                                 container_id=container_id,
                                                 workspace=workspace))
        if self.hello.WhichOneof("body") == "error":
            self.close()
            raise ConnectionError(f"refused ({self.hello.error.kind}): "
                                  f"{self.hello.error.message}")

    def request(self, **body) -> pb.Frame:
        self.next_id += 1
        data = pb.Frame(id=self.next_id, **body).SerializeToString()
        self.sock.sendall(struct.pack(">I", len(data)) + data)
        for _ in range(1000):  # pushes (log lines) may come before the reply
            frame = self._read()
            if frame.id == self.next_id:
                return frame
        raise AssertionError("no reply")

    def _read(self) -> pb.Frame:
        (size,) = struct.unpack(">I", self._exactly(4))
        frame = pb.Frame()
        frame.ParseFromString(self._exactly(size))
        return frame

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            more = self.sock.recv(n - len(data))
            if not more:
                raise ConnectionError("the server closed the connection")
            data += more
        return data

    def close(self):
        self.sock.close()


def refused(frame: pb.Frame, code: str) -> str:
    assert frame.WhichOneof("body") == "error", frame
    assert frame.error.kind == code, frame.error
    return frame.error.message


def admin_token(srv: ServerProcess) -> str:
    return (srv.data_dir / "token").read_text().strip()


def as_tenant(token: str) -> dict:
    return {"KETCH_TOKEN": token}


def run_as(srv: ServerProcess, token: str, code: str):
    """Runs client code with a token; its last line of stdout is JSON."""
    proc = srv.python(textwrap.dedent(code), timeout=300, extra_env=as_tenant(token))
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and lines, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return json.loads(lines[-1])


def ok(proc):
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def tenants(tmp_path_factory):
    """A bwrap server with workspaces alpha and beta; alpha has deployed apps/tenant.py,
    a secret, a Dict and a warm container whose credential it read."""
    if not bwrap_usable():
        pytest.skip("workspaces need the bwrap runtime (bubblewrap, root and cgroups)")
    srv = start_server(tmp_path_factory.mktemp("tenancy-server"), "bwrap")
    try:
        made = {}
        for ws in ("alpha", "beta"):
            out = ok(srv.ketch("token", "create", "--workspace", ws, "--json"))
            made[ws] = json.loads(out.stdout)["secret"]
        alpha, beta = made["alpha"], made["beta"]
        ok(srv.ketch("secret", "create", "api-key", "KEY=alpha-only", extra_env=as_tenant(alpha)))
        ok(srv.ketch("deploy", APP_FILE, extra_env=as_tenant(alpha)))
        state = run_as(srv, alpha, """
            import json, ketch
            d = ketch.Dict.from_name("ledger", create_if_missing=True)
            d["owner"] = "alpha"
            cred = ketch.Function.from_name("tenant", "credential").remote()
            call = ketch.Function.from_name("tenant", "square").spawn(7)
            assert call.get(timeout=60) == 49
            print(json.dumps({"cred": cred, "call_id": call.object_id,
                              "dict_id": d.object_id}))
        """)
        secrets = json.loads(ok(srv.ketch("secret", "list", "--json",
                                          extra_env=as_tenant(alpha))).stdout)
        state["secret_id"] = next(s["object_id"] for s in secrets if s["name"] == "api-key")
        yield {"srv": srv, "alpha": alpha, "beta": beta, **state}
    finally:
        srv.stop()


def alpha_app_id(t) -> str:
    with_alpha = Wire(t["srv"], t["alpha"])
    apps = with_alpha.request(app_list=pb.AppList()).app_list_reply.apps
    with_alpha.close()
    return next(a.app_id for a in apps if a.name == "tenant" and a.state == "deployed")


# ---------------------------------------------------------------- tenant against tenant

def test_a_tenant_cannot_read_another_workspaces_secret(tenants):
    srv, beta = tenants["srv"], tenants["beta"]
    listed = ok(srv.ketch("secret", "list", "--json", extra_env=as_tenant(beta)))
    assert "api-key" not in listed.stdout
    wire = Wire(srv, beta)
    # By name: not there.
    refused(wire.request(object_lookup=pb.ObjectLookup(kind="secret", name="api-key")),
            "not_found")
    # By id, in a function that names it: its container would get the values.
    app = wire.request(app_create=pb.AppCreate(name="thief", ephemeral=True)).app_created
    spec = pb.FunctionSpec(name="steal", module="thief", timeout_s=30,
                           secret_ids=[tenants["secret_id"]])
    message = refused(wire.request(function_create=pb.FunctionCreate(
        app_id=app.app_id, spec=spec)), "not_found")
    assert tenants["secret_id"] in message
    # By id, in an image build step that would print it.
    step = pb.ImageStep(kind="run_commands", args=["echo $KEY"],
                        options={"secret_ids": tenants["secret_id"]})
    base = pb.ImageStep(kind="debian_slim", args=["3.11"])
    message = refused(wire.request(image_build=pb.ImageBuild(build_id="steal", image=pb.ImageDef(
        steps=[base, step]))), "not_found")
    assert tenants["secret_id"] in message
    # ...or in the image a COPY --from step copies from (whose layer may be cached).
    copy = pb.ImageStep(kind="copy_from", args=["/out", "/out"], pickled=pb.ImageDef(
        steps=[base, step]).SerializeToString())
    message = refused(wire.request(image_build=pb.ImageBuild(build_id="steal", image=pb.ImageDef(
        steps=[base, copy]))), "not_found")
    assert tenants["secret_id"] in message
    wire.close()
    # The same, through the SDK: an app whose function names the secret by its id.
    proc = srv.python("from apps import thief\nwith thief.app.run():\n"
                      "    print(thief.steal.remote())",
                      extra_env={**as_tenant(beta), "THIEF_SECRET_ID": tenants["secret_id"]})
    assert proc.returncode != 0 and "alpha-only" not in proc.stdout
    assert tenants["secret_id"] in proc.stderr, proc.stderr
    # The same name is free in beta's own workspace: names are per workspace.
    ok(srv.ketch("secret", "create", "api-key", "KEY=beta", extra_env=as_tenant(beta)))


def test_a_tenant_cannot_touch_another_workspaces_dict(tenants):
    srv, beta = tenants["srv"], tenants["beta"]
    wire = Wire(srv, beta)
    for op in (pb.DICT_PUT, pb.DICT_GET, pb.DICT_CLEAR):
        req = pb.DictRequest(object_id=tenants["dict_id"], op=op, keys=[b"k"],
                             values=[b"v"] if op == pb.DICT_PUT else [])
        refused(wire.request(dict_request=req), "not_found")
    refused(wire.request(object_delete=pb.ObjectDelete(kind="dict", object_id=tenants["dict_id"])),
            "not_found")
    wire.close()
    # beta's "ledger" is a Dict of its own; alpha's is untouched.
    out = run_as(srv, beta, """
        import json, ketch
        d = ketch.Dict.from_name("ledger", create_if_missing=True)
        print(json.dumps([d.get("owner"), d.object_id]))
    """)
    assert out[0] is None and out[1] != tenants["dict_id"]
    assert run_as(srv, tenants["alpha"], """
        import json, ketch
        print(json.dumps(ketch.Dict.from_name("ledger")["owner"]))
    """) == "alpha"


def test_a_tenant_cannot_list_or_stop_another_workspaces_apps_and_containers(tenants):
    srv, beta = tenants["srv"], tenants["beta"]
    app_id = alpha_app_id(tenants)
    assert "tenant" not in ok(srv.ketch("app", "list", "--json",
                                        extra_env=as_tenant(beta))).stdout
    assert tenants["cred"]["container_id"] not in ok(srv.ketch(
        "container", "list", "--json", extra_env=as_tenant(beta))).stdout
    wire = Wire(srv, beta)
    refused(wire.request(app_stop=pb.AppStop(name="tenant")), "not_found")
    refused(wire.request(app_stop=pb.AppStop(app_id=app_id)), "not_found")
    refused(wire.request(container_stop=pb.ContainerStop(
        container_id=tenants["cred"]["container_id"])), "not_found")
    refused(wire.request(log_subscribe=pb.LogSubscribe(app_id=app_id, history=True)),
            "not_found")
    refused(wire.request(function_get=pb.FunctionGet(app_name="tenant", name="square")),
            "not_found")
    status = wire.request(server_status=pb.ServerStatus()).server_status_reply
    assert (status.workspace, status.n_apps, status.n_containers) == ("beta", 0, 0)
    wire.close()
    # Still alpha's, still running.
    assert alpha_app_id(tenants) == app_id
    assert tenants["cred"]["container_id"] in ok(srv.ketch(
        "container", "list", "--json", extra_env=as_tenant(tenants["alpha"]))).stdout


def test_a_tenant_cannot_get_another_workspaces_call_by_id(tenants):
    srv, beta = tenants["srv"], tenants["beta"]
    wire = Wire(srv, beta)
    refused(wire.request(call_get=pb.CallGet(call_id=tenants["call_id"], timeout_s=0)),
            "not_found")
    refused(wire.request(call_cancel=pb.CallCancel(call_id=tenants["call_id"])), "not_found")
    wire.close()
    proc = srv.python(f"import ketch\nketch.FunctionCall.from_id({tenants['call_id']!r}).get()",
                      extra_env=as_tenant(beta))
    assert proc.returncode != 0 and "no function call" in proc.stderr


def test_a_token_acts_only_in_its_own_workspace(tenants):
    with pytest.raises(ConnectionError):
        Wire(tenants["srv"], tenants["beta"], workspace="alpha")
    wire = Wire(tenants["srv"], tenants["beta"], workspace="beta")
    assert (wire.hello.hello_ok.workspace, wire.hello.hello_ok.admin) == ("beta", False)
    for body in ({"server_shutdown": pb.ServerShutdown()}, {"token_list": pb.TokenList()},
                 {"token_create": pb.TokenCreate(workspace="beta")}):
        assert "admin" in refused(wire.request(**body), "auth")
    wire.close()


def test_a_tenant_sees_uses_and_removes_only_its_own_images(tenants):
    srv, alpha, beta = tenants["srv"], tenants["alpha"], tenants["beta"]
    image_id = run_as(srv, alpha, """
        import json, ketch
        image = ketch.Image.debian_slim().env({"TENANT": "alpha"}).build()
        image.publish("team/base")
        print(json.dumps(image.object_id))
    """)
    assert image_id in ok(srv.ketch("image", "list", "--json",
                                    extra_env=as_tenant(alpha))).stdout
    assert image_id not in ok(srv.ketch("image", "list", "--json",
                                        extra_env=as_tenant(beta))).stdout
    wire = Wire(srv, beta)
    refused(wire.request(image_remove=pb.ImageRemove(image_id=image_id)), "not_found")
    # Names are the workspace's own: beta neither finds alpha's nor names alpha's image.
    refused(wire.request(image_from_name=pb.ImageFromName(name="team/base")), "not_found")
    refused(wire.request(image_publish=pb.ImagePublish(name="mine", image_id=image_id)),
            "not_found")
    app = wire.request(app_create=pb.AppCreate(name="borrower", ephemeral=True)).app_created
    spec = pb.FunctionSpec(name="borrow", module="borrower", timeout_s=30, image_id=image_id)
    assert image_id in refused(wire.request(function_create=pb.FunctionCreate(
        app_id=app.app_id, spec=spec)), "invalid")
    # Removing everything of beta's leaves alpha's image in place.
    wire.request(image_remove=pb.ImageRemove(all=True))
    wire.close()
    assert image_id in ok(srv.ketch("image", "list", "--json",
                                    extra_env=as_tenant(alpha))).stdout


# ---------------------------------------------------------------- a container's credential

def test_containers_get_their_own_credential_not_the_servers_token(tenants):
    cred = tenants["cred"]
    assert cred["token"] != admin_token(tenants["srv"])
    assert cred["token"] not in (tenants["alpha"], tenants["beta"])


def test_a_containers_credential_is_a_client_of_its_workspace_only(tenants):
    srv, cred = tenants["srv"], tenants["cred"]
    wire = Wire(srv, cred["token"])
    assert (wire.hello.hello_ok.workspace, wire.hello.hello_ok.admin) == ("alpha", False)
    for body in ({"server_shutdown": pb.ServerShutdown()},
                 {"token_create": pb.TokenCreate(workspace="alpha")},
                 {"token_create": pb.TokenCreate(workspace="beta")}):
        assert "admin" in refused(wire.request(**body), "auth")
    # Proxy-auth tokens it makes are alpha's: beta's endpoints never take them.
    made = wire.request(proxy_token_create=pb.ProxyTokenCreate(name="from-a-container"))
    token_id = made.proxy_token_created.token_id
    wire.close()
    with pytest.raises(ConnectionError):
        Wire(srv, cred["token"], workspace="beta")
    with_beta = Wire(srv, tenants["beta"])
    listed = with_beta.request(proxy_token_list=pb.ProxyTokenList()).proxy_token_list_reply
    assert token_id not in [t.token_id for t in listed.tokens]
    refused(with_beta.request(proxy_token_revoke=pb.ProxyTokenRevoke(token_id=token_id)),
            "not_found")
    with_beta.close()
    # The server is still up, for everyone.
    assert Wire(srv, admin_token(srv)).request(server_status=pb.ServerStatus()).WhichOneof(
        "body") == "server_status_reply"


def test_user_code_in_a_container_calls_its_workspaces_functions(tenants):
    out = run_as(tenants["srv"], tenants["alpha"], """
        import json, ketch
        print(json.dumps(ketch.Function.from_name("tenant", "as_a_client").remote("ledger", 6)))
    """)
    assert out == {"square": 36, "dict": "alpha"}


def test_a_container_cannot_speak_for_another_container(tenants):
    srv, cred = tenants["srv"], tenants["cred"]
    # beta gets a container of its own, starting or running.
    ok(srv.ketch("deploy", APP_FILE, extra_env=as_tenant(tenants["beta"])))
    theirs = run_as(srv, tenants["beta"], """
        import json, ketch
        print(json.dumps(ketch.Function.from_name("tenant", "credential").remote()))
    """)
    assert theirs["token"] != cred["token"]
    for token, container_id in ((cred["token"], theirs["container_id"]),
                                (admin_token(srv), theirs["container_id"]),
                                (tenants["alpha"], cred["container_id"])):
        with pytest.raises(ConnectionError):
            Wire(srv, token, role="container", container_id=container_id)
    # Each is still a client of its own workspace only.
    assert Wire(srv, theirs["token"]).hello.hello_ok.workspace == "beta"


def test_endpoints_and_proxy_auth_tokens_stay_in_their_workspace(tenants):
    srv = tenants["srv"]
    ok(srv.ketch("deploy", APP_FILE, extra_env=as_tenant(tenants["beta"])))
    urls, keys = {}, {}
    for ws in ("alpha", "beta"):
        urls[ws] = run_as(srv, tenants[ws], """
            import json, ketch
            print(json.dumps(ketch.Function.from_name("tenant", "private").get_web_url()))
        """)
        made = json.loads(ok(srv.ketch("proxy-auth", "create", "--json",
                                       extra_env=as_tenant(tenants[ws]))).stdout)
        keys[ws] = {"Modal-Key": made["token_id"], "Modal-Secret": made["secret"]}
    # Same app name, two workspaces: two URLs.
    assert "alpha--tenant--private" in urls["alpha"]
    assert "beta--tenant--private" in urls["beta"]
    assert httpx.get(urls["alpha"], headers=keys["beta"], timeout=60).status_code == 401
    assert httpx.get(urls["beta"], headers=keys["alpha"], timeout=60).status_code == 401
    mine = httpx.get(urls["alpha"], headers=keys["alpha"], timeout=60)
    assert mine.status_code == 200 and mine.json() == "alpha"
    theirs = httpx.get(urls["beta"], headers=keys["beta"], timeout=60)
    assert theirs.status_code == 200 and theirs.json() is None


def test_no_app_name_or_label_takes_another_workspaces_url(tenants):
    """In the default workspace, an app named "alpha--tenant" or a label with "--" would
    have had alpha's host name."""
    srv = tenants["srv"]
    wire = Wire(srv, admin_token(srv))

    def endpoint(app_name: str, label: str) -> pb.Frame:
        app = wire.request(app_create=pb.AppCreate(name=app_name, ephemeral=True))
        spec = pb.FunctionSpec(name="lure", module="lure", timeout_s=30, web_endpoints=[
            pb.WebEndpoint(kind="fastapi", label=label, http_method="GET")])
        return wire.request(function_create=pb.FunctionCreate(
            app_id=app.app_created.app_id, spec=spec))

    assert "single hyphens" in refused(endpoint("alpha", "tenant--private"), "invalid")
    made = endpoint("alpha--tenant", "private").function_created
    url = wire.request(web_url_get=pb.WebUrlGet(function_id=made.function_id)).web_url.url
    assert "alpha-tenant--private" in url
    wire.close()
    out = srv.ketch("token", "create", "--workspace", "alpha--tenant")
    assert out.returncode != 0 and "single hyphens" in out.stderr


def test_a_containers_credential_dies_with_its_container(tenants):
    srv, alpha, cred = tenants["srv"], tenants["alpha"], tenants["cred"]
    held = Wire(srv, cred["token"])  # a session opened while it ran
    ok(srv.ketch("app", "stop", "tenant", extra_env=as_tenant(alpha)))
    deadline = time.monotonic() + 60
    while cred["container_id"] in ok(srv.ketch("container", "list", "--json",
                                               extra_env=as_tenant(alpha))).stdout:
        assert time.monotonic() < deadline, "the container did not exit"
        time.sleep(0.5)
    with pytest.raises(ConnectionError):
        Wire(srv, cred["token"])
    # The session it had open was closed by the server, though it sent nothing.
    held.sock.settimeout(10)
    assert held.sock.recv(1) == b""


# ---------------------------------------------------------------- the admin and the CLI

def test_the_admin_token_still_does_everything(tenants):
    srv = tenants["srv"]
    wire = Wire(srv, admin_token(srv))
    assert (wire.hello.hello_ok.workspace, wire.hello.hello_ok.admin) == ("main", True)
    tokens = wire.request(token_list=pb.TokenList()).token_list_reply.tokens
    assert {"alpha", "beta"} <= {t.workspace for t in tokens}
    wire.close()
    # It may act in another workspace by naming it.
    in_alpha = Wire(srv, admin_token(srv), workspace="alpha")
    listed = in_alpha.request(object_list=pb.ObjectList(kind="secret")).object_list_reply
    assert [o.name for o in listed.objects] == ["api-key"]
    in_alpha.close()
    with pytest.raises(ConnectionError):
        Wire(srv, admin_token(srv), workspace="nowhere")


def test_token_cli_create_list_set_revoke(tenants, tmp_path):
    srv = tenants["srv"]
    made = json.loads(ok(srv.ketch("token", "create", "--workspace", "gamma", "--name",
                                   "ci", "--json")).stdout)
    assert made["workspace"] == "gamma" and made["secret"].startswith("kt-")
    listed = json.loads(ok(srv.ketch("token", "list", "--json")).stdout)
    assert {"token_id": made["token_id"], "workspace": "gamma", "name": "ci"}.items() <= \
        next(t for t in listed if t["token_id"] == made["token_id"]).items()
    assert made["token_id"] in ok(srv.ketch("token", "list")).stdout
    # A client configures it as `modal token set` does; nothing else tells it the token.
    home = {"KETCH_CONFIG_DIR": str(tmp_path / "client-config")}
    out = ok(srv.ketch("token", "set", "--token", made["secret"], "--server", srv.address,
                       extra_env=home))
    assert "gamma" in out.stdout
    config = tmp_path / "client-config" / "config.json"
    assert json.loads(config.read_text()) == {"server": srv.address, "token": made["secret"]}
    assert config.stat().st_mode & 0o777 == 0o600
    client_env = {**home, "KETCH_DATA_DIR": str(tmp_path / "no-server-here")}
    status = ok(srv.ketch("server", "status", "--json", extra_env=client_env))
    assert json.loads(status.stdout)["workspace"] == "gamma"
    assert json.loads(ok(srv.ketch("token", "info", "--json", extra_env=client_env)).stdout) \
        == {"server": srv.address, "workspace": "gamma", "admin": False}
    # Not the admin: it manages no tokens.
    denied = srv.ketch("token", "list", extra_env=client_env)
    assert denied.returncode != 0 and "admin" in denied.stderr
    held = Wire(srv, made["secret"])
    ok(srv.ketch("token", "revoke", made["token_id"]))
    held.sock.settimeout(10)
    assert held.sock.recv(1) == b""  # its open sessions end with it
    gone = srv.ketch("app", "list", extra_env=client_env)
    assert gone.returncode != 0 and "rejected the token" in gone.stderr
    bad = srv.ketch("token", "set", "--token", "kt-wrong", "--server", srv.address,
                    extra_env=home)
    assert bad.returncode != 0 and "rejected the token" in bad.stderr


# ---------------------------------------------------------------- what ran (issue 15)

def test_a_tenant_sees_only_its_own_calls_logs_and_metrics(tenants):
    srv, alpha, beta = tenants["srv"], tenants["alpha"], tenants["beta"]
    call_id, container = tenants["call_id"], tenants["cred"]["container_id"]
    mine = json.loads(ok(srv.ketch("call", "list", "--json", extra_env=as_tenant(alpha))).stdout)
    app_id = next(r["app_id"] for r in mine if r["call_id"] == call_id)
    theirs = json.loads(ok(srv.ketch("call", "list", "--json",
                                     extra_env=as_tenant(beta))).stdout)
    leaked = [r for r in theirs if r["call_id"] == call_id or r["app_id"] == app_id]
    assert leaked == []
    shown = srv.ketch("call", "show", call_id, extra_env=as_tenant(beta))
    assert shown.returncode != 0 and "no call" in shown.stderr
    logs = srv.ketch("container", "logs", container, extra_env=as_tenant(beta))
    assert logs.returncode != 0 and container not in logs.stdout
    assert container in ok(srv.ketch("container", "logs", container, "--json",
                                     extra_env=as_tenant(alpha))).stdout
    url = f"{srv.http_url()}/metrics"
    for token, ws in ((alpha, "alpha"), (beta, "beta")):
        text = httpx.get(url, headers={"authorization": f"Bearer {token}"}, timeout=10).text
        labels = [s.labels for f in text_string_to_metric_families(text) for s in f.samples]
        assert labels and all(one["workspace"] == ws for one in labels)
        if ws == "alpha":
            assert any(one.get("function") == "square" and one.get("app") == "tenant"
                       for one in labels)


# ---------------------------------------------------------------- the process runtime

def test_the_process_runtime_says_it_isolates_nothing_and_serves_one_workspace(tmp_path):
    srv = ServerProcess(tmp_path / "process-server").start()
    try:
        deadline = time.monotonic() + 10
        while "not isolated" not in srv.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "containers are not isolated" in srv.log()
        out = srv.ketch("token", "create", "--workspace", "second")
        assert out.returncode != 0 and "--runtime bwrap" in out.stderr
        ok(srv.ketch("token", "create", "--workspace", "main"))
        with pytest.raises(ConnectionError):
            Wire(srv, admin_token(srv), workspace="second")
    finally:
        srv.stop()


def test_a_tenant_cannot_change_or_read_another_workspaces_functions_at_run_time(tenants):
    srv = tenants["srv"]
    with_alpha = Wire(srv, tenants["alpha"])
    fid = with_alpha.request(function_get=pb.FunctionGet(
        app_name="tenant", name="square")).container_spec.function_id
    with_alpha.close()
    wire = Wire(srv, tenants["beta"])
    refused(wire.request(function_update_autoscaler=pb.FunctionUpdateAutoscaler(
        function_id=fid, min_containers=5)), "not_found")
    refused(wire.request(function_stats_get=pb.FunctionStatsGet(function_id=fid)),
            "not_found")
    refused(wire.request(function_variant=pb.FunctionVariant(
        function_id=fid, overrides=pb.FunctionSpec(timeout_s=5), fields=["timeout_s"])),
        "not_found")
    refused(wire.request(call_graph_get=pb.CallGraphGet(call_id=tenants["call_id"])),
            "not_found")
    wire.close()


def test_deployment_history_and_rollback_stay_in_their_workspace(tenants):
    srv, alpha, beta = tenants["srv"], tenants["alpha"], tenants["beta"]
    history = json.loads(ok(srv.ketch("app", "history", "tenant", "--json",
                                      extra_env=as_tenant(alpha))).stdout)
    # (Earlier tests may have stopped it: the record stays either way.)
    assert history[-1]["version"] == 1 and history[-1]["deployed_by"].startswith("token tk-")
    # beta may have an app of the same name (an earlier test deploys one): its history is
    # its own, and a rollback there never reaches alpha's versions.
    seen = srv.ketch("app", "history", "tenant", "--json", extra_env=as_tenant(beta))
    if seen.returncode == 0:
        beta_ids = {d["app_id"] for d in json.loads(seen.stdout)}
        assert not beta_ids & {d["app_id"] for d in history}
    else:
        assert "was never deployed" in seen.stderr
    back = srv.ketch("app", "rollback", "tenant", str(len(history) + 50),
                     extra_env=as_tenant(beta))
    assert back.returncode == 1 and ("has no version" in back.stderr or
                                     "was never deployed" in back.stderr)
    # -e names a workspace; beta's token may not act in alpha's.
    other = srv.ketch("app", "list", extra_env={**as_tenant(beta), "KETCH_WORKSPACE": "alpha"})
    assert other.returncode == 1 and "'alpha'" in other.stderr
    deployed = srv.ketch("deploy", "-e", "alpha", APP_FILE, extra_env=as_tenant(beta))
    assert deployed.returncode == 1 and "'alpha'" in deployed.stderr
