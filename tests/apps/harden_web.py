"""Functions with one slot (one container, one input at a time), for the limits tests: a
web endpoint that reads the whole body, then answers with its size after ?N seconds, and
a function whose inputs are slow."""

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


@app.function(max_containers=1)
def nap(seconds, marker=None):
    """One container, slow inputs: its queue fills when inputs are sent without waiting."""
    import time

    time.sleep(seconds)
    return marker


@app.function()
def chatter(n, width):
    """Prints n lines of `width` characters: a chatty app for its log followers."""
    line = "c" * width
    for _ in range(n):
        print(line)
