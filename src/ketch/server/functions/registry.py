"""The live apps and functions: created, bound to class parameters, found by name,
brought back from the store after a restart."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from .model import AppRecord, FunctionRecord, Peer, new_id
from .variants import KEY_PREFIX as VARIANT_KEY


MAX_REDEPLOY_HOPS = 100


class Registry:
    def __init__(self, store):
        self.store = store
        self.apps: dict[str, AppRecord] = {}
        self.functions: dict[str, FunctionRecord] = {}
        # A replaced version's function id → its successor's: handles hydrated before a
        # redeploy call the new version, as on Modal.
        self.successors: dict[str, str] = {}

    # ------------------------------------------------------------------ apps

    def create_app(self, workspace: str, name: str, ephemeral: bool, detach: bool, peer: Peer
                   ) -> AppRecord:
        app_id = new_id("ap")
        state = ("detached" if detach else "ephemeral") if ephemeral else "deploying"
        app = AppRecord(app_id, name, state, None if detach else peer, workspace)
        self.apps[app_id] = app
        if ephemeral and not detach:
            peer.apps.add(app_id)
        self.store.add_app(app_id, name, state, workspace)
        return app

    def app(self, workspace: str, app_id: str) -> AppRecord:
        app = self.apps.get(app_id)
        if app is None or app.workspace != workspace:
            raise LookupError(f"no running app with id {app_id}")
        return app

    def running_app_id(self, workspace: str, app_id: str, name: str) -> str:
        """The app a stop request names, by id or (the deployed one first) by name."""
        if app_id:
            return self.app(workspace, app_id).id
        row = self.store.deployed_app(name, workspace)
        running = [a for a in self.apps.values() if a.name == name and a.workspace == workspace]
        if row is None and not running:
            raise LookupError(f"no running app named {name!r}; `ketch app list` "
                              "shows the apps")
        return row.app_id if row else running[0].id

    def any_app_id(self, workspace: str, app_id: str, name: str) -> str:
        """The app whose logs a request names, by id or by name (stopped ones too)."""
        if app_id:
            if self.store.app_workspace(app_id) != workspace:
                raise LookupError(f"no app with id {app_id}; `ketch app list` shows the apps")
            return app_id
        rows = [r for r in self.store.apps(workspace=workspace) if r.name == name]
        if not rows:
            raise LookupError(f"no app named {name!r}; `ketch app list` shows the apps")
        return rows[0].app_id

    def app_summaries(self, workspace: str) -> list[pb.AppInfo]:
        """Every app of the workspace: live ones with their counts, and stopped ones."""
        apps = []
        for row in self.store.apps(workspace=workspace):
            app = self.apps.get(row.app_id)
            if app is None and row.state not in ("stopped",):
                continue  # a leftover of a previous server process
            n_fn = len(app.functions) if app else 0
            n_ct = sum(len(f.containers) for f in self.functions.values()
                       if app is not None and f.app is app)
            apps.append(pb.AppInfo(app_id=row.app_id, name=row.name,
                                   state=app.state if app else row.state,
                                   created_at=row.created_at, n_functions=n_fn,
                                   n_containers=n_ct, stopped_at=row.stopped_at or 0,
                                   waiting=[f"{f.label} {f.unplaceable}" for f in
                                            (app.functions.values() if app else ())
                                            if f.unplaceable]))
        return apps

    # ------------------------------------------------------------------ functions

    def create_function(self, workspace: str, app_id: str, spec: pb.FunctionSpec
                        ) -> FunctionRecord:
        app = self.app(workspace, app_id)
        fn = FunctionRecord(new_id("fu"), app, spec)
        self.store.add_function(fn.id, app_id, spec.name, spec.SerializeToString())
        self.add(fn)
        return fn

    def bind(self, workspace: str, function_id: str, params: bytes
             ) -> tuple[FunctionRecord, bool]:
        """The class bound to `params`, and whether it is new."""
        parent = self.get(workspace, function_id)
        if not parent.spec.is_class:
            raise ValueError(f"{parent.label} is not a class; only classes take parameters")
        fn = parent.bound.get(params)
        if fn is not None:
            return fn, False
        fn = FunctionRecord(new_id("fu"), parent.app, parent.spec, params, parent)
        self.store.add_function(fn.id, parent.app.id, parent.spec.name,
                                parent.spec.SerializeToString(), parent.id, params)
        parent.bound[params] = fn
        self.add(fn)
        return fn, True

    def variant(self, workspace: str, function_id: str, spec: pb.FunctionSpec, key: bytes
                ) -> tuple[FunctionRecord, bool]:
        """The variant of a function under `key` (made with `spec` if new), and whether it
        is new. It is kept among its base's bound records, so it is found again, retired
        with its app and restored with it."""
        base = self.get(workspace, function_id)
        fn = base.bound.get(key)
        if fn is not None:
            return fn, False
        fn = FunctionRecord(new_id("fu"), base.app, spec, None, base)
        self.store.add_function(fn.id, base.app.id, spec.name, spec.SerializeToString(),
                                base.id, key)
        base.bound[key] = fn
        self.add(fn)
        return fn, True

    def add(self, fn: FunctionRecord):
        self.functions[fn.id] = fn
        if fn.parent is None:
            fn.app.functions[fn.spec.name] = fn

    def get(self, workspace: str, function_id: str) -> FunctionRecord:
        fn = self.functions.get(function_id)
        for _ in range(MAX_REDEPLOY_HOPS):  # each redeploy since the caller looked it up
            if fn is not None and fn.replaced_by is not None:
                fn = fn.replaced_by
            elif fn is None and function_id in self.successors:
                function_id = self.successors[function_id]
                fn = self.functions.get(function_id)
            else:
                break
        if fn is not None and fn.id not in self.functions:
            fn = None  # its successor was stopped too
        if fn is None or fn.app.workspace != workspace:
            raise LookupError(f"no live function with id {function_id}; its app may have "
                              "been stopped or redeployed")
        return fn

    def lookup(self, workspace: str, app_name: str, app_id: str, name: str) -> FunctionRecord:
        if app_id:
            app = self.apps.get(app_id)
        else:
            row = self.store.deployed_app(app_name, workspace)
            app = self.apps.get(row.app_id) if row else None
        if app is None or app.workspace != workspace:
            raise LookupError(f"no deployed app named {app_name!r}; deploy it first with "
                              "`ketch deploy FILE` or `app.deploy()`")
        fn = app.functions.get(name)
        if fn is None:
            names = ", ".join(sorted(app.functions)) or "none"
            raise LookupError(f"app {app.name!r} has no function or class named {name!r} "
                              f"(it has: {names})")
        return fn

    def images_in_use(self, workspace: str) -> set[str]:
        """Images of the workspace's live functions (running or deployed apps)."""
        return {fn.spec.image_id for fn in self.functions.values()
                if fn.spec.image_id and fn.app.workspace == workspace}

    # ------------------------------------------------------------------ restart

    def successor_after_restart(self, function_id: str
                                ) -> tuple[FunctionRecord, bytes | None] | None:
        """A stored function of a version that was still draining when the server stopped
        (not restored): its name's function in its app's deployed version, and the class
        parameters to bind that to (None: itself), as a redeploy passes calls on."""
        origin = self.store.function_origin(function_id)
        if origin is None:
            return None
        app_name, workspace, name, parent_id, params = origin
        app = next((a for a in self.apps.values() if a.name == app_name and
                    a.workspace == workspace and a.state == "deployed"), None)
        fn = app.functions.get(name) if app is not None else None
        if fn is None or fn.id == function_id:
            return None
        bound = parent_id and params and not params.startswith(VARIANT_KEY)
        if bound and not fn.spec.is_class:
            return None   # the name is no longer a class: nothing to bind the call to
        return fn, params if bound else None

    def restore(self) -> list[FunctionRecord]:
        """Brings back the deployed apps and their functions; apps that ran with a client
        ended with the previous server process. Returns the functions restored."""
        for row in self.store.apps(states=("ephemeral", "detached", "deploying")):
            self.store.set_app_state(row.app_id, "stopped")
        restored = []
        for row in self.store.apps(states=("deployed",)):
            app = AppRecord(row.app_id, row.name, "deployed", None, row.workspace)
            app.created_at = row.created_at
            self.apps[app.id] = app
            parents: dict[str, FunctionRecord] = {}
            for frow in self.store.functions_of(app.id):
                spec = pb.FunctionSpec.FromString(frow.spec)
                parent = parents.get(frow.parent_id) if frow.parent_id else None
                params = None if (frow.params or b"").startswith(VARIANT_KEY) else \
                    frow.params
                fn = FunctionRecord(frow.function_id, app, spec, params, parent)
                if parent is not None:
                    parent.bound[frow.params] = fn
                parents[fn.id] = fn   # a variant's instances name it as their parent
                self.add(fn)
                restored.append(fn)
        return restored
