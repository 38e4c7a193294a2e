"""What gives generated windows away: probes on the real and generated windows that
`timeseries_ablation.py --save-windows FILE.npz` keeps (docs/timeseries.md).

Two kinds of classifier, each on the same real and generated windows:
- gradient boosting (the tables' classifier two-sample test, ganforge.tables.metric_utility.c2st: 5-fold
  ROC AUC; 0.5 = cannot tell them apart) on hand-made views: the first step alone (one step's joint distribution), the whole window,
  the step-to-step changes, each channel's mean absolute change and spread within the window, and each
  channel's window alone (the ten most telling channels listed, with how much the generated channel
  moves per step and how spread out its first step is, both relative to the real one), and each window's
  mean over time (28 values for Energy) -- there also with a linear classifier (logistic regression, the
  same folds), which a shift or a wrong covariance would be enough for;
- the benchmark's own post-hoc GRU (TimeGAN's discriminative score, 2 classifier seeds, hidden 14 as
  for Energy's 28 channels) on the windows as they are and after one edit of the generated windows
  (``--edits``): a channel dropped from both sets, channels replaced by those of other real windows, or
  channels smoothed by a 5-step mean. An edit that leaves the score where it was is not what the
  classifier uses. Both kinds see at most ``--probe-windows`` windows of each set (3,000, drawn at
  random). ``--subsets K`` also scores every window and K random draws of 3,000 with 5 classifier
  seeds each (how much the benchmark's figure depends on comparing every window or a subset).

    .venv/bin/python benchmarks/timeseries_ablation.py energy --steps 3000 --save-windows /tmp/w.npz
    .venv/bin/python benchmarks/timeseries_probe.py /tmp/w.npz --edits drop:0 real:26,27 smooth:2-25
    .venv/bin/python benchmarks/timeseries_ablation.py energy --steps 3000 --hidden 128 --windows 20000 \
        --save-windows /tmp/all.npz && .venv/bin/python benchmarks/timeseries_probe.py /tmp/all.npz --subsets 2
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
from _common import RESULTS, machine

from ganforge.tables.metric_utility import c2st
from ganforge.timeseries import metrics as tm


def boosted_auc(real: np.ndarray, fake: np.ndarray) -> float:
    """The tables' C2ST ROC AUC with every window (or row) of ``real`` and ``fake`` flattened to a row."""
    frames = [pd.DataFrame(x.reshape(len(x), -1)).rename(columns=str) for x in (real, fake)]
    return round(c2st(*frames, {c: "numeric" for c in frames[0].columns})["auc"], 3)


def linear_auc(real: np.ndarray, fake: np.ndarray) -> float:
    """5-fold ROC AUC of a logistic regression on standardised rows, real against fake."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = np.concatenate([real, fake]), np.r_[np.zeros(len(real)), np.ones(len(fake))]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return round(float(cross_val_score(model, x, y, cv=5, scoring="roc_auc").mean()), 3)


def subsets(real: np.ndarray, fake: np.ndarray, draws: int, hidden: int) -> dict[str, list[float]]:
    """The GRU score (5 classifier seeds: mean, std) on every window and on ``draws`` draws of 3,000."""
    out = {}
    for k in range(-1, draws):
        rng = np.random.default_rng(100 + k)
        i = np.arange(len(real)) if k < 0 else rng.choice(len(real), 3000, replace=False)
        j = np.arange(len(fake)) if k < 0 else rng.choice(len(fake), 3000, replace=False)
        score = tm.discriminative_score(real[i], fake[j], seed=0, seeds=5, iterations=2000, hidden=hidden)
        out["every" if k < 0 else f"3000_draw{k + 1}"] = [round(score["score"], 4), round(score["std"], 4)]
        print(out, flush=True)
    return out


def channels(spec: str) -> list[int]:
    """'0' / '26,27' / '2-25' -> channel numbers."""
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def edited(real: np.ndarray, fake: np.ndarray, edit: str) -> tuple[np.ndarray, np.ndarray]:
    """One edit 'drop:CH', 'real:CH' or 'smooth:CH' (CH as in ``channels``) -> the (real, fake) pair."""
    kind, _, spec = edit.partition(":")
    chosen = channels(spec)
    if kind == "drop":
        keep = [c for c in range(real.shape[2]) if c not in chosen]
        return real[:, :, keep], fake[:, :, keep]
    fake = fake.copy()
    if kind == "real":  # the same channels of other real windows, in a shuffled order
        fake[:, :, chosen] = real[np.random.default_rng(1).permutation(len(real))][:, :, chosen]
    elif kind == "smooth":
        padded = np.pad(fake[:, :, chosen], ((0, 0), (2, 2), (0, 0)), mode="edge")
        fake[:, :, chosen] = sum(padded[:, k : k + fake.shape[1]] for k in range(5)) / 5
    else:
        raise SystemExit(f"unknown edit {edit!r}: use drop:CH, real:CH or smooth:CH")
    return real, fake


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("windows", help="an .npz with 'real' and 'fake' arrays of (n, steps, channels)")
    ap.add_argument("--edits", nargs="*", default=[], metavar="KIND:CHANNELS")
    ap.add_argument("--hidden", type=int, default=14, help="hidden units of the post-hoc GRU")
    ap.add_argument("--probe-windows", type=int, default=3000, help="windows per set both probes use")
    ap.add_argument("--subsets", type=int, default=0, metavar="K", help="also score every window and K draws")
    args = ap.parse_args()
    data = np.load(args.windows)
    all_real, all_fake = data["real"], data["fake"]
    rng = np.random.default_rng(0)
    real, fake = (x[np.sort(rng.permutation(len(x))[: args.probe_windows])] for x in (all_real, all_fake))
    changes_real, changes_fake = np.diff(real, axis=1), np.diff(fake, axis=1)
    moves_real, moves_fake = np.abs(changes_real).mean(1), np.abs(changes_fake).mean(1)  # (n, channels)
    moves = moves_fake.mean(0) / np.maximum(moves_real.mean(0), 1e-9)
    spread = fake[:, 0].std(0) / np.maximum(real[:, 0].std(0), 1e-9)
    per_channel = [{"channel": c, "auc": boosted_auc(real[:, :, c], fake[:, :, c]),
                    "change_ratio": round(float(moves[c]), 2), "spread_ratio": round(float(spread[c]), 2)}
                   for c in range(real.shape[2])]  # fmt: skip
    boosted = {
        "first_step": boosted_auc(real[:, 0], fake[:, 0]),
        "whole_window": boosted_auc(real, fake),
        "changes": boosted_auc(changes_real, changes_fake),
        "mean_abs_change": boosted_auc(moves_real, moves_fake),
        "spread_in_window": boosted_auc(real.std(1), fake.std(1)),
        "window_mean": boosted_auc(real.mean(1), fake.mean(1)),
        "window_mean_linear": linear_auc(real.mean(1), fake.mean(1)),
        "most_telling_channels": sorted(per_channel, key=lambda r: -r["auc"])[:10],
    }
    print(json.dumps({"boosted": boosted}, indent=1), flush=True)
    gru = {}
    for edit in ["none", *args.edits]:
        r, f = (real, fake) if edit == "none" else edited(real, fake, edit)
        out = tm.discriminative_score(r, f, seed=0, seeds=2, iterations=2000, hidden=args.hidden)
        gru[edit] = {"score": round(out["score"], 4), "per_seed": [round(x, 4) for x in out["per_seed"]]}
        print(edit, gru[edit], flush=True)
    every = subsets(all_real, all_fake, args.subsets, args.hidden) if args.subsets else None
    row = {"windows": args.windows, "boosted": boosted, "gru": gru, "subsets": every, "machine": machine()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "timeseries_probe.jsonl", "a") as fh:
        fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
