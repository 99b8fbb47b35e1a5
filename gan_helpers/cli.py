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
CONFIG_KEYS = ("dataset", "latent_dim", "width", "d_width", "d_dropout", "ema", "lr", "batch_size", "loss")


def _number(kind: type, allowed, rule: str):
    """An argparse type: parse ``text`` as ``kind`` and refuse values outside ``allowed``, naming ``rule``."""
    noun = "whole number" if kind is int else "number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {noun}") from None
        if not allowed(value):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive whole number")
_seed = _number(int, lambda v: 0 <= v < 2**32, "between 0 and 2**32 - 1")
_unit_interval = _number(float, lambda v: 0.0 <= v < 1.0, "in [0, 1)")
_learning_rate = _number(float, lambda v: 0.0 < v <= 1.0, "a learning rate in (0, 1]")


def build_parser() -> argparse.ArgumentParser:
    from .training import DCGANRecipe

    r = DCGANRecipe()
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
                   help=f"passes over the data (default: enough for about {r.steps} steps)")
    t.add_argument("--batch-size", type=_positive_int, default=r.batch_size)
    t.add_argument("--latent-dim", type=_positive_int, default=r.latent_dim)
    t.add_argument("--width", type=_positive_int, default=r.g_width,
                   help=f"generator: filters of its last hidden layer (default {r.g_width})")
    t.add_argument("--d-width", type=_positive_int, default=r.d_width,
                   help=f"discriminator: filters of its first layer (default {r.d_width})")
    t.add_argument("--d-dropout", type=_unit_interval, default=r.d_dropout,
                   help=f"discriminator dropout rate in [0, 1) (default {r.d_dropout})")
    t.add_argument("--ema", type=_unit_interval, default=r.ema_decay or 0.0,
                   help=f"decay of the moving average of G's weights that the pictures come from; "
                        f"0 turns it off (default {r.ema_decay})")
    t.add_argument("--lr", type=_learning_rate, default=r.lr,
                   help=f"Adam learning rate of both networks (default {r.lr})")
    t.add_argument("--loss", choices=("nonsaturating", "minimax"), default="nonsaturating",
                   help="generator loss (default: nonsaturating)")
    t.add_argument("--seed", type=_seed, default=config.DEFAULT_SEED)
    t.add_argument("--out", type=Path, default=Path("runs/dcgan"), help="output folder")
    t.add_argument("--fast", action="store_true",
                   help=f"tiny CI-sized run (same as {config.FAST_ENV}=1)")
    t.add_argument("--restart", action="store_true",
                   help="ignore an existing checkpoint in --out and start again")
    t.add_argument("--quiet", action="store_true", help="one line per epoch, no progress bar")
    t.add_argument("--strategy", choices=("auto", "one", "mirrored", "multiworker"), default="auto",
                   help="tf.distribute strategy: auto (mirrored when more than one GPU is visible, else "
                        "one device), one, mirrored (all GPUs, or the --cpu-replicas logical CPUs), "
                        "multiworker (several processes or machines described by TF_CONFIG; the first "
                        "worker writes the outputs) (default: auto)")
    t.add_argument("--cpu-replicas", type=_positive_int, default=None, metavar="N",
                   help="split the CPU into N logical devices and train on them with mirrored "
                        "(data parallelism on a laptop; no speed-up, the point is to try it)")
    return parser


def _fail(message: str, status: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


def train(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.exists() and not out.is_dir():
        return _fail(f"--out {out} is a file; give a folder (it is created if missing).")
    from . import distribute

    try:  # before anything starts TensorFlow's runtime: logical CPUs can only be set up before
        cluster = distribute.tf_config() if args.strategy == "multiworker" else None
        strategy = distribute.make_strategy(args.strategy, args.cpu_replicas)
        distribute.check_batch(args.batch_size, strategy.num_replicas_in_sync)
    except (ValueError, RuntimeError) as exc:
        return _fail(str(exc))
    write_to = distribute.write_dir(out, cluster)
    try:
        return _train(args, strategy, cluster, write_to)
    finally:  # a non-chief worker's outputs are temporary (TensorFlow's multi-worker guide)
        distribute.remove_worker_dir(write_to, out)


def _train(args: argparse.Namespace, strategy, cluster: dict | None, write_to: Path) -> int:
    """The training run itself, under ``strategy``; checkpoints are read from ``args.out`` (the
    chief's) and everything is written to ``write_to`` (``args.out`` except on other workers)."""
    from . import distribute

    out: Path = args.out
    fast = args.fast or config.is_fast()

    import numpy as np

    from . import callbacks, data, plots, training

    seed = config.set_seed(args.seed)
    try:  # the training split only: the held-out digits stay unseen for the metrics
        digits = data.load_dataset(args.dataset, args.source, with_test=True)
    except data.DataUnavailableError as exc:
        return _fail(str(exc), status=1)
    x = data.to_gan_range(digits.x_train[:FAST_IMAGES] if fast else digits.x_train)
    if args.batch_size > len(x):
        return _fail(f"--batch-size {args.batch_size} is larger than the {len(x)} training images.")
    steps_per_epoch = len(x) // args.batch_size
    recipe = training.DCGANRecipe().replace(
        latent_dim=args.latent_dim, g_width=args.width, d_width=args.d_width, d_dropout=args.d_dropout,
        ema_decay=args.ema or None, lr=args.lr, batch_size=args.batch_size)
    epochs = args.epochs or FAST_EPOCHS
    if not (args.epochs or fast):   # the recipe's step budget, whatever the data set's size
        epochs, steps_per_epoch = training.schedule(len(x), args.batch_size, recipe.steps)
    partial_epochs = steps_per_epoch < len(x) // args.batch_size

    run_config = {"dataset": args.dataset, "latent_dim": args.latent_dim, "width": args.width,
                  "d_width": args.d_width, "d_dropout": args.d_dropout, "ema": args.ema, "lr": args.lr,
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
    if cluster:  # every worker must start from the same epoch, or the collectives never match up
        starts = distribute.values_on_replicas(strategy, initial_epoch)
        if len(set(starts)) > 1:
            return _fail(f"the workers would start from different epochs ({', '.join(map(str, starts))}): "
                         f"every worker must see the chief's checkpoint in {ckpt_dir} (a shared folder) "
                         "or all must use --restart.")
    out.mkdir(parents=True, exist_ok=True)
    out = write_to  # from here on, this process's folder
    out.mkdir(parents=True, exist_ok=True)

    print(digits.describe() + (f"; fast mode uses the first {len(x)}" if fast else ""))
    print(f"Device: {config.device_description()}")
    print(f"Strategy: {distribute.describe(strategy, cluster, args.batch_size)}")
    with strategy.scope():  # networks and both optimizers: their variables are mirrored
        gan = recipe.build(seed=seed, g_loss_fn=args.loss)
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
    ckpt = callbacks.GANCheckpoint(out / "checkpoint", meta=run_config, history=losses)
    ds = distribute.for_workers(data.make_dataset(x, args.batch_size, seed=seed), cluster)
    if partial_epochs:
        ds = ds.repeat()
    print(f"Training {epochs} epochs of {steps_per_epoch} steps (batch {args.batch_size}) "
          f"from epoch {initial_epoch}.")
    t0 = time.perf_counter()
    try:
        if initial_epoch < epochs:
            gan.fit(ds, epochs=epochs, initial_epoch=initial_epoch, verbose=2 if args.quiet else 1,
                    steps_per_epoch=steps_per_epoch if partial_epochs else None,
                    callbacks=[grid, losses, timer, ckpt])
    except KeyboardInterrupt:
        done = ckpt.last_epoch or initial_epoch
        print(f"\nInterrupted. The state after epoch {done} is saved in {ckpt_dir}; run the same "
              "command again to resume from there.", file=sys.stderr)
        return 130
    train_seconds = time.perf_counter() - t0

    plots.save_png(plots.image_grid(training.generate_from(callbacks.sampler_of(gan), noise), ncols=8),
                   out / "samples.png")
    if grid.frames and initial_epoch < epochs:
        plots.write_gif(grid.frames, out / "progress.gif")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close(plots.plot_losses(losses.history, steps_per_epoch=steps_per_epoch,
                                path=out / "losses.png"))
    gan.save_generator(out / "generator.keras", provenance={
        "recipe": training.recipe_record(recipe), "loss": args.loss, "dataset": args.dataset,
        "data_source": digits.source, "train_images": len(x), "steps": epochs * steps_per_epoch,
        "seed": seed})

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
        "strategy": distribute.kind_of(strategy), "replicas": strategy.num_replicas_in_sync,
        "sample_mean_pixel": float(data.from_gan_range(samples).mean() / 255),
        "data_mean_pixel": float(digits.x_train.mean() / 255),
    }
    if strategy.num_replicas_in_sync > 1 or cluster:  # equal on every worker when they are in sync
        print(f"Weights digest (G, D, average): "
              f"{distribute.weights_digest(gan.generator, gan.discriminator, gan.sampler)}")
    if args.dataset == "mnist" and distribute.is_chief(cluster):
        metrics["quality"] = _quality(gan, digits, fast, seed)
        q = metrics["quality"]
        g, f = q["generator"], q["real_vs_real_floor"]
        print(f"FD-MNIST {g['fd_mnist']:.2f} (real-vs-real floor {f['fd_mnist']:.2f}, N = {q['n']}); "
              f"confident share {g['confident_share']:.1%} (held-out real digits "
              f"{q['held_out_confident_share']:.1%}); "
              f"class shares {g['min_class_share']:.1%}–{g['max_class_share']:.1%}, "
              f"{g['classes_present']}/10 classes; classifier score {g['classifier_score']:.2f} "
              f"(floor {f['classifier_score']:.2f})")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if not distribute.is_chief(cluster):
        print(f"Done in {train_seconds:.0f} s. This worker's outputs in {out} are removed; the chief "
              f"writes {args.out}.")
        return 0
    print(f"Done in {train_seconds:.0f} s on {metrics['device']}. Wrote:")
    for name in ("samples.png", "progress.gif", "losses.png", "generator.keras", "metrics.json"):
        print(f"  {out / name}")
    return 0


def _quality(gan, digits, fast: bool, seed: int) -> dict:
    """FD-MNIST, classifier score and coverage of the generator, next to the real-vs-real floor
    at the same N and the held-out digits' confident share (notebook 05 explains them)."""
    import numpy as np

    from . import metrics as m

    n = 500 if fast else 2000
    net = m.load_feature_net(digits.source, epochs=1 if fast else None, digits=digits)
    rng = np.random.default_rng(seed)
    real_a = digits.x_test[rng.choice(len(digits.x_test), n, replace=False)]
    real_b = digits.x_train[rng.choice(len(digits.x_train), n, replace=False)]
    keys = ("fd_mnist", "confident_share", "classifier_score", "classes_present", "min_class_share",
            "max_class_share", "precision", "recall", "density", "knn_coverage")

    def row(images):
        return {k: v for k, v in m.evaluate(net, images, real_a).items() if k in keys}

    # the fidelity floor comes from digits the feature net never saw: on its own training digits
    # (the FD floor's set) it is over-confident
    return {"n": n, "feature_net": {"source": net.source, "test_accuracy": net.test_accuracy},
            "generator": row(gan.generate(n, seed=seed)), "real_vs_real_floor": row(real_b),
            "held_out_confident_share": m.confident_share(net.probs(real_a))}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train":
        return train(args)
    return 2  # pragma: no cover - argparse rejects other commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
