"""The images wing: image GANs (data, codec, nets, recipe, ImageGAN, evaluation, report, CLI, watermark,
ONNX export, detector), with image-to-image GANs in img2img/."""

USES: tuple[str, ...] = ()  # other wings this wing may import (none)
