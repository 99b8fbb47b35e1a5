"""``python -m gan_helpers train``: train the DCGAN (or another ``--model``) and write its pictures and
metrics."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import config
from .data import DATASETS, SOURCES

FAST_IMAGES = 1280       # fast mode: a real but tiny run
FAST_EPOCHS = 2
NAN_ENV = "GAN_HELPERS_TEST_NAN_AT_STEP"   # test hook (see _inject_nan_for_tests)
MODELS = ("dcgan", "cgan", "wgan-gp", "sngan")   # --model: notebooks 04, 06 and 07 (gan_helpers.variants)
CONFIG_KEYS = ("dataset", "latent_dim", "width", "d_width", "d_dropout", "ema", "lr", "batch_size", "loss",
               "clusters")


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


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument gets one line (not the usage block) and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message} ({self.prog} --help lists what is allowed)\n")


def build_parser() -> argparse.ArgumentParser:
    from .training import MAIN_JOB, DCGANRecipe

    r = DCGANRecipe()
    parser = _Parser(prog="python -m gan_helpers", description="Adversarial-learning tutorial helpers.")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a GAN (--model); write samples, GIF, losses and metrics",
                       description="Train the DCGAN of notebook 04, self-conditioned on k-means clusters "
                                   "of the training images (--clusters; --model cgan: the conditional GAN of "
                                   "notebook 06; wgan-gp or sngan: notebook 07's variants) and write "
                                   "samples.png, "
                                   "progress.gif, losses.png, generator.keras and metrics.json. "
                                   "Rerunning the same command resumes from the last epoch's "
                                   "checkpoint.")
    t.add_argument("--dataset", choices=DATASETS, default="mnist")
    t.add_argument("--source", choices=SOURCES, default="auto",
                   help="where MNIST comes from: auto (download, else the bundled sample), "
                        "keras, or bundled (default: auto)")
    t.add_argument("--steps", type=_positive_int, default=None,
                   help=f"Adam steps of the whole run, whatever the size of the data (default: the "
                        f"recipe's, {MAIN_JOB.steps} for the self-conditioned dcgan, {r.steps} otherwise)")
    t.add_argument("--epochs", type=_positive_int, default=None,
                   help="passes over the data, instead of --steps (default: as many as --steps needs)")
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
    t.add_argument("--model", choices=MODELS, default="dcgan",
                   help="dcgan (the recipe of notebook 04); cgan (label-conditioned, notebook 06: "
                        "generator.keras takes [z, labels], samples.png has one row per digit); "
                        "wgan-gp (Wasserstein critic with gradient penalty, 5 critic steps per generator "
                        "step) or sngan (spectrally normalised critic, hinge loss), notebook 07, with "
                        "their papers' optimizer settings (default: dcgan)")
    t.add_argument("--clusters", type=_number(int, lambda v: v >= 0, "0 or a positive whole number"),
                   default=None, metavar="K",
                   help="dcgan only: self-condition G and D on K k-means clusters of the training "
                        "images (no labels; generator.keras still takes z alone); 0 trains the plain "
                        "DCGAN (default: 50 for dcgan, notebook 04, section 9)")
    t.add_argument("--loss", choices=("nonsaturating", "minimax", "wasserstein", "hinge"), default=None,
                   help="generator loss: nonsaturating or minimax for dcgan and cgan, wasserstein for "
                        "wgan-gp, "
                        "hinge for sngan (default: the model's own, nonsaturating for dcgan)")
    t.add_argument("--seed", type=_seed, default=config.DEFAULT_SEED)
    t.add_argument("--out", type=Path, default=None,
                   help="output folder (default: runs/<model>, with _ for -: runs/dcgan, runs/wgan_gp…)")
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
    t.add_argument("--deterministic", action="store_true",
                   help="make TensorFlow's ops deterministic (tf.config.experimental."
                        "enable_op_determinism): same bytes from the same seed on a GPU too, but slower")
    t.add_argument("--verbose", action="store_true",
                   help="show TensorFlow's start-up and log lines, which are hidden by default")
    return parser


def _fail(message: str, status: int = 2) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)   # always one line
    return status


def _run_config(args: argparse.Namespace) -> dict:
    """The settings a checkpoint must share with the command that resumes it."""
    return {"dataset": args.dataset, "latent_dim": args.latent_dim, "width": args.width,
            "d_width": args.d_width, "d_dropout": args.d_dropout, "ema": args.ema, "lr": args.lr,
            "batch_size": args.batch_size, "loss": _loss_of(args), "clusters": _clusters_of(args)}


def _clusters_of(args: argparse.Namespace) -> int:
    """``--clusters``, or the model's own number when it was not given (50 for dcgan, else 0)."""
    from .training import MAIN_JOB

    if args.clusters is not None:
        return args.clusters
    return MAIN_JOB.clusters if args.model == "dcgan" else 0


def _loss_of(args: argparse.Namespace) -> str:
    """``--loss``, or the model's own loss when it was not given (nonsaturating for dcgan)."""
    from .variants import check_model_loss

    return args.loss if args.loss is not None else check_model_loss(args.model, None)


def _recipe(args: argparse.Namespace):
    from . import training

    clusters = _clusters_of(args)
    base = training.MAIN_JOB if clusters else training.DCGANRecipe()   # the main job has its own steps
    return base.replace(
        latent_dim=args.latent_dim, g_width=args.width, d_width=args.d_width, d_dropout=args.d_dropout,
        ema_decay=args.ema or None, lr=args.lr, batch_size=args.batch_size, clusters=clusters,
        steps=args.steps or base.steps)


def _unwritable(out: Path) -> str | None:
    """Why ``out`` cannot hold the run's files, or None: probes the folder (or its nearest existing
    parent) by creating and deleting a file, which is what read-only disks and permissions refuse."""
    probe_dir = out
    while not probe_dir.exists():
        if probe_dir.parent == probe_dir:
            break
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        return f"{probe_dir} is a file, so no folder can be made under it"
    probe = probe_dir / f".gan_helpers_write_test_{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"{probe_dir} cannot be written ({exc.strerror or type(exc).__name__})"
    return None


def _inject_nan_for_tests(ds, start_step: int):
    """Test hook: with ``GAN_HELPERS_TEST_NAN_AT_STEP=k`` the batch of global step k is made of inf,
    so that the divergence path can be tested on a real run."""
    at = os.environ.get(NAN_ENV)
    if not at:
        return ds
    import tensorflow as tf

    bad = int(at)
    def poison(i, x):   # images only: a conditional run's labels stay as they are
        return tf.where(i == bad, tf.fill(tf.shape(x), float("inf")), x) if x.dtype.is_floating else x

    return ds.enumerate(start=start_step + 1).map(
        lambda i, batch: tf.nest.map_structure(lambda x: poison(i, x), batch))


def _check_model(args: argparse.Namespace) -> str | None:
    """Fill in the model's own loss and output folder; why the model and loss do not fit, or None."""
    from .variants import check_model_loss

    args.out = args.out if args.out is not None else Path("runs") / args.model.replace("-", "_")
    if args.clusters and args.model != "dcgan":
        return (f"--clusters applies to --model dcgan only; {args.model} does not self-condition "
                "(leave --clusters out, or give 0).")
    args.clusters = _clusters_of(args)
    try:
        args.loss = check_model_loss(args.model, args.loss)
    except ValueError as exc:
        return str(exc)
    return None


def _build_gan(args: argparse.Namespace, recipe, seed: int, clusters=None):
    """The compiled GAN of ``--model``: the DCGAN recipe (self-conditioned on ``clusters`` when the
    recipe asks for them), or a variant built on the recipe's networks."""
    from .variants import VARIANTS

    if args.model == "dcgan":
        return recipe.build(seed=seed, clusters=clusters, g_loss_fn=args.loss)
    if args.model == "cgan":
        from .conditional import build_conditional

        return build_conditional(recipe, seed=seed, g_loss_fn=args.loss)
    return VARIANTS[args.model].replace(base=recipe).build(seed=seed)


def _rows_per_step(args: argparse.Namespace) -> int:
    """Real images one training step takes: one batch per critic step (5 for wgan-gp)."""
    from .variants import VARIANTS

    return args.batch_size * (VARIANTS[args.model].d_steps if args.model in VARIANTS else 1)


def train(args: argparse.Namespace) -> int:
    bad = _check_model(args)
    if bad:
        return _fail(bad)
    out: Path = args.out
    if out.exists() and not out.is_dir():
        return _fail(f"--out {out} is a file; give a folder (it is created if missing).")
    from . import distribute

    try:  # before anything starts TensorFlow's runtime: logical CPUs can only be set up before
        cluster = distribute.tf_config() if args.strategy == "multiworker" else None
        if cluster and (args.clusters or args.model == "cgan"):   # Keras fails on labelled batches there
            return _fail(f"--strategy multiworker trains on unlabelled batches only, and --model "
                         f"{args.model}{f' with --clusters {args.clusters}' if args.clusters else ''} needs "
                         "labels or clusters; use --clusters 0 (the plain DCGAN) or --strategy mirrored.")
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

    seed = config.set_seed(args.seed, deterministic=args.deterministic)
    try:  # the training split only: the held-out digits stay unseen for the metrics
        digits = data.load_dataset(args.dataset, args.source, with_test=True)
    except data.DataUnavailableError as exc:
        return _fail(str(exc), status=1)
    x = data.to_gan_range(digits.x_train[:FAST_IMAGES] if fast else digits.x_train)
    rows = _rows_per_step(args)
    if rows > len(x):
        if rows == args.batch_size:
            return _fail(f"--batch-size {args.batch_size} is larger than the {len(x)} training images.")
        return _fail(f"--batch-size {args.batch_size} × {rows // args.batch_size} critic steps needs "
                     f"{rows} images per step, more than the {len(x)} training images.")
    steps_per_epoch = len(x) // rows
    recipe = _recipe(args)
    epochs = args.epochs or FAST_EPOCHS
    if not (args.epochs or fast):   # the recipe's step budget, whatever the data set's size
        epochs, steps_per_epoch = training.schedule(len(x), rows, recipe.steps)

    run_config = _run_config(args)
    # checked only when the checkpoint records them (older checkpoints do not)
    run_facts = {"seed": seed, "train_images": len(x), "steps_per_epoch": steps_per_epoch,
                 "model": args.model}
    ckpt_dir = out / "checkpoint"
    initial_epoch, history, frames, parts = 0, {}, [], []
    if out.is_dir() and not args.restart:   # --restart leaves it be: the first epoch replaces it
        repaired = training.recover_checkpoint(ckpt_dir)
        if repaired:
            print(repaired)
    resume = ckpt_dir.exists() and not args.restart
    if resume:
        try:
            meta = training.read_checkpoint_meta(ckpt_dir)
        except ValueError as exc:
            return _fail(f"{exc} Use --restart to discard it, or another --out.")
        old = {"clusters": 0}   # what checkpoints made before a setting existed used
        differ = {k: (meta.get(k, old.get(k)), run_config[k]) for k in CONFIG_KEYS
                  if meta.get(k, old.get(k)) != run_config[k]}
        differ.update({k: (meta[k], v) for k, v in run_facts.items() if k in meta and meta[k] != v})
        if meta.get("model", "dcgan") != args.model:   # checkpoints older than --model are DCGAN's
            differ["model"] = (meta.get("model", "dcgan"), args.model)
        if differ:
            shown = ", ".join(f"{k}: checkpoint {a!r}, now {b!r}" for k, (a, b) in differ.items())
            return _fail(f"the checkpoint in {ckpt_dir} was made with other settings ({shown}). "
                         "Use the same settings to resume, --restart to discard it, or another --out.")
        initial_epoch = int(meta["epoch"])
        if initial_epoch > epochs:
            return _fail(f"the checkpoint in {ckpt_dir} is already at epoch {initial_epoch}, beyond "
                         f"--epochs {epochs}; ask for at least {initial_epoch} epochs, or --restart.")
    why = _unwritable(out)
    if why:
        return _fail(f"--out {out}: {why}; choose a folder you can write to.")
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
    from . import _quiet

    if _quiet.STATE["active"]:
        print(_quiet.NOTE)
    clusters, cluster_seconds = None, 0.0
    if recipe.clusters:  # k-means is deterministic: a resumed run recomputes the same clusters
        from .selfcond import cluster_images

        if recipe.clusters > len(x):
            return _fail(f"--clusters {recipe.clusters} is more than the {len(x)} training images.")
        t_clusters = time.perf_counter()
        clusters = cluster_images(x, recipe.clusters, seed=seed)
        cluster_seconds = time.perf_counter() - t_clusters
        print(f"Self-conditioning on {clusters.k} k-means clusters of the training images "
              f"({cluster_seconds:.1f} s; shares {clusters.freqs.min():.1%}–{clusters.freqs.max():.1%})")
    with strategy.scope():  # networks and both optimizers: their variables are mirrored
        gan = _build_gan(args, recipe, seed, clusters)
    if resume:
        try:
            gan.load_state(ckpt_dir)
            if (ckpt_dir / "history.json").exists():
                history = json.loads((ckpt_dir / "history.json").read_text())
            if (ckpt_dir / "frames.npy").exists():
                frames = list(np.load(ckpt_dir / "frames.npy"))
            if (ckpt_dir / "timing.json").exists():
                parts = json.loads((ckpt_dir / "timing.json").read_text())["parts_s"]
        except (ValueError, OSError, KeyError) as exc:
            return _fail(f"{exc} Use --restart to discard it, or another --out.")
        print(f"Resuming from the checkpoint after epoch {initial_epoch} in {ckpt_dir} "
              "(--restart starts again).")

    grid = _sample_grid(args.model, args.latent_dim, seed, out / "progress.gif")
    grid.frames, grid.epochs = frames, list(range(len(frames)))
    losses = callbacks.LossHistory()
    losses.history = history
    timer = callbacks.EpochTimer(args.batch_size)
    t0 = time.perf_counter()

    def extras() -> dict:
        return {"frames": np.stack(grid.frames),
                "timing": {"parts_s": [*parts, round(time.perf_counter() - t0, 2)]}}

    # out / "checkpoint" is ckpt_dir on the chief, and a worker's own temporary folder elsewhere
    ckpt = callbacks.GANCheckpoint(out / "checkpoint", meta={**run_config, **run_facts}, history=losses,
                                   extras=extras)
    start_step = initial_epoch * steps_per_epoch
    labels = clusters.labels if clusters is not None else _labels_for(args.model, digits, len(x))
    ds = _inject_nan_for_tests(data.resumable_dataset(x, rows, seed=seed, start_step=start_step,
                                                      labels=labels), start_step)
    ds = distribute.for_workers(ds, cluster)
    print(f"Training {args.model}: {epochs} epochs of {steps_per_epoch} steps (batch {args.batch_size}) "
          f"from epoch {initial_epoch}.")
    try:
        if initial_epoch < epochs:
            gan.fit(ds, epochs=epochs, initial_epoch=initial_epoch, verbose=2 if args.quiet else 1,
                    steps_per_epoch=steps_per_epoch,
                    callbacks=[callbacks.NaNGuard(), grid, losses, timer, ckpt,
                               *_test_pause_callbacks(out, steps_per_epoch)])
    except KeyboardInterrupt:
        done = ckpt.last_epoch or initial_epoch
        print(f"\nInterrupted. The state after epoch {done} is saved in {ckpt_dir}; run the same "
              "command again to resume from there.", file=sys.stderr)
        return 130
    except training.TrainingDiverged as exc:
        done = ckpt.last_epoch or initial_epoch
        kept = (f"the checkpoint after epoch {done} in {ckpt_dir} is untouched"
                if done else "no checkpoint had been written yet")
        epoch, step_in = divmod(exc.step - 1, steps_per_epoch)
        return _fail(f"training stopped: {exc.loss} became {exc.value} at step {exc.step} (epoch "
                     f"{epoch + 1}, step {step_in + 1} of {steps_per_epoch}). Likely cause: {exc.cause} "
                     f"Nothing else was written: {kept}; outputs already in {out} are unchanged.",
                     status=3)
    train_seconds = time.perf_counter() - t0
    if initial_epoch < epochs:
        parts = [*parts, round(train_seconds, 2)]
    _test_pause_outputs(out)

    plots.save_png(_final_grid(grid, gan), out / "samples.png")
    if grid.frames:
        plots.write_gif(grid.frames, out / "progress.gif")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close(plots.plot_losses(losses.history, steps_per_epoch=steps_per_epoch,
                                path=out / "losses.png"))
    gan.save_generator(out / "generator.keras", provenance={
        "model": args.model, "inputs": _generator_inputs(args.model),
        "recipe": training.recipe_record(recipe), "loss": args.loss, "dataset": args.dataset,
        "data_source": digits.source, "train_images": len(x), "steps": epochs * steps_per_epoch,
        "seed": seed})

    samples = gan.generate(1000, seed=seed)
    final = {k: float(np.mean(v[-steps_per_epoch:])) for k, v in losses.history.items()}
    metrics = {
        "dataset": args.dataset, "data_source": digits.source, "train_images": len(x),
        "fast": fast, "epochs": epochs, "resumed_from_epoch": initial_epoch,
        "steps": epochs * steps_per_epoch, **run_config, "model": args.model, "seed": seed,
        "final_epoch_means": final,
        "wall_time_s": round(sum(parts), 2),
        "wall_time_parts_s": parts,
        "cluster_seconds": round(cluster_seconds, 2),
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
        if args.model == "cgan":
            print(f"Label agreement {q['label_agreement']:.1%} (the feature net reads the requested digit)")
        g, f = q["generator"], q["real_vs_real_floor"]
        print(f"FD-MNIST {g['fd_mnist']:.2f} (real-vs-real floor {f['fd_mnist']:.2f}, N = {q['n']}); "
              f"confident share {g['confident_share']:.1%} (held-out real digits "
              f"{q['held_out_confident_share']:.1%}); "
              f"class shares {g['min_class_share']:.1%}–{g['max_class_share']:.1%}, "
              f"{g['classes_present']}/10 classes; classifier score {g['classifier_score']:.2f} "
              f"(floor {f['classifier_score']:.2f})")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if not distribute.is_chief(cluster):
        print(f"Done in {sum(parts):.0f} s. This worker's outputs in {out} are removed; the chief "
              f"writes {args.out}.")
        return 0
    print(f"Done: {sum(parts):.0f} s of training in {len(parts)} part(s) on {metrics['device']}. Wrote:")
    for name in ("samples.png", "progress.gif", "losses.png", "generator.keras", "metrics.json"):
        print(f"  {out / name}")
    return 0


# ----------------------------------------------------------------- what differs between --model's
def _labels_for(model: str, digits, n: int):
    """The training labels a conditional model needs (the first ``n``, as the images), else None."""
    return digits.y_train[:n] if model == "cgan" else None


def _sample_grid(model: str, latent_dim: int, seed: int, gif_path: Path):
    """The progress callback: 64 fixed noise vectors, or for cgan the 10×10 class grid (one row
    per digit, one column per noise vector)."""
    import numpy as np

    from . import callbacks

    rng = np.random.default_rng(seed)
    if model == "cgan":
        from .conditional import ClassGrid

        return ClassGrid(rng.standard_normal((10, latent_dim)).astype("float32"), gif_path=gif_path)
    return callbacks.SampleGrid(rng.standard_normal((64, latent_dim)).astype("float32"), gif_path=gif_path)


def _final_grid(grid, gan):
    """samples.png from the final (averaged) generator: 8×8 samples, or for cgan the class grid."""
    from . import callbacks, plots, training

    sampler = callbacks.sampler_of(gan)
    if getattr(gan, "samples_need_labels", False):
        from .conditional import class_grid

        return class_grid(sampler, grid.noise)
    return plots.image_grid(training.generate_from(sampler, grid.noise), ncols=8)


def _generator_inputs(model: str) -> str:
    """What generator.keras takes, for its provenance record."""
    return "[z, labels]: z standard normal [N, latent_dim], labels int 0-9 [N]" if model == "cgan" else "z"


def _test_pause_callbacks(out: Path, steps_per_epoch: int) -> list:
    """Test hook: ``GAN_HELPERS_TEST_PAUSE=step:k`` stops after global step k (mid-epoch), touching
    ``<out>/checkpoint.paused``, so that a test can kill the process there."""
    import keras

    from . import training

    stage, _, at = os.environ.get(training.PAUSE_ENV, "").partition(":")
    if stage != "step":
        return []

    class Pause(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch * steps_per_epoch + batch + 1 == int(at):
                (out / "checkpoint.paused").write_text("step")
                time.sleep(3600)

    return [Pause()]


def _test_pause_outputs(out: Path) -> None:
    """Test hook: ``GAN_HELPERS_TEST_PAUSE=outputs`` stops after training, before the outputs are
    written, touching ``<out>/checkpoint.paused``, so that a test can kill the process there."""
    from . import training

    if os.environ.get(training.PAUSE_ENV) == "outputs":
        (out / "checkpoint.paused").write_text("outputs")
        time.sleep(3600)


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
    quality = {"n": n, "feature_net": {"source": net.source, "test_accuracy": net.test_accuracy},
               "generator": row(gan.generate(n, seed=seed)), "real_vs_real_floor": row(real_b),
               "held_out_confident_share": m.confident_share(net.probs(real_a))}
    if getattr(gan, "samples_need_labels", False):   # does the digit match the label asked for?
        from .conditional import label_agreement

        agree = label_agreement(net, gan.sampler, n, seed)
        quality.update(label_agreement=agree["agreement"], label_agreement_per_class=agree["per_class"])
    return quality


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train":
        return train(args)
    return 2  # pragma: no cover - argparse rejects other commands


def entry() -> int:
    """``python -m gan_helpers`` and the ``gan-helpers`` command: TensorFlow's harmless start-up lines
    are hidden before it is imported, unless ``--verbose`` (or the user's own log level) asks for them."""
    from . import USER_SET_TF_LOG_LEVEL
    from ._quiet import hide_tensorflow_startup_lines

    if "--verbose" in sys.argv[1:]:
        if not USER_SET_TF_LOG_LEVEL:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        hide_tensorflow_startup_lines()
    return main()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
