"""The trivial web endpoint of bench/web.py: one ASGI app, served by ketch's gateway and by
uvicorn directly."""

import ketch

BODY = b"ok"
HEADERS = [(b"content-type", b"text/plain"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def build():
    return app


bench = ketch.App("webbench")


@bench.function(max_containers=1)
@ketch.concurrent(max_inputs=1000)
@ketch.asgi_app()
def trivial():
    return app
