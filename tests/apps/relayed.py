"""A web endpoint kept warm (min_containers=1), which the relay tests reach through a node
relay: a plain answer naming its container, a streamed body, and a WebSocket echo."""

import os

import ketch

app = ketch.App("relayed")


@app.function(min_containers=1)
@ketch.concurrent(max_inputs=100)
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
        body = b""
        while True:   # read the request body (the POST test sends megabytes)
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        answer = f"{os.environ['KETCH_CONTAINER_ID']} {len(body)}".encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": answer})

    return asgi
