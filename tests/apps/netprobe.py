"""Functions for the network isolation tests: what a container can reach."""

import os
import socket

import ketch

# The isolation tests' image start path (isolation_helpers.START_PATHS)
app = ketch.App("netprobe", image=ketch.Image.debian_slim()
                if os.environ.get("KETCH_TEST_APP_IMAGE") else None)
CONNECT_TIMEOUT_S = 3.0


def _tcp(host: str, port: int) -> str:
    """'ok: <what the peer sent first>' or the error connecting."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S) as s:
            s.settimeout(CONNECT_TIMEOUT_S)
            try:
                return "ok: " + s.recv(100).decode(errors="replace")
            except OSError:
                return "ok: "
    except OSError as exc:
        return f"error: {exc}"


def _unix(path: str) -> str:
    """'ok' or the error connecting; '@name' is an abstract socket."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(CONNECT_TIMEOUT_S)
    try:
        s.connect("\0" + path[1:] if path.startswith("@") else path)
        return "ok"
    except OSError as exc:
        return f"error: {exc}"
    finally:
        s.close()


def _view() -> dict:
    unix = [line.split()[-1] for line in open("/proc/net/unix").read().splitlines()[1:]
            if len(line.split()) > 7]
    return {"interfaces": sorted(name for _, name in socket.if_nameindex()),
            "server_addr": os.environ.get("KETCH_SERVER_ADDR", ""),
            "web_dir": os.environ.get("KETCH_WEB_DIR", ""),
            "abstract_sockets": [p for p in unix if p.startswith("@")],
            "resolv_conf": open("/etc/resolv.conf").read()
            if os.path.exists("/etc/resolv.conf") else ""}


def _loopback_works() -> bool:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=CONNECT_TIMEOUT_S):
            conn, _ = server.accept()
            conn.close()
    return True


@app.function()
def reach(tcp: list, unix: list) -> dict:
    """Tries each (host, port) and each Unix socket path; says what the container sees."""
    return {"tcp": [_tcp(h, p) for h, p in tcp], "unix": [_unix(p) for p in unix],
            "loopback": _loopback_works(), **_view()}


# block_network needs the bwrap runtime: an app of its own, so that the rest runs anywhere.
blocked_app = ketch.App("netprobe-blocked")


@blocked_app.function(block_network=True)
def reach_blocked(tcp: list) -> dict:
    return {"tcp": [_tcp(h, p) for h, p in tcp], "loopback": _loopback_works(), **_view()}


@app.function()
@ketch.asgi_app()
def site():
    async def asgi(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"the other container"})

    return asgi


@app.function()
def nested() -> str:
    """A call from inside a container: its client reaches the server on the socket too."""
    return reach.remote([], [])["server_addr"]
