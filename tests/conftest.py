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


def ganforge_cmd() -> list[str]:
    """The installed CLI, run as a real subprocess."""
    import sys

    return [sys.executable, "-m", "ganforge"]


os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
