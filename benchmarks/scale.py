"""Scale-out figures: training throughput with 1 vs 2 processes (torchrun, gloo), peak memory as the data
grows (streamed inputs), and sampling throughput into Parquet / PNG-tar shards.

    .venv/bin/python benchmarks/scale.py                 # everything, ~15 min on 2 CPU cores
    .venv/bin/python benchmarks/scale.py --only train    # just the 1 vs 2 process comparison
    .venv/bin/python benchmarks/scale.py --gpu           # one GPU: image training fp32 vs bf16 (+channels-last)

Each training case runs the real command (`ganforge train ...`, under `torchrun` for 2 processes) with the
same global batch and reads images/s or rows/s from the run's metrics.jsonl, skipping the first records
(start-up). Threads are set per case: on a 2-core machine one process may use both cores itself, which is
the fair baseline for two processes of one thread each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402


def _adult_csv(work: Path) -> Path:
    """UCI Adult's training table as a CSV with a header (the ganforge input)."""
    from table_vs_ctgan import load_dataset

    path = work / "adult.csv"
    load_dataset("adult")[0].to_csv(path, index=False)
    return path


def _rate(run_dir: Path, skip: int = 2) -> tuple[float, int]:
    """Examples/s over the logged windows after the first ``skip`` (each window: log_every steps)."""
    records = [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines()]
    records = [r for r in records if "examples_per_s" in r][skip:]
    if not records:
        raise SystemExit(f"{run_dir}: too few logged steps to measure")
    # The mean of per-window rates, weighted by the steps each window covers, is examples / seconds.
    seconds = records[-1]["seconds"] - records[0]["seconds"]
    examples = records[-1]["examples_seen"] - records[0]["examples_seen"]
    return examples / seconds, records[-1]["step"]


def _train(
    kind: str, data: str, processes: int, threads: int, extra: list[str], work: Path
) -> dict[str, Any]:
    out = work / f"{kind}-{processes}p-{threads}t"
    cli = ["-m", "ganforge", "train", kind, data, "--out", str(out), *extra]
    launcher = [sys.executable]
    if processes > 1:
        launcher = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={processes}",
        ]
    env = os.environ | {"OMP_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    done = subprocess.run([*launcher, *cli], env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{kind} with {processes} processes failed:\n{done.stderr[-3000:]}")
    rate, steps = _rate(out)
    return {"kind": kind, "processes": processes, "threads_per_process": threads, "steps": steps,
            "examples_per_s": round(rate, 1), "wall_s": round(time.perf_counter() - started, 1)}  # fmt: skip


def training(steps: int, work: Path) -> list[dict[str, Any]]:
    image = ["--resolution", "28", "--batch", "64", "--steps", str(steps), "--sample-every", "100000",
             "--checkpoint-every", "100000", "--on-problem", "off", "--device", "cpu"]  # fmt: skip
    table = ["--batch", "500", "--epochs", str(steps * 500 / 32_561), "--checkpoint-every", "100000",
             "--on-problem", "off", "--device", "cpu"]  # fmt: skip
    cases = []
    for kind, data, extra in (("images", "fashion-mnist", image), ("table", str(_adult_csv(work)), table)):
        for processes, threads in ((1, 1), (1, 2), (2, 1)):
            row = _train(kind, data, processes, threads, extra, work)
            print(row, flush=True)
            cases.append(row)
    return cases


def gpu_images(steps: int, work: Path) -> list[dict[str, Any]]:
    base = ["--resolution", "64", "--batch", "256", "--width", "64", "--steps", str(steps), "--preset", "r3gan",
            "--sample-every", "100000", "--checkpoint-every", "100000", "--on-problem", "off", "--device", "cuda"]  # fmt: skip
    rows = []
    for name, flags in (("fp32", []), ("bf16", ["--precision", "bf16"]),
                        ("bf16+channels-last", ["--precision", "bf16", "--channels-last"])):  # fmt: skip
        row = _train("images", "fashion-mnist", 1, 4, [*base, *flags], work / name)
        rows.append({"precision": name, **row})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["train", "memory", "sampling"], default=None)
    ap.add_argument("--steps", type=int, default=120, help="training steps per throughput case")
    ap.add_argument("--gpu", action="store_true", help="run the single-GPU image benchmark instead")
    args = ap.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.gpu:
            import torch

            results["gpu"] = torch.cuda.get_device_name(0)
            results["gpu_images"] = gpu_images(args.steps, work)
            save("scale_gpu", results)
            return
        if args.only in (None, "train"):
            results["training"] = training(args.steps, work)
            by = {(r["kind"], r["processes"], r["threads_per_process"]): r["examples_per_s"]
                  for r in results["training"]}  # fmt: skip
            results["speedup_2p_vs_1p1t"] = {
                k: round(by[(k, 2, 1)] / by[(k, 1, 1)], 2) for k in ("images", "table")
            }
            results["speedup_2p_vs_1p2t"] = {
                k: round(by[(k, 2, 1)] / by[(k, 1, 2)], 2) for k in ("images", "table")
            }
        if args.only in (None, "memory"):
            from _scale_memory import run as memory

            results["memory"] = memory()
        if args.only in (None, "sampling"):
            from _scale_sampling import run as sampling

            results["sampling"] = sampling()
    save("scale" if args.only is None else f"scale_{args.only}", results)


if __name__ == "__main__":
    main()
