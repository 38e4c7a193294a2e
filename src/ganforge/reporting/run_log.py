"""Reading a run's metrics.jsonl: numeric series and health events, grouped for plots and TensorBoard.

Records are JSON lines that carry "step"; training records hold losses and gradients, monitors add
their own keys (``fast_fid``, ``coverage``) and the health monitor adds ``{"step", "event", "detail",
"action"}``. Nothing here knows a fixed list of keys: every number that is logged can be shown.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

METRICS = "metrics.jsonl"
Point = tuple[int, float]

# Group -> what its keys start with (or are), in the order plots show them; the first match wins.
_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("loss", ("loss_",)),
    ("quality", ("fast_fid", "coverage", "fid", "kid", "precision", "recall", "density")),
    ("gradient", ("grad_",)),
    ("discriminator", ("d_real", "d_fake")),
    ("regulariser", ("r1", "r2", "penalty_")),
    ("progress", ("examples_per_s", "augment_p", "examples_seen", "seconds")),
)
GROUPS = tuple(g for g, _ in _GROUPS) + ("other",)
CLOCKS = ("examples_seen", "seconds")
RENAMED = {
    "images_seen": "examples_seen",
    "images_per_s": "examples_per_s",
}  # grow with every step: the x-axis of a run, not a figure of it


@dataclass
class RunLog:
    """The records of one metrics.jsonl: numeric ``records`` and health ``events``, in file order."""

    records: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def read_log(run_dir: Path) -> RunLog:
    """Parse ``RUN/metrics.jsonl`` (absent: an empty log); a torn last line of a killed run is skipped."""
    log, path = RunLog(), Path(run_dir) / METRICS
    if not path.is_file():
        return log
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict) or "step" not in record:
            continue
        for old, new in RENAMED.items():  # logs written before the engine counted examples
            if old in record:
                record.setdefault(new, record.pop(old))
        (log.events if "event" in record else log.records).append(record)
    return log


def metric_group(key: str) -> str:
    """The group a logged key belongs to ("loss", "gradient", ..., "other"): one plot or tag prefix each."""
    for group, prefixes in _GROUPS:
        if any(key == p or key.startswith(p) for p in prefixes):
            return group
    return "other"


def is_number(value: Any) -> bool:
    """A finite int or float (booleans and NaN/Inf excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def numeric_series(
    records: list[dict[str, Any]], min_points: int = 2, skip: tuple[str, ...] = ()
) -> dict[str, list[Point]]:
    """key -> [(step, value), ...] in file order, for every numeric key (but ``skip``) logged at least
    ``min_points`` times."""
    series: dict[str, list[Point]] = {}
    for record in records:
        for key, value in record.items():
            if key != "step" and key not in skip and is_number(value):
                series.setdefault(key, []).append((int(record["step"]), float(value)))
    return {k: v for k, v in series.items() if len(v) >= min_points}


def split_history(points: list[Point]) -> tuple[list[Point], list[list[Point]]]:
    """Separate the history a run kept from stretches a rollback abandoned.

    A step that does not exceed the one before means training went back (a health recovery); the points
    from there on replace the earlier ones at the same or later steps, which become an abandoned stretch.
    """
    kept: list[Point] = []
    abandoned: list[list[Point]] = []
    for step, value in points:
        if kept and step <= kept[-1][0]:
            cut = next(i for i, (s, _) in enumerate(kept) if s >= step)
            abandoned.append(kept[max(cut - 1, 0) :])  # from the last kept point, so the stretch is joined
            kept = kept[:cut]
        kept.append((step, value))
    return kept, abandoned
