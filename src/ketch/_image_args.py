"""Checks of the arguments Image methods take, shared by the modules that define them."""

from __future__ import annotations

import re
from typing import Iterable

from ._secret import check_secrets
from .exception import InvalidError


def flatten(where: str, items: Iterable) -> list[str]:
    out = []
    for item in items:
        if isinstance(item, (list, tuple)):
            out += flatten(where, item)
        elif isinstance(item, str):
            if item.strip():
                out.append(item.strip())
        else:
            raise InvalidError(f"{where}: {item!r} is not a string; pass names as strings")
    return out


def pip_options(index_url, extra_index_url, find_links, pre, extra_options) -> dict:
    opts = {}
    for key, value in (("index_url", index_url), ("extra_index_url", extra_index_url),
                       ("find_links", find_links), ("extra_options", extra_options)):
        if value:
            if not isinstance(value, str):
                raise InvalidError(f"{key}={value!r}: give a string")
            opts[key] = value
    if pre:
        opts["pre"] = "1"
    return opts


def argv(where: str, argv) -> list[str]:
    if not isinstance(argv, (list, tuple)) or not argv or not all(
            isinstance(a, str) for a in argv):
        raise InvalidError(f"image.{where}({argv!r}): give a non-empty list of strings, "
                           'e.g. ["python", "app.py"]')
    return list(argv)


def version(where: str, key: str, value) -> str:
    """A package version like '0.8.4' (what pip gets after '==')."""
    if not isinstance(value, str) or not re.match(r"^[0-9][0-9A-Za-z.+!*-]*$", value):
        raise InvalidError(f"{where}({key}={value!r}): give a version like '0.8.4'")
    return value


def step_secrets(where: str, secrets) -> tuple:
    """A build step's secrets= (their variables are in its environment, not the image's)."""
    return tuple(check_secrets(where, secrets))


def env_dict(where: str, env, build: bool = False) -> dict[str, str]:
    """A dict of str to str; a build step's env= may map a name to None, which sets
    nothing (Modal's type)."""
    if env is None:
        return {}
    if not isinstance(env, dict) or not all(
            isinstance(k, str) and (isinstance(v, str) or build and v is None)
            for k, v in env.items()):
        raise InvalidError(f"{where}: give a dict of str to str")
    return {k: v for k, v in env.items() if v is not None}
