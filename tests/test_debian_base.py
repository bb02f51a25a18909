"""Image.debian_slim() has what Modal's base has: time zones, CA certificates, netbase."""

from __future__ import annotations

import pytest

from isolation_helpers import needs_bwrap, run_client, start_server

pytestmark = needs_bwrap


@pytest.fixture(scope="module")
def bwrap_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("debian-base"), "bwrap")
    yield srv
    srv.stop()


def test_debian_slim_has_time_zones_certificates_and_services(bwrap_server):
    out = run_client(bwrap_server, """
        import json
        from apps import debian_base
        with debian_base.app.run():
            print(json.dumps(debian_base.base_facts.remote()))
    """)
    assert out["new_york"] == 8          # EDT, from tzdata's zone files
    assert out["ca_certs"] > 50
    assert out["https_port"] == 443      # /etc/services, from netbase
    assert out["lang"] == "C.UTF-8"
