"""The embeddings example (examples/embeddings.py, all-MiniLM-L6-v2 on the CPU) under a load
ramp of 1 → 64 concurrent clients, in one run: the same FastAPI app served by uvicorn
directly, the example deployed on ketch (through its gateway, scaled from zero), and the
same model behind Ray Serve (@serve.batch, its own dynamic batching). Prints embeddings/s
and p50/p99 latency per step with ketch's ratios, samples ketch's container count during
the ramp and until it is back at zero, and draws both in docs/inference-bench.png.

    bench/run_inference.sh [--step-seconds 8] [--no-ray] [--json PATH] [--png PATH]

Each request embeds one sentence (a search query, say) and asks for base64, as OpenAI's
client does. Each system runs alone, in this order: uvicorn, ketch, Ray Serve.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
STEPS = [1, 2, 4, 8, 16, 32, 64]
MODEL = "all-MiniLM-L6-v2"
KEY = "bench-key"
SCALEDOWN_S = 20
WORDS = ("cat dog river bank money market rain sun music film city train road book "
         "school doctor game team coffee bread").split()


def sentences(n: int = 500) -> list[str]:
    rng = random.Random(14)
    return [" ".join(rng.choices(WORDS, k=rng.randint(6, 16))) + "." for _ in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout: float, headers: dict | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = httpx.post(url, json={"model": MODEL, "input": "ready?"}, headers=headers,
                           timeout=timeout)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


async def one_step(url: str, clients: int, seconds: float, texts: list[str]) -> dict:
    """`clients` loops, each sending one request after the other for `seconds`."""
    latencies: list[float] = []
    batches: list[int] = []
    errors = 0
    headers = {"authorization": f"Bearer {KEY}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        start = time.perf_counter()
        stop = start + seconds

        async def loop(i: int):
            nonlocal errors
            n = i
            while time.perf_counter() < stop:
                body = {"model": MODEL, "input": texts[n % len(texts)],
                        "encoding_format": "base64"}
                t = time.perf_counter()
                try:
                    r = await http.post(url, json=body, headers=headers)
                    ok = r.status_code == 200 and len(r.json()["data"]) == 1
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - t)
                    if "x-batch-texts" in r.headers:  # the example's micro-batcher says
                        batches.append(int(r.headers["x-batch-texts"]))
                else:
                    errors += 1
                n += clients

        await asyncio.gather(*(loop(i) for i in range(clients)))
        elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 \
            if latencies else float("nan")

    return {"clients": clients, "embeddings_per_s": len(latencies) / elapsed,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "requests": len(latencies),
            "errors": errors, "mean_batch": sum(batches) / len(batches) if batches else None}


def ramp(url: str, seconds: float, texts: list[str], log=print, on_step=None) -> list[dict]:
    rows = []
    for clients in STEPS:
        if on_step:
            on_step(clients)
        asyncio.run(one_step(url, clients, 1.0, texts))  # warm-up, not counted
        row = asyncio.run(one_step(url, clients, seconds, texts))
        batch = f"  mean batch {row['mean_batch']:.1f}" if row["mean_batch"] else ""
        log(f"  {clients:>3} clients: {row['embeddings_per_s']:7.1f} emb/s  p50 "
            f"{row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms  errors {row['errors']}"
            + batch)
        rows.append(row)
    if on_step:
        on_step(0)
    return rows


def torch_wheels() -> dict:
    for where in os.environ.get("PIP_FIND_LINKS", "/opt/wheels").split():
        if glob.glob(os.path.join(where, "torch-2.13.0+cpu-*.whl")):
            return {"EMBEDDINGS_TORCH_WHEELS": where}
    return {}


class PeerGroup:
    """A cgroup for the other systems' processes beside the ketch servers' own groups
    (`ketch/srv-…`, whose containers sit below them): on a busy machine CPU time is shared
    by weight between groups, so all three model servers compete from the same place."""

    def __init__(self):
        from ketch.server.runtime import cgroups

        self._cg = cgroups.Cgroup.create(f"bench-peer-{os.getpid()}",
                                          cgroups.Limits(cpu_request=1.0))

    def join(self):
        """A subprocess's preexec_fn: the child and all it starts land in the group."""
        for procs in self._cg.procs_files:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))

    def close(self):
        self._cg.kill_all()
        self._cg.remove()


# -- the three systems

def run_uvicorn(seconds: float, texts: list[str], peer: PeerGroup) -> list[dict]:
    port = free_port()
    code = ("import uvicorn, minilm, embeddings\n"
            f"uvicorn.run(embeddings.make_api(minilm.load(), {KEY!r}), host='127.0.0.1', "
            f"port={port}, log_level='warning')")
    env = {**os.environ, "PYTHONPATH": str(EXAMPLES), "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, preexec_fn=peer.join)
    try:
        url = f"http://127.0.0.1:{port}/v1/embeddings"
        wait_ready(url, 300, {"authorization": f"Bearer {KEY}"})
        return ramp(url, seconds, texts)
    finally:
        proc.terminate()
        proc.wait(30)


class KetchServer:
    """A bwrap ketch server of the benchmark's own (data dir, ports)."""

    def __init__(self, tmp: Path):
        self.port, self.gateway = free_port(), free_port()
        self.env = {**os.environ, "KETCH_DATA_DIR": str(tmp / "data"),
                    "KETCH_SERVER_ADDR": f"127.0.0.1:{self.port}", "KETCH_NO_AUTOSTART": "1",
                    "KETCH_CONFIG_DIR": str(tmp / "config"),
                    "KETCH_GATEWAY_ADDR": f"127.0.0.1:{self.gateway}"}
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("KETCH_")})
        self.log = open(tmp / "server.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "ketch.server", "--runtime",
                                      "bwrap"], env=self.env, stdout=self.log,
                                     stderr=self.log)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the ketch server did not start")
                time.sleep(0.1)

    def ketch(self, *args, extra: dict | None = None, timeout: float = 900) -> str:
        proc = subprocess.run([sys.executable, "-m", "ketch.cli", *args], timeout=timeout,
                              env={**self.env, **(extra or {})}, capture_output=True,
                              text=True)
        if proc.returncode:
            raise RuntimeError(f"ketch {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return proc.stdout

    def containers(self) -> int:
        """The embeddings app's containers, asked in this process (a CLI per sample would
        cost the machine more CPU than the answer is worth)."""
        from ketch import _sync
        from ketch._client import Client
        from ketch.proto import ketch_pb2 as pb

        async def count():
            reply = await (await Client.get(autostart=False)).request(
                container_list=pb.ContainerList())
            return sum(r.app_name == "embeddings"
                       for r in reply.container_list_reply.containers)
        return _sync.run(count())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


def run_ketch(seconds: float, texts: list[str], tmp: Path) -> dict:
    srv = KetchServer(tmp)
    timeline: list[tuple[float, int, int]] = []  # (s since the first request, containers, clients)
    clients_now = [0]
    sampling = threading.Event()
    try:
        srv.ketch("secret", "create", "embeddings-auth", f"EMBEDDINGS_API_KEY={KEY}")
        t = time.monotonic()
        deployed = json.loads(srv.ketch("deploy", "--json", str(EXAMPLES / "embeddings.py"),
                                        extra={"EMBEDDINGS_SCALEDOWN": str(SCALEDOWN_S),
                                               **torch_wheels()}))
        deploy_s = time.monotonic() - t
        url = deployed["web_urls"]["Embedder.api"] + "/v1/embeddings"
        print(f"  deployed in {deploy_s:.1f} s (image build included); {url}")
        t0 = time.monotonic()

        def sample():
            while not sampling.is_set():
                timeline.append((time.monotonic() - t0, srv.containers(), clients_now[0]))
                sampling.wait(0.5)

        timeline.append((0.0, srv.containers(), 0))  # before the first request: none
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        headers = {"authorization": f"Bearer {KEY}"}
        cold = time.monotonic()
        r = httpx.post(url, json={"model": MODEL, "input": "cold start"}, headers=headers,
                       timeout=300)
        r.raise_for_status()
        cold_s = time.monotonic() - cold
        print(f"  first request from zero containers: {cold_s:.1f} s")

        def on_step(clients):
            clients_now[0] = clients
        rows = ramp(url, seconds, texts, on_step=on_step)
        ramp_end = time.monotonic() - t0
        deadline = time.monotonic() + SCALEDOWN_S + 60
        while time.monotonic() < deadline and (not timeline or timeline[-1][1] > 0):
            time.sleep(1)
        zero_at = next((at for at, n, _ in timeline if at > ramp_end and n == 0), None)
        print(f"  back to zero containers {zero_at - ramp_end:.1f} s after the ramp"
              if zero_at else "  not back to zero containers in time")
        sampling.set()
        sampler.join()
        return {"rows": rows, "deploy_s": deploy_s, "cold_start_s": cold_s,
                "ramp_end_s": ramp_end, "zero_after_s": zero_at and zero_at - ramp_end,
                "timeline": timeline}
    finally:
        sampling.set()
        srv.stop()


def run_ray(seconds: float, texts: list[str], peer: PeerGroup) -> list[dict]:
    # Loopback only: Ray otherwise swaps 127.0.0.1 for this machine's network address
    # (read when ray is imported, so set first). Started and stopped here, so no token.
    os.environ.update(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_AUTH_MODE="disabled")
    import numpy as np
    import ray
    from ray import serve

    gcs, http_port = free_port(), free_port()
    cpus = os.cpu_count() or 1
    # Its own head node (in the peer group, on ports of its own), not ray.init's, so the
    # driver, this benchmark, stays where the load generator is for all three.
    ray_bin = str(Path(sys.executable).parent / "ray")
    subprocess.run([ray_bin, "start", "--head", "--node-ip-address=127.0.0.1",
                    f"--port={gcs}", f"--num-cpus={cpus}",
                    "--include-dashboard=false", "--disable-usage-stats",
                    f"--ray-client-server-port={free_port()}",
                    f"--dashboard-agent-listen-port={free_port()}"],
                   check=True, capture_output=True, preexec_fn=peer.join)
    # Ray caps a replica's OMP threads at its num_cpus; give torch the machine, as the
    # other two get it.
    ray.init(address=f"127.0.0.1:{gcs}", _node_ip_address="127.0.0.1", log_to_driver=False,
             runtime_env={
        "env_vars": {"PYTHONPATH": str(EXAMPLES), "HF_HUB_OFFLINE": "1",
                     "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": str(cpus)}})
    serve.start(http_options={"host": "127.0.0.1", "port": http_port})

    @serve.deployment(max_ongoing_requests=64, ray_actor_options={"num_cpus": 1})
    class RayEmbedder:
        def __init__(self):
            import minilm
            self.model = minilm.load()

        @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.002)
        async def embed(self, texts: list[str]) -> list:
            import embeddings
            vectors, counts = await asyncio.to_thread(embeddings.embed_texts, self.model,
                                                      texts)
            return list(zip(vectors, counts))

        async def __call__(self, request):
            import embeddings
            inputs, name, fmt = embeddings.parse_request(await request.json(),
                                                         self.model.tokenizer.vocab_size)
            got = await asyncio.gather(*(self.embed(t) for t in inputs))
            return embeddings.response(np.stack([v for v, _ in got]), [c for _, c in got],
                                       name, fmt)

    try:
        serve.run(RayEmbedder.bind(), route_prefix="/v1/embeddings")
        url = f"http://127.0.0.1:{http_port}/v1/embeddings"
        wait_ready(url, 300)
        return ramp(url, seconds, texts)
    finally:
        serve.shutdown()
        ray.shutdown()


# -- the report

def table(results: dict) -> list[dict]:
    base = {r["clients"]: r for r in results["uvicorn"]}
    ray_rows = {r["clients"]: r for r in results.get("ray_serve") or []}
    out = []
    print(f"\n{'clients':>7} | {'uvicorn emb/s':>13} {'ketch emb/s':>11} {'ray emb/s':>9} | "
          f"{'ketch/uvicorn':>13} {'ketch/ray':>9} | {'p50 uv/ketch/ray ms':>21} | "
          f"{'p99 uv/ketch/ray ms':>21}")
    for k in results["ketch"]["rows"]:
        c = k["clients"]
        u, r = base[c], ray_rows.get(c)
        row = {"clients": c, "ketch_vs_uvicorn": k["embeddings_per_s"] / u["embeddings_per_s"],
               "ketch_vs_ray": r and k["embeddings_per_s"] / r["embeddings_per_s"]}
        out.append(row)

        def trio(key):
            return "/".join(f"{x[key]:.0f}" if x else "-" for x in (u, k, r))
        print(f"{c:>7} | {u['embeddings_per_s']:>13.1f} {k['embeddings_per_s']:>11.1f} "
              f"{r['embeddings_per_s'] if r else float('nan'):>9.1f} | "
              f"{row['ketch_vs_uvicorn']:>13.2f} "
              f"{row['ketch_vs_ray'] if r else float('nan'):>9.2f} | {trio('p50_ms'):>21} | "
              f"{trio('p99_ms'):>21}")
    return out


def plot(results: dict, path: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 8))
    for key, label in (("uvicorn", "uvicorn directly"), ("ketch", "ketch (gateway)"),
                       ("ray_serve", "Ray Serve")):
        rows = results[key]["rows"] if key == "ketch" else results.get(key)
        if rows:
            top.plot([r["clients"] for r in rows], [r["embeddings_per_s"] for r in rows],
                     marker="o", label=label)
    top.set_xscale("log", base=2)
    top.set_xlabel("concurrent clients (one sentence per request)")
    top.set_ylabel("embeddings / s")
    top.set_title(f"all-MiniLM-L6-v2 on the CPU ({os.cpu_count()} cores, shared machine)")
    top.legend()
    top.grid(alpha=0.3)
    timeline = results["ketch"]["timeline"]
    at = [t for t, _, _ in timeline]
    bottom.step(at, [n for _, n, _ in timeline], where="post", label="ketch containers")
    bottom.set_xlabel("seconds since the first request (from zero containers)")
    bottom.set_ylabel("containers")
    bottom.axvline(results["ketch"]["ramp_end_s"], color="grey", linestyle=":",
                   label="ramp ends")
    clients = bottom.twinx()
    clients.step(at, [c for _, _, c in timeline], where="post", color="tab:orange",
                 alpha=0.6, label="clients")
    clients.set_ylabel("concurrent clients")
    lines = bottom.get_legend_handles_labels()
    more = clients.get_legend_handles_labels()
    bottom.legend(lines[0] + more[0], lines[1] + more[1], loc="upper right")
    bottom.set_title(f"ketch: scale from zero, the ramp, scale back to zero "
                     f"(scaledown_window={SCALEDOWN_S} s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step-seconds", type=float, default=8.0)
    parser.add_argument("--no-ray", action="store_true", help="skip Ray Serve")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "inference.json"))
    parser.add_argument("--png", default=str(ROOT / "docs" / "inference-bench.png"))
    args = parser.parse_args()
    if not shutil.which("bwrap"):
        raise SystemExit("the ketch side needs the bwrap runtime (apt-get install bubblewrap)")
    texts = sentences()
    results: dict = {"cpus": os.cpu_count(), "load_before": os.getloadavg(),
                     "step_seconds": args.step_seconds}
    peer = PeerGroup()
    try:
        print("uvicorn directly (examples/embeddings.make_api):")
        results["uvicorn"] = run_uvicorn(args.step_seconds, texts, peer)
        print("ketch (examples/embeddings.py deployed, through the gateway):")
        with tempfile.TemporaryDirectory(prefix="ketch-bench-inference-") as tmp:
            results["ketch"] = run_ketch(args.step_seconds, texts, Path(tmp))
        if not args.no_ray:
            print("Ray Serve (@serve.batch, one replica):")
            results["ray_serve"] = run_ray(args.step_seconds, texts, peer)
    finally:
        peer.close()
    results["ratios"] = table(results)
    results["load_after"] = os.getloadavg()
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1))
    plot(results, Path(args.png))
    print(f"\nwrote {args.json} and {args.png}; load average before "
          f"{results['load_before'][0]:.1f}, after {results['load_after'][0]:.1f}")


if __name__ == "__main__":
    main()
