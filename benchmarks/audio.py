"""Audio: the SC09 protocol of the WaveGAN paper on the ``spoken-digits`` built-in, every model in the same
run and scored by the same code (ganforge.audio.metrics / evaluate).

A digit classifier is trained on the real training clips (cached per training set); its accuracy on the
held-out voices is reported. Then, per model (``--archs``; each trained for ``--minutes`` on this CPU):
inception score and Fréchet distance in the classifier's embedding of ``--n`` generated clips (every digit
in turn, watermarked as users get them; the unmarked figures beside them), the share classified as the
asked-for digit, within-class diversity, nearest-training-clip copies, and generation speed (seconds of
audio per second of wall time and of CPU time). The held-out real clips' inception score is the ceiling.
The spectrogram model is scored twice: with Griffin-Lim and with ganforge's GAN vocoder (trained in the same
run for ``--vocoder-minutes`` on the real training clips). Both are also measured on real held-out clips
(log-mel -> sound -> multi-resolution STFT distance and mel L1 against the original).

``--runs DIR`` saves every trained model under DIR; a later invocation with the same DIR loads a model
found there instead of training it again (the JSON says so), so the scoring of all models stays in one run.

Published (WaveGAN paper, SC09 real speech): inception score 4.7 WaveGAN, 6.0 SpecGAN, 8.0 real data.

    .venv/bin/python benchmarks/audio.py --minutes 30 --runs runs/bench-audio   # the issue's budget per model
    .venv/bin/python benchmarks/audio.py --minutes 10 --archs spec    # shorter
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import RESULTS, machine

from ganforge.audio.data import AudioData, load_audio
from ganforge.audio.evaluate import clip_classifier, score_clips
from ganforge.audio.model import AudioGAN
from ganforge.audio.vocoder import Vocoder
from ganforge.engine.model import load

PUBLISHED = {"WaveGAN": 4.7, "SpecGAN": 6.0, "real SC09": 8.0}


def speed(gan: AudioGAN, n: int = 256) -> dict[str, float]:
    gan.sample(8, seed=0)  # warm up
    wall, cpu = time.perf_counter(), time.process_time()
    gan.sample(n, seed=1)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    audio = n * gan.recipe.length / gan.recipe.sample_rate
    return {"clips": n, "x_real_time_wall": round(audio / wall, 1), "x_real_time_cpu": round(audio / cpu, 1),
            "clips_per_second": round(n / wall, 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="training minutes per model")
    ap.add_argument("--archs", default="spec,wave")
    ap.add_argument("--n", type=int, default=1000, help="generated clips scored per model")
    ap.add_argument("--width", type=int, default=None, help="network width (default: the model's)")
    ap.add_argument(
        "--vocoder-minutes",
        type=float,
        default=None,
        help="the vocoder's training minutes (default: --minutes; 0: no vocoder)",
    )
    ap.add_argument("--runs", default=None, help="save trained models here; load those already there")
    ap.add_argument("--out", default=str(RESULTS / "audio.json"))
    args = ap.parse_args()
    if args.vocoder_minutes is None:
        args.vocoder_minutes = args.minutes
    torch.manual_seed(0)
    t0 = time.perf_counter()
    train = load_audio("spoken-digits", 16000, 16000, "train")
    held = load_audio("spoken-digits", 16000, 16000, "heldout")
    order = np.random.default_rng(0).permutation(len(held))  # files come sorted by digit: mix them
    held = AudioData(held.clips[order], held.labels[order], held.class_names, [], [], held.sample_rate)
    print(
        f"spoken-digits: {len(train)} training clips, {len(held)} held-out ({time.perf_counter() - t0:.0f} s)"
    )
    t0 = time.perf_counter()
    classifier = clip_classifier(train, held)
    print(f"classifier ready in {time.perf_counter() - t0:.0f} s")
    n = args.n
    real_ref = score_clips(classifier, held.clips[:n], held.labels[:n], train, held, n)
    result: dict[str, Any] = {
        "machine": machine(), "minutes_per_model": args.minutes, "clips_scored": n,
        "train_clips": len(train), "heldout_clips": len(held), "published_inception_score": PUBLISHED,
        "classifier_accuracy_heldout": real_ref.get("classifier_accuracy_real"),
        "real_heldout": {"inception_score": real_ref["inception_score"]["mean"],
                         "frechet_distance_to_itself_halves": None},
        "models": {},
    }  # fmt: skip
    half = len(held) // 2
    other = AudioData(held.clips[half:], held.labels[half:], held.class_names, [], [], 16000)
    split = score_clips(classifier, held.clips[:half], held.labels[:half], train, other, n)
    result["real_heldout"]["frechet_distance_to_itself_halves"] = split["frechet_distance"]
    print(f"real held-out: IS {real_ref['inception_score']['mean']:.2f}, classifier accuracy "
          f"{result['classifier_accuracy_heldout']}, FD half vs half {split['frechet_distance']:.2f}")  # fmt: skip
    runs = Path(args.runs) if args.runs else None

    def trained(name: str, build: Any, data: Any) -> tuple[Any, dict[str, Any]]:
        """The model ``name``: loaded from ``--runs`` when it holds a finished run, else trained now."""
        where = runs / name if runs else None
        if where is not None and (where / "model.safetensors").is_file():
            model = load(where)
            return model, {"train_seconds": model.metrics.get("train_seconds"), "trained_earlier": str(where)}
        model = build()
        t0 = time.perf_counter()
        model.fit(data, out=where)
        return model, {"train_seconds": round(time.perf_counter() - t0, 1)}

    def scored(gan: AudioGAN, entry: dict[str, Any]) -> dict[str, Any]:
        for marked in (True, False):
            clips = gan.sample(n, seed=123, watermark=marked)
            s = score_clips(classifier, clips, gan.labels_for(n), train, held, n)
            entry["marked" if marked else "unmarked"] = {
                "inception_score": s["inception_score"]["mean"], "inception_score_std": s["inception_score"]["std"],
                "frechet_distance": s["frechet_distance"], "classified_as_asked": s["conditional"]["accuracy"],
                "diversity_ratio": s["diversity"]["ratio"], "copy_share": s["memorisation"]["copy_share"],
                "share_of_real_inception_score": round(s["inception_score"]["mean"] / real_ref["inception_score"]["mean"], 3),
            }  # fmt: skip
        entry["speed"] = speed(gan)
        return entry

    archs = [a for a in args.archs.split(",") if a]
    vocoder = None
    if "spec" in archs and args.vocoder_minutes > 0:
        vocoder, info = trained("vocoder", lambda: Vocoder(minutes=args.vocoder_minutes, device="cpu"), train)
        figures = vocoder.compare(held.clips[:200])
        result["vocoder"] = info | {"steps": vocoder.metrics["steps"], "on_real_heldout": figures}
        print("vocoder", json.dumps(result["vocoder"], indent=1), flush=True)
    for arch in archs:
        kw = {"width": args.width} if args.width else {}
        build = functools.partial(AudioGAN, arch=arch, minutes=args.minutes, device="cpu", **kw)
        gan, info = trained(arch, build, train)
        base = info | {
            "steps": gan.metrics["steps"],
            "clips_seen": gan.metrics["clips_seen"],
            "width": gan.recipe.width,
        }
        name = f"{arch}+griffin-lim" if arch == "spec" else arch
        result["models"][name] = scored(gan, dict(base))
        print(name, json.dumps(result["models"][name], indent=1), flush=True)
        if arch == "spec" and vocoder is not None:
            gan.set_vocoder(vocoder)
            result["models"]["spec+vocoder"] = scored(gan, dict(base))
            print("spec+vocoder", json.dumps(result["models"]["spec+vocoder"], indent=1), flush=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
