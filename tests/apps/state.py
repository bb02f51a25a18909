"""Functions that use dicts, queues, secrets and volumes, run in real containers by the
tests. Imported by module path in containers."""

import os

import ketch

MOUNT = "/mnt/ketch-tests/data"
vol = ketch.Volume.from_name("state-tests", create_if_missing=True)

app = ketch.App("state", secrets=[ketch.Secret.from_dict({"APP_WIDE": "on"})])


# -- volumes

@app.function(volumes={MOUNT: vol})
def write_file(path: str, text: str) -> int:
    full = os.path.join(MOUNT, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as handle:
        handle.write(text)
    vol.commit()
    return len(text)


@app.function(volumes={MOUNT: vol})
def read_file(path: str) -> str:
    vol.reload()
    with open(os.path.join(MOUNT, path)) as handle:
        return handle.read()


@app.function(volumes={MOUNT: vol})
def make_symlink(name: str, target: str):
    os.symlink(target, os.path.join(MOUNT, name))


@app.function(volumes={MOUNT: vol.read_only()})
def try_write_read_only(path: str) -> str:
    try:
        with open(os.path.join(MOUNT, path), "w") as handle:
            handle.write("x")
    except OSError as exc:
        return type(exc).__name__
    return "written"


# -- dicts

@app.function()
def dict_set(name: str, key, value):
    ketch.Dict.from_name(name)[key] = value


@app.function()
def dict_get(name: str, key):
    return ketch.Dict.from_name(name).get(key)


@app.function()
def dict_claim(name: str, who: int) -> bool:
    """Many containers race to claim one key; put(skip_if_exists=True) lets one win."""
    return ketch.Dict.from_name(name).put("owner", who, skip_if_exists=True)


@app.function()
def dict_fill(name: str, start: int, n: int):
    d = ketch.Dict.from_name(name)
    for i in range(start, start + n):
        d[i] = i * i


# -- queues

@app.function()
def produce(name: str, n: int, n_consumers: int):
    q = ketch.Queue.from_name(name)
    for start in range(0, n, 100):
        q.put_many(list(range(start, min(n, start + 100))))
    q.put_many([None] * n_consumers)  # one stop sign per consumer, after every item


@app.function()
def consume(name: str) -> list:
    q = ketch.Queue.from_name(name)
    got = []
    while True:
        item = q.get(timeout=120)
        if item is None:
            return got
        got.append(item)


# -- secrets

@app.function(secrets=[ketch.Secret.from_dict({"INLINE_TOKEN": "inline-value-1"})])
def env_of(keys: list) -> dict:
    return {k: os.environ.get(k) for k in keys}
