"""Web endpoints in images that install only what the user's code imports (issue 10): the
container brings its own ASGI server and WSGI adapter, the image's packages still win, and a
streamed WSGI response arrives in pieces."""

from __future__ import annotations

import shutil

import pytest

from isolation_helpers import needs_bwrap, run_client, start_server


@pytest.fixture(scope="module")
def bwrap_server(tmp_path_factory):
    if not shutil.which("bwrap"):
        pytest.skip("needs bubblewrap")
    srv = start_server(tmp_path_factory.mktemp("web-image-server"), "bwrap")
    yield srv
    srv.stop()


@needs_bwrap
def test_flask_only_image_serves_a_streaming_wsgi_app(bwrap_server):
    out = run_client(bwrap_server, """
        import json, time
        import httpx, ketch

        app = ketch.App("flaskonly")
        image = ketch.Image.debian_slim().pip_install("flask")

        @app.function(image=image, serialized=True)
        @ketch.wsgi_app()
        def web():
            import time
            import flask
            server = flask.Flask("flaskonly")

            @server.route("/")
            def index():
                return {"hello": flask.request.args.get("name", "")}

            @server.route("/stream")
            def stream():
                def pieces():
                    for i in range(3):
                        yield f"piece-{i};"
                        time.sleep(1)
                return flask.Response(pieces(), mimetype="text/plain")

            return server

        with app.run():
            url = web.get_web_url()
            hello = httpx.get(url, params={"name": "ada"}, timeout=120).json()
            arrivals = []
            with httpx.stream("GET", url + "/stream", timeout=120) as r:
                start = time.monotonic()
                for chunk in r.iter_raw():
                    arrivals.append([time.monotonic() - start, chunk.decode()])
            print(json.dumps({"hello": hello, "arrivals": arrivals}))
    """)
    assert out["hello"] == {"hello": "ada"}
    arrivals = out["arrivals"]
    assert "".join(text for _, text in arrivals) == "piece-0;piece-1;piece-2;"
    # Each piece left when the app yielded it, a second apart, not all at the end.
    first_piece_at = next(t for t, text in arrivals if "piece-0" in text)
    last_piece_at = next(t for t, text in arrivals if "piece-2" in text)
    assert last_piece_at - first_piece_at > 1.5, arrivals


@needs_bwrap
def test_fastapi_only_image_serves_a_fastapi_endpoint_with_its_own_fastapi(bwrap_server):
    out = run_client(bwrap_server, """
        import json
        import httpx, ketch

        app = ketch.App("fastapionly")
        image = ketch.Image.debian_slim().pip_install("fastapi")

        @app.function(image=image, serialized=True)
        @ketch.fastapi_endpoint()
        def where(name: str = "x"):
            import sys
            import fastapi, starlette, uvicorn
            return {"name": name, "fastapi": fastapi.__file__,
                    "starlette": starlette.__file__, "uvicorn": uvicorn.__file__}

        with app.run():
            r = httpx.get(where.get_web_url(), params={"name": "ada"}, timeout=120)
            print(json.dumps([r.status_code, r.json()]))
    """)
    status, body = out
    assert status == 200 and body["name"] == "ada"
    # The image's FastAPI and Starlette, the runtime's uvicorn (the image has none).
    assert body["fastapi"].startswith("/usr/local/lib/python3.11/dist-packages/"), body
    assert body["starlette"].startswith("/usr/local/lib/python3.11/dist-packages/"), body
    assert body["uvicorn"].startswith("/opt/ketch/fallback-site/uvicorn/"), body
