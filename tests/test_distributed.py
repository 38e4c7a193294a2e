"""torchrun / DDP: ranks stay identical, N processes match one process with the same global batch, a run
resumes on another number of processes, and the real `torchrun -m ganforge train` command writes once."""

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from _ddp_worker import main as worker_main
from conftest import cli_in_process
from safetensors.torch import load_file

from ganforge.core.config import TrainConfig
from ganforge.engine.trainer import Trainer
from ganforge.errors import ConfigError
from ganforge.images.recipe import ImageRecipe, ImageRecipeConfig
from ganforge.vectors.recipe import TensorSource, VectorRecipe

WORKER = Path(__file__).with_name("_ddp_worker.py")
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def worker(tmp: Path, out: str, *args: str, ranks: int = 1) -> dict[int, dict[str, torch.Tensor]]:
    """The worker under torchrun with two ranks; one process runs in this one (a subprocess would only add
    seconds of imports: without torchrun's environment the Trainer is a plain single process either way)."""
    if ranks == 2:
        run([*TORCHRUN, str(WORKER), "--out", str(tmp / out), *args], cwd=tmp)
    else:
        with contextlib.chdir(tmp):
            worker_main(["--out", str(tmp / out), *args])
    return {r: load_file(str(tmp / out / f"rank{r}.safetensors")) for r in range(ranks)}


def initial_weights() -> dict[str, torch.Tensor]:
    rc = ImageRecipeConfig(resolution=16, arch="resnet", width=8, z_dim=16, channels=1, num_classes=3)
    torch.manual_seed(3)  # the worker's seed: Trainer seeds torch before building the networks
    recipe = ImageRecipe(rc)
    G, D = recipe.build_generator(), recipe.build_discriminator()
    return {f"G.{k}": v for k, v in G.state_dict().items()} | {f"D.{k}": v for k, v in D.state_dict().items()}


def relative_gap(a: dict, b: dict, init: dict, net: str) -> float:
    """|a - b| over how far b moved from the initial weights, for one network's parameters."""
    keys = [k for k in init if k.startswith(net + ".") and init[k].is_floating_point()]
    gap = torch.cat([(a[k] - b[k]).flatten() for k in keys]).norm()
    moved = torch.cat([(b[k] - init[k]).flatten() for k in keys]).norm()
    return float(gap / moved)


def test_two_ranks_stay_identical_and_match_one_process_with_the_same_global_batch(tmp_path):
    # 3 steps of a conditional image GAN with lazy R1/R2, augmentation and adaptive p (global batch 8).
    two = worker(tmp_path, "two", "--steps", "3", ranks=2)
    for key in two[0]:
        assert torch.equal(two[0][key], two[1][key]), f"{key} differs between ranks"
    one = worker(tmp_path, "one", "--steps", "3")[0]
    init = initial_weights()
    for net in ("G", "D"):
        assert relative_gap(two[0], one, init, net) < 0.01, net
    assert two[0]["augment_p"].item() == pytest.approx(one["augment_p"].item(), abs=1e-9)
    # The comparison can fail: one process with the per-rank batch (4) lands far away.
    small = worker(tmp_path, "small", "--steps", "3", "--batch", "4")[0]
    assert min(relative_gap(small, one, init, net) for net in ("G", "D")) > 0.5


def test_a_two_rank_run_resumes_on_one_rank(tmp_path):
    worker(tmp_path, "first", "--steps", "2", "--run-dir", "run", ranks=2)
    metrics = [json.loads(ln) for ln in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]  # rank 0 alone writes the log
    resumed = worker(tmp_path, "resumed", "--steps", "4", "--run-dir", "run", "--resume")[0]
    straight = worker(tmp_path, "straight", "--steps", "4")[0]
    init = initial_weights()
    for net in ("G", "D"):
        assert relative_gap(resumed, straight, init, net) < 0.05, net
    metrics = [json.loads(ln) for ln in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2, 3, 4]
    assert metrics[-1]["examples_seen"] == 4 * 8


def test_torchrun_train_commands_write_once_and_resume_on_one_process(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({"age": rng.normal(40, 10, n).round(), "kind": rng.choice(["a", "b", "c"], n)})
    df.to_csv(tmp_path / "t.csv", index=False)
    cli = [
        *TORCHRUN,
        "-m",
        "ganforge",
        "train",
        "table",
        "t.csv",
        "--out",
        "trun",
        "--epochs",
        "10",
        "--batch",
        "100",
    ]
    done = run(cli, cwd=tmp_path)
    assert done.stdout.count("run directory:") == 1  # rank 1 trains quietly
    config = json.loads((tmp_path / "trun" / "config.json").read_text())
    assert config["metrics"]["processes"] == 2 and config["metrics"]["steps"] == 40
    steps = [json.loads(ln)["step"] for ln in (tmp_path / "trun" / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 40  # one writer: no line twice
    # Resume the 2-process run in one process, for 10 more epochs (the one-process commands run in this
    # process: the same CLI without the seconds of imports a subprocess costs).
    monkeypatch.chdir(tmp_path)
    one_process = cli_in_process(
        capsys, monkeypatch, "train", "table", "t.csv", "--resume", "trun", "--epochs", "20"
    )
    assert one_process.returncode == 0, one_process.stderr[-3000:]
    config = json.loads((tmp_path / "trun" / "config.json").read_text())
    assert config["metrics"]["steps"] == 80 and config["metrics"]["processes"] == 1
    # Sharded sampling split over two live ranks writes the shards one process writes, byte for byte.
    run(
        [*TORCHRUN, "-m", "ganforge", "sample", "trun", "-n", "3000", "--out", "two", "--shards", "4"],
        cwd=tmp_path,
    )
    seed = json.loads((tmp_path / "two" / "_job.json").read_text())["seed"]
    one = cli_in_process(capsys, monkeypatch, "sample", "trun", "-n", "3000", "--out", "one", "--shards", "4",
                         "--seed", str(seed))  # fmt: skip
    assert one.returncode == 0, one.stderr[-3000:]
    for k in range(4):
        name = f"part-{k:05d}-of-00004.parquet"
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    # A global batch that does not split into whole packs per rank is refused in one line.
    bad = subprocess.run([*cli[:-1], "150", "--out", "bad"], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode != 0
    assert "must split evenly over 2 processes into multiples of 10; use a multiple of 20" in bad.stderr
    assert "ganforge/" not in "".join(ln for ln in bad.stderr.splitlines() if ln.strip().startswith("File"))
    assert not (tmp_path / "bad").exists()  # refused before anything was written


def test_the_batch_must_split_over_the_processes(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "0")
    cfg = TrainConfig(steps=1, batch_size=6)
    with pytest.raises(
        ConfigError, match=r"global batch and must split evenly over 4 processes; use a multiple of 4"
    ):
        Trainer(VectorRecipe(), TensorSource(torch.randn(16, 2)), cfg)


def _first_steps(precision: str, channels_last: bool = False) -> list[dict[str, float]]:
    rc = ImageRecipeConfig(resolution=16, arch="resnet", width=8, z_dim=16, channels=1)
    images = (torch.rand(32, 16, 16, 1, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    from ganforge.images.recipe import ImageSource

    cfg = TrainConfig(steps=2, batch_size=8, loss="rpgan", r1_gamma=1.0, reg_interval=2, seed=1,
                      precision=precision, channels_last=channels_last)  # fmt: skip
    trainer = Trainer(ImageRecipe(rc), ImageSource(images.numpy(), None), cfg)
    return [trainer.train_step() for _ in range(2)]


def test_bf16_autocast_trains_and_keeps_the_r1_penalty_in_full_precision():
    fp32, bf16 = _first_steps("fp32"), _first_steps("bf16")
    # Step 0 carries R1: D runs in fp32 there, so the penalty on the (identical) reals is identical.
    assert bf16[0]["r1"] == fp32[0]["r1"] and bf16[0]["r1"] > 0
    # Step 1 has no penalty and runs in bf16: close to fp32, but not equal (autocast is really on).
    gap = abs(bf16[1]["loss_d"] - fp32[1]["loss_d"])
    assert 0 < gap < 0.05
    with pytest.raises(ConfigError, match="precision must be fp32 or bf16"):
        TrainConfig(precision="fp16")


def test_channels_last_gives_the_same_training():
    plain, nhwc = _first_steps("fp32"), _first_steps("fp32", channels_last=True)
    for a, b in zip(plain, nhwc, strict=True):
        assert a["loss_d"] == pytest.approx(b["loss_d"], rel=1e-4)
        assert a["loss_g"] == pytest.approx(b["loss_g"], rel=1e-4)


def test_a_streamed_two_rank_table_run_resumes_on_two_ranks_bit_for_bit(tmp_path):
    # Each rank streams its own Parquet row groups; the checkpoint keeps every rank's stream position and
    # torch stream (dropout, Gumbel noise), so stopping and resuming changes nothing.
    rng = np.random.default_rng(0)
    n = 4000
    df = pd.DataFrame({"age": rng.normal(40, 10, n).round(), "kind": rng.choice(["a", "b", "c"], n)})
    df.to_parquet(tmp_path / "t.parquet", row_group_size=500)
    cli = [
        *TORCHRUN,
        "-m",
        "ganforge",
        "train",
        "table",
        "t.parquet",
        "--stream",
        "--batch",
        "100",
        "--on-problem",
        "off",
    ]
    run([*cli, "--out", "straight", "--epochs", "2"], cwd=tmp_path)
    run([*cli, "--out", "stopped", "--epochs", "1"], cwd=tmp_path)
    run([*cli, "--resume", "stopped", "--epochs", "2"], cwd=tmp_path)
    a = load_file(str(tmp_path / "straight" / "model.safetensors"))
    b = load_file(str(tmp_path / "stopped" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
