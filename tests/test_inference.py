"""Issue 14: a real model (all-MiniLM-L6-v2, torch on the CPU) deployed from
examples/embeddings.py on a bwrap server and called with OpenAI's and LangChain's own
clients; the batch job of examples/embed_corpus.py end to end, its re-run included.

The image (torch, sentence-transformers, the weights) is built once for the module and
its layers stay in the test image cache, so a warm run builds nothing.
"""

import glob
import json
import os
import secrets
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
from langchain_openai import OpenAIEmbeddings

from isolation_helpers import needs_bwrap, start_server

pytestmark = [needs_bwrap, pytest.mark.timeout(1200)]

EXAMPLES = Path(__file__).parent.parent / "examples"
MODEL = "all-MiniLM-L6-v2"
SCALEDOWN_S = 15
FOOD = ["A man is eating food.", "A man is eating a piece of bread."]
UNRELATED = "The new movie is awesome."


def _example_env() -> dict:
    # The CPU build of torch where this machine keeps it (pip's find-links); elsewhere the
    # image takes it from PyTorch's CPU index.
    env = {"EMBEDDINGS_SCALEDOWN": str(SCALEDOWN_S)}
    for where in os.environ.get("PIP_FIND_LINKS", "/opt/wheels").split():
        if glob.glob(os.path.join(where, "torch-2.13.0+cpu-*.whl")):
            env["EMBEDDINGS_TORCH_WHEELS"] = where
    return env


@pytest.fixture(scope="module")
def bwrap_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("inference-server"), "bwrap")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def deployed(bwrap_server):
    server = bwrap_server
    key = secrets.token_urlsafe(24)
    made = server.ketch("secret", "create", "embeddings-auth", f"EMBEDDINGS_API_KEY={key}")
    assert made.returncode == 0, made.stderr
    start = time.monotonic()
    proc = server.ketch("deploy", "--json", str(EXAMPLES / "embeddings.py"), timeout=1100,
                        extra_env=_example_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr + server.log()[-4000:]
    print(f"\ndeploy (image build included) took {time.monotonic() - start:.1f} s")
    url = json.loads(proc.stdout)["web_urls"]["Embedder.api"]
    return {"url": url + "/v1", "key": key, "server": server}


@pytest.fixture(scope="module")
def client(deployed):
    return openai.OpenAI(base_url=deployed["url"], api_key=deployed["key"], max_retries=0,
                         timeout=300)


def _containers(server) -> list[dict]:
    proc = server.ketch("container", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    return [c for c in json.loads(proc.stdout) if c["app"] == "embeddings"]


def _cosine(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_scales_from_zero_and_openai_client_gets_real_embeddings(deployed, client):
    assert _containers(deployed["server"]) == []  # deployed, nothing running yet
    reply = client.embeddings.create(model=MODEL, input=[*FOOD, UNRELATED])
    assert [d.index for d in reply.data] == [0, 1, 2]
    assert all(len(d.embedding) == 384 for d in reply.data)
    assert reply.model == MODEL and reply.object == "list"
    assert reply.usage.prompt_tokens == reply.usage.total_tokens > 3 * 2
    food, bread, movie = (d.embedding for d in reply.data)
    assert _cosine(food, bread) > _cosine(food, movie) + 0.3
    assert abs(np.linalg.norm(food) - 1) < 1e-4
    assert len(_containers(deployed["server"])) == 1


def test_float_and_base64_encodings_agree(client):
    # OpenAI's client asks for base64 unless told otherwise, and decodes it itself.
    as_base64 = client.embeddings.create(model=MODEL, input=FOOD[0]).data[0].embedding
    as_float = client.embeddings.create(model=MODEL, input=FOOD[0],
                                        encoding_format="float").data[0].embedding
    assert np.allclose(as_base64, as_float, atol=1e-6)
    same = client.embeddings.create(model=MODEL, input=FOOD[0], dimensions=384)
    assert np.allclose(same.data[0].embedding, as_float, atol=1e-6)
    # Token ids in the model's own vocabulary ("hello world" in bert-base-uncased's).
    text, ids = client.embeddings.create(model=MODEL, input=["hello world", [7592, 2088]]).data
    assert _cosine(text.embedding, ids.embedding) > 0.999


def test_langchain_openai_embeddings(deployed):
    # check_embedding_ctx_length=False: otherwise LangChain turns texts into tiktoken ids
    # (whose tables it downloads), which mean nothing to this model's vocabulary.
    lc = OpenAIEmbeddings(base_url=deployed["url"], api_key=deployed["key"], model=MODEL,
                          check_embedding_ctx_length=False, max_retries=0)
    docs = lc.embed_documents([*FOOD, UNRELATED])
    query = lc.embed_query("Someone eats a sandwich.")
    assert len(docs) == 3 and all(len(v) == 384 for v in docs) and len(query) == 384
    assert _cosine(query, docs[1]) > _cosine(query, docs[2])


def test_models_endpoint(client):
    assert [m.id for m in client.models.list()] == [MODEL]
    assert client.models.retrieve(MODEL).owned_by == "sentence-transformers"


def _error_of(call) -> tuple[int, dict]:
    with pytest.raises(openai.APIStatusError) as caught:
        call()
    return caught.value.status_code, caught.value.body


def test_errors_in_openai_shape(deployed, client):
    status, body = _error_of(lambda: client.embeddings.create(model=MODEL, input=""))
    assert status == 400 and body["param"] == "input" and "empty" in body["message"]
    assert set(body) == {"message", "type", "param", "code"}
    status, body = _error_of(lambda: client.embeddings.create(model=MODEL, input=[]))
    assert status == 400 and body["type"] == "invalid_request_error"
    status, body = _error_of(lambda: client.embeddings.create(
        model="text-embedding-3-small", input="hello"))
    assert status == 404 and body["code"] == "model_not_found" and MODEL in body["message"]
    status, body = _error_of(lambda: client.embeddings.create(model=MODEL,
                                                              input=["word"] * 2049))
    assert status == 400 and "2049" in body["message"] and "2048" in body["message"]
    status, body = _error_of(lambda: client.embeddings.create(model=MODEL, input="hi",
                                                              dimensions=128))
    assert status == 400 and body["param"] == "dimensions" and "384" in body["message"]
    wrong_key = openai.OpenAI(base_url=deployed["url"], api_key="not-the-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong_key.embeddings.create(model=MODEL, input="hi")
    assert caught.value.body["code"] == "invalid_api_key"
    bad_json = httpx.post(deployed["url"] + "/embeddings", content=b'{"model": ',
                          headers={"authorization": f"Bearer {deployed['key']}"}, timeout=60)
    assert bad_json.status_code == 400
    assert "JSON" in bad_json.json()["error"]["message"]
    huge = b'{"model": "%s", "input": "%s"}' % (MODEL.encode(), b"a" * (17 * 1024 * 1024))
    too_big = httpx.post(deployed["url"] + "/embeddings", content=huge, timeout=120,
                         headers={"authorization": f"Bearer {deployed['key']}"})
    assert too_big.status_code == 413 and "16777216 bytes" in too_big.json()["error"]["message"]


def test_concurrent_requests_share_model_batches(client):
    texts = [f"sentence number {i} about {topic}" for i, topic in
             enumerate(["cats", "stocks", "rain", "football"] * 6)]
    alone = {t: client.embeddings.create(model=MODEL, input=t).data[0].embedding
             for t in texts[:4]}
    results, batches, errors = {}, [], []
    gate = threading.Barrier(len(texts))

    def one(text):
        try:
            gate.wait()
            raw = client.embeddings.with_raw_response.create(model=MODEL, input=text)
            batches.append(int(raw.headers["x-batch-texts"]))
            results[text] = raw.parse().data[0].embedding
        except Exception as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == len(texts)
    assert max(batches) > 1, batches  # requests were gathered into shared forward passes
    for text, vector in alone.items():  # and each got its own text's vector back
        assert np.allclose(results[text], vector, atol=1e-5)


def test_scales_back_to_zero(deployed):
    deadline = time.monotonic() + SCALEDOWN_S + 60
    while _containers(deployed["server"]) and time.monotonic() < deadline:
        time.sleep(2)
    assert _containers(deployed["server"]) == []


def test_batch_job_embeds_a_volume_corpus_and_skips_done_chunks(bwrap_server, tmp_path):
    server = bwrap_server
    corpus = tmp_path / "corpus"
    (corpus / "more").mkdir(parents=True)
    (corpus / "food.txt").write_text("\n".join([*FOOD, "", UNRELATED, "Bread is food."]))
    (corpus / "more" / "weather.txt").write_text("It rains.\nThe sun is out.\n")
    env = {**_example_env(), "EMBED_CORPUS_VOLUME": "corpus-test"}
    assert server.ketch("volume", "create", "corpus-test").returncode == 0
    put = server.ketch("volume", "put", "corpus-test", str(corpus), "/corpus")
    assert put.returncode == 0, put.stderr

    def run() -> str:
        proc = server.ketch("run", str(EXAMPLES / "embed_corpus.py"), "--chunk-lines", "2",
                            timeout=900, extra_env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    first = run()
    assert "3 chunks in volume 'corpus-test': 0 already done, 3 to embed" in first
    assert "embedded 6 texts in 3 chunks" in first
    out = tmp_path / "out"
    got = server.ketch("volume", "get", "corpus-test", "/vectors", str(out))
    assert got.returncode == 0, got.stderr
    files = sorted(p for p in out.rglob("*.npy"))
    assert [p.name.split(".")[:3] for p in files] == [
        ["food", "txt", "00000000"], ["food", "txt", "00000002"],
        ["weather", "txt", "00000000"]]
    first_chunk, second_chunk = np.load(files[0]), np.load(files[1])
    assert first_chunk.shape == (2, 384) and first_chunk.dtype == np.float32
    assert np.allclose(np.linalg.norm(first_chunk, axis=1), 1, atol=1e-4)
    food, bread = first_chunk
    movie = second_chunk[0]
    assert _cosine(food, bread) > _cosine(food, movie) + 0.3

    again = run()
    assert "3 already done, 0 to embed" in again and "embedded 0 texts" in again
    (corpus / "new.txt").write_text("A cat sleeps.\n")
    put = server.ketch("volume", "put", "corpus-test", str(corpus / "new.txt"),
                       "/corpus/new.txt")
    assert put.returncode == 0, put.stderr
    third = run()
    assert "4 chunks in volume 'corpus-test': 3 already done, 1 to embed" in third
    assert "embedded 1 texts in 1 chunks" in third
