"""The shape of the source tree (issue 8): no import circles, no file over 500 lines, and
none of the arrows that must never be drawn. Imports are read with `ast`, so the ones under
TYPE_CHECKING and inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_LINES = 500
GENERATED = {"ketch.proto.ketch_pb2"}


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """The ketch modules `name` imports; `from . import x` names x, not the package."""
    path, is_package = MODULES[name]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[:len(here) - node.level + 1]
                base = ".".join(here + ([node.module] if node.module else []))
            subs = [f"{base}.{alias.name}" for alias in node.names]
            targets = [s for s in subs if s in MODULES]
            if len(targets) < len(subs):
                targets.append(base)
        else:
            continue
        out.update(t for t in targets if t in MODULES and t != name)
    return out


GRAPH = {name: _imports(name) for name in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    assert _cycles() == []


def test_no_source_file_over_500_lines():
    long = {name: n for name, (path, _) in MODULES.items()
            if name not in GENERATED and (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("source, target", [
    ("ketch", "ketch.server.main"),               # nothing imports main
    ("ketch._runtime", "ketch.server"),           # containers carry no server code
    ("ketch.node", "ketch.server.api"),           # a node runs backends, not the server
    ("ketch.node", "ketch.server.functions"),
    ("ketch.server.functions", "ketch.server.api"),
    ("ketch.server.gateway", "ketch.server.api"),
    ("ketch.server.images", "ketch.server.api"),
    ("ketch.server.images", "ketch.server.functions"),
    ("ketch.server.objects", "ketch.server.volumes"),
    ("ketch.server.objects", "ketch.server.secrets"),
    ("ketch.server.autoscaler", "ketch.server.functions.service"),
    ("ketch.server.autoscaler", "ketch.server.functions.containers"),
    ("ketch.server.runtime", "ketch.server.functions"),
    ("ketch.server.functions", "ketch.server.dashboard"),   # the pages read the services
    ("ketch.server.api", "ketch.server.dashboard.app"),     # two transports, side by side
])
def test_arrows_that_must_never_be_drawn(source, target):
    drawn = sorted((a, b) for a, deps in GRAPH.items() for b in deps
                   if _under(a, source) and _under(b, target)
                   and not (source == "ketch" and a == "ketch.server.__main__"))
    assert drawn == []


def test_state_services_take_no_session_or_server():
    state = ["dicts", "queues", "secrets", "volumes", "objects", "blobs", "logs", "store"]
    for name in state:
        deps = GRAPH[f"ketch.server.{name}"]
        assert not {d for d in deps if _under(d, "ketch.server.api")
                    or d == "ketch.server.main"}, name
