"""The store API of every module that keeps state, run against both backends: SQLite in a
temporary directory and a real PostgreSQL server (tests/store_fixtures.py), each test in
a fresh database (PostgreSQL: a schema of its own)."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest

from ketch.proto import ketch_pb2 as pb
from ketch.server.db import StoreUnavailable, mask_url, migrate, open_database
from ketch.server.db.sqlite import SqliteDatabase
from ketch.server.deployments import DeploymentTable
from ketch.server.functions.model import AppRecord, Call, FunctionRecord
from ketch.server.gateway.tokens import ProxyTokens
from ketch.server.history import CallHistory
from ketch.server.images.owners import ImageOwners
from ketch.server.logs import LogService
from ketch.server.metrics import ServerMetrics
from ketch.server.objects_store import ObjectsStore
from ketch.server.schedules import ScheduleState, ScheduleTable
from ketch.server.store import Store
from ketch.server.tokens import Tokens

BINARY = bytes(range(256)) * 4    # every byte value, NUL included


@pytest.fixture(params=["sqlite", "postgresql"])
def opener(request, tmp_path):
    """→ a function that opens a new connection to this test's empty store."""
    if request.param == "sqlite":
        path = tmp_path / "ketch.db"
        opened = [lambda: SqliteDatabase(path)]
    else:
        import psycopg

        url = request.getfixturevalue("pg_url")
        schema = "s_" + secrets.token_hex(4)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        opened = [lambda: open_database(f"{url}?options=-csearch_path%3D{schema}", tmp_path)]
    dbs = []

    def open_():
        dbs.append(opened[0]())
        return dbs[-1]

    yield open_
    for db in dbs:
        db.close()


@pytest.fixture
def db(opener):
    return opener()


def test_apps_functions_and_spawned_calls(db, opener):
    store = Store(db)
    store.add_app("ap-1", "web", "deployed", "main")
    store.add_app("ap-2", "web", "stopped", "main")
    store.add_app("ap-3", "web", "deployed", "team")
    store.set_app_state("ap-2", "stopped")
    assert store.deployed_app("web", "main").app_id == "ap-1"
    assert store.deployed_app("web", "nobody") is None
    assert store.app_workspace("ap-3") == "team"
    assert [a.app_id for a in store.apps(("deployed",), workspace="main")] == ["ap-1"]
    assert {a.app_id for a in store.apps()} == {"ap-1", "ap-2", "ap-3"}
    assert store.apps(("stopped",))[0].stopped_at > 0
    store.add_function("fu-1", "ap-1", "f", b"spec\x00", None, None)
    store.add_function("fu-2", "ap-1", "g", b"g", "fu-1", BINARY)
    store.set_function_spec("fu-1", BINARY)
    rows = store.functions_of("ap-1")
    assert [(r.function_id, r.spec, r.parent_id, r.params) for r in rows] == [
        ("fu-1", BINARY, None, None), ("fu-2", b"g", "fu-1", BINARY)]

    store.add_call("fc-1", "fu-1", "main")
    store.add_call_inputs("fc-1", [(0, b"in0"), (1, BINARY)])
    store.add_call_inputs("fc-1", [(2, b"in2")])
    store.set_call_output("fc-1", 1, b"out1")
    store.set_call_input("fc-1", 0, b"in0-again")
    assert store.call("fc-1", "main")[:2] == ("fu-1", 3)
    assert store.call("fc-1", "team") is None       # another workspace's call is not seen
    # A restart (a new connection) finds what was pending.
    again = Store(opener())
    assert again.open_calls() == [("fc-1", "fu-1")]
    assert again.pending_inputs("fc-1") == [(0, b"in0-again"), (2, b"in2")]
    assert again.call_outputs("fc-1") == [(0, None), (1, b"out1"), (2, None)]
    again.finish_call("fc-1")
    assert store.open_calls() == [] and store.call("fc-1", "main")[2] > 0


def test_named_objects_dicts_and_secrets(db):
    objects = ObjectsStore(db)
    objects.add("di-1", "dict", "cfg", "main")
    objects.add("di-2", "dict", "cfg", "team")
    objects.add("di-3", "dict", None, "main", ephemeral=True)
    with pytest.raises(db.Error):      # one name per workspace and kind
        objects.add("di-4", "dict", "cfg", "main")
    assert objects.by_name("team", "dict", "cfg").object_id == "di-2"
    assert objects.by_id("di-3").ephemeral
    assert [r.object_id for r in objects.named("main", "dict")] == ["di-1"]
    assert objects.ephemeral_ids() == [("di-3", "dict")]
    before = objects.by_id("di-1").updated_at
    time.sleep(0.01)
    objects.touch("di-1")
    assert objects.by_id("di-1").updated_at > before

    assert objects.dict_put("di-1", [(b"a", b"1"), (b"b", BINARY)], skip_if_exists=False) == 2
    assert objects.dict_put("di-1", [(b"a", b"x"), (b"c", b"3")], skip_if_exists=True) == 1
    assert objects.dict_get("di-1", b"a") == b"1"
    assert objects.dict_put("di-1", [(b"a", b"2")], skip_if_exists=False) == 1
    assert objects.dict_get("di-1", b"a") == b"2" and objects.dict_get("di-1", b"zz") is None
    assert objects.dict_scan("di-1", b"", 10, True) == [(b"a", b"2"), (b"b", BINARY),
                                                       (b"c", b"3")]
    assert objects.dict_scan("di-1", b"a", 1, False) == [(b"b", None)]
    assert objects.dict_pop("di-1", b"b") == BINARY and objects.dict_pop("di-1", b"b") is None
    assert objects.dict_len("di-1") == 2
    objects.dict_clear("di-1")
    assert objects.dict_len("di-1") == 0

    objects.add("st-1", "secret", "api", "main")
    objects.secret_set("st-1", BINARY, ["B", "A"], digest="d1")
    objects.secret_set("st-1", b"sealed", ["KEY"], digest="d2")
    assert objects.secret("st-1") == (b"sealed", ["KEY"])
    assert objects.secret_by_digest("d2") == "st-1" and objects.secret_by_digest("d1") is None
    objects.delete("st-1")
    assert objects.secret("st-1") is None and objects.by_id("st-1") is None


def test_a_batch_of_large_values_is_written_whole(db):
    """30 MiB in one transaction (a Dict.update of big values) neither hang nor tear: in
    psycopg's pipeline mode this batch hung."""
    objects = ObjectsStore(db)
    objects.add("di-big", "dict", "big", "main")
    big = [(b"%d" % i, bytes([i]) * (15 << 20)) for i in range(2)]
    assert objects.dict_put("di-big", big, skip_if_exists=False) == 2
    assert objects.dict_scan("di-big", b"", 10, True) == big


def test_queues_keep_order_partitions_and_expiry(db):
    objects = ObjectsStore(db)
    objects.add("qu-1", "queue", "jobs", "main")
    objects.queue_put("qu-1", "", [b"1", b"2", b"3"], None)
    objects.queue_put("qu-1", "p", [BINARY], expires_at=100.0)
    objects.queue_put("qu-1", "p", [b"p2"], expires_at=200.0)   # its expiry moves
    assert objects.queue_len("qu-1", None) == 5 and objects.queue_len("qu-1", "") == 3
    assert objects.queue_partition_count("qu-1") == 1
    assert objects.expired_partitions(150.0) == []
    assert objects.expired_partitions(250.0) == [("qu-1", "p")]
    peeked = objects.queue_peek("qu-1", "", 0, 2, 1 << 20)
    assert [v for _, v in peeked] == [b"1", b"2"]
    assert [v for _, v in objects.queue_peek("qu-1", "", peeked[0][0], 5, 1 << 20)] == [
        b"2", b"3"]
    assert [v for _, v in objects.queue_take("qu-1", "", 5, 1)] == [b"1"]   # bytes bound
    assert [v for _, v in objects.queue_take("qu-1", "", 5, 1 << 20)] == [b"2", b"3"]
    assert objects.queue_take("qu-1", "", 5, 1 << 20) == []
    assert [v for _, v in objects.queue_take("qu-1", "p", 1, 1 << 20)] == [BINARY]
    objects.queue_clear("qu-1", "p")
    assert objects.queue_len("qu-1", None) == 0 and objects.queue_partition_count("qu-1") == 0


def test_workspace_tokens_survive_a_reopen(db, opener):
    tokens = Tokens(db, "kt-admin", isolated=True)
    token_id, secret = tokens.create("team", "ci")
    tokens.create("team", "")                 # the workspace exists once
    assert tokens.authenticate(secret).workspace == "team"
    again = Tokens(opener(), "kt-admin", isolated=True)
    principal = again.authenticate(secret)
    assert principal.token_id == token_id
    assert again.workspace_for(principal, "") == "team"
    assert again.describe(principal) == f"token ci ({token_id})"
    assert [t.workspace for t in again.list()] == ["team", "team"]
    again.revoke(token_id)
    assert again.authenticate(secret) is None
    with pytest.raises(LookupError):
        again.revoke(token_id)


def test_proxy_tokens_survive_a_reopen(db, opener):
    proxy = ProxyTokens(db)
    token_id, secret = proxy.create("main", "edge")
    again = ProxyTokens(opener())
    assert again.check(token_id.encode(), secret.encode(), "main") is None
    assert again.check(token_id.encode(), secret.encode(), "team") is not None
    assert [t.name for t in again.list("main")] == ["edge"] and again.list("team") == []
    again.revoke("main", token_id)
    assert ProxyTokens(opener()).list("main") == []


def test_image_owners(db, opener):
    owners = ImageOwners(db)
    assert owners.new
    owners.claim("main", "im-1")
    owners.claim("main", "im-1")
    owners.claim("team", "im-1")
    again = ImageOwners(opener())
    assert not again.new
    assert again.owned("main") == {"im-1"} and again.owns("team", "im-1")
    assert again.release("main", "im-1") is True       # team still claims it
    assert again.release("team", "im-1") is False


def test_schedules_keep_deployed_rows_and_forget_ephemeral_ones(db, opener):
    table = ScheduleTable(db)
    table.put(ScheduleState("app:main:a:f", "fu-1", 10.0, None, 1764590400.123456))
    table.put(ScheduleState("fn:fu-2", "fu-2", 10.0, None, 20.0))
    table.put(ScheduleState("app:main:a:f", "fu-3", 11.0, 1764590400.123456, 1764594000.5))
    got = table.get("app:main:a:f")
    # Times keep their full precision (PostgreSQL's REAL would round them to 4 bytes).
    assert (got.function_id, got.anchor, got.last_run, got.next_run) == (
        "fu-3", 11.0, 1764590400.123456, 1764594000.5)
    again = ScheduleTable(opener())      # a restart: ephemeral apps' schedules went with it
    assert again.get("fn:fu-2") is None and again.get("app:main:a:f") is not None
    again.delete("app:main:a:f")
    assert again.get("app:main:a:f") is None


def test_deployment_versions_count_per_workspace_and_name(db):
    table = DeploymentTable(db)
    assert table.add("main", "web", "ap-1", "admin", "v1", "abc", 0) == 1
    assert table.add("main", "web", "ap-2", "admin", "", "def", 0) == 2
    assert table.add("team", "web", "ap-3", "token ci", "", "abc", 0) == 1
    assert table.add("main", "web", "ap-4", "admin", "v1", "abc", 1) == 3
    rows = table.versions("main", "web", 2)
    assert [(v, a, rb) for v, a, _, _, _, _, rb in rows] == [(3, "ap-4", 1), (2, "ap-2", 0)]
    assert table.versions("main", "other", 10) == []


def test_call_history_is_written_and_read_back(db, opener, tmp_path):
    app = AppRecord("ap-1", "hist", "deployed", None)
    fn = FunctionRecord("fu-1", app, pb.FunctionSpec(name="f"))

    async def record():
        history = CallHistory(db, ServerMetrics(db.size_bytes), LogService(tmp_path / "l"))
        call = Call("fc-1", fn, pb.SPAWN, None, False)
        history.call_created(call, "", False)
        history.input_ended(call, pb.Output(idx=0, status=pb.SUCCESS))
        call.n_inputs = 1
        history.call_finished(call)
        history.close()          # flushes

    async def read():
        history = CallHistory(opener(), ServerMetrics(db.size_bytes),
                              LogService(tmp_path / "l"))
        return history.get("main", "fc-1")

    asyncio.run(record())
    rec = asyncio.run(read())
    assert (rec.call_id, rec.app_name, rec.status) == ("fc-1", "hist", "success")


def test_migrations_are_versioned_and_idempotent(db, opener):
    steps = ["CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB)",
             "ALTER TABLE t ADD COLUMN n INTEGER NOT NULL DEFAULT 0"]
    migrate(db, "t", steps[:1])
    db.execute("INSERT INTO t (k, v) VALUES (?, ?)", ("a", b"1"))
    migrate(db, "t", steps)
    migrate(opener(), "t", steps)          # again, from another connection: nothing to do
    assert db.execute("SELECT k, v, n FROM t").fetchall() == [("a", b"1", 0)]
    assert db.execute("SELECT version FROM schema_versions WHERE component = 't'"
                      ).fetchone() == (2,)
    with pytest.raises(RuntimeError, match="newer than this ketch knows"):
        migrate(db, "t", steps[:1])
    assert db.size_bytes() > 0


def test_a_bad_store_url_is_refused_naming_it_without_its_password(tmp_path, postgres):
    with pytest.raises(StoreUnavailable, match="give a PostgreSQL URL"):
        open_database("mysql://u:hunter2@h/db", tmp_path)
    wrong = postgres.url("postgres", password="hunter2")
    with pytest.raises(StoreUnavailable) as failed:
        open_database(wrong, tmp_path)
    assert mask_url(wrong) in str(failed.value) and "hunter2" not in str(failed.value)
    assert "***" in mask_url(wrong)
    with pytest.raises(StoreUnavailable, match="cannot reach the PostgreSQL store"):
        open_database("postgresql://u:hunter2@127.0.0.1:1/db", tmp_path)


def test_a_connection_lost_to_a_postgresql_restart_is_made_again(pg_url, postgres, tmp_path):
    db = open_database(pg_url, tmp_path)
    try:
        objects = ObjectsStore(db)
        objects.add("di-r", "dict", "restart", "main")
        postgres.restart()
        with pytest.raises(db.Error):      # the statement that finds the connection gone
            objects.by_id("di-r")
        assert objects.by_id("di-r").name == "restart"
    finally:
        db.close()
