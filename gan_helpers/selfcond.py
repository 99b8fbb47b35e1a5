"""Self-conditioning: an unconditional GAN that conditions G and D on k-means clusters of the training
images instead of labels (Liu et al. 2020, arXiv 2006.10728; Sage et al. 2018, arXiv 1712.04407).

A generator that is a continuous function of one Gaussian z must pass through in-between shapes to
get from one digit to another (Khayatkhoei et al. 2018, arXiv 1806.00880). A discrete code taken
from z lets it jump instead: the first coordinate of z picks a cluster with the data's cluster
frequencies, the other coordinates are the style. The saved generator still takes z alone.

Which network needs the clusters? ``build_self_conditioned(arm=…)`` builds the main job ("both") and
arms that give them to one network only, on the recipe's networks and optimizers
(``recipe.replace(clusters=0).build()`` is the plain DCGAN):

* "g-only": the main job's G and the plain DCGAN D in the plain ``GAN`` game; c comes from z₁ with the
  data's shares. The main job's pairing (a fake takes the cluster of a real image of the batch) gives
  fakes the same shares, and a D blind to c sees a mean over reals plus one over fakes: the same game
  in expectation.
* "d-only": the plain G and the main job's D with y = c(x), the nearest k-means centre, for reals and
  fakes alike (``build_cluster_discriminator``). y is a function of x on both sides, so the JS
  divergence of the pairs is that of the images: the optimum stays p_G = p_data, and only D's function
  class changes, to ψ(φ(x)) + e_{c(x)}ᵀ φ(x).
* "d-only-drawn": the plain G; a fake's y is the cluster of a real image of the batch, a draw from the
  shares f independent of the fake. D can then reject a fake on its label alone when y is not the
  fake's own cluster (a share 1 − Σ_c f_c² of fakes: 0.98 for 50 equal clusters), and the JS optimum
  of G's cluster masses leaves the shares: for f = (0.5, 0.3, 0.15, 0.05) it is (0.67, 0.28, 0.05,
  0.0001), the smallest cluster dropped. Kept to be measured beside "d-only", not as the D-only arm."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from .conditional import LabelledCriticGAN, build_conditional_discriminator, build_conditional_generator
from .layers import ClusterCode, NearestCentre
from .models import IMAGE_SHAPE, build_discriminator, build_generator, check_positive
from .recipes import DCGANRecipe
from .training import GAN

# Which network gets the clusters: the main job (both), then the ablation arms (build_self_conditioned).
ARMS = ("both", "g-only", "d-only", "d-only-drawn")


@dataclass(frozen=True)
class Clusters:
    """k-means clusters of a set of images: one label per image and each cluster's share."""

    labels: np.ndarray      # int32 [N], 0 … k − 1
    freqs: np.ndarray       # float64 [k], sums to 1
    centres: np.ndarray | None = None   # float32 [k, pixels]: each image's label is its nearest centre

    @property
    def k(self) -> int:
        return len(self.freqs)

    def purity(self, classes: np.ndarray) -> float:
        """Share of images whose class is the most common class of their cluster (1 = pure clusters)."""
        classes = np.asarray(classes)
        if len(classes) != len(self.labels):
            raise ValueError(f"{len(classes)} classes for {len(self.labels)} clustered images")
        return float(sum(np.bincount(classes[self.labels == j]).max()
                         for j in range(self.k) if np.any(self.labels == j)) / len(self.labels))


def cluster_images(images, k: int, seed: int = 0, iters: int = 30, max_fit: int = 10_000) -> Clusters:
    """k-means (k-means++ start, then up to ``iters`` Lloyd steps) on the raw pixels, in NumPy: the same
    images and seed give the same clusters, so a resumed run recomputes them instead of storing them.
    The centres are fitted on at most ``max_fit`` images (a seeded subset: seconds, even for 60,000
    digits), then every image joins its nearest centre. No labels and no trained network are used."""
    check_positive(k=k, iters=iters, max_fit=max_fit)
    every = np.asarray(images, dtype="float32").reshape(len(images), -1)
    if len(every) < k:
        raise ValueError(f"cannot make {k} clusters from {len(every)} images; use fewer clusters")
    rng = np.random.default_rng(seed)
    x = every if len(every) <= max_fit else every[np.sort(rng.choice(len(every), max_fit, replace=False))]
    sq = (x.astype("float64") ** 2).sum(1)
    centres = np.empty((k, x.shape[1]), dtype="float32")
    centres[0] = x[rng.integers(len(x))]
    nearest = _sq_distance(x, sq, centres[:1])[:, 0]
    for j in range(1, k):            # k-means++: each new centre drawn ∝ squared distance to the nearest
        p = np.maximum(nearest, 0.0)
        centres[j] = x[rng.choice(len(x), p=p / p.sum())]
        nearest = np.minimum(nearest, _sq_distance(x, sq, centres[j:j + 1])[:, 0])
    labels = None
    for _ in range(iters):
        new = _assign(x, sq, centres)
        if labels is not None and np.array_equal(new, labels):
            break                     # converged: another step would change nothing
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):          # an empty cluster keeps its centre
                centres[j] = members.mean(0)
    labels = _assign(every, (every.astype("float64") ** 2).sum(1), centres)
    return Clusters(labels.astype("int32"), np.bincount(labels, minlength=k) / len(labels), centres)


def _sq_distance(x, sq, centres) -> np.ndarray:
    """Squared distances [N, k] from each image (with ``sq`` its squared norm) to each centre."""
    return sq[:, None] - 2 * (x @ centres.T) + (centres.astype("float64") ** 2).sum(1)[None]


def _assign(x, sq, centres) -> np.ndarray:
    return _sq_distance(x, sq, centres).argmin(1)


def build_self_conditioned_generator(latent_dim: int, width: int, freqs, embed_dim: int = 16,
                                     name: str = "self_conditioned_generator") -> keras.Model:
    """z ∈ R^latent_dim → image: ``ClusterCode`` splits z into a cluster and a style, and the
    conditional DCGAN generator of notebook 06 draws that cluster in that style."""
    check_positive(latent_dim=latent_dim - 1, width=width, embed_dim=embed_dim)
    z = keras.Input((latent_dim,), name="z")
    style, code = ClusterCode(freqs, name="cluster_code")(z)
    inner = build_conditional_generator(latent_dim - 1, width, len(freqs), embed_dim)
    return keras.Model(z, inner([style, code]), name=name)


class SelfConditionedGAN(LabelledCriticGAN):
    """A GAN whose D judges (image, cluster) pairs as in notebook 06, and whose generator takes z
    alone: each fake gets the cluster of a real image of the batch through z₁
    (``ClusterCode.noise_for``). Sampling and saving take z alone, as for the plain ``GAN``."""

    def __init__(self, generator: keras.Model, discriminator: keras.Model, n_classes: int, **kwargs):
        code = cluster_code(generator)
        if len(code.freqs) != n_classes:
            raise ValueError(f"the generator's ClusterCode has {len(code.freqs)} clusters but n_classes is "
                             f"{n_classes}; build both from the same Clusters.")
        super().__init__(generator, discriminator, n_classes=n_classes, **kwargs)

    def fakes(self, n, cond, training=True):
        return self.generator(cluster_code(self.generator).noise_for(self.sample_noise(n), cond),
                              training=training)


def cluster_of(generator: keras.Model, z) -> np.ndarray:
    """The cluster that a self-conditioned ``generator`` (a loaded ``generator.keras`` too) draws for
    each row of ``z``: equation (6) of notebook 04."""
    return keras.ops.convert_to_numpy(cluster_code(generator)(np.asarray(z, dtype="float32"))[1])


def cluster_code(generator: keras.Model) -> ClusterCode:
    """The ``ClusterCode`` layer that starts a self-conditioned generator."""
    for layer in generator.layers:
        if isinstance(layer, ClusterCode):
            return layer
    raise ValueError("a SelfConditionedGAN's generator starts with a ClusterCode layer; build it with "
                     "build_self_conditioned_generator().")


def build_cluster_discriminator(width: int, dropout: float, centres, pooled: bool = False,
                                name: str = "cluster_discriminator") -> keras.Model:
    """x → logit ψ(φ(x)) + e_{c(x)}ᵀ φ(x), the "d-only" arm's D: the main job's projection D with the
    label c(x), the nearest of the k-means ``centres``, so that a fake is labelled as a real image is."""
    x = keras.Input(IMAGE_SHAPE, name="images")
    y = NearestCentre(centres, dtype="float32", name="nearest_centre")(x)
    inner = build_conditional_discriminator(width, dropout, "projection", len(centres), pooled=pooled)
    return keras.Model(x, inner([x, y]), name=name)


def build_self_conditioned(recipe: DCGANRecipe, clusters: Clusters, seed: int | None = None,
                           mixed_precision: bool = False, arm: str = "both", pooled: bool = False,
                           **compile_kwargs) -> GAN:
    """A compiled ``SelfConditionedGAN`` with the recipe's widths, optimizers and weight average, and
    one cluster code per cluster of ``clusters``; ``arm`` builds an ablation arm instead (a plain ``GAN``
    or ``LabelledCriticGAN``: module docstring), ``pooled`` D's projection on pooled features."""

    r = recipe
    if arm not in ARMS:
        raise ValueError(f"arm={arm!r} is not known; choose one of {', '.join(ARMS)} (clusters=0 in the "
                         "recipe is the plain DCGAN).")
    if not isinstance(clusters, Clusters):
        raise ValueError(f"this recipe self-conditions on {r.clusters} clusters of the training images: "
                         f"pass clusters=gh.selfcond.cluster_images(x_train, {r.clusters or 30}), or use "
                         "recipe.replace(clusters=0) for the plain DCGAN.")
    if clusters.k != r.clusters:
        raise ValueError(f"the recipe asks for {r.clusters} clusters but {clusters.k} were given; "
                         f"cluster with k={r.clusters}, or recipe.replace(clusters={clusters.k}).")
    if pooled and arm == "g-only":
        raise ValueError("pooled=True pools D's projection head, and the g-only arm's D has none.")
    if arm == "d-only" and clusters.centres is None:
        raise ValueError("the d-only arm labels images by their nearest k-means centre, and these "
                         "clusters keep none: make them with gh.selfcond.cluster_images().")
    if arm == "both":
        gan = SelfConditionedGAN(build_self_conditioned_generator(r.latent_dim, r.g_width, clusters.freqs),
                                 build_conditional_discriminator(r.d_width, r.d_dropout, "projection",
                                                                 clusters.k, pooled=pooled),
                                 n_classes=clusters.k, seed=seed, ema_decay=r.ema_decay)
    elif arm == "g-only":
        gan = GAN(build_self_conditioned_generator(r.latent_dim, r.g_width, clusters.freqs),
                  build_discriminator(r.d_width, r.d_dropout), seed=seed, ema_decay=r.ema_decay)
    elif arm == "d-only":
        gan = GAN(build_generator(r.latent_dim, r.g_width),
                  build_cluster_discriminator(r.d_width, r.d_dropout, clusters.centres, pooled),
                  seed=seed, ema_decay=r.ema_decay)
    else:
        gan = LabelledCriticGAN(build_generator(r.latent_dim, r.g_width),
                                build_conditional_discriminator(r.d_width, r.d_dropout, "projection",
                                                                clusters.k, pooled=pooled),
                                n_classes=clusters.k, seed=seed, ema_decay=r.ema_decay)
    return r.compile(gan, mixed_precision, **compile_kwargs)
