"""Functions for the cluster tests of layers, volumes and web endpoints on worker nodes
(issue 11 items 5-7). memory=2048 fits only worker w2 (3 GiB); the others fit any node."""

import os
from pathlib import Path

import ketch

app = ketch.App("xfer")
vol = ketch.Volume.from_name("xfer-vol", create_if_missing=True)


def node() -> str:
    return os.environ["KETCH_NODE_ID"]


@app.function(memory=2048, volumes={"/data": vol})
def write_on_w2(text: str) -> str:
    Path("/data/shared.txt").write_text(text)
    vol.commit()
    return node()


@app.function(volumes={"/data": vol})
def read_shared(_):
    vol.reload()
    return node(), Path("/data/shared.txt").read_text()


@app.function(memory=2048)
@ketch.concurrent(max_inputs=10)
@ketch.asgi_app()
def edge():
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
            await receive()
            await send({"type": "websocket.accept"})
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                await send({"type": "websocket.send", "text": "echo: " + message["text"]})
        await receive()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": node().encode()})

    return asgi
