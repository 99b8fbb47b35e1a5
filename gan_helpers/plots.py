"""Pictures of a GAN run: image grids, a GIF of their progress, and loss curves."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .data import from_gan_range


def image_grid(images, ncols: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile images ([-1, 1] floats or uint8, shape [N, H, W] or [N, H, W, 1]) into one uint8 array."""
    images = np.asarray(images)
    if images.ndim == 4:
        if images.shape[-1] != 1:
            raise ValueError(f"expected one channel, got shape {images.shape}")
        images = images[..., 0]
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"expected a non-empty batch of [N, H, W(, 1)] images, got {images.shape}")
    if images.dtype != np.uint8:
        images = from_gan_range(images)
    n, h, w = images.shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    return grid


def save_png(grid: np.ndarray, path: str | os.PathLike, scale: int = 2) -> Path:
    """Save a uint8 grid as PNG, enlarged by ``scale`` with nearest-neighbour pixels."""
    from PIL import Image

    path = Path(path)
    img = Image.fromarray(grid)
    img = img.resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    img.save(path)
    return path


def write_gif(frames: list[np.ndarray], path: str | os.PathLike, seconds_per_frame: float = 0.4,
              hold_last: float = 2.0, scale: int = 2) -> Path:
    """An animated GIF of uint8 grids; the last frame stays up for ``hold_last`` seconds."""
    from PIL import Image

    if not frames:
        raise ValueError("no frames to write")
    path = Path(path)
    imgs = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST)
            for f in frames]
    durations = [int(seconds_per_frame * 1000)] * (len(imgs) - 1) + [int(hold_last * 1000)]
    imgs[0].save(path, save_all=True, append_images=imgs[1:], duration=durations, loop=0)
    return path


def show_images(images, title: str | None = None, ncols: int | None = None, ax=None):
    """Show a batch of images as one grid on a matplotlib axes (made if not given)."""
    import matplotlib.pyplot as plt

    grid = image_grid(images, ncols)
    if ax is None:
        _, ax = plt.subplots(figsize=(grid.shape[1] / 60, grid.shape[0] / 60))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=255)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def plot_losses(history: dict[str, list[float]], steps_per_epoch: int | None = None,
                smooth: int = 25, path: str | os.PathLike | None = None):
    """Per-step d_loss/g_loss and D(x)/D(G(z)), smoothed by a moving average of ``smooth`` steps.

    Dashed lines mark the values of the game's equilibrium, D = 1/2 everywhere:
    d_loss = log 4 ≈ 1.386 and, for the non-saturating loss, g_loss = log 2 ≈ 0.693.
    """
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
    for key, color in (("d_loss", "C0"), ("g_loss", "C1")):
        if key in history:
            v = np.asarray(history[key], dtype=float)
            ax1.plot(np.arange(len(v)), v, color=color, alpha=0.25, lw=0.7)
            s = _smooth(v, smooth)
            ax1.plot(np.arange(len(s)) + (len(v) - len(s)), s, color=color, label=key)
    ax1.axhline(np.log(4), color="C0", ls="--", lw=0.8)
    ax1.axhline(np.log(2), color="C1", ls="--", lw=0.8)
    ax1.set_xlabel("training step")
    ax1.set_ylabel("loss")
    ax1.legend()
    for key, color, label in (("d_real", "C2", "D(x), real"), ("d_fake", "C3", "D(G(z)), fake")):
        if key in history:
            s = _smooth(np.asarray(history[key], dtype=float), smooth)
            ax2.plot(np.arange(len(s)) + (len(history[key]) - len(s)), s, color=color, label=label)
    ax2.axhline(0.5, color="gray", ls="--", lw=0.8)
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("training step")
    ax2.set_ylabel("mean discriminator output")
    ax2.legend()
    if steps_per_epoch:
        for ax in (ax1, ax2):
            sec = ax.secondary_xaxis("top", functions=(lambda s: s / steps_per_epoch,
                                                       lambda e: e * steps_per_epoch))
            sec.set_xlabel("epoch")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
