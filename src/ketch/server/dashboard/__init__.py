"""The web dashboard: server-rendered pages over the server's live state (docs/dashboard.md).

`app.make_app` builds its ASGI app from the services bundle; `logins` holds the one-time
codes and the browser sessions they become. This package's own modules are imported by
name (nothing is re-exported here), so `services` can name `logins` without importing the
pages, which import `services`.
"""
