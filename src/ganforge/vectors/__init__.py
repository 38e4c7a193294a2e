"""The vectors wing: a GAN on rows of real numbers (points in d dimensions), the smallest complete wing.

It is the template a new kind of data copies: ``data.py`` reads and encodes, ``recipe.py`` / ``nets.py``
build the networks, ``model.py`` is the public model on the shared GANModel lifecycle, ``cli.py`` the
commands, ``evaluate.py`` the figures, ``wing.py`` what the registry calls. It imports no other wing.
"""

USES: tuple[str, ...] = ()  # other wings this wing may import (none)
