import os

import pytest
import torch

# Tiny models run fastest on one thread, and the suite then behaves the same on any core count.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def ganforge_cmd() -> list[str]:
    """The installed CLI, run as a real subprocess."""
    import sys

    return [sys.executable, "-m", "ganforge"]


os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
