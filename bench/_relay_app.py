"""The endpoints of bench/relay.py: the same trivial ASGI app twice, one reached by the
gateway directly and one through a node's web relay (a small answer, and 1 MiB)."""

import ketch

SMALL = b"ok"
BIG = b"x" * (1024 * 1024)


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    body = BIG if scope["path"].endswith("/big") else SMALL
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


app = ketch.App("relaybench")


@app.function(min_containers=1, max_containers=1)
@ketch.concurrent(max_inputs=1000)
@ketch.asgi_app()
def local():
    return asgi


@app.function(min_containers=1, max_containers=1)
@ketch.concurrent(max_inputs=1000)
@ketch.asgi_app()
def relayed():
    return asgi
