"""A resumed run equals an uninterrupted one — after a clean stop and after SIGKILL; corruption is refused."""

import json
import signal
import subprocess
import time

import pytest
from conftest import ganforge_cmd
from safetensors.torch import load_file

from ganforge import load
from ganforge.errors import CheckpointError

# small-data preset: exercises EMA, lazy R1/R2 and the adaptive augmentation probability in the state.
ARGS = ["digits", "--resolution", "16", "--width", "8", "--batch", "16", "--preset", "small-data",
        "--device", "cpu", "--seed", "3", "--sample-every", "1000"]  # fmt: skip


def train(*extra: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*ganforge_cmd(), "train", "images", *ARGS, *extra], capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def weights(run) -> dict:
    return load_file(str(run / "model.safetensors"))


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    diff = [k for k in wa if not (wa[k] == wb[k]).all()]
    assert not diff, f"{len(diff)} tensors differ, e.g. {diff[:3]}"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run = tmp_path_factory.mktemp("full") / "run"
    train("--out", str(run), "--steps", "60", "--checkpoint-every", "10")
    return run


def test_resume_after_clean_stop_equals_uninterrupted(uninterrupted, tmp_path):
    run = tmp_path / "run"
    train("--out", str(run), "--steps", "25", "--checkpoint-every", "10")
    train("--resume", str(run), "--steps", "60")
    assert_same_weights(uninterrupted, run)
    # The augmentation probability really moved, so it was part of what had to be restored.
    state = json.loads((run / "checkpoint.json").read_text())["state"]
    assert state["augment_p"] > 0 and state["examples_seen"] == 60 * 16
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)), "the resumed log repeats or reorders steps"


def test_resume_after_sigkill_equals_uninterrupted(uninterrupted, tmp_path):
    run = tmp_path / "run"
    cmd = [
        *ganforge_cmd(),
        "train",
        "images",
        *ARGS,
        "--out",
        str(run),
        "--steps",
        "100000",
        "--checkpoint-every",
        "7",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        index = run / "checkpoint.json"
        if index.exists() and json.loads(index.read_text())["step"] >= 21:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = json.loads((run / "checkpoint.json").read_text())["step"]
    assert 21 <= killed_at < 60
    assert not (run / "model.safetensors").exists()  # it really died mid-run
    train("--resume", str(run), "--steps", "60")
    assert_same_weights(uninterrupted, run)


def test_corrupt_checkpoint_is_refused_clearly(uninterrupted, tmp_path):
    run = tmp_path / "run"
    train("--out", str(run), "--steps", "12", "--checkpoint-every", "5")
    ckpt = next(run.glob("ckpt-*.safetensors"))
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2] ^= 0xFF
    ckpt.write_bytes(bytes(data))
    proc = train("--resume", str(run), "--steps", "20", check=False)
    assert proc.returncode == 1
    assert "checksum mismatch" in proc.stderr and "Traceback" not in proc.stderr
    # Nothing saved was lost or overwritten by the failed resume.
    assert ckpt.read_bytes() == bytes(data)


def test_tampered_weights_are_refused(uninterrupted, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(uninterrupted, run)
    path = run / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load(run)
    proc = subprocess.run([*ganforge_cmd(), "sample", str(run), "-n", "4", "--out", str(tmp_path / "s")],
                          capture_output=True, text=True)  # fmt: skip
    assert (
        proc.returncode == 1 and "corrupt or was modified" in proc.stderr and "Traceback" not in proc.stderr
    )


def test_loaded_model_samples_reproducibly_per_class(uninterrupted):
    gan = load(uninterrupted)
    a, b = gan.sample(8, labels=[2] * 8, seed=5), gan.sample(8, labels=[2] * 8, seed=5)
    assert (a == b).all() and a.shape == (8, 16, 16, 1) and a.dtype.name == "uint8"
    assert not (a == gan.sample(8, labels=[2] * 8, seed=6)).all()
    assert not (a == gan.sample(8, labels=[7] * 8, seed=5)).all()  # the class input is used


def test_a_failed_checkpoint_write_is_one_line_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    """A full disk used to surface as a SafetensorError traceback; the previous pair must stay valid."""
    import torch
    from safetensors import SafetensorError

    from ganforge.engine import checkpoint as ckpt
    from ganforge.errors import CheckpointError

    tensors = {"w": torch.arange(4.0)}
    ckpt.write_checkpoint(tmp_path, 1, tensors, {"step": 1})

    def full_disk(*args, **kwargs):
        raise SafetensorError("No space left on device (os error 28)")

    monkeypatch.setattr(ckpt, "save_file", full_disk)
    with pytest.raises(CheckpointError, match="No space left on device.*previous checkpoint is intact"):
        ckpt.write_checkpoint(tmp_path, 2, {"w": torch.zeros(4)}, {"step": 2})
    restored, state = ckpt.read_checkpoint(tmp_path)
    assert torch.equal(restored["w"], tensors["w"]) and state["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.json", "ckpt-000000001.safetensors"]
