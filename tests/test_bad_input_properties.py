"""Bad input, generated (Hypothesis): CSV files, image folders, flag values at and past their bounds, and
JSON bodies for every POST endpoint of ``ganforge serve``.

The contract, for every generated input: the command line succeeds, or exits non-zero with exactly one
stderr line starting ``error:`` and nothing else but ``warning:`` lines (as test_cli_errors.py asks), and
never a traceback; no run directory it is given changes (every file hashed before and after). The server
answers below 500, and every 4xx is JSON ``{"error": "one line"}``.

The command line runs in this process (conftest.cli_in_process: a subprocess costs seconds of imports per
example); an exception escaping ``main()`` is what a user would see as a traceback, and
test_the_in_process_runner_prints_what_the_real_command_prints checks that both print the same. Examples
are few and small (runs train for one step or a fraction of a second) so the file runs in about a minute.
"""

import hashlib
import io
import json
import shlex
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import cli_in_process, ganforge_cmd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image
from test_serve import call, make_runs, start_server, stop_server

# capsys and monkeypatch (function-scoped) are reset by every call of the runner, so sharing them between
# the examples of one test is safe; runs that train are slow for Hypothesis' taste on purpose.
PROPERTY = {
    "deadline": None,
    "database": None,  # nothing written into the working tree; a failure prints its reproducer
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
TABLE = ["--epochs", "1", "--batch", "10", "--pac", "1", "--device", "cpu", "--on-problem", "off"]
IMAGES = ["--resolution", "16", "--width", "8", "--batch", "4", "--device", "cpu", "--on-problem", "off",
          "--sample-every", "1000", "--checkpoint-every", "1000"]  # fmt: skip


# ---------------------------------------------------------------------------------------------- helpers
def tree_hash(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}  # fmt: skip


def run_cli(capsys, monkeypatch, runs: tuple[Path, ...], *args: str) -> subprocess.CompletedProcess:
    """``ganforge ARGS`` in this process, checked against the contract; ``runs`` must not change."""
    before = [tree_hash(run) for run in runs]
    command = shlex.join(["ganforge", *args])
    capsys.readouterr()  # drop what an earlier example printed before it raised
    try:
        proc = cli_in_process(capsys, monkeypatch, *args)
    except Exception as e:  # escaped main(): the real command prints a traceback
        raise AssertionError(f"{command}\nraised {type(e).__name__}: {e}") from e
    assert "Traceback" not in proc.stderr + proc.stdout, f"{command}\n{proc.stderr}"
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error:")]
        others = [line for line in lines if not line.startswith(("error:", "warning:"))]
        assert len(errors) == 1 and not others, f"{command}\nexit {proc.returncode}, stderr:\n{proc.stderr}"
    for run, hashes in zip(runs, before, strict=True):
        assert tree_hash(run) == hashes, f"{command}\nchanged the run directory {run}"
    return proc


def fresh_dir(tmp_path_factory, name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=tmp_path_factory.getbasetemp()))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A class-conditional 16 px digits run and a small table run (test_serve.make_runs)."""
    return make_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("four-images")
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


# ---------------------------------------------------------------------------------------------- CSV files
CELLS = st.one_of(
    st.sampled_from(["", "1", "0", "-0", "2.5", "1e308", "-1e308", "1e400", "inf", "-inf", "nan", "NaN",
                     "x", "y", "True", "2024-01-31", " ", '"', "\u00e9", "9" * 400, "w" * 5000]),
    st.integers().map(str),
    st.floats().map(repr),
    st.text(max_size=5),
)  # fmt: skip
NAMES = st.sampled_from(["a", "b", "c", "a", "", " "]) | st.text(min_size=1, max_size=5)


@st.composite
def csv_bytes(draw) -> bytes:
    """A small CSV, often broken: duplicate or empty names, ragged rows, odd numbers, blank (all-NaN)
    columns, stray quotes and newlines in cells, non-UTF-8 encodings and stray bytes."""
    header = draw(st.lists(NAMES, max_size=4))
    width = len(header)
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        size = draw(st.sampled_from([width, width, width, max(width - 1, 0), width + 1]))
        rows.append(draw(st.lists(CELLS, min_size=size, max_size=size)))
    if width and rows and draw(st.booleans()):  # one column with no values at all
        blank = draw(st.integers(0, width - 1))
        rows = [[("" if i == blank else cell) for i, cell in enumerate(row)] for row in rows]
    text = "\n".join(",".join(row) for row in [header, *rows]) + draw(st.sampled_from(["\n", "", "\r\n"]))
    data = text.encode(draw(st.sampled_from(["utf-8", "utf-8", "latin-1", "utf-16"])), errors="replace")
    return data + draw(st.sampled_from([b"", b"", b"\xff\xfe\x80,\x81\n", b"\x00"]))


@settings(max_examples=20, **PROPERTY)
@given(data=csv_bytes(), into_existing_run=st.integers(0, 4).map(lambda k: k == 0))
@example(data=b"", into_existing_run=False)
@example(data=b"a,b\n", into_existing_run=False)
@example(data=b"a,b\n1,2\n3\n4,5,6\n7,8\n", into_existing_run=False)  # ragged
@example(data=b"a,a,b\n1,2,x\n3,4,y\n5,6,x\n", into_existing_run=False)  # duplicate names
@example(data="a,b\nZ\u00fcrich,1\nOslo,2\n".encode("latin-1") + b"\xff\xfe,3\n", into_existing_run=False)
@example(data=b"a,b,c\n1e308,-0,inf\n-1e308,0,-inf\n1e400,1,nan\n", into_existing_run=False)
@example(data=b"a,b\n" + b"x" * 100_000 + b",1\ny,2\nz,3\n", into_existing_run=False)  # a 100 KB cell
@example(data=b"a,b,c\n1,,x\n2,,y\n3,,x\n", into_existing_run=False)  # an all-NaN column
@example(data=b"a,b\n1,x\n", into_existing_run=False)  # a single row
@example(data=b"a,b\n1,x\n2,y\n3,x\n", into_existing_run=True)  # a good table, into a run's directory
def test_generated_csv_files_train_or_fail_in_one_line(
    runs, tmp_path_factory, capsys, monkeypatch, data, into_existing_run
):
    where = fresh_dir(tmp_path_factory, "csv")
    (where / "t.csv").write_bytes(data)
    out = runs[1] if into_existing_run else where / "run"
    proc = run_cli(
        capsys, monkeypatch, runs, "train", "table", str(where / "t.csv"), "--out", str(out), *TABLE
    )
    if proc.returncode == 0:
        assert (out / "model.safetensors").is_file(), proc.stderr


# ---------------------------------------------------------------------------------------------- image folders
def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def image_file(kind: str, seed: int) -> tuple[str, bytes]:
    """(suffix, bytes) of one file of ``kind``: a picture, an unusual one or a broken one."""
    rng = np.random.default_rng(seed)

    def rgb(h: int = 20, w: int = 20) -> Image.Image:
        return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))

    if kind == "png":
        return ".png", encoded(rgb(), "PNG")
    if kind == "zero-byte":
        return ".png", b""
    if kind == "text named .png":
        return ".png", b"this is not a picture\n"
    if kind == "truncated png":
        full = encoded(rgb(), "PNG")
        return ".png", full[: len(full) // 2]
    if kind == "truncated jpeg":
        full = encoded(rgb(), "JPEG")
        return ".jpg", full[: len(full) // 2]
    if kind == "cmyk jpeg":
        ink = rng.integers(0, 255, (20, 20, 4), dtype=np.uint8).tobytes()
        return ".jpg", encoded(Image.frombytes("CMYK", (20, 20), ink), "JPEG")
    if kind == "16-bit png":
        return ".png", encoded(Image.fromarray(rng.integers(0, 65535, (20, 20), dtype=np.uint16)), "PNG")
    if kind == "palette png":
        return ".png", encoded(rgb().convert("P"), "PNG")
    if kind == "rgba png":
        return ".png", encoded(rgb().convert("RGBA"), "PNG")
    if kind == "animated gif":
        frames = [rgb() for _ in range(3)]
        return ".gif", encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    if kind == "1 px":
        return ".png", encoded(rgb(1, 1), "PNG")
    if kind == "10000x1 px":
        return ".png", encoded(rgb(1, 10_000), "PNG")
    if kind == "1x10000 px":
        return ".png", encoded(rgb(10_000, 1), "PNG")
    raise ValueError(kind)


KINDS = ["png", "zero-byte", "text named .png", "truncated png", "truncated jpeg", "cmyk jpeg", "16-bit png",
         "palette png", "rgba png", "animated gif", "1 px", "10000x1 px", "1x10000 px"]  # fmt: skip
BAD_KINDS = KINDS[1:]
FOLDER = st.lists(
    st.tuples(st.sampled_from(KINDS), st.sampled_from(["", "", "", "cats", "dogs"])), max_size=7
)


@pytest.mark.filterwarnings("ignore:skipped")  # the unreadable files: warning lines, allowed
@settings(max_examples=15, **PROPERTY)
@given(files=FOLDER)
@example(files=[])
@example(files=[(kind, "") for kind in BAD_KINDS])  # nothing readable enough
@example(files=[("png", ""), ("png", "")] + [(kind, "") for kind in BAD_KINDS])  # mixed
@example(files=[("png", "cats"), ("png", "cats"), ("png", "dogs"), ("zero-byte", "dogs"), ("png", "")])
def test_generated_image_folders_train_or_fail_in_one_line(
    runs, tmp_path_factory, capsys, monkeypatch, files
):
    folder = fresh_dir(tmp_path_factory, "images") / "data"
    folder.mkdir()
    for i, (kind, sub) in enumerate(files):
        suffix, data = image_file(kind, i)
        (folder / sub).mkdir(exist_ok=True)
        (folder / sub / f"{i}{suffix}").write_bytes(data)
    out = folder.parent / "run"
    args = ["train", "images", str(folder), "--out", str(out), "--steps", "1", *IMAGES]
    proc = run_cli(capsys, monkeypatch, runs, *args)
    if proc.returncode == 0:
        assert (out / "model.safetensors").is_file(), proc.stderr


# ---------------------------------------------------------------------------------------------- flag values
# Values at and past a bound, integers beyond 64 bits (and 2**62, which no allocation survives: a command
# that takes it without a check fails at once instead of running long), and text that is no number.
NOT_NUMBERS = st.one_of(
    st.sampled_from(["", " ", "abc", "nan", "inf", "-inf", "1e400", "1.5", "0x10", "\u0663", "--", "-x"]),
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=4),
)
HUGE = st.sampled_from([2**62, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63) - 1])


def ints(low: int, high: int) -> st.SearchStrategy[str]:
    """Integer flag values: ``low - 3`` .. ``high`` (``low`` is the bound), huge ones and non-numbers."""
    return st.one_of(st.integers(low - 3, high).map(str), HUGE.map(str), NOT_NUMBERS)


def seeds() -> st.SearchStrategy[str]:
    return st.one_of(st.integers().map(str), HUGE.map(str), NOT_NUMBERS)


def floats() -> st.SearchStrategy[str]:
    """Float flag values (with a time budget beside them): 0, negatives, tiny, huge, NaN, inf, text."""
    odd = st.sampled_from(["0", "-0", "1e-300", "1e308", "-1e308", "1e400", "NaN", "-inf", "Infinity"])
    return st.one_of(st.floats().map(repr), odd, NOT_NUMBERS)


def flag_values(flags: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[tuple[str, str]]:
    return st.one_of([st.tuples(st.just(flag), values) for flag, values in flags.items()])


# Any --monitor-every above 0 loads a feature network (seconds): 0 is its bound and only accepted value here.
MONITOR_EVERY = st.one_of(st.integers(-3, 0).map(str), st.just(str(-(2**63) - 1)), NOT_NUMBERS)
TRAIN_IMAGE_FLAGS = {"--steps": ints(1, 2), "--kimg": floats(), "--minutes": floats(), "--batch": ints(2, 6),
                     "--seed": seeds(), "--sample-every": ints(1, 2), "--checkpoint-every": ints(1, 2),
                     "--monitor-every": MONITOR_EVERY, "--lr-g": floats()}  # fmt: skip
TRAIN_TABLE_FLAGS = {"--epochs": floats(), "--minutes": floats(), "--batch": ints(2, 20),
                     "--pac": ints(1, 10), "--seed": seeds(), "--checkpoint-every": ints(1, 2)}  # fmt: skip
SAMPLE_FLAGS = {"-n": ints(1, 4), "--seed": seeds(), "--class": ints(0, 10)}
# No huge -n for a table run: it streams any number of rows to disk, so that would be a long job.
TABLE_ROWS = st.one_of(st.integers(-3, 30).map(str), st.just(str(-(2**63) - 1)), NOT_NUMBERS)
INTERPOLATE_FLAGS = {"--points": ints(2, 3), "--frames": ints(1, 3), "--scale": ints(1, 3), "--seed": seeds(),
                     "--class": ints(0, 10)}  # fmt: skip


@settings(max_examples=25, **PROPERTY)
@given(case=flag_values(TRAIN_IMAGE_FLAGS))
def test_train_images_flag_values(runs, image_folder, tmp_path_factory, capsys, monkeypatch, case):
    flag, value = case
    budget = ["--minutes", "0.002"] if flag in ("--steps", "--kimg") else ["--steps", "1"]  # one wins
    out = fresh_dir(tmp_path_factory, "flags") / "run"
    run_cli(capsys, monkeypatch, runs, "train", "images", str(image_folder), "--out", str(out), *IMAGES,
            *budget, flag, value)  # fmt: skip


@settings(max_examples=25, **PROPERTY)
@given(case=flag_values(TRAIN_TABLE_FLAGS))
def test_train_table_flag_values(runs, tmp_path_factory, capsys, monkeypatch, case):
    flag, value = case
    where = fresh_dir(tmp_path_factory, "flags")
    (where / "t.csv").write_text("age,city\n" + "".join(f"{20 + i % 7},{'xyz'[i % 3]}\n" for i in range(30)))
    run_cli(capsys, monkeypatch, runs, "train", "table", str(where / "t.csv"), "--out", str(where / "run"),
            *TABLE, "--minutes", "0.002", flag, value)  # the last of a repeated flag counts  # fmt: skip


@settings(max_examples=30, **PROPERTY)
@given(case=flag_values(SAMPLE_FLAGS), grid=st.booleans())
def test_sample_flag_values_on_an_image_run(runs, tmp_path_factory, capsys, monkeypatch, case, grid):
    flag, value = case
    out = fresh_dir(tmp_path_factory, "sample") / ("grid.png" if grid else "images")
    args = ["-n", "2", "--out", str(out), *(["--grid"] if grid else []), flag, value]
    proc = run_cli(capsys, monkeypatch, runs, "sample", str(runs[0]), *args)
    if proc.returncode == 0 and grid:
        assert Image.open(out).format == "PNG"


@settings(max_examples=15, **PROPERTY)
@given(case=flag_values({"-n": TABLE_ROWS, "--seed": seeds(), "--class": ints(0, 1)}))
def test_sample_flag_values_on_a_table_run(runs, tmp_path_factory, capsys, monkeypatch, case):
    flag, value = case
    out = fresh_dir(tmp_path_factory, "sample") / "rows.csv"
    run_cli(capsys, monkeypatch, runs, "sample", str(runs[1]), "-n", "5", "--out", str(out), flag, value)


@settings(max_examples=25, **PROPERTY)
@given(case=flag_values(INTERPOLATE_FLAGS), run=st.sampled_from([0, 0, 0, 1]))  # now and then the table run
def test_interpolate_flag_values(runs, tmp_path_factory, capsys, monkeypatch, case, run):
    flag, value = case
    out = fresh_dir(tmp_path_factory, "walk") / "w.gif"
    args = ["--out", str(out), "--points", "2", "--frames", "2", "--scale", "1", flag, value]
    proc = run_cli(capsys, monkeypatch, runs, "interpolate", str(runs[run]), *args)
    if proc.returncode == 0:
        assert Image.open(out).format == "GIF"


@settings(max_examples=10, **PROPERTY)
@given(n=ints(1, 3))
def test_evaluate_n_values(runs, capsys, monkeypatch, n):
    """On the table run (trained from an in-memory table) a valid -n ends at once: it needs --real."""
    run_cli(capsys, monkeypatch, runs, "evaluate", str(runs[1]), "-n", n)


@pytest.mark.parametrize("case", ["not a number", "empty csv"])
def test_the_in_process_runner_prints_what_the_real_command_prints(runs, tmp_path, capsys, monkeypatch, case):
    """The properties above run the command line in this process: it must say what the real one says."""
    (tmp_path / "empty.csv").write_bytes(b"")
    if case == "not a number":
        args = ["sample", str(runs[0]), "-n", "x1", "--out", str(tmp_path / "s")]
    else:
        args = ["train", "table", str(tmp_path / "empty.csv"), "--out", str(tmp_path / "r")]
    real = subprocess.run([*ganforge_cmd(), *args], capture_output=True, text=True, timeout=300)
    here = cli_in_process(capsys, monkeypatch, *args)
    assert (here.returncode, here.stderr.splitlines()) == (real.returncode, real.stderr.splitlines())
    assert real.returncode != 0 and "error:" in real.stderr


# ---------------------------------------------------------------------------------------------- HTTP bodies
def post_endpoints() -> dict[str, list[str]]:
    """Every POST route of the app, with the fields of its JSON body (from the app's own OpenAPI schema;
    every kind's routes are there even without models)."""
    from ganforge.serve import ServeConfig, create_app

    spec = create_app({}, ServeConfig()).openapi()
    schemas = spec["components"]["schemas"]
    out = {}
    for path, ops in spec["paths"].items():
        if "post" in ops:
            ref = ops["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            out[path] = sorted(schemas[ref.rsplit("/", 1)[1]]["properties"])
    return out


ENDPOINTS = post_endpoints()
COLUMNS = ["id", "age", "income", "city", "balance"]  # the table run's (test_table_cli.small_table)
ODD_CHARACTERS = st.sampled_from('09a \n\t\r"\\\u00b2\u0663\u00e9\u2028\x85')  # line breaks, digits, quotes
TEXT = st.text(ODD_CHARACTERS | st.characters(exclude_categories=("Cs",)), max_size=8)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, 1, 2, -1, 9, 10, 2**63 - 1, 2**63, 2**64, 10**30, -(10**30)]),
    st.floats(),  # NaN and the infinities go as the NaN / Infinity tokens of Python's json
    TEXT,
    st.sampled_from(["3", "01", "Oslo", ">50K", "png", "zip", "json", "csv", "parquet", *COLUMNS]),
    st.integers(4_300, 4_400).map(lambda k: "9" * k),  # more digits than int() converts
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(COLUMNS) | TEXT, inner, max_size=3)
    ),  # fmt: skip
    max_leaves=8,
)


def bodies(fields: list[str]) -> st.SearchStrategy[bytes]:
    """Mostly a JSON object of the endpoint's own fields (and some other keys) with any JSON values; else any
    JSON value, or bytes."""
    keys = st.sampled_from(fields) | st.sampled_from(fields) | TEXT
    return st.one_of(
        st.dictionaries(keys, JSON, max_size=4).map(json.dumps),
        st.dictionaries(keys, JSON, max_size=4).map(json.dumps),
        JSON.map(json.dumps),
    ).map(str.encode) | st.binary(max_size=20)


REQUESTS = st.sampled_from(sorted(ENDPOINTS)).flatmap(lambda r: st.tuples(st.just(r), bodies(ENDPOINTS[r])))
IMAGES_ROUTE, INTERPOLATE_ROUTE = "/api/models/{name}/images", "/api/models/{name}/interpolate"


@pytest.fixture(scope="module")
def server(runs, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve-log") / "server.log"
    limits = ["--max-images", "16", "--max-rows", "500", "--max-frames", "8"]  # an accepted body stays quick
    proc, url = start_server([f"img={runs[0]}", f"people={runs[1]}", *limits], log)
    yield url, log
    stop_server(proc)


def test_the_generated_requests_reach_every_post_endpoint():
    assert {route.rsplit("/", 1)[1] for route in ENDPOINTS} >= {"images", "interpolate", "rows"}, ENDPOINTS
    assert {"n", "seed", "class", "format"} <= set(ENDPOINTS[IMAGES_ROUTE])


@settings(max_examples=150, **PROPERTY)
@given(post=REQUESTS, model=st.sampled_from(["img", "people", "nope"]))
@example(post=(IMAGES_ROUTE, b'{"a\\nb": 1}'), model="img")  # an unknown key with a line break
@example(post=(IMAGES_ROUTE, b'{"class": "' + b"9" * 4400 + b'"}'), model="img")  # past int()'s limit
@example(post=(INTERPOLATE_ROUTE, b'{"class": "0' + b"9" * 4400 + b'"}'), model="img")
def test_every_post_endpoint_answers_generated_json_below_500_with_a_one_line_error(
    runs, server, post, model
):
    (url, log), (route, body) = server, post
    before = [tree_hash(run) for run in runs]
    path = route.replace("{name}", model)
    status, headers, raw = call(url + path, body)
    where = f"POST {path} {body[:300]!r}"
    assert status < 500, f"{where}\n-> {status} {raw[:300]!r}\nserver log:\n{log.read_text()[-3000:]}"
    if status >= 400:
        assert headers["Content-Type"] == "application/json", f"{where}\n-> {status} {raw[:300]!r}"
        error = json.loads(raw).get("error")
        assert isinstance(error, str) and len(error.strip().splitlines()) == 1, f"{where}\n-> {raw!r}"
    assert [tree_hash(run) for run in runs] == before, where
