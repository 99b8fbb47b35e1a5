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
              hold_last: float = 2.0, scale: int = 2, greys: int = 32) -> Path:
    """An animated GIF of uint8 grids; the last frame stays up for ``hold_last`` seconds. Grey frames
    are reduced to ``greys`` levels, which the eye cannot tell from 256 on a digit grid and which
    keep the file (and a notebook that embeds it) a few times smaller."""
    from PIL import Image

    if not frames:
        raise ValueError("no frames to write")
    if not 2 <= greys <= 256:
        raise ValueError(f"greys must be between 2 and 256, got {greys!r}")
    path = Path(path)
    step = 255 / (greys - 1)
    frames = [np.round(np.round(f / step) * step).astype(np.uint8) if f.ndim == 2 else f for f in frames]
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
    shown = [v for k in ("d_real", "d_fake") for v in history.get(k, [])]
    if all(0 <= v <= 1 for v in shown):          # probabilities; a critic's raw scores are unbounded
        ax2.axhline(0.5, color="gray", ls="--", lw=0.8)
        ax2.set_ylim(0, 1)
    ax2.set_xlabel("training step")
    ax2.set_ylabel("mean discriminator output" if all(0 <= v <= 1 for v in shown) else "mean critic score")
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


# ----------------------------------------------------------------------------- 2-D toy GANs
GENERATED_COLOR = "#39e639"     # a light green that stands out on red, white and blue alike


def plot_landscape(snap, real: np.ndarray, ax=None, arrow_length: float | None = 0.35,
                   title: str | None = None, colorbar: bool = False, ticks: bool = True):
    """One ``gh.toy.Snapshot`` on one axes: D(x) as a heat map (probability, or critic score),
    real points in black, generated points in light green drawn above thin grey arrows of −∇ₓ L_G
    (so the samples stay visible where arrows bunch). Points outside the frame are counted in the title.

    ``arrow_length`` scales the arrows so the longest 5% reach that length (in data units); pass
    None for true lengths (then vanishing gradients show as vanishing arrows)."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    extent = (snap.grid_x.min(), snap.grid_x.max(), snap.grid_y.min(), snap.grid_y.max())
    if snap.is_critic:                       # a critic's score is unbounded: centre the colours on 0
        bound = float(np.abs(snap.d_values).max()) or 1.0
        vmin, vmax = -bound, bound
    else:
        vmin, vmax = 0.0, 1.0
    im = ax.imshow(snap.d_values, origin="lower", extent=extent, cmap="RdBu_r", vmin=vmin, vmax=vmax,
                   interpolation="bilinear", aspect="equal")
    ax.scatter(real[:, 0], real[:, 1], s=2, c="black", edgecolors="none", label="real", zorder=2)
    n = len(snap.push)
    push = snap.push
    if arrow_length is not None:
        norms = np.linalg.norm(push, axis=1)
        top = np.percentile(norms, 95) if n else 0.0
        push = push * (arrow_length / top) if top > 0 else push
    # thin grey arrows below the samples, so that bunched arrows never hide (or darken) the samples
    ax.quiver(snap.fake[:n, 0], snap.fake[:n, 1], push[:, 0], push[:, 1], angles="xy",
              scale_units="xy", scale=1.0, width=0.0025, headwidth=4, color="0.2", alpha=0.6, zorder=3)
    ax.scatter(snap.fake[:, 0], snap.fake[:, 1], s=9, c=GENERATED_COLOR, edgecolors="black",
               linewidths=0.25, label="generated", zorder=4)
    ax.set_xlim(extent[:2])
    ax.set_ylim(extent[2:])
    if ticks:
        ax.tick_params(labelsize=8, length=2, pad=1)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    outside = int(np.sum((snap.fake[:, 0] < extent[0]) | (snap.fake[:, 0] > extent[1])
                         | (snap.fake[:, 1] < extent[2]) | (snap.fake[:, 1] > extent[3])))
    label = title if title is not None else f"step {snap.step}"
    ax.set_title(label + (f" ({outside} outside)" if outside else ""), fontsize=9)
    if colorbar:
        plt.colorbar(im, ax=ax, fraction=0.046, label="critic score" if snap.is_critic else "D(x)")
    return im


def landscape_grid(snaps: list, real: np.ndarray, ncols: int = 4, size: float = 2.6, titles=None):
    """A grid of ``plot_landscape`` panels, one per snapshot, with one shared colour bar."""
    import matplotlib.pyplot as plt

    if not snaps:
        raise ValueError("no snapshots to draw; train with gh.toy.ToyRecorder first")
    nrows = int(np.ceil(len(snaps) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols + 0.8, size * nrows), squeeze=False,
                             layout="constrained")
    im = None
    for i, ax in enumerate(axes.flat):
        if i < len(snaps):
            im = plot_landscape(snaps[i], real, ax, title=None if titles is None else titles[i])
        else:
            ax.axis("off")
    fig.colorbar(im, ax=axes, shrink=0.8, label="critic score" if snaps[0].is_critic else "D(x)")
    return fig


def landscape_gif(snaps: list, real: np.ndarray, size: float = 3.6, dpi: int = 70,
                  seconds_per_frame: float = 0.6, titles=None, colors: int = 64) -> bytes:
    """The snapshots as an animated GIF (bytes), with no JavaScript and no web fonts; show it with
    ``gh.toy.show_gif``, which stores it so that it plays in Jupyter, Colab, GitHub and nbconvert's HTML."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    if not snaps:
        raise ValueError("no snapshots to animate; train with gh.toy.ToyRecorder first")
    frames = []
    for i, snap in enumerate(snaps):
        fig, ax = plt.subplots(figsize=(size + 0.7, size), dpi=dpi, layout="constrained")
        plot_landscape(snap, real, ax, title=None if titles is None else titles[i], colorbar=True)
        fig.canvas.draw()
        frames.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3]))
        plt.close(fig)
    # one palette for all frames, drawn from all of them, so that colours of a few pixels in any one frame
    # (the green samples) keep a palette entry of their own instead of turning grey
    strip = Image.new("RGB", (frames[0].width, frames[0].height * len(frames)))
    for i, frame in enumerate(frames):
        strip.paste(frame, (0, i * frames[0].height))
    palette = strip.quantize(colors=colors, method=Image.Quantize.MAXCOVERAGE)
    frames = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    out = io.BytesIO()
    durations = [int(seconds_per_frame * 1000)] * (len(frames) - 1) + [2000]
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0,
                   optimize=True)
    return out.getvalue()


def landscape_animation(snaps: list, real: np.ndarray, size: float = 4.0, interval_ms: int = 300,
                        titles=None):
    """The snapshots as a matplotlib animation for Jupyter (``HTML(anim.to_jshtml())``). GitHub strips
    its JavaScript, so notebooks ship ``landscape_gif`` and offer this only as an extra."""
    import matplotlib.pyplot as plt
    from matplotlib import animation

    if not snaps:
        raise ValueError("no snapshots to animate; train with gh.toy.ToyRecorder first")
    fig, ax = plt.subplots(figsize=(size, size))

    def draw(i):
        ax.clear()
        plot_landscape(snaps[i], real, ax, title=None if titles is None else titles[i])
        return []

    anim = animation.FuncAnimation(fig, draw, frames=len(snaps), interval=interval_ms, blit=False)
    plt.close(fig)  # show the animation, not a stray last frame
    return anim


def plot_study(rows: list[dict], n_modes: int, ax=None):
    """Modes covered against steps for each recipe of ``gh.toy.compare_recipes``: the mean over seeds
    as a line, the range over seeds as a band."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    for name in dict.fromkeys(r["recipe"] for r in rows):
        runs = [r for r in rows if r["recipe"] == name]
        curves = np.array([r["curve"] for r in runs])
        ax.plot(runs[0]["steps"], curves.mean(0), marker="o", ms=3, label=name)
        ax.fill_between(runs[0]["steps"], curves.min(0), curves.max(0), alpha=0.12)
    ax.axhline(n_modes, color="grey", ls="--", lw=0.8)
    ax.set(xlabel="generator steps", ylabel=f"modes covered (of {n_modes})", ylim=(-0.3, n_modes + 0.5))
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def plot_final_samples(rows: list[dict], dataset, real: np.ndarray, seed: int, size: float = 2.3):
    """One panel per recipe: the final samples of the run with ``seed`` (green, edged in black) over real
    data (black), in the landscapes' frame (margin 1.5); the title counts samples outside it."""
    import matplotlib.pyplot as plt

    chosen = [r for r in rows if r["seed"] == seed]
    if not chosen:
        raise ValueError(f"no run with seed {seed}; the rows have seeds {sorted({r['seed'] for r in rows})}")
    fig, axes = plt.subplots(1, len(chosen), figsize=(size * len(chosen), size + 0.2), squeeze=False)
    x0, x1, y0, y1 = dataset.extent(margin=1.5)
    for ax, r in zip(axes[0], chosen):
        fake = np.asarray(r["samples"])
        outside = int(np.sum((fake[:, 0] < x0) | (fake[:, 0] > x1) | (fake[:, 1] < y0) | (fake[:, 1] > y1)))
        ax.scatter(*np.asarray(real).T, s=2, c="black")
        ax.scatter(*fake.T, s=4, c=GENERATED_COLOR, edgecolors="black", linewidths=0.2)
        ax.set(xlim=(x0, x1), ylim=(y0, y1), xticks=[], yticks=[], aspect="equal")
        ax.set_title(f"{r['recipe']}\n{r['modes']}/{dataset.n_modes} modes covered (3σ), "
                     f"HQ {r['high_quality']:.2f}" + (f", {outside} outside" if outside else ""), fontsize=7)
    fig.tight_layout()
    return fig
