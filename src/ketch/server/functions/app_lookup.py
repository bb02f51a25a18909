"""`App.lookup(name, create_if_missing=...)`: the deployed app of a name in a workspace,
made (deployed, with no functions yet) when asked to. Sandboxes are what usually live in
such an app."""

from __future__ import annotations

from ..errors import ServiceError


def lookup_app(functions, workspace: str, name: str, create_if_missing: bool) -> str:
    """The app id. The handler runs on the server's one event loop without awaiting, so
    two clients looking up a missing name at once make one app."""
    if not name:
        raise ValueError("App.lookup needs the app's name")
    row = functions.store.deployed_app(name, workspace)
    if row is not None and row.app_id in functions.apps:
        return row.app_id
    if not create_if_missing:
        raise ServiceError(f"no deployed app named {name!r}; deploy it first, or pass "
                           "create_if_missing=True to make an empty one", "not_found")
    app = functions.create_app(workspace, name, False, False, None)
    functions.publish_app(workspace, app.id)
    return app.id
