"""The web dashboard: server-rendered pages over the server's live state (docs/dashboard.md).

`app.make_app` builds its ASGI app from the services bundle; `logins` holds the one-time
codes and the browser sessions they become. Starlette and Jinja2 are imported only when the
HTTP side starts and asks for the routes (see http/side.py), so a server that is starting
answers its own port without waiting for them.
"""


def dashboard_routes(services):
    """The dashboard's routes, for `HttpSide.add_routes` (imported as the side starts)."""
    from .app import dashboard_routes as routes

    return routes(services)
