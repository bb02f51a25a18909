"""What Modal's debian_slim base has (python:slim's tzdata, CA certificates, netbase)."""

import ketch

app = ketch.App("debian-base", image=ketch.Image.debian_slim())


@app.function()
def base_facts() -> dict:
    import datetime
    import os
    import socket
    import ssl
    from zoneinfo import ZoneInfo

    when = datetime.datetime(2026, 7, 1, 12, tzinfo=ZoneInfo("UTC"))
    return {"new_york": when.astimezone(ZoneInfo("America/New_York")).hour,
            "ca_certs": ssl.create_default_context().cert_store_stats()["x509_ca"],
            "https_port": socket.getservbyname("https"),
            "lang": os.environ.get("LANG")}
