"""The jobs ``python -m gan_helpers train`` can run: the main job, and the ``--model`` table in one place
(how each model is built, which losses fit it, what its data and pictures carry)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import callbacks, conditional, data, plots, selfcond, variants
from .recipes import DCGANRecipe
from .training import GAN, generate_from, noise

# `make train`: the recipe, self-conditioned on 50 clusters (04, section 9). 2,500 steps, not 3,000: it
# scores as well (README, "Measured") and its training fits in five minutes on a 2-core CPU.
MAIN_JOB = DCGANRecipe(clusters=50, steps=2500)


@dataclass(frozen=True)
class Model:
    """One ``--model``: its notebook, the generator losses that fit its critic (its own first), what
    the training batches carry besides images, and what its pictures and generator file are."""

    name: str
    notebook: str
    losses: tuple[str, ...]
    labels: str                  # what batches carry: "classes" (the digits' labels), "clusters" (k-means
                                 # clusters when the recipe asks: the main job), "none"
    grid: str                    # "samples": an 8×8 grid of samples; "classes": one row per class
    generator_inputs: str        # what generator.keras takes, for its provenance record
    variant: variants.VariantRecipe | None = None

    def progress_grid(self, latent_dim: int, seed: int, gif_path: Path) -> callbacks.SampleGrid:
        """The progress callback: 64 fixed noise vectors, or for a class grid 10 (one column each, one
        row per digit)."""
        if self.grid == "classes":
            return conditional.ClassGrid(noise(10, latent_dim, seed), gif_path=gif_path)
        return callbacks.SampleGrid(noise(64, latent_dim, seed), gif_path=gif_path)

    def final_grid(self, gan: GAN, z) -> np.ndarray:
        """samples.png from the final (averaged, calibrated) generator: 8×8 samples, or the class grid."""
        if self.grid == "classes":
            return conditional.class_grid(gan.sampler, z)
        return plots.image_grid(generate_from(gan.sampler, z), ncols=8)

    def rows_per_step(self, batch_size: int) -> int:
        """Real images one training step takes: one batch per critic step (5 for wgan-gp)."""
        return batch_size * (self.variant.d_steps if self.variant else 1)


MODELS = {m.name: m for m in (
    Model("dcgan", "04", ("nonsaturating", "minimax"), "clusters", "samples", "z"),
    Model("cgan", "06", ("nonsaturating", "minimax"), "classes", "classes",
          "[z, labels]: z standard normal [N, latent_dim], labels int 0-9 [N]"),
    Model("wgan-gp", "07", ("wasserstein",), "none", "samples", "z", variants.WGAN_GP),
    Model("sngan", "07", ("hinge",), "none", "samples", "z", variants.SNGAN),
)}


GENERATOR_LOSSES = tuple(dict.fromkeys(loss for m in MODELS.values() for loss in m.losses))


def model(name: str) -> Model:
    """The table's row for ``name``, or a ``ValueError`` listing the known models."""
    if name not in MODELS:
        raise ValueError(f"model {name!r} is not known; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def check_model_loss(name: str, loss: str | None) -> str:
    """The generator loss to train ``name`` with (its own when ``loss`` is None); a loss that does not
    fit the model's critic (a Wasserstein loss on a sigmoid D, BCE on a critic) is a ``ValueError``."""
    allowed = model(name).losses
    if loss is None:
        return allowed[0]
    if loss not in allowed:
        owner = next((m.name for m in MODELS.values() if loss in m.losses), None)
        why = f"it belongs to --model {owner}" if owner else "no model uses it"
        raise ValueError(f"--loss {loss} does not fit --model {name} ({why}: BCE losses need the DCGAN's "
                         "sigmoid discriminator, Wasserstein and hinge losses an unbounded critic); "
                         f"--model {name} takes --loss {' or '.join(allowed)}")
    return loss


def build_gan(name: str, recipe: DCGANRecipe, seed: int | None = None, clusters=None,
              loss: str | None = None, **compile_kwargs) -> GAN:
    """The one path from a recipe to a compiled GAN of ``--model name``: the DCGAN (self-conditioned on
    ``clusters`` when the recipe asks for them), the conditional GAN, or a variant on the recipe's
    networks."""
    row, loss = model(name), check_model_loss(name, loss)
    if row.variant is not None:        # a variant's loss is its own: the one check_model_loss allows
        return row.variant.replace(base=recipe).build(seed=seed, **compile_kwargs)
    compile_kwargs.setdefault("g_loss_fn", loss)
    if row.labels == "classes":
        return conditional.build_conditional(recipe, seed=seed, **compile_kwargs)
    if recipe.clusters:
        return selfcond.build_self_conditioned(recipe, clusters, seed, **compile_kwargs)
    return recipe.build(seed=seed, **compile_kwargs)


def gan_and_data(recipe: DCGANRecipe, images: np.ndarray, seed: int = 0, **compile_kwargs):
    """The recipe's compiled DCGAN and its endless training stream (``data.resumable_dataset``; pass
    ``steps_per_epoch`` to ``fit``). With ``recipe.clusters``, the images are clustered first and the
    stream carries each image's cluster (``selfcond``)."""
    clusters = selfcond.cluster_images(images, recipe.clusters, seed=seed) if recipe.clusters else None
    gan = build_gan("dcgan", recipe, seed, clusters, **compile_kwargs)
    return gan, data.resumable_dataset(images, recipe.batch_size, seed=seed,
                                       labels=None if clusters is None else clusters.labels)
