"""`ketch server start|stop|status`."""

from __future__ import annotations

import os
import sys
import time

import click

from .. import _config
from .._client import start_local_server
from ..exception import ConnectionError
from ..proto import ketch_pb2 as pb
from ._common import client, console, err_console, fail, print_json, run_async, when


@click.group()
def server():
    """Run and inspect the ketch server (the control plane). Clients start a local one
    by themselves when none answers; these commands manage it explicitly."""


def _status():
    async def fetch():
        c = await client(autostart=False)
        return (await c.request(server_status=pb.ServerStatus())).server_status_reply

    try:
        return run_async(fetch())
    except ConnectionError:
        return None


@server.command()
@click.option("--address", default=None, help="HOST:PORT to listen on (default: "
              f"KETCH_SERVER_ADDR or {_config.DEFAULT_ADDRESS}).")
@click.option("--gateway-address", default=None, help="HOST:PORT the web endpoint gateway "
              f"listens on (default: KETCH_GATEWAY_ADDR or {_config.DEFAULT_GATEWAY_ADDRESS}).")
@click.option("--http-address", default=None, help="HOST:PORT of the HTTP side, /metrics "
              f"(default: KETCH_HTTP_ADDR or {_config.DEFAULT_HTTP_ADDRESS}).")
@click.option("--store", default=None, metavar="URL",
              help="Keep the server's state in PostgreSQL: postgresql://USER:PASSWORD@HOST:"
                   "PORT/DATABASE (default: KETCH_STORE_URL, else SQLite in the data "
                   "directory). The data directory still holds layers, blobs, code and "
                   "volumes: see docs/store.md.")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
              help="Join this Ray cluster (HEAD_IP:6379, or auto on a Ray node; also "
                   "KETCH_RAY_ADDRESS) and run containers on all its nodes.")
@click.option("--advertise-address", default=None, metavar="IP",
              help="With --ray: the IP other nodes' containers reach the server at (default: "
                   "the --address host, else this node's IP in the Ray cluster).")
@click.option("--runtime", type=click.Choice(["bwrap", "process"]), default=None,
              help="The container backend: bwrap (isolated containers, the default where "
                   "bubblewrap is installed and namespaces work) or process (plain "
                   "processes, for machines without them). Also KETCH_RUNTIME.")
@click.option("--foreground", is_flag=True, help="Run in this terminal, logging to it.")
def start(address: str | None, gateway_address: str | None, http_address: str | None,
          store: str | None, ray_address: str | None, advertise_address: str | None,
          runtime: str | None, foreground: bool):
    """Start the server (in the background unless --foreground)."""
    if runtime:
        os.environ["KETCH_RUNTIME"] = runtime   # the server's default for --runtime
    if store:
        os.environ["KETCH_STORE_URL"] = store   # the server reads them
    if ray_address:
        os.environ["KETCH_RAY_ADDRESS"] = ray_address
    if advertise_address:
        os.environ["KETCH_ADVERTISE_ADDRESS"] = advertise_address
    if address:
        os.environ["KETCH_SERVER_ADDR"] = address
    if gateway_address:
        os.environ["KETCH_GATEWAY_ADDR"] = gateway_address  # the server reads it
    if http_address:
        os.environ["KETCH_HTTP_ADDR"] = http_address
    address = _config.server_address()
    running = _status()
    if running is not None:
        console.print(f"a ketch server is already running at {address}")
        _warn_if_gateway_down(running)
        return
    if foreground:
        # The server replaces this process, so the CLI never loads the server's code.
        os.execv(sys.executable, [sys.executable, "-m", "ketch.server", "--address", address])
    start_local_server(address)
    started = _status()
    if started is not None:
        _warn_if_gateway_down(started)


def _warn_if_gateway_down(s: pb.ServerStatusReply):
    """A gateway that could not listen leaves web endpoints without URLs: said out loud,
    not only in the server's log."""
    if s.gateway_address:
        return
    err_console.print("[bold yellow]Warning:[/bold yellow] ", end="")
    err_console.print(f"the web endpoint gateway is down ({s.gateway_error}), so web "
                      "endpoints will not answer. Stop the server and start it with "
                      "`ketch server start --gateway-address HOST:PORT` (a free port; "
                      "port 0 picks one).", markup=False, soft_wrap=True)


@server.command()
def stop():
    """Stop the server; its containers stop, deployed apps and spawned calls stay stored."""
    async def go():
        c = await client(autostart=False)
        await c.request(server_shutdown=pb.ServerShutdown())

    address = _config.server_address()
    try:
        run_async(go())
    except ConnectionError:
        console.print(f"no ketch server is running at {address}")
        return
    # Wait until it has let go of its port.
    import socket

    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=0.2).close()
            time.sleep(0.05)
        except OSError:
            console.print(f"[green]✓[/green] stopped the ketch server at {address}")
            return
    fail(f"the server at {address} did not stop within 15 s")


@server.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def status(as_json: bool):
    """Show whether the server runs, where, and what it holds."""
    s = _status()
    address = _config.server_address()
    if s is None:
        if as_json:
            print_json({"running": False, "address": address})
        else:
            console.print(f"no ketch server is running at {address} "
                          "(`ketch server start` starts one)")
        raise SystemExit(1)
    data = {"running": True, "address": s.address, "version": s.version, "pid": s.pid,
            "started_at": s.started_at, "data_dir": s.data_dir, "runtime": s.runtime,
            "workspace": s.workspace, "apps": s.n_apps, "containers": s.n_containers,
            "gateway": {"address": s.gateway_address or None,
                        "error": s.gateway_error or None},
            "http": {"address": s.http_address or None, "error": s.http_error or None},
            "cpu": {"capacity": s.cpu_capacity, "reserved": s.cpu_reserved},
            "memory_mib": {"capacity": s.memory_capacity_mib,
                           "reserved": s.memory_reserved_mib}}
    if as_json:
        print_json(data)
        return
    console.print(f"[green]●[/green] ketch server {s.version} running at [bold]{s.address}"
                  f"[/bold] (pid {s.pid}, since {when(s.started_at)})")
    console.print(f"  data:       {s.data_dir}", markup=False)
    console.print(f"  runtime:    {s.runtime}")
    console.print(f"  workspace:  {s.workspace}", markup=False)
    console.print(f"  gateway:    http://{s.gateway_address}" if s.gateway_address else
                  f"  gateway:    down ({s.gateway_error})", markup=False)
    console.print(f"  http:       http://{s.http_address}/metrics" if s.http_address else
                  f"  http:       down ({s.http_error})", markup=False)
    console.print(f"  apps:       {s.n_apps} running, {s.n_containers} containers")
    console.print(f"  reserved:   {s.cpu_reserved:g} of {s.cpu_capacity:g} CPUs, "
                  f"{s.memory_reserved_mib} of {s.memory_capacity_mib} MiB")
