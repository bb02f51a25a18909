"""Modal options ketch cannot honour are refused with a message naming the fix, never
dropped in silence (no server needed)."""

from __future__ import annotations

import pytest

import ketch


def test_client_is_refused_on_object_handles():
    for make in (lambda: ketch.Dict.from_name("d", client=object()),
                 lambda: ketch.Queue.ephemeral(client=object()),
                 lambda: ketch.Secret.from_name("s", client=object()),
                 lambda: ketch.Volume.from_name("v", client=object())):
        with pytest.raises(NotImplementedError, match="Remove client="):
            make()
    assert ketch.Dict.from_name("d", environment_name="main").name == "d"


def test_include_source_false_is_refused_and_true_accepted():
    with pytest.raises(NotImplementedError, match="include_source=False"):
        ketch.App("a", include_source=False)
    app = ketch.App("a", include_source=True)
    with pytest.raises(NotImplementedError, match="include_source=False"):
        @app.function(include_source=False)
        def f():
            pass

    @app.function(include_source=True, serialized=True)
    def g():
        pass


def test_interactive_run_is_refused():
    with pytest.raises(NotImplementedError, match="interactive"):
        ketch.App("a").run(interactive=True)
