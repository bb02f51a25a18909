"""with_options, with_concurrency and with_batching on Functions and Classes: a variant
with options of its own, in containers of its own, on a real server."""

from __future__ import annotations

import json
import time

import pytest

import ketch
from ketch.exception import InvalidError


@pytest.fixture(scope="module")
def variants_app(server):
    from apps import variants

    with variants.app.run():
        yield variants


def flavour_containers(srv) -> int:
    out = srv.ketch("container", "list", "--json")
    return sum(1 for c in json.loads(out.stdout) if c["function"] == "flavour")


def test_with_options_runs_apart_from_the_base(server, variants_app):
    f = variants_app.flavour
    base = f.remote()
    spicy = f.with_options(env={"FLAVOUR": "spicy"}, timeout=30)
    got = spicy.remote()
    assert base.startswith("base:") and got.startswith("spicy:")
    assert base.split(":")[1] != got.split(":")[1]       # another container
    # The same options again reuse the variant (and its warm container).
    again = f.with_options(timeout=30, env={"FLAVOUR": "spicy"}).remote()
    assert again == got
    assert flavour_containers(server) == 2
    # Stacked: a later call adds to (and wins over) an earlier one.
    stacked = f.with_options(env={"FLAVOUR": "mild"}).with_options(timeout=20)
    assert stacked.remote().startswith("mild:")


def test_with_concurrency_runs_inputs_together(variants_app):
    # The base has max_containers=1 and one input at a time: four 1 s inputs take 4 s.
    wide = variants_app.flavour.with_concurrency(max_inputs=4)
    wide.remote()                       # warm its container
    start = time.monotonic()
    results = list(wide.map([1.0] * 4))
    elapsed = time.monotonic() - start
    assert len({r.split(":")[1] for r in results}) == 1   # one container ran them all
    assert elapsed < 2.5, elapsed


def test_with_batching_hands_the_function_lists(variants_app):
    batched = variants_app.batch_sizes.with_batching(max_batch_size=4, wait_ms=1000)
    sizes = list(batched.map(range(8)))
    assert len(sizes) == 8 and max(sizes) > 1 and all(s <= 4 for s in sizes)


def test_cls_variants(variants_app):
    Model = variants_app.Model
    assert Model(size=2).describe.remote() == "base:2"
    Hot = Model.with_options(env={"FLAVOUR": "hot"})
    assert Hot(size=3).describe.remote() == "hot:3"
    assert Hot().describe.remote() == "hot:1"
    Wide = Hot.with_concurrency(max_inputs=3)
    start = time.monotonic()
    assert list(Wide(size=5).describe.map([1.0] * 3)) == ["hot:5"] * 3
    assert time.monotonic() - start < 6   # a start, then the three together


def test_bad_run_time_options_are_refused_at_once(variants_app):
    f = variants_app.flavour
    with pytest.raises(InvalidError, match="no regions or clouds"):
        f.with_options(region="us-east")
    with pytest.raises(InvalidError, match="max_inputs=0"):
        f.with_concurrency(max_inputs=0)
    with pytest.raises(InvalidError, match="target_inputs=5 is above"):
        f.with_concurrency(max_inputs=2, target_inputs=5)
    with pytest.raises(InvalidError, match="timeout"):
        f.with_options(timeout=-1)
    with pytest.raises(InvalidError, match="web endpoint"):
        variants_app.page.with_options(timeout=5)
    with pytest.raises(InvalidError, match="call with_options on the class"):
        variants_app.Model().describe.with_options(timeout=5)


def test_a_deployed_variant_after_a_restart(fresh_server):
    assert fresh_server.ketch("deploy", "apps/variants.py").returncode == 0
    code = ("import ketch\n"
            "f = ketch.Function.from_name('variants', 'flavour')\n"
            "g = f.with_options(env={'FLAVOUR': 'x'})\n"
            "print(g.remote().split(':')[0], g.hydrate().object_id, f.hydrate().object_id)\n")
    first = fresh_server.python(code)
    assert first.returncode == 0, first.stderr
    flavour, variant_id, base_id = first.stdout.split()
    assert flavour == "x" and variant_id != base_id
    fresh_server.stop()
    fresh_server.start()
    # The variant came back with its deployed app, and the same options find it again.
    again = fresh_server.python(code)
    assert again.stdout.split() == ["x", variant_id, base_id], \
        again.stderr + fresh_server.log()[-2000:]


def test_server_side_rules_of_a_variant():
    from ketch.proto import ketch_pb2 as pb
    from ketch.server.functions import variants

    base = pb.FunctionSpec(name="job", timeout_s=300, schedule=pb.Schedule(seconds=60),
                           env={"A": "1"}, secret_ids=["sc-1"])
    over = pb.FunctionSpec(timeout_s=5, env={"B": "2"}, secret_ids=["sc-2"])
    spec = variants.apply(base, over, ["timeout_s", "env", "secret_ids"])
    assert spec.timeout_s == 5 and dict(spec.env) == {"A": "1", "B": "2"}
    assert list(spec.secret_ids) == ["sc-2"]
    assert not spec.HasField("schedule")        # the base alone runs on the schedule
    assert variants.key(over, ["env", "timeout_s", "secret_ids"]) == \
        variants.key(over, ["secret_ids", "timeout_s", "env"])
    with pytest.raises(ValueError, match="cannot change 'code_bundle'"):
        variants.apply(base, over, ["code_bundle"])
    with pytest.raises(ValueError, match="cannot be combined"):
        variants.apply(base, pb.FunctionSpec(batch_max_size=4, max_inputs=3),
                       ["batch_max_size", "max_inputs"])
    web = pb.FunctionSpec(name="page", web_endpoints=[pb.WebEndpoint(label="page")])
    with pytest.raises(ValueError, match="web endpoint"):
        variants.apply(web, over, ["timeout_s"])
