"""``ganforge evaluate`` of an audio run: the SC09 protocol of the WaveGAN paper. A classifier trained on
the run's real training clips (cached per training set) scores generated clips: inception score, Fréchet
distance in its embedding, the share of conditional clips heard as the asked-for class, within-class
diversity and the nearest-training-clip memorisation check (audio/metrics.py). The real reference is
``--real DIR``, else the held-out voices of a built-in, else the training clips themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ganforge.audio import metrics as am
from ganforge.audio.data import AudioData, load_audio
from ganforge.core.io import rounded
from ganforge.engine import artifact
from ganforge.engine.model import load
from ganforge.errors import ConfigError

DEFAULT_CLIPS = 1000  # generated clips scored (and at most as many real ones)
MEMORISATION_CLIPS = 2000  # training clips searched for each generated clip's nearest neighbour


def classifier_cache() -> Path:
    from ganforge.audio.builtin import cache_root

    return cache_root() / "clip-classifiers"


def reference_data(gan: Any, real: str | Path | None) -> tuple[AudioData, AudioData, str]:
    """(the classifier's training clips, real reference clips, what the reference is)."""
    from ganforge.audio.data import BUILTINS

    r = gan.recipe
    source = gan.data_info.get("source")
    if source in (None, "in memory"):
        if real is None:
            raise ConfigError("this run was trained on clips in memory; pass --real DIR (class sub-folders)")
        given = load_audio(real, r.sample_rate, r.length, "train")  # it trains the classifier too
        return given, given, str(real)
    train = load_audio(source, r.sample_rate, r.length, "train")
    if real is not None:
        return train, load_audio(real, r.sample_rate, r.length, "train"), str(real)
    if source in BUILTINS:
        return train, load_audio(source, r.sample_rate, r.length, "heldout"), f"{source} (held-out voices)"
    return train, train, f"{source} (the training clips: pass --real DIR for unseen ones)"


def clip_classifier(train: AudioData, valid: AudioData | None = None) -> am.ClipClassifier:
    """The classifier of this training set: trained once, then read from the cache."""
    if train.labels is None or len(train.class_names) < 2:
        raise ConfigError("scoring needs labelled clips (class sub-folders) to train the classifier on")
    key = am.clips_fingerprint(train.clips, train.labels, train.sample_rate)
    pair = (valid.clips, valid.labels) if valid is not None and valid.labels is not None else None

    def build() -> am.ClipClassifier:
        return am.train_classifier(
            train.clips, train.labels, train.sample_rate, train.class_names, valid=pair
        )

    return am.cached_classifier(key, build, classifier_cache())


def score_clips(classifier: am.ClipClassifier, generated: np.ndarray, asked: np.ndarray | None,
                train: AudioData, ref: AudioData, n: int, seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """The protocol's figures for ``generated`` clips (``asked``: their classes) against ``ref``."""
    rng = np.random.default_rng(seed)
    reals = ref.clips[np.sort(rng.choice(len(ref), min(n, len(ref)), replace=False))]
    pool = train.clips[np.sort(rng.choice(len(train), min(MEMORISATION_CLIPS, len(train)), replace=False))]
    result = am.evaluate_clips(classifier, generated, reals, asked=asked, train_clips=pool, seed=seed)
    if ref.labels is not None and ref.class_names == list(classifier.class_names):
        _, probs = am.embed(classifier, ref.clips)
        result["classifier_accuracy_real"] = float((probs.argmax(1) == ref.labels).mean())
    return result


def evaluate_audio_run(run: Path, real: str | Path | None = None, n: int | None = None,
                       seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """Score ``n`` generated clips (default 1,000, every class in turn) as users get them (watermarked)."""
    n = n or DEFAULT_CLIPS
    if n < 10:
        raise ConfigError(f"-n must be >= 10 (got {n})")
    gan = load(run)
    train, ref, what = reference_data(gan, real)
    classifier = clip_classifier(train, ref if ref is not train else None)
    if gan.recipe.class_names and list(classifier.class_names) != gan.recipe.class_names:
        raise ConfigError("the real clips' classes differ from the model's")
    generated = gan.sample(n, seed=seed)
    asked = gan.labels_for(n)
    result = score_clips(classifier, generated, asked, train, ref, n, seed)
    result = {"clips": n, "real": what, **result}
    gan.metrics["evaluation"] = rounded(result)
    artifact.update_config(run, metrics=gan.metrics)
    gan.write_card(Path(run))
    return rounded(result)


def evaluate_cli(run: Path, options: dict[str, Any], console: Any, out_console: Any) -> None:
    """``ganforge evaluate`` of an audio run: measure, store in the run, print the headline figures."""
    console.print(f"evaluating {run}: a digit classifier's inception score and Fréchet distance ...")
    result = evaluate_audio_run(run, real=options.get("real"), n=options.get("n"), seed=options["seed"])
    heads = {
        "inception score": result["inception_score"]["mean"],
        "inception score, real clips": result["inception_score_real"]["mean"],
        "Fréchet distance": result["frechet_distance"],
        "classified as asked": (result.get("conditional") or {}).get("accuracy"),
        "diversity ratio": (result.get("diversity") or {}).get("ratio"),
        "copies share": (result.get("memorisation") or {}).get("copy_share"),
        "classifier accuracy, real": result.get("classifier_accuracy_real"),
        "real": result["real"],
    }
    for key, value in heads.items():
        out_console.print(f"{key:>28}  {value}")


VOCODER_CLIPS = 200  # real clips a vocoder is measured on by default


def evaluate_vocoder(run: Path, real: str | Path | None = None, n: int | None = None,
                     seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """Real clips (``--real DIR``, else a built-in's held-out voices, else the training clips) -> log-mel
    -> sound by the vocoder and by Griffin-Lim: mel L1 and multi-resolution STFT distance to the originals."""
    from ganforge.audio.data import BUILTINS

    n = n or VOCODER_CLIPS
    if n < 1:
        raise ConfigError(f"-n must be >= 1 (got {n})")
    voc = load(run)
    r, source = voc.recipe, voc.data_info.get("source")
    length = round(voc.seconds * r.sample_rate)
    if real is not None:
        ref, what = load_audio(real, r.sample_rate, length, "train"), str(real)
    elif source in BUILTINS:
        ref, what = load_audio(source, r.sample_rate, length, "heldout"), f"{source} (held-out voices)"
    elif source not in (None, "in memory"):
        ref, what = load_audio(source, r.sample_rate, length, "train"), f"{source} (the training clips)"
    else:
        raise ConfigError("this vocoder was trained on clips in memory; pass --real DIR")
    pick = np.sort(np.random.default_rng(seed).choice(len(ref.clips), min(n, len(ref.clips)), replace=False))
    result = {"real": what, **voc.compare(ref.clips[pick])}
    voc.metrics["evaluation"] = rounded(result)
    artifact.update_config(run, metrics=voc.metrics)
    voc.write_card(Path(run))
    return rounded(result)


def evaluate_vocoder_cli(run: Path, options: dict[str, Any], console: Any, out_console: Any) -> None:
    """``ganforge evaluate`` of a vocoder run: measure against Griffin-Lim, store, print."""
    console.print(f"evaluating {run}: real clips -> log-mel -> sound, by the vocoder and by Griffin-Lim ...")
    result = evaluate_vocoder(run, real=options.get("real"), n=options.get("n"), seed=options["seed"])
    out_console.print(f"{'':>16}  {'mel L1':>8}  {'MR-STFT':>8}  {'x real time':>11}")
    for name in ("vocoder", "griffin_lim"):
        f = result[name]
        out_console.print(
            f"{name:>16}  {f['mel_l1']:>8}  {f['multi_resolution_stft']:>8}  {f['x_real_time']:>11}"
        )
    out_console.print(f"{'real':>16}  {result['real']} ({result['clips']['n']} clips)")
