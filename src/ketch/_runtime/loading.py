"""Loading the user's code in a container: the function or class its spec names (imported by
module path, or unpickled), the class's instance with its @enter hooks run, and at the end
its @exit hooks."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import traceback

from .._cls import Cls
from .._context import importing_user_code
from .._functions import Function
from .._partial import ENTER, EXIT, instantiate, lifecycle_methods
from .._serialization import deserialize
from ..proto import ketch_pb2 as pb


def load_target(spec: pb.FunctionSpec):
    """The user's function or class object named by the spec."""
    code = os.environ.get("KETCH_CODE_DIR")   # the app's uploaded code (/root when isolated)
    if code and code not in sys.path:
        sys.path.insert(0, code)
    if spec.pickled:
        return deserialize(spec.pickled)
    with importing_user_code():
        obj = importlib.import_module(spec.module)
    for part in spec.qualname.split("."):
        obj = getattr(obj, part)
    # The module's decorators turned it into a ketch handle; take the user's object.
    if isinstance(obj, Function):
        return obj._raw_f
    if isinstance(obj, Cls):
        return obj._user_cls
    return obj


class UserCode:
    """The user's function, or the instance of the user's class, that inputs call."""

    def __init__(self, spec: pb.FunctionSpec, class_params: bytes):
        self.spec = spec
        self.class_params = class_params
        self.target = None     # the function or class
        self.instance = None   # the class's instance

    async def load(self):
        """Imports the user's code and, for classes, builds the instance and runs @enter."""
        target = load_target(self.spec)
        if self.spec.is_class:
            args, kwargs = deserialize(self.class_params) if self.class_params else ((), {})
            self.instance = instantiate(target, args, kwargs)
            for name in lifecycle_methods(target, ENTER):
                result = getattr(self.instance, name)()
                if inspect.iscoroutine(result):
                    await result
        self.target = target

    def callable_for(self, method: str):
        if self.spec.is_class:
            return getattr(self.instance, method)
        return self.target

    async def run_exit_hooks(self):
        """Runs the class's @exit hooks; one that fails is printed and the rest still run."""
        if not self.spec.is_class or self.instance is None:
            return
        for name in lifecycle_methods(self.target, EXIT):
            try:
                result = getattr(self.instance, name)()
                if inspect.iscoroutine(result):
                    await result
            except Exception:
                traceback.print_exc()
