"""Network isolation on the bwrap runtime, tried as an attacker would from inside a function:
each container has a network namespace of its own, reaches the server only through the
Unix socket bound into it, reaches the outside (here: a host in a network namespace this
test makes, never an outside address) through slirp4netns but never the host's loopback,
and cannot reach another container's web endpoint; block_network=True leaves loopback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from isolation_helpers import START_PATHS, needs_bwrap, path_env, run_client, start_server
from net_helpers import slirps_of
from ketch.exception import InvalidError

WAIT_S = 15.0
_OUTSIDE_SERVER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen()
s.settimeout(300)
for _ in range(100):
    try:
        c, _ = s.accept()
    except OSError:
        break
    c.sendall(b"hello from outside")
    c.close()
"""


@pytest.fixture(scope="module", params=START_PATHS)
def bwrap_server(tmp_path_factory, request):
    srv = start_server(tmp_path_factory.mktemp("net-server"), "bwrap", **path_env(request.param))
    yield srv
    srv.stop()


def _ip(*args: str, check: bool = True):
    subprocess.run(["ip", *args], check=check, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def outside():
    """A host "outside" the machine: a network namespace of this test's own, joined to
    the host by a veth pair on private addresses the test picks, with a TCP server that
    greets each connection. Torn down even when a test fails."""
    tag = os.getpid() % 100000
    ns, host_if, ns_if = f"ketchnet{tag}", f"kn{tag}h", f"kn{tag}n"
    net = f"172.31.{100 + tag % 150}"
    port = 8000 + tag % 1000
    server = None
    try:
        _ip("netns", "add", ns)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", ns)
        _ip("addr", "add", f"{net}.1/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("netns", "exec", ns, "ip", "addr", "add", f"{net}.2/30", "dev", ns_if)
        _ip("netns", "exec", ns, "ip", "link", "set", ns_if, "up")
        _ip("netns", "exec", ns, "ip", "link", "set", "lo", "up")
        server = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c",
                                   _OUTSIDE_SERVER, f"{net}.2", str(port)])
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                socket.create_connection((f"{net}.2", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"{net}.2", port
    finally:
        if server is not None:
            server.kill()
            server.wait()
        _ip("link", "del", host_if, check=False)
        _ip("netns", "del", ns, check=False)


@pytest.fixture
def host_loopback_listener():
    """A TCP service on the host's 127.0.0.1 that records who connected."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.settimeout(0.2)
    accepted = []
    done = threading.Event()

    def serve():
        while not done.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            accepted.append(conn)
            conn.sendall(b"a host loopback service")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1], accepted
    done.set()
    thread.join(timeout=5)
    sock.close()


def _reach(srv, tcp=(), unix=()) -> dict:
    return run_client(srv, f"""
        import json
        from apps import netprobe
        with netprobe.app.run():
            print(json.dumps(netprobe.reach.remote({list(tcp)!r}, {list(unix)!r})))
    """)


@needs_bwrap
def test_outbound_reaches_a_host_outside_but_not_the_hosts_loopback(
        bwrap_server, outside, host_loopback_listener):
    port, accepted = host_loopback_listener
    out = _reach(bwrap_server, tcp=[outside, ("127.0.0.1", port), ("10.0.2.2", port),
                                    ("127.0.0.1", bwrap_server.gateway_port),
                                    ("10.0.2.2", bwrap_server.gateway_port)])
    assert out["tcp"][0] == "ok: hello from outside"
    for result in out["tcp"][1:]:
        assert result.startswith("error"), out
    assert accepted == []
    assert out["loopback"] is True
    assert out["interfaces"] == ["lo", "tap0"]


@needs_bwrap
def test_the_servers_tcp_port_is_unreachable_the_container_works_through_its_socket(
        bwrap_server):
    out = run_client(bwrap_server, f"""
        import json
        from apps import netprobe
        with netprobe.app.run():
            tcp = [("127.0.0.1", {bwrap_server.port}), ("10.0.2.2", {bwrap_server.port})]
            print(json.dumps({{"reach": netprobe.reach.remote(tcp, []),
                               "nested": netprobe.nested.remote()}}))
    """)
    # The call itself came back: the container reached the server on its socket; so does
    # a call made from inside a container.
    assert out["reach"]["server_addr"] == "unix:/run/ketch/server.sock"
    assert out["nested"] == "unix:/run/ketch/server.sock"
    assert all(r.startswith("error") for r in out["reach"]["tcp"]), out
    # <data>/run keeps the server's socket and the web sockets from the host's other users.
    run = bwrap_server.data_dir / "run"
    assert run.stat().st_mode & 0o777 == 0o700
    assert (run / "server.sock").is_socket()


@needs_bwrap
def test_another_containers_web_socket_is_unreachable(bwrap_server):
    out = _web_and_probe(bwrap_server)
    assert out["page"] == "the other container"  # the gateway serves it
    assert out["sockets"], "the web endpoint listens on a socket in its web directory"
    assert "/run/ketch/web/web-1.sock" in out["held"]
    assert not [name for name in out["held"] if name.startswith("@")], out["held"]
    assert out["probe"]["abstract_sockets"] == []
    assert all(r.startswith("error") for r in out["probe"]["unix"]), out["probe"]


def test_web_endpoints_listen_on_filesystem_sockets_on_the_process_runtime(server):
    out = _web_and_probe(server)
    assert out["page"] == "the other container"
    assert out["sockets"]
    assert set(out["sockets"]) <= set(out["held"])
    assert not [name for name in out["held"] if name.startswith("@")], out["held"]


def _web_and_probe(srv) -> dict:
    """Serves netprobe.site through the gateway; lists the web sockets under <data>/run and
    the Unix sockets the server's containers hold; then tries the former from another
    container."""
    return run_client(srv, f"""
        import glob, json, os
        import httpx
        from net_helpers import unix_sockets_of_containers
        from apps import netprobe
        with netprobe.app.run():
            page = httpx.get(netprobe.site.get_web_url(), timeout=60)
            sockets = glob.glob(os.environ["KETCH_DATA_DIR"] + "/run/containers/*/*.sock")
            held = unix_sockets_of_containers({srv.proc.pid})
            probe = netprobe.reach.remote([], sockets)
            print(json.dumps({{"page": page.text, "sockets": sockets, "held": held,
                               "probe": probe}}))
    """)


@needs_bwrap
def test_block_network_leaves_only_loopback(bwrap_server, outside):
    out = run_client(bwrap_server, f"""
        import json
        from apps import netprobe
        with netprobe.blocked_app.run():
            print(json.dumps(netprobe.reach_blocked.remote({[outside]!r})))
    """)
    assert out["tcp"][0].startswith("error"), out
    assert out["interfaces"] == ["lo"]
    assert out["loopback"] is True
    assert out["server_addr"] == "unix:/run/ketch/server.sock"


@needs_bwrap
def test_the_network_helper_goes_with_its_container(tmp_path, outside):
    srv = start_server(tmp_path / "data", "bwrap")
    try:
        out = run_client(srv, f"""
            import json
            from apps import netprobe
            with netprobe.app.run():
                out = netprobe.reach.remote([{outside!r}], [])
            print(json.dumps(out))
        """)
        assert out["tcp"] == ["ok: hello from outside"]
        _wait_for(lambda: not slirps_of(srv.proc.pid), "slirp4netns outlived its container")
        # A container that is up when the server dies takes its slirp4netns with it.
        run_client(srv, """
            import json
            import ketch
            from apps import netprobe
            netprobe.app.deploy()
            reach = ketch.Function.from_name("netprobe", "reach")
            print(json.dumps(reach.remote([], [])["interfaces"]))
        """)
        slirps = slirps_of(srv.proc.pid)
        assert len(slirps) == 1
        srv.kill()
        _wait_for(lambda: not any(Path(f"/proc/{p}").exists() for p in slirps),
                  "slirp4netns outlived the server")
    finally:
        srv.stop()


def test_block_network_is_checked_at_decoration_and_refused_on_the_process_runtime(server):
    import ketch

    app = ketch.App("netcheck")
    with pytest.raises(InvalidError, match="block_network='yes'"):
        app.function(block_network="yes")(lambda: None)
    proc = server.python(textwrap.dedent("""
        from apps import netprobe
        with netprobe.blocked_app.run():
            pass
    """))
    assert proc.returncode != 0
    assert "block_network=True needs the bwrap runtime" in proc.stderr
    assert "--runtime bwrap" in proc.stderr


def _wait_for(condition, message: str):
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def test_unix_addresses_listen_and_connect_past_the_sockaddr_limit(tmp_path):
    """unix:/PATH works for paths longer than a sockaddr_un holds (deep data dirs)."""
    import asyncio

    from ketch import _wire
    from ketch.proto import ketch_pb2 as pb

    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    address = f"unix:{deep / 'server.sock'}"
    assert len(address) > 120

    async def main():
        def factory():
            proto = _wire.FrameProtocol(is_server=True)
            proto.on_frame = lambda frame: proto.reply(frame, hello_ok=pb.HelloOk())
            return proto

        server = await _wire.listen(address, factory)
        client = await _wire.open_connection(address)
        reply = await client.request(hello=pb.Hello(token="t"))
        client.close()
        server.close()
        return reply.WhichOneof("body"), oct((deep / "server.sock").stat().st_mode & 0o777)

    assert asyncio.run(main()) == ("hello_ok", "0o600")
    with pytest.raises(ValueError, match="unix:/ABSOLUTE/PATH"):
        _wire.check_address("unix:relative.sock")
