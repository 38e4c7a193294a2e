"""Provenance for generated tables: a small JSON sidecar next to every file ``sample`` writes.

A sidecar (``synth.parquet.provenance.json``) rather than a column or file metadata: it works the same
for CSV (which has no metadata) and Parquet, costs nothing per row, and leaves the table's schema exactly
as the user's downstream code expects. Its limit: it is lost when the table is copied without it.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

from ganforge.core.io import atomic_write_text

SUFFIX = ".provenance.json"


def sidecar_path(path: str | Path) -> Path:
    """Where the provenance of the generated file ``path`` is written."""
    path = Path(path)
    return path.with_name(path.name + SUFFIX)


def write_table_sidecar(
    path: str | Path, model: Any, rows: int, seed: int | None, conditions: dict[str, Any] | None,
    shares_kept_of: str | None = None,
) -> Path:  # fmt: skip
    """Write the sidecar of a generated table: synthetic, by which run, how many rows, seed, conditions,
    and the target whose real class shares the rows keep (``shares_kept_of``), if any."""
    what = {"rows": int(rows), "seed": seed, "conditions": conditions or {}}
    return write_sidecar(
        path,
        model,
        "tabular GAN",
        what | ({"class_shares_kept_of": shares_kept_of} if shares_kept_of else {}),
    )


def write_sidecar(path: str | Path, model: Any, model_name: str, what: dict[str, Any]) -> Path:
    """Write ``path``'s provenance sidecar: synthetic, made by ``model_name`` of which run from which
    data, ``what`` was generated (counts, seed ...), when."""
    from ganforge._version import __version__

    run_dir = getattr(model, "run_dir", None)
    info = {
        "synthetic": True,
        "generator": f"ganforge {__version__}",
        "model": model_name,
        "run": str(Path(run_dir).resolve()) if run_dir else None,
        "training_data": (getattr(model, "data_info", None) or {}).get("source"),
        **what,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "file": Path(path).name,
    }
    out = sidecar_path(path)
    atomic_write_text(out, json.dumps(info, indent=2, default=str) + "\n")
    return out
