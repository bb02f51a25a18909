"""A tenant's app that names another workspace's secret by its id (the tenancy tests)."""

import os

import ketch

app = ketch.App("thief")
stolen = ketch.Secret(object_id=os.environ.get("THIEF_SECRET_ID", "st-none"))


@app.function(secrets=[stolen])
def steal() -> str:
    return os.environ.get("KEY", "")
