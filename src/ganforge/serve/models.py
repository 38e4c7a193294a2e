"""The models a server holds: loaded once at start-up from run directories and addressed by name.

What a model can do comes from its wing (``Wing.serve_info``): its ``capabilities`` (the endpoints it
answers, which ``GET /api/models`` lists and the page reads), its facts, and the call the server batches
across requests when the wing offers one (``Wing.serve_generate``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganforge.core import registry
from ganforge.engine import artifact
from ganforge.errors import ConfigError, GanforgeError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass
class ServedModel:
    """One model the server offers: its name, kind, the loaded object, its card and what it can do
    (``info["capabilities"]``: the endpoints it answers, e.g. images and interpolate, or rows)."""

    name: str
    kind: str
    model: Any
    card: str
    model_id: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    usage: str = ""  # what it makes and which endpoints to use, for a request to the wrong one
    generate: Callable[..., Any] | None = None  # batched across requests when given: (z, c) -> outputs

    def can(self, capability: str) -> bool:
        """Whether this model answers the endpoint ``capability``."""
        return capability in self.info.get("capabilities", ())

    def describe(self) -> dict[str, Any]:
        """What ``GET /api/models`` lists for this model."""
        return {
            "name": self.name,
            "kind": self.kind,
            "model_id": self.model_id,
            **self.info,
            "card": self.card,
        }


def parse_spec(spec: str) -> tuple[str, Path]:
    """``NAME=PATH`` or ``PATH`` (named after its folder) -> (name, path)."""
    name, sep, path = spec.partition("=")
    if not sep:
        name, path = Path(spec).resolve().name, spec
    if not NAME.fullmatch(name):  # fullmatch: "$" alone would let a final newline through
        raise ConfigError(
            f"model name {name!r} must be 1-64 letters, digits, '.', '_' or '-' (name it with NAME=PATH)"
        )
    return name, Path(path)


def load_models(specs: list[str], device: str = "cpu") -> dict[str, ServedModel]:
    """Load every run (``NAME=PATH`` or ``PATH``) once; names must be unique."""
    from ganforge.engine.model import load

    if not specs:
        raise ConfigError("give at least one run directory to serve")
    out: dict[str, ServedModel] = {}
    for spec in specs:
        name, path = parse_spec(spec)
        if name in out:
            raise ConfigError(f"two runs are named {name!r}; name them with NAME=PATH")
        kind = artifact.read_config(path).get("kind")
        model = load(path, device=device)
        card_path = path / artifact.CARD
        card = card_path.read_text(errors="replace") if card_path.is_file() else ""
        wing = registry.wing(kind, where=path)
        try:
            info = wing.serve_info(model)
        except GanforgeError as e:  # one run the server cannot offer does not take the others down
            warnings.warn(f"not serving {name} ({path}): {e}", stacklevel=2)
            continue
        usage = info.pop("usage")
        out[name] = ServedModel(
            name,
            str(kind),
            model,
            card,
            getattr(model, "model_id", None),
            info,
            usage,
            wing.serve_generate(model),
        )
    if not out:
        raise ConfigError("none of the runs given can be served")
    return out
