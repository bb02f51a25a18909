"""Dockerfiles read into image steps, and Modal's other Image methods, on the client:
what each instruction becomes, the files COPY takes (less .dockerignore), and the clear
errors for what ketch cannot do yet. test_image.py builds one for real and runs it."""

from __future__ import annotations

import warnings

import pytest

import ketch
from ketch._dockerfile import expand, parse
from ketch.exception import InvalidError


def steps(image) -> list[tuple]:
    return [(s.kind, list(s.args), dict(s.env)) for s in image._steps]


def test_parser_reads_continuations_comments_directives_and_exec_form():
    text = ("# syntax=docker/dockerfile:1\n# escape=`\n\nFROM  base:1  AS  b\n"
            "RUN --mount=type=cache,target=/c apt-get update `\n  # a comment inside\n\n"
            "    && echo done\ncmd [\"python\", \"-m\", \"http.server\"]\nCMD [not json\n")
    ins = parse(text)
    assert [(i.line, i.keyword) for i in ins] == [(4, "FROM"), (5, "RUN"), (9, "CMD"),
                                                   (10, "CMD")]
    assert ins[1].flags == {"mount": "type=cache,target=/c"}
    assert ins[1].rest == "apt-get update     && echo done"
    assert ins[2].exec_form == ["python", "-m", "http.server"]
    assert ins[3].exec_form is None and ins[3].rest == "[not json"


def test_variables_expand_as_docker_does():
    env = {"A": "1", "EMPTY": ""}
    assert expand("$A-${A}-${B:-b}-${EMPTY:-e}-${A:+set}-${B:+x}-\\$A", env) == "1-1-b-e-set--$A"
    kept = expand("${A}:${PATH}:${X:-d}:\\$A", env, lambda name: None, keep_escapes=True)
    assert kept == "1:${PATH}:${X:-d}:\\$A"


def test_instructions_become_ketchs_steps(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = ketch.Image.debian_slim().dockerfile_commands(
            "ARG V=1 UNSET", "ENV A=$V B='x y' P=$PATH", ["WORKDIR app", "WORKDIR sub"],
            'RUN ["echo", "a b"]', 'SHELL ["/bin/bash", "-c"]', "RUN echo $V", "LABEL x=y",
            "USER root", "CMD serve", "ENTRYPOINT [\"tini\"]", env={"BUILD": "1"},
            build_args={"V": "2"})
    assert steps(image)[1:] == [
        ("env", [], {"A": "2", "B": "x y", "P": "$PATH"}),   # PATH: the server's to expand
        ("workdir", ["/app"], {}), ("workdir", ["/app/sub"], {}),
        ("run_commands", ["echo 'a b'"], {"BUILD": "1", "V": "2"}),
        ("run_commands", ["/bin/bash -c 'echo $V'"], {"BUILD": "1", "V": "2"}),
        ("cmd", ["/bin/bash", "-c", "serve"], {}), ("entrypoint", ["tini"], {})]
    assert image._steps[1].options["expand"] == "1"
    assert "LABEL (line 8)" in str(caught[0].message)
    # image.shell() applies to later run_commands too.
    assert steps(image.run_commands("ls"))[-1] == ("run_commands", ["/bin/bash -c ls"], {})
    registry = ketch.Image.from_registry("x/y:1", add_python="3.11",
                                         setup_dockerfile_commands=["RUN make"])
    assert [s.kind for s in registry._steps] == ["from_registry", "add_python", "run_commands"]


def test_copy_takes_the_context_less_dockerignore(tmp_path):
    (tmp_path / "src" / "deep" / "cache").mkdir(parents=True)
    for name in ("src/a.py", "src/a.pyc", "src/deep/b.py", "src/deep/cache/c.py",
                 "src/keep.pyc", "top.txt", "other.txt", "elsewhere.cfg"):
        (tmp_path / name).write_text(name)
    (tmp_path / ".dockerignore").write_text("**/*.pyc\n!src/keep.pyc\nsrc/deep/cache\n")
    image = ketch.Image.debian_slim().dockerfile_commands(
        "WORKDIR /w", "COPY src ./code", "COPY *.txt /texts/", "ADD top.txt /one",
        "COPY --link conf.ini /etc/", "COPY top.txt .", context_dir=tmp_path,
        context_files={"conf.ini": str(tmp_path / "elsewhere.cfg")})
    copies = [(s.kind, list(s.args[1:])) for s in image._steps if s.kind.startswith("add_")]
    assert copies == [
        ("add_local_dir", ["/w/code", "a.py", "keep.pyc", "deep/b.py"]),
        ("add_local_file", ["/texts/other.txt"]), ("add_local_file", ["/texts/top.txt"]),
        ("add_local_file", ["/one"]), ("add_local_file", ["/etc/conf.ini"]),
        ("add_local_file", ["/w/top.txt"])]
    assert all(s.options["copy"] == "1" for s in image._steps if s.kind.startswith("add_"))
    # ignore= overrides the .dockerignore.
    only = ketch.Image.debian_slim().dockerfile_commands(
        "COPY src /s", context_dir=tmp_path, ignore=lambda p: p.suffix == ".pyc")
    assert list(only._steps[-1].args[2:]) == ["a.py", "deep/b.py", "deep/cache/c.py"]


@pytest.mark.parametrize("lines, error, match", [
    (["FROM python:3.11"], InvalidError, r"line 1 \(FROM\).*use Image.from_dockerfile"),
    (["RUN true", "COPY --from=0 /x /x"], InvalidError, r"line 2 \(COPY\).*no stage 0"),
    (["COPY --from=base /opt/*.so /lib/"], NotImplementedError, "wildcards in COPY --from"),
    (["COPY --chown=app a /a"], NotImplementedError, "--chown is not in ketch yet"),
    (["ADD https://example.com/x.tgz /x"], NotImplementedError, "URL"),
    (["ADD pkg.tar.gz /opt/"], NotImplementedError, "archive"),
    (["USER app"], NotImplementedError, r"USER is not in ketch yet"),
    (["RUN --mount=type=cache,target=/c make"], NotImplementedError, "RUN --mount"),
    (["RUN <<EOF", "echo hi", "EOF"], NotImplementedError, "heredocs"),
    (["WORKDIR $HOME/app"], InvalidError, r"\$HOME is not known"),
    (["COPY missing.txt /x"], InvalidError, "'missing.txt' is not in the build context"),
    (["COPY link /x"], InvalidError, "'link' leads outside the build context"),
    (["COPY a.tar.gz pkg.tar.gz /x"], InvalidError, "must end with /"),
    (["ENV"], InvalidError, r"write ENV NAME=VALUE"),
    (["ENV A='unclosed"], InvalidError, r"line 1 \(ENV\): cannot read it: No closing quotation"),
    (["FORM x"], InvalidError, "FORM is not a Dockerfile instruction"),
])
def test_what_ketch_cannot_do_fails_at_definition_naming_the_line(tmp_path, lines, error,
                                                                   match):
    (tmp_path / "ctx").mkdir()
    for name in ("a.tar.gz", "pkg.tar.gz", "outside"):
        (tmp_path / name if name == "outside" else tmp_path / "ctx" / name).write_text("x")
    (tmp_path / "ctx" / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(error, match=match):
        ketch.Image.debian_slim().dockerfile_commands(lines, context_dir=tmp_path / "ctx")


def test_from_dockerfile_reads_args_before_from_and_needs_a_from(tmp_path):
    file = tmp_path / "Dockerfile"
    file.write_text("ARG TAG=3.11\nFROM python:${TAG}-slim\nRUN pip install x\n")
    image = ketch.Image.from_dockerfile(file, build_args={}, add_python="3.13")
    assert [(s.kind, list(s.args)) for s in image._steps] == [
        ("from_registry", ["python:3.11-slim"]), ("run_commands", ["pip install x"]),
        ("add_python", ["3.13"])]
    for text, match in (("RUN true\n", r"line 1 \(RUN\): comes before FROM"),
                        ("COPY a /a\n", r"line 1 \(COPY\): comes before FROM"),
                        ("FROM scratch\nRUN ls\n", r"line 2 \(RUN\).*from_scratch"),
                        ("# nothing\n", "has no FROM line")):
        file.write_text(text)
        with pytest.raises((InvalidError, NotImplementedError), match=match):
            ketch.Image.from_dockerfile(file)
    with pytest.raises(InvalidError, match="cannot read it"):
        ketch.Image.from_dockerfile(tmp_path / "nope")


def test_multi_stage_builds_copy_from_earlier_stages_and_images(tmp_path):
    file = tmp_path / "Dockerfile"
    file.write_text("FROM base:1 AS build\nENV OUT=/out\nRUN make\nFROM build AS test\n"
                    "RUN make test\nFROM base:1\nCOPY --from=build /out/app /srv/\n"
                    "COPY --from=1 out /test-out\nCOPY --from=tools:2 /bin/tool /bin/tool\n")
    image = ketch.Image.from_dockerfile(file)
    assert [(s.kind, list(s.args)) for s in image._steps] == [
        ("from_registry", ["base:1"]), ("copy_from", ["/out/app", "/srv/"]),
        ("copy_from", ["/out", "/test-out"]), ("copy_from", ["/bin/tool", "/bin/tool"])]
    sources = [source for _, source in image._padded()[1:]]
    assert [[s.kind for s in src._steps] for src in sources] == [
        ["from_registry", "env", "run_commands"],
        ["from_registry", "env", "run_commands", "run_commands"], ["from_registry"]]
    assert sources[2]._steps[0].args == ["tools:2"]


def test_from_scratch_takes_files_only(tmp_path):
    scratch = ketch.Image.from_scratch().add_local_file(__file__, "/x", copy=True).env({"A": "1"})
    assert [s.kind for s in scratch._steps] == ["from_scratch", "add_local_file", "env"]
    with pytest.raises(InvalidError, match=r"run_commands\(\) on Image.from_scratch\(\)"):
        scratch.run_commands("ls")
    # The classic static-binary build: a stage's output copied into scratch.
    (tmp_path / "Dockerfile").write_text(
        "FROM golang:1 AS build\nRUN go build -o /app .\nFROM scratch\n"
        "COPY --from=build /app /app\nENTRYPOINT [\"/app\"]\n")
    assert [s.kind for s in ketch.Image.from_dockerfile(tmp_path / "Dockerfile")._steps] == [
        "from_scratch", "copy_from", "entrypoint"]


def test_entrypoint_cmd_and_pipe_check_their_arguments():
    base = ketch.Image.debian_slim()
    assert steps(base.entrypoint(["tini", "--"]).cmd(["python", "a.py"]))[1:] == [
        ("entrypoint", ["tini", "--"], {}), ("cmd", ["python", "a.py"], {})]
    for bad in ("python a.py", [], [1]):
        with pytest.raises(InvalidError, match="give a non-empty list of strings"):
            base.cmd(bad)
    assert base.pipe(lambda img, pkg: img.pip_install(pkg), "six")._steps[-1].args == ["six"]
    with pytest.raises(InvalidError, match="returned str, not an Image"):
        base.pipe(lambda img: "no")


def test_pyproject_installs_read_the_project_here(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "0"\ndependencies = ["six==1.16.0"]\n'
        '[project.optional-dependencies]\ntest = ["idna==3.7"]\n')
    image = ketch.Image.debian_slim().pip_install_from_pyproject(
        str(tmp_path / "pyproject.toml"), ["test"])
    assert steps(image)[-1] == ("pip_install", ["six==1.16.0", "idna==3.7"], {})
    with pytest.raises(InvalidError, match=r"no optional dependencies 'docs' \(it has"):
        ketch.Image.debian_slim().pip_install_from_pyproject(
            str(tmp_path / "pyproject.toml"), ["docs"])
    with pytest.raises(InvalidError, match="no lock file"):
        ketch.Image.debian_slim().poetry_install_from_file(str(tmp_path / "pyproject.toml"))
    synced = ketch.Image.debian_slim().uv_sync(str(tmp_path), groups=["dev"])
    assert synced._steps[-1].kind == "uv_sync" and synced._steps[-1].args[1] == ""
    assert synced._steps[-1].options["groups"] == "dev"


NOT_YET = ["micromamba", "micromamba_install", "from_aws_ecr", "from_gcp_artifact_registry",
           "pip_install_private_repos"]


@pytest.mark.parametrize("name", NOT_YET)
def test_modals_other_image_methods_say_they_are_not_in_ketch_yet(name):
    method = getattr(ketch.Image.debian_slim(), name)   # static ones too
    with pytest.raises(NotImplementedError, match=rf"Image\.{name} is not in ketch yet \(.{{20}}"):
        method("x")
    with pytest.raises(NotImplementedError, match="Image.logs is not in ketch yet"):
        ketch.Image.debian_slim().logs


def test_build_steps_take_modals_env_and_refuse_what_is_not_in_ketch_yet():
    image = ketch.Image.debian_slim().pip_install("six", env={"PIP_X": "1", "UNSET": None})
    assert steps(image)[-1] == ("pip_install", ["six"], {"PIP_X": "1"})
    assert steps(image.apt_install("jq", env={"A": "b"}))[-1] == ("apt_install", ["jq"],
                                                                  {"A": "b"})
    with pytest.raises(NotImplementedError, match=r"run_commands\(volumes=...\): volumes in "):
        ketch.Image.debian_slim().run_commands("ls", volumes={"/v": object()})
    with pytest.raises(NotImplementedError, match=r"run_function\(cloud=...\): .*no cloud"):
        ketch.Image.debian_slim().run_function(print, cloud="aws")
    with pytest.raises(InvalidError, match="give a dict of str to str"):
        ketch.Image.debian_slim().pip_install("six", env={"A": 1})
    pinned = ketch.Image.debian_slim().uv_pip_install("six", uv_version="0.8.4")
    assert pinned._steps[-1].options["uv_version"] == "0.8.4"
    with pytest.raises(InvalidError, match=r"uv_version='latest; rm'\): give a version"):
        ketch.Image.debian_slim().uv_pip_install("six", uv_version="latest; rm")
