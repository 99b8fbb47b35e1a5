"""Every setting of the default DCGAN in one frozen recipe, its step schedule, and the one rule that
compiles any of the package's GANs with a recipe's optimizers."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

from . import config, models
from .training import GAN, make_optimizers

DEFAULT_STEPS = 3000  # Adam steps of the default recipe; notebook 04 measures what they buy


class Settings:
    """What every frozen recipe can do: ``replace`` (refusing unknown names) and ``record`` (JSON)."""

    kind = "recipe"   # how error messages name these settings

    def replace(self, **changes):
        """A copy with some settings changed; unknown names are refused with the list of known ones."""
        known = [f.name for f in dataclasses.fields(self)]
        unknown = set(changes) - set(known)
        if unknown:
            raise ValueError(f"unknown {self.kind} settings {sorted(unknown)}; known: {', '.join(known)}")
        return dataclasses.replace(self, **changes)

    def record(self) -> dict:
        """The settings as the JSON values a provenance record holds (and compares)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


@dataclass(frozen=True)
class DCGANRecipe(Settings):
    """Every setting of the default DCGAN in one place: the CLI, notebooks 04–07 and the benchmarks
    build from it. Notebook 04 measures each choice against the alternatives it replaced."""

    latent_dim: int = 64
    g_width: int = 32            # G: 7×7×4w → 14×14×2w → 28×28×1
    d_width: int = 64            # D: 14×14×w → 7×7×2w → logit
    d_dropout: float = 0.0
    batch_size: int = 64
    lr: float = 2e-3             # Adam, both networks (DCGAN's 2e-4 is for long runs; notebook 04, §8)
    d_lr: float | None = None    # None: same as lr
    beta_1: float = 0.5
    beta_2: float = 0.999
    ema_decay: float | None = 0.999
    share_fakes: bool = True     # G's update reuses the fakes of D's: one generator pass per step
    steps: int = DEFAULT_STEPS
    clusters: int = 0            # k > 0: self-condition on k k-means clusters (gan_helpers.selfcond)

    def build(self, seed: int | None = None, mixed_precision: bool = False, **compile_kwargs) -> GAN:
        """The plain DCGAN of this recipe, compiled. A self-conditioned recipe (``clusters`` > 0) needs
        the clusters of its images: ``jobs.build_gan("dcgan", recipe, clusters=…)``."""
        if self.clusters:
            raise ValueError(f"this recipe self-conditions on {self.clusters} clusters of the training "
                             "images: build it with gh.jobs.gan_and_data(recipe, images) or "
                             "gh.jobs.build_gan('dcgan', recipe, clusters=gh.selfcond.cluster_images(x, "
                             f"{self.clusters})); recipe.replace(clusters=0) is the plain DCGAN.")
        gan = GAN(models.build_generator(self.latent_dim, self.g_width),
                  models.build_discriminator(self.d_width, self.d_dropout), seed=seed,
                  ema_decay=self.ema_decay)
        return self.compile(gan, mixed_precision, **compile_kwargs)

    def compile(self, gan: GAN, mixed_precision: bool = False, **compile_kwargs) -> GAN:
        """Compile ``gan`` (plain, conditional or self-conditioned) with this recipe's optimizers and
        shared-fakes setting."""
        compile_kwargs.setdefault("share_fakes", self.share_fakes)
        return compile_gan(gan, self.lr, self.beta_1, self.beta_2, d_lr=self.d_lr,
                           mixed_precision=mixed_precision, **compile_kwargs)


def compile_gan(gan: GAN, lr: float, beta_1: float, beta_2: float, d_lr: float | None = None,
                mixed_precision: bool = False, **compile_kwargs) -> GAN:
    """The one compile rule of every recipe-built GAN: two Adam optimizers, XLA as
    ``config.default_jit_compile`` says, the rest (losses, ``d_steps``…) to ``GAN.compile``."""
    compile_kwargs.setdefault("jit_compile", config.default_jit_compile())
    gan.compile(*make_optimizers(lr, beta_1, mixed_precision, d_lr=d_lr, beta_2=beta_2), **compile_kwargs)
    return gan


def schedule(n_images: int, batch_size: int, steps: int = DEFAULT_STEPS) -> tuple[int, int]:
    """(epochs, steps per epoch) for exactly ``steps`` updates when whole passes over the data would
    overshoot: 24 × 125 on the 8,000 bundled digits (whole passes), 4 × 750 on full MNIST's 60,000
    (each "epoch" then covers part of the shuffled data), so both get the same step budget."""
    per_pass = max(1, n_images // batch_size)
    epochs = default_epochs(n_images, batch_size, steps)
    return epochs, min(per_pass, math.ceil(steps / epochs))


def default_epochs(n_images: int, batch_size: int, steps: int = DEFAULT_STEPS) -> int:
    """Epochs for about ``steps`` updates: 20 on the 10,000-digit sample, 4 on full MNIST (batch 64)."""
    return max(1, math.ceil(steps / max(1, n_images // batch_size)))
