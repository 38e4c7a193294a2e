"""What keeping the target's class shares at sampling does to the other figures, on one fitted model.

Each table's ganforge default is fitted once (target given, seed 0); then several sampling seeds draw as
many rows as the training table, once with the target's class shares kept (``sample``, the default) and
once with the generator's own class mix (``keep_class_shares=False``), and every sample
is scored with the code ``tables.py`` and ``ganforge evaluate`` use (``evaluate_table``). Prints a table of means
and spreads and saves ``results/table_balance_<datasets>.json``.

    cd benchmarks && ../.venv/bin/python table_balance.py --datasets credit,arrests --seeds 5
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import save
from tables import load_dataset


def figures(res: dict) -> dict[str, float]:
    ml = res["ml_efficacy"]
    return {"quality": res["quality"]["score"], "c2st_auc": res["c2st"]["auc"], "tstr_accuracy": ml["tstr_accuracy"],
            "tstr_f1": ml["tstr_f1"], "class_gap_points": res["target_rates"]["max_gap_points"]}  # fmt: skip


def run(dataset: str, seeds: int) -> dict:
    from ganforge import TableGAN
    from ganforge.tables.data import infer_metadata
    from ganforge.tables.metrics import evaluate_table

    train, holdout, target = load_dataset(dataset)
    t0 = time.perf_counter()
    gan = TableGAN(seed=0, device="cpu").fit(train, target=target)
    fit_s = time.perf_counter() - t0
    kinds = infer_metadata(train).kinds()
    rows: dict[str, list[dict]] = {"kept": [], "generator's own": []}
    for seed in range(1, seeds + 1):
        for mode in rows:
            synth = gan.sample(len(train), seed=seed, keep_class_shares=mode == "kept")
            rows[mode].append(
                figures(evaluate_table(train, synth[train.columns], kinds, holdout=holdout, target=target))
                | {"seed": seed}
            )
            print(dataset, mode, rows[mode][-1], flush=True)
    summary = {
        mode: {k: [float(np.mean([r[k] for r in rs])), float(np.std([r[k] for r in rs]))] for k in rs[0] if k != "seed"}
        for mode, rs in rows.items()
    }  # fmt: skip
    return {"fit_seconds": round(fit_s, 1), "runs": rows, "mean_std": summary}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default="credit,arrests")
    p.add_argument("--seeds", type=int, default=5, help="sampling seeds per mode")
    args = p.parse_args()
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    out = {d: run(d, args.seeds) for d in datasets}
    lines = [
        "| table | sampling | quality | C2ST AUC | TSTR acc | TSTR macro-F1 | class gap (points) |",
        "|---|---|---|---|---|---|---|",
    ]
    for d, r in out.items():
        for mode, s in r["mean_std"].items():
            cells = [
                f"{s[k][0]:.3f} ± {s[k][1]:.3f}" for k in ("quality", "c2st_auc", "tstr_accuracy", "tstr_f1")
            ]
            lines.append(
                f"| {d} | {mode} | "
                + " | ".join(cells)
                + f" | {s['class_gap_points'][0]:.2f} ± {s['class_gap_points'][1]:.2f} |"
            )
    save(f"table_balance_{'-'.join(datasets)}", {"seeds": args.seeds, "results": out})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
