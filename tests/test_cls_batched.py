"""@ketch.batched methods of an @app.cls class (issue 10), as Modal documents them: the
class's containers gather calls into lists of up to max_batch_size within wait_ms; a class
with a batched method has no other remote method, and mixing is refused at decoration."""

import concurrent.futures

import pytest

import ketch


def test_batched_method_maps_in_batches(basic_app):
    out = list(basic_app.BatchedModel().predict.map(range(50)))
    assert [value for value, _, _ in out] == list(range(50))   # each input its own result
    sizes = [size for _, size, _ in out]
    assert max(sizes) > 1, sizes          # the method really saw batches
    assert max(sizes) <= 8, sizes         # never more than max_batch_size


def test_batched_method_of_a_parametrized_instance(basic_app):
    model = basic_app.BatchedModel(scale=3)
    out = list(model.predict.map(range(20)))
    assert [value for value, _, _ in out] == [3 * x for x in range(20)]
    assert max(size for _, size, _ in out) > 1


def test_concurrent_remote_calls_are_batched(basic_app):
    model = basic_app.BatchedModel(scale=2)
    model.predict.remote(0)   # a warm container, so the calls below arrive together
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        out = list(pool.map(model.predict.remote, range(8)))
    assert [value for value, _, _ in out] == [2 * x for x in range(8)]
    assert max(size for _, size, _ in out) > 1


def _cls_with(**methods):
    app = ketch.App("batched-rules")
    return app.cls()(type("Model", (), {"__module__": __name__, **methods}))


def _batched(f):
    return ketch.batched(max_batch_size=4, wait_ms=10)(f)


def test_only_batched_methods_are_accepted():
    handle = _cls_with(predict=_batched(lambda self, xs: xs))
    assert handle._app._definitions["Model"].spec().batch_max_size == 4


def test_batched_mixed_with_other_methods_is_refused():
    # Modal: "a class with a modal batched function cannot have other modal methods".
    with pytest.raises(ketch.exception.InvalidError,
                       match=r"batched method \(predict\) cannot have other remote methods "
                             r"\(describe\).*another @app.cls"):
        _cls_with(predict=_batched(lambda self, xs: xs),
                  describe=ketch.method()(lambda self: "model"))


def test_two_batched_methods_are_refused():
    with pytest.raises(ketch.exception.InvalidError, match="only one @ketch.batched method"):
        _cls_with(a=_batched(lambda self, xs: xs), b=_batched(lambda self, xs: xs))


def test_batched_on_the_class_itself_is_refused():
    with pytest.raises(ketch.exception.InvalidError, match="put it on the method"):
        _batched(type("Model", (), {}))


def test_batched_generator_method_is_refused():
    def gen(self, xs):
        yield xs
    with pytest.raises(ketch.exception.InvalidError, match="cannot be a generator"):
        _cls_with(predict=_batched(gen))
