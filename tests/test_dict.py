"""Dicts against a real server: the SDK here, in real containers, and through the CLI."""

import asyncio
import json
import textwrap

import pytest

import ketch
from ketch.exception import InvalidError, NotFoundError


@pytest.fixture(scope="module")
def state(server):
    from apps import state

    with state.app.run():
        yield state


def test_dict_behaves_like_a_dict(server):
    with ketch.Dict.ephemeral() as d:
        assert d.len() == 0 and d.get("missing") is None and d.get("missing", 7) == 7
        d["a"] = 1
        d[("tuple", 2)] = {"nested": [1, 2]}
        assert d["a"] == 1 and d[("tuple", 2)] == {"nested": [1, 2]}
        assert "a" in d and d.contains("a") and "b" not in d
        assert d.put("a", 99, skip_if_exists=True) is False and d["a"] == 1
        assert d.put("b", 2) is True
        d.update({"c": 3}, d=4)
        assert len(d) == 5 == d.len()
        assert sorted(map(str, d.keys())) == sorted(map(str, ["a", ("tuple", 2), "b", "c",
                                                               "d"]))
        assert sorted(v for v in d.values() if isinstance(v, int)) == [1, 2, 3, 4]
        assert dict(d.items())["c"] == 3
        assert d.pop("b") == 2
        with pytest.raises(KeyError):
            d.pop("b")
        with pytest.raises(KeyError):
            d["b"]
        del d["c"]
        assert "c" not in d
        d.clear()
        assert d.len() == 0 and list(d.keys()) == []


def test_iteration_pages_through_many_entries(server):
    with ketch.Dict.ephemeral() as d:
        d.update({i: str(i) for i in range(2500)})
        assert sorted(d.keys()) == list(range(2500))
        assert sorted(d.items()) == [(i, str(i)) for i in range(2500)]


def test_iteration_pages_large_values_by_size(server):
    """Pages are cut by bytes as well as count, so big values never overflow a frame."""
    with ketch.Dict.ephemeral() as d:
        big = b"v" * (15 * 1024 * 1024)
        d.update({k: big for k in range(5)})  # 75 MiB: more than one frame may carry
        assert [(k, len(v)) for k, v in sorted(d.items())] == [(k, len(big)) for k in range(5)]


def test_async_twins(server):
    async def main():
        async with ketch.Dict.ephemeral() as d:
            await d.put.aio("k", "v")
            assert await d.get.aio("k") == "v"
            assert await d.contains.aio("k")
            await d.update.aio(x=1)
            keys = [k async for k in d.keys.aio()]
            items = [kv async for kv in d.items.aio()]
            n = await d.len.aio()
            popped = await d.pop.aio("x")
            await d.clear.aio()
            return sorted(keys), sorted(items), n, popped, await d.len.aio()

    assert asyncio.run(main()) == (["k", "x"], [("k", "v"), ("x", 1)], 2, 1, 0)


def test_a_value_written_in_one_container_is_read_in_another(state):
    d = ketch.Dict.from_name("cross-container", create_if_missing=True)
    d.clear()
    state.dict_set.remote("cross-container", "answer", {"value": 42})
    assert state.dict_get.remote("cross-container", "answer") == {"value": 42}
    assert d["answer"] == {"value": 42}
    d["from-here"] = [1, 2]
    assert state.dict_get.remote("cross-container", "from-here") == [1, 2]


def test_concurrent_writers_in_many_containers(state):
    d = ketch.Dict.from_name("race", create_if_missing=True)
    d.clear()
    # Every container tries to claim the same key: exactly one wins.
    wins = list(state.dict_claim.map(["race"] * 12, range(12)))
    assert wins.count(True) == 1
    assert d["owner"] == wins.index(True)
    # Writers of disjoint keys lose nothing.
    list(state.dict_fill.map(["race"] * 8, range(0, 800, 100), [100] * 8))
    assert d.len() == 801
    assert all(d[i] == i * i for i in (0, 99, 100, 555, 799))


def test_missing_dict_and_bad_input_say_what_to_do(server):
    with pytest.raises(NotFoundError, match="create_if_missing=True"):
        ketch.Dict.from_name("never-created-dict").get("x")
    with pytest.raises(InvalidError, match="Dict name"):
        ketch.Dict.from_name("bad name!")
    with ketch.Dict.ephemeral() as d:
        with pytest.raises(InvalidError, match="limit is 65536 bytes"):
            d["k" * 70_000] = 1
        with pytest.raises(InvalidError, match="16 MiB"):
            d["big"] = b"x" * (17 * 1024 * 1024)
        assert d.len() == 0


def test_ephemeral_dict_is_gone_after_its_block(server):
    with ketch.Dict.ephemeral() as d:
        d["x"] = 1
    with pytest.raises(NotFoundError, match="no longer exists"):
        d.get("x")


def test_dict_persists_across_restart_and_cli(fresh_server):
    out = fresh_server.python(textwrap.dedent("""
        import ketch
        d = ketch.Dict.from_name("kept", create_if_missing=True)
        d.update({"model": "v3", "score": 0.5})
    """))
    assert out.returncode == 0, out.stderr
    fresh_server.stop()
    fresh_server.start()
    k = fresh_server.ketch
    assert json.loads(k("dict", "get", "kept", "model", "--json").stdout) == "v3"
    items = json.loads(k("dict", "items", "kept", "--json").stdout)
    assert sorted((i["key"], i["value"]) for i in items) == [("model", "v3"), ("score", 0.5)]
    table = k("dict", "items", "kept").stdout
    assert "'model'" in table and "'v3'" in table
    listing = json.loads(k("dict", "list", "--json").stdout)
    assert [(x["name"], x["entries"]) for x in listing] == [("kept", 2)]
    missing = k("dict", "get", "kept", "nope")
    assert missing.returncode == 1 and "no key 'nope'" in missing.stderr
    assert k("dict", "clear", "kept", "--yes").returncode == 0
    assert json.loads(k("dict", "list", "--json").stdout)[0]["entries"] == 0
    assert k("dict", "delete", "kept", "-y").returncode == 0
    assert json.loads(k("dict", "list", "--json").stdout) == []
