"""`ganforge report RUN`: one self-contained HTML file that a browser shows whole; TensorBoard event files.

Tiny real runs (an image run on the built-in digits, a table run) are reported; the browser test opens the
pages in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) and checks what a user sees.
"""

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import ganforge_cmd
from PIL import Image
from test_cli_errors import assert_clean_error
from test_table_cli import small_table

from ganforge import ImageGAN
from ganforge.engine import artifact
from ganforge.errors import CheckpointError, ConfigError, DataError
from ganforge.reporting.report import sample_grids, write_report
from ganforge.reporting.run_log import split_history
from ganforge.reporting.tensorboard import TensorBoardLogger
from ganforge.tables.model import TableGAN
from ganforge.tables.report import association_matrix

CHROMIUM = Path("/usr/bin/chromium")
EVENTS = [
    {"step": 30, "event": "divergence", "detail": "D gradient 812 / loss 95 vs healthy 1.2 / 0.7",
     "action": "rolled back to step 20; lr G x0.5, lr D x0.5, R1 gamma +0.1, noise re-seeded (recovery 1)"},
    {"step": 40, "event": "nan", "detail": "loss_d became NaN/Inf", "action": "warned"},
]  # fmt: skip


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*ganforge_cmd(), *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def image_run(tmp_path_factory) -> Path:
    """A 40-step conditional digits run with 4 sample grids, then health events as the monitor logs them
    (a rollback from step 30 to 20, so steps 25 and 30 are logged twice)."""
    run = tmp_path_factory.mktemp("report") / "img"
    gan = ImageGAN(
        resolution=16, conditional=True, steps=40, batch_size=8, width=8, device="cpu", log_every=5
    )
    gan.fit("digits", out=run, sample_every=10)
    with open(run / "metrics.jsonl", "a") as f:
        for record in (EVENTS[0], {"step": 25, "loss_g": 0.5}, {"step": 30, "loss_g": 0.4}, EVENTS[1]):
            f.write(json.dumps(record) + "\n")
    return run


@pytest.fixture(scope="module")
def table_run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("report-table")
    small_table().to_csv(d / "people.csv", index=False)
    TableGAN(steps=60, batch_size=100, device="cpu", log_every=10).fit(d / "people.csv", out=d / "run")
    return d / "run"


def sections(html: str) -> dict[str, str]:
    """Section id -> its HTML."""
    return dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', html, flags=re.S))


def embedded_images(html: str) -> list[Image.Image]:
    uris = re.findall(r'<img src="([^"]+)"', html)
    assert all(u.startswith("data:image/png;base64,") for u in uris), [u[:40] for u in uris]
    return [Image.open(io.BytesIO(base64.b64decode(u.split(",", 1)[1]))) for u in uris]


def assert_self_contained(html: str) -> None:
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, flags=re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//""", html, flags=re.I)  # CSS fetches
    assert "<script" not in html.lower()
    assert all(h.startswith(("#", "data:")) for h in re.findall(r'href="([^"]*)"', html))


# ---------------------------------------------------------------- image run


def test_image_report_is_one_self_contained_file_with_events_and_samples(image_run):
    path = write_report(image_run)
    assert path == image_run / "report.html"
    html = path.read_text()
    assert_self_contained(html)
    parts = sections(html)
    assert list(parts) == ["summary", "curves", "health", "samples", "evaluation", "nearest", "per-class"]
    for event in EVENTS:  # every event, with its step and what recovery did
        row = re.search(
            rf"<tr><td[^>]*>{event['step']}</td><td>{event['event']}</td>.*?</tr>", parts["health"]
        )
        assert row and event["action"] in row.group(0).replace("&#x27;", "'"), event
    assert "sklearn digits" in parts["summary"] and "40 of 40" in parts["summary"]
    # The grids are embedded whole, in order, the last included; each decodes as a real picture.
    grids = embedded_images(parts["samples"])
    assert [c for c in re.findall(r"<figcaption>step ([\d,]+)</figcaption>", parts["samples"])] == [
        "10", "20", "30", "40"
    ]  # fmt: skip
    on_disk = Image.open(image_run / "samples" / "step-0000040.png")
    assert grids[-1].size == on_disk.size
    assert np.array_equal(np.asarray(grids[-1].convert("L")), np.asarray(on_disk.convert("L")))
    (curves,) = embedded_images(parts["curves"])
    assert curves.size[0] > 600 and np.asarray(curves.convert("L")).std() > 10  # a drawn figure
    for part in ("evaluation", "nearest", "per-class"):
        assert "not computed yet" in parts[part] and f"ganforge evaluate {image_run}" in parts[part]


def test_stored_evaluations_are_rendered_whatever_their_shape(image_run, tmp_path):
    run = tmp_path / "img"
    shutil.copytree(image_run, run)
    metrics = artifact.read_config(run)["metrics"]
    metrics["evaluation"] = {"inception FID": 87.25, "images": 2000}
    metrics["evaluations"] = {  # per-class figures as a list of rows, or as a mapping class -> figures
        "inception": {"fid": 87.25, "kid": 0.0123, "prdc": {"precision": 0.61, "recall": 0.29},
                      "per_class": [{"class": 0, "name": "zero", "fid": 91.5, "kid": 0.02},
                                    {"class": 7, "name": "seven", "fid": 64.125, "kid": None}]},
        "effnet-lite0": {"fid": 9.0, "per_class": {"3": {"fid": 5.5}}},
        "memorisation": {"nearest_distance": {"median": 3.5, "p01": 0.75}, "copies": 2},
    }  # fmt: skip
    artifact.update_config(run, metrics=metrics)
    (run / "evaluation").mkdir()
    Image.new("RGB", (40, 20), "red").save(run / "evaluation" / "nearest.png")
    Image.new("RGB", (30, 30), "blue").save(run / "evaluation" / "precision_recall.png")
    closest = [{"sample": i, "train": 100 + i, "distance": 0.5 + i} for i in range(3)]
    (run / "evaluation" / "memorisation.json").write_text(json.dumps({"copies": 2, "closest": closest}))
    (run / "evaluation" / "extra.json").write_text(json.dumps({"duplicates_share": 0.0125}))

    parts = sections(write_report(run, out=tmp_path / "r" / "x.html").read_text())
    assert "87.25" in parts["summary"]
    for figure in (
        "0.0123",
        "prdc / precision",
        "0.61",
        "0.29",
        "3.5",
        "0.75",
        "0.0125",
        "memorisation.json",
    ):
        assert figure in parts["evaluation"], figure
    assert "91.5" not in parts["evaluation"] and "5.5" not in parts["evaluation"]  # shown per class
    (blue,) = embedded_images(parts["evaluation"])
    (red,) = embedded_images(parts["nearest"])
    pairs = re.findall(r"<tr>" + r'<td class="num">([\d.,]+)</td>' * 3 + "</tr>", parts["nearest"])
    assert pairs == [("0", "100", "0.5"), ("1", "101", "1.5"), ("2", "102", "2.5")]  # the pairs behind it
    assert "closest" not in parts["evaluation"]  # memorisation.json repeats evaluations["memorisation"]
    assert blue.getpixel((0, 0))[:3] == (0, 0, 255) and red.getpixel((0, 0))[:3] == (255, 0, 0)
    rows = re.findall(r"<tr><td>([^<]+)</td><td[^>]*>([^<]+)</td>", parts["per-class"])
    assert sorted(rows) == [("0 (zero)", "91.5"), ("3", "5.5"), ("7 (seven)", "64.12")]
    assert "<th>kid</th>" in parts["per-class"] and "—" in parts["per-class"]  # a missing figure


def test_rollbacks_split_the_history_and_grids_are_picked_evenly(tmp_path):
    kept, abandoned = split_history([(10, 1.0), (20, 2.0), (30, 9.0), (25, 2.5), (30, 3.0)])
    assert kept == [(10, 1.0), (20, 2.0), (25, 2.5), (30, 3.0)]
    assert abandoned == [[(20, 2.0), (30, 9.0)]]
    (tmp_path / "samples").mkdir()
    for step in range(0, 2100, 100):
        (tmp_path / "samples" / f"step-{step:07d}.png").write_bytes(b"")
    steps = [s for s, _ in sample_grids(tmp_path, limit=8)]
    assert len(steps) == 8 and steps[0] == 0 and steps[-1] == 2000 and steps == sorted(steps)
    assert max(np.diff(steps)) - min(np.diff(steps)) <= 100


# ---------------------------------------------------------------- table run


def test_association_matrix_measures_mixed_dependence():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    df = pd.DataFrame({
        "x": x, "twice": 2 * x + 1, "noise": rng.normal(size=2000),
        "sign": np.where(x > 0, "pos", "neg"), "copy": np.where(x > 0, "p", "n"), "coin": rng.choice(["a", "b"], 2000),
    })  # fmt: skip
    kinds = {"x": "numeric", "twice": "numeric", "noise": "numeric", "sign": "categorical",
             "copy": "categorical", "coin": "categorical"}  # fmt: skip
    m = pd.DataFrame(association_matrix(df, kinds), index=list(kinds), columns=list(kinds))
    assert m.loc["x", "twice"] == pytest.approx(1.0) and abs(m.loc["x", "noise"]) < 0.1  # Pearson
    assert m.loc["sign", "copy"] == pytest.approx(1.0) and m.loc["sign", "coin"] < 0.1  # Cramér's V
    assert 0.75 < m.loc["x", "sign"] < 0.85 and m.loc["noise", "sign"] < 0.1  # η: sqrt(2/pi) ~ 0.80
    assert np.allclose(m.to_numpy(), m.to_numpy().T)


def test_table_report_compares_real_and_synthetic_and_shows_quality(table_run):
    parts = sections(write_report(table_run).read_text())
    assert list(parts) == ["summary", "curves", "health", "columns", "correlations", "quality"]
    captions = re.findall(r'alt="distribution of ([^"]+)"', parts["columns"])
    assert captions == ["age", "income", "city", "balance"] and "id (id)" in parts["columns"]
    assert len(embedded_images(parts["correlations"])) == 1
    assert "not computed yet" in parts["quality"]

    from ganforge.tables.evaluate import evaluate_table_run

    result = evaluate_table_run(table_run)
    html = write_report(table_run).read_text()
    assert_self_contained(html)
    parts = sections(html)
    shapes = result["quality"]["column_shapes"]["columns"]
    for name, score in shapes.items():
        assert re.search(rf"<td>{name}</td><td>\w+</td><td>.*?{score:.4g}</td>", parts["quality"]), name
        assert f"shape score {score:.4g}" in parts["columns"]
    assert f"{result['detection']['score']:.4g}" in parts["quality"]


def test_report_cli_prints_the_path_and_refuses_bad_input_in_one_line(table_run, tmp_path):
    out = tmp_path / "deep" / "table.html"
    proc = run_cli("report", str(table_run), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert str(out) in proc.stdout and out.stat().st_size > 10_000
    (tmp_path / "empty").mkdir()
    assert_clean_error(run_cli("report", str(tmp_path / "empty")), "not a ganforge run")
    with pytest.raises(CheckpointError, match="not found"):
        write_report(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"\.html"):
        write_report(table_run, out=tmp_path / "r.txt")
    with pytest.raises(DataError, match="no.csv"):
        write_report(table_run, real=tmp_path / "no.csv")


# ---------------------------------------------------------------- TensorBoard


def read_events(log_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_training_writes_tensorboard_scalars_and_sample_grids(image_run, table_run):
    acc = read_events(image_run / "tensorboard")
    logged = [json.loads(ln) for ln in (image_run / "metrics.jsonl").read_text().splitlines()][:8]
    assert {"loss/loss_g", "loss/loss_d", "gradient/grad_d", "progress/examples_per_s"} <= set(
        acc.Tags()["scalars"]
    )
    scalars = acc.Scalars("loss/loss_g")
    assert [e.step for e in scalars] == [r["step"] for r in logged]
    assert [e.value for e in scalars] == pytest.approx([r["loss_g"] for r in logged], rel=1e-6)
    assert [e.step for e in acc.Images("samples")] == [10, 20, 30, 40]
    assert "loss/loss_g" in read_events(table_run / "tensorboard").Tags()["scalars"]


def test_tensorboard_health_events_as_text_and_resume_hides_replaced_steps(tmp_path):
    from tensorboard.summary.writer.event_file_writer import _global_uid

    # Event file names end in a per-process counter: make the two files of this test 9...9 and 10...0,
    # which sort the wrong way round by name when both are made in the same second.
    following = _global_uid.get() + 1  # get() returns the counter, then counts up
    while len(str(following)) == len(str(following + 1)):
        following = _global_uid.get() + 1
    trainer = SimpleNamespace(run_dir=tmp_path, step=0)
    first = TensorBoardLogger()
    for step in range(1, 11):
        first.on_log(trainer, {"step": step, "loss_g": float(step)})
    first.on_fit_end(trainer)
    trainer.step = 5  # resumed from the step-5 checkpoint: steps 6.. are trained again
    second = TensorBoardLogger()
    second.on_fit_start(trainer)
    for step in (6, 7):
        second.on_log(trainer, {"step": step, "loss_g": 100.0 + step})
    second.on_log(trainer, EVENTS[0])
    second.on_fit_end(trainer)
    names = sorted(p.name for p in (tmp_path / "tensorboard").iterdir())
    counters = [int(n.rsplit(".", 1)[1]) for n in names]  # in the order TensorBoard reads them
    assert len(str(counters[0])) < len(str(counters[1])) and counters == sorted(counters)
    acc = read_events(tmp_path / "tensorboard")
    assert [(e.step, e.value) for e in acc.Scalars("loss/loss_g")] == [
        (1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0), (5, 5.0), (6, 106.0), (7, 107.0)
    ]  # fmt: skip
    (text,) = acc.Tensors("health/divergence/text_summary")
    assert text.step == 30 and b"rolled back to step 20" in text.tensor_proto.string_val[0]
    nothing = TensorBoardLogger()
    nothing.on_log(SimpleNamespace(run_dir=None, step=0), {"step": 1, "loss_g": 1.0})  # no run dir: no-op
    assert nothing.writer is None


# ---------------------------------------------------------------- in a browser


# Every image decoded whole (a broken or truncated one rejects decode()), with its pixel size.
DECODED_SIZES = """Promise.all(Array.from(document.images).map(
    img => img.decode().then(() => [img.naturalWidth, img.naturalHeight], () => [0, 0])))"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_reports_render_in_a_browser_without_errors(image_run, table_run, tmp_path):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    expected = {
        write_report(image_run): [
            "summary",
            "curves",
            "health",
            "samples",
            "evaluation",
            "nearest",
            "per-class",
        ],
        write_report(table_run): ["summary", "curves", "health", "columns", "correlations", "quality"],
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        try:
            for i, (path, ids) in enumerate(expected.items()):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                problems: list[str] = []
                page.on("console", lambda m, out=problems: out.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e, out=problems: out.append(str(e)))
                page.on("requestfailed", lambda r, out=problems: out.append(f"failed: {r.url}"))
                page.goto(path.resolve().as_uri(), wait_until="load")
                assert problems == []
                assert page.eval_on_selector_all("section", "els => els.map(e => e.id)") == ids
                sizes = page.evaluate(DECODED_SIZES)
                assert len(sizes) >= 3 and all(w > 0 and h > 0 for w, h in sizes), sizes
                assert page.locator("#health h2").inner_text() == "Training health"
                shot = tmp_path / f"report-{i}.png"
                page.screenshot(path=str(shot), full_page=True)
                width, height = Image.open(shot).size
                assert width == 1280 and height > 1500 and shot.stat().st_size > 50_000
                page.close()
        finally:
            browser.close()


def test_a_time_limited_run_reports_its_time_budget_not_a_huge_step_target(tmp_path):
    import json
    import shutil

    from ganforge.reporting.report import write_report

    legacy = Path(__file__).parent / "fixtures" / "legacy-0.1.0"
    run = tmp_path / "run"
    shutil.copytree(legacy / "table", run)
    config = json.loads((run / "config.json").read_text())
    config["train"] |= {"steps": 10**9, "max_seconds": 600.0}  # what --minutes 10 alone records
    config["metrics"]["steps"] = 3825
    (run / "config.json").write_text(json.dumps(config))
    html = write_report(run, real=legacy / "people.csv").read_text()
    assert "3,825 (time budget 10 min)" in html and "1,000,000,000" not in html
