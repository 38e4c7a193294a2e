"""Bad input gets one clear line, a non-zero exit, no traceback — and loses nothing already saved."""

import subprocess

import numpy as np
import pytest
from conftest import ganforge_cmd
from PIL import Image


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*ganforge_cmd(), *args], capture_output=True, text=True, timeout=300)


def assert_clean_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def write_images(folder, n, size=20, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / f"{i}.png")


TRAIN = ["train", "images"]
FAST = ["--resolution", "16", "--steps", "4", "--batch", "4", "--width", "8", "--device", "cpu", "--no-cond"]


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_clean_error(run_cli(*TRAIN, str(tmp_path / "empty"), "--out", str(tmp_path / "r")), "is empty")


def test_one_image_dataset(tmp_path):
    write_images(tmp_path / "one", 1)
    assert_clean_error(
        run_cli(*TRAIN, str(tmp_path / "one"), "--out", str(tmp_path / "r")), "at least 2 images"
    )


def test_unsupported_resolution(tmp_path):
    write_images(tmp_path / "imgs", 4)
    proc = run_cli(*TRAIN, str(tmp_path / "imgs"), "--out", str(tmp_path / "r"), "--resolution", "30")
    assert_clean_error(proc, "resolution 30 is not supported", "32")


def test_unknown_builtin(tmp_path):
    assert_clean_error(run_cli(*TRAIN, "cifar-11", "--out", str(tmp_path / "r")), "cifar-11", "fashion-mnist")


def test_unwritable_output_dir(tmp_path):
    write_images(tmp_path / "imgs", 4)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    proc = run_cli(*TRAIN, str(tmp_path / "imgs"), "--out", str(blocker / "run"), *FAST)
    assert_clean_error(proc, "cannot write to output directory")


def test_non_images_and_truncated_images_are_skipped_and_training_runs(tmp_path):
    data = tmp_path / "mixed"
    write_images(data, 6)
    (data / "notes.txt").write_text("hello")
    full = (data / "0.png").read_bytes()
    (data / "broken.png").write_bytes(full[: len(full) // 2])
    proc = run_cli(*TRAIN, str(data), "--out", str(tmp_path / "r"), *FAST)
    assert proc.returncode == 0, proc.stderr
    assert "warning:" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "r" / "model.safetensors").is_file()


def test_existing_run_is_not_overwritten(tmp_path):
    write_images(tmp_path / "imgs", 6)
    out = tmp_path / "r"
    assert run_cli(*TRAIN, str(tmp_path / "imgs"), "--out", str(out), *FAST).returncode == 0
    before = (out / "model.safetensors").read_bytes()
    assert_clean_error(
        run_cli(*TRAIN, str(tmp_path / "imgs"), "--out", str(out), *FAST), "already holds a run"
    )
    assert (out / "model.safetensors").read_bytes() == before


def test_conditional_training_on_unlabelled_data_is_refused(tmp_path):
    write_images(tmp_path / "imgs", 6)
    args = [a for a in FAST if a != "--no-cond"]
    assert_clean_error(
        run_cli(*TRAIN, str(tmp_path / "imgs"), "--out", str(tmp_path / "r"), *args), "--no-cond"
    )


@pytest.mark.parametrize(
    "args, needle",
    [
        (["sample", "does-not-exist", "--out", "x"], "run directory not found"),
        (["interpolate", "does-not-exist", "--out", "x.png"], ".gif"),
    ],
)
def test_sampling_bad_input(tmp_path, args, needle):
    assert_clean_error(run_cli(*args), needle)
