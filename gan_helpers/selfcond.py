"""Self-conditioning: an unconditional GAN that conditions G and D on k-means clusters of the training
images instead of labels (Liu et al. 2020, arXiv 2006.10728; Sage et al. 2018, arXiv 1712.04407).

A generator that is a continuous function of one Gaussian z must pass through in-between shapes to
get from one digit to another (Khayatkhoei et al. 2018, arXiv 1806.00880). A discrete code taken
from z lets it jump instead: the first coordinate of z picks a cluster with the data's cluster
frequencies, the other coordinates are the style. The saved generator still takes z alone."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from .conditional import LabelledCriticGAN, build_conditional_discriminator, build_conditional_generator
from .layers import ClusterCode
from .models import check_positive
from .recipes import DCGANRecipe


@dataclass(frozen=True)
class Clusters:
    """k-means clusters of a set of images: one label per image and each cluster's share."""

    labels: np.ndarray      # int32 [N], 0 … k − 1
    freqs: np.ndarray       # float64 [k], sums to 1

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
    return Clusters(labels.astype("int32"), np.bincount(labels, minlength=k) / len(labels))


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


def build_self_conditioned(recipe: DCGANRecipe, clusters: Clusters, seed: int | None = None,
                           mixed_precision: bool = False, **compile_kwargs) -> SelfConditionedGAN:
    """A compiled ``SelfConditionedGAN`` with the recipe's widths, optimizers and weight average, and
    one cluster code per cluster of ``clusters``."""

    r = recipe
    if not isinstance(clusters, Clusters):
        raise ValueError(f"this recipe self-conditions on {r.clusters} clusters of the training images: "
                         f"pass clusters=gh.selfcond.cluster_images(x_train, {r.clusters or 30}), or use "
                         "recipe.replace(clusters=0) for the plain DCGAN.")
    if clusters.k != r.clusters:
        raise ValueError(f"the recipe asks for {r.clusters} clusters but {clusters.k} were given; "
                         f"cluster with k={r.clusters}, or recipe.replace(clusters={clusters.k}).")
    gan = SelfConditionedGAN(build_self_conditioned_generator(r.latent_dim, r.g_width, clusters.freqs),
                             build_conditional_discriminator(r.d_width, r.d_dropout, "projection",
                                                             clusters.k),
                             n_classes=clusters.k, seed=seed, ema_decay=r.ema_decay)
    return r.compile(gan, mixed_precision, **compile_kwargs)
