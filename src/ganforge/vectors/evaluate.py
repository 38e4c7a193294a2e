"""``ganforge evaluate`` of a vector run: Fréchet distance and precision/recall/density/coverage between
generated and real points, in the standardised space the model was trained in (kind-free maths from
metrics/), stored in config.json and card.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.core.io import rounded
from ganforge.engine import artifact
from ganforge.engine.model import load
from ganforge.errors import ConfigError
from ganforge.metrics.fid import features_frechet_distance
from ganforge.metrics.prdc import prdc
from ganforge.vectors.data import read_vectors


def evaluate_vector_run(
    run: Path, real: Path | None = None, n: int | None = None, seed: int = 0
) -> dict[str, Any]:
    """Figures of ``n`` generated points (default: as many as the real ones) against ``real`` (default:
    the training file)."""
    gan = load(run)
    source = real or gan.data_info.get("source")
    if source in (None, "array"):
        raise ConfigError("this run was trained on an in-memory array; pass --real POINTS.csv")
    x, _, _ = read_vectors(Path(source))
    if x.shape[1] != gan.recipe.dim:
        raise ConfigError(f"{source} has {x.shape[1]} columns but the model makes {gan.recipe.dim}")
    n = n or len(x)
    if n < 2:
        raise ConfigError(f"-n must be >= 2 (got {n})")
    fake = gan.codec.encode(gan.sample(n, seed=seed))
    reals = gan.codec.encode(x)
    result = {"frechet_distance": features_frechet_distance(reals, fake), "n": n, "real": len(x)}
    result |= prdc(reals, fake)
    gan.metrics["evaluation"] = rounded(result)
    artifact.update_config(run, metrics=gan.metrics)
    gan.write_card(Path(run))
    return rounded(result)


def evaluate_cli(run: Path, options: dict[str, Any], console: Any, out_console: Any) -> None:
    """``ganforge evaluate`` of a vector run: measure, store in the run, print."""
    result = evaluate_vector_run(run, real=options.get("real"), n=options.get("n"), seed=options["seed"])
    for key, value in result.items():
        out_console.print(f"{key:>18}  {value}")
