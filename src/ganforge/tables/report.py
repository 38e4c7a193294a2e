"""The table-run parts of the report: per-column distributions, association matrices, quality figures.

Real rows come from the file the run was trained on (or ``--real``); synthetic rows are sampled with a
fixed seed. Both are capped at :data:`MAX_ROWS` rows and :data:`MAX_COLUMNS` columns, so a report of a
wide, large table still takes seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganforge.errors import DataError
from ganforge.reporting.html import esc, figure, figures, fmt, kv_table, not_computed, note, table
from ganforge.reporting.plots import association_figure, column_figure, column_floats

MAX_ROWS = 5_000
MAX_COLUMNS = 30
MAX_CATEGORIES = 20  # rarer categories are pooled before measuring associations
SKIPPED_KINDS = ("id", "constant")  # nothing to compare: fresh ids, one value
Section = tuple[str, str, str]


def real_rows(gan: Any, real: str | Path | None) -> tuple[pd.DataFrame | None, str]:
    """The real table (at most MAX_ROWS rows) or None with the reason; a given ``real`` must be usable."""
    from ganforge.tables.data import read_table

    source = real or gan.data_info.get("source")
    if real is None and (source in (None, "DataFrame") or not Path(source).is_file()):
        where = "an in-memory table" if source in (None, "DataFrame") else f"{source} (not found)"
        return None, f"The real table is not available (the run was trained on {where}): pass --real DATA."
    df = read_table(source)
    missing = [c for c in gan.metadata.names() if c not in df.columns]
    if missing:
        raise DataError(f"{source} lacks the model's columns: {', '.join(missing[:5])}")
    df = df[gan.metadata.names()]
    if len(df) > MAX_ROWS:
        df = df.sample(MAX_ROWS, random_state=0).reset_index(drop=True)
    return df, str(source)


def compared_columns(kinds: dict[str, str]) -> tuple[list[str], str]:
    """Columns worth comparing (at most MAX_COLUMNS) and a note on those left out."""
    names = [n for n, k in kinds.items() if k not in SKIPPED_KINDS]
    left = [f"{n} ({k})" for n, k in kinds.items() if k in SKIPPED_KINDS]
    if len(names) > MAX_COLUMNS:
        left.append(f"{len(names) - MAX_COLUMNS} more columns beyond the first {MAX_COLUMNS}")
        names = names[:MAX_COLUMNS]
    return names, ("Not shown: " + ", ".join(left) + ".") if left else ""


# ---------------------------------------------------------------- associations


def _codes(col: pd.Series) -> np.ndarray:
    """Category codes with the rarest categories pooled and missing values as a category of their own."""
    values = col.astype(object).where(col.notna(), "(missing)").astype(str)
    top = values.value_counts().index[:MAX_CATEGORIES]
    return pd.Categorical(values.where(values.isin(top), "(other)")).codes.astype(np.int64)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or x[ok].std() == 0 or y[ok].std() == 0:
        return 0.0
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def _cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    k, m = a.max() + 1, b.max() + 1
    if k < 2 or m < 2:
        return 0.0
    observed = np.zeros((k, m))
    np.add.at(observed, (a, b), 1.0)
    expected = np.outer(observed.sum(1), observed.sum(0)) / len(a)
    chi2 = float((((observed - expected) ** 2) / np.where(expected > 0, expected, 1)).sum())
    return float(np.sqrt(chi2 / (len(a) * (min(k, m) - 1))))


def _correlation_ratio(codes: np.ndarray, x: np.ndarray) -> float:
    ok = np.isfinite(x)
    codes, x = codes[ok], x[ok]
    spread = ((x - x.mean()) ** 2).sum() if len(x) else 0.0
    if spread == 0:
        return 0.0
    counts = np.bincount(codes)
    means = np.bincount(codes, weights=x) / np.maximum(counts, 1)
    return float(np.sqrt((counts * (means - x.mean()) ** 2).sum() / spread))


def association_matrix(df: pd.DataFrame, kinds: dict[str, str]) -> np.ndarray:
    """Pearson r between numbers, Cramér's V between categories, correlation ratio η between a number
    and a category: one matrix for mixed tables (datetimes count as numbers, booleans as categories)."""
    names = list(kinds)
    numeric = {n: kinds[n] in ("numeric", "datetime") for n in names}
    data = {}
    for n in names:
        data[n] = column_floats(df[n], kinds[n]) if numeric[n] else _codes(df[n])
    out = np.eye(len(names))
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            b = names[j]
            if numeric[a] and numeric[b]:
                value = _pearson(data[a], data[b])
            elif not numeric[a] and not numeric[b]:
                value = _cramers_v(data[a], data[b])
            else:
                cat, num = (a, b) if not numeric[a] else (b, a)
                value = _correlation_ratio(data[cat], data[num])
            out[i, j] = out[j, i] = value
    return out


# ---------------------------------------------------------------- sections


def _missing(col: pd.Series) -> str:
    share = float(col.isna().mean())
    return f"{share:.0%}" if share else "0"


def columns_section(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str], scores: dict) -> str:
    """One real-vs-synthetic distribution plot per column, captioned with its shape score if known."""
    names, skipped = compared_columns(kinds)
    items = []
    for name in names:
        caption = f"missing: real {_missing(real[name])}, synthetic {_missing(synth[name])}"
        if isinstance(scores.get(name), (int, float)):
            caption = f"shape score {fmt(float(scores[name]))}; " + caption
        uri = column_figure(name, kinds[name], real[name], synth[name])
        items.append(figure(uri, caption, alt=f"distribution of {name}"))
    intro = note(f"{len(real):,} real rows vs {len(synth):,} synthetic rows (seed 0). {skipped}")
    return intro + figures(items)


def correlations_section(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]) -> str:
    """Association matrices of real and synthetic rows side by side, and how far they differ."""
    names, _ = compared_columns(kinds)
    if len(names) < 2:
        return note("Fewer than two comparable columns: no associations to show.")
    picked = {n: kinds[n] for n in names}
    r, s = association_matrix(real, picked), association_matrix(synth, picked)
    gap = np.abs(r - s)[np.triu_indices(len(names), 1)]
    text = (
        "Pearson r between numbers, Cramér's V between categories, correlation ratio η between a number "
        f"and a category. Mean |difference| {gap.mean():.3f}, largest {gap.max():.3f}."
    )
    return note(text) + figure(association_figure(r, s, names), "real | synthetic | absolute difference")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and bool(np.isfinite(value))


def _score_bar(score: Any) -> str:
    if not _finite(score):
        return esc(fmt(score))
    return f'<span class="bar" style="width:{max(0.0, min(1.0, score)) * 90:.0f}px"></span> {fmt(score)}'


def quality_section(metrics: dict[str, Any], kinds: dict[str, str], run: str) -> str:
    """Headline quality/efficacy figures, per-column shape scores, the weakest column pairs, the rest."""
    headline, details = metrics.get("evaluation"), metrics.get("evaluation_details")
    if not headline and not details:
        return not_computed("Quality and ML efficacy", f"ganforge evaluate {run}")
    body = kv_table(headline) if isinstance(headline, dict) else ""
    details = details if isinstance(details, dict) else {}
    quality = details.get("quality", {}) if isinstance(details.get("quality"), dict) else {}
    shapes = quality.get("column_shapes", {}).get("columns", {})
    if shapes:
        rows = [(esc(n), esc(kinds.get(n, "")), _score_bar(v)) for n, v in shapes.items()]
        body += "<h3>Column shapes (1 = same distribution)</h3>" + table(
            ("column", "kind", "score"), rows, True
        )
    pairs = quality.get("column_pair_trends", {}).get("pairs", {})
    if pairs:
        worst = sorted(pairs.items(), key=lambda kv: kv[1] if _finite(kv[1]) else -1.0)[:15]
        rows = [(esc(p.replace("|", " × ")), _score_bar(v)) for p, v in worst]
        body += f"<h3>Column pair trends: the {len(worst)} weakest of {len(pairs)}</h3>"
        body += table(("pair", "score"), rows, raw=True)
    rest = {k: v for k, v in details.items() if k != "quality"}
    if rest:
        body += "<h3>All other figures</h3>" + kv_table(rest)
    return body


def table_sections(run_dir: Path, config: dict[str, Any], real: str | Path | None) -> list[Section]:
    """The columns, correlations and quality sections of a table run."""
    from ganforge.engine.model import load

    gan = load(run_dir)
    kinds = gan.metadata.kinds()
    metrics = config.get("metrics", {})
    quality = _dig(metrics, "evaluation_details", "quality", "column_shapes", "columns")
    out: list[Section] = []
    real_df, where = real_rows(gan, real)
    if real_df is None:
        out += [("columns", "Columns: real vs synthetic", note(where)),
                ("correlations", "Correlations: real vs synthetic", note(where))]  # fmt: skip
    else:
        synth = gan.sample(len(real_df), seed=0)
        out += [
            ("columns", "Columns: real vs synthetic", columns_section(real_df, synth, kinds, quality)),
            ("correlations", "Correlations: real vs synthetic", correlations_section(real_df, synth, kinds)),
        ]
    out.append(("quality", "Quality and ML efficacy", quality_section(metrics, kinds, str(run_dir))))
    if config.get("privacy") or _dig(metrics, "evaluation_details", "privacy"):  # a DP run or measured
        out.append(("privacy", "Privacy", privacy_section(config, str(run_dir))))
    return out


def privacy_section(config: dict[str, Any], run: str) -> str:
    """The DP guarantee of the run (if any) and the privacy metrics with their plots."""
    from ganforge.reporting.plots import dcr_figure, roc_figure
    from ganforge.tables.privacy.metrics import privacy_summary
    from ganforge.tables.privacy.training import privacy_card

    guarantee = privacy_card(config.get("privacy"))
    body = "<h3>Guarantee</h3>" + (kv_table(guarantee) if isinstance(guarantee, dict) else note(guarantee))
    result = _dig(config.get("metrics", {}), "evaluation_details", "privacy")
    if not result:
        return body + not_computed(
            "Privacy metrics", f"ganforge evaluate {run} --privacy --real TRAIN.csv --holdout TEST.csv"
        )
    body += note(
        "Training rows against held-out rows the model never saw: ~50 % of synthetic rows closer to "
        "training, an attack AUC near 0.5 and no more exact copies than the holdout baseline mean the "
        "synthetic table says little about who was in the training data."
    )
    body += kv_table(privacy_summary(result))
    plots = [figure(dcr_figure(result["dcr"]["histogram"]), "distance to closest record")]
    mia = result["membership_inference"]
    plots.append(figure(roc_figure(mia["roc"], mia["auc"]), "membership-inference ROC"))
    body += figures(plots)
    ai = result.get("attribute_inference")
    if ai:
        body += "<h3>Attribute inference</h3>" + kv_table(ai)
    return body


def _dig(data: Any, *keys: str) -> dict:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def summary_facts(config: dict[str, Any]) -> dict[str, Any]:
    """Rows, columns, target and recipe of a table run."""
    recipe, data = config.get("recipe", {}), config.get("data", {})
    return {"rows": data.get("rows"), "columns": data.get("columns"), "target": data.get("target"),
            "recipe": f"table MLP, pac {recipe.get('pac')}, encoded width {recipe.get('data_dim')}"}  # fmt: skip


def report_sections(run_dir: Path, config: dict[str, Any], real: Path | None) -> list[Section]:
    """The table sections, then any stored evaluation figures."""
    from ganforge.reporting.report import evaluation_sections

    return table_sections(run_dir, config, real) + evaluation_sections(run_dir, config, optional=True)
