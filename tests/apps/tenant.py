"""Functions of one tenant's app, for the tenancy tests (tests/test_security_tenancy.py)."""

import os

import ketch

app = ketch.App("tenant")


@app.function()
def square(x):
    return x * x


@app.function(scaledown_window=300)
def credential() -> dict:
    """What the container was given: its own credential, never the server's token."""
    return {"token": os.environ["KETCH_TOKEN"],
            "container_id": os.environ["KETCH_CONTAINER_ID"]}


@app.function()
def as_a_client(dict_name: str, x: int) -> dict:
    """User code in a container is a client of its workspace: it calls functions and uses
    that workspace's objects."""
    return {"square": ketch.Function.from_name("tenant", "square").remote(x),
            "dict": ketch.Dict.from_name(dict_name).get("owner")}


@app.function()
@ketch.fastapi_endpoint(requires_proxy_auth=True)
def private():
    """Whose Dict it sees says whose endpoint answered."""
    return ketch.Dict.from_name("ledger", create_if_missing=True).get("owner")
