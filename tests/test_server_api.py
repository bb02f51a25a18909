"""The server's api layer and state services, without a server process: the error
mapping, the route table, and services built from nothing but what they use."""

from pathlib import Path

import pytest

from ketch.proto import ketch_pb2 as pb
from ketch.server.api.routes import ROUTES
from ketch.server.api.session import error_reply
from ketch.server.db.sqlite import SqliteDatabase
from ketch.server.dicts import SCAN_BYTES, DictService
from ketch.server.errors import ServiceError
from ketch.server.objects import ObjectsService
from ketch.server.objects_store import ObjectsStore


def test_each_error_maps_to_one_reply_code():
    assert error_reply(ServiceError("full", "resource")) == ("resource", "full")
    assert error_reply(ServiceError("bad")) == ("invalid", "bad")
    assert error_reply(KeyError("no such thing")) == ("not_found", "no such thing")
    assert error_reply(LookupError("gone")) == ("not_found", "gone")
    assert error_reply(TimeoutError("too slow")) == ("timeout", "too slow")
    assert error_reply(ValueError("v")) == ("invalid", "v")
    assert error_reply(TypeError("t")) == ("invalid", "t")
    code, message = error_reply(RuntimeError("boom"))
    assert code == "internal" and "boom" in message


def test_every_route_is_a_request_the_wire_carries():
    bodies = {f.name for f in pb.Frame.DESCRIPTOR.oneofs_by_name["body"].fields}
    for kind in [*ROUTES.client, *ROUTES.container, *ROUTES.sandbox]:
        assert kind in bodies, kind
    assert ROUTES.takes_raw <= set(ROUTES.client) | set(ROUTES.container) | set(ROUTES.sandbox)
    assert ROUTES.find("client", "hello") is None
    assert ROUTES.find("container", "app_create") is None
    assert ROUTES.find("container", "outputs") is not None
    assert ROUTES.find("sandbox", "app_create") is None   # a sandbox's supervisor: its own
    assert ROUTES.find("sandbox", "sandbox_data") is not None


@pytest.fixture
def objects():
    return ObjectsService(ObjectsStore(SqliteDatabase(Path(":memory:"))))


def test_ephemeral_objects_go_with_their_owner(objects):
    mine = objects.create_ephemeral("main", "dict", "conn-a")
    theirs = objects.create_ephemeral("main", "dict", "conn-b")
    named = objects.lookup("main", "dict", "kept", create_if_missing=True)
    objects.owner_closed("conn-a")
    with pytest.raises(LookupError):
        objects.get(mine.object_id, "dict")
    assert objects.get(theirs.object_id, "dict") and objects.get(named.object_id, "dict")
    with pytest.raises(ValueError):
        objects.create_ephemeral("main", "table", "conn-a")


def test_dict_scan_pages_stay_under_the_byte_limit(objects):
    dicts = DictService(objects)
    oid = objects.create("main", "dict", "big").object_id
    value = b"x" * (SCAN_BYTES // 3)
    assert dicts.put(oid, [(b"%d" % i, value) for i in range(5)], skip_if_exists=False) == 5
    assert dicts.put(oid, [(b"0", b"new")], skip_if_exists=True) == 0
    page, done = dicts.scan(oid, b"", 0, with_values=True)
    assert len(page) == 2 and not done
    page, done = dicts.scan(oid, page[-1][0], 0, with_values=True)
    assert [k for k, _ in page] == [b"2", b"3"] and not done
    assert dicts.scan(oid, b"1", 0, with_values=False) == (
        [(b"2", None), (b"3", None), (b"4", None)], True)
    assert dicts.pop(oid, b"4") == value and dicts.size(oid) == 4
    objects.delete(oid, "dict")
    with pytest.raises(LookupError):
        dicts.get(oid, b"0")
