"""Image networks, augmentation and presets behave as documented."""

import numpy as np
import pytest
import torch

from ganforge.core.augment import diff_augment, translation
from ganforge.errors import ConfigError
from ganforge.images.codec import decode_images, encode_images
from ganforge.images.nets.common import resolution_ladder
from ganforge.images.recipe import PRESETS, ImageRecipe, ImageRecipeConfig, ImageSource


@pytest.mark.parametrize("res, ladder", [(16, [4, 8, 16]), (28, [7, 14, 28]), (64, [4, 8, 16, 32, 64])])
def test_resolution_ladder(res, ladder):
    assert resolution_ladder(res) == ladder


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
@pytest.mark.parametrize("res, ch", [(28, 1), (32, 3)])
def test_generator_and_discriminator_fit_together(arch, res, ch):
    recipe = ImageRecipe(ImageRecipeConfig(resolution=res, channels=ch, num_classes=3, arch=arch, width=8))
    g, d = recipe.build_generator().eval(), recipe.build_discriminator()
    z = recipe.sample_latents(4, torch.Generator().manual_seed(0))
    c = torch.tensor([0, 1, 2, 0])
    x = g(z, c)
    assert x.shape == (4, ch, res, res) and d(x, c).shape == (4,)
    # The class input changes the image for the same noise (conditioning is wired in).
    assert not torch.allclose(g(z, c), g(z, torch.tensor([1, 2, 0, 1])))


def test_spectral_norm_bounds_every_discriminator_layer():
    cfg = ImageRecipeConfig(resolution=16, channels=1, arch="resnet", width=8, spectral_norm=True)
    d = ImageRecipe(cfg).build_discriminator().train()
    x = torch.randn(8, 1, 16, 16)
    for _ in range(30):  # power iterations run in training-mode forward passes
        d(x)
    d.eval()
    layers = [m for m in d.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert layers
    for m in layers:
        w = m.weight.detach().flatten(1)
        assert torch.linalg.matrix_norm(w, ord=2) <= 1.05


def test_augmentation_is_identity_at_p0_and_differentiable():
    x = (torch.rand(6, 3, 16, 16) * 2 - 1).requires_grad_()
    rng = torch.Generator().manual_seed(0)
    assert torch.equal(diff_augment(x, 0.0, rng), x)
    y = diff_augment(x, 1.0, rng)
    assert not torch.allclose(y, x)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_moves_pixels_without_changing_them():
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 3, 3] = 1.0
    y = translation(x, 1.0, torch.Generator().manual_seed(1), ratio=0.25)
    assert y.sum() == 1.0 and y.max() == 1.0  # the bright pixel moved somewhere (or stayed) intact


def test_codec_round_trip_and_source():
    images = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    assert (decode_images(encode_images(images)) == images).all()
    x, c = ImageSource(images, np.array([0, 1, 2, 1, 0])).get(torch.tensor([4, 1]))
    assert torch.allclose(x, encode_images(images[[4, 1]])) and c.tolist() == [0, 1]


def test_presets_and_bad_recipe_options():
    assert {"default", "small-data", "r3gan", "dcgan"} <= set(PRESETS)
    assert PRESETS["small-data"]["ada_target"] is not None
    with pytest.raises(ConfigError, match="1 or 3 channels"):
        ImageRecipeConfig(channels=2)
    with pytest.raises(ConfigError, match="unknown architecture"):
        ImageRecipeConfig(arch="transformer")
