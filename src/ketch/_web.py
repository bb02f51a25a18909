"""Web endpoint decorators: `@fastapi_endpoint`, `@asgi_app`, `@wsgi_app`, `@web_server`.

Each sits below `@app.function()` (or on a method of an `@app.cls()` class) and marks the
Python function with its settings; `@app.function`/`@app.cls` turn the marks into the
`WebEndpoint`s of the function's spec. The gateway (`ketch.server.gateway`) routes
`http://<app>--<label>.localhost:<port>/…` to the function's containers, which serve the
app on a loopback port (`ketch._runtime.web`).
"""

from __future__ import annotations

import functools
import inspect
import re
import socket
import urllib.parse

from ._partial import is_handle
from .exception import InvalidError
from .proto import ketch_pb2 as pb

WEB = "__ketch_web__"
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _check_label(label, decorator: str):
    if label is None:
        return ""
    if not isinstance(label, str) or not _LABEL_RE.match(label) or "--" in label:
        raise InvalidError(f"@ketch.{decorator}(label={label!r}): a label is 1-63 lowercase "
                           "letters, digits and single hyphens, starting and ending with a "
                           "letter or digit (it becomes part of a host name)")
    return label


def default_label(name: str) -> str:
    """A host-name-safe label from a function or method name: `make_thing` → `make-thing`."""
    label = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return label or "web"


def _mark(decorator: str, endpoint: pb.WebEndpoint, takes_no_args: bool):
    def decorate(f):
        if is_handle(f):
            raise InvalidError(f"@ketch.{decorator} must sit below @app.function() (or on a "
                               "method of an @app.cls() class), next to the Python function")
        if not inspect.isfunction(f):
            raise InvalidError(f"@ketch.{decorator} decorates a function defined with def, "
                               f"not {type(f).__name__}")
        if getattr(f, WEB, None) is not None:
            raise InvalidError(f"{f.__qualname__} has two web decorators; give it one")
        if inspect.isgeneratorfunction(f) or inspect.isasyncgenfunction(f):
            raise InvalidError(f"@ketch.{decorator} on {f.__qualname__}: a web endpoint cannot "
                               "be a generator; stream with a StreamingResponse instead")
        if takes_no_args:
            params = [p for p in inspect.signature(f).parameters.values()
                      if p.default is inspect.Parameter.empty and
                      p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            if params and params[0].name == "self":
                params = params[1:]
            if params:
                raise InvalidError(f"@ketch.{decorator} on {f.__qualname__}: the function takes "
                                   "no arguments; it "
                                   + ("starts the server process and returns"
                                      if decorator == "web_server" else "returns the app"))
        setattr(f, WEB, endpoint)
        return f

    return decorate


def fastapi_endpoint(_f=None, *, method: str = "GET", label: str | None = None,
                     docs: bool = False, requires_proxy_auth: bool = False,
                     custom_domains=None):
    """Serves the function over HTTP with FastAPI: query parameters and JSON bodies become
    its arguments, its return value the response. FastAPI must be installed where the
    container runs."""
    if _f is not None:
        raise InvalidError("use @ketch.fastapi_endpoint() with parentheses")
    if custom_domains:
        raise NotImplementedError("custom_domains= is not in ketch: the gateway serves "
                                  "<app>--<label>.localhost. Remove custom_domains=")
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        raise InvalidError(f"@ketch.fastapi_endpoint(method={method!r}): give one of "
                           f"{', '.join(HTTP_METHODS)}")
    endpoint = pb.WebEndpoint(kind="fastapi", label=_check_label(label, "fastapi_endpoint"),
                              http_method=method.upper(), docs=bool(docs),
                              requires_proxy_auth=bool(requires_proxy_auth))
    return _mark("fastapi_endpoint", endpoint, takes_no_args=False)


def asgi_app(_f=None, *, label: str | None = None, requires_proxy_auth: bool = False,
             custom_domains=None):
    """The function takes no arguments and returns an ASGI app (FastAPI, Starlette, …);
    ketch serves it, WebSockets included."""
    return _app_decorator("asgi_app", "asgi", _f, label, requires_proxy_auth, custom_domains)


def wsgi_app(_f=None, *, label: str | None = None, requires_proxy_auth: bool = False,
             custom_domains=None):
    """The function takes no arguments and returns a WSGI app (Flask, Django, …)."""
    return _app_decorator("wsgi_app", "wsgi", _f, label, requires_proxy_auth, custom_domains)


def _app_decorator(name, kind, _f, label, requires_proxy_auth, custom_domains):
    if _f is not None:
        raise InvalidError(f"use @ketch.{name}() with parentheses")
    if custom_domains:
        raise NotImplementedError(f"custom_domains= is not in ketch: the gateway serves "
                                  f"<app>--<label>.localhost. Remove custom_domains= from "
                                  f"@ketch.{name}")
    endpoint = pb.WebEndpoint(kind=kind, label=_check_label(label, name),
                              requires_proxy_auth=bool(requires_proxy_auth))
    return _mark(name, endpoint, takes_no_args=True)


def web_server(port: int, *, startup_timeout: float = 5.0, label: str | None = None,
               requires_proxy_auth: bool = False, custom_domains=None):
    """The function starts a process that listens on `port` (any HTTP server: a model
    server binary, `python -m http.server`, …) and returns; ketch routes requests to it once
    the port accepts connections, waiting up to `startup_timeout` seconds."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidError(f"@ketch.web_server(port={port!r}): give the TCP port (1-65535) "
                           "the process listens on")
    if isinstance(startup_timeout, bool) or not isinstance(startup_timeout, (int, float)) \
            or not 0 < startup_timeout <= 86400:
        raise InvalidError(f"@ketch.web_server(startup_timeout={startup_timeout!r}): give "
                           "seconds, more than 0")
    if custom_domains:
        raise NotImplementedError("custom_domains= is not in ketch: the gateway serves "
                                  "<app>--<label>.localhost. Remove custom_domains=")
    endpoint = pb.WebEndpoint(kind="server", label=_check_label(label, "web_server"),
                              port=port, startup_timeout_s=float(startup_timeout),
                              requires_proxy_auth=bool(requires_proxy_auth))
    return _mark("web_server", endpoint, takes_no_args=True)


def endpoints_of(obj, tag: str, is_class: bool) -> list[pb.WebEndpoint]:
    """The web endpoints a decorated function, or the web methods of a class, declare, with
    labels filled in."""
    found = []
    if is_class:
        for name, member in inspect.getmembers(obj, inspect.isfunction):
            mark = getattr(member, WEB, None)
            if mark is not None:
                ep = pb.WebEndpoint()
                ep.CopyFrom(mark)
                ep.method = name
                ep.label = ep.label or default_label(f"{tag}-{name}")
                found.append(ep)
    else:
        mark = getattr(obj, WEB, None)
        if mark is not None:
            ep = pb.WebEndpoint()
            ep.CopyFrom(mark)
            ep.label = ep.label or default_label(tag)
            found.append(ep)
    return found


def check_definition(where: str, endpoints: list[pb.WebEndpoint], batched: bool,
                     taken: dict[str, str]):
    """Refuses what cannot be served: two endpoints of one app with the same label, and
    @batched web functions. `taken` maps the app's labels to the functions that own them."""
    for ep in endpoints:
        owner = taken.get(ep.label)
        if owner is not None:
            raise InvalidError(f"{where}: the web label {ep.label!r} is already used by "
                               f"{owner} in this app; pass label= to tell them apart")
    if endpoints and batched:
        raise InvalidError(f"{where}: a web endpoint cannot be @ketch.batched; use "
                           "@ketch.concurrent(max_inputs=...) to serve requests in parallel")


def reachable_url(web_url: pb.WebUrl) -> str:
    """The host form of an endpoint's URL, or its path form where *.localhost names do not
    resolve on this machine (browsers and curl resolve them; glibc without
    nss-myhostname does not)."""
    host = urllib.parse.urlsplit(web_url.url).hostname if web_url.url else None
    if host and host.endswith(".localhost") and not _resolves(host):
        return web_url.path_url
    return web_url.url


@functools.lru_cache(maxsize=256)
def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None)
    except OSError:
        return False
    return True
