"""``ganforge evaluate`` of a table run: quality, ML efficacy, detection, copies, out-of-range values and
DCR memorisation (and, on request, the privacy metrics). Figures go to config.json and card.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ganforge.core.io import rounded
from ganforge.engine import artifact
from ganforge.engine.model import load
from ganforge.errors import ConfigError, DataError


def evaluate_table_run(
    run: str | Path,
    real: str | Path | None = None,
    holdout: str | Path | None = None,
    target: str | None = None,
    n: int | None = None,
    seed: int = 0,
    max_rows: int | None = 50_000,
    memorisation: bool = True,
    dcr_rows: int = 5000,
    privacy: bool = False,
    sensitive: str | None = None,
) -> dict[str, Any]:
    """Quality, ML efficacy, detection, copies, out-of-range values and DCR memorisation of a table
    run's samples.

    ``real`` defaults to the file the run was trained on; ``n`` (synthetic rows) to the real row count.
    DCR compares up to ``dcr_rows`` synthetic rows (and held-out rows) with up to ``max_rows`` real rows.
    ``privacy`` adds the privacy metrics (DCR train vs holdout, NNDR, copies, membership and, for
    ``sensitive``, attribute inference; see metrics/privacy.py), which need ``holdout``; they are also
    written to RUN/evaluation/privacy.json. The figures are stored in config.json and card.md.
    """
    from ganforge.tables.data import read_table
    from ganforge.tables.metrics import evaluate_table

    gan = load(run)
    source = real or gan.data_info.get("source")
    if source is None or source == "DataFrame":
        raise DataError("this run was trained on an in-memory table; pass --real DATA.csv")
    real_df = _model_columns(read_table(source), gan.metadata.names(), source)
    hold_df = (
        _model_columns(read_table(holdout), gan.metadata.names(), holdout) if holdout is not None else None
    )
    target = target or gan.data_info.get("target")
    if n is not None and n < 1:
        raise ConfigError(f"-n must be >= 1 (got {n})")
    if (privacy or sensitive) and hold_df is None:
        raise ConfigError("--privacy needs --holdout: real rows of the same population the model never saw")
    synth = gan.sample(n or len(real_df), seed=seed)
    result = evaluate_table(real_df, synth, gan.metadata.kinds(), holdout=hold_df, target=target,
                            max_rows=max_rows, seed=seed)  # fmt: skip
    if memorisation:
        result["memorisation"] = _table_dcr(
            real_df, synth, gan.metadata.kinds(), hold_df, max_rows, dcr_rows, seed
        )
    if privacy or sensitive:
        result["privacy"] = _table_privacy(
            Path(run), real_df, hold_df, synth, gan.metadata.kinds(), sensitive, seed
        )
    result |= {"real": str(source), "holdout": str(holdout) if holdout else None, "seed": seed}
    gan.metrics["evaluation"] = table_summary(result)
    gan.metrics["evaluation_details"] = result
    artifact.update_config(Path(run), metrics=gan.metrics)
    gan.write_card(Path(run))
    return result


def _model_columns(df: Any, names: list[str], source: str | Path) -> Any:
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise DataError(f"{source} lacks the model's columns: {', '.join(missing)}")
    return df[names]


def _table_dcr(
    real: Any, synth: Any, kinds: dict[str, str], holdout: Any, max_rows: int | None, dcr_rows: int, seed: int
) -> dict[str, Any]:
    """DCR memorisation against (a seeded sample of ``max_rows`` of) the real table; ``closest`` pairs
    index rows of ``real`` and ``synth`` by position."""
    from ganforge.tables.memorisation import table_memorisation

    rows = np.arange(len(real))
    if max_rows is not None and len(real) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(len(real), size=max_rows, replace=False))
    result = table_memorisation(real.iloc[rows], synth, kinds, holdout=holdout, max_rows=dcr_rows, seed=seed)
    for pair in result["closest"]:
        pair["train"] = int(rows[pair["train"]])
    return rounded(result)


def _table_privacy(
    run: Path, real: Any, holdout: Any, synth: Any, kinds: dict[str, str], sensitive: str | None, seed: int
) -> dict[str, Any]:
    """Privacy metrics of the samples, also written to RUN/evaluation/privacy.json."""
    from ganforge.core.config import write_json
    from ganforge.tables.privacy.metrics import privacy_metrics

    result = rounded(privacy_metrics(real, holdout, synth, kinds, sensitive=sensitive, seed=seed))
    (run / "evaluation").mkdir(exist_ok=True)
    write_json(run / "evaluation" / "privacy.json", result)
    return result


def table_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of :func:`evaluate_table_run`'s result, flat, for the card and the CLI."""
    q = result["quality"]
    out = {
        "quality": q["score"],
        "column shapes": q["column_shapes"]["score"],
        "column pair trends": q["column_pair_trends"]["score"],
        "detection score": result["detection"]["score"],
        "detection AUC (C2ST)": result["c2st"]["auc"],
        "missing-rate gap (points)": result["missing_rates"]["max_gap_points"],
        "identical rows share": result["identical_rows"]["share"],
        "out-of-range values": result["out_of_bounds"]["count"],
    }
    mem = result.get("memorisation")
    if mem:
        out |= {"memorised share (DCR)": mem["memorised_share"], "DCR baseline share": mem["baseline_share"],
                "memorisation flagged": mem["flagged"]}  # fmt: skip
    if result.get("privacy"):
        from ganforge.tables.privacy.metrics import privacy_summary

        out |= privacy_summary(result["privacy"])
    if result.get("target_rates"):
        out["target class-rate gap (points)"] = result["target_rates"]["max_gap_points"]
    ml = result.get("ml_efficacy")
    if ml:
        for key in ("tstr_accuracy", "trtr_accuracy", "tstr_f1", "trtr_f1", "tstr_r2", "trtr_r2"):
            if ml.get(key) is not None:
                out[
                    key.replace("_", " ")
                    .replace("tstr", "TSTR")
                    .replace("trtr", "TRTR")
                    .replace("f1", "macro-F1")
                ] = ml[key]
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def evaluate_cli(run: Path, options: dict[str, Any], console: Any, out_console: Any) -> None:
    """``ganforge evaluate`` of a table run: measure, store in the run, print the summary."""
    result = evaluate_table_run(
        run, real=options["real"], holdout=options["holdout"], target=options["target"], n=options["n"],
        seed=options["seed"], memorisation=options["memorisation"], privacy=options["privacy"],
        sensitive=options["sensitive"],
    )  # fmt: skip
    for key, value in table_summary(result).items():
        out_console.print(f"{key:>30}  {value}")
