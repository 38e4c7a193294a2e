import os

# Tiny models run fastest on one thread (subprocesses inherit this), and the suite then behaves the
# same on any core count.
os.environ["OMP_NUM_THREADS"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def cli_in_process(capsys, monkeypatch, *args):
    """The command line's entry point run in this process (a subprocess costs seconds of imports)."""
    import subprocess
    import sys

    from ganforge.cli.main import main

    monkeypatch.setattr(sys, "argv", ["ganforge", *args])
    with pytest.raises(SystemExit) as stop:
        main()
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, stop.value.code, captured.out, captured.err)


def ganforge_cmd() -> list[str]:
    """The installed CLI, run as a real subprocess."""
    import sys

    return [sys.executable, "-m", "ganforge"]


os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
