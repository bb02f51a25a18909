"""OpenAI's embeddings API in front of a real model (all-MiniLM-L6-v2, 384 dimensions),
autoscaled from zero, with concurrent requests gathered into model batches.

    ketch secret create embeddings-auth EMBEDDINGS_API_KEY=some-long-random-key
    ketch deploy examples/embeddings.py

Then, with OpenAI's own client, unchanged:

    import openai
    client = openai.OpenAI(base_url="http://embeddings--api.localhost:8000/v1",
                           api_key="some-long-random-key")
    client.embeddings.create(model="all-MiniLM-L6-v2", input=["a cat", "a dog"])

The API key is the embeddings-auth secret's EMBEDDINGS_API_KEY: every request must send it
as `Authorization: Bearer ...` (what OpenAI's clients send). EMBEDDINGS_SCALEDOWN sets how
many seconds an idle container stays warm (default 60) before the app scales back to zero;
minilm.py has the GPU and torch knobs; docs/inference.md explains each.
"""

import asyncio
import base64
import hmac
import json
import os

import ketch
import minilm
from minilm import DIMENSIONS, MAX_BATCH, MODEL_ID

MODEL_ALIASES = {MODEL_ID, "sentence-transformers/" + MODEL_ID}
MAX_INPUTS_PER_REQUEST = 2048       # OpenAI's own limit, so clients that chunk for it work
MAX_CHARS_PER_INPUT = 100_000       # the model reads 256 tokens; this bounds the tokenizer
MAX_BODY_BYTES = 16 * 1024 * 1024   # a request body is read into memory only up to this
BATCH_WAIT_S = 0.002                # how long a batch waits for company once the model is free
CONCURRENT_REQUESTS = 64            # requests one container holds at once
SCALEDOWN_S = int(os.environ.get("EMBEDDINGS_SCALEDOWN", "60"))


app = ketch.App("embeddings")


class ApiError(Exception):
    """An error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""

    def __init__(self, status: int, message: str, param: str | None = None,
                 code: str | None = None, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = (
            status, message, param, code, kind)

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param,
                          "code": self.code}}


def parse_request(body, vocab_size: int) -> tuple[list, str, str]:
    """The request's inputs (strings, or lists of token ids), its model and its encoding;
    raises ApiError naming what is wrong."""
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "you must provide a model parameter", "model")
    if model not in MODEL_ALIASES:
        raise ApiError(404, f"The model '{model}' does not exist; this server serves "
                       f"'{MODEL_ID}' (GET /v1/models lists it).", "model", "model_not_found")
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise ApiError(400, f"encoding_format {fmt!r} is not supported: use 'float' or "
                       "'base64'.", "encoding_format")
    dims = body.get("dimensions")
    if dims is not None and dims != DIMENSIONS:
        raise ApiError(400, f"dimensions={dims!r}: {MODEL_ID} makes {DIMENSIONS}-dimension "
                       f"vectors and cannot shorten them; omit dimensions or pass "
                       f"{DIMENSIONS}.", "dimensions")
    raw = body.get("input")
    # A string, a list of strings, a list of token ids, or a list of those lists.
    if isinstance(raw, str) or (isinstance(raw, list) and raw and _is_tokens(raw)):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "'input' must be a non-empty string or a non-empty list of "
                       "strings (or of token-id lists).", "input")
    if len(raw) > MAX_INPUTS_PER_REQUEST:
        raise ApiError(400, f"'input' has {len(raw)} items; at most "
                       f"{MAX_INPUTS_PER_REQUEST} are allowed per request: send the rest in "
                       "another request.", "input")
    for i, item in enumerate(raw):
        if isinstance(item, str):
            if not item:
                raise ApiError(400, f"input[{i}] is an empty string; every input needs text.",
                               "input")
            if len(item) > MAX_CHARS_PER_INPUT:
                raise ApiError(400, f"input[{i}] has {len(item)} characters; at most "
                               f"{MAX_CHARS_PER_INPUT} are allowed.", "input")
        elif isinstance(item, list) and item and _is_tokens(item):
            if len(item) > MAX_CHARS_PER_INPUT or not all(0 <= t < vocab_size for t in item):
                raise ApiError(400, f"input[{i}]: token ids must be this model's own (0 to "
                               f"{vocab_size - 1}, its WordPiece vocabulary), not tiktoken's; "
                               "send text instead.", "input")
        else:
            raise ApiError(400, f"input[{i}] must be a non-empty string or a non-empty list "
                           "of token ids.", "input")
    return raw, model, fmt


def _is_tokens(items: list) -> bool:
    return all(isinstance(t, int) and not isinstance(t, bool) for t in items)


class MicroBatcher:
    """Gathers the texts of concurrent requests into model batches: while the model runs one
    batch, arriving requests queue, and the next batch takes whole requests from the queue
    until it holds MAX_BATCH texts or the queue is empty."""

    def __init__(self, embed):
        self._embed = embed  # (list[str]) -> (vectors, token counts), blocking
        self._queue: asyncio.Queue = asyncio.Queue()
        self._worker: asyncio.Task | None = None

    async def embed(self, texts: list[str]):
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run())
        done = asyncio.get_running_loop().create_future()
        await self._queue.put((texts, done))
        return await done

    async def _run(self):
        while True:
            jobs = [await self._queue.get()]
            if self._queue.empty():  # the model was idle: a moment for company
                await asyncio.sleep(BATCH_WAIT_S)
            size = len(jobs[0][0])
            while size < MAX_BATCH and not self._queue.empty():
                jobs.append(self._queue.get_nowait())
                size += len(jobs[-1][0])
            texts = [t for job, _ in jobs for t in job]
            try:
                vectors, counts = await asyncio.to_thread(self._embed, texts)
            except Exception as exc:  # every request of the batch hears of it
                for _, done in jobs:
                    if not done.done():
                        done.set_exception(exc)
                continue
            at = 0
            for job, done in jobs:
                if not done.done():
                    done.set_result((vectors[at:at + len(job)], counts[at:at + len(job)],
                                     len(texts)))
                at += len(job)


def embed_texts(model, texts: list[str]):
    """Blocking, in a worker thread: the unit vectors of texts (one forward pass, in
    MAX_BATCH pieces) and how many tokens the model read of each."""
    counts = [len(ids) for ids in model.tokenizer(texts, truncation=True,
                                                   max_length=model.max_seq_length)["input_ids"]]
    return minilm.encode(model, texts), counts


def response(vectors, counts, model: str, fmt: str) -> dict:
    """OpenAI's embeddings response for the vectors of one request."""
    data = [{"object": "embedding", "index": i,
             "embedding": base64.b64encode(v.tobytes()).decode() if fmt == "base64"
             else v.tolist()}
            for i, v in enumerate(vectors)]
    tokens = sum(counts)
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def make_api(model, api_key: str):
    """The FastAPI app in front of a loaded model (the benchmark serves this same app with
    uvicorn directly)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    web = FastAPI(title="embeddings", docs_url=None, redoc_url=None, openapi_url=None)
    batcher = MicroBatcher(lambda texts: embed_texts(model, texts))
    vocab = model.tokenizer.vocab_size

    def error(exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @web.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        return error(ApiError(exc.status_code, f"{request.method} {request.url.path}: "
                              f"{exc.detail}"))

    @web.middleware("http")
    async def authenticate(request: Request, call_next):
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, f"Bearer {api_key}".encode()):  # in constant time
            return error(ApiError(401, "Incorrect API key provided: pass the value of the "
                                  "embeddings-auth secret's EMBEDDINGS_API_KEY as the API "
                                  "key (Authorization: Bearer ...).", code="invalid_api_key"))
        return await call_next(request)

    @web.get("/v1/models")
    async def models():
        return {"object": "list", "data": [_model_card()]}

    @web.get("/v1/models/{name:path}")
    async def one_model(name: str):
        if name not in MODEL_ALIASES:
            return error(ApiError(404, f"The model '{name}' does not exist.", "model",
                                  "model_not_found"))
        return _model_card()

    @web.post("/v1/embeddings")
    async def embeddings(request: Request):
        raw = bytearray()
        async for piece in request.stream():
            raw += piece
            if len(raw) > MAX_BODY_BYTES:
                return error(ApiError(413, f"The request body is over {MAX_BODY_BYTES} bytes: "
                                      "send fewer or shorter inputs per request."))
        try:
            body = json.loads(raw)
        except ValueError:
            return error(ApiError(400, "We could not parse the JSON body of your request: "
                                  "send a JSON object."))
        try:
            inputs, name, fmt = parse_request(body, vocab)
        except ApiError as exc:
            return error(exc)
        # Token-id inputs are this model's own ids: decoded back to text for the model.
        texts = [t if isinstance(t, str) else model.tokenizer.decode(t) for t in inputs]
        vectors, counts, batch = await batcher.embed(texts)
        # The header tells how many texts shared this request's forward pass.
        return JSONResponse(response(vectors, counts, name, fmt),
                            headers={"x-batch-texts": str(batch)})

    return web


def _model_card() -> dict:
    return {"id": MODEL_ID, "object": "model", "created": 1628553600,
            "owned_by": "sentence-transformers"}


@app.cls(image=minilm.image(), gpu=minilm.GPU, min_containers=0, scaledown_window=SCALEDOWN_S,
         secrets=[ketch.Secret.from_name("embeddings-auth")], timeout=600)
@ketch.concurrent(max_inputs=CONCURRENT_REQUESTS)
class Embedder:
    # Memory snapshots are not in ketch yet; once they are, this is @ketch.enter(snap=True):
    # the import of torch and the weights' load would come back from a snapshot.
    @ketch.enter()
    def load(self):
        self.model = minilm.load()
        self.api_key = os.environ["EMBEDDINGS_API_KEY"]

    @ketch.asgi_app(label="api")
    def api(self):
        return make_api(self.model, self.api_key)
