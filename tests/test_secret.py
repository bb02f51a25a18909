"""Secrets against a real server: made with the CLI, injected into real containers,
encrypted at rest, and never shown in logs or CLI output."""

import json
import textwrap

import pytest

import ketch
from ketch.exception import InvalidError

VALUE = "sk-test-Zq81vX0pL4"  # a distinctive value to search logs and files for


def test_secrets_reach_containers_and_nowhere_else(fresh_server, tmp_path):
    k = fresh_server.ketch
    made = k("secret", "create", "api", f"API_KEY={VALUE}", "REGION=eu")
    assert made.returncode == 0, made.stderr
    assert VALUE not in made.stdout + made.stderr
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"# comment\nexport FROM_FILE='{VALUE}-file'\nOTHER=\"two words\"\n")
    code = textwrap.dedent(f"""
        import os, ketch
        os.environ["LOCAL_ONE"] = "local-value"
        app = ketch.App("secret-user")

        @app.function(serialized=True, secrets=[
            ketch.Secret.from_name("api", required_keys=["API_KEY"]),
            ketch.Secret.from_dotenv({str(tmp_path)!r}),
            ketch.Secret.from_local_environ(["LOCAL_ONE"]),
            ketch.Secret.from_dict({{"INLINE": "x", "SKIPPED": None}})])
        def env_of(keys):
            return {{k: os.environ.get(k) for k in keys}}

        with app.run():
            got = env_of.remote(["API_KEY", "REGION", "FROM_FILE", "OTHER", "LOCAL_ONE",
                                 "INLINE", "SKIPPED"])
        print("OK" if got == {{"API_KEY": {VALUE!r}, "REGION": "eu",
                               "FROM_FILE": {VALUE + "-file"!r}, "OTHER": "two words",
                               "LOCAL_ONE": "local-value", "INLINE": "x",
                               "SKIPPED": None}} else got)
    """)
    out = fresh_server.python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "OK"

    listed = k("secret", "list")
    assert "api" in listed.stdout and "API_KEY, REGION" in listed.stdout
    as_json = json.loads(k("secret", "list", "--json").stdout)
    assert [(s["name"], s["keys"]) for s in as_json] == [("api", ["API_KEY", "REGION"])]
    logs = k("app", "logs", "secret-user")
    for text in (listed.stdout, json.dumps(as_json), logs.stdout, logs.stderr,
                 fresh_server.log()):
        assert VALUE not in text
    # Encrypted at rest: no file the server keeps holds the value in the clear, and the
    # key lives apart from the database, readable by its owner only.
    for path in fresh_server.data_dir.rglob("*"):
        if path.is_file() and path.name != "server.log":
            assert VALUE.encode() not in path.read_bytes(), path
    key = fresh_server.data_dir / "secrets.key"
    assert key.stat().st_mode & 0o777 == 0o600


def test_secrets_survive_a_restart_and_can_be_replaced(fresh_server):
    k = fresh_server.ketch
    assert k("secret", "create", "svc", "TOKEN=one").returncode == 0
    again = k("secret", "create", "svc", "TOKEN=two")
    assert again.returncode == 1 and "--force" in again.stderr
    fresh_server.stop()
    fresh_server.start()
    assert k("secret", "create", "svc", "TOKEN=three", "--force").returncode == 0
    code = textwrap.dedent("""
        import os, ketch
        app = ketch.App("svc-user")
        @app.function(serialized=True, secrets=[ketch.Secret.from_name("svc")])
        def token():
            return os.environ["TOKEN"]
        with app.run():
            print(token.remote())
    """)
    out = fresh_server.python(code)
    assert out.stdout.strip() == "three", out.stderr
    assert k("secret", "delete", "svc", "--yes").returncode == 0
    assert json.loads(k("secret", "list", "--json").stdout) == []


def test_a_missing_secret_or_key_fails_the_deploy_naming_it(server):
    k = server.ketch
    k("secret", "create", "partial", "ONLY=1", "--force")
    for secret, expected in (("ketch.Secret.from_name('absent-secret')", "absent-secret"),
                             ("ketch.Secret.from_name('partial', required_keys=['ONLY', "
                              "'NEEDED'])", "NEEDED")):
        out = server.python(textwrap.dedent(f"""
            import ketch
            app = ketch.App("needs-secret")
            @app.function(serialized=True, secrets=[{secret}])
            def f():
                return 1
            try:
                app.deploy()
            except ketch.exception.NotFoundError as exc:
                print("FAILED:", exc)
        """))
        assert "FAILED:" in out.stdout and expected in out.stdout, out.stderr
    listed = k("app", "list", "--json")
    assert "needs-secret" not in listed.stdout


def test_app_wide_and_inline_secrets(server):
    from apps import state

    with state.app.run():
        assert state.env_of.remote(["APP_WIDE", "INLINE_TOKEN"]) == {
            "APP_WIDE": "on", "INLINE_TOKEN": "inline-value-1"}


def test_bad_secret_input_is_refused_early(server, tmp_path):
    with pytest.raises(InvalidError, match="valid environment variable name"):
        ketch.Secret.from_dict({"1BAD": "x"})
    with pytest.raises(InvalidError, match="values are strings"):
        ketch.Secret.from_dict({"N": 1})
    with pytest.raises(InvalidError, match="NOT_SET_ANYWHERE"):
        ketch.Secret.from_local_environ(["NOT_SET_ANYWHERE"])
    with pytest.raises(InvalidError, match="no missing.env"):
        ketch.Secret.from_dotenv(tmp_path, filename="missing.env")
    with pytest.raises(InvalidError, match="list of ketch.Secret"):
        ketch.App("x").function(secrets=ketch.Secret.from_dict({"A": "b"}))(lambda: None)


def test_secret_cli_refuses_bad_pairs(server):
    out = server.ketch("secret", "create", "bad-pairs", "NOEQUALS")
    assert out.returncode == 1 and "KEY=VALUE" in out.stderr
    empty = server.ketch("secret", "create", "bad-pairs")
    assert empty.returncode == 1 and "at least one" in empty.stderr


def test_an_inline_secret_is_stored_once_however_often_its_app_starts(fresh_server):
    code = textwrap.dedent("""
        import ketch
        print(ketch.Secret.from_dict({"SAME": "value"}).hydrate().object_id,
              ketch.Secret.from_dict({"SAME": "other"}).hydrate().object_id)
    """)
    first = fresh_server.python(code).stdout.split()
    second = fresh_server.python(code).stdout.split()
    assert len(first) == 2 and first == second and first[0] != first[1]
