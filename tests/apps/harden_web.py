"""A web endpoint with one slot (one container, one input at a time), for the gateway's
limits: it reads the whole body, then answers with its size after ?N seconds."""

import ketch

app = ketch.App("hardweb")


@app.function(max_containers=1)
@ketch.asgi_app(label="one")
def one():
    import asyncio

    async def asgi(scope, receive, send):
        if scope["type"] != "http":
            return
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await asyncio.sleep(float(scope["query_string"].decode() or 0))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})

    return asgi
