"""Modal's public modules port by changing the import: each of ketch's has Modal's names,
working or saying they are not in ketch yet (tests/modal_names.json lists Modal 1.6's)."""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

import pytest

import ketch

MODAL = json.loads((Path(__file__).parent / "modal_names.json").read_text())


def _module(name: str):
    return ketch if name == "__init__" else importlib.import_module(f"ketch.{name}")


@pytest.mark.parametrize("module", sorted(MODAL["modules"]))
def test_every_modal_name_works_or_says_it_is_not_in_ketch_yet(module):
    mod = _module(module)
    for name in MODAL["modules"][module]:
        try:
            getattr(mod, name)
        except AttributeError as exc:
            message = str(exc)
            assert f"{mod.__name__}.{name} is not in ketch yet (" in message, message
            assert len(message.split("(", 1)[1]) > 20, message  # says what it is, or instead
            assert not hasattr(mod, name)
            with pytest.raises(ImportError, match=f"{name} is not in ketch yet"):
                exec(f"from {mod.__name__} import {name}", {})


def test_ported_imports_give_ketchs_objects():
    import ketch.queue
    from ketch.cls import Obj, is_parameter, parameter
    from ketch.dict import Dict
    from ketch.functions import Function, FunctionCall
    from ketch.partial_function import web_endpoint

    assert ketch.queue.Queue is ketch.Queue and Dict is ketch.Dict
    assert (Function, FunctionCall) == (ketch.Function, ketch.FunctionCall)
    assert web_endpoint is ketch.fastapi_endpoint is ketch.web_endpoint
    assert is_parameter(parameter(default=1)) and not is_parameter(1)

    app = ketch.App("ported")

    @app.cls(serialized=True)
    class Model:
        size: int = parameter(default=1)

        @ketch.method()
        def f(self):
            return self.size

    assert isinstance(Model(size=2), Obj)
    assert ketch.experimental.InvalidError is ketch.exception.InvalidError


@pytest.mark.parametrize("module", MODAL["not_provided"])
def test_modal_modules_ketch_lacks_are_absent(module):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"ketch.{module}")


def test_unknown_names_are_plain_attribute_errors():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        ketch.queue.nope
    assert not hasattr(ketch.experimental, "nope")


def test_star_import_binds_no_submodule_over_a_builtin():
    namespace: dict = {}
    exec("from ketch import *", namespace)
    assert "dict" not in namespace and "queue" not in namespace
    assert "types" in namespace and "App" in namespace


@pytest.mark.parametrize("qualname", sorted(MODAL["classes"]))
def test_every_modal_method_and_parameter_exists_working_or_saying_not_yet(qualname):
    module, name = qualname.rsplit(".", 1)
    cls = getattr(_module(module), name)
    methods = MODAL["classes"][qualname]
    assert [m for m in methods if m not in dir(cls)] == []
    lacking = {}
    for method, params in methods.items():
        if params is None:   # a property
            continue
        fn = inspect.getattr_static(cls, method)
        fn = getattr(fn, "__func__", None) or getattr(fn, "_fn", None) or fn  # twins too
        sig = inspect.signature(fn)
        if not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            lacking.update({method: missing} if (missing := [
                p for p in params if p not in sig.parameters]) else {})
    assert lacking == {}
