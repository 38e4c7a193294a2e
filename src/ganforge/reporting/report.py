"""``ganforge report RUN``: one self-contained HTML file about a run — what it is, how training went,
what the health monitor did, samples over time and every evaluation figure stored so far.

The page embeds its figures as PNG data URIs and its CSS inline: it opens offline, needs no JavaScript
and can be attached or archived as one file. Parts whose data is missing say how to compute them.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganforge.core import registry
from ganforge.core.io import atomic_write_text
from ganforge.engine import artifact
from ganforge.errors import ConfigError
from ganforge.reporting.html import esc, figure, figures, fmt, kv_table, not_computed, note, page, table
from ganforge.reporting.plots import curves_figure, image_file_uri
from ganforge.reporting.run_log import CLOCKS, RunLog, numeric_series, read_log

REPORT = "report.html"
EVALUATION_DIR = "evaluation"
MAX_GRIDS = 8
Section = tuple[str, str, str]


def write_report(run_dir: str | Path, out: str | Path | None = None, real: str | Path | None = None) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``RUN/report.html``) and return its path.

    ``real`` (table runs) is the real table to compare with; by default the file the run was trained on.
    """
    run_dir = Path(run_dir)
    config = artifact.read_config(run_dir)
    kind = config.get("kind")
    wing = registry.wing(kind)
    path = Path(out) if out is not None else run_dir / REPORT
    if path.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"the report is an HTML file: --out must end in .html (got {path.name})")
    log = read_log(run_dir)
    sections = [
        ("summary", "Summary", summary_section(config, log, run_dir)),
        ("curves", "Training curves", curves_section(log)),
        ("health", "Training health", health_section(log)),
    ]
    sections += wing.report_sections(run_dir, config, Path(real) if real is not None else None)
    when = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
    html = page(f"ganforge report: {run_dir.resolve().name}", f"{kind} run in {run_dir.resolve()}; {when}",
                sections)  # fmt: skip
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, html)
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror or e}") from None
    return path


# ---------------------------------------------------------------- summary, curves, health


def run_facts(config: dict[str, Any], log: RunLog) -> dict[str, Any]:
    """What the run is and how far it got, from config.json (and the log of an unfinished run)."""
    data, train, metrics = config.get("data", {}), config.get("train", {}), config.get("metrics", {})
    wing = registry.wing(config.get("kind"))
    facts: dict[str, Any] = {"kind": config.get("kind"), "data": data.get("source")}
    facts |= wing.summary_facts(config)
    last = log.records[-1] if log.records else {}
    facts |= {
        "loss": train.get("loss"),
        "batch size": train.get("batch_size"),
        "steps": _steps_text(metrics.get("steps", last.get("step")), train),
        f"{wing.unit} seen": metrics.get(f"{wing.unit}_seen", last.get("examples_seen")),
        "training time": f"{fmt(metrics.get('train_seconds', last.get('seconds')))} s",
        "stopped by": metrics.get("stopped_by", "not finished (or still running)"),
    }
    if metrics.get("stop_reason"):
        facts["stop reason"] = metrics["stop_reason"]
    facts |= {"created": config.get("created"), "ganforge": config.get("ganforge_version")}
    return {k: v for k, v in facts.items() if v is not None}


def _steps_text(done: Any, train: dict[str, Any]) -> str:
    """ "1,200 of 2,000", or "3,825 (time budget 10 min)" when the step target only stands for "until the
    time is up"."""
    target, budget = train.get("steps"), train.get("max_seconds")
    if budget and (target or 0) >= 10**6:
        return f"{fmt(done)} (time budget {budget / 60:g} min)"
    return f"{fmt(done)} of {fmt(target)}"


def summary_section(config: dict[str, Any], log: RunLog, run_dir: Path) -> str:
    """The run's facts and its headline evaluation figures."""
    headline = config.get("metrics", {}).get("evaluation")
    figures_html = (
        kv_table(headline)
        if isinstance(headline, Mapping) and headline
        else not_computed("Evaluation figures", f"ganforge evaluate {run_dir}")
    )
    return kv_table(run_facts(config, log)) + "<h3>Headline figures</h3>" + figures_html


def curves_section(log: RunLog) -> str:
    """Every figure logged at least twice, over the training steps."""
    series = numeric_series(log.records, skip=CLOCKS)
    if not series:
        return note("No training curves yet: metrics.jsonl has fewer than two records of any figure.")
    caption = "Every figure logged in metrics.jsonl, over generator steps (images seen and seconds are in the summary)."
    if log.events:
        caption += (
            " Dashed red lines: health events; dotted: stretches abandoned when a recovery rolled back."
        )
    return figure(curves_figure(series, log.events), caption, alt="training curves")


def health_section(log: RunLog) -> str:
    """The health monitor's events and what recovery did about each."""
    if not log.events:
        return note("No health events were logged: the monitor found nothing wrong (or was off).")
    rows = [(e.get("step"), e.get("event"), e.get("detail", ""), e.get("action", "")) for e in log.events]
    return table(("step", "event", "detail", "action"), rows)


# ---------------------------------------------------------------- image runs


def sample_grids(run_dir: Path, limit: int = MAX_GRIDS) -> list[tuple[int, Path]]:
    """Up to ``limit`` of the run's sample grids, evenly spaced over training, always including the last."""
    found = []
    for path in (run_dir / "samples").glob("step-*.png"):
        match = re.fullmatch(r"step-(\d+)\.png", path.name)
        if match:
            found.append((int(match.group(1)), path))
    found.sort()
    if len(found) <= limit:
        return found
    picks = {round(i * (len(found) - 1) / max(limit - 1, 1)) for i in range(limit - 1)} | {len(found) - 1}
    return [found[i] for i in sorted(picks)]


def samples_section(run_dir: Path) -> str:
    """The fixed-noise sample grids over training."""
    grids = sample_grids(run_dir)
    if not grids:
        return note(f"No sample grids in {run_dir / 'samples'} yet.")
    items = []
    for step, path in grids:
        uri, _ = image_file_uri(path, max_side=512)
        items.append(figure(uri, f"step {step:,}", alt=f"samples at step {step}", pixels=True))
    total = len(list((run_dir / "samples").glob("step-*.png")))
    return note(f"{len(grids)} of {total} grids, same noise in each.") + figures(items)


# ---------------------------------------------------------------- evaluation (any run)


def _is_per_class(key: str) -> bool:
    return re.sub(r"[^a-z]", "", str(key).lower()).endswith("perclass")


def _without_per_class(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: _without_per_class(v) if isinstance(v, Mapping) else v
        for k, v in data.items()
        if not _is_per_class(k)
    }


def find_per_class(data: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every value stored under a key named like ``per_class`` in nested dicts, with where it was."""
    found: list[tuple[str, Any]] = []
    if isinstance(data, Mapping):
        for key, value in data.items():
            where = f"{path} / {key}" if path else str(key)
            found += [(where, value)] if _is_per_class(key) else find_per_class(value, where)
    return found


def _evaluation_files(run_dir: Path, suffix: str) -> list[Path]:
    folder = run_dir / EVALUATION_DIR
    return sorted(p for p in folder.glob(f"*{suffix}") if p.is_file()) if folder.is_dir() else []


def evaluation_body(run_dir: Path, evaluations: Any) -> str:
    """Tables of every stored evaluation, then images and JSON files of RUN/evaluation/ (not 'nearest')."""
    body = ""
    if isinstance(evaluations, Mapping):
        for name, value in evaluations.items():
            shown = _without_per_class(value) if isinstance(value, Mapping) else {"value": value}
            body += f"<h3>{esc(name)}</h3>" + kv_table(shown)
    for path in _evaluation_files(run_dir, ".json"):
        data = _read_json(path)
        if isinstance(evaluations, Mapping) and path.stem in evaluations:  # its figures are shown above
            body += note(f"Details of {path.stem}: {EVALUATION_DIR}/{path.name}")
        elif isinstance(data, Mapping):
            body += f"<h3>{esc(path.name)}</h3>" + kv_table(_without_per_class(data))
    pngs = [p for p in _evaluation_files(run_dir, ".png") if "nearest" not in p.name.lower()]
    body += figures([figure(image_file_uri(p, 768)[0], p.name) for p in pngs]) if pngs else ""
    return body


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _record_lists(run_dir: Path, limit: int = 20) -> str:
    """Tables of the lists of flat records in RUN/evaluation/*.json (e.g. the closest sample/training pairs)."""
    body = ""
    for path in _evaluation_files(run_dir, ".json"):
        data = _read_json(path)
        for key, rows in data.items() if isinstance(data, Mapping) else ():
            if isinstance(rows, list) and rows and all(isinstance(r, Mapping) for r in rows):
                columns = list(dict.fromkeys(c for r in rows for c in r))
                shown = [[r.get(c) for c in columns] for r in rows[:limit]]
                more = f" (first {limit} of {len(rows)})" if len(rows) > limit else ""
                body += f"<h3>{esc(path.name)}: {esc(key)}{esc(more)}</h3>" + table(columns, shown)
    return body


def nearest_body(run_dir: Path) -> str:
    """The panels of samples beside their nearest training images, and the pairs behind them."""
    pngs = [p for p in _evaluation_files(run_dir, ".png") if "nearest" in p.name.lower()]
    if not pngs:
        return ""
    intro = note("Samples beside their nearest training images: near-copies show memorisation.")
    panels = "".join(figure(image_file_uri(p, 1024)[0], p.name) for p in pngs)
    return intro + panels + _record_lists(run_dir)


def per_class_body(found: list[tuple[str, Any]], class_names: list[str]) -> str:
    """One table per per-class mapping: a row per class, a column per figure."""
    body = ""
    for where, mapping in found:
        if isinstance(mapping, list):  # [{"class": ..., "fid": ...}, ...]
            mapping = {str(m.get("class", i)): m for i, m in enumerate(mapping) if isinstance(m, Mapping)}
        if not isinstance(mapping, Mapping):
            continue
        rows = {str(k): (v if isinstance(v, Mapping) else {"value": v}) for k, v in mapping.items()}
        columns = list(dict.fromkeys(c for v in rows.values() for c in v if c not in ("class", "name")))
        lines = [[_class_label(k, v.get("name"), class_names)] + [v.get(c) for c in columns]
                 for k, v in rows.items()]  # fmt: skip
        body += f"<h3>{esc(where)}</h3>" + table(["class", *columns], lines)
    return body


def _class_label(key: str, name: Any, class_names: list[str]) -> str:
    """'3 (dress)': the class index with its name, when the name says more than the index."""
    if name is None and key.isdigit() and int(key) < len(class_names):
        name = class_names[int(key)]
    return f"{key} ({name})" if name is not None and str(name) != key else key


def evaluation_sections(run_dir: Path, config: dict[str, Any], optional: bool) -> list[Section]:
    """Evaluation, nearest and per-class sections; with ``optional`` (table runs) absent parts are left
    out, otherwise they say how to compute them."""
    metrics = config.get("metrics", {})
    evaluations = metrics.get("evaluations")
    command = f"ganforge evaluate {run_dir}"
    out: list[Section] = []
    body = evaluation_body(run_dir, evaluations)
    if body or not optional:
        out.append(("evaluation", "Evaluation", body or not_computed("FID, KID and other figures", command)))
    body = nearest_body(run_dir)
    if body or not optional:
        out.append(("nearest", "Nearest training images", body or not_computed("The panel", command)))
    class_names = list(config.get("recipe", {}).get("class_names") or [])
    body = per_class_body(find_per_class(evaluations), class_names)
    if body or (not optional and class_names):
        out.append(("per-class", "Per class", body or not_computed("Per-class figures", command)))
    return out
