"""The one route table: which handler answers each request, and who may send it.

A request's route is its frame's body field. Clients and containers have routes of their
own (a few, such as blobs, are shared); a route listed in `takes_raw` gets the raw bytes
sent after its frame; one in `admin_only` needs the admin token. Every handler is
`handler(services, request, message)` and may return a coroutine, which the session runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping

from ..services import Services
from . import (blobs, calls, dashboard, deployments, dicts, history, images, node_files,
               objects, queues, sandboxes, secrets, server, terminals, tokens, volumes, web)
from . import nodes
from .context import Request

Handler = Callable[[Services, Request, Any], "Awaitable[None] | None"]


@dataclass(frozen=True)
class RouteTable:
    client: Mapping[str, Handler]
    container: Mapping[str, Handler]
    sandbox: Mapping[str, Handler]   # a sandbox's supervisor
    node: Mapping[str, Handler]      # a cluster node's agent
    takes_raw: frozenset[str]
    admin_only: frozenset[str]    # client routes only the admin token may use

    def find(self, role: str, kind: str) -> Handler | None:
        table = {"container": self.container, "sandbox": self.sandbox,
                 "node": self.node}.get(role, self.client)
        return table.get(kind)


ROUTES = RouteTable(
    client={
        "app_create": calls.app_create,
        "app_publish": deployments.app_publish,
        "app_history": deployments.app_history,
        "app_rollback": deployments.app_rollback,
        "app_stop": calls.app_stop,
        "app_list": calls.app_list,
        "app_lookup": calls.app_lookup,
        "function_create": calls.function_create,
        "function_get": calls.function_get,
        "function_bind": calls.function_bind,
        "function_update_autoscaler": calls.function_update_autoscaler,
        "function_stats_get": calls.function_stats_get,
        "function_variant": calls.function_variant,
        "call_create": calls.call_create,
        "inputs": calls.inputs,
        "call_get": calls.call_get,
        "call_graph_get": calls.call_graph_get,
        "call_cancel": calls.call_cancel,
        "call_close": calls.call_close,
        "container_list": calls.container_list,
        "node_list": nodes.node_list,
        "cluster_get": nodes.cluster_get,
        "container_stop": calls.container_stop,
        "log_subscribe": calls.log_subscribe,
        "call_history_list": history.call_history_list,
        "call_history_get": history.call_history_get,
        "blob_put": blobs.blob_put,
        "blob_get": blobs.blob_get,
        "object_lookup": objects.object_lookup,
        "object_list": objects.object_list,
        "object_delete": objects.object_delete,
        "dict_request": dicts.dict_request,
        "queue_put": queues.queue_put,
        "queue_get": queues.queue_get,
        "queue_peek": queues.queue_peek,
        "queue_len": queues.queue_len,
        "queue_clear": queues.queue_clear,
        "queue_cancel_wait": queues.queue_cancel_wait,
        "secret_create": secrets.secret_create,
        "volume_list_dir": volumes.volume_list_dir,
        "volume_read": volumes.volume_read,
        "volume_write": volumes.volume_write,
        "volume_remove": volumes.volume_remove,
        "volume_copy": volumes.volume_copy,
        "volume_commit": volumes.volume_commit,
        "image_build": images.image_build,
        "image_list": images.image_list,
        "image_remove": images.image_remove,
        "image_publish": images.image_publish,
        "image_from_name": images.image_from_name,
        "web_url_get": web.web_url_get,
        "proxy_token_create": web.proxy_token_create,
        "proxy_token_list": web.proxy_token_list,
        "proxy_token_revoke": web.proxy_token_revoke,
        "server_status": server.server_status,
        "server_shutdown": server.server_shutdown,
        "token_create": tokens.token_create,
        "token_list": tokens.token_list,
        "token_revoke": tokens.token_revoke,
        "dashboard_login_create": dashboard.dashboard_login_create,
        **sandboxes.CLIENT_ROUTES,
        "terminal_input": terminals.terminal_input,
    },
    container={
        "container_init": calls.container_init,
        "container_ready": calls.container_ready,
        "outputs": calls.container_outputs,
        "blob_put": blobs.blob_put,
        "blob_get": blobs.blob_get,
        "web_ready": web.web_ready,
        "web_url_get": web.web_url_get,   # get_web_url() inside a container
        **sandboxes.EXEC_ROUTES,          # `ketch container exec` into it
        "terminal_read": terminals.terminal_read,
        "terminal_data": terminals.terminal_data,
    },
    sandbox=sandboxes.SUPERVISOR_ROUTES,
    node={"node_fetch": node_files.node_fetch},
    takes_raw=frozenset({"volume_write", "sandbox_data"}),
    admin_only=frozenset({"server_shutdown", "token_create", "token_list", "token_revoke"}),
)
