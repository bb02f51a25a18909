"""Decorators that mark functions, classes and methods without wrapping them:
`@concurrent`, `@batched`, `@enter`, `@exit`, `@method`, and `parameter()` fields.

Each stores its settings on the decorated object; `@app.function` and `@app.cls` read them.
"""

from __future__ import annotations

import inspect

from .exception import InvalidError

CONCURRENT = "__ketch_concurrent__"
BATCHED = "__ketch_batched__"
CLUSTERED = "__ketch_clustered__"
ENTER = "__ketch_enter__"
EXIT = "__ketch_exit__"
METHOD = "__ketch_method__"
# Set (True) on the classes of the handles `@app.function` and `@app.cls` return, so a
# decorator can tell it was placed above them without importing them.
HANDLE = "__ketch_handle__"


def is_handle(obj) -> bool:
    """True for a ketch Function or Cls handle (rather than the user's function or class)."""
    return getattr(type(obj), HANDLE, False) is True


def _check_target(obj, decorator: str):
    if is_handle(obj):
        raise InvalidError(f"@ketch.{decorator} must sit below @app.function or @app.cls, "
                           "next to the Python function or class")
    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        raise InvalidError(f"@ketch.{decorator} decorates a function or class, not "
                           f"{type(obj).__name__}")


def _int_in(name: str, value, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidError(f"{name}={value!r}: give an int from {low} to {high}")
    return value


def concurrent(_target=None, *, max_inputs: int, target_inputs: int | None = None):
    """Lets one container run up to `max_inputs` inputs at once; the autoscaler aims for
    `target_inputs` per container (default: max_inputs)."""
    if _target is not None:
        raise InvalidError("use @ketch.concurrent(max_inputs=N), with parentheses")
    _int_in("max_inputs", max_inputs, 1, 1000)
    if target_inputs is not None:
        _int_in("target_inputs", target_inputs, 1, max_inputs)

    def decorate(obj):
        _check_target(obj, "concurrent")
        setattr(obj, CONCURRENT, (max_inputs, target_inputs or max_inputs))
        return obj

    return decorate


# The most containers one gang may have: Modal allows up to 32 nodes per cluster.
MAX_CLUSTER_SIZE = 32


def clustered(_target=None, *, size: int, broadcast: bool = True, rdma: bool = False):
    """Starts the function's containers as a gang of `size`, placed together (all or none);
    each input runs on every container of the gang and rank 0's output is the result.
    Inside, `ketch.experimental.get_cluster_info()` gives the rank and every rank's IP."""
    if _target is not None:
        raise InvalidError("use @ketch.clustered(size=N), with parentheses")
    _int_in("size", size, 1, MAX_CLUSTER_SIZE)
    if broadcast is not True:
        raise InvalidError("@ketch.clustered(broadcast=False) is not in ketch: every input "
                           "runs on every container of the gang")
    if rdma:
        raise InvalidError("@ketch.clustered(rdma=True): ketch has no RDMA networking; the "
                           "gang's containers reach each other over their nodes' IP network")

    def decorate(obj):
        _check_target(obj, "clustered")
        setattr(obj, CLUSTERED, size)
        return obj

    return decorate


def batched(_target=None, *, max_batch_size: int, wait_ms: int):
    """The function takes lists and returns a list: ketch gathers up to `max_batch_size`
    inputs, waiting at most `wait_ms` for a batch to fill. On a method of an @app.cls class
    it also makes the method callable remotely; such a class has no other remote method."""
    if _target is not None:
        raise InvalidError("use @ketch.batched(max_batch_size=N, wait_ms=M), with parentheses")
    _int_in("max_batch_size", max_batch_size, 1, 1000)
    _int_in("wait_ms", wait_ms, 0, 600_000)

    def decorate(obj):
        _check_target(obj, "batched")
        if inspect.isclass(obj):   # as Modal refuses it
            raise InvalidError(f"@ketch.batched cannot decorate the class {obj.__name__}: put "
                               "it on the method to batch, under @app.cls()")
        setattr(obj, BATCHED, (max_batch_size, wait_ms))
        return obj

    return decorate


def _marker(attr: str, name: str, value=True):
    def factory(_f=None, **kwargs):
        def decorate(f):
            if not inspect.isfunction(f):
                raise InvalidError(f"@ketch.{name}() decorates a method of an @app.cls class")
            setattr(f, attr, kwargs or value)
            return f

        return decorate(_f) if _f is not None else decorate

    factory.__name__ = name
    return factory


enter = _marker(ENTER, "enter")
enter.__doc__ = "Runs the method once when a container starts, before any input."
exit = _marker(EXIT, "exit")
exit.__doc__ = "Runs the method once when a container stops."


def method(_f=None, *, is_generator: bool | None = None):
    """Makes a method of an @app.cls class callable remotely: `Model().predict.remote(x)`."""
    def decorate(f):
        if not inspect.isfunction(f):
            raise InvalidError("@ketch.method() decorates a method of an @app.cls class")
        gen = is_generator if is_generator is not None else (
            inspect.isgeneratorfunction(f) or inspect.isasyncgenfunction(f))
        setattr(f, METHOD, {"is_generator": bool(gen)})
        return f

    return decorate(_f) if _f is not None else decorate


class _Parameter:
    __slots__ = ("default", "init")
    _MISSING = object()

    def __init__(self, default, init):
        self.default = default
        self.init = init

    @property
    def required(self) -> bool:
        return self.default is _Parameter._MISSING


def parameter(*, default=_Parameter._MISSING, init: bool = True):
    """A class field set per instance: `scale: int = ketch.parameter(default=1)`, then
    `Model(scale=3)`. Each distinct set of values gets containers of its own."""
    return _Parameter(default, init)


def class_parameters(user_cls) -> dict[str, _Parameter]:
    return {name: value for klass in reversed(user_cls.__mro__)
            for name, value in vars(klass).items() if isinstance(value, _Parameter)}


def instantiate(user_cls, args: tuple, kwargs: dict):
    """Builds the user's object: parameters become attributes; a class without parameters
    but with its own __init__ gets the arguments as they are."""
    params = class_parameters(user_cls)
    if not params and user_cls.__init__ is not object.__init__:
        return user_cls(*args, **kwargs)
    obj = user_cls.__new__(user_cls)
    for name, p in params.items():
        value = kwargs.get(name, p.default)
        setattr(obj, name, value)
    return obj


def check_parameters(user_cls, args: tuple, kwargs: dict):
    params = class_parameters(user_cls)
    if not params and user_cls.__init__ is not object.__init__:
        inspect.signature(user_cls.__init__).bind(None, *args, **kwargs)
        return
    if args:
        raise InvalidError(f"{user_cls.__name__}(...) takes its parameters by keyword, "
                           f"e.g. {user_cls.__name__}({next(iter(params), 'name')}=...)")
    unknown = set(kwargs) - set(params)
    if unknown:
        known = ", ".join(params) or "none"
        raise InvalidError(f"{user_cls.__name__} has no parameter {sorted(unknown)[0]!r} "
                           f"(its parameters: {known}); declare it as "
                           f"`name: type = ketch.parameter(default=...)`")
    missing = [n for n, p in params.items() if p.required and n not in kwargs]
    if missing:
        raise InvalidError(f"{user_cls.__name__}(...) needs a value for parameter "
                           f"{missing[0]!r}")


def lifecycle_methods(user_cls, attr: str) -> list[str]:
    return [name for name, value in inspect.getmembers(user_cls, inspect.isfunction)
            if getattr(value, attr, None)]
