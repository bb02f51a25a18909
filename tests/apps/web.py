"""Web endpoints the gateway tests serve from real containers."""

import os
import socket
import subprocess
import sys
import time

import ketch

app = ketch.App("webtest")


@app.function()
@ketch.fastapi_endpoint(method="GET", docs=True)
def hello(name: str = "world", times: int = 1):
    return {"greeting": f"hello {name}", "times": times}


@app.function()
@ketch.fastapi_endpoint()
def whoami() -> str:
    """Modal's documented example: an endpoint that answers with its own URL."""
    return whoami.get_web_url()


@app.function()
@ketch.fastapi_endpoint(method="POST", label="sum")
def add(item: dict):
    return {"total": sum(item["values"])}


@app.function()
@ketch.concurrent(max_inputs=100)
@ketch.asgi_app()
def stream():
    """A raw ASGI app: echo, streaming, server-sent events, WebSocket echo."""

    async def asgi(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("text") is not None:
                    await send({"type": "websocket.send", "text": "echo: " + message["text"]})
                else:
                    await send({"type": "websocket.send", "bytes": message["bytes"][::-1]})
        path = scope["path"]
        headers = [(b"content-type", b"text/plain")]
        if path == "/echo":
            # Streams the request body back as it arrives, with its size at the end.
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            size = 0
            more = True
            while more:
                message = await receive()
                chunk = message.get("body", b"")
                size += len(chunk)
                more = message.get("more_body", False)
            await send({"type": "http.response.body", "body": f"{size}".encode()})
            return
        if path == "/sse":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream")]})
            for i in range(5):
                await send({"type": "http.response.body", "body": f"data: {i}\n\n".encode(),
                            "more_body": True})
                import asyncio
                await asyncio.sleep(0.05)
            await send({"type": "http.response.body", "body": b""})
            return
        if path == "/big":
            chunk = b"x" * 65536
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            for _ in range(160):  # 10 MiB
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        if path == "/pid":
            body = str(os.getpid()).encode()
        elif path == "/forwarded":
            seen = dict(scope["headers"])
            body = b"|".join(seen.get(h, b"-") for h in (b"x-forwarded-host", b"forwarded",
                                                          b"x-forwarded-for"))
        else:
            body = f"{scope['method']} {path} {scope['query_string'].decode()} " \
                   f"prefix={dict(scope['headers']).get(b'x-forwarded-prefix', b'').decode()}" \
                .encode()
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return asgi


@app.function()
@ketch.concurrent(max_inputs=2)
@ketch.asgi_app(label="slow")
def slow():
    """Answers after a pause with the id of the process that served it and the most
    requests it ever ran at once."""
    import asyncio

    running = 0
    most = 0

    async def asgi(scope, receive, send):
        nonlocal running, most
        if scope["type"] != "http":
            return
        running += 1
        most = max(most, running)
        await asyncio.sleep(float(scope["query_string"].decode() or 0.5))
        running -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": f"{os.getpid()} {most}".encode()})

    return asgi


@app.function(scaledown_window=1)
@ketch.asgi_app(label="lingering")
def lingering():
    """Answers with its pid after ?N seconds, which may outlast its scaledown window."""
    import asyncio

    async def asgi(scope, receive, send):
        if scope["type"] != "http":
            return
        await asyncio.sleep(float(scope["query_string"].decode() or 0))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(os.getpid()).encode()})

    return asgi


@app.function(timeout=2, startup_timeout=60)   # a slow start under load is not the subject
@ketch.asgi_app(label="sleepy")
def sleepy():
    """Never answers in time: its function's timeout is 2 s."""
    import asyncio

    async def asgi(scope, receive, send):
        if scope["type"] == "http":
            await asyncio.sleep(60)

    return asgi


@app.function()
@ketch.asgi_app(label="crashy")
def crashy():
    """/crash kills the container mid-request; anything else answers with its pid."""

    async def asgi(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/crash":
            os._exit(3)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(os.getpid()).encode()})

    return asgi


@app.function()
@ketch.wsgi_app()
def classic():
    def wsgi(environ, start_response):
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        where = (environ["SCRIPT_NAME"] + environ["PATH_INFO"]).encode("latin-1")
        return [b"wsgi " + environ["REQUEST_METHOD"].encode() + b" " + where + b" " + body]

    return wsgi


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Chosen once by the test process and passed to the container in its environment, so
# test runs side by side on one machine do not collide.
SERVER_PORT = int(os.environ.get("WEBTEST_SERVER_PORT") or _free_port())


@app.function(max_containers=1, env={"WEBTEST_SERVER_PORT": str(SERVER_PORT)})
@ketch.web_server(SERVER_PORT, startup_timeout=20)
def files():
    """Any process that listens on a port: here Python's own http.server."""
    subprocess.Popen([sys.executable, "-m", "http.server", str(SERVER_PORT), "--bind",
                      "127.0.0.1", "--directory", os.path.dirname(__file__)])


@app.function()
@ketch.fastapi_endpoint(requires_proxy_auth=True)
def private():
    return "hello friend"


@app.function(startup_timeout=2)
@ketch.asgi_app(label="stuck")
def stuck():
    time.sleep(60)


@app.function()
@ketch.asgi_app(label="broken")
def broken():
    raise RuntimeError("this app cannot start: missing model weights")


@app.cls()
class Model:
    greeting: str = ketch.parameter(default="hi")

    @ketch.enter()
    def load(self):
        self.loaded = True

    @ketch.fastapi_endpoint(method="GET")
    def predict(self, x: int):
        return {"y": x * 2, "greeting": self.greeting, "loaded": self.loaded}
