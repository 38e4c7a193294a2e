"""`ganforge sample --shards`: complete, deterministic per shard, resumable after SIGKILL, guarded."""

import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import time

import numpy as np
import pandas as pd
import pytest
from conftest import cli_in_process, ganforge_cmd
from PIL import Image
from test_cli_errors import assert_clean_error
from test_table_cli import small_table

from ganforge.sampling.sharded import ShardTask, make_shard, sample_shards, shard_name, shard_span


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    from ganforge.tables.model import TableGAN

    out = tmp_path_factory.mktemp("sharded") / "table"
    TableGAN(steps=30, batch_size=100, hidden=(32,), z_dim=16, device="cpu").fit(small_table(), out=out)
    return out


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    from ganforge.images.data import ImageDataset
    from ganforge.images.model import ImageGAN

    out = tmp_path_factory.mktemp("sharded") / "image"
    rng = np.random.default_rng(0)
    data = ImageDataset((rng.random((64, 16, 16, 1)) * 255).astype(np.uint8), None, [], "noise")
    gan = ImageGAN(resolution=16, conditional=False, steps=5, batch_size=8, width=8, device="cpu")
    gan.fit(data, out=out)
    return out, gan.model_id


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shard_digests(folder, shards, kind="table"):
    return [sha(folder / shard_name(k, shards, kind)) for k in range(shards)]


def run_cli(*args, **kwargs):
    return subprocess.run([*ganforge_cmd(), *args], capture_output=True, text=True, timeout=120, **kwargs)


def test_cli_writes_every_row_once_and_each_shard_is_the_same_made_alone(table_run, tmp_path):
    n, shards = 3000, 6
    common = ["-n", str(n), "--shards", str(shards), "--seed", "5", "-c", "city=Lima"]
    proc = run_cli("sample", str(table_run), "--out", str(tmp_path / "a"), "--workers", "2", *common)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote 3,000 rows in 6 shards to {tmp_path / 'a'} (0 skipped" in proc.stdout
    assert proc.stderr.count(" done: ") == shards  # one progress line per finished shard

    parts = [pd.read_parquet(tmp_path / "a" / shard_name(k, shards, "table")) for k in range(shards)]
    spans = [shard_span(k, shards, n) for k in range(shards)]
    assert [len(p) for p in parts] == [stop - start for start, stop in spans] == [500] * shards
    rows = pd.concat(parts, ignore_index=True)
    assert len(rows) == n and (rows["city"] == "Lima").all()  # the condition holds in every shard
    assert rows["id"].is_unique and not rows["id"].isin(small_table()["id"]).any()  # ids global, fresh
    assert not parts[0].drop(columns="id").equals(parts[1].drop(columns="id"))  # own draws, not copies
    sidecar = json.loads((tmp_path / "a" / (shard_name(0, shards, "table") + ".provenance.json")).read_text())
    assert sidecar["synthetic"] and sidecar["rows"] == len(parts[0])

    # One shard remade alone in another folder by this process: byte for byte the same file.
    alone = tmp_path / "alone"
    alone.mkdir()
    task = ShardTask(str(table_run.resolve()), "table", str(alone), 4, shards, n, 5, {"city": "Lima"})
    make_shard(task)
    assert sha(alone / task.name) == sha(tmp_path / "a" / task.name)
    # One worker instead of two: the same shards.
    one = sample_shards(table_run, n, tmp_path / "b", shards, workers=1, seed=5, conditions={"city": "Lima"})
    assert one["written"] == list(range(shards))
    assert shard_digests(tmp_path / "b", shards) == shard_digests(tmp_path / "a", shards)
    # Another seed gives other rows.
    sample_shards(table_run, n, tmp_path / "c", shards, seed=6, conditions={"city": "Lima"})
    assert shard_digests(tmp_path / "c", shards)[0] != shard_digests(tmp_path / "a", shards)[0]


def test_a_job_killed_half_way_resumes_to_exactly_the_uninterrupted_rows(table_run, tmp_path):
    n, shards = 600_000, 48  # ~0.05 s per shard: about a second between the 4th and the last
    out = tmp_path / "job"
    cmd = [
        *ganforge_cmd(),
        "sample",
        str(table_run),
        "-n",
        str(n),
        "--out",
        str(out),
        "--shards",
        str(shards),
    ]
    cmd += ["--workers", "2"]  # no --seed: the restart must pick up the seed the job recorded
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 90
    while len(list(out.glob("*.done"))) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the launcher and its workers, mid-job
    proc.communicate()
    finished = len(list(out.glob("*.done")))
    assert 4 <= finished < shards, f"kill landed outside the job ({finished}/{shards} shards done)"

    # The same command; one worker this time (the worker count is not part of the job, nor of its output).
    again = subprocess.run([*cmd[:-1], "1"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"({finished} skipped as already done)" in again.stdout
    assert not [p.name for p in out.iterdir() if ".partial" in p.name or p.name.endswith(".tmp")]

    # The uninterrupted job with the seed the first attempt recorded: the same shards, byte for byte.
    seed = json.loads((out / "_job.json").read_text())["seed"]
    sample_shards(table_run, n, tmp_path / "ref", shards, workers=1, seed=seed)
    assert shard_digests(out, shards) == shard_digests(tmp_path / "ref", shards)


def test_a_damaged_shard_is_redone_and_stale_temp_files_go(table_run, tmp_path):
    out = tmp_path / "job"
    first = sample_shards(table_run, 900, out, 3)  # no seed: a random one, recorded
    before = shard_digests(out, 3)
    damaged = out / shard_name(1, 3, "table")
    damaged.write_bytes(damaged.read_bytes()[:-100])  # same name, truncated: not complete any more
    (out / (shard_name(2, 3, "table") + ".partial-99999")).write_bytes(b"half a shard")
    (out / shard_name(2, 3, "table")).unlink()  # a shard whose record outlived its file

    again = sample_shards(table_run, 900, out, 3)  # the same command: same job, same seed
    assert again["seed"] == first["seed"] and again["skipped"] == 1 and again["written"] == [1, 2]
    assert shard_digests(out, 3) == before
    assert not list(out.glob("*.partial*"))


def test_other_settings_into_a_job_folder_are_refused_and_nothing_is_deleted(
    table_run, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "job"
    sample_shards(table_run, 600, out, 3, seed=1)
    capsys.readouterr()  # the job's own progress lines are not the refused command's output
    files = {p.name: sha(p) for p in out.iterdir()}
    proc = cli_in_process(capsys, monkeypatch, "sample", str(table_run), "-n", "700", "--out", str(out),
                          "--shards", "3", "--seed", "1")  # fmt: skip
    assert proc.returncode == 1
    assert_clean_error(proc, "n 600 there, 700 here")
    proc = cli_in_process(capsys, monkeypatch, "sample", str(table_run), "-n", "600", "--out", str(out),
                          "--shards", "3", "-c", "city=Oslo")  # fmt: skip
    assert_clean_error(proc, "conditions {} there, {'city': 'Oslo'} here")
    assert {p.name: sha(p) for p in out.iterdir()} == files
    # The same settings are a restart: nothing to do.
    proc = cli_in_process(capsys, monkeypatch, "sample", str(table_run), "-n", "600", "--out", str(out),
                          "--shards", "3", "--seed", "1")  # fmt: skip
    assert proc.returncode == 0 and "(3 skipped as already done)" in proc.stdout
    proc = cli_in_process(capsys, monkeypatch, "sample", str(table_run), "-n", "600", "--out",
                          str(tmp_path / "g"), "--shards", "3", "--grid")  # fmt: skip
    assert_clean_error(proc, "--grid")


def test_the_generators_class_mix_is_an_option_of_tables_only(image_run, tmp_path, capsys, monkeypatch):
    run, _ = image_run
    for extra in ([], ["--shards", "2"]):
        proc = cli_in_process(capsys, monkeypatch, "sample", str(run), "--out", str(tmp_path / "x"), "-n", "4",
                              "--generator-mix", *extra)  # fmt: skip
        assert proc.returncode != 0 and "--generator-mix is not available for image models" in proc.stderr
        assert not (tmp_path / "x").exists()


def test_image_shards_are_tars_of_watermarked_pngs(image_run, tmp_path):
    from ganforge.images.watermark import verify

    run, model_id = image_run
    n, shards = 50, 4
    one = sample_shards(run, n, tmp_path / "a", shards, workers=1, seed=2)
    assert one["message"].startswith("wrote 50 images in 4 shards")
    names, first = [], None
    for k in range(shards):
        with tarfile.open(tmp_path / "a" / shard_name(k, shards, "image")) as tar:
            members = tar.getmembers()
            names += [m.name for m in members]
            first = first or tar.extractfile(members[0]).read()
    assert names == [f"{i:09d}.png" for i in range(n)]  # every global index once, in order
    image = Image.open(io.BytesIO(first))
    result = verify(image)
    assert result.found and result.model_id == model_id and result.label["ganforge:synthetic"] == "true"
    (tmp_path / "b").mkdir()
    task = ShardTask(str(run.resolve()), "image", str(tmp_path / "b"), 2, shards, n, 2)
    make_shard(task)  # remade alone: the same bytes
    assert sha(tmp_path / "b" / task.name) == sha(tmp_path / "a" / task.name)


def test_torchrun_ranks_split_the_shards_and_share_one_job(table_run, tmp_path, monkeypatch):
    out = tmp_path / "job"
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    late = sample_shards(table_run, 1000, out, 5)  # rank 1 first: it records the job and its random seed
    assert late["written"] == [1, 3] and not (out / shard_name(0, 5, "table")).exists()
    monkeypatch.setenv("RANK", "0")
    first = sample_shards(table_run, 1000, out, 5)  # rank 0 adopts that seed, reports the whole job
    assert first["written"] == [0, 2, 4] and first["seed"] == late["seed"]
    assert "rank 0 of 2: 3 made" in first["message"]
    monkeypatch.delenv("WORLD_SIZE")
    sample_shards(table_run, 1000, tmp_path / "one", 5, seed=first["seed"])  # one process, same job
    assert shard_digests(out, 5) == shard_digests(tmp_path / "one", 5)
