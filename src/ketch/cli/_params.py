"""A function's parameters as `ketch run` options (`--n 10`), typed the way Modal's CLI
types them: str, int, float, bool (`--flag/--no-flag`), datetime, a Literal's choices, each
also as `Optional[...]`; and bytes (the option's text, UTF-8 encoded). A parameter without
a default is a required option."""

from __future__ import annotations

import datetime
import inspect
import types
import typing

import click

from ._common import fail


class _Bytes(click.ParamType):
    name = "bytes"

    def convert(self, value, param, ctx):
        return value if isinstance(value, bytes) else str(value).encode()


_PARSERS = {str: click.STRING, int: click.INT, float: click.FLOAT, bytes: _Bytes(),
            datetime.datetime: click.DateTime()}


def _without_none(hint):
    """X for Optional[X] / X | None; the hint itself otherwise."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def click_type(name: str, hint, default):
    """The click type of a parameter (None: a bool flag)."""
    hint = _without_none(hint)
    if hint is inspect.Parameter.empty or hint is typing.Any:
        # Unannotated: typed like its default, else text.
        hint = type(default) if type(default) in _PARSERS or type(default) is bool else str
    if hint is bool:
        return None
    if typing.get_origin(hint) is typing.Literal:
        values = typing.get_args(hint)
        if all(isinstance(v, str) for v in values):
            return click.Choice(list(values))
        if all(type(v) is int for v in values):
            return click.Choice([str(v) for v in values])  # converted back by the caller
    if hint in _PARSERS:
        return _PARSERS[hint]
    fail(f"parameter {name!r} is annotated {hint!r}, which `ketch run` cannot read from the "
         "command line; use str, int, float, bool, bytes, datetime.datetime, a Literal of "
         "str or int, or Optional[one of them]")


def options_command(name: str, raw_f, invoke) -> click.Command:
    """A click command whose options are the function's parameters."""
    try:
        hints = typing.get_type_hints(raw_f)
    except Exception as exc:  # e.g. a hint naming something only the image has
        fail(f"{name}: its parameters' annotations cannot be read here ({exc}); `ketch run` "
             "needs them to parse the options")
    params = []
    for p in inspect.signature(raw_f).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            fail(f"{name} takes *args or **kwargs, which `ketch run` cannot fill from the "
                 "command line; give it named parameters")
        flag = "--" + p.name.replace("_", "-")
        has_default = p.default is not inspect.Parameter.empty
        kind = click_type(p.name, hints.get(p.name, p.annotation), p.default)
        # click 8.5 treats an explicit default=None as a default: a required option gets none.
        extra = {"default": p.default, "show_default": True} if has_default else \
            {"required": True}
        if kind is None:
            flag = f"{flag}/--no-{p.name.replace('_', '-')}"
            extra = extra if has_default else {"default": False, "show_default": True}
        params.append(click.Option([flag, p.name], type=kind, **extra))
    command = click.Command(name, params=params, callback=_literal_ints(raw_f, hints, invoke),
                            help=inspect.getdoc(raw_f) or f"Run {name}.")
    return command


def _literal_ints(raw_f, hints: dict, invoke):
    """Wraps `invoke` so choices of an int Literal arrive as ints."""
    int_literals = {n for n, h in hints.items()
                    if typing.get_origin(_without_none(h)) is typing.Literal and
                    all(type(v) is int for v in typing.get_args(_without_none(h)))}
    if not int_literals:
        return invoke

    def call(**kwargs):
        for key in int_literals & kwargs.keys():
            if isinstance(kwargs[key], str):
                kwargs[key] = int(kwargs[key])
        invoke(**kwargs)
    return call
