"""An app for CLI tests: entrypoint options, logs, errors."""

import ketch

app = ketch.App("cli-app")


@app.function()
def shout(word: str) -> str:
    print(f"shouting {word}")
    return word.upper() + "!"


@app.local_entrypoint()
def main(word: str = "hello", times: int = 1, loud: bool = False):
    for _ in range(times):
        result = shout.remote(word)
        print(result if loud else result.lower())


@app.local_entrypoint()
def explode():
    raise RuntimeError("the entrypoint blew up")


@app.local_entrypoint()
async def async_main(word: str = "async"):
    print(await shout.remote.aio(word))
