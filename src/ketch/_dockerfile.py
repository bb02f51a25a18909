"""Reads Dockerfile text into instructions: parser directives, comments, line
continuations, JSON (exec) form and `--flag=value` options, as Docker's parser does; and
expands `$VAR` references as Docker does in ENV, COPY, WORKDIR, ...

A small parser of its own rather than a dependency: the one on PyPI (dockerfile-parse)
knows no heredocs and would be a new dependency of every client for about this much code.
The server expands ENV values with `expand` too, against the image's environment so far.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .exception import InvalidError

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
# `<<EOF`, `<<-EOF`, `<<"EOF"`: a heredoc (Dockerfile syntax 1.4), not a here-string (`<<<`).
_HEREDOC = re.compile(r"(?<!<)<<-?([\"']?)[A-Za-z_][A-Za-z0-9_]*\1(?![<\w])")
_FLAG = re.compile(r"^--([a-z][a-z0-9-]*)(?:=(.*))?$")
_VAR = re.compile(r"\\\$|\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


ORIGIN_TEXT = 80   # of an instruction's text, in the build error of its step


class DockerfileError(InvalidError):
    """A Dockerfile ketch cannot read, naming the line and the fix."""


@dataclass
class Instruction:
    line: int                   # where it starts, 1-based
    keyword: str                # upper case: RUN, COPY, ...
    rest: str                   # what follows the keyword and its flags, stripped
    flags: dict[str, str] = field(default_factory=dict)
    exec_form: list[str] | None = None   # the JSON array form, when it is one

    def where(self, source: str) -> str:
        return f"{source} line {self.line} ({self.keyword})"

    def origin(self, source: str) -> str:
        """Where a step was written, as its build error names it."""
        text = " ".join(self.rest.split())
        return f"{source} line {self.line}: {self.keyword} " + (
            text if len(text) <= ORIGIN_TEXT else text[:ORIGIN_TEXT - 3] + "...")


def parse(text: str, source: str = "Dockerfile") -> list[Instruction]:
    """The instructions of a Dockerfile's text."""
    escape = "\\"
    lines = text.splitlines()
    start = 0
    for i, raw in enumerate(lines):   # parser directives come first, before anything else
        m = _DIRECTIVE.match(raw.strip())
        if not m:
            break
        if m.group(1).lower() == "escape":
            if m.group(2) not in ("\\", "`"):
                raise DockerfileError(f"{source} line {i + 1}: escape={m.group(2)!r}: the "
                                      "escape character is \\ or `")
            escape = m.group(2)
        start = i + 1
    out: list[Instruction] = []
    i = start
    while i < len(lines):
        raw = lines[i]
        i += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        first = i
        logical = stripped
        while logical.endswith(escape) and i <= len(lines):
            logical = logical[:-1]
            # Comment and empty lines inside a continued instruction are dropped.
            while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                i += 1
            if i >= len(lines):
                break
            logical += lines[i].rstrip()
            i += 1
        out.append(_instruction(first, logical, source))
    return out


def _instruction(line: int, text: str, source: str) -> Instruction:
    parts = text.split(None, 1)
    keyword, rest = parts[0].upper(), (parts[1].strip() if len(parts) > 1 else "")
    ins = Instruction(line, keyword, rest)
    if keyword in ("RUN", "COPY", "ADD") and _HEREDOC.search(rest):
        raise NotImplementedError(f"{ins.where(source)}: heredocs (<<EOF) are not in ketch yet; "
                              "write the commands on one line, or as a script file you COPY "
                              "and RUN")
    if keyword in ("FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"):
        while ins.rest.startswith("--"):
            word, _, after = ins.rest.partition(" ")
            m = _FLAG.match(word)
            if not m:
                raise DockerfileError(f"{ins.where(source)}: cannot read the option {word!r}")
            ins.flags[m.group(1)] = m.group(2) if m.group(2) is not None else ""
            ins.rest = after.strip()
    if keyword in ("RUN", "CMD", "ENTRYPOINT", "COPY", "ADD", "SHELL", "VOLUME") and \
            ins.rest.startswith("["):
        try:
            form = json.loads(ins.rest)
        except ValueError:
            form = None   # Docker runs an unparsable array as a shell command, as we do
        if isinstance(form, list) and all(isinstance(a, str) for a in form):
            ins.exec_form = form
    return ins


def expand(text: str, lookup: dict, missing=None, keep_escapes: bool = False) -> str:
    """`text` with `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alternative}`
    replaced from `lookup`, and `\\$` as `$` (kept as `\\$` with keep_escapes). A name
    `lookup` lacks is empty, as in Docker, unless `missing(name)` says otherwise: its
    value, or None to keep the reference as written (it may raise)."""

    def sub(m: re.Match) -> str:
        if m.group(0) == "\\$":
            return m.group(0) if keep_escapes else "$"
        name = m.group(1) or m.group(4)
        if name in lookup:
            found = lookup[name]
        else:
            found = missing(name) if missing is not None else ""
            if found is None:
                return m.group(0)
        if m.group(2) == ":-":
            return found or expand(m.group(3), lookup, missing, keep_escapes)
        if m.group(2) == ":+":
            return expand(m.group(3), lookup, missing, keep_escapes) if found else ""
        return found

    return _VAR.sub(sub, text)


def escape_dollars(text: str) -> str:
    """`text` to pass through `expand` unchanged."""
    return text.replace("$", "\\$")
