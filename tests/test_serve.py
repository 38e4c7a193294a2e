"""`ganforge serve`: the real server (the CLI in a subprocess, uvicorn on a free loopback port) serving
small real runs. Outputs equal the Python API's, every image is watermarked and labelled, bad input
gets a one-line JSON error, the token is enforced, and concurrent requests share generator calls."""

import asyncio
import io
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from email.message import Message
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import ganforge_cmd
from PIL import Image
from test_cli_errors import assert_clean_error
from test_table_cli import small_table

from ganforge import ImageGAN, TableGAN, load
from ganforge.cli.serve import check_port
from ganforge.errors import CheckpointError, ConfigError, GanforgeError
from ganforge.serve import ServeConfig, load_models
from ganforge.serve.batching import Batcher, ServerBusy

TOKEN = "s3cret-token-0123456789"


# ---------------------------------------------------------------- helpers shared with test_web_page.py
def make_runs(root: Path) -> tuple[Path, Path]:
    """A class-conditional 16 px digits run and a small table run, trained for a few steps."""
    img, table = root / "digits", root / "people"
    ImageGAN(resolution=16, conditional=True, steps=20, batch_size=8, width=8, device="cpu").fit(
        "digits", out=img, sample_every=1000
    )
    TableGAN(steps=20, batch_size=100, device="cpu").fit(small_table(), out=table)
    return img, table


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    """Run ``ganforge serve ARGS`` on a free loopback port; returns the process and its base URL."""
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen([*ganforge_cmd(), "serve", *args, "--port", str(port)], stdout=out,
                                stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server did not start: {log.read_text()}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def call(
    url: str, body: dict | bytes | None = None, headers: dict | None = None
) -> tuple[int, Message, bytes]:
    """(status, headers, body) of a GET, or of a POST when ``body`` is given (a dict is sent as JSON)."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def json_images(payload: bytes) -> list[bytes]:
    import base64

    return [base64.b64decode(b) for b in json.loads(payload)["images"]]


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def server(runs, tmp_path_factory):
    img, table = runs
    log = tmp_path_factory.mktemp("serve-log") / "server.log"
    proc, url = start_server([f"img={img}", str(table), "--max-batch", "32", "--batch-window-ms", "20"], log)
    yield url
    stop_server(proc)


# ---------------------------------------------------------------- generation
def test_images_equal_the_python_api_and_carry_the_watermark_and_label(server, runs):
    gan = load(runs[0])
    status, headers, body = call(
        f"{server}/api/models/img/images", {"n": 6, "seed": 5, "class": 3, "format": "json"}
    )
    assert status == 200 and headers["X-Seed"] == "5" and headers["X-Model-Id"] == gan.model_id
    files = json_images(body)
    expected = gan.sample(6, labels=3, seed=5)  # watermarked by default
    got = np.stack([pixels(f) for f in files])[..., None]
    assert np.abs(got.astype(int) - expected).max() <= 1  # same images (batched float sums may round apart)
    assert json.loads(body)["labels"] == [3] * 6
    for f in files:  # the PNG label names the model
        text = Image.open(io.BytesIO(f)).text
        assert text["ganforge:synthetic"] == "true" and text["ganforge:model-id"] == gan.model_id
    unmarked = gan.sample(6, labels=3, seed=5, watermark=False)
    assert np.abs(got.astype(int) - unmarked).max() >= 2  # the invisible mark is in the pixels

    # A class by name, one PNG as a grid (2-px gaps), a ZIP of PNGs; the same seed gives the same images.
    _, _, grid = call(f"{server}/api/models/img/images", {"n": 4, "seed": 5, "class": "3"})
    assert Image.open(io.BytesIO(grid)).size == (38, 38)
    assert np.array_equal(pixels(grid)[2:18, 2:18], pixels(files[0]))
    _, headers, archive = call(
        f"{server}/api/models/img/images", {"n": 3, "seed": 9, "class": 1, "format": "zip"}
    )
    zf = zipfile.ZipFile(io.BytesIO(archive))
    assert sorted(zf.namelist()) == ["0000.png", "0001.png", "0002.png", "meta.json"]
    assert json.loads(zf.read("meta.json"))["seed"] == 9 and "attachment" in headers["Content-Disposition"]
    single = zf.read("0000.png")
    assert Image.open(io.BytesIO(single)).text["ganforge:synthetic"] == "true"
    _, _, again = call(f"{server}/api/models/img/images", {"n": 1, "seed": 9, "class": 1})
    assert np.array_equal(pixels(again), pixels(single))
    _, _, other = call(f"{server}/api/models/img/images", {"n": 1, "seed": 10, "class": 1})
    assert not np.array_equal(pixels(other), pixels(single))


def test_truncation_pulls_latents_to_the_mean(server):
    def spread(psi: float) -> float:
        _, _, body = call(f"{server}/api/models/img/images", {"n": 8, "seed": 1, "class": 2, "truncation": psi,
                                                               "format": "json"})  # fmt: skip
        imgs = np.stack([pixels(f).astype(float) for f in json_images(body)])
        return float(imgs.std(axis=0).mean())

    full, half, zero = spread(1.0), spread(0.5), spread(0.0)
    assert zero <= 1.0 < half < full  # psi 0: every image of the class is the mean latent's (up to the mark)


def test_interpolation_walks_from_one_sample_to_the_other(server):
    _, _, body = call(
        f"{server}/api/models/img/interpolate", {"seed_a": 1, "seed_b": 2, "class": 4, "frames": 5}
    )
    frames = [pixels(f).astype(int) for f in json_images(body)]
    ends = [
        pixels(call(f"{server}/api/models/img/images", {"n": 1, "seed": s, "class": 4})[2]) for s in (1, 2)
    ]
    assert np.abs(frames[0] - ends[0]).max() <= 1 and np.abs(frames[-1] - ends[1]).max() <= 1
    steps = [np.abs(a - b).mean() for a, b in zip(frames[:-1], frames[1:], strict=True)]
    assert all(s > 0 for s in steps) and max(steps) < np.abs(frames[0] - frames[-1]).mean()
    _, headers, strip = call(f"{server}/api/models/img/interpolate", {"frames": 3, "format": "png"})
    assert headers["Content-Type"] == "image/png" and Image.open(io.BytesIO(strip)).size == (3 * 18 + 2, 20)


def test_rows_equal_the_python_api_and_follow_conditions(server, runs):
    table = load(runs[1])
    status, headers, body = call(f"{server}/api/models/people/rows", {"n": 300, "seed": 4})
    assert (
        status == 200 and headers["Content-Type"].startswith("text/csv") and headers["X-Synthetic"] == "true"
    )
    assert body.decode() == table.sample(300, seed=4).to_csv(index=False)
    req = {"n": 50, "seed": 1, "conditions": {"city": "Oslo", "age": [30, 50]}}
    _, _, parquet = call(f"{server}/api/models/people/rows", {**req, "format": "parquet"})
    df = pd.read_parquet(io.BytesIO(parquet))
    assert len(df) == 50 and (df["city"] == "Oslo").all() and df["age"].between(30, 50).all()
    _, _, as_json = call(f"{server}/api/models/people/rows", {**req, "format": "json"})
    payload = json.loads(as_json)
    assert payload["columns"] == list(df.columns) and pd.DataFrame(payload["rows"]).equals(df)


def test_models_health_docs_and_page(server, runs):
    models = json.loads(call(f"{server}/api/models")[2])
    assert [(m["name"], m["kind"]) for m in models] == [("img", "image"), ("people", "table")]
    img, people = models
    assert img["classes"] == [str(i) for i in range(10)] and img["resolution"] == 16
    assert img["card"] == (runs[0] / "card.md").read_text() and "# ganforge model card" in people["card"]
    assert [c["name"] for c in people["columns"]] == ["id", "age", "income", "city", "balance"]
    health = json.loads(call(f"{server}/api/health")[2])
    assert health["status"] == "ok" and health["models"] == ["img", "people"]
    paths = json.loads(call(f"{server}/openapi.json")[2])["paths"]
    assert {"/api/models/{name}/images", "/api/models/{name}/rows", "/api/models/{name}/interpolate"} <= set(
        paths
    )
    schema = json.loads(call(f"{server}/openapi.json")[2])["components"]["schemas"]["ImageRequest"]
    assert schema["properties"]["n"]["maximum"] == 256  # the server's limit, documented
    status, headers, page = call(f"{server}/")
    assert (
        status == 200
        and b"/static/app.js" in page
        and "default-src 'self'" in headers["Content-Security-Policy"]
    )
    assert call(f"{server}/static/app.js")[0] == 200


@pytest.mark.parametrize(
    "path, body, code, needle",
    [
        ("img/images", {"n": 1000}, 422, "n: Input should be less than or equal to 256"),
        ("img/images", {"n": 0}, 422, "n: Input should be greater than or equal to 1"),
        ("img/images", {"n": 2, "sed": 1}, 422, "sed: Extra inputs are not permitted"),
        ("img/images", {"format": "gif"}, 422, "format: Input should be 'png', 'zip' or 'json'"),
        ("img/images", {"truncation": 2}, 422, "truncation: Input should be less than or equal to 1"),
        ("img/images", b"{bad", 422, "not valid JSON"),
        ("img/images", {"class": 12}, 400, "class must be in 0..9"),
        ("img/images", {"class": "seven"}, 400, "has no class 'seven'"),
        ("img/interpolate", {"frames": 65}, 422, "frames: Input should be less than or equal to 64"),
        ("nope/images", {}, 404, "no model named 'nope' (models: img, people)"),
        ("people/images", {}, 400, "makes table rows: use /rows"),
        ("img/rows", {}, 400, "makes images: use /images"),
        ("people/rows", {"n": 100_001}, 422, "n: Input should be less than or equal to 100000"),
        ("people/rows", {"conditions": {"town": "x"}}, 400, "unknown column 'town'"),
        ("people/rows", {"conditions": {"city": "Rome"}}, 400, "unknown value 'Rome'"),
        ("people/rows", {"conditions": {"age": [1, 2, 3]}}, 422, "[low, high] pair"),
        ("img/images", b"{" + b" " * 70_000 + b"}", 413, "too large"),
        ("img/images", b'{"n": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", 422, "nested too deeply"),
        ("img/images", b'{"n": 1e400}', 422, "n: "),  # infinity: the error itself must still be JSON
        ("img/images", b'{"truncation": NaN}', 422, "truncation: "),
        ("img/images", {"class": "\u00b2"}, 400, "has no class"),  # a digit to isdigit(), not to int()
    ],
)
def test_bad_requests_get_a_4xx_with_a_one_line_json_error(server, path, body, code, needle):
    status, headers, raw = call(f"{server}/api/models/{path}", body)
    assert status == code and headers["Content-Type"] == "application/json", raw
    error = json.loads(raw)["error"]
    assert needle in error and "\n" not in error, error


def test_no_endpoint_reads_paths(server, runs):
    for path in (
        "/static/..%2f..%2fcard.md",
        f"/static/{runs[0]}/card.md",
        "/static/../app.py",
        "/api/models/..%2f",
    ):
        status, _, raw = call(server + path)
        assert status == 404, (path, raw)


# ---------------------------------------------------------------- concurrency and batching
def test_fifty_parallel_requests_succeed_and_share_bounded_generator_calls(server, runs):
    from concurrent.futures import ThreadPoolExecutor

    before = json.loads(call(f"{server}/api/health")[2])["batching"]["img"]
    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(
            lambda s: call(f"{server}/api/models/img/images", {"n": 4, "seed": s, "class": s % 10, "format": "json"}),
            range(50),
        ))  # fmt: skip
    assert [r[0] for r in results] == [200] * 50
    after = json.loads(call(f"{server}/api/health")[2])["batching"]["img"]
    calls = after["forward_passes"] - before["forward_passes"]
    assert after["requests"] - before["requests"] == 50 and after["images"] - before["images"] == 200
    assert 200 / 32 <= calls <= 25, calls  # shared: ~4+ requests per call, never more than 32 images
    assert after["largest_pass"] <= 32 and after["max_batch"] == 32 and after["rejected"] == 0
    gan = load(runs[0])
    for s in (0, 17, 49):  # batched with others, each request still gets its own seed's images
        got = np.stack([pixels(f) for f in json_images(results[s][2])])[..., None].astype(int)
        assert np.abs(got - gan.sample(4, labels=s % 10, seed=s)).max() <= 1


def test_batcher_splits_results_bounds_calls_and_refuses_beyond_its_queue():
    calls: list[int] = []

    def generate(z, c):
        calls.append(len(z))
        time.sleep(0.02)
        return (z[:, :1] * 10 + c[:, None]).numpy()

    async def scenario():
        from concurrent.futures import ThreadPoolExecutor

        b = Batcher(generate, ThreadPoolExecutor(1), max_batch=8, window_ms=5, max_queue=6)
        b.start()
        jobs = [
            (torch.full((k, 2), float(i)), torch.full((k,), i))
            for i, k in enumerate([3, 3, 3, 10, 1, 2, 1, 1])
        ]
        results = await asyncio.gather(*(b.submit(z, c) for z, c in jobs), return_exceptions=True)
        await b.stop()
        return jobs, results, b.stats

    jobs, results, stats = asyncio.run(scenario())
    for (z, c), out in zip(jobs[:6], results[:6], strict=True):
        assert np.array_equal(out[:, 0], (z[:, 0] * 10 + c).numpy())  # each request gets its own rows
    assert all(isinstance(r, ServerBusy) for r in results[6:]) and stats.rejected == 2
    assert max(calls) <= 8 and sum(calls) == 22 and stats.forward_passes == len(calls)
    assert len(calls) < 6 + 2  # the 10-image job takes 2 calls; small jobs shared calls


# ---------------------------------------------------------------- token and address
def test_token_is_required_on_every_request_when_configured(runs, tmp_path):
    proc, url = start_server([str(runs[1])], tmp_path / "log", env={"GANFORGE_TOKEN": TOKEN})
    try:
        for path in ("/api/models", "/api/health", "/", "/openapi.json", "/static/app.js"):
            status, _, raw = call(url + path)
            assert status == 401 and "API token" in json.loads(raw)["error"], path
        assert call(f"{url}/api/models", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"})[0] == 401
        assert call(f"{url}/api/models", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
        assert call(f"{url}/api/models", headers={"X-API-Token": TOKEN})[0] == 200
        body = {"n": 5, "seed": 1}
        assert call(f"{url}/api/models/people/rows", body, headers={"X-API-Token": TOKEN})[0] == 200
        assert call(f"{url}/api/models/people/rows", body)[0] == 401
        # A browser logs in once: the token moves into an HttpOnly cookie and out of the address bar.
        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(f"{url}/?token={TOKEN}")
            raise AssertionError("expected a redirect")
        except urllib.error.HTTPError as e:
            assert e.code == 303 and e.headers["Location"] == "/"
            cookie = e.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        status, _, page = call(f"{url}/", headers={"Cookie": cookie.split(";")[0]})
        assert status == 200 and b"ganforge" in page
        assert call(f"{url}/?token=wrong-token-0000000")[0] == 401
    finally:
        stop_server(proc)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_binding_beyond_loopback_needs_a_token_and_bad_runs_are_refused(runs, tmp_path):
    proc = subprocess.run([*ganforge_cmd(), "serve", str(runs[0]), "--host", "0.0.0.0"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert_clean_error(proc, "0.0.0.0", "--token")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(GanforgeError, match="cannot listen on 127.0.0.1"):
            check_port("127.0.0.1", taken.getsockname()[1])
    with pytest.raises(ConfigError, match="at least 16"):
        ServeConfig(token="short")
    assert ServeConfig(host="0.0.0.0", token=TOKEN).token == TOKEN
    assert ServeConfig(host="::1").host == "::1"
    with pytest.raises(ConfigError, match="named 'digits'"):
        load_models([str(runs[0]), f"digits={runs[0]}"])
    with pytest.raises(ConfigError, match="model name"):
        load_models([f"bad/name={runs[0]}"])
    with pytest.raises(CheckpointError, match="not found"):
        load_models([str(tmp_path / "missing")])


def test_a_failing_generator_call_fails_its_requests_and_the_batcher_keeps_serving():
    from concurrent.futures import ThreadPoolExecutor

    def generate(z, c):
        if (z < 0).any():
            raise RuntimeError("boom")
        return z.numpy()

    async def scenario():
        b = Batcher(generate, ThreadPoolExecutor(1), max_batch=8, window_ms=50, max_queue=8)
        b.start()
        bad = await asyncio.gather(b.submit(-torch.ones(1, 2), None), b.submit(torch.ones(1, 2), None),
                                   return_exceptions=True)  # fmt: skip
        good = await b.submit(torch.full((2, 2), 3.0), None)
        await b.stop()
        return bad, good

    bad, good = asyncio.run(scenario())
    assert all(isinstance(r, RuntimeError) for r in bad)  # shared a call with the failing request
    assert np.array_equal(good, np.full((2, 2), 3.0, np.float32))


def test_a_model_name_with_a_trailing_newline_is_refused():
    from ganforge.errors import ConfigError
    from ganforge.serve.models import parse_spec

    assert parse_spec("good.name-1=/tmp/x")[0] == "good.name-1"
    with pytest.raises(ConfigError, match="must be 1-64 letters"):
        parse_spec("bad\n=/tmp/x")


def test_slow_partial_requests_are_dropped_and_huge_headers_refused(tmp_path):
    """Eight sockets that send half a request held every slot of --max-connections 8 forever; now each is
    dropped after --read-timeout, and a real request gets through. A 100 KB header is refused."""
    legacy = Path(__file__).parent / "fixtures" / "legacy-0.1.0" / "image"
    proc, url = start_server(
        [f"img={legacy}", "--max-connections", "8", "--read-timeout", "2"], tmp_path / "log"
    )
    port = int(url.rsplit(":", 1)[1])
    slow = []
    try:
        for _ in range(8):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n")  # no blank line: never finished
            slow.append(s)
        time.sleep(0.5)
        assert call(f"{url}/api/health")[0] == 503  # every slot held
        started = time.monotonic()
        for s in slow:
            assert s.recv(1024) == b""  # closed by the server
        assert time.monotonic() - started < 10
        assert call(f"{url}/api/health")[0] == 200
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(
                b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
            )
            reply = s.recv(1024)
        assert reply.startswith(b"HTTP/1.1 431"), reply[:80]
    finally:
        for s in slow:
            s.close()
        stop_server(proc)
