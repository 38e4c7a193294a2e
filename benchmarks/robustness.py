"""Robustness: how many kinds of bad input ganforge handles cleanly, tried the way a hostile new user would.

Every case runs the real CLI (``python -m ganforge ...``) or talks to a real ``ganforge serve`` over a
socket, on inputs built in a temporary folder (tiny runs: a 16 px digits image run and a 4-column table
run, trained once and reused). A case is CLEAN when:

- CLI: the process exits non-zero with exactly one stderr line starting ``error:`` (``warning:`` lines
  allowed besides; any other stderr line, e.g. a usage panel or progress output, is not) and no
  "Traceback" -- or it exits 0 where success is a right outcome (an output file named ``.png``/``.gif``
  must then be that format). It must finish within ``--timeout`` seconds and leave every run directory
  passed to it byte-for-byte unchanged (all files hashed before and after).
- HTTP: the status is 4xx (or 200 for the control request) and the body is JSON ``{"error": "..."}`` with
  a one-line message; a 5xx, a non-JSON body or a dropped connection is not clean.

Groups: cli (flag values at and past their bounds), data (bad image folders and CSV files), paths (outputs
under a regular file or in a read-only folder; the latter are skipped, and recorded as skipped, when
chmod does not stop writes, e.g. as root), resume (``--resume`` on the wrong kind of run), http (bad
request bodies, wrong models, path traversal). Besides, the slow-client figure: with
``serve --max-connections 8 --read-timeout 5`` and 8 sockets each holding half a request, the seconds
until a normal ``GET /api/health`` is answered 200 again, and whether a 100 KB header gets a 431 (a
ganforge without ``--read-timeout`` is served without it); and the wide-table figure: peak memory of
``train table`` on a 50-row x 5,000-column CSV (killed at 8 GB).

To measure an older commit with the same cases (the "before" of a fix):

    git worktree add /tmp/before COMMIT
    .venv/bin/python benchmarks/robustness.py --src /tmp/before --out benchmarks/results/robustness_before.json

Cases run one after another; about 6-8 minutes on 2 cores. Rerun with:

    .venv/bin/python benchmarks/robustness.py                     # all groups
    .venv/bin/python benchmarks/robustness.py --groups cli,http   # some groups (data and runs built anyway)

Results: benchmarks/results/robustness.json (per case, totals per group, slow-client figures).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import RESULTS, machine
from PIL import Image

GANFORGE = [sys.executable, "-m", "ganforge"]
IMG = "--resolution 16 --width 8 --batch 16 --device cpu --on-problem off"  # every image training case
TAB = "--epochs 1 --batch 50 --pac 5 --device cpu"  # every table training case
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
GROUPS = ["cli", "data", "paths", "resume", "http"]
DEFINITION = {
    "cli": "exit != 0 with exactly one stderr line starting 'error:' (plus 'warning:' lines, nothing else), "
    "no Traceback; or exit 0 where success is right (expect ok/any; a .png/.gif output must be that format); "
    "within timeout_s; every run directory given unchanged (file hashes before/after)",
    "http": 'status 4xx (200 for the control) with a JSON body {"error": "one line"}; a 5xx or a dropped '
    "connection is not clean",
}

# Case tables. Arguments are format strings over the inputs built by build_inputs ({img}, {tab}, {csv}, ...);
# {new} is a fresh path per case. expect: "error" (must fail cleanly), "ok" (must succeed) or "any" (a
# clean failure and a success are both right outcomes).
TI = "train images digits " + IMG  # + the flag under test
TT = "train table {csv} "
CLI_CASES = [
    ("train images --steps 0", TI + " --steps 0 --out {new}", "error"),
    ("train images --steps -1", TI + " --steps -1 --out {new}", "error"),
    ("train images --kimg 0", TI + " --kimg 0 --out {new}", "error"),
    ("train images --kimg -1", TI + " --kimg -1 --out {new}", "error"),
    ("train images --minutes 0", TI + " --minutes 0 --out {new}", "error"),
    ("train images --minutes -1", TI + " --minutes -1 --out {new}", "error"),
    ("train images --batch 0", TI + " --steps 3 --batch 0 --out {new}", "error"),
    ("train images --batch 1", TI + " --steps 3 --batch 1 --out {new}", "any"),
    ("train images --sample-every 0", TI + " --steps 3 --sample-every 0 --out {new}", "error"),
    ("train images --checkpoint-every 0", TI + " --steps 3 --checkpoint-every 0 --out {new}", "error"),
    ("train images --monitor-every -1", TI + " --steps 3 --monitor-every -1 --out {new}", "error"),
    ("train images --resolution 30", TI + " --steps 3 --resolution 30 --out {new}", "error"),
    ("train images --width 0", TI + " --steps 3 --width 0 --out {new}", "error"),
    ("train table --epochs 0", TT + "--epochs 0 --batch 50 --pac 5 --device cpu --out {new}", "error"),
    ("train table --pac 0", TT + "--epochs 1 --batch 50 --pac 0 --device cpu --out {new}", "error"),
    ("train table --batch 7 --pac 5", TT + "--epochs 1 --batch 7 --pac 5 --device cpu --out {new}", "error"),
    ("train table --minutes 0", TT + TAB + " --minutes 0 --out {new}", "error"),
    ("sample -n 0", "sample {img} -n 0 --out {new}", "error"),
    ("sample -n -3", "sample {img} -n -3 --out {new}", "error"),
    ("sample --class 99", "sample {img} -n 2 --class 99 --out {new}", "error"),
    ("sample --shards 0", "sample {img} -n 2 --shards 0 --out {new}", "error"),
    ("sample --engine foo", "sample {img} -n 2 --engine foo --out {new}", "error"),
    ("evaluate -n 0", "evaluate {img} -n 0", "error"),
    ("evaluate a missing run", "evaluate {root}/no-such-run", "error"),
    ("interpolate --points 1", "interpolate {img} --points 1 --out {new}.gif", "error"),
    ("interpolate --frames 0", "interpolate {img} --frames 0 --out {new}.gif", "error"),
    ("interpolate --scale 0", "interpolate {img} --scale 0 --out {new}.gif", "error"),
    ("interpolate --out x.png", "interpolate {img} --points 2 --frames 2 --scale 1 --out {new}.png", "any"),
    ("export a table run", "export {tab}", "error"),
    ("serve a name with a newline", "serve 'bad\n={img}' --port {free_port}", "error"),  # a real newline
    ("serve --port 99999", "serve img={img} --port 99999", "error"),
    ("serve on a port in use", "serve img={img} --port {busy_port}", "error"),
]  # fmt: skip

TF = " " + IMG + " --steps 3 --out {new}"  # after the folder
DATA_CASES = [
    ("images: empty folder", "train images {d_empty}" + TF, "error"),
    ("images: one image", "train images {d_one}" + TF, "any"),
    ("images: three images, 120 steps",
     "train images {d_three} " + IMG + " --steps 120 --no-cond --out {new}", "ok"),
    ("images: zero-byte PNG among 20", "train images {d_zero}" + TF, "any"),
    ("images: truncated PNG among 20", "train images {d_trunc}" + TF, "any"),
    ("images: text file named .png among 20", "train images {d_text}" + TF, "any"),
    ("images: 1x1 image among 20", "train images {d_tiny}" + TF, "any"),
    ("images: 16-bit PNG among 20", "train images {d_16bit}" + TF, "any"),
    ("images: CMYK JPEG among 20", "train images {d_cmyk}" + TF, "any"),
    ("images: animated GIF among 20", "train images {d_gif}" + TF, "any"),
    ("csv: empty file", "train table {c_empty} " + TAB + " --out {new}", "error"),
    ("csv: header only", "train table {c_header} " + TAB + " --out {new}", "error"),
    ("csv: ragged rows", "train table {c_ragged} " + TAB + " --out {new}", "any"),
    ("csv: duplicate column names", "train table {c_dup} " + TAB + " --out {new}", "any"),
    ("csv: non-UTF-8 bytes", "train table {c_latin1} " + TAB + " --out {new}", "any"),
    ("csv: all-NaN column", "train table {c_nan} " + TAB + " --out {new}", "any"),
    ("csv: one row", "train table {c_one} " + TAB + " --out {new}", "any"),
]  # fmt: skip

PATH_CASES = [  # {file} is a regular file, {ro} a chmod 555 folder (cases using it need a working chmod)
    ("sample --out under a file", "sample {img} -n 2 --out {file}/imgs", "error"),
    ("sample --grid --out under a file", "sample {img} -n 4 --grid --out {file}/grid.png", "error"),
    ("sample table --out under a file", "sample {tab} -n 5 --out {file}/rows.csv", "error"),
    ("interpolate --out under a file", "interpolate {img} --points 2 --frames 2 --out {file}/w.gif", "error"),
    ("export --onnx under a file", "export {img} --onnx {file}/model.onnx", "error"),
    ("sample into a read-only folder", "sample {img} -n 2 --out {ro}/imgs", "error"),
    ("sample --grid into a read-only folder", "sample {img} -n 4 --grid --out {ro}/grid.png", "error"),
    ("sample table into a read-only folder", "sample {tab} -n 5 --out {ro}/rows.csv", "error"),
    ("interpolate into a read-only folder", "interpolate {img} --points 2 --frames 2 --out {ro}/w.gif",
     "error"),
    ("export --onnx into a read-only folder", "export {img} --onnx {ro}/model.onnx", "error"),
    ("train images --out in a read-only folder", TI + " --steps 3 --out {ro}/run", "error"),
]  # fmt: skip

RESUME_CASES = [
    ("train table --resume an image run", TT + TAB + " --resume {img}", "error"),
    ("train images --resume a table run", TI + " --steps 6 --resume {tab}", "error"),
    ("train images --resume, config.json without train", TI + " --steps 6 --resume {img_notrain}", "error"),
    ("train images --resume a missing run", TI + " --steps 6 --resume {root}/gone", "error"),
]  # fmt: skip

NESTED = b"[" * 10_000 + b"]" * 10_000
PAD = b"x" * 70_000
IMAGES, ROWS = "/api/models/img/images", "/api/models/people/rows"
HTTP_CASES = [  # name, method, path, raw body (None: no body), expect ("ok": 200, "4xx")
    ("images: valid request (control)", "POST", IMAGES, b'{"n": 1, "seed": 1}', "ok"),
    ("images: n 0", "POST", IMAGES, b'{"n": 0}', "4xx"),
    ("images: n 1e400", "POST", IMAGES, b'{"n": 1e400}', "4xx"),
    ("images: truncation NaN", "POST", IMAGES, b'{"truncation": NaN}', "4xx"),
    ("images: class '\u00b2'", "POST", IMAGES, '{"class": "\u00b2"}'.encode(), "4xx"),
    ("images: class 99", "POST", IMAGES, b'{"class": 99}', "4xx"),
    ("images: format gif", "POST", IMAGES, b'{"format": "gif"}', "4xx"),
    ("images: seed 2**64", "POST", IMAGES, b'{"seed": 18446744073709551616}', "4xx"),
    ("images: body not JSON", "POST", IMAGES, b"n=1&class=3", "4xx"),
    ("images: 70 KB body", "POST", IMAGES, b'{"n": 1, "pad": "' + PAD + b'"}', "4xx"),
    ("images: 10,000 nested lists", "POST", IMAGES, b'{"n": ' + NESTED + b"}", "4xx"),
    ("interpolate: frames 1", "POST", "/api/models/img/interpolate", b'{"frames": 1}', "4xx"),
    ("rows: unknown column", "POST", ROWS, b'{"n": 5, "conditions": {"planet": "Mars"}}', "4xx"),
    ("rows: unknown category", "POST", ROWS, b'{"n": 5, "conditions": {"city": "Atlantis"}}', "4xx"),
    ("rows: reversed range", "POST", ROWS, b'{"n": 5, "conditions": {"age": [80, 20]}}', "4xx"),
    ("rows: range outside the data", "POST", ROWS, b'{"n": 5, "conditions": {"age": [500, 600]}}', "4xx"),
    ("rows: text range", "POST", ROWS, b'{"n": 5, "conditions": {"age": ["a", "b"]}}', "4xx"),
    ("rows: condition is an object", "POST", ROWS, b'{"n": 5, "conditions": {"city": {"$ne": "x"}}}', "4xx"),
    ("rows: conditions is a list", "POST", ROWS, b'{"n": 5, "conditions": ["age"]}', "4xx"),
    ("images on the table model", "POST", "/api/models/people/images", b'{"n": 1}', "4xx"),
    ("rows on the image model", "POST", "/api/models/img/rows", b'{"n": 1}', "4xx"),
    ("unknown model (POST)", "POST", "/api/models/nope/images", b"{}", "4xx"),
    ("unknown model (GET)", "GET", "/api/models/nope", None, "4xx"),
    ("static: ../ traversal", "GET", "/static/../../../../etc/passwd", None, "4xx"),
    ("static: %2f-encoded traversal", "GET", "/static/..%2f..%2f..%2fpyproject.toml", None, "4xx"),
    ("static: %2e%2e traversal", "GET", "/static/%2e%2e/app.py", None, "4xx"),
]  # fmt: skip


# ---------------------------------------------------------------------------------------------- inputs


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")  # uint16 (H, W) -> a 16-bit greyscale PNG
    return buf.getvalue()


def image_folder(path: Path, good: int, extra: dict[str, bytes] | None = None) -> Path:
    """``good`` random 20x20 RGB PNGs plus ``extra`` files (name -> bytes)."""
    rng = np.random.default_rng(len(path.name))
    path.mkdir(parents=True)
    for i in range(good):
        (path / f"good{i:02d}.png").write_bytes(png_bytes(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)))
    for name, data in (extra or {}).items():
        (path / name).write_bytes(data)
    return path


def bad_images() -> dict[str, dict[str, bytes]]:
    """One bad (or unusual) file per folder, by folder key."""
    rng = np.random.default_rng(1)
    good = png_bytes(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8))
    cmyk, gif = io.BytesIO(), io.BytesIO()
    ink = rng.integers(0, 255, (20, 20, 4), dtype=np.uint8).tobytes()
    Image.frombytes("CMYK", (20, 20), ink).save(cmyk, format="JPEG")
    frames = [Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)) for _ in range(3)]
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return {
        "d_zero": {"zero.png": b""},
        "d_trunc": {"truncated.png": good[: len(good) // 2]},
        "d_text": {"notes.png": b"this is a text file, not a picture\n"},
        "d_tiny": {"tiny.png": png_bytes(np.full((1, 1, 3), 128, dtype=np.uint8))},
        "d_16bit": {"deep.png": png_bytes(rng.integers(0, 65535, (20, 20), dtype=np.uint16))},
        "d_cmyk": {"print.jpg": cmyk.getvalue()},
        "d_gif": {"anim.gif": gif.getvalue()},
    }


def csv_files(root: Path, df: pd.DataFrame) -> dict[str, Path]:
    """The bad CSV files, by key."""
    text = df.to_csv(index=False)
    lines = text.splitlines()
    ragged = [lines[0]] + [line + (",extra,fields" if i % 3 == 0 else "") for i, line in enumerate(lines[1:])]
    ragged[5] = ragged[5].split(",")[0]  # one row with a single field
    latin = text.replace("Oslo", "Z\u00fcrich").encode("latin-1") + b"\xff\xfe,\x80,\x81,True\n"
    files = {
        "c_empty": b"",
        "c_header": (lines[0] + "\n").encode(),
        "c_ragged": ("\n".join(ragged) + "\n").encode(),
        "c_dup": text.replace("age,income,city,member", "age,income,city,city", 1).encode(),
        "c_latin1": latin,
        "c_nan": df.assign(notes=np.nan).to_csv(index=False).encode(),
        "c_one": ("\n".join(lines[:2]) + "\n").encode(),
    }
    out = {}
    for key, data in files.items():
        out[key] = root / "csv" / f"{key[2:]}.csv"
        out[key].parent.mkdir(parents=True, exist_ok=True)
        out[key].write_bytes(data)
    return out


def train(args: str, log: list[str]) -> None:
    argv = GANFORGE + shlex.split(args)
    log.append(shlex.join(argv))
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"could not build an input run: {shlex.join(argv)}\n{proc.stderr[-3000:]}")


def read_only_folder(path: Path) -> str | None:
    """Make ``path`` chmod 555: None when that stops writes, else why the read-only cases are skipped."""
    path.mkdir()
    path.chmod(0o555)
    probe = path / ".probe"
    try:
        probe.write_text("x")
    except OSError:
        return None
    probe.unlink()
    who = "root (euid 0)" if os.geteuid() == 0 else f"euid {os.geteuid()}"
    return f"running as {who}: chmod 555 does not stop writes (os.access W_OK={os.access(path, os.W_OK)})"


def build_inputs(root: Path) -> dict[str, Any]:
    """Trained runs (image, table, image without "train" in its config), data folders, CSVs, bad paths."""
    log: list[str] = []
    rng = np.random.default_rng(0)
    n = 200
    people = pd.DataFrame({
        "age": rng.integers(18, 90, n), "income": rng.lognormal(10, 1, n).round(2),
        "city": rng.choice(["Oslo", "Lima", "Pune"], n), "member": rng.random(n) < 0.3,
    })  # fmt: skip
    ctx: dict[str, Any] = {"root": root, "csv": root / "people.csv", "img": root / "runs/img",
                           "tab": root / "runs/tab"}  # fmt: skip
    people.to_csv(ctx["csv"], index=False)
    train(f"train images digits {IMG} --steps 3 --out {ctx['img']}", log)
    train(f"train table {ctx['csv']} {TAB} --out {ctx['tab']}", log)
    ctx["img_notrain"] = root / "runs/img-notrain"
    shutil.copytree(ctx["img"], ctx["img_notrain"])
    config_path = ctx["img_notrain"] / "config.json"
    config = json.loads(config_path.read_text())
    config.pop("train", None)
    config_path.write_text(json.dumps(config, indent=2))
    ctx["d_empty"] = image_folder(root / "images/empty", 0)
    ctx["d_one"] = image_folder(root / "images/one", 1)
    ctx["d_three"] = image_folder(root / "images/three", 3)
    for key, extra in bad_images().items():
        ctx[key] = image_folder(root / "images" / key[2:], 20, extra)
    ctx.update(csv_files(root, people))
    ctx["file"] = root / "regular-file"
    ctx["file"].write_text("a regular file, not a folder\n")
    ctx["ro_skip"] = read_only_folder(root / "read-only")
    ctx["ro"] = root / "read-only"
    ctx["free_port"] = free_port()
    ctx["build_commands"] = log
    return ctx


# ---------------------------------------------------------------------------------------------- CLI cases


def tree_hash(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}  # fmt: skip


def run_dirs(argv: list[str]) -> list[Path]:
    """Every argument (or the PATH of NAME=PATH) that is an existing run directory."""
    found = []
    for arg in argv:
        for candidate in {arg, arg.partition("=")[2]} - {""}:
            if (Path(candidate) / "config.json").is_file():
                found.append(Path(candidate))
    return found


def output_ok(argv: list[str]) -> str | None:
    """After a success: None when an output named .png/.gif/.onnx exists as that format, else why not."""
    for flag in ("--out", "--onnx"):
        if flag not in argv:
            continue
        path = Path(argv[argv.index(flag) + 1])
        suffix = path.suffix.lower().lstrip(".")
        if suffix not in ("png", "gif", "onnx"):
            continue
        if not path.is_file():
            return f"exit 0 but {path.name} was not written"
        if suffix != "onnx":
            with Image.open(path) as im:
                if im.format != suffix.upper():
                    return f"exit 0 but {path.name} is a {im.format} file"
    return None


def judge_cli(rc: int, lines: list[str], expect: str, problem: str | None) -> tuple[bool, str]:
    """(clean, why not) for one finished CLI case; ``problem``: a timeout, a changed run, a bad output."""
    if problem:
        return False, problem
    if any("Traceback" in line for line in lines):
        return False, "traceback"
    if rc == 0:
        return (False, "exit 0, expected an error") if expect == "error" else (True, "")
    if expect == "ok":
        return False, f"exit {rc}, expected success"
    errors = [line for line in lines if line.startswith("error:")]
    other = [line for line in lines if not line.startswith(("error:", "warning:"))]
    if len(errors) != 1:
        return False, f"{len(errors)} 'error:' lines on stderr"
    if other:
        return False, f"{len(other)} stderr line(s) besides error:/warning: ({other[0][:60]!r}...)"
    return True, ""


def run_cli(name: str, group: str, template: str, expect: str, ctx: dict[str, Any], timeout: float) -> dict:
    """Run one case: format its arguments, hash the run dirs it names, run it, judge it."""
    new = ctx["root"] / "out" / re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    argv = GANFORGE + shlex.split(template.format(**ctx, new=new))
    runs = run_dirs(argv)
    before = {r: tree_hash(r) for r in runs}
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                            start_new_session=True, cwd=ctx["root"])  # fmt: skip
    problem = None
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the case's own process group
        _, stderr = proc.communicate()
        problem = f"still running after {timeout:g} s (killed)"
    seconds = time.perf_counter() - t0
    changed = [str(r) for r in runs if tree_hash(r) != before[r]]
    if changed and not problem:
        problem = f"changed the run directory {changed[0]}"
    if proc.returncode == 0 and not problem:
        problem = output_ok(argv)
    lines = [ANSI.sub("", line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line]
    clean, why = judge_cli(proc.returncode, lines, expect, problem)
    first = next((line for line in lines if line.startswith("error:")), lines[0] if lines else "")
    case = {"name": name, "group": group, "clean": clean, "expect": expect, "exit": proc.returncode,
            "first_line": first[:300], "last_line": lines[-1][:300] if lines else "", "why_not_clean": why,
            "seconds": round(seconds, 2), "command": shlex.join(argv)}  # fmt: skip
    mark = "clean" if clean else "NOT CLEAN"
    code = proc.returncode
    print(f"  [{group}] {name:48.48} {mark:9} exit {code:>4}  {seconds:6.1f}s  {first[:70]}", flush=True)
    return case


def cli_group(ctx: dict[str, Any], timeout: float) -> list[dict]:
    """Flag values at and past their bounds."""
    return [run_cli(name, "cli", tpl, expect, ctx, timeout) for name, tpl, expect in CLI_CASES]


def data_group(ctx: dict[str, Any], timeout: float) -> list[dict]:
    """Bad image folders and CSV files."""
    return [run_cli(name, "data", tpl, expect, ctx, timeout) for name, tpl, expect in DATA_CASES]


def paths_group(ctx: dict[str, Any], timeout: float) -> tuple[list[dict], list[dict]]:
    """Outputs under a regular file and in a read-only folder (skipped where chmod does not stop writes)."""
    cases, skipped = [], []
    for name, tpl, expect in PATH_CASES:
        if "{ro}" in tpl and ctx["ro_skip"]:
            skipped.append({"name": name, "group": "paths", "skipped": ctx["ro_skip"]})
            print(f"  [paths] {name:48.48} skipped: {ctx['ro_skip']}", flush=True)
            continue
        cases.append(run_cli(name, "paths", tpl, expect, ctx, timeout))
    return cases, skipped


def resume_group(ctx: dict[str, Any], timeout: float) -> list[dict]:
    """``--resume`` on a run of the wrong kind, without training settings, or missing."""
    return [run_cli(name, "resume", tpl, expect, ctx, timeout) for name, tpl, expect in RESUME_CASES]


# ---------------------------------------------------------------------------------------------- HTTP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         timeout: float = 60) -> tuple[int | None, bytes, str]:  # fmt: skip
    """One raw HTTP/1.1 request (``Connection: close``): (status or None, body, note on a dropped line)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    chunks, note = [], ""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            try:
                s.sendall(head.encode("latin-1") + b"\r\n" + (body or b""))
            except OSError as e:  # the server may answer before reading it all, and close
                note = f"send: {e.__class__.__name__}"
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except OSError as e:
        note = (note + "; " if note else "") + f"recv: {e.__class__.__name__}: {e}"
    raw = b"".join(chunks)
    if not raw.startswith(b"HTTP/"):
        return None, raw, note or "connection closed without a response"
    head_bytes, _, payload = raw.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head_bytes.lower():
        payload = dechunk(payload)
    return status, payload, note


def dechunk(data: bytes) -> bytes:
    out, rest = [], data
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2 :]
    return b"".join(out)


def start_server(specs: list[str], extra: list[str], log: Path) -> tuple[subprocess.Popen, int, str]:
    """``ganforge serve`` in its own process group; returns once /api/health answers 200."""
    port = free_port()
    argv = GANFORGE + ["serve", *specs, "--port", str(port), *extra]
    proc = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        if http(port, "GET", "/api/health", timeout=2)[0] == 200:
            return proc, port, shlex.join(argv)
        time.sleep(0.25)
    stop_server(proc)
    raise RuntimeError(f"server did not answer within 120 s:\n{log.read_text()[-3000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def judge_http(status: int | None, payload: bytes, expect: str, note: str) -> tuple[bool, str, str]:
    """(clean, why not, error text) for one response."""
    if status is None:
        return False, f"dropped connection ({note})", ""
    if expect == "ok":
        return (status == 200), ("" if status == 200 else f"status {status}, expected 200"), ""
    try:
        body = json.loads(payload)
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    text = error if isinstance(error, str) else payload[:200].decode("utf-8", "replace")
    if not 400 <= status < 500:
        return False, f"status {status}", text
    if not isinstance(error, str):
        return False, 'body is not JSON {"error": "..."}', text
    if "\n" in error.strip() or not error.strip():
        return False, "error text is empty or spans several lines", text
    return True, "", text


def http_group(ctx: dict[str, Any]) -> tuple[list[dict], str]:
    """Bad requests to one server holding the image run (img) and the table run (people)."""
    specs = [f"img={ctx['img']}", f"people={ctx['tab']}"]
    proc, port, command = start_server(specs, [], ctx["root"] / "serve-http.log")
    cases = []
    try:
        for name, method, path, body, expect in HTTP_CASES:
            t0 = time.perf_counter()
            status, payload, note = http(port, method, path, body)
            seconds = time.perf_counter() - t0
            clean, why, text = judge_http(status, payload, expect, note)
            cases.append({"name": name, "group": "http", "clean": clean, "expect": expect, "status": status,
                          "first_line": text.splitlines()[0][:300] if text else note, "why_not_clean": why,
                          "seconds": round(seconds, 3), "request": f"{method} {path}",
                          "body_bytes": None if body is None else len(body)})  # fmt: skip
            mark = "clean" if clean else "NOT CLEAN"
            shown = cases[-1]["first_line"][:70]
            print(f"  [http] {name:49.49} {mark:9} status {status}  {seconds:5.2f}s  {shown}", flush=True)
        alive = proc.poll() is None and http(port, "GET", "/api/health", timeout=5)[0] == 200
        cases.append({"name": "server still healthy after the bad requests", "group": "http", "clean": alive,
                      "expect": "ok", "status": 200 if alive else None, "first_line": "",
                      "why_not_clean": "" if alive else "server gone or unhealthy", "seconds": 0.0,
                      "request": "GET /api/health", "body_bytes": None})  # fmt: skip
    finally:
        stop_server(proc)
    return cases, command


def slow_client(ctx: dict[str, Any]) -> dict[str, Any]:
    """8 half-sent requests against --max-connections 8 --read-timeout 5: seconds until health is 200
    again (polled every 0.25 s, up to 60 s), and the answer to a 100 KB request header."""
    extra = ["--max-connections", "8", "--read-timeout", "5"]
    try:
        proc, port, command = start_server([f"img={ctx['img']}"], extra, ctx["root"] / "serve-slow.log")
    except RuntimeError:  # a ganforge without --read-timeout (an older one, measured for comparison)
        proc, port, command = start_server([f"img={ctx['img']}"], extra[:2], ctx["root"] / "serve-slow.log")
    result: dict[str, Any] = {"command": command, "slow_sockets": 8}
    try:
        socks = []
        for _ in range(8):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")  # no blank line: the head never ends
            socks.append(s)
        t0 = time.perf_counter()
        seen: dict[str, int] = {}
        recovered = None
        while time.perf_counter() - t0 < 60:
            status, _, _ = http(port, "GET", "/api/health", timeout=2)
            seen[str(status)] = seen.get(str(status), 0) + 1
            if status == 200:
                recovered = time.perf_counter() - t0
                break
            time.sleep(0.25)
        dropped = 0
        for s in socks:
            s.settimeout(0.5)
            try:
                dropped += s.recv(1024) == b""
            except TimeoutError:
                pass
            except OSError:
                dropped += 1
            s.close()
        status, payload, note = http(port, "GET", "/api/health", headers={"X-Big": "a" * 100_000}, timeout=30)
        result.update(
            seconds_until_health_200=None if recovered is None else round(recovered, 2),
            gave_up_after_s=None if recovered is not None else 60,
            poll_statuses=seen,
            slow_sockets_dropped_by_server=dropped,
            header_100kb_status=status,
            header_100kb_got_431=status == 431,
            header_100kb_body=payload[:200].decode("utf-8", "replace") or note,
            healthy_after=http(port, "GET", "/api/health", timeout=5)[0] == 200,
        )
    finally:
        stop_server(proc)
    return result


def wide_table(ctx: dict[str, Any], cap_gb: float = 8.0) -> dict[str, Any]:
    """``train table`` on a 50-row x 5,000-column numeric CSV (about 1.6 MB): peak resident memory of the
    process (VmRSS polled every 50 ms), its exit and last line. Killed when it passes ``cap_gb`` (a
    runaway), which is recorded."""
    rng = np.random.default_rng(0)
    path = ctx["root"] / "wide.csv"
    frame = pd.DataFrame(rng.normal(size=(50, 5000)).round(3), columns=[f"c{i}" for i in range(5000)])
    frame.to_csv(path, index=False)
    argv = GANFORGE + ["train", "table", str(path), "--epochs", "2", "--device", "cpu",
                       "--out", str(ctx["root"] / "out" / "wide")]  # fmt: skip
    err = ctx["root"] / "wide.err"
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err.open("wb"))
    peak_kb, killed = 0, False
    while proc.poll() is None:
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except OSError:
            pass
        if peak_kb > cap_gb * 2**20 and not killed:
            proc.kill()
            killed = True
        time.sleep(0.05)
    lines = [ln for ln in ANSI.sub("", err.read_text(errors="replace")).splitlines() if ln.strip()]
    return {
        "command": shlex.join(argv),
        "csv_bytes": path.stat().st_size,
        "exit": proc.returncode,
        "seconds": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": round(peak_kb / 1024),
        "killed_at_cap_gb": cap_gb if killed else None,
        "note": next((ln for ln in lines if ln.startswith("note:")), None),
        "last_line": lines[-1] if lines else "",
        "trained": (ctx["root"] / "out" / "wide" / "model.safetensors").is_file(),
    }


# ---------------------------------------------------------------------------------------------- main


def totals(cases: list[dict], skipped: list[dict]) -> dict[str, dict[str, int]]:
    out = {}
    for group in GROUPS:
        mine = [c for c in cases if c["group"] == group]
        out[group] = {"tried": len(mine), "clean": sum(c["clean"] for c in mine),
                      "skipped": sum(s["group"] == group for s in skipped)}  # fmt: skip
    out["all"] = {k: sum(v[k] for v in out.values()) for k in ("tried", "clean", "skipped")}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds a CLI case may run (default 120)")
    every = ",".join(GROUPS + ["slow", "wide"])
    ap.add_argument("--groups", default=every, help=f"comma-separated, from {every} (default: all)")
    ap.add_argument("--out", type=Path, default=RESULTS / "robustness.json")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    ap.add_argument("--src", type=Path, help="measure the ganforge of this source tree (e.g. a worktree of an "
                    "older commit: its src/ folder goes first on PYTHONPATH of every command)")  # fmt: skip
    args = ap.parse_args()
    if args.src is not None:
        os.environ["PYTHONPATH"] = str((args.src / "src").resolve())
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    t_start = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="ganforge-robustness-"))
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    cases: list[dict] = []
    skipped: list[dict] = []
    slow: dict[str, Any] | None = None
    wide: dict[str, Any] | None = None
    http_command = None
    ctx: dict[str, Any] = {}
    try:
        print(f"building inputs in {root} ...", flush=True)
        ctx.update(build_inputs(root))
        ctx["busy_port"] = busy.getsockname()[1]
        print(f"inputs ready in {time.perf_counter() - t_start:.0f} s", flush=True)
        if "cli" in groups:
            cases += cli_group(ctx, args.timeout)
        if "data" in groups:
            cases += data_group(ctx, args.timeout)
        if "paths" in groups:
            done, skipped = paths_group(ctx, args.timeout)
            cases += done
        if "resume" in groups:
            cases += resume_group(ctx, args.timeout)
        if "http" in groups:
            http_cases, http_command = http_group(ctx)
            cases += http_cases
        if "slow" in groups:
            slow = slow_client(ctx)
        if "wide" in groups:
            wide = wide_table(ctx)
    finally:
        busy.close()
        if (root / "read-only").exists():
            (root / "read-only").chmod(0o755)  # so that it can be removed
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    seconds = time.perf_counter() - t_start
    data = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "python": platform.python_version(),
        "command": shlex.join([sys.executable, *sys.argv]),
        "cwd": os.getcwd(),
        "timeout_s": args.timeout,
        "run_seconds": round(seconds, 1),
        "definition": DEFINITION,
        "totals": totals(cases, skipped),
        "slow_client": slow,
        "wide_table": wide,
        "ganforge": subprocess.run(
            [sys.executable, "-c", "import ganforge; print(ganforge.__version__, ganforge.__file__)"],
            capture_output=True,
            text=True,
        ).stdout.strip(),  # fmt: skip
        "src": str(args.src) if args.src else None,
        "http_server_command": http_command,
        "input_build_commands": ctx.get("build_commands"),
        "cases": cases,
        "skipped": skipped,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print_summary(data)
    print(f"saved {args.out}")


def print_summary(data: dict[str, Any]) -> None:
    print(f"\n{'group':8} {'tried':>5} {'clean':>5} {'skipped':>7}")
    for group, t in data["totals"].items():
        print(f"{group:8} {t['tried']:>5} {t['clean']:>5} {t['skipped']:>7}")
    bad = [c for c in data["cases"] if not c["clean"]]
    print(f"\nnot clean ({len(bad)}):" if bad else "\nevery case tried was clean")
    for c in bad:
        code = f"exit {c['exit']}" if "exit" in c else f"status {c['status']}"
        print(f"  [{c['group']}] {c['name']}: {code}; {c['why_not_clean']}; {c['first_line'][:120]}")
    if data["skipped"]:
        print(f"skipped ({len(data['skipped'])}): {data['skipped'][0]['skipped']}")
    if data["slow_client"]:
        s = data["slow_client"]
        print(f"slow clients: health 200 after {s['seconds_until_health_200']} s "
              f"(gave up: {s['gave_up_after_s']}); polls {s['poll_statuses']}; "
              f"100 KB header -> {s['header_100kb_status']} (431: {s['header_100kb_got_431']})")  # fmt: skip
    if data["wide_table"]:
        w = data["wide_table"]
        print(f"wide table (50 x 5,000): peak {w['peak_rss_mb']:,} MB, exit {w['exit']}, trained {w['trained']}"
              f"{', killed at ' + str(w['killed_at_cap_gb']) + ' GB' if w['killed_at_cap_gb'] else ''}; {w['last_line'][:100]}")  # fmt: skip
    print(f"run time {data['run_seconds']} s")


if __name__ == "__main__":
    main()
