"""An app one of whose functions asks for more than any test machine has."""

import ketch

app = ketch.App("unmeetable")


@app.function(cpu=500, startup_timeout=3)
def huge(x: int) -> int:
    return x


@app.function(gpu="H100:8", startup_timeout=3)
def many_gpus() -> str:
    return "ran"


@app.function()
def small(x: int) -> int:
    return x + 1


@app.local_entrypoint()
def main():
    print("small gives", small.remote(1))
    huge.remote(2)
