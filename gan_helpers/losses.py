r"""GAN losses from the discriminator's logits, in the numerically stable softplus form.

With :math:`D = \sigma(l)`: :math:`-\log D = \mathrm{softplus}(-l)` and
:math:`-\log(1 - D) = \mathrm{softplus}(l)`. These never take the log of a rounded 0 or 1,
so they stay finite where the textbook forms overflow (see ``naive_*`` and notebook 02).
"""

from __future__ import annotations

from collections.abc import Callable

from keras import ops

LossFn = Callable[..., object]


def discriminator_loss(real_logits, fake_logits):
    """BCE with label 1 on real and 0 on fake: −E[log D(x)] − E[log(1 − D(G(z)))] = −V(D, G)."""
    return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))


def generator_loss_nonsaturating(fake_logits):
    """−E[log D(G(z))], BCE with label 1 on fakes: strong gradients while D rejects the fakes."""
    return ops.mean(ops.softplus(-fake_logits))


def generator_loss_minimax(fake_logits):
    """E[log(1 − D(G(z)))], the generator's side of the minimax game; it saturates early on."""
    return -ops.mean(ops.softplus(fake_logits))


def critic_loss_wasserstein(real_scores, fake_scores):
    """WGAN critic: E[f(G(z))] − E[f(x)], minimised, so f scores real data high (no sigmoid)."""
    return ops.mean(fake_scores) - ops.mean(real_scores)


def generator_loss_wasserstein(fake_scores):
    """WGAN generator: −E[f(G(z))]."""
    return -ops.mean(fake_scores)


def discriminator_loss_hinge(real_logits, fake_logits):
    """Hinge (Lim & Ye 2017; Miyato et al. 2018): E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))].
    Scores already beyond the margin (real above 1, fake below −1) give D no gradient."""
    return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))


def generator_loss_hinge(fake_logits):
    """The hinge GAN's generator loss, −E[D(G(z))] (the same formula as WGAN's; its own function,
    so that a hinge D is never paired with a Wasserstein G by mistake)."""
    return -ops.mean(fake_logits)


GENERATOR_LOSSES: dict[str, LossFn] = {
    "nonsaturating": generator_loss_nonsaturating,
    "minimax": generator_loss_minimax,
    "wasserstein": generator_loss_wasserstein,
    "hinge": generator_loss_hinge,
}
DISCRIMINATOR_LOSSES: dict[str, LossFn] = {
    "bce": discriminator_loss,
    "wasserstein": critic_loss_wasserstein,
    "hinge": discriminator_loss_hinge,
}


def get_generator_loss(name_or_fn: str | LossFn) -> LossFn:
    """A generator loss by name (``"nonsaturating"``, ``"minimax"``, ``"wasserstein"`` or ``"hinge"``) or a
    callable as is."""
    if callable(name_or_fn):
        return name_or_fn
    try:
        return GENERATOR_LOSSES[name_or_fn]
    except KeyError:
        raise ValueError(f"generator loss {name_or_fn!r} is not known; choose one of "
                         f"{', '.join(GENERATOR_LOSSES)} or pass a function of the fake logits."
                         ) from None


def get_discriminator_loss(name_or_fn: str | LossFn) -> LossFn:
    """A discriminator loss by name (``"bce"``, ``"wasserstein"`` or ``"hinge"``) or a callable as is."""
    if callable(name_or_fn):
        return name_or_fn
    try:
        return DISCRIMINATOR_LOSSES[name_or_fn]
    except KeyError:
        raise ValueError(f"discriminator loss {name_or_fn!r} is not known; choose one of "
                         f"{', '.join(DISCRIMINATOR_LOSSES)} or pass a function of the real and fake "
                         "logits.") from None


def gradient_penalty(critic: Callable, real, fake, alpha):
    r"""WGAN-GP's penalty :math:`E[(\lVert\nabla_{\hat x} D(\hat x)\rVert_2 - 1)^2]` at
    :math:`\hat x = \alpha x + (1 - \alpha) G(z)`, with one :math:`\alpha \sim U(0, 1)` per sample
    (``alpha`` has shape [N, 1, 1, …]); ``critic`` maps images to scores (Gulrajani et al. 2017, eq. 3)."""
    import tensorflow as tf

    mixed = alpha * real + (1.0 - alpha) * tf.cast(fake, real.dtype)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        scores = critic(mixed)
    grads = tf.reshape(tape.gradient(scores, mixed), [tf.shape(real)[0], -1])
    norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=1) + 1e-12)  # finite gradient at 0
    return tf.reduce_mean(tf.square(norm - 1.0))


# The textbook forms, kept to show (and test) where they break.
def naive_discriminator_loss(real_logits, fake_logits):
    """−mean(log σ(l_real)) − mean(log(1 − σ(l_fake))), computed literally (float32 overflows)."""
    return -ops.mean(ops.log(ops.sigmoid(real_logits))) - ops.mean(
        ops.log(1.0 - ops.sigmoid(fake_logits)))


def naive_generator_loss_nonsaturating(fake_logits):
    """−mean(log σ(l)), computed literally."""
    return -ops.mean(ops.log(ops.sigmoid(fake_logits)))


def naive_generator_loss_minimax(fake_logits):
    """mean(log(1 − σ(l))), computed literally."""
    return ops.mean(ops.log(1.0 - ops.sigmoid(fake_logits)))
