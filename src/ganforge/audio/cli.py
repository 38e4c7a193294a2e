"""The audio wing's commands: ``train audio`` and ``sample`` of an audio run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ganforge.engine.cli import (
    CheckpointEveryOpt,
    DeviceOpt,
    MinutesOpt,
    OnProblemOpt,
    OutOpt,
    ResumeOpt,
    SeedOpt,
    at_least,
    check_fits,
    check_on_problem,
    check_seed,
    console,
    finish_training,
    positive,
    progress_callbacks,
    resume_dir,
)
from ganforge.errors import GanforgeError


def train_audio(
    data: Annotated[
        str,
        typer.Argument(
            help="A folder of audio files (class sub-folders become labels) or the built-in spoken-digits."
        ),
    ],
    out: OutOpt = None,
    resume: ResumeOpt = None,
    arch: Annotated[str, typer.Option(help="spec (log-mel spectrogram GAN) | wave (waveform GAN).")] = "spec",
    seconds: Annotated[float, typer.Option(help="Length of a clip in seconds.")] = 1.0,
    sample_rate: Annotated[int, typer.Option(help="Samples per second (clips are resampled).")] = 16000,
    cond: Annotated[
        bool, typer.Option("--cond/--no-cond", help="Condition on the class sub-folders.")
    ] = True,
    steps: Annotated[int | None, typer.Option(help="Generator updates (default 2,000).")] = None,
    minutes: MinutesOpt = None,
    batch: Annotated[int, typer.Option(help="Clips per batch.")] = 64,
    width: Annotated[int, typer.Option(help="Channel width of both networks.")] = 16,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    checkpoint_every: CheckpointEveryOpt = 500,
    vocoder: Annotated[
        Path | None,
        typer.Option(
            help="A run of `ganforge train vocoder` to make sound with in place of Griffin-Lim "
            "(spec only; the run keeps a copy). With --resume it replaces the run's own."
        ),
    ] = None,
    on_problem: OnProblemOpt = "recover",
) -> None:
    """Train a GAN on sound clips; Ctrl-C saves a checkpoint and stops cleanly."""
    from ganforge.core.extras import require

    require("soundfile", "audio", "train audio")
    from ganforge.audio.model import AudioGAN
    from ganforge.audio.recipe import ARCHS
    from ganforge.engine.progress import ProgressCallback

    if arch not in ARCHS:
        raise GanforgeError(f"--arch must be one of {', '.join(ARCHS)} (got {arch!r})")
    at_least("--steps", steps, 1)
    positive("--minutes", minutes)
    positive("--seconds", seconds)
    at_least("--batch", batch, 2)
    at_least("--width", width, 1)
    at_least("--checkpoint-every", checkpoint_every, 1)
    check_seed(seed)
    from ganforge.audio.watermark import MAX_RATE, MIN_RATE, MIN_SECONDS

    if not MIN_SECONDS <= seconds <= 10:
        raise GanforgeError(
            f"--seconds must be within {MIN_SECONDS:.2f}..10 (got {seconds:g}); GANs here make short clips"
        )
    if not MIN_RATE <= sample_rate <= MAX_RATE:
        raise GanforgeError(f"--sample-rate must be within {MIN_RATE}..{MAX_RATE} (got {sample_rate})")
    check_fits(f"batches of {batch:,} clips of {seconds:g} s", batch * seconds * sample_rate * width * 8)
    run_dir = resume_dir(out, resume)
    if resume is not None:
        gan = AudioGAN.resume(resume, steps=steps, device=device, minutes=minutes)
    else:
        gan = AudioGAN(arch=arch, seconds=seconds, sample_rate=sample_rate, cond=cond, steps=steps, minutes=minutes,
                       batch_size=batch, width=width, seed=seed, device=device,
                       checkpoint_every=checkpoint_every)  # fmt: skip
    if vocoder is not None:
        gan.set_vocoder(vocoder)
    header = (f"[bold]ganforge[/] training on [cyan]{data}[/] -> {run_dir}",)
    gan.fit(data, out=run_dir, resume=resume is not None, health=check_on_problem(on_problem),
            callbacks=progress_callbacks(ProgressCallback(console, unit="clips", header=header)))  # fmt: skip
    m = gan.metrics
    finish_training("audio", data, run_dir, f"{m['steps']} steps, {m['clips_seen']:,} clips", m, where="",
                    next_cmd=f"ganforge sample {run_dir} -n 16 --out clips/   |   ganforge evaluate {run_dir}")  # fmt: skip


def train_vocoder(
    data: Annotated[
        str, typer.Argument(help="A folder of audio files (real sound) or the built-in spoken-digits.")
    ],
    out: OutOpt = None,
    resume: ResumeOpt = None,
    sample_rate: Annotated[int, typer.Option(help="Samples per second: the spectrogram GAN's.")] = 16000,
    seconds: Annotated[float, typer.Option(help="Clips are cut or padded to this length.")] = 1.0,
    steps: Annotated[int | None, typer.Option(help="Generator updates (default 6,000).")] = None,
    minutes: MinutesOpt = None,
    warmup_steps: Annotated[
        int, typer.Option(help="Steps on the mel loss alone before the discriminators join.")
    ] = 4000,
    batch: Annotated[int, typer.Option(help="Segments (a quarter second each) per batch.")] = 16,
    width: Annotated[int, typer.Option(help="The generator's first channel count (>= 8).")] = 64,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    checkpoint_every: CheckpointEveryOpt = 500,
    on_problem: OnProblemOpt = "recover",
) -> None:
    """Train a GAN vocoder (log-mel spectrogram -> sound) on real clips, for `train audio --vocoder`."""
    from ganforge.core.extras import require

    require("soundfile", "audio", "train vocoder")
    from ganforge.audio.vocoder import Vocoder
    from ganforge.audio.watermark import MAX_RATE, MIN_RATE
    from ganforge.engine.progress import ProgressCallback

    at_least("--steps", steps, 1)
    positive("--minutes", minutes)
    at_least("--batch", batch, 2)
    at_least("--width", width, 8)
    at_least("--warmup-steps", warmup_steps, 0)
    at_least("--checkpoint-every", checkpoint_every, 1)
    check_seed(seed)
    if not 0.25 <= seconds <= 10:
        raise GanforgeError(f"--seconds must be within 0.25..10 (got {seconds:g})")
    if not MIN_RATE <= sample_rate <= MAX_RATE:
        raise GanforgeError(f"--sample-rate must be within {MIN_RATE}..{MAX_RATE} (got {sample_rate})")
    run_dir = resume_dir(out, resume)
    if resume is not None:
        voc = Vocoder.resume(resume, steps=steps, device=device, minutes=minutes)
    else:
        voc = Vocoder(sample_rate=sample_rate, seconds=seconds, steps=steps, minutes=minutes, batch_size=batch,
                      width=width, seed=seed, device=device, checkpoint_every=checkpoint_every,
                      warmup_steps=warmup_steps)  # fmt: skip
    header = (f"[bold]ganforge[/] training a vocoder on [cyan]{data}[/] -> {run_dir}",)
    voc.fit(data, out=run_dir, resume=resume is not None, health=check_on_problem(on_problem),
            callbacks=progress_callbacks(ProgressCallback(console, unit="segments", header=header)))  # fmt: skip
    m = voc.metrics
    finish_training("vocoder", data, run_dir, f"{m['steps']} steps, {m['segments_seen']:,} segments", m,
                    where="", next_cmd=f"ganforge evaluate {run_dir}   |   ganforge train audio DATA --vocoder {run_dir}")  # fmt: skip


def sample_cli(run: Path, out: Path, options: dict[str, Any]) -> str:
    """``ganforge sample`` of an audio run: ``-n`` WAV files (plus grid.wav and grid.png) in folder ``out``."""
    from ganforge.core.extras import require

    require("soundfile", "audio", "sampling an audio run")
    from ganforge.audio.writer import write_clips
    from ganforge.engine.model import load

    for flag, given in (("--grid", options.get("grid")), ("--condition", bool(options.get("condition")))):
        if given:
            raise GanforgeError(f"{flag} is not an option of audio models")
    out = Path(out)
    from ganforge.audio.data import AUDIO_SUFFIXES

    if out.suffix.lower() in AUDIO_SUFFIXES or (out.exists() and not out.is_dir()):
        raise GanforgeError(f"--out is a folder for audio models (got the file name {out.name!r})")
    if options.get("engine", "torch") == "onnx":  # ONNX Runtime (RUN/model.onnx exported when needed)
        from ganforge.audio.export import onnx_for_run

        model = onnx_for_run(run, options.get("onnx"))
    else:
        model = load(run, device=options["device"])
    n = options.get("n") or 16
    sr = model.recipe.sample_rate
    check_fits(f"{n:,} clips held at once", n * model.recipe.net_length * 4 * 4)
    klass = options.get("klass")
    labels = model.labels_for(n, klass)
    watermark = options.get("watermark", True)
    clips = model.sample(n, seed=options.get("seed"), klass=klass, watermark=watermark)
    write_clips(out, clips, labels, model.class_names, sr, model.model_id if watermark else None)
    from ganforge.safety.provenance import write_sidecar

    write_sidecar(out / "grid.wav", model, "audio GAN", {"clips": n, "seconds": model.recipe.length / sr,
                                                         "sample_rate": sr, "seed": options.get("seed"),
                                                         "class": klass, "watermark": watermark})  # fmt: skip
    return f"wrote {n} clips ({n * model.recipe.length / sr:.1f} s of audio) to {out}/ (grid.wav, grid.png)"


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Mount the audio wing's commands."""
    train_app.command("audio")(train_audio)
    train_app.command("vocoder")(train_vocoder)
