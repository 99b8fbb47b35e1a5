import numpy as np
import pytest

from gan_helpers import models


@pytest.mark.parametrize("latent_dim,width", [(8, 4), (64, 32)])
def test_shapes_and_logit_output(latent_dim, width):
    g = models.build_generator(latent_dim, width)
    d = models.build_discriminator(width)
    z = np.random.default_rng(0).standard_normal((5, latent_dim)).astype("float32") * 5
    img = g(z, training=False).numpy()
    assert img.shape == (5, 28, 28, 1) and img.min() >= -1 and img.max() <= 1
    out = d(img, training=False).numpy()
    assert out.shape == (5, 1)
    # a logit, not a probability: a large-weight input must be able to leave [0, 1]
    assert d.layers[-1].activation.__name__ == "linear"


def test_width_scales_the_filters():
    small, large = models.build_generator(16, 8), models.build_generator(16, 16)
    assert large.count_params() > 2 * small.count_params()


@pytest.mark.parametrize("kwargs", [{"latent_dim": 0}, {"width": -3}, {"width": 2.5}])
def test_bad_sizes_are_rejected(kwargs):
    with pytest.raises(ValueError, match="positive integer"):
        models.build_generator(**kwargs)


def test_bad_dropout_is_rejected():
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        models.build_discriminator(dropout=1.0)
