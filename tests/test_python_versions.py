"""Python versions: debian_slim and add_python offer those Debian's packages have; other
versions fail at decoration naming the ones on offer; plain data crosses a client and a container of
different minor versions, and a function pickled by value is refused naming both."""

import sys

import pytest

import ketch
from isolation_helpers import needs_bwrap, run_client, start_server


OFFERED = "3.9, 3.11, 3.13, 3.14, 3.15"


def test_versions_not_on_offer_fail_at_decoration():
    for bad in ("3.12", "3.10", "2.7", "3.16"):
        with pytest.raises(ketch.exception.InvalidError, match=f"offer Python {OFFERED}"):
            ketch.Image.debian_slim(python_version=bad)
        with pytest.raises(ketch.exception.InvalidError, match=f"adds Python {OFFERED}"):
            ketch.Image.from_registry("ubuntu:24.04", add_python=bad)
    with pytest.raises(ketch.exception.InvalidError, match=f"on offer: {OFFERED}"):
        ketch.Image.debian_slim(python_version="three")
    with pytest.raises(ketch.exception.InvalidError, match="minor version like '3.11'"):
        ketch.Image.from_registry("ubuntu:24.04", add_python="3.11.4")
    for good in ("3.9", "3.11", "3.13.1"):
        assert [s.kind for s in ketch.Image.debian_slim(python_version=good)._steps] == \
            ["debian_slim"]
    # A version no Debian release has as its python3: Debian 12 with it added.
    for added in ("3.14", "3.15"):
        steps = ketch.Image.debian_slim(python_version=added)._steps
        assert [(s.kind, list(s.args)) for s in steps] == [("debian_slim", ["3.11"]),
                                                           ("add_python", [added])]
    for private in (ketch.Image.from_aws_ecr, ketch.Image.from_gcp_artifact_registry):
        with pytest.raises(NotImplementedError, match="private registries"):
            private("x/y:1", add_python="3.11")
    steps = ketch.Image.from_registry("ubuntu:24.04", add_python="3.14")._steps
    assert [(s.kind, list(s.args)) for s in steps] == [("from_registry", ["ubuntu:24.04"]),
                                                       ("add_python", ["3.14"])]


@pytest.fixture(scope="module")
def bwrap_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("py-versions"), "bwrap")
    yield srv
    srv.stop()


@needs_bwrap
@pytest.mark.timeout(900)  # a cold cache builds the Debian 13 base first (minutes)
def test_plain_data_crosses_minor_versions_and_pickled_functions_are_refused(bwrap_server):
    client = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert client != "3.13", "this test needs a client that is not Python 3.13"
    out = run_client(bwrap_server, """
        import json, sys
        import ketch
        from apps import py313

        data = {"xs": [1, 2, 3], "name": "ünïcode", "nested": {"t": (1, "a"), "b": b"\\x00"}}
        with py313.app.run():
            facts = py313.facts.remote(data)
            try:
                py313.fails.remote()
            except ValueError as exc:
                error = str(exc)
        facts["echo_equal"] = facts.pop("echo") == data
        # A function pickled by value cannot load under another minor version: refused.
        app = ketch.App("pickled313", image=py313.image)

        @app.function(serialized=True)
        def inline():
            return 1

        try:
            with app.run():
                pass
            refused = None
        except ketch.exception.VersionError as exc:
            refused = str(exc)
        print(json.dumps({"facts": facts, "error": error, "refused": refused}))
    """, timeout=900)
    facts = out["facts"]
    assert facts["version"] == "3.13" and facts["os"].startswith("13")
    assert facts["echo_equal"] and facts["doubled"] == [2, 4, 6]
    assert out["error"].startswith("raised under Python 3.13")
    assert out["refused"] and f"this client runs Python {client}" in out["refused"]
    assert "would run Python 3.13" in out["refused"] and "serialized=True" in out["refused"]


@needs_bwrap
@pytest.mark.timeout(900)  # a cold cache builds the Debian 11 base first (minutes)
def test_a_python_39_image_runs_plain_data_calls(bwrap_server):
    out = run_client(bwrap_server, """
        import json
        from apps import py39
        with py39.app.run():
            print(json.dumps(py39.facts.remote({"xs": [1, 2], "t": (1, "ü")})))
    """, timeout=900)
    assert out["version"].startswith("3.9.") and out["os"].startswith("11")
    assert out["echo"] == {"xs": [1, 2], "t": [1, "ü"]}
