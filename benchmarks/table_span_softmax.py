"""The table generator's training-mode output: one Gumbel-softmax call per span against whole-row operations.

Times forward + backward of `TableGenerator` in training mode (batch 500, one thread) on each table's
real span layout, once with the per-span loop the generator used until 2026-12-04 (``F.gumbel_softmax``
per choice span, ``tanh`` per value span) and once with its current whole-row form.

    python benchmarks/table_span_softmax.py [--datasets adult,credit,arrests] [--repeats 50]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402
from table_target_steps import fitted_tables  # noqa: E402

from ganforge.tables.nets import TableGenerator  # noqa: E402


def per_span(g: TableGenerator, z: torch.Tensor) -> torch.Tensor:
    h = g.out(g.body(z))
    parts = []
    for start, size, act in g.spans:
        x = h[:, start : start + size]
        parts.append(torch.tanh(x) if act == "tanh" else F.gumbel_softmax(x, tau=g.tau, hard=False))
    return torch.cat(parts, dim=1)


def seconds(fn, g: TableGenerator, z: torch.Tensor, repeats: int) -> float:
    for _ in range(3):
        fn(g, z).square().sum().backward()
    t = time.perf_counter()
    for _ in range(repeats):
        g.zero_grad(set_to_none=True)
        fn(g, z).square().sum().backward()
    return (time.perf_counter() - t) / repeats


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--datasets", default="adult,credit,arrests")
    p.add_argument("--repeats", type=int, default=50)
    args = p.parse_args()
    out = {}
    for name, _, _, _, codec in fitted_tables(args.datasets):
        spans = [(s.start, s.size, s.activation) for s in codec.spans]
        g = TableGenerator(128, 0, (256, 256), spans, 0.2).train()
        z = torch.randn(500, 128)
        old = seconds(per_span, g, z, args.repeats)
        new = seconds(lambda g, z: g(z, None), g, z, args.repeats)
        out[name] = {"spans": len(spans), "columns": codec.dim, "per_span_ms": round(old * 1e3, 2),
                     "whole_row_ms": round(new * 1e3, 2), "speedup": round(old / new, 2)}  # fmt: skip
        print(name, out[name], flush=True)
    save("table_span_softmax", {"batch": 500, "threads": 1, "repeats": args.repeats, "results": out})


if __name__ == "__main__":
    main()
