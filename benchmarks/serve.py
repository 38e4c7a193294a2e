"""Server throughput: requests/s and p50/p99 latency of `ganforge serve` under a bounded loopback load.

The server runs as `ganforge serve` in a subprocess; ``--clients`` threads each keep one connection open
and send requests back to back for ``--seconds`` per scenario (so at most that many requests are in
flight). Scenarios: one image (n=1, PNG), a 16-image grid (n=16, PNG), 1,000 table rows (CSV), and one
image with a single client (latency without load). Image models are the default 32x32 generator (and
64x64), built with untrained weights (timing only); the same n=1 load is also run against a server with
``--max-batch 1`` to show what sharing generator calls buys. Client and server share the machine.

    .venv/bin/python benchmarks/serve.py                 # ~2 minutes
    .venv/bin/python benchmarks/serve.py --seconds 5     # quicker
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import save

from ganforge import ImageGAN, TableGAN
from ganforge.images.data import ImageDataset


def build_runs(root: Path) -> dict[str, Path]:
    """Image runs at 32 and 64 px (default width, 1 training step) and a 6-column table run."""
    rng = np.random.default_rng(0)
    runs = {}
    for res in (32, 64):
        ds = ImageDataset(rng.integers(0, 255, (64, res, res, 3), dtype=np.uint8), rng.integers(0, 10, 64),
                          [str(i) for i in range(10)], "noise")  # fmt: skip
        runs[f"img{res}"] = root / f"img{res}"
        ImageGAN(resolution=res, steps=1, batch_size=16, device="cpu").fit(
            ds, out=runs[f"img{res}"], health="off"
        )
    n = 2000
    df = pd.DataFrame({
        "age": rng.integers(18, 90, n), "income": rng.lognormal(10, 1, n).round(2),
        "city": rng.choice(["Oslo", "Lima", "Pune", "Kyiv"], n), "score": rng.normal(0, 1, n),
        "member": rng.random(n) < 0.3, "grade": rng.choice(list("ABCDE"), n),
    })  # fmt: skip
    runs["table"] = root / "table"
    TableGAN(steps=20, batch_size=200, device="cpu").fit(df, out=runs["table"], health="off")
    return runs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(runs: dict[str, Path], extra: list[str], log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    args = [f"{k}={v}" for k, v in runs.items()]
    cmd = [sys.executable, "-m", "ganforge", "serve", *args, "--port", str(port), *extra]
    proc = subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(log.read_text()) from None
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def request(conn: http.client.HTTPConnection, path: str, body: dict) -> int:
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    return r.status


def load(port: int, path: str, body: dict, clients: int, seconds: float) -> dict:
    """``clients`` threads, each sending requests back to back for ``seconds`` (after a 1 s warm-up)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    t0 = time.perf_counter()
    start_at, stop_at = t0 + 1.0, t0 + 1.0 + seconds

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = 0
        while True:
            t = time.perf_counter()
            if t >= stop_at:
                break
            status = request(conn, path, {**body, "seed": k * 1_000_000 + i})
            i += 1
            done = time.perf_counter()
            if t >= start_at:
                with lock:
                    latencies.append(done - t)
                    errors[0] += status != 200
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    lat = np.array(latencies) * 1000
    return {"clients": clients, "requests": len(lat), "errors": errors[0], "requests_per_s": round(len(lat) / seconds, 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 1), "p99_ms": round(float(np.percentile(lat, 99)), 1)}  # fmt: skip


def health(port: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/api/health")
    return json.loads(conn.getresponse().read())["batching"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="measured seconds per scenario")
    ap.add_argument("--clients", type=int, default=8, help="concurrent client connections")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ganforge-serve-bench-"))
    runs = build_runs(root)
    scenarios = [
        ("image 32px n=1", "/api/models/img32/images", {"n": 1}, args.clients),
        ("image 32px n=1, one client", "/api/models/img32/images", {"n": 1}, 1),
        ("image 32px n=16 grid", "/api/models/img32/images", {"n": 16}, args.clients),
        ("image 64px n=1", "/api/models/img64/images", {"n": 1}, args.clients),
        ("table 1000 rows csv", "/api/models/table/rows", {"n": 1000}, args.clients),
    ]
    results: dict[str, dict] = {}
    for label, extra in (("batched", []), ("max-batch 1", ["--max-batch", "1"])):
        proc, port = start(runs, extra, root / f"server-{len(results)}.log")
        try:
            for name, path, body, clients in scenarios:
                if label != "batched" and name not in ("image 32px n=1", "image 32px n=1, one client"):
                    continue
                before = health(port)
                model = path.split("/")[3]
                r = load(port, path, body, clients, args.seconds)
                if model in before:
                    after = health(port)[model]
                    calls = after["forward_passes"] - before[model]["forward_passes"]
                    served = after["requests"] - before[model]["requests"]
                    r["requests_per_generator_call"] = round(served / max(calls, 1), 2)
                    r["images_per_s"] = round(r["requests_per_s"] * body["n"], 1)
                results[f"{name} ({label})"] = r
                print(f"{name:>28} ({label}): {r}", flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    a, b = results["image 32px n=1 (batched)"], results["image 32px n=1 (max-batch 1)"]
    summary = {"batching_speedup_n1": round(a["requests_per_s"] / max(b["requests_per_s"], 1e-9), 2)}
    shutil.rmtree(root, ignore_errors=True)
    save("serve", {"seconds_per_scenario": args.seconds, "omp_threads": os.environ.get("OMP_NUM_THREADS"),
                   "load": results, "summary": summary})  # fmt: skip


if __name__ == "__main__":
    main()
