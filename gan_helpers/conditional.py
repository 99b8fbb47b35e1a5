"""A label-conditioned DCGAN: G(z, y) and D(x, y) with a projection head (Miyato & Koyama 2018,
arXiv 1802.05637) or input concatenation (Mirza & Osindero 2014, arXiv 1411.1784), trained by the
same ``GAN.train_step`` through its hooks (notebook 06)."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from . import plots
from .callbacks import SampleGrid
from .layers import LabelPlanes
from .models import IMAGE_SHAPE, check_positive
from .recipes import DCGANRecipe
from .training import GAN, generate_from, noise

N_CLASSES = 10
HEADS = ("projection", "concat")


def check_labels(labels, n: int | None = None, n_classes: int = N_CLASSES) -> np.ndarray:
    """``labels`` as an int32 vector of class indices 0 … n_classes − 1, or a ``ValueError`` saying
    what is wrong (floats, a matrix such as one-hot rows, out of range, the wrong count)."""
    y = np.asarray(labels)
    if y.dtype == bool or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers 0–{n_classes - 1} (class indices), got dtype {y.dtype}; "
                         "for one-hot rows use labels.argmax(axis=1).")
    if y.ndim != 1:
        raise ValueError(f"labels must be a vector of class indices, one per image, got shape {y.shape}"
                         + ("; one-hot rows? use labels.argmax(axis=1)." if y.ndim == 2 else "."))
    if n is not None and len(y) != n:
        raise ValueError(f"there are {len(y)} labels for {n} noise vectors; give one label per vector.")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must be in 0–{n_classes - 1}, got values from {y.min()} to {y.max()}.")
    return y.astype(np.int32)


def _label_input() -> keras.KerasTensor:
    return keras.Input((), dtype="int32", name="labels")


def build_conditional_generator(latent_dim: int = 64, width: int = 32, n_classes: int = N_CLASSES,
                                embed_dim: int = 16, name: str = "conditional_generator") -> keras.Model:
    """[z, y] → image in [-1, 1]: a learned embedding of the label y is joined to the noise z, then the
    DCGAN generator of ``models.build_generator`` (same layers and widths) makes the image."""
    check_positive(latent_dim=latent_dim, width=width, n_classes=n_classes, embed_dim=embed_dim)
    z, y = keras.Input((latent_dim,), name="z"), _label_input()
    h = layers.Concatenate()([z, layers.Embedding(n_classes, embed_dim, name="label_embedding")(y)])
    h = layers.Dense(7 * 7 * 4 * width, use_bias=False)(h)
    h = layers.ReLU()(layers.BatchNormalization()(h))
    h = layers.Reshape((7, 7, 4 * width))(h)                                               # 7×7
    h = layers.Conv2DTranspose(2 * width, 4, strides=2, padding="same", use_bias=False)(h)
    h = layers.ReLU()(layers.BatchNormalization()(h))                                       # 14×14
    out = layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh",
                                 dtype="float32")(h)                                        # 28×28
    return keras.Model([z, y], out, name=name)


def build_conditional_discriminator(width: int = 64, dropout: float = 0.0, head: str = "projection",
                                    n_classes: int = N_CLASSES, name: str = "conditional_discriminator",
                                    pooled: bool = False) -> keras.Model:
    """[x, y] → one logit. The body is the DCGAN discriminator's (two stride-2 convolutions with
    LeakyReLU(0.2)) giving features φ(x). ``head="projection"``: logit ψ(φ(x)) + e_yᵀ φ(x), with
    e_y a learned row per class (Miyato & Koyama 2018). ``head="concat"``: the one-hot label enters
    as 10 extra image channels, and the logit is a dense layer on the features (Mirza & Osindero).

    ``pooled``: the projection term is e_yᵀ Σ_p h_p, on the 7×7 map h summed over its positions p (the
    flattened head with each row shared by the 49 positions: 2·width weights per class, not 98·width)."""
    check_positive(width=width, n_classes=n_classes)
    if head not in HEADS:
        raise ValueError(f"head={head!r} is not known; choose one of {', '.join(HEADS)}.")
    if pooled and head != "projection":
        raise ValueError(f"pooled=True pools the projection head's features; head={head!r} has none.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    x, y = keras.Input(IMAGE_SHAPE, name="images"), _label_input()
    h = layers.Concatenate()([x, LabelPlanes(n_classes)(x, y)]) if head == "concat" else x
    for filters in (width, 2 * width):                                        # 14×14, then 7×7
        h = layers.LeakyReLU(0.2)(layers.Conv2D(filters, 4, strides=2, padding="same")(h))
        if dropout:
            h = layers.Dropout(dropout)(h)
    phi = layers.Flatten(name="phi")(h)
    logit = layers.Dense(1, dtype="float32", name="psi")(phi)
    if head == "projection":
        feats = phi
        if pooled:   # Σ over the positions = 49 × their mean
            feats = layers.Rescaling(h.shape[1] * h.shape[2], name="sum_pool")(
                layers.GlobalAveragePooling2D()(h))
        e_y = layers.Embedding(n_classes, feats.shape[-1], name="class_embedding")(y)
        logit = layers.Add(dtype="float32")([logit, layers.Dot(axes=1, dtype="float32")([e_y, feats])])
    return keras.Model([x, y], logit, name=name)


class LabelledCriticGAN(GAN):
    """``GAN`` trained on (images, labels) batches whose D judges pairs (x, y): the D side that the
    conditional and the self-conditioned GAN share. Only hooks of ``GAN`` change, never the step."""

    label_inputs = ("discriminator",)   # the networks that take [input, labels]

    def __init__(self, generator: keras.Model, discriminator: keras.Model, n_classes: int = N_CLASSES,
                 **kwargs):
        for net, role in ((generator, "generator"), (discriminator, "discriminator")):
            if role in self.label_inputs and (not isinstance(net.input_shape, list)
                                              or len(net.input_shape) != 2):
                first = "z" if role == "generator" else "x"
                raise ValueError(f"a {type(self).__name__}'s {role} takes two inputs ([{first}, "
                                 f"labels]); this one takes {net.input_shape}. "
                                 f"Build it with build_conditional_{role}().")
        super().__init__(generator, discriminator, **kwargs)
        self.n_classes = n_classes

    def split_data(self, data):
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise ValueError(NO_LABELS)
        return data[0], ops.cast(data[1], "int32")

    def discriminate(self, images, cond, training=True):
        return self.discriminator([images, cond], training=training)

    def check_data(self, x) -> None:
        """``GAN.check_data``, and data without labels are refused before any training."""
        spec = getattr(x, "element_spec", None)
        if spec is not None and not isinstance(spec, (tuple, list)):
            raise ValueError(NO_LABELS)
        super().check_data(x)


class ConditionalGAN(LabelledCriticGAN):
    """G sees the label too: each fake takes the label of a real image of the same batch, and the
    saved generator takes [z, labels] (notebook 06)."""

    label_inputs = ("generator", "discriminator")

    def fakes(self, n, cond, training=True):
        return self.generator([self.sample_noise(n), cond], training=training)

    def calibration_inputs(self, z):
        return [z, np.arange(len(z), dtype="int32") % self.n_classes]

    def sample_labels(self, n: int, labels=None):
        """Labels 0, 1, …, 9, 0, … in turn unless given (checked)."""
        return np.arange(n) % self.n_classes if labels is None else check_labels(labels, n, self.n_classes)


NO_LABELS = ("a conditional GAN trains on (images, labels) batches; the data hold images only. Use "
             "data.resumable_dataset(x, batch, labels=y).")


def build_conditional(recipe: DCGANRecipe | None = None, head: str = "projection", seed: int | None = None,
                      n_classes: int = N_CLASSES, embed_dim: int = 16, mixed_precision: bool = False,
                      **compile_kwargs) -> ConditionalGAN:
    """A compiled ``ConditionalGAN`` with the DCGAN recipe's widths, optimizers, weight average and
    settings (``DCGANRecipe.build``'s conditional twin); ``head`` picks D's conditioning."""

    r = recipe or DCGANRecipe()
    gan = ConditionalGAN(build_conditional_generator(r.latent_dim, r.g_width, n_classes, embed_dim),
                         build_conditional_discriminator(r.d_width, r.d_dropout, head, n_classes),
                         n_classes=n_classes, seed=seed, ema_decay=r.ema_decay)
    return r.compile(gan, mixed_precision, **compile_kwargs)


def generate(generator: keras.Model, z, labels, batch_size: int = 256) -> np.ndarray:
    """Images from a conditional generator (for example a loaded ``generator.keras``) for noise ``z``
    [N, latent_dim] and integer ``labels`` 0–9, checked first so that bad labels get a plain error."""
    z = np.asarray(z, dtype="float32")
    if z.ndim != 2:
        raise ValueError(f"z must be a matrix [N, latent_dim], got shape {z.shape}.")
    return generate_from(generator, z, batch_size, labels=check_labels(labels, len(z)))


def class_grid_inputs(z, n_classes: int = N_CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """Noise and labels for a class grid: row c is class c, column j uses noise vector z[j] in
    every row, so a column holds one style across the classes."""
    z = np.asarray(z, dtype="float32")
    return np.tile(z, (n_classes, 1)), np.repeat(np.arange(n_classes, dtype="int32"), len(z))


def class_grid(generator: keras.Model, z, n_classes: int = N_CLASSES) -> np.ndarray:
    """The picture of ``class_grid_inputs``: one row per class, one column per noise vector."""
    zz, yy = class_grid_inputs(z, n_classes)
    return plots.image_grid(generate_from(generator, zz, labels=yy), ncols=len(z))


def captioned(frame: np.ndarray, text: str, height: int = 12) -> np.ndarray:
    """A uint8 grey grid with a white strip on top holding ``text`` (for example "epoch 4"), so that
    a GIF frame says when it was drawn."""
    from PIL import Image, ImageDraw

    frame = np.asarray(frame)
    if frame.ndim != 2 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be a 2-D uint8 grey grid, got shape {frame.shape} {frame.dtype}")
    strip = Image.new("L", (frame.shape[1], height), 255)
    ImageDraw.Draw(strip).text((2, 0), text, fill=0)
    return np.concatenate([np.asarray(strip, dtype=np.uint8), frame], axis=0)


class ClassGrid(SampleGrid):
    """``SampleGrid`` for a conditional GAN: each frame is the class grid of fixed noise vectors; the
    GIF's frames are captioned with their epoch."""

    def _grab(self, epoch: int) -> None:
        self.frames.append(class_grid(self.model.sampler, self.noise))
        self.epochs.append(epoch)

    def on_train_end(self, logs=None):
        if self.gif_path and self.frames:
            plots.write_gif([captioned(f, f"epoch {e}") for f, e in zip(self.frames, self.epochs)],
                            self.gif_path)


def label_agreement(net, generator: keras.Model, n: int = 2000, seed: int = 0,
                    n_classes: int = N_CLASSES) -> dict:
    """How often the feature net (``metrics.load_feature_net``) reads the requested label in ``n``
    samples (labels in turn, so every class gets n / 10): overall and per class, with the images."""
    labels = np.arange(n) % n_classes
    images = generate_from(generator, noise(n, int(generator.input_shape[0][-1]), seed), labels=labels)
    predicted = net.probs(images).argmax(axis=1)
    hit = predicted == labels
    return {"agreement": float(hit.mean()),
            "per_class": [float(hit[labels == c].mean()) for c in range(n_classes)],
            "images": images, "labels": labels, "predicted": predicted}
