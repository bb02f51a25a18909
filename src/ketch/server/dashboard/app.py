"""The dashboard's ASGI app: its routes, the login, and the checks every request passes.

Pages are rendered on the server (Jinja2, autoescaped) from `views`; one small script
(static/dashboard.js) polls two JSON endpoints for the live parts, the function chart and
the log tail. Every page and endpoint but `/login` and `/static` needs a session cookie;
every state-changing request is a POST that carries the session's CSRF token and comes
from this origin. docs/dashboard.md says why each choice was made.
"""

from __future__ import annotations

import hmac
import time
from pathlib import Path
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..services import Services
from . import logtail, views
from .logins import DashboardSession

HERE = Path(__file__).parent
COOKIE = "ketch_dashboard"
MAX_FORM_BYTES = 4096        # a stop form carries a token and nothing else
FUNCTION_PARTS = ("summary", "containers", "calls")   # function_parts.html
MAX_FILTER_CHARS = 200       # longer than any app or function name
SECURITY_HEADERS = {
    # Scripts and styles only from this origin (no inline code), no framing, no referrer
    # to other sites: a page's URLs hold ids, never secrets, but they are nobody else's
    # business. ("no-referrer" would make the browser send `Origin: null` on our own
    # forms, which the same-origin check must then refuse.)
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


class Refused(Exception):
    """A request that gets an error page (or JSON) with this status and message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Dashboard:
    def __init__(self, svc: Services):
        self.svc = svc
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"),
                               autoescape=select_autoescape(default=True),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(when=_when, ago=_ago, size=_size, seconds=_seconds)

    # -- sessions and checks

    def session_of(self, request: Request) -> DashboardSession:
        logins = self.svc.dashboard_logins
        secret = request.cookies.get(COOKIE)
        session = logins.session(secret)
        if session is not None and not self.svc.tokens.valid(session.principal):
            logins.end(secret)      # the token that made it was revoked
            session = None
        if session is None:
            raise Refused(401, "log in with `ketch dashboard` (or open the URL that "
                               "`ketch dashboard --url` prints)")
        return session

    async def checked_form(self, request: Request, session: DashboardSession) -> dict:
        """The form of a state-changing request, once it is known to come from this
        origin and to carry the session's CSRF token."""
        origin = request.headers.get("origin")
        expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if origin is not None and origin != expected:
            raise Refused(403, f"refused: this request came from {origin}, not {expected}")
        fetch_site = request.headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site != "same-origin":
            raise Refused(403, f"refused: a {fetch_site} request cannot change anything here")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise Refused(413, "refused: the form is too large")
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        token = form.get("csrf", "")
        if not token or not hmac.compare_digest(token.encode(), session.csrf.encode()):
            raise Refused(403, "refused: the form's CSRF token is missing or wrong; reload "
                               "the page and try again")
        return form

    def page(self, request: Request, template: str, session: DashboardSession | None,
             status: int = 200, **context) -> HTMLResponse:
        html = self.env.get_template(template).render(
            base=request.scope.get("root_path", ""), session=session, now=time.time(),
            **context)
        return HTMLResponse(html, status_code=status)

    # -- the login

    async def login(self, request: Request) -> Response:
        redeemed = self.svc.dashboard_logins.redeem(request.query_params.get("code"))
        if redeemed is None:
            raise Refused(401, "this login link was used already or has expired: a link "
                               "works once, for a minute. Run `ketch dashboard --url` again")
        secret, _, path = redeemed
        response = RedirectResponse(request.scope.get("root_path", "") + path, 303)
        # HttpOnly: scripts never read it; SameSite=Strict: no other site's page sends it.
        response.set_cookie(COOKIE, secret, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https",
                            path=request.scope.get("root_path", "") or "/")
        return response

    async def logout(self, request: Request) -> Response:
        session = self.session_of(request)
        await self.checked_form(request, session)
        self.svc.dashboard_logins.end(request.cookies.get(COOKIE))
        response = self.page(request, "message.html", None, title="Logged out",
                             message="You are logged out of the ketch dashboard.")
        response.delete_cookie(COOKIE, path=request.scope.get("root_path", "") or "/")
        return response

    # -- pages

    async def home(self, request: Request) -> Response:
        s = self.session_of(request)
        return self.page(request, "apps.html", s, apps=views.apps(self.svc, s.workspace))

    async def app_page(self, request: Request) -> Response:
        s = self.session_of(request)
        info = views.app(self.svc, s.workspace, request.path_params["app_id"])
        return self.page(request, "app.html", s, app=info)

    async def app_stop(self, request: Request) -> Response:
        s = self.session_of(request)
        await self.checked_form(request, s)
        app_id = request.path_params["app_id"]
        self.svc.functions.stop_app_request(s.workspace, app_id, "")
        return RedirectResponse(f"{request.scope.get('root_path', '')}/apps/{app_id}", 303)

    async def function_page(self, request: Request) -> Response:
        s = self.session_of(request)
        info = views.function(self.svc, s.workspace, request.path_params["function_id"])
        return self.page(request, "function.html", s, fn=info)

    async def function_part(self, request: Request) -> Response:
        """One part of the function page alone, which the page refreshes."""
        s = self.session_of(request)
        part = request.path_params["part"]
        if part not in FUNCTION_PARTS:
            raise Refused(404, f"no part {part!r} of a function page")
        info = views.function(self.svc, s.workspace, request.path_params["function_id"])
        return self.page(request, "function_part.html", s, fn=info, part=part)

    async def function_sample(self, request: Request) -> Response:
        s = self.session_of(request)
        return JSONResponse(views.function_sample(self.svc, s.workspace,
                                                  request.path_params["function_id"]))

    async def containers_page(self, request: Request) -> Response:
        s = self.session_of(request)
        return self.page(request, "containers.html", s,
                         containers=views.containers(self.svc, s.workspace))

    async def container_page(self, request: Request) -> Response:
        s = self.session_of(request)
        container_id = request.path_params["container_id"]
        try:
            c = views.container_summary(
                views.container_record(self.svc, s.workspace, container_id))
        except LookupError:
            c = views.exited_container(self.svc, s.workspace, container_id)
        return self.page(request, "container.html", s, c=c)

    async def container_sample(self, request: Request) -> Response:
        s = self.session_of(request)
        return JSONResponse(views.container_sample(self.svc, s.workspace,
                                                   request.path_params["container_id"]))

    async def container_stop(self, request: Request) -> Response:
        s = self.session_of(request)
        await self.checked_form(request, s)
        container_id = request.path_params["container_id"]
        c = views.container_record(self.svc, s.workspace, container_id)
        fn_id = c.fn.id
        self.svc.functions.stop_container_by_id(s.workspace, container_id)
        return RedirectResponse(f"{request.scope.get('root_path', '')}/functions/{fn_id}",
                                303)

    async def container_logs(self, request: Request) -> Response:
        s = self.session_of(request)
        container_id = request.path_params["container_id"]
        app_id = request.query_params.get("app", "")
        after = request.query_params.get("after")
        # The container may have exited meanwhile: its app (the workspace's) still has
        # its lines.
        if app_id:
            app_id = self.svc.functions.log_app_id(s.workspace, app_id, "")
        else:
            app_id = views.container_record(self.svc, s.workspace, container_id).fn.app.id
        lines, offset = logtail.read(self.svc.logs.path(app_id),
                                     int(after) if after and after.isdigit() else None,
                                     container_id)
        running = container_id in self.svc.functions.containers
        return JSONResponse({"lines": lines, "after": offset, "running": running})

    async def calls_page(self, request: Request) -> Response:
        s = self.session_of(request)
        q = request.query_params
        filters = {key: q.get(key, "")[:MAX_FILTER_CHARS]
                   for key in ("app", "function", "status")}
        return self.page(request, "calls.html", s, filters=filters,
                         calls=views.calls(self.svc, s.workspace, **filters))

    async def call_page(self, request: Request) -> Response:
        s = self.session_of(request)
        return self.page(request, "call.html", s,
                         call=await views.call(self.svc, s.workspace,
                                               request.path_params["call_id"]))

    async def images_page(self, request: Request) -> Response:
        s = self.session_of(request)
        return self.page(request, "images.html", s, **views.images(self.svc, s.workspace))

    async def objects_page(self, request: Request) -> Response:
        s = self.session_of(request)
        return self.page(request, "objects.html", s,
                         objects=await views.objects(self.svc, s.workspace))

    async def nodes_page(self, request: Request) -> Response:
        s = self.session_of(request)
        return self.page(request, "nodes.html", s, nodes=views.nodes(self.svc, s.workspace))

    # -- errors

    def refused(self, request: Request, exc: Refused) -> Response:
        if request.url.path.startswith(request.scope.get("root_path", "") + "/api/"):
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        title = "Log in" if exc.status == 401 else "Refused"
        return self.page(request, "message.html", None, status=exc.status, title=title,
                         message=str(exc))


def dashboard_routes(svc: Services, prefix: str = "") -> list[Mount]:
    """The dashboard's routes for the HTTP side, after its own (/metrics): everything
    under `prefix` that they do not take."""
    return [Mount(prefix, app=make_app(svc))]


def make_app(svc: Services) -> Starlette:
    """The dashboard, as an ASGI app to mount at the root (or under a prefix) of the
    server's HTTP side."""
    d = Dashboard(svc)
    routes = [
        Route("/", d.home),
        Route("/login", d.login),
        Route("/logout", d.logout, methods=["POST"]),
        Route("/apps/{app_id}", d.app_page),
        Route("/apps/{app_id}/stop", d.app_stop, methods=["POST"]),
        Route("/functions/{function_id}", d.function_page),
        Route("/functions/{function_id}/part/{part}", d.function_part),
        Route("/api/functions/{function_id}/sample", d.function_sample),
        Route("/containers", d.containers_page),
        Route("/containers/{container_id}", d.container_page),
        Route("/containers/{container_id}/stop", d.container_stop, methods=["POST"]),
        Route("/api/containers/{container_id}/logs", d.container_logs),
        Route("/api/containers/{container_id}/sample", d.container_sample),
        Route("/calls", d.calls_page),
        Route("/calls/{call_id}", d.call_page),
        Route("/images", d.images_page),
        Route("/objects", d.objects_page),
        Route("/nodes", d.nodes_page),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]

    async def refused(request, exc):
        return d.refused(request, exc)

    async def not_found(request, exc):
        return d.refused(request, Refused(404, str(exc.args[0] if exc.args else exc)))

    async def invalid(request, exc):
        return d.refused(request, Refused(400, str(exc)))

    app = Starlette(routes=routes, exception_handlers={
        Refused: refused, LookupError: not_found, ValueError: invalid})
    return _with_headers(app)


def _with_headers(app):
    """Adds SECURITY_HEADERS to every response (pages, JSON, static files)."""
    extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await app(scope, receive, send_with_headers)

    return wrapped


# -- template filters

def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else ""


def _ago(ts: float | None) -> str:
    if not ts:
        return ""
    return _seconds(time.time() - ts) + " ago"


def _seconds(s: float | None) -> str:
    if s is None:
        return ""
    if s == float("inf"):
        return "∞"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)

