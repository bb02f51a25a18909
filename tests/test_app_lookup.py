"""App.lookup (issue 10): a deployed app found or made by name, per workspace."""

from __future__ import annotations

import pytest

import ketch
from ketch.exception import NotFoundError


def test_lookup_creates_once_and_finds_it(server):
    with pytest.raises(NotFoundError, match="no deployed app named 'lookup-missing'"):
        ketch.App.lookup("lookup-missing")
    app = ketch.App.lookup("lookup-made", create_if_missing=True)
    assert app.name == "lookup-made" and app.app_id
    again = ketch.App.lookup("lookup-made")
    assert again.app_id == app.app_id
    listed = server.ketch("app", "list", "--json")
    assert "lookup-made" in listed.stdout


def test_lookup_aio_and_another_process(server):
    import asyncio

    app = asyncio.run(ketch.App.lookup.aio("lookup-aio", create_if_missing=True))
    out = server.python("import ketch; print(ketch.App.lookup('lookup-aio').app_id)")
    assert out.stdout.strip() == app.app_id, out.stderr


def test_lookup_bad_name(server):
    with pytest.raises(ketch.exception.InvalidError, match="App name"):
        ketch.App.lookup("no spaces")
