"""Audio: the SC09 protocol of the WaveGAN paper on the ``spoken-digits`` built-in, every model in the same
run and scored by the same code (ganforge.audio.metrics / evaluate).

A digit classifier is trained on the real training clips (cached per training set); its accuracy on the
held-out voices is reported. Then, per model (``--archs``; each trained for ``--minutes`` on this CPU):
inception score and Fréchet distance in the classifier's embedding of ``--n`` generated clips (every digit
in turn, watermarked as users get them; the unmarked figures beside them), the share classified as the
asked-for digit, within-class diversity, nearest-training-clip copies, and generation speed (seconds of
audio per second of wall time and of CPU time). The held-out real clips' inception score is the ceiling.
Griffin-Lim, the spectrogram model's vocoder, is also measured on real held-out clips (log-mel ->
sound -> multi-resolution STFT distance and mel L1 against the original).

Published (WaveGAN paper, SC09 real speech): inception score 4.7 WaveGAN, 6.0 SpecGAN, 8.0 real data.

    .venv/bin/python benchmarks/audio.py --minutes 30                 # the issue's budget per model
    .venv/bin/python benchmarks/audio.py --minutes 10 --archs spec    # shorter
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch
from _common import RESULTS, machine

from ganforge.audio.data import AudioData, load_audio
from ganforge.audio.evaluate import clip_classifier, score_clips
from ganforge.audio.model import AudioGAN
from ganforge.audio.spectral import MelSpec

PUBLISHED = {"WaveGAN": 4.7, "SpecGAN": 6.0, "real SC09": 8.0}


def stft_distance(a: np.ndarray, b: np.ndarray, sample_rate: int) -> float:
    """Multi-resolution STFT distance: spectral convergence + log-magnitude L1, over three FFT sizes."""
    total = 0.0
    for n_fft, hop in ((512, 128), (1024, 256), (2048, 512)):
        spec = MelSpec(sample_rate, n_fft, hop, 64)
        sa, sb = spec.stft(a).abs(), spec.stft(b).abs()
        conv = (
            torch.linalg.norm(sa - sb, dim=(1, 2)) / torch.linalg.norm(sa, dim=(1, 2)).clamp_min(1e-8)
        ).mean()
        logl1 = (sa.clamp_min(1e-5).log() - sb.clamp_min(1e-5).log()).abs().mean()
        total += float(conv + logl1)
    return total / 3


def griffin_lim_figures(clips: np.ndarray, recipe: Any) -> dict[str, float]:
    """Real clips -> log-mel -> Griffin-Lim -> sound, against the originals."""
    x = torch.from_numpy(np.pad(clips, ((0, 0), (0, recipe.net_length - clips.shape[1]))))
    mel = recipe.mel
    t0 = time.perf_counter()
    back = mel.invert(mel.log_mel(x), recipe.net_length, recipe.griffin_lim_iters)
    seconds = time.perf_counter() - t0
    mel_l1 = float((mel.log_mel(back) - mel.log_mel(x)).abs().mean())
    return {"clips": len(clips), "mel_l1": round(mel_l1, 4),
            "multi_resolution_stft": round(stft_distance(x.numpy(), back.numpy(), recipe.sample_rate), 4),
            "seconds_of_audio_per_second": round(len(clips) * recipe.net_length / recipe.sample_rate / seconds, 1)}  # fmt: skip


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
    ap.add_argument("--out", default=str(RESULTS / "audio.json"))
    args = ap.parse_args()
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
    for arch in [a for a in args.archs.split(",") if a]:
        kw = {"width": args.width} if args.width else {}
        gan = AudioGAN(arch=arch, minutes=args.minutes, device="cpu", **kw)
        t0 = time.perf_counter()
        gan.fit(train)
        fit_s = time.perf_counter() - t0
        entry: dict[str, Any] = {"train_seconds": round(fit_s, 1), "steps": gan.metrics["steps"],
                                 "clips_seen": gan.metrics["clips_seen"], "width": gan.recipe.width}  # fmt: skip
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
        if arch == "spec":
            entry["griffin_lim_on_real_heldout"] = griffin_lim_figures(held.clips[:200], gan.recipe)
        result["models"][arch] = entry
        print(arch, json.dumps(entry, indent=1), flush=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
