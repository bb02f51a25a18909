"""The web dashboard in a real headless Chromium (Debian's `chromium`, driven by
Playwright), against a real server with the dashboard test app deployed.

One browser serves the whole module; each test opens its own context (its own cookies),
so a login in one test is never another's. Set KETCH_DASHBOARD_SCREENSHOT=PATH to keep the
screenshot of the function page taken while a map runs (docs/dashboard.png is one).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import TESTS, ServerProcess
from ketch.proto import ketch_pb2 as pb

CHROMIUM = os.environ.get("KETCH_TEST_CHROMIUM") or shutil.which("chromium") or \
    "/usr/bin/chromium"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    from isolation_helpers import start_server

    # The shared image cache: the images test builds a virtualenv image.
    server = start_server(tmp_path_factory.mktemp("dashboard"), "process")
    server.http_url()    # the HTTP side listens just after the server answers
    deployed = server.ketch("deploy", "apps/dashboard_app.py")
    assert deployed.returncode == 0, deployed.stderr
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (.ci/apt-packages"
                    ".txt lists it) or set KETCH_TEST_CHROMIUM")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 860})
    yield ctx
    ctx.close()


def base(srv: ServerProcess) -> str:
    return f"http://127.0.0.1:{srv.http_port}"


def login_url(srv: ServerProcess, **env) -> str:
    out = srv.ketch("dashboard", "--url", extra_env=env)
    assert out.returncode == 0, out.stderr
    url = out.stdout.strip()
    assert url.startswith(base(srv) + "/login?code="), url
    return url


def logged_in(srv: ServerProcess, context):
    page = context.new_page()
    page.goto(login_url(srv))
    assert page.url == base(srv) + "/", page.url
    return page


def wait_until(check, timeout: float = 30, what: str = "it"):
    """Polls `check` (the pages' CSP forbids the string evaluation that Playwright's
    wait_for_function uses, and that is how it should be)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.1)


def attr_number(locator, name: str) -> float:
    return float(locator.get_attribute(name) or 0)


def run_python(srv: ServerProcess, code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], cwd=TESTS, text=True,
                            env={**srv.env, "PYTHONPATH": str(TESTS)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def containers(srv: ServerProcess) -> list[dict]:
    return json.loads(srv.ketch("container", "list", "--json").stdout)


def test_one_time_url_logs_in_once_and_leaves_no_code_in_urls(srv, browser, context):
    url = login_url(srv)
    page = context.new_page()
    page.goto(url)
    assert page.url == base(srv) + "/"          # the code is gone from the address bar
    assert page.inner_text("#workspace") == "main"
    cookie, = [c for c in context.cookies() if c["name"] == "ketch_dashboard"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""   # scripts cannot read the session
    links = page.eval_on_selector_all("a", "els => els.map(e => e.href)")
    assert links and not [h for h in links if "code=" in h]
    # The same URL in another browser (or again) does not log in.
    other = browser.new_context()
    try:
        again = other.new_page()
        response = again.goto(url)
        assert response.status == 401
        assert "used already or has expired" in again.inner_text("#message")
        assert not [c for c in other.cookies() if c["name"] == "ketch_dashboard"]
    finally:
        other.close()
    # The first browser is still logged in.
    assert context.new_page().goto(base(srv) + "/containers").status == 200


def test_pages_without_a_login_are_refused(srv, context):
    page = context.new_page()
    for path in ("/", "/containers", "/images", "/objects", "/nodes", "/apps/ap-x"):
        response = page.goto(base(srv) + path)
        assert response.status == 401, path
        assert "ketch dashboard --url" in page.inner_text("main"), path
    api = context.request.get(base(srv) + "/api/functions/fu-x/sample")
    assert api.status == 401 and "ketch dashboard" in api.json()["error"]
    # A made-up cookie is no session either.
    context.add_cookies([{"name": "ketch_dashboard", "value": "A" * 43,
                          "url": base(srv) + "/"}])
    assert page.goto(base(srv) + "/").status == 401
    bad = page.goto(base(srv) + "/login?code=" + "x" * 5000)
    assert bad.status == 401


def test_lists_the_deployed_app_and_its_functions(srv, context):
    page = logged_in(srv, context)
    row = page.locator("#apps tr", has_text="dashboard-app")
    assert "deployed" in row.inner_text()
    row.locator("a").first.click()
    page.wait_for_selector("#functions")
    names = page.eval_on_selector_all("#functions td:first-child a",
                                      "els => els.map(e => e.textContent)")
    assert sorted(names) == ["chatty", "credential", "fails", "ping", "slow"]


def test_function_chart_updates_while_a_map_runs(srv, context, tmp_path):
    page = logged_in(srv, context)
    page.goto(base(srv) + "/")
    page.locator("#apps tr", has_text="dashboard-app").locator("a").first.click()
    page.locator("#functions a", has_text="slow").click()
    chart = page.locator("#function-chart")
    wait_until(lambda: attr_number(chart, "data-points") >= 1, what="a first sample")
    mapper = run_python(srv, "import ketch\n"
                        "f = ketch.Function.from_name('dashboard-app', 'slow')\n"
                        "print(sum(f.map(range(40))))\n")
    try:
        # The backlog shows up, then containers take it.
        wait_until(lambda: attr_number(chart, "data-peak_backlog") > 0, what="a backlog")
        wait_until(lambda: attr_number(chart, "data-peak_containers") > 0, what="containers")
        out, err = mapper.communicate(timeout=60)
    finally:
        mapper.kill()
    assert mapper.returncode == 0 and out.strip() == str(sum(range(40))), err
    # The line drew the backlog over time: several points, not all at one height.
    points = chart.locator("polyline.series-backlog").get_attribute("points").split()
    assert len(points) >= 3 and len({p.split(",")[1] for p in points}) > 1
    # After the map, the backlog is drained and the cards say so.
    wait_until(lambda: page.inner_text("[data-live=backlog]") == "0", what="a drained backlog")
    time.sleep(2.5)   # the page's tables refresh every 2 s: all of it settled, in the picture
    shot = Path(os.environ.get("KETCH_DASHBOARD_SCREENSHOT") or tmp_path / "chart.png")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stop_actions_need_the_csrf_token_and_this_origin(srv, context):
    warm = srv.python("import ketch\n"
                      "print(ketch.Function.from_name('dashboard-app', 'chatty').remote('hi'))")
    assert warm.stdout.strip() == "hi", warm.stderr
    cid, = [c["container_id"] for c in containers(srv) if c["function"] == "chatty"]
    page = logged_in(srv, context)
    page.goto(f"{base(srv)}/containers/{cid}")
    csrf = page.locator("form.stop input[name=csrf]").get_attribute("value")
    stop = f"{base(srv)}/containers/{cid}/stop"
    # The session's cookie alone is not enough: no token, a wrong one, another origin.
    no_token = context.request.post(stop, form={}, max_redirects=0)
    assert no_token.status == 403 and "CSRF" in no_token.text()
    other = "y" if csrf[0] == "x" else "x"   # a token starts with "x" one time in 64
    wrong = context.request.post(stop, form={"csrf": other + csrf[1:]}, max_redirects=0)
    assert wrong.status == 403
    cross = context.request.post(stop, form={"csrf": csrf}, max_redirects=0,
                                 headers={"origin": "http://evil.example"})
    assert cross.status == 403 and "evil.example" in cross.text()
    assert [c for c in containers(srv) if c["container_id"] == cid]
    # The live log tail shows what the container printed.
    wait_until(lambda: "chatty says hi 2" in page.inner_text("#log-tail"), what="the log line")
    # The page's own button carries the token, and the container stops.
    page.locator("form.stop button").click()
    page.wait_for_url(f"{base(srv)}/functions/*")
    deadline = time.monotonic() + 20
    while [c for c in containers(srv) if c["container_id"] == cid]:
        assert time.monotonic() < deadline, "the container did not stop"
        time.sleep(0.2)


def test_stop_an_app_from_its_page(srv, context, tmp_path):
    app_file = tmp_path / "stoppable.py"
    app_file.write_text("import ketch\napp = ketch.App('dashboard-stoppable')\n\n"
                        "@app.function()\ndef f(x):\n    return x\n")
    assert srv.ketch("deploy", str(app_file), cwd=tmp_path).returncode == 0
    page = logged_in(srv, context)
    page.locator("#apps tr", has_text="dashboard-stoppable").locator("a").first.click()
    app_url = page.url
    refused = context.request.post(app_url + "/stop", form={}, max_redirects=0)
    assert refused.status == 403
    page.locator("form.stop button", has_text="Stop app").click()
    page.wait_for_url(app_url)
    assert "stopped" in page.inner_text("h1")
    apps = json.loads(srv.ketch("app", "list", "--json").stdout)
    assert not [a for a in apps if a["name"] == "dashboard-stoppable"]


def test_container_page_charts_cpu_and_memory(srv, context):
    warm = srv.python("import ketch\n"
                      "print(ketch.Function.from_name('dashboard-app', 'chatty').remote('cpu'))")
    assert warm.returncode == 0, warm.stderr
    cid = next(c["container_id"] for c in containers(srv) if c["function"] == "chatty")
    page = logged_in(srv, context)
    page.goto(f"{base(srv)}/containers/{cid}")
    memory = page.locator("#memory-chart")
    wait_until(lambda: attr_number(memory, "data-points") >= 3, what="memory samples")
    # A Python process holds megabytes: the chart's peak says so.
    assert attr_number(memory, "data-peak_memory_mib") > 5
    assert attr_number(page.locator("#cpu-chart"), "data-points") >= 2


def test_a_containers_credential_cannot_make_a_login(srv):
    from wire_helpers import RawConn

    out = srv.python("import ketch\n"
                     "print(ketch.Function.from_name('dashboard-app', 'credential').remote())")
    cred = out.stdout.strip()
    assert cred.startswith("kc-"), out.stderr
    conn = RawConn(srv.address)
    try:
        hello = conn.call(hello=pb.Hello(token=cred, role="client"))
        assert hello.WhichOneof("body") == "hello_ok", hello
        reply = conn.call(dashboard_login_create=pb.DashboardLoginCreate())
        assert reply.WhichOneof("body") == "error" and reply.error.kind == "auth"
        assert "container" in reply.error.message
    finally:
        conn.sock.close()


# ---------------------------------------------------------------- tenants

@pytest.fixture(scope="module")
def tenants(tmp_path_factory):
    """A bwrap server (workspaces need one) where workspace alpha deployed an app."""
    from isolation_helpers import start_server
    from ketch.server.runtime.bwrap import bwrap_usable

    if not bwrap_usable():
        pytest.skip("workspaces need the bwrap runtime (bubblewrap, root and cgroups)")
    server = start_server(tmp_path_factory.mktemp("dashboard-tenants"), "bwrap")
    try:
        server.http_url()
        tokens = {}
        for ws in ("alpha", "beta"):
            out = server.ketch("token", "create", "--workspace", ws, "--json")
            assert out.returncode == 0, out.stderr
            tokens[ws] = json.loads(out.stdout)
        app_dir = tmp_path_factory.mktemp("alpha-app")
        (app_dir / "alpha_app.py").write_text(
            "import ketch\napp = ketch.App('alpha-secret-app')\n\n"
            "@app.function()\ndef f(x):\n    return x\n")
        deployed = server.ketch("deploy", "alpha_app.py", cwd=app_dir,
                                extra_env={"KETCH_TOKEN": tokens["alpha"]["secret"]})
        assert deployed.returncode == 0, deployed.stderr
        yield server, tokens
    finally:
        server.stop()


def test_a_session_sees_only_the_workspace_of_the_token_that_made_it(tenants, context):
    server, tokens = tenants
    alpha = context.new_page()
    alpha.goto(login_url(server, KETCH_TOKEN=tokens["alpha"]["secret"]))
    assert alpha.inner_text("#workspace") == "alpha"
    alpha.locator("#apps a", has_text="alpha-secret-app").click()
    app_url = alpha.url
    beta_ctx = context.browser.new_context()
    try:
        beta = beta_ctx.new_page()
        beta.goto(login_url(server, KETCH_TOKEN=tokens["beta"]["secret"]))
        assert beta.inner_text("#workspace") == "beta"
        assert "alpha-secret-app" not in beta.inner_text("main")
        # alpha's app by its id: not found, and beta's own valid token cannot stop it.
        assert beta.goto(app_url).status == 404
        beta.goto(f"http://127.0.0.1:{server.http_port}/")
        csrf = beta.locator("form.inline input[name=csrf]").first.get_attribute("value")
        stop = beta_ctx.request.post(app_url + "/stop", form={"csrf": csrf}, max_redirects=0)
        assert stop.status == 404
        apps = json.loads(server.ketch("app", "list", "--json", extra_env={
            "KETCH_TOKEN": tokens["alpha"]["secret"]}).stdout)
        assert [a for a in apps if a["name"] == "alpha-secret-app"]
        # The admin's session is the workspace `main`, or the one KETCH_WORKSPACE names.
        admin = context.new_page()
        admin.goto(login_url(server))
        assert admin.inner_text("#workspace") == "main"
        assert "alpha-secret-app" not in admin.inner_text("main")
        admin.goto(login_url(server, KETCH_WORKSPACE="alpha"))
        assert admin.inner_text("#workspace") == "alpha"
        assert "alpha-secret-app" in admin.inner_text("main")
        # Revoking beta's token ends the dashboard sessions it made.
        revoked = server.ketch("token", "revoke", tokens["beta"]["token_id"])
        assert revoked.returncode == 0, revoked.stderr
        assert beta.goto(f"http://127.0.0.1:{server.http_port}/containers").status == 401
    finally:
        beta_ctx.close()


def test_failed_calls_show_their_traceback_and_log_lines(srv, context):
    failed = srv.python("import ketch\n"
                        "ketch.Function.from_name('dashboard-app', 'fails').remote(3)\n")
    assert failed.returncode != 0 and "dashboard test failure for 3" in failed.stderr
    ok = srv.python("import ketch\n"
                    "print(ketch.Function.from_name('dashboard-app', 'chatty').remote('call'))")
    assert ok.stdout.strip() == "call", ok.stderr
    page = logged_in(srv, context)
    page.locator("nav a", has_text="Calls").click()
    page.select_option("select[name=status]", "failed")
    page.locator(".filters button").click()
    assert "status=failed" in page.url
    rows = page.locator("table.calls tbody tr")
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert texts and all("chatty" not in t for t in texts)
    mine = [i for i, t in enumerate(texts) if "fails" in t and "failure" in t]
    assert mine, texts
    rows.nth(mine[0]).locator("a.id").click()
    page.wait_for_selector("pre.traceback")
    traceback = page.inner_text("pre.traceback")
    assert "Traceback" in traceback and "dashboard_app.py" in traceback
    assert "ValueError: dashboard test failure for 3" in traceback
    # The successful call's page has the lines it printed, and links to its container.
    page.goto(base(srv) + "/calls?function=chatty")
    page.locator("table.calls a.id").first.click()
    page.wait_for_selector(".log")
    assert "chatty says call 2" in page.inner_text(".log")
    page.locator("main p a.id").first.click()
    assert "/containers/" in page.url and page.locator("#log-tail").count() == 1


def test_images_page_lists_images_and_builds_with_failures(srv, context):
    built = srv.python(textwrap.dedent("""
        import ketch
        app = ketch.App("dashboard-images")

        @app.function(image=ketch.Image.debian_slim().env({"DASH": "1"}), serialized=True)
        def f():
            import os
            return os.environ["DASH"]

        with app.run():
            print(f.remote())
    """), timeout=300)
    assert built.stdout.strip() == "1", built.stderr
    failed = srv.python(textwrap.dedent("""
        import ketch
        app = ketch.App("dashboard-images-bad")

        @app.function(image=ketch.Image.debian_slim().apt_install("jq"), serialized=True)
        def f():
            return 1

        with app.run():
            f.remote()
    """), timeout=300)
    assert failed.returncode != 0
    page = logged_in(srv, context)
    page.locator("nav a", has_text="Images").click()
    # count() does not wait: a page still being parsed had its images but not yet its
    # builds (the table below them) once in CI.
    page.wait_for_url(f"{base(srv)}/images")
    page.wait_for_load_state("load")
    assert page.locator("#images tbody tr").count() >= 1
    rows = page.locator("#builds tbody tr")
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert any("failed" in t and "apt_install" in t for t in texts), texts
    assert any("env" in t and ("built" in t or "cached" in t) for t in texts), texts


def test_ketch_dashboard_opens_the_browser_logged_in(srv, context, tmp_path):
    seen = tmp_path / "opened-url"
    browser_cmd = tmp_path / "fake-browser"
    browser_cmd.write_text(f'#!/bin/sh\nprintf %s "$1" > {seen}\n')
    browser_cmd.chmod(0o755)
    # webbrowser runs $BROWSER with the URL: here, a script that hands it to this test.
    out = srv.ketch("dashboard", extra_env={"BROWSER": str(browser_cmd)})
    assert out.returncode == 0 and "opened the dashboard" in out.stdout, out.stderr
    wait_until(lambda: seen.exists() and seen.read_text(), what="the browser opening")
    page = context.new_page()
    page.goto(seen.read_text())
    assert page.url == base(srv) + "/" and page.inner_text("#workspace") == "main"
    data = json.loads(srv.ketch("dashboard", "--json").stdout)
    assert data["url"].startswith(base(srv) + "/login?code=")
    assert 0 < data["expires_at"] - time.time() <= 60


def test_objects_page_shows_sizes_and_key_names_never_secret_values(srv, context):
    made = srv.ketch("secret", "create", "dash-secret", "API_KEY=never-on-a-page-4711",
                     "REGION=eu")
    assert made.returncode == 0, made.stderr
    filled = srv.python("import ketch\n"
                        "d = ketch.Dict.from_name('dash-dict', create_if_missing=True)\n"
                        "d['a'] = 1; d['b'] = 2; d['c'] = 3\n"
                        "ketch.Queue.from_name('dash-queue', create_if_missing=True).put('x')\n")
    assert filled.returncode == 0, filled.stderr
    page = logged_in(srv, context)
    page.goto(base(srv) + "/objects")
    secret = page.locator("#secrets tr", has_text="dash-secret").inner_text()
    assert "API_KEY" in secret and "REGION" in secret
    assert "never-on-a-page-4711" not in page.content()
    assert "3" in page.locator("#dicts tr", has_text="dash-dict").inner_text()
    assert "1" in page.locator("#queues tr", has_text="dash-queue").inner_text()


def test_a_web_functions_page_counts_its_requests(srv, context):
    import httpx

    url = f"http://127.0.0.1:{srv.gateway_port}/dashboard-app--ping"
    for _ in range(3):
        assert httpx.get(url, timeout=60).json() == {"pong": True}
    page = logged_in(srv, context)
    page.locator("#apps a", has_text="dashboard-app").first.click()
    page.locator("#functions a", has_text="ping").click()
    web = page.locator("#function-summary p", has_text="Web endpoint").inner_text()
    assert "ping" in web and "3 200" in web, web


def test_no_login_url_while_the_http_side_cannot_listen(tmp_path):
    import socket

    taken = socket.create_server(("127.0.0.1", 0))
    try:
        server = ServerProcess(tmp_path / "no-http", extra_env={
            "KETCH_HTTP_ADDR": f"127.0.0.1:{taken.getsockname()[1]}"}).start()
        try:
            out = server.ketch("dashboard", "--url")
            assert out.returncode == 1 and not out.stdout
            assert "HTTP side does not listen" in out.stderr
            assert "KETCH_HTTP_ADDR" in out.stderr
        finally:
            server.stop()
    finally:
        taken.close()


def test_a_login_can_land_on_an_objects_page_and_nowhere_else(srv, context):
    apps = json.loads(srv.ketch("app", "list", "--json").stdout)
    app_id = next(a["app_id"] for a in apps if a["name"] == "dashboard-app")
    page = context.new_page()
    page.goto(json.loads(srv.ketch("app", "dashboard", "dashboard-app", "--json").stdout)["url"])
    assert page.url == f"{base(srv)}/apps/{app_id}"
    assert "dashboard-app" in page.inner_text("h1")
    page.goto(login_url_of(srv, app_id))
    assert page.url == f"{base(srv)}/apps/{app_id}"
    bad = srv.ketch("dashboard", "xx-123", "--url")
    assert bad.returncode == 1 and "ap-" in bad.stderr
    # The server lands a login only on its own pages, whatever a client asks for.
    from wire_helpers import RawConn

    conn = RawConn(srv.address)
    try:
        token = (srv.data_dir / "token").read_text().strip()
        assert conn.call(hello=pb.Hello(token=token, role="client")).WhichOneof("body") \
            == "hello_ok"
        for path in ("//evil.example/", "https://evil.example/", "/apps/../../x",
                     "/static/dashboard.js", "/apps/" + "a" * 100):
            reply = conn.call(dashboard_login_create=pb.DashboardLoginCreate(path=path))
            assert reply.WhichOneof("body") == "error" and reply.error.kind == "invalid", path
    finally:
        conn.sock.close()


def login_url_of(srv: ServerProcess, object_id: str) -> str:
    out = srv.ketch("dashboard", object_id, "--url")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_a_bwrap_containers_charts_come_from_its_cgroup(tenants, context):
    server, tokens = tenants
    alpha = {"KETCH_TOKEN": tokens["alpha"]["secret"]}
    called = server.python("import ketch\n"
                           "print(ketch.Function.from_name('alpha-secret-app', 'f').remote(5))",
                           extra_env=alpha, timeout=120)
    assert called.stdout.strip() == "5", called.stderr
    page = context.new_page()
    page.goto(login_url(server, **alpha))
    page.locator("nav a", has_text="Containers").click()
    page.locator("table.containers a.id").first.click()
    memory = page.locator("#memory-chart")
    wait_until(lambda: attr_number(memory, "data-points") >= 3, what="memory samples")
    assert attr_number(memory, "data-peak_memory_mib") > 1
