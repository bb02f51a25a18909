"""Loading the user's code in a container: the function or class its spec names (imported by
module path, or unpickled), the class's instance with its @enter hooks run, and at the end
its @exit hooks.

With memory snapshots, a zygote loads it first (`preload`: the import, the instance, the
@enter(snap=True) hooks) and each container forked from it finds it loaded and runs only
the other @enter hooks."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import sys
import threading
import traceback

from .._cls import Cls
from .._context import importing_user_code
from .._functions import Function
from .._partial import ENTER, EXIT, instantiate, lifecycle_methods
from .._serialization import deserialize
from ..proto import ketch_pb2 as pb
from . import threadpools


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


# What a snapshot zygote loaded: ((spec bytes, class params), UserCode), inherited by the
# containers forked from it.
_PRELOADED: tuple | None = None


def _snap_hooks(target, snap: bool) -> list[str]:
    """The class's @enter hooks of one kind: snap=True ones run before a snapshot."""
    def is_snap(name):
        marker = getattr(getattr(target, name), ENTER)  # True, or enter()'s arguments
        return isinstance(marker, dict) and bool(marker.get("snap"))

    return [name for name in lifecycle_methods(target, ENTER) if is_snap(name) == snap]


def preload(container_spec: pb.ContainerSpec):
    """In a snapshot zygote: imports the user's code and runs its snap=True hooks once,
    for every container forked after. Raises RuntimeError when they leave threads running
    (a fork takes only the thread that forks)."""
    global _PRELOADED
    code = UserCode(container_spec.spec, container_spec.class_params)
    asyncio.run(code.load(snap_only=True))
    asyncio.set_event_loop(None)
    name = container_spec.spec.name
    extra = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    if extra:
        raise RuntimeError(
            f"memory snapshot of {name}: threads still run after its "
            f"import and @enter(snap=True) hooks ({', '.join(extra)}), and a fork would leave "
            "them behind; start them in an @enter(snap=False) hook instead")
    native = threadpools.native_threads()
    if native:
        raise RuntimeError(
            f"memory snapshot of {name}: {native} native thread(s) still run after its "
            "import and @enter(snap=True) hooks (a library's thread pool), and a fork would "
            "leave them behind (an OpenMP pool that ran before the fork hangs the "
            "container's next parallel operation). The snapshot runs with "
            "OMP_NUM_THREADS=1 unless the image sets it, so OpenMP (torch), OpenBLAS and "
            "MKL start none: set OMP_NUM_THREADS in the function's env (secrets=) rather "
            "than the image's; start other pools in an @enter(snap=False) hook, or keep them "
            "off while the snap hooks run (e.g. TOKENIZERS_PARALLELISM=false)")
    _PRELOADED = ((container_spec.spec.SerializeToString(deterministic=True),
                   container_spec.class_params), code)


class UserCode:
    """The user's function, or the instance of the user's class, that inputs call."""

    def __init__(self, spec: pb.FunctionSpec, class_params: bytes):
        self.spec = spec
        self.class_params = class_params
        self.target = None     # the function or class
        self.instance = None   # the class's instance
        self.doing = ""        # the step load() is at, named when it fails

    async def load(self, snap_only: bool = False):
        """Imports the user's code and, for classes, builds the instance and runs @enter
        (snap=True hooks first, as Modal does): only the snap=True ones when snap_only
        (in a snapshot zygote), only the others when a zygote loaded it already."""
        loaded = _PRELOADED and _PRELOADED[0] == (
            self.spec.SerializeToString(deterministic=True), self.class_params)
        if loaded:
            target, self.instance = _PRELOADED[1].target, _PRELOADED[1].instance
            kinds = [False]
            threadpools.restore(os.environ)  # the snapshot ran them at one thread
        else:
            self.doing = (f"loading {self.spec.qualname} (pickled)" if self.spec.pickled
                          else f"importing module {self.spec.module}")
            try:
                target = load_target(self.spec)
            except BaseException as exc:
                # The traceback alone reads like a crash of the function: say where it was.
                if hasattr(exc, "add_note"):   # Python 3.11+
                    exc.add_note(f"ketch: raised while {self.doing} in the function's "
                                 "container, so the function cannot run")
                raise
            kinds = [True] if snap_only else [True, False]
        if self.spec.is_class:
            if not loaded:
                args, kwargs = deserialize(self.class_params) if self.class_params else ((), {})
                self.instance = instantiate(target, args, kwargs)
            for snap in kinds:
                for name in _snap_hooks(target, snap):
                    self.doing = f"running @enter hook {name}"
                    result = getattr(self.instance, name)()
                    if inspect.iscoroutine(result):
                        await result
        self.target = target
        self.doing = ""

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
