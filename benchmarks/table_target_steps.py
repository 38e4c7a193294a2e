"""How many steps the tables' target-consistency classifier needs: holdout accuracy and seconds per budget.

The classifier (`TableRecipe.learn_target`) reads a table's target from its other encoded columns; the
generator is charged against what it reads. This trains it for each step count on each table's training
rows (encoded by the fitted codec, as a fit does) and scores it on the encoded holdout rows.

    python benchmarks/table_target_steps.py [--datasets adult,credit,arrests] [--steps 100 200 ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402
from tables import load_dataset  # noqa: E402

from ganforge.tables.codec import TableCodec  # noqa: E402
from ganforge.tables.infer import infer_metadata  # noqa: E402
from ganforge.tables.recipe import TableRecipe, TableRecipeConfig  # noqa: E402


def accuracy(recipe: TableRecipe, x: torch.Tensor) -> float:
    keep, start, size, net = recipe._target
    with torch.no_grad():
        guess = net(x[:, keep]).argmax(dim=1)
    return float((guess == x[:, start : start + size].argmax(dim=1)).float().mean())


def fitted_tables(names: str) -> Iterator[tuple[str, pd.DataFrame, pd.DataFrame, str, TableCodec]]:
    """(name, training rows, holdout rows, target, codec fitted on the training rows) per comma-listed table,
    one thread, as the table benchmarks load them."""
    torch.set_num_threads(1)
    for name in names.split(","):
        train, holdout, target = load_dataset(name)
        yield name, train, holdout, target, TableCodec.fit(train, infer_metadata(train, {}), seed=0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--datasets", default="adult,credit,arrests")
    p.add_argument("--steps", type=int, nargs="+", default=[100, 200, 400, 1000, 2000])
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args()
    out = {}
    for name, train, holdout, target, codec in fitted_tables(args.datasets):
        x, xh = codec.encode(train, seed=0), codec.encode(holdout, seed=0)
        span = next(s for s in codec.spans if s.column == target and s.activation == "softmax")
        config = replace(TableRecipeConfig(), target_span=(span.start, span.size), target_weight=1.0)
        rows = []
        for steps in [None, *args.steps]:  # None: the default, stopped early on held-out rows
            acc, secs, used = [], [], []
            for seed in range(args.seeds):
                recipe = TableRecipe(config)
                t = time.perf_counter()
                recipe.learn_target(x, seed=seed, steps=steps)
                secs.append(time.perf_counter() - t)
                acc.append(accuracy(recipe, torch.as_tensor(xh)))
                used.append(recipe.target_steps)
            row = {"steps": steps or "early stopping (default)", "steps_kept": used,
                   "holdout_accuracy": round(sum(acc) / len(acc), 4), "accuracy_min": round(min(acc), 4),
                   "seconds": round(sum(secs) / len(secs), 2)}  # fmt: skip
            print(name, len(x), "rows:", row, flush=True)
            rows.append(row)
        majority = float(torch.as_tensor(xh)[:, span.start : span.start + span.size].sum(0).max() / len(xh))
        out[name] = {"train_rows": len(x), "holdout_majority_share": round(majority, 4), "rows": rows}
    save("table_target_steps", {"seeds": args.seeds, "threads": 1, "results": out})


if __name__ == "__main__":
    main()
