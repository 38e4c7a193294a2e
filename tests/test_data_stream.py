"""Streamed data: image folders decoded batch by batch, Parquet tables read by row groups, bounded memory."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import cli_in_process
from PIL import Image

from ganforge import ImageGAN
from ganforge.images.data import load_image_folder
from ganforge.images.model import resume_model
from ganforge.images.recipe import ImageSource
from ganforge.images.stream import StreamingImageFolder
from ganforge.tables.codec import TableCodec
from ganforge.tables.infer import infer_metadata
from ganforge.tables.model import TableGAN
from ganforge.tables.stream import ParquetStreamSource, open_parquet, parquet_fingerprint, sample_rows

TINY = {"resolution": 16, "width": 8, "batch_size": 8, "seed": 1, "device": "cpu", "checkpoint_every": 10}


def image_folder(root: Path, grey: bool = False, per_class: int = 9) -> Path:
    """Two class folders of random images of assorted sizes (so crop and resize matter)."""
    rng = np.random.default_rng(0)
    for name in ("bags", "shoes"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            shape = (18 + 3 * i, 40 - i) + (() if grey else (3,))
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(root / name / f"{i:02d}.png")
    return root


def test_streamed_folder_gives_the_same_tensors_as_the_in_memory_loader(tmp_path: Path) -> None:
    for grey in (False, True):
        folder = image_folder(tmp_path / f"grey{grey}", grey=grey)
        (folder / "bags" / "notes.txt").write_text("not an image")
        with pytest.warns(UserWarning, match="1 file"):
            memory = load_image_folder(folder, 16)
        with pytest.warns(UserWarning, match="1 file") as caught:
            streamed = StreamingImageFolder(folder, 16)
        assert [w.filename for w in caught if "1 file" in str(w.message)] == [__file__]  # not the package's
        assert (len(streamed), streamed.channels, streamed.class_names) == (
            18,
            1 if grey else 3,
            ["bags", "shoes"],
        )
        idx = torch.tensor([17, 0, 5, 9, 9, 12])
        x_mem, c_mem = ImageSource(memory.images, memory.labels).get(idx)
        x_str, c_str = streamed.get(idx)
        assert torch.equal(x_mem, x_str) and torch.equal(c_mem, c_str)
        assert c_str.tolist() == [1, 0, 0, 1, 1, 1]
    # The fingerprint reads names, sizes and times, not pixels: same folder, same print; an edit changes it.
    assert StreamingImageFolder(folder, 16).fingerprint == streamed.fingerprint
    Image.new("L", (30, 30), 7).save(folder / "shoes" / "03.png")
    assert StreamingImageFolder(folder, 16).fingerprint != streamed.fingerprint


def test_unreadable_file_met_in_training_is_replaced_by_the_next_readable_one(tmp_path: Path) -> None:
    folder = image_folder(tmp_path / "f")
    bad = folder / "bags" / "04.png"
    bad.write_bytes(bad.read_bytes()[:60])  # the header still opens; the pixels are gone
    streamed = StreamingImageFolder(folder, 16)
    assert len(streamed) == 18  # the scan reads headers only
    with pytest.warns(UserWarning, match="unreadable image .*04.png; using 05.png") as caught:
        images, labels = streamed.read([4])
    assert caught[0].filename == __file__
    np.testing.assert_array_equal(images, streamed.read([5])[0])
    assert labels.tolist() == [0]


def test_streamed_image_run_equals_in_memory_run_and_resumes_streamed(tmp_path: Path) -> None:
    folder = image_folder(tmp_path / "f")
    memory = ImageGAN(steps=20, **TINY).fit(folder, out=tmp_path / "memory", health="off")
    ImageGAN(steps=10, **TINY).fit(folder, out=tmp_path / "run", health="off", stream=True)
    # A plain resume (no stream flag) re-opens the folder streamed, as the run recorded.
    resumed = resume_model(tmp_path / "run", steps=20).fit(
        folder, out=tmp_path / "run", resume=True, health="off"
    )
    assert resumed.data_info["stream"] is True and resumed.data_info["images"] == 18
    assert resumed.metrics["steps"] == 20
    # Same files, same order, same tensors: the streamed run takes exactly the in-memory run's steps.
    for name in ("G", "G_ema", "D"):
        a, b = getattr(memory, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name


# --- Parquet ---------------------------------------------------------------------------------------


def parquet(
    tmp_path: Path, groups: int = 12, rows_per_group: int = 400, tagged: bool = True
) -> tuple[Path, pd.DataFrame]:
    """Colours at 60/30/10 %, a number tied to them and (``tagged``) the row group each row was written in."""
    rng = np.random.default_rng(0)
    n = groups * rows_per_group
    colour = rng.choice(["red", "green", "blue"], n, p=[0.6, 0.3, 0.1])
    df = pd.DataFrame({"colour": colour, "size": np.where(colour == "red", 10.0, -10.0) + rng.normal(size=n)})
    if tagged:
        df["group"] = [f"g{i // rows_per_group:02d}" for i in range(n)]
    path = tmp_path / "t.parquet"
    df.to_parquet(path, row_group_size=rows_per_group)
    return path, df


def stream_source(path: Path, **kw) -> tuple[ParquetStreamSource, TableCodec]:
    sample = sample_rows(open_parquet(path), 2000, seed=0)
    codec = TableCodec.fit(sample, infer_metadata(sample))
    spans = [(s.start, s.size) for s, _ in codec.discrete_spans()]
    return ParquetStreamSource(path, codec, codec.encode(sample), spans, **kw), codec


def groups_of(codec: TableCodec, x: torch.Tensor) -> set[int]:
    rows = codec.decode(x.numpy(), np.random.default_rng(0))
    return {int(g[1:]) for g in rows["group"]}


def test_each_rank_reads_only_its_row_groups_and_the_buffer_refreshes_within_its_bound(
    tmp_path: Path,
) -> None:
    path, _ = parquet(tmp_path)
    for rank in range(3):
        src, codec = stream_source(path, buffer_rows=600, slots=3, rank=rank, world_size=3)
        seen, sizes = set(), []
        for _ in range(60):
            x, _ = src.sample(50)
            seen |= groups_of(codec, x)
            sizes.append(src.buffered())
        mine = set(range(rank, 12, 3))
        assert set(src.reads) == mine  # read all of its own groups, nothing of the others'
        assert seen == mine  # rows of every one of them reached batches: the buffer turned over
        assert max(sizes) <= 600 and len(src.groups) > src.slots


def test_rows_of_a_category_the_sample_never_showed_are_skipped_with_a_warning_at_the_callers_line(
    tmp_path: Path,
) -> None:
    path, df = parquet(tmp_path)
    # the fitting sample holds no row of row group 5, so its tag "g05" is a category the codec never saw
    sample = df[df["group"] != "g05"].sample(2000, random_state=0)
    codec = TableCodec.fit(sample, infer_metadata(sample))
    spans = [(s.start, s.size) for s, _ in codec.discrete_spans()]
    with pytest.warns(UserWarning, match="row group 5 of t.parquet has 400 row") as caught:
        src = ParquetStreamSource(path, codec, codec.encode(sample), spans, buffer_rows=800, slots=2)
        seen: set[int] = set()
        for _ in range(200):  # two passes over the 12 groups
            x, _ = src.sample(50)
            seen |= groups_of(codec, x)
    assert src.reads[5] >= 2 and src.skipped_rows == 400 * src.reads[5]  # skipped on every pass
    assert 5 not in seen and len(seen) >= 8  # training went on with the other groups
    mine = [w for w in caught if "row group" in str(w.message)]
    assert [w.filename for w in mine] == [__file__]  # warned once, at this line, not inside the package


def test_stream_state_resumes_exactly_and_keeps_the_shared_stream_untouched(tmp_path: Path) -> None:
    path, _ = parquet(tmp_path)
    src, _ = stream_source(path, buffer_rows=600, slots=3, rank=0, world_size=1)
    rng = torch.Generator().manual_seed(0)
    for _ in range(25):
        src.sample(50, rng)
    assert torch.equal(rng.get_state(), torch.Generator().manual_seed(0).get_state())
    state = src.state_dict()
    again, _ = stream_source(path, buffer_rows=600, slots=3, rank=0, world_size=1)
    again.load_state_dict(state)
    for _ in range(10):  # across refreshes
        (a, ca), (b, cb) = src.sample(50), again.sample(50)
        assert torch.equal(a, b) and torch.equal(ca, cb)


def test_streamed_table_gan_learns_the_category_frequencies(tmp_path: Path) -> None:
    path, df = parquet(tmp_path, groups=10, rows_per_group=500, tagged=False)
    gan = TableGAN(steps=400, batch_size=100, seed=0, device="cpu", hidden=(64, 64))
    gan.fit(path, out=tmp_path / "run", stream=True, health="off")
    assert gan.data_info["stream"] is True and gan.data_info["rows"] == 5000
    assert gan.data_info["fingerprint"] == parquet_fingerprint(path)
    synthetic = gan.sample(3000, seed=1)
    real = df["colour"].value_counts(normalize=True)
    fake = synthetic["colour"].value_counts(normalize=True).reindex(real.index, fill_value=0)
    assert (fake - real).abs().max() < 0.08, fake.to_dict()


def assert_one_line(res, needle: str) -> None:
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert res.returncode == 1 and len(errors) == 1 and "Traceback" not in res.stderr, res.stderr
    assert needle in " ".join(res.stderr.split()), res.stderr


def test_bad_streamed_inputs_get_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    csv = tmp_path / "t.csv"
    pd.DataFrame({"a": [1, 2, 3]}).to_csv(csv, index=False)
    res = cli_in_process(
        capsys, monkeypatch, "train", "table", str(csv), "--stream", "--out", str(tmp_path / "r")
    )
    assert_one_line(res, "convert it")
    (tmp_path / "empty").mkdir()
    out = str(tmp_path / "r2")
    res = cli_in_process(
        capsys, monkeypatch, "train", "images", str(tmp_path / "empty"), "--stream", "--out", out
    )
    assert_one_line(res, "is empty")


def test_a_streamed_table_run_resumes_exactly_where_its_stream_stood(tmp_path: Path) -> None:
    from ganforge.tables.model import resume_table

    path, _ = parquet(tmp_path, groups=10, rows_per_group=500, tagged=False)
    kw = {"batch_size": 100, "seed": 0, "device": "cpu", "hidden": (32, 32), "checkpoint_every": 10}
    straight = TableGAN(steps=30, **kw).fit(path, out=tmp_path / "a", stream=True, health="off")
    TableGAN(steps=15, **kw).fit(
        path, out=tmp_path / "b", stream=True, health="off"
    )  # the buffer turned over
    resumed = resume_table(tmp_path / "b", steps=30).fit(path, out=tmp_path / "b", resume=True, health="off")
    assert resumed.data_info["stream"] is True
    for name in ("G", "D", "G_ema"):
        a, b = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_evaluating_a_streamed_run_decodes_only_the_images_it_compares(tmp_path: Path, monkeypatch) -> None:
    from ganforge.images import evaluate as ev

    folder = image_folder(tmp_path / "data")
    memory = ImageGAN(steps=2, **TINY).fit(folder, out=tmp_path / "memory", health="off")
    streamed = ImageGAN(steps=2, **TINY).fit(folder, out=tmp_path / "run", health="off", stream=True)
    want = ev.reference_images(memory, None, "train", 5)

    def whole_load(*args, **kwargs):
        raise AssertionError("the whole folder was loaded")

    monkeypatch.setattr("ganforge.images.builtin.resolve_image_source", whole_load)
    got = ev.reference_images(streamed, None, "train", 5)
    assert np.array_equal(got.images, want.images) and np.array_equal(got.labels, want.labels)
    assert got.source.endswith("5 of 18")
    assert len(ev.training_images(streamed).images) == 18  # below the cap: every training image
