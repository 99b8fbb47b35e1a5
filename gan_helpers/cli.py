"""``python -m gan_helpers train``: train the DCGAN and write its pictures and metrics."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import config
from .data import DATASETS, SOURCES

FAST_IMAGES = 1280       # fast mode: a real but tiny run
FAST_EPOCHS = 2
CONFIG_KEYS = ("dataset", "latent_dim", "width", "batch_size", "loss")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**32 - 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gan_helpers",
                                     description="Adversarial-learning tutorial helpers.")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the DCGAN; write samples, GIF, losses and metrics",
                       description="Train the DCGAN of notebook 04 and write samples.png, "
                                   "progress.gif, losses.png, generator.keras and metrics.json. "
                                   "Rerunning the same command resumes from the last epoch's "
                                   "checkpoint.")
    t.add_argument("--dataset", choices=DATASETS, default="mnist")
    t.add_argument("--source", choices=SOURCES, default="auto",
                   help="where MNIST comes from: auto (download, else the bundled sample), "
                        "keras, or bundled (default: auto)")
    t.add_argument("--epochs", type=_positive_int, default=None,
                   help="passes over the data (default: enough for about 3000 steps)")
    t.add_argument("--batch-size", type=_positive_int, default=64)
    t.add_argument("--latent-dim", type=_positive_int, default=64)
    t.add_argument("--width", type=_positive_int, default=32, help="filters of the smallest layer")
    t.add_argument("--loss", choices=("nonsaturating", "minimax"), default="nonsaturating",
                   help="generator loss (default: nonsaturating)")
    t.add_argument("--seed", type=_seed, default=config.DEFAULT_SEED)
    t.add_argument("--out", type=Path, default=Path("runs/dcgan"), help="output folder")
    t.add_argument("--fast", action="store_true",
                   help=f"tiny CI-sized run (same as {config.FAST_ENV}=1)")
    t.add_argument("--restart", action="store_true",
                   help="ignore an existing checkpoint in --out and start again")
    t.add_argument("--quiet", action="store_true", help="one line per epoch, no progress bar")
    return parser


def _fail(message: str, status: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


def train(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.exists() and not out.is_dir():
        return _fail(f"--out {out} is a file; give a folder (it is created if missing).")
    fast = args.fast or config.is_fast()

    import numpy as np

    from . import callbacks, data, models, plots, training

    seed = config.set_seed(args.seed)
    try:
        digits = data.load_dataset(args.dataset, args.source)
    except data.DataUnavailableError as exc:
        return _fail(str(exc), status=1)
    x = data.to_gan_range(digits.x_train[:FAST_IMAGES] if fast else digits.x_train)
    if args.batch_size > len(x):
        return _fail(f"--batch-size {args.batch_size} is larger than the {len(x)} training images.")
    steps_per_epoch = len(x) // args.batch_size
    epochs = args.epochs or (FAST_EPOCHS if fast else training.default_epochs(len(x), args.batch_size))

    run_config = {"dataset": args.dataset, "latent_dim": args.latent_dim, "width": args.width,
                  "batch_size": args.batch_size, "loss": args.loss}
    ckpt_dir = out / "checkpoint"
    initial_epoch, history = 0, {}
    if ckpt_dir.exists() and not args.restart:
        try:
            meta = json.loads((ckpt_dir / "meta.json").read_text())
        except (OSError, ValueError) as exc:
            return _fail(f"{ckpt_dir} is unreadable ({exc}); use --restart or another --out.")
        differ = {k: (meta.get(k), run_config[k]) for k in CONFIG_KEYS if meta.get(k) != run_config[k]}
        if differ:
            shown = ", ".join(f"{k}: checkpoint {a!r}, now {b!r}" for k, (a, b) in differ.items())
            return _fail(f"the checkpoint in {ckpt_dir} was made with other settings ({shown}). "
                         "Use the same settings to resume, --restart to discard it, or another --out.")
        initial_epoch = int(meta["epoch"])
    out.mkdir(parents=True, exist_ok=True)

    print(digits.describe() + (f"; fast mode uses the first {len(x)}" if fast else ""))
    print(f"Device: {config.device_description()}")
    gan = training.GAN(models.build_generator(args.latent_dim, args.width),
                       models.build_discriminator(args.width), seed=seed)
    gan.compile(*training.make_optimizers(), g_loss_fn=args.loss)
    if initial_epoch:
        gan.load_state(ckpt_dir)
        hist_file = ckpt_dir / "history.json"
        history = json.loads(hist_file.read_text()) if hist_file.exists() else {}
        print(f"Resuming from the checkpoint after epoch {initial_epoch} in {ckpt_dir} "
              "(--restart starts again).")

    noise = np.random.default_rng(seed).standard_normal((64, args.latent_dim)).astype("float32")
    grid = callbacks.SampleGrid(noise, gif_path=out / "progress.gif")
    losses = callbacks.LossHistory()
    losses.history = history
    timer = callbacks.EpochTimer(args.batch_size)
    ckpt = callbacks.GANCheckpoint(ckpt_dir, meta=run_config, history=losses)
    ds = data.make_dataset(x, args.batch_size, seed=seed)
    print(f"Training {epochs} epochs of {steps_per_epoch} steps (batch {args.batch_size}) "
          f"from epoch {initial_epoch}.")
    t0 = time.perf_counter()
    try:
        if initial_epoch < epochs:
            gan.fit(ds, epochs=epochs, initial_epoch=initial_epoch, verbose=2 if args.quiet else 1,
                    callbacks=[grid, losses, timer, ckpt])
    except KeyboardInterrupt:
        done = ckpt.last_epoch or initial_epoch
        print(f"\nInterrupted. The state after epoch {done} is saved in {ckpt_dir}; run the same "
              "command again to resume from there.", file=sys.stderr)
        return 130
    train_seconds = time.perf_counter() - t0

    plots.save_png(plots.image_grid(training.generate_from(gan.generator, noise), ncols=8),
                   out / "samples.png")
    if grid.frames and initial_epoch < epochs:
        plots.write_gif(grid.frames, out / "progress.gif")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close(plots.plot_losses(losses.history, steps_per_epoch=steps_per_epoch,
                                path=out / "losses.png"))
    gan.save_generator(out / "generator.keras")

    samples = gan.generate(1000, seed=seed)
    final = {k: float(np.mean(v[-steps_per_epoch:])) for k, v in losses.history.items()}
    metrics = {
        "dataset": args.dataset, "data_source": digits.source, "train_images": len(x),
        "fast": fast, "epochs": epochs, "resumed_from_epoch": initial_epoch,
        "steps": epochs * steps_per_epoch, **run_config, "seed": seed,
        "final_epoch_means": final,
        "wall_time_s": round(train_seconds, 2),
        "images_per_second": round(timer.images_per_second(), 1) if timer.seconds else None,
        "device": config.device_description(), "versions": config.versions(),
        "sample_mean_pixel": float(data.from_gan_range(samples).mean() / 255),
        "data_mean_pixel": float(digits.x_train.mean() / 255),
    }
    if args.dataset == "mnist":
        metrics["quality"] = _quality(gan, digits.source, fast, seed)
        q = metrics["quality"]
        print(f"FD-MNIST {q['generator']['fd_mnist']:.2f} (real-vs-real floor "
              f"{q['real_vs_real_floor']['fd_mnist']:.2f}, N = {q['n']}); classifier score "
              f"{q['generator']['classifier_score']:.2f} "
              f"(floor {q['real_vs_real_floor']['classifier_score']:.2f}); "
              f"classes present {q['generator']['classes_present']}/10")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"Done in {train_seconds:.0f} s on {metrics['device']}. Wrote:")
    for name in ("samples.png", "progress.gif", "losses.png", "generator.keras", "metrics.json"):
        print(f"  {out / name}")
    return 0


def _quality(gan, source: str, fast: bool, seed: int) -> dict:
    """FD-MNIST, classifier score and coverage of the generator, next to the real-vs-real floor
    at the same N (notebook 05 explains them)."""
    import numpy as np

    from . import data
    from . import metrics as m

    n = 500 if fast else 2000
    net = m.load_feature_net(source, epochs=1 if fast else None)
    digits = data.load_mnist(source, with_test=True)
    rng = np.random.default_rng(seed)
    real_a = digits.x_test[rng.choice(len(digits.x_test), n, replace=False)]
    real_b = digits.x_train[rng.choice(len(digits.x_train), n, replace=False)]
    keys = ("fd_mnist", "classifier_score", "classes_present", "precision", "recall", "coverage")

    def row(images):
        return {k: v for k, v in m.evaluate(net, images, real_a).items() if k in keys}

    return {"n": n, "feature_net": {"source": net.source, "test_accuracy": net.test_accuracy},
            "generator": row(gan.generate(n, seed=seed)), "real_vs_real_floor": row(real_b)}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train":
        return train(args)
    return 2  # pragma: no cover - argparse rejects other commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
