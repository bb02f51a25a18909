"""Issue 11, item 7 (and the container's way to the server, item 4): a node's relays in a
network namespace of their own, standing in for another machine, over real sockets. The
gateway reaches a container through the node's web relay (a request, a large body, a
WebSocket), the relay refuses what is not the server's, and a client on the node reaches
the server through the node's server socket."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import struct

import httpx
import pytest
import websockets

from ketch.proto import ketch_pb2 as pb
from node_fixtures import NodeNamespace, NodeRelays, NodeServer

TIMEOUT = 60


@pytest.fixture(scope="module")
def relayed(tmp_path_factory):
    root = tmp_path_factory.mktemp("relay")
    with NodeNamespace(secrets.randbelow(200) + 20) as ns:
        srv = NodeServer(root / "server", [], listen_host="0.0.0.0").start()
        relays = None
        try:
            relays = NodeRelays(ns, secrets.token_urlsafe(32), srv.data_dir / "run",
                                root / "node-server.sock", f"{ns.host_ip}:{srv.port}")
            srv.route_through(relays.target())
            deployed = srv.ketch("deploy", "apps/relayed.py", timeout=TIMEOUT)
            assert deployed.returncode == 0, deployed.stderr + deployed.stdout
            srv.url = f"http://127.0.0.1:{srv.gateway_port}/relayed--edge"
            srv.relays = relays
            yield srv
        finally:
            if relays is not None:
                relays.stop()
            srv.stop()


def test_web_requests_and_websockets_cross_the_relay(relayed):
    with httpx.Client(timeout=TIMEOUT) as http:
        first = http.get(relayed.url + "/")
        assert first.status_code == 200, first.text
        container_id, size = first.text.split()
        assert container_id and size == "0"
        big = http.post(relayed.url + "/upload", content=os.urandom(8 * 1024 * 1024))
        assert big.text == f"{container_id} {8 * 1024 * 1024}"

    async def talk():
        url = relayed.url.replace("http://", "ws://") + "/ws"
        async with websockets.connect(url, open_timeout=TIMEOUT) as ws:
            replies = []
            for i in range(10):
                await ws.send(f"m{i}")
                replies.append(await ws.recv())
            return replies

    assert asyncio.run(talk()) == [f"echo: m{i}" for i in range(10)]
    # The gateway's kept-alive connections to the container are ones to the node's relay.
    assert _connections_from_gateway(relayed.relays)


def _connections_from_gateway(relays: NodeRelays) -> int:
    """Connections (open or just closed) from the host to the relay's port, as the node
    namespace's kernel lists them (/proc/PID/net/tcp: addresses in hex)."""
    host = socket.inet_aton(relays.ns.host_ip)[::-1].hex().upper()
    table = open(f"/proc/{relays.proc.pid}/net/tcp").read().splitlines()[1:]
    return sum(1 for line in table if line.split()[1].endswith(f":{relays.port:04X}")
               and line.split()[2].startswith(host + ":"))


def _open(relays: NodeRelays, **fields) -> str:
    with socket.create_connection((relays.ns.node_ip, relays.port), timeout=10) as s:
        data = pb.RelayOpen(**fields).SerializeToString()
        s.sendall(struct.pack(">I", len(data)) + data)
        head = s.recv(4)
        return pb.RelayOpened.FromString(s.recv(struct.unpack(">I", head)[0])).error


def test_the_relay_opens_only_what_the_server_asks(relayed):
    relays = relayed.relays
    with httpx.Client(timeout=TIMEOUT) as http:
        container_id = http.get(relayed.url + "/").text.split()[0]
    web_dir = relayed.data_dir / "run" / "containers" / container_id
    sock_name = next(p.name for p in web_dir.iterdir() if p.is_socket())
    assert _open(relays, secret=relays.secret, container_id=container_id,
                 socket=sock_name) == ""
    assert _open(relays, secret="guess" * 8, container_id=container_id,
                 socket=sock_name) == "wrong relay secret"
    assert "no container" in _open(relays, secret=relays.secret, container_id="ct-nothere",
                                   socket=sock_name)
    assert "no container" in _open(relays, secret=relays.secret,
                                   container_id="../containers", socket=sock_name)
    assert "named its socket" in _open(relays, secret=relays.secret,
                                       container_id=container_id, socket="../x.sock")
    # A link the container planted beside its socket is not followed.
    os.symlink(web_dir / sock_name, web_dir / "planted.sock")
    try:
        assert "not a socket" in _open(relays, secret=relays.secret,
                                       container_id=container_id, socket="planted.sock")
    finally:
        (web_dir / "planted.sock").unlink()
    with socket.create_connection((relays.ns.node_ip, relays.port), timeout=10) as s:
        s.sendall(struct.pack(">I", 1 << 30))   # an oversized opening: refused at once
        head = s.recv(4)
        assert "too large" in pb.RelayOpened.FromString(
            s.recv(struct.unpack(">I", head)[0])).error


def test_a_client_on_the_node_reaches_the_server_through_its_socket(relayed):
    done = relayed.python(
        "import ketch\n"
        "d = ketch.Dict.from_name('through-relay', create_if_missing=True)\n"
        "d['k'] = 'v'\n"
        "print(d['k'])\n",
        extra_env={"KETCH_SERVER_ADDR": f"unix:{relayed.relays.sock}",
                   "KETCH_TOKEN": relayed.admin_token()})
    assert done.returncode == 0 and done.stdout.strip() == "v", done.stderr


@pytest.mark.parametrize("threads", [False, True], ids=["loop", "threads"])
def test_splice_carries_bytes_both_ways_with_half_closes(threads):
    """4 MiB each way through the splice between two socket pairs, read slowly on one
    side (back pressure), then a half-close: the other direction still finishes; on the
    event loop (the web relay's) and with a thread per direction (the server socket's)."""
    from ketch.node.splice import splice

    async def main():
        loop = asyncio.get_running_loop()
        client, relay_a = socket.socketpair()
        relay_b, server = socket.socketpair()
        for s in (client, server):
            s.setblocking(False)
        done = asyncio.ensure_future(splice(relay_a, relay_b, b"first:", threads=threads))
        up, down = os.urandom(4 << 20), os.urandom(4 << 20)

        async def send(sock, data):
            await loop.sock_sendall(sock, data)
            sock.shutdown(socket.SHUT_WR)

        async def receive(sock, slow=False):
            got = bytearray()
            while chunk := await loop.sock_recv(sock, 1 << 16):
                got += chunk
                if slow and len(got) % (1 << 19) < (1 << 16):
                    await asyncio.sleep(0.001)
            return bytes(got)

        results = await asyncio.gather(send(client, up), send(server, down),
                                       receive(server, slow=True), receive(client))
        await asyncio.wait_for(done, 10)
        client.close()
        server.close()
        return up, down, results[2], results[3]

    up, down, at_server, at_client = asyncio.run(main())
    assert at_server == b"first:" + up and at_client == down
