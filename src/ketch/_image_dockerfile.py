"""Dockerfile instructions as ketch image steps (`Image.from_dockerfile`,
`image.dockerfile_commands`, `from_registry(setup_dockerfile_commands=)`).

Each instruction becomes the step that does the same: FROM a registry pull, RUN a
run_commands step (ARG values in its environment), ENV an env step, WORKDIR a workdir
step, COPY/ADD of build-context files a copied add_local_* layer, ENTRYPOINT/CMD/SHELL the
image's settings; each stage of a multi-stage build is an image of its own, and COPY
--from a stage (or an image) a copy_from step, which the server builds from that image's
steps. What ketch cannot do yet (ADD of URLs or archives, USER, RUN --mount, heredocs)
fails here, when the image is defined, naming the instruction and its line.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import warnings
from pathlib import Path, PurePosixPath

from . import _pythons
from ._context import is_local
from ._dockerfile import DockerfileError, Instruction, escape_dollars, expand, parse
from ._image_args import env_dict, flatten, step_secrets
from ._image_missing import no_gpu
from .exception import InvalidError

DEFAULT_SHELL = ["/bin/sh", "-c"]
# Instructions that say something about the image that ketch does not use.
_IGNORED = {"LABEL", "EXPOSE", "MAINTAINER", "STOPSIGNAL", "HEALTHCHECK", "VOLUME",
            "ONBUILD"}
_ARCHIVE = re.compile(r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst)$")
_ROOT_USERS = {"root", "0", "root:root", "0:0"}


class Translation:
    """The state of reading one Dockerfile (or list of commands) onto an image."""

    def __init__(self, image, source: str, *, context_dir, context_files: dict,
                 build_args: dict, env: dict, ignore, force_build: bool, secrets=(),
                 image_class=None):
        self.image = image          # None until FROM, for a whole Dockerfile
        self.image_class = image_class   # ketch.Image: what makes the image a FROM names
        self.source = source
        self.context = Path(os.path.abspath(os.path.expanduser(str(context_dir or "."))))
        self.context_files = {_clean(k): os.path.abspath(os.path.expanduser(v))
                              for k, v in (context_files or {}).items()}
        self.build_args = {k: str(v) for k, v in (build_args or {}).items()}
        self.run_env = dict(env or {})
        self.secrets = secrets      # what RUN steps see, as the build's secrets= on Modal
        self.args: dict[str, str] = {}          # ARGs in scope with a value
        self.global_args: dict[str, str] = {}   # ARGs before the first FROM
        self.known_env: dict[str, str] = {}     # ENV set here whose value is known here
        self.ignore = _ignore_rule(self.context, ignore)
        self.force_build = force_build
        self.workdir = _last_workdir(image)
        self.ignored: list[str] = []
        # Earlier stages, by name and by number: (image, the ENV known at its end).
        self.stages: dict[str, tuple] = {}
        self.stage_names: list[str] = []
        self.n_stages = 0

    # -- helpers

    def fail(self, ins: Instruction, what: str):
        raise DockerfileError(f"{ins.where(self.source)}: {what}")

    def not_yet(self, ins: Instruction, what: str):
        raise NotImplementedError(f"{ins.where(self.source)}: {what}")

    def words(self, ins: Instruction, text: str) -> str:
        """A path or name with its variables expanded from what is known now."""
        def missing(name):
            self.fail(ins, f"${name} is not known until the image is built (ketch expands "
                           "variables of COPY, WORKDIR and FROM from the ARG and ENV lines "
                           "before them); set it with ARG or ENV first")
        known = {**self.args, **self.known_env} if self.image is not None else self.global_args
        return expand(text, known, missing)

    def split(self, ins: Instruction, text: str) -> list[str]:
        try:
            return shlex.split(text)
        except ValueError as exc:   # an unclosed quote
            self.fail(ins, f"cannot read it: {exc}")

    def after_from(self, ins: Instruction):
        if self.image is None:
            self.fail(ins, "comes before FROM; a Dockerfile starts with FROM (ARG may "
                           "come before it)")

    def step(self, ins: Instruction, kind: str, args=(), **kw):
        self.after_from(ins)
        self.image = self.image._extend(kind, list(args), force_build=self.force_build,
                                        origin=ins.origin(self.source), **kw)

    # -- instructions

    def apply(self, instructions: list[Instruction], allow_from: bool):
        for ins in instructions:
            handler = getattr(self, "do_" + ins.keyword.lower(), None)
            if ins.keyword in _IGNORED:
                self.ignored.append(f"{ins.keyword} (line {ins.line})")
            elif handler is None:
                self.fail(ins, f"{ins.keyword} is not a Dockerfile instruction ketch knows")
            elif ins.keyword == "FROM" and not allow_from:
                self.fail(ins, "dockerfile_commands adds to an image: FROM would start "
                               "another; use Image.from_dockerfile for a whole Dockerfile")
            else:
                try:
                    handler(ins)
                except (InvalidError, NotImplementedError) as exc:   # from a step: say where
                    if str(exc).startswith(self.source):
                        raise
                    raise type(exc)(f"{ins.where(self.source)}: {exc}") from None
        if self.ignored:
            warnings.warn(f"{self.source}: ketch ignores {', '.join(self.ignored)}: they "
                          "describe the image without changing what runs in it",
                          stacklevel=4)
        return self.image

    def end_stage(self):
        for name in self.stage_names:
            self.stages[name] = (self.image, dict(self.known_env))

    def do_from(self, ins: Instruction):
        self.end_stage()
        platform = ins.flags.pop("platform", "")
        if ins.flags:
            self.not_yet(ins, f"--{next(iter(ins.flags))} is not in ketch yet")
        if platform and self.words(ins, platform) not in ("linux/amd64", "linux/x86_64"):
            self.not_yet(ins, f"--platform={platform}: ketch builds linux/amd64 images only")
        words = ins.rest.split()
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].upper() != "AS"):
            self.fail(ins, "write FROM IMAGE or FROM IMAGE AS NAME")
        ref = expand(words[0], self.global_args, lambda n: self.fail(
            ins, f"${n} is not an ARG given before FROM"))
        if ref == "scratch":   # no files: COPY may follow, RUN may not (Image.from_scratch)
            self.image, self.known_env = self.image_class.from_scratch(self.force_build), {}
        elif ref.lower() in self.stages:    # a stage built on an earlier one
            self.image, known = self.stages[ref.lower()]
            self.known_env = dict(known)
        else:
            self.image = self.image_class.from_registry(ref, force_build=self.force_build)
            self.known_env = {}
        self.workdir = _last_workdir(self.image)
        self.stage_names = [str(self.n_stages)]
        self.n_stages += 1
        if len(words) == 3:
            self.stage_names.append(words[2].lower())
        self.args = {}

    def do_arg(self, ins: Instruction):
        for word in self.split(ins, ins.rest):
            name, has_default, default = word.partition("=")
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                self.fail(ins, f"{name!r} is not a variable name")
            if name in self.build_args:
                value = self.build_args[name]
            elif has_default:
                value = self.words(ins, default)
            elif self.image is not None and name in self.global_args:
                value = self.global_args[name]   # a global ARG redeclared in the stage
            else:
                continue                          # declared, no value: unset, as in Docker
            (self.args if self.image is not None else self.global_args)[name] = value

    def do_env(self, ins: Instruction):
        if not ins.rest:
            self.fail(ins, "write ENV NAME=VALUE")
        if "=" in ins.rest.split(None, 1)[0]:
            pairs = [w.partition("=") for w in self.split(ins, ins.rest)]
            if any(not sep for _, sep, _ in pairs):
                self.fail(ins, "write ENV NAME=VALUE [NAME=VALUE ...]")
            pairs = [(k, v) for k, _, v in pairs]
        else:
            parts = ins.rest.split(None, 1)
            if len(parts) != 2:
                self.fail(ins, "write ENV NAME=VALUE")
            pairs = [(parts[0], parts[1])]
        env = {}
        for name, raw in pairs:
            unresolved = []

            def later(n):
                unresolved.append(n)
                return None   # left for the server, which knows the image's environment
            env[name] = expand(raw, {k: escape_dollars(v) for k, v in
                                     {**self.args, **self.known_env}.items()}, later,
                               keep_escapes=True)
            if unresolved:
                self.known_env.pop(name, None)
            else:
                self.known_env[name] = expand(env[name], {})
        self.step(ins, "env", env=env, options={"expand": "1"})

    def do_run(self, ins: Instruction):
        for flag in ins.flags:
            self.not_yet(ins, f"RUN --{flag} is not in ketch yet; drop it (build steps have "
                           "the network and no cache mounts)")
        if ins.exec_form is not None:
            command = shlex.join(ins.exec_form)
        elif getattr(self.image, "_shell", None):
            command = shlex.join([*self.image._shell, ins.rest])
        else:
            command = ins.rest
        if not command.strip():
            self.fail(ins, "RUN needs a command")
        self.step(ins, "run_commands", [command], env={**self.run_env, **self.args},
                  secrets=self.secrets)

    def do_workdir(self, ins: Instruction):
        path = self.words(ins, ins.rest)
        self.workdir = str(PurePosixPath(self.workdir) / path)
        self.step(ins, "workdir", [self.workdir])

    def do_shell(self, ins: Instruction):
        if not ins.exec_form:
            self.fail(ins, 'write SHELL as a JSON array, e.g. SHELL ["/bin/bash", "-c"]')
        self.after_from(ins)
        self.image = self.image.shell(ins.exec_form)

    def do_entrypoint(self, ins: Instruction):
        self.step(ins, "entrypoint", self._argv(ins))

    def do_cmd(self, ins: Instruction):
        self.step(ins, "cmd", self._argv(ins))

    def _argv(self, ins: Instruction) -> list[str]:
        if ins.exec_form is not None:
            return ins.exec_form
        return [*(getattr(self.image, "_shell", None) or DEFAULT_SHELL), ins.rest]

    def do_user(self, ins: Instruction):
        if self.words(ins, ins.rest) not in _ROOT_USERS:
            self.not_yet(ins, "USER is not in ketch yet: build steps and containers run as the "
                           "container's root (a user namespace's, not the machine's); drop it")

    def do_copy(self, ins: Instruction):
        self.after_from(ins)
        source = ins.flags.pop("from", None)
        for flag in ins.flags:
            if flag != "link":   # --link only changes Docker's layer caching
                self.not_yet(ins, f"--{flag} is not in ketch yet: files are copied owned by "
                               "root with their own modes; drop it (RUN chown/chmod after)")
        words = ins.exec_form if ins.exec_form is not None else ins.rest.split()
        if len(words) < 2:
            self.fail(ins, f"write {ins.keyword} SOURCE... DEST")
        *sources, dest = [self.words(ins, w) for w in words]
        into = dest.endswith(("/", "/.")) or dest == "."   # a directory, as in `COPY a .`
        dest = str(PurePosixPath(self.workdir) / dest).rstrip("/") + ("/" if into else "")
        if len(sources) > 1 and not dest.endswith("/"):
            self.fail(ins, f"with several sources the destination {dest!r} must end with /")
        if source is not None:
            return self.copy_from(ins, self.words(ins, source), sources, dest)
        for src in sources:
            if ins.keyword == "ADD" and (re.match(r"^[a-z]+://", src) or src.startswith("git@")):
                self.not_yet(ins, f"ADD of a URL ({src}) is not in ketch yet; RUN curl or git "
                               "clone it instead")
            for path, rel in self._sources(ins, src):
                if os.path.isdir(path):
                    self.image = self.image.add_local_dir(
                        path, dest, copy=True, ignore=self._ignore_under(rel))
                    continue
                if ins.keyword == "ADD" and _ARCHIVE.search(path):
                    self.not_yet(ins, f"ADD of an archive ({src}) unpacks it in Docker, which "
                                   "is not in ketch yet; COPY it and RUN tar -xf")
                many = len(sources) > 1 or any(c in src for c in "*?[")
                target = dest + "/" if many and not dest.endswith("/") else dest
                if target.endswith("/"):   # the name it has in the build context
                    target += PurePosixPath(rel).name
                self.image = self.image.add_local_file(path, target, copy=True)

    do_add = do_copy

    def copy_from(self, ins: Instruction, source: str, sources: list[str], dest: str):
        """COPY --from=STAGE (or an image): files of that image's file system."""
        if ins.keyword == "ADD":
            self.fail(ins, "ADD takes no --from; use COPY --from")
        if any(c in src for src in sources for c in "*?["):
            self.not_yet(ins, "wildcards in COPY --from are not in ketch yet; name each path")
        if source.lower() in self.stages:
            image = self.stages[source.lower()][0]
        elif source.isdigit():
            self.fail(ins, f"--from={source}: there is no stage {source} before this one")
        else:
            image = self.image_class.from_registry(source, force_build=self.force_build)
        paths = [str(PurePosixPath("/") / src) for src in sources]
        self.step(ins, "copy_from", [*paths, dest], source=image)

    def _sources(self, ins: Instruction, src: str) -> list[tuple[str, str]]:
        """(local path, path in the build context) of what a COPY source names."""
        rel = _clean(src)
        if rel in self.context_files:
            return [(self.context_files[rel], rel)]
        if any(c in rel for c in "*?["):
            found = sorted(glob.glob(str(self.context / rel)))
        else:
            found = [str(self.context / rel)] if (self.context / rel).exists() else []
        out = []
        for path in found:
            real = os.path.realpath(path)
            if not (real == str(self.context) or real.startswith(str(self.context) + os.sep)):
                self.fail(ins, f"{src!r} leads outside the build context {self.context}")
            out.append((path, os.path.relpath(path, self.context).replace(os.sep, "/")))
        if not out:
            self.fail(ins, f"{src!r} is not in the build context {self.context} (pass "
                           "context_dir= to name the directory COPY reads from)")
        return out

    def _ignore_under(self, rel: str):
        prefix = PurePosixPath("" if rel == "." else rel)
        return lambda p: self.ignore(str(prefix / p))


def _clean(path: str) -> str:
    return os.path.normpath("/" + path.replace("\\", "/")).lstrip("/") or "."


def _last_workdir(image) -> str:
    for step in reversed(image._steps if image is not None else ()):
        if step.kind == "workdir":
            return step.args[0]
    return "/"


def _ignore_rule(context: Path, ignore):
    """A function of a path in the build context: whether it is left out. `ignore` is
    a list of .dockerignore patterns, a function of a Path, or AUTO (the context's
    .dockerignore, if it has one)."""
    if callable(ignore):
        return lambda rel: bool(ignore(Path(rel)))
    if ignore is AUTO:
        file = context / ".dockerignore"
        ignore = file.read_text().splitlines() if file.is_file() else []
    if isinstance(ignore, str) or not all(isinstance(p, str) for p in ignore):
        raise DockerfileError("ignore=: give a list of .dockerignore patterns or a function "
                              "of a Path")
    rules = []
    for line in ignore:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        rules.append((keep, _pattern(_clean(line.lstrip("!")))))

    def ignored(rel: str) -> bool:
        parts = rel.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        out = False
        for keep, rx in rules:   # the last pattern that matches decides, as in Docker
            if any(rx.match(p) for p in prefixes):
                out = not keep
        return out

    return ignored


def _pattern(pat: str) -> re.Pattern:
    """A .dockerignore pattern as a regex: `**` any path, `*` and `?` within a name."""
    out, i = "", 0
    while i < len(pat):
        if pat.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pat.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pat[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pat[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pat[i]), i + 1
    return re.compile(out + r"\Z")


class _Auto:
    def __repr__(self):
        return "AUTO_DOCKERIGNORE"


AUTO = _Auto()   # ignore='s default: the build context's .dockerignore


def apply(image, text: str, source: str, *, allow_from: bool, **options):
    """`image` (None for a whole Dockerfile) with the instructions of `text`;
    `image_class` (ketch.Image) makes the images FROM and COPY --from name."""
    return Translation(image, source, **options).apply(parse(text, source), allow_from)


class DockerfileMethods:
    """The Dockerfile methods of `ketch.Image`."""

    @classmethod
    def from_dockerfile(cls, path: str | Path, *, force_build: bool = False, context_dir=None,
                        ignore=AUTO, build_args: dict | None = None,
                        registry_secret=None, secrets=(), env: dict | None = None,
                        gpu=None, add_python: str | None = None):
        """An image built from a local Dockerfile (stages too): each instruction becomes
        the ketch step that does the same (docs/api.md lists them); COPY reads from
        context_dir (default: the current directory) less its .dockerignore. Instructions
        ketch cannot do yet fail here, naming their line."""
        no_gpu("from_dockerfile", gpu)
        if registry_secret is not None:
            raise NotImplementedError("Image.from_dockerfile(registry_secret=...): private "
                                      "registries are not in ketch yet")
        if add_python and _pythons.unoffered_addition(add_python):
            raise InvalidError(f"Image.from_dockerfile({str(path)!r}, "
                               f"{_pythons.unoffered_addition(add_python)}")
        if not is_local():
            return cls()  # in a container, the image is already built: nothing to read
        try:
            text = Path(os.path.expanduser(str(path))).read_text()
        except OSError as exc:
            raise InvalidError(f"Image.from_dockerfile({str(path)!r}): cannot read it: "
                               f"{exc.strerror or exc}") from None
        image = apply(
            None, text, str(path), allow_from=True, image_class=cls,
            context_dir=context_dir,
            context_files={}, build_args=build_args, env=env_dict("from_dockerfile", env, True),
            ignore=ignore, force_build=force_build,
            secrets=step_secrets("from_dockerfile", secrets))
        if image is None:
            raise InvalidError(f"Image.from_dockerfile({str(path)!r}): it has no FROM line")
        if add_python:
            image = image._extend("add_python", [add_python], force_build=force_build)
        return image

    def dockerfile_commands(self, *dockerfile_commands, context_files: dict | None = None,
                            env: dict | None = None, secrets=(), gpu=None, context_dir=None,
                            force_build: bool = False, ignore=AUTO,
                            build_args: dict | None = None):
        """Adds Dockerfile instructions (no FROM) as the steps that do the same, as
        from_dockerfile does. COPY reads context_files ({path in the context: local
        file}) and context_dir (default: the current directory)."""
        no_gpu("dockerfile_commands", gpu)
        lines = flatten("dockerfile_commands", dockerfile_commands)
        if not lines or not is_local():
            return self
        if context_files is not None and not (isinstance(context_files, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in context_files.items())):
            raise InvalidError("dockerfile_commands(context_files=...): give a dict of "
                               "paths in the build context to local files")
        return apply(
            self, "\n".join(lines), "dockerfile_commands", allow_from=False,
            image_class=type(self),
            context_dir=context_dir, context_files=context_files or {},
            build_args=build_args, env=env_dict("dockerfile_commands", env, True),
            ignore=ignore, force_build=force_build,
            secrets=step_secrets("dockerfile_commands", secrets))

