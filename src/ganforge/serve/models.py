"""The models a server holds: loaded once at start-up from run directories and addressed by name.

Image requests are turned into latents here (from the request's own seed, exactly as
``ImageGAN.sample`` draws them, so the server returns the same images as the Python API), then generated
in shared batches; every image leaves the generator already carrying the invisible watermark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.core import registry
from ganforge.engine import artifact
from ganforge.errors import ConfigError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


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

    # ------------------------------------------------------------------ images
    def class_index(self, klass: int | str | None) -> int | None:
        """A class given by index or by name, as an index; ConfigError when it does not exist."""
        rc = self.model.recipe_config
        if klass is None:
            return None
        if not rc.num_classes:
            raise ConfigError(f"model {self.name!r} is unconditional: it takes no class")
        if isinstance(klass, str):
            if klass in rc.class_names:
                return rc.class_names.index(klass)
            if klass.isdigit():
                klass = int(klass)
            else:
                names = ", ".join(rc.class_names)
                raise ConfigError(f"model {self.name!r} has no class {klass!r} (classes: {names})")
        if not 0 <= klass < rc.num_classes:
            raise ConfigError(
                f"class must be in 0..{rc.num_classes - 1} for model {self.name!r} (got {klass})"
            )
        return klass

    def latents(
        self, n: int, klass: int | None, seed: int, truncation: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Latents and labels for ``n`` images, drawn from ``seed`` as ``ImageGAN.sample`` draws them.

        Truncation: the generator takes a plain N(0, I) latent and has no truncation of its own, so the
        standard truncation trick is applied to the latent: ``z <- psi * z`` pulls every latent toward
        the mean (0) of its distribution. psi 1 is off; lower values trade variety for typical, cleaner
        images; psi 0 gives every image of a class the same (mean) latent.
        """
        gan = self.model
        rng = torch.Generator().manual_seed(seed)
        c = gan.labels_for(n, klass, rng)
        z = torch.randn(n, gan.recipe_config.z_dim, generator=rng)
        return z * truncation, c

    def interpolation(
        self, seed_a: int, seed_b: int, klass: int | None, frames: int, truncation: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Latents walking from the image of ``seed_a`` to the image of ``seed_b`` (spherical interpolation).

        Both ends are images ``/images`` returns for those seeds with n=1 and the same class; without a
        class, a conditional model uses the class drawn for ``seed_a`` all the way.
        """
        from ganforge.images.model import slerp

        z_a, c = self.latents(1, klass, seed_a, truncation)
        if c is not None:
            klass = int(c[0])
        z_b, _ = self.latents(1, klass, seed_b, truncation)
        t = torch.linspace(0, 1, frames).view(-1, 1)
        z = slerp(z_a[0], z_b[0], t)
        return z, (c.expand(frames).contiguous() if c is not None else None)

    def generate_marked(self, z: torch.Tensor, c: torch.Tensor | None) -> np.ndarray:
        """One generator call on ``z`` (and labels ``c``): watermarked uint8 images (N, H, W, C)."""
        from ganforge.images.codec import decode_images
        from ganforge.images.watermark import mark

        gan = self.model
        with torch.no_grad():
            x = gan.G_ema(z.to(gan.device), c.to(gan.device) if c is not None else None)
        return mark(decode_images(x), gan.model_id)


def parse_spec(spec: str) -> tuple[str, Path]:
    """``NAME=PATH`` or ``PATH`` (named after its folder) -> (name, path)."""
    name, sep, path = spec.partition("=")
    if not sep:
        name, path = Path(spec).resolve().name, spec
    if not NAME.match(name):
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
        info = registry.wing(kind).serve_info(model)
        usage = info.pop("usage")
        out[name] = ServedModel(name, str(kind), model, card, getattr(model, "model_id", None), info, usage)
    return out
