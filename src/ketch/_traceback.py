"""Tracebacks as Modal shows them: the user's frames only, the remote ones continuing the
local ones, without ketch's own frames between them. KETCH_TRACEBACK=1 shows everything.

In the container, `format_exception` drops ketch's frames from the text sent back. In the
caller, `attach_remote` turns that text back into traceback entries (code objects named
after the remote functions, at their file and line) after the local ones, and
`user_frames_only` drops ketch's own frames as the exception leaves the SDK.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import linecache
import os
import re
import sys
import traceback
import types

from ._source import CONTAINER_ROOT, local_path

# Frames in these directories are ketch's (or the loop and import machinery it runs on:
# the container imports the user's module with importlib, whose frames Python itself hides
# from an import statement's traceback).
_INTERNAL = tuple(os.path.dirname(m.__file__) + os.sep
                  for m in (sys.modules[__package__], asyncio, concurrent.futures,
                            importlib)) + ("<frozen importlib.",)
_FRAME = re.compile(r'^  File "(?P<file>.+)", line (?P<line>\d+), in (?P<name>.+)$')
_CARETS = re.compile(r"^\s*[\^~]+\s*$")
_HEADER = "Traceback (most recent call last):"


def _full() -> bool:
    return os.environ.get("KETCH_TRACEBACK", "") not in ("", "0")


def _internal(tb: types.TracebackType) -> bool:
    return tb.tb_frame.f_code.co_filename.startswith(_INTERNAL)


def without_internal(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback relinked without ketch's entries (unchanged if nothing else is left)."""
    if _full():
        return tb
    kept, entry = [], tb
    while entry is not None:
        if not _internal(entry):
            kept.append(entry)
        entry = entry.tb_next
    if not kept:
        return tb
    for here, after in zip(kept, kept[1:] + [None]):
        here.tb_next = after
    return kept[0]


def format_exception(exc: BaseException) -> str:
    """The exception's traceback text, less ketch's frames (in it and its causes)."""
    seen, todo = set(), [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        e.__traceback__ = without_internal(e.__traceback__)
        todo += [e.__cause__, e.__context__]
    text = "".join(traceback.format_exception(exc))
    code_dir = os.environ.get("KETCH_CODE_DIR")  # the bundle's place in this container
    if code_dir and code_dir != CONTAINER_ROOT:
        # Where the runtime could not put it at /root: say /root, as an isolated one does.
        text = text.replace(f'  File "{code_dir.rstrip(os.sep)}{os.sep}',
                            f'  File "{CONTAINER_ROOT}/')
    return text


class user_frames_only:
    """Around the SDK's public entry points: what leaves has ketch's frames removed."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is not None and isinstance(exc, Exception):
            exc.__traceback__ = without_internal(tb)
        return False


def attach_remote(exc: BaseException, text: str) -> BaseException:
    """Makes the remote traceback `text` the tail of exc's traceback (kept as a note where
    it cannot be read as frames)."""
    head, _, last = text.rpartition(_HEADER)
    frames = _frames(last)
    if not frames:
        exc.add_note("Remote traceback:\n" + text.rstrip())
        return exc
    if head.strip():  # the remote exception's own causes: pickling dropped them
        exc.add_note("Raised in the container while handling:\n" + head.rstrip())
    context = exc.__context__  # raising it below must not chain what is being handled
    entries = [_entry(exc, _here(file), *rest) for file, *rest in frames]
    exc.__context__ = context
    for here, after in zip(entries, entries[1:] + [None]):
        here.tb_next = after
    exc.__traceback__ = entries[0]
    return exc


def _frames(text: str) -> list[tuple[str, int, str, str]]:
    """(file, line, function, source line) of each frame in a traceback's text."""
    frames, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        m = _FRAME.match(line)
        if m:
            source = lines[i + 1].strip() if i + 1 < len(lines) and \
                lines[i + 1].startswith("    ") and not _CARETS.match(lines[i + 1]) else ""
            frames.append((m["file"], int(m["line"]), m["name"], source))
    return frames


def _here(remote_file: str) -> str:
    """The caller's own copy of an uploaded file, where it has one."""
    local = local_path(remote_file)
    return local if local is not None and os.path.exists(local) else remote_file


def _entry(exc: BaseException, filename: str, lineno: int, name: str, source: str
           ) -> types.TracebackType:
    """A traceback entry at filename:lineno in a function called `name`."""
    if source and not os.path.exists(filename):
        # Not on this machine: remember the line the container sent, for display.
        cached = linecache.cache.get(filename)
        lines = list(cached[2]) if cached and len(cached) == 4 and cached[1] is None else []
        lines += ["\n"] * (lineno - len(lines))
        lines[lineno - 1] = source + "\n"
        linecache.cache[filename] = (len(source), None, lines, filename)
    # The raise starts where the line's code does and ends on the next line, so it spans
    # the whole line: no carets are drawn under it.
    line = linecache.getline(filename, lineno)
    indent = len(line) - len(line.lstrip()) if line.strip() and lineno > 1 else 0
    block = ("\n" * (lineno - 2) + "if 1:\n" + " " * indent) if indent else "\n" * (lineno - 1)
    code = compile(block + "raise (\n_e)", filename, "exec")
    code = code.replace(co_name=name)
    try:
        exec(code, {"_e": exc, "__name__": "__remote__"})
    except BaseException as raised:
        entry = raised.__traceback__.tb_next
    entry.tb_next = None
    return entry
