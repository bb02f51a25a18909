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


_no_source = ketch.App("a", include_source=False)


@_no_source.function()
def _image_carries_it():
    pass


@_no_source.function(include_source=True)
def _uploaded():
    pass


def test_include_source_is_accepted_and_kept_per_function():
    # Issue 9 item 4 implements include_source=False (it was refused): no code is uploaded
    # and the image carries it. A function's value overrides the app's.
    assert _no_source._definitions["_image_carries_it"].source() is None
    assert _no_source._definitions["_uploaded"].source()[0] == __file__
    with pytest.raises(ketch.exception.InvalidError, match="include_source"):
        ketch.App("a", include_source="yes")
