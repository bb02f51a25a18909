"""The embeddings model as a batch job: embeds every document of a text corpus kept in a
ketch Volume, chunk by chunk with .map, and writes the vectors back to the volume.

    ketch volume create embed-corpus
    ketch volume put embed-corpus ./my-texts /corpus      # *.txt, one document per line
    ketch run examples/embed_corpus.py [--chunk-lines 256]

The vectors of each chunk land in /vectors as `<file>.<first line>.<content hash>.npy`
(float32, one unit-length 384-dimension row per non-empty line, in order). A re-run
skips the chunks whose file is already there, so an interrupted run picks up where it
stopped and a file that grew or changed has only its new chunks embedded (files are
written whole, then renamed: a chunk cut short is never taken as done). Vectors of text
that has since changed are left behind; remove /vectors to start afresh.

Knobs: EMBED_CORPUS_VOLUME names the volume (default embed-corpus);
EMBED_CORPUS_MAX_CONTAINERS caps the containers the map fans out to (default 2: each
loads its own copy of the model); minilm.py has the GPU and torch knobs.
"""

import hashlib
import io
import os

import ketch
import minilm

VOLUME = os.environ.get("EMBED_CORPUS_VOLUME", "embed-corpus")
MAX_CONTAINERS = int(os.environ.get("EMBED_CORPUS_MAX_CONTAINERS", "2"))
ROOT = "/data"
CORPUS, VECTORS = "corpus", "vectors"

app = ketch.App("embed-corpus")
volume = ketch.Volume.from_name(VOLUME, create_if_missing=True)


def _documents(path: str) -> list[str]:
    with open(path, encoding="utf-8", errors="replace") as f:
        return [line.strip() for line in f if line.strip()]


@app.function(image=minilm.image(), volumes={ROOT: volume}, timeout=600)
def plan(chunk_lines: int) -> list[dict]:
    """Every chunk of the corpus, each marked done when its vectors are on the volume."""
    corpus = os.path.join(ROOT, CORPUS)
    if not os.path.isdir(corpus):
        raise FileNotFoundError(f"volume {VOLUME!r} has no /{CORPUS} directory: upload the "
                                f"texts with `ketch volume put {VOLUME} DIR /{CORPUS}`")
    chunks = []
    for dirpath, _, files in sorted(os.walk(corpus)):
        for name in sorted(f for f in files if f.endswith(".txt")):
            rel = os.path.relpath(os.path.join(dirpath, name), corpus)
            docs = _documents(os.path.join(corpus, rel))
            for start in range(0, len(docs), chunk_lines):
                text = "\n".join(docs[start:start + chunk_lines])
                digest = hashlib.sha256(text.encode()).hexdigest()[:12]
                out = f"{VECTORS}/{rel}.{start:08d}.{digest}.npy"
                chunks.append({"file": rel, "start": start, "count": chunk_lines, "out": out,
                               "done": os.path.exists(os.path.join(ROOT, out))})
    return chunks


@app.cls(image=minilm.image(), gpu=minilm.GPU, volumes={ROOT: volume}, timeout=1800,
         max_containers=MAX_CONTAINERS, scaledown_window=10)
class ChunkEmbedder:
    @ketch.enter()
    def load(self):
        self.model = minilm.load()

    @ketch.method()
    def embed(self, chunk: dict) -> dict:
        import numpy as np

        out = os.path.join(ROOT, chunk["out"])
        if os.path.exists(out):  # another run finished it meanwhile
            return {**chunk, "texts": 0, "skipped": True}
        docs = _documents(os.path.join(ROOT, CORPUS, chunk["file"]))
        docs = docs[chunk["start"]:chunk["start"] + chunk["count"]]
        buf = io.BytesIO()
        np.save(buf, minilm.encode(self.model, docs))
        os.makedirs(os.path.dirname(out), exist_ok=True)
        partial = out + ".partial"
        with open(partial, "wb") as f:
            f.write(buf.getvalue())
        os.replace(partial, out)  # whole or not at all: a re-run never trusts half a chunk
        return {**chunk, "texts": len(docs), "skipped": False}


@app.local_entrypoint()
def main(chunk_lines: int = 256):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    if chunk_lines < 1:
        raise SystemExit("--chunk-lines must be at least 1")
    chunks = plan.remote(chunk_lines)
    todo = [c for c in chunks if not c["done"]]
    print(f"{len(chunks)} chunks in volume {VOLUME!r}: {len(chunks) - len(todo)} already "
          f"done, {len(todo)} to embed")
    texts = 0
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as progress:
        bar = progress.add_task("embedding", total=len(todo))
        for result in ChunkEmbedder().embed.map(todo, order_outputs=False):
            texts += result["texts"]
            progress.advance(bar)
    volume.commit()
    print(f"embedded {texts} texts in {len(todo)} chunks into /{VECTORS} of volume {VOLUME!r}")
