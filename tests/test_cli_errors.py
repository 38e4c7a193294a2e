"""Bad input gets one clear line, a non-zero exit, no traceback — and loses nothing already saved."""

import shutil
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
    others = [
        ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith(("error:", "warning:"))
    ]
    assert not others, proc.stderr  # nothing else: no progress line or column summary before the error
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


def test_a_one_row_table_is_refused_before_anything_is_printed(tmp_path):
    (tmp_path / "one.csv").write_text("a,b,c\n1,2,x\n")
    proc = run_cli("train", "table", str(tmp_path / "one.csv"), "--out", str(tmp_path / "r"), "--epochs", "1")
    assert_clean_error(proc, "1 row; need at least 2 rows")


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
    """Asked for with --cond; without it an unlabelled folder trains unconditional (test below)."""
    write_images(tmp_path / "imgs", 6)
    args = [a for a in FAST if a != "--no-cond"] + ["--cond"]
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


@pytest.mark.parametrize(
    "args, needle",
    [
        (["train", "images", "digits", "--out", "{tmp}/r", "--steps", "0"], "--steps must be at least 1"),
        (["train", "images", "digits", "--out", "{tmp}/r", "--kimg", "-1"], "--kimg must be greater than 0"),
        (
            ["train", "images", "digits", "--out", "{tmp}/r", "--minutes", "0"],
            "--minutes must be greater than 0",
        ),
        (
            ["train", "images", "digits", "--out", "{tmp}/r", "--monitor-every", "-1"],
            "--monitor-every must be at least 0",
        ),
        (
            ["train", "images", "digits", "--out", "{tmp}/r", "--sample-every", "0"],
            "--sample-every must be at least 1",
        ),
        (["train", "table", "{csv}", "--out", "{tmp}/r", "--pac", "0"], "--pac must be at least 1"),
        (
            ["train", "table", "{csv}", "--out", "{tmp}/r", "--minutes", "0"],
            "--minutes must be greater than 0",
        ),
        (["train", "vectors", "{csv}", "--out", "{tmp}/r", "--steps", "0"], "--steps must be at least 1"),
        (["train", "superres", "photos", "--out", "{tmp}/r", "--steps", "0"], "--steps must be at least 1"),
        (["evaluate", "{legacy}", "-n", "0"], "-n must be at least 1"),
        (["interpolate", "{legacy}", "--out", "{tmp}/w.gif", "--points", "1"], "--points must be at least 2"),
        (["interpolate", "{legacy}", "--out", "{tmp}/w.gif", "--frames", "0"], "--frames must be at least 1"),
        (["interpolate", "{legacy}", "--out", "{tmp}/w.gif", "--scale", "0"], "--scale must be at least 1"),
        (["sample", "{legacy}", "--out", "{blocker}/imgs"], "a-file"),
        (["sample", "{legacy}", "--grid", "--out", "{blocker}/g.png"], "a-file"),
        (["interpolate", "{legacy}", "--out", "{blocker}/w.gif"], "a-file"),
    ],
)
def test_zero_and_negative_values_and_unwritable_outputs_are_one_line(
    args, needle, tmp_path, capsys, monkeypatch
):
    """0 is honoured or refused, never read as "the default"; a path that cannot be written is one line."""
    from pathlib import Path

    from conftest import cli_in_process

    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n1,2\n3,4\n5,6\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    legacy = Path(__file__).parent / "fixtures" / "legacy-0.1.0" / "image"
    shutil.copytree(legacy, tmp_path / "legacy")  # evaluate would write into the run
    filled = [a.format(tmp=tmp_path, csv=csv, blocker=blocker, legacy=tmp_path / "legacy") for a in args]
    done = cli_in_process(capsys, monkeypatch, *filled)
    assert done.returncode == 1 and needle in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "r").exists()  # nothing was started


def test_a_tiny_image_folder_trains_past_the_health_checks(tmp_path):
    """2-5 images used to crash at the first coverage check (step 100): k-NN needs more examples."""
    write_images(tmp_path / "four", 4)
    proc = run_cli(*TRAIN, str(tmp_path / "four"), "--out", str(tmp_path / "r"), *FAST[:2], "--steps", "110",
                   "--batch", "4", "--width", "8", "--device", "cpu", "--no-cond", "--sample-every", "1000")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r" / "model.safetensors").is_file()


def test_resume_of_a_run_without_training_settings_is_one_line(tmp_path):
    import json

    write_images(tmp_path / "imgs", 4)
    assert run_cli(*TRAIN, str(tmp_path / "imgs"), "--out", str(tmp_path / "r"), *FAST).returncode == 0
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    del config["train"]
    (tmp_path / "r" / "config.json").write_text(json.dumps(config))
    proc = run_cli(*TRAIN, str(tmp_path / "imgs"), "--resume", str(tmp_path / "r"), "--steps", "8")
    assert_clean_error(proc, "has no training settings")


def test_a_folder_without_class_folders_trains_unconditional_unless_cond_is_asked_for(tmp_path):
    write_images(tmp_path / "flat", 6)
    args = [str(tmp_path / "flat"), "--resolution", "16", "--steps", "2", "--batch", "4", "--width", "8",
            "--device", "cpu"]  # fmt: skip
    proc = run_cli(*TRAIN, *args, "--out", str(tmp_path / "auto"))
    assert proc.returncode == 0, proc.stderr
    import json

    assert json.loads((tmp_path / "auto" / "config.json").read_text())["recipe"]["num_classes"] == 0
    assert_clean_error(run_cli(*TRAIN, *args, "--out", str(tmp_path / "cond"), "--cond"), "use --no-cond")


def test_resuming_a_run_of_another_kind_is_one_line(tmp_path):
    from pathlib import Path

    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n1,x\n2,y\n3,x\n")
    legacy = Path(__file__).parent / "fixtures" / "legacy-0.1.0" / "image"
    proc = run_cli("train", "table", str(csv), "--resume", str(legacy))
    assert_clean_error(proc, "holds a 'image' run, not a 'table' run")


def test_help_and_usage_errors_answer_without_importing_torch():
    import sys

    code = (
        "import sys\n"
        "from ganforge.cli.main import main\n"
        "for argv in (['ganforge', '--help'], ['ganforge', 'train', 'series', '--help'], ['ganforge', 'nosuch']):\n"
        "    sys.argv = argv\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('torch' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1] == "False", proc.stderr[-2000:]
    assert "No such command 'nosuch'" in proc.stderr
    import os

    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # pytest sets 80 for its children
    piped = subprocess.run(
        [*ganforge_cmd(), "train", "table", "--help"], capture_output=True, text=True, env=env
    )
    # a pipe, not a terminal: option names must not be cut
    assert piped.returncode == 0 and "--on-problem" in piped.stdout and "…" not in piped.stdout
    narrow = subprocess.run(  # an 80-column terminal: the names fit too
        [*ganforge_cmd(), "train", "table", "--help"],
        capture_output=True,
        text=True,
        env=env | {"COLUMNS": "80"},
    )
    assert narrow.returncode == 0 and "--on-problem" in narrow.stdout and "…" not in narrow.stdout


def test_the_earlier_option_name_on_collapse_is_still_read_as_on_problem(tmp_path):
    data = tmp_path / "t.csv"
    data.write_text("a,b\n1,x\n2,y\n3,x\n")
    for words in (["--on-collapse", "bogus"], ["--on-collapse=bogus"]):
        proc = subprocess.run([*ganforge_cmd(), "train", "table", str(data), "--out", str(tmp_path / "run"), *words],
                              capture_output=True, text=True)  # fmt: skip
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.strip() == "error: --on-problem must be recover, stop, warn or off (got 'bogus')"
    assert not (tmp_path / "run").exists()
