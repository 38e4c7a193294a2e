"""The tables wing: tabular GANs (metadata, codec, streams, nets, recipe, TableGAN, sampling, evaluation,
report, CLI), with differential privacy in privacy/."""

USES: tuple[str, ...] = ()  # other wings this wing may import (none)
