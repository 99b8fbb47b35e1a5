"""One training run of ``python -m gan_helpers train``: check the settings, resume from the last
checkpoint, ``fit``, write the pictures, the generator and metrics.json, and measure the quality.
A run that cannot go on raises ``RunError``, which carries the exit status for the CLI."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import (
    _quiet,
    callbacks,
    checkpoint,
    config,
    data,
    distribute,
    export,
    faults,
    jobs,
    plots,
    quality,
    recipes,
)
from .divergence import NaNGuard, TrainingDiverged

FAST_IMAGES = 1280       # fast mode: a real but tiny run
FAST_EPOCHS = 2
CONFIG_KEYS = ("dataset", "latent_dim", "width", "d_width", "d_dropout", "ema", "lr", "batch_size", "loss",
               "clusters")
OUTPUTS = ("samples.png", "progress.gif", "losses.png", "generator.keras", "metrics.json")


class RunError(Exception):
    """A run that cannot go on: one line for the user and the exit status (2: bad settings, 1: no
    data, 3: diverged, 130: interrupted)."""

    def __init__(self, message: str, status: int = 2):
        super().__init__(" ".join(message.split()))
        self.status = status

    def line(self) -> str:
        return f"error: {self}"


class Interrupted(RunError):
    """Ctrl-C: the last checkpoint is kept, and the same command resumes from it."""

    def line(self) -> str:
        return f"\n{self.args[0]}"


_R = recipes.DCGANRecipe()   # the defaults of the sizes and rates


@dataclass(frozen=True)
class RunSpec:
    """Every setting of a run, parsed and checked once (``RunSpec.resolve``); frozen from then on."""

    model: str
    loss: str
    clusters: int
    out: Path
    dataset: str = "mnist"
    source: str = "auto"
    steps: int | None = None
    epochs: int | None = None
    batch_size: int = _R.batch_size
    latent_dim: int = _R.latent_dim
    width: int = _R.g_width
    d_width: int = _R.d_width
    d_dropout: float = _R.d_dropout
    ema: float = _R.ema_decay or 0.0
    lr: float = _R.lr
    seed: int = config.DEFAULT_SEED
    fast: bool = False
    restart: bool = False
    quiet: bool = False
    strategy: str = "auto"
    cpu_replicas: int | None = None
    deterministic: bool = False

    @classmethod
    def resolve(cls, model: str = "dcgan", loss: str | None = None, clusters: int | None = None,
                out: Path | None = None, **settings) -> RunSpec:
        """Fill in the model's own loss, clusters (50 for dcgan: the main job) and folder, or refuse a
        combination that does not fit (``RunError``)."""
        try:
            job, loss = jobs.model(model), jobs.check_model_loss(model, loss)
        except ValueError as exc:
            raise RunError(str(exc)) from None
        if clusters and job.labels != "clusters":
            owners = " or ".join(m.name for m in jobs.MODELS.values() if m.labels == "clusters")
            raise RunError(f"--clusters applies to --model {owners} only; {model} does not self-condition "
                           "(leave --clusters out, or give 0).")
        clusters = clusters if clusters is not None else (jobs.MAIN_JOB.clusters if job.labels == "clusters"
                                                          else 0)
        out = Path(out) if out is not None else Path("runs") / model.replace("-", "_")
        return cls(model=model, loss=loss, clusters=clusters, out=out, **settings)

    def recipe(self) -> recipes.DCGANRecipe:
        """The DCGAN recipe these settings describe (the main job's steps when self-conditioned)."""
        base = jobs.MAIN_JOB if self.clusters else recipes.DCGANRecipe()
        return base.replace(latent_dim=self.latent_dim, g_width=self.width, d_width=self.d_width,
                            d_dropout=self.d_dropout, ema_decay=self.ema or None, lr=self.lr,
                            batch_size=self.batch_size, clusters=self.clusters,
                            steps=self.steps or base.steps)

    def run_config(self) -> dict:
        """The settings a checkpoint must share with the command that resumes it."""
        return {k: getattr(self, k) for k in CONFIG_KEYS}


def train(spec: RunSpec) -> dict:
    """Run ``spec`` under its ``tf.distribute`` strategy; returns metrics.json's content."""
    if spec.out.exists() and not spec.out.is_dir():
        raise RunError(f"--out {spec.out} is a file; give a folder (it is created if missing).")
    try:  # before anything starts TensorFlow's runtime: logical CPUs can only be set up before
        cluster = distribute.tf_config() if spec.strategy == "multiworker" else None
        strategy = distribute.make_strategy(spec.strategy, spec.cpu_replicas)
        distribute.check_batch(spec.batch_size, strategy.num_replicas_in_sync)
    except (ValueError, RuntimeError) as exc:
        raise RunError(str(exc)) from None
    write_to = distribute.write_dir(spec.out, cluster)
    try:
        return Run(spec, strategy, cluster, write_to).execute()
    finally:  # a non-chief worker's outputs are temporary (TensorFlow's multi-worker guide)
        distribute.remove_worker_dir(write_to, spec.out)


class Run:
    """The steps of one run, in order; checkpoints are read from ``spec.out`` (the chief's) and
    everything is written to ``write_to`` (``spec.out`` except on other workers)."""

    def __init__(self, spec: RunSpec, strategy, cluster: dict | None, write_to: Path):
        self.spec, self.strategy, self.cluster, self.write_to = spec, strategy, cluster, write_to
        self.job = jobs.model(spec.model)
        self.fast = spec.fast or config.is_fast()
        self.ckpt_dir = spec.out / "checkpoint"
        self.history, self.frames, self.parts, self.initial_epoch = {}, [], [], 0

    def execute(self) -> dict:
        self.load_data()
        self.resume_point()
        self.prepare_folders()
        self.build()
        self.fit()
        return self.outputs()

    def load_data(self) -> None:
        """The training split (the held-out digits stay unseen for the metrics) and the schedule."""
        spec = self.spec
        self.seed = config.set_seed(spec.seed, deterministic=spec.deterministic)
        try:
            self.digits = data.load_dataset(spec.dataset, spec.source, with_test=True)
        except data.DataUnavailableError as exc:
            raise RunError(str(exc), status=1) from None
        x = self.digits.x_train
        self.x = data.to_gan_range(x[:FAST_IMAGES] if self.fast else x)
        rows = self.rows = self.job.rows_per_step(spec.batch_size)
        if rows > len(self.x):
            if rows == spec.batch_size:
                raise RunError(f"--batch-size {spec.batch_size} is larger than the {len(self.x)} training "
                               "images.")
            raise RunError(f"--batch-size {spec.batch_size} × {rows // spec.batch_size} critic steps needs "
                           f"{rows} images per step, more than the {len(self.x)} training images.")
        self.recipe = spec.recipe()
        self.epochs, self.steps_per_epoch = spec.epochs or FAST_EPOCHS, len(self.x) // rows
        if not (spec.epochs or self.fast):   # the recipe's step budget, whatever the data set's size
            self.epochs, self.steps_per_epoch = recipes.schedule(len(self.x), rows, self.recipe.steps)
        self.run_config = spec.run_config()
        # checked only when the checkpoint records them (older checkpoints do not)
        self.run_facts = {"seed": self.seed, "train_images": len(self.x),
                          "steps_per_epoch": self.steps_per_epoch, "model": spec.model}

    def resume_point(self) -> None:
        """Repair an interrupted save, then check that the checkpoint fits these settings."""
        spec = self.spec
        if spec.out.is_dir() and not spec.restart:   # --restart leaves it be: the first epoch replaces it
            repaired = checkpoint.recover(self.ckpt_dir)
            if repaired:
                print(repaired)
        self.resume = self.ckpt_dir.exists() and not spec.restart
        if not self.resume:
            return
        try:
            meta = checkpoint.read_meta(self.ckpt_dir)
        except ValueError as exc:
            raise RunError(f"{exc} Use --restart to discard it, or another --out.") from None
        old = {"clusters": 0}   # what checkpoints made before a setting existed used
        differ = {k: (meta.get(k, old.get(k)), self.run_config[k]) for k in CONFIG_KEYS
                  if meta.get(k, old.get(k)) != self.run_config[k]}
        differ.update({k: (meta[k], v) for k, v in self.run_facts.items() if k in meta and meta[k] != v})
        if meta.get("model", "dcgan") != spec.model:   # checkpoints older than --model are DCGAN's
            differ["model"] = (meta.get("model", "dcgan"), spec.model)
        if differ:
            shown = ", ".join(f"{k}: checkpoint {a!r}, now {b!r}" for k, (a, b) in differ.items())
            raise RunError(f"the checkpoint in {self.ckpt_dir} was made with other settings ({shown}). "
                           "Use the same settings to resume, --restart to discard it, or another --out.")
        self.initial_epoch = int(meta["epoch"])
        if self.initial_epoch > self.epochs:
            raise RunError(f"the checkpoint in {self.ckpt_dir} is already at epoch {self.initial_epoch}, "
                           f"beyond --epochs {self.epochs}; ask for at least {self.initial_epoch} epochs, "
                           "or --restart.")

    def prepare_folders(self) -> None:
        out = self.spec.out
        why = unwritable(out)
        if why:
            raise RunError(f"--out {out}: {why}; choose a folder you can write to.")
        if self.cluster:  # every worker must start from the same epoch, or the collectives never match up
            starts = distribute.values_on_replicas(self.strategy, self.initial_epoch)
            if len(set(starts)) > 1:
                shown = ", ".join(map(str, starts))
                raise RunError(f"the workers would start from different epochs ({shown}): "
                               f"every worker must see the chief's checkpoint in {self.ckpt_dir} (a shared "
                               "folder) or all must use --restart.")
            # and the same schedule: with --source auto a worker without network falls back to the bundled
            # digits while another loads MNIST, and their step counts (and clusters) would differ
            for what, value in (("training images", len(self.x)), ("epochs", self.epochs),
                                ("steps per epoch", self.steps_per_epoch)):
                seen = distribute.values_on_replicas(self.strategy, value)
                if len(set(seen)) > 1:
                    raise RunError(f"the workers disagree on the {what} ({', '.join(map(str, seen))}): give "
                                   "every worker the same data (the same --source and files) and settings.")
        out.mkdir(parents=True, exist_ok=True)
        self.write_to.mkdir(parents=True, exist_ok=True)
        print(self.digits.describe() + (f"; fast mode uses the first {len(self.x)}" if self.fast else ""))
        print(f"Device: {config.device_description()}")
        print(f"Strategy: {distribute.describe(self.strategy, self.cluster, self.spec.batch_size)}")
        if _quiet.STATE["active"]:
            print(_quiet.NOTE)

    def build(self) -> None:
        """Cluster the images if the recipe self-conditions (deterministic: a resumed run recomputes the
        same clusters), build the GAN in the strategy's scope, and restore the checkpoint."""
        from . import selfcond

        self.clusters, self.cluster_seconds = None, 0.0
        if self.recipe.clusters:
            if self.recipe.clusters > len(self.x):
                raise RunError(f"--clusters {self.recipe.clusters} is more than the {len(self.x)} training "
                               "images.")
            t = time.perf_counter()
            self.clusters = selfcond.cluster_images(self.x, self.recipe.clusters, seed=self.seed)
            self.cluster_seconds = time.perf_counter() - t
            print(f"Self-conditioning on {self.clusters.k} k-means clusters of the training images "
                  f"({self.cluster_seconds:.1f} s; shares {self.clusters.freqs.min():.1%}–"
                  f"{self.clusters.freqs.max():.1%})")
        with self.strategy.scope():  # networks and both optimizers: their variables are mirrored
            self.gan = jobs.build_gan(self.spec.model, self.recipe, self.seed, self.clusters, self.spec.loss)
        if not self.resume:
            return
        try:
            self.gan.load_state(self.ckpt_dir)
            self.history = read_side(self.ckpt_dir, "history.json", {})
            self.frames = list(read_side(self.ckpt_dir, "frames.npy", []))
            self.parts = read_side(self.ckpt_dir, "timing.json", {"parts_s": []})["parts_s"]
        except (ValueError, OSError, KeyError) as exc:
            raise RunError(f"{exc} Use --restart to discard it, or another --out.") from None
        print(f"Resuming from the checkpoint after epoch {self.initial_epoch} in {self.ckpt_dir} "
              "(--restart starts again).")

    def training_labels(self):
        """What the batches carry besides images: clusters, class labels (cgan), or nothing."""
        if self.clusters is not None:
            return self.clusters.labels
        return self.digits.y_train[:len(self.x)] if self.job.labels == "classes" else None

    def fit(self) -> float:
        """``fit`` from the resume point with the progress grid, losses, timer, checkpoints and the
        divergence guard; returns the seconds it took."""
        spec, out = self.spec, self.write_to
        self.grid = self.job.progress_grid(spec.latent_dim, self.seed, out / "progress.gif")
        self.grid.frames, self.grid.epochs = self.frames, list(range(len(self.frames)))
        self.losses = callbacks.LossHistory()
        self.losses.history = self.history
        self.timer = callbacks.EpochTimer(spec.batch_size)
        t0 = time.perf_counter()

        def extras() -> dict:
            return {"frames": np.stack(self.grid.frames),
                    "timing": {"parts_s": [*self.parts, round(time.perf_counter() - t0, 2)]}}

        # out / "checkpoint" is ckpt_dir on the chief, and a worker's own temporary folder elsewhere
        ckpt = callbacks.GANCheckpoint(out / "checkpoint", meta={**self.run_config, **self.run_facts},
                                       history=self.losses, extras=extras)
        start_step = self.initial_epoch * self.steps_per_epoch
        ds = data.resumable_dataset(self.x, self.rows, seed=self.seed, start_step=start_step,
                                    labels=self.training_labels())
        ds = distribute.for_workers(faults.poison_dataset(ds, start_step), self.cluster)
        print(f"Training {spec.model}: {self.epochs} epochs of {self.steps_per_epoch} steps (batch "
              f"{spec.batch_size}) from epoch {self.initial_epoch}.")
        try:
            if self.initial_epoch < self.epochs:
                self.gan.fit(ds, epochs=self.epochs, initial_epoch=self.initial_epoch,
                             verbose=2 if spec.quiet else 1, steps_per_epoch=self.steps_per_epoch,
                             callbacks=[NaNGuard(), self.grid, self.losses, self.timer, ckpt,
                                        *faults.pause_callbacks(out / "checkpoint", self.steps_per_epoch)])
        except KeyboardInterrupt:
            raise Interrupted(f"Interrupted. The state after epoch {ckpt.last_epoch or self.initial_epoch} "
                              f"is saved in {self.ckpt_dir}; run the same command again to resume from "
                              "there.", status=130) from None
        except TrainingDiverged as exc:
            done = ckpt.last_epoch or self.initial_epoch
            kept = (f"the checkpoint after epoch {done} in {self.ckpt_dir} is untouched"
                    if done else "no checkpoint had been written yet")
            epoch, step_in = divmod(exc.step - 1, self.steps_per_epoch)
            raise RunError(f"training stopped: {exc.loss} became {exc.value} at step {exc.step} (epoch "
                           f"{epoch + 1}, step {step_in + 1} of {self.steps_per_epoch}). Likely cause: "
                           f"{exc.cause} Nothing else was written: {kept}; outputs already in {out} are "
                           "unchanged.", status=3) from None
        seconds = time.perf_counter() - t0
        if self.initial_epoch < self.epochs:
            self.parts = [*self.parts, round(seconds, 2)]
        return seconds

    def outputs(self) -> dict:
        """samples.png, progress.gif, losses.png, generator.keras with its provenance, metrics.json."""
        spec, out, gan = self.spec, self.write_to, self.gan
        faults.pause_here("outputs", out / "checkpoint")
        plots.save_png(self.job.final_grid(gan, self.grid.noise), out / "samples.png")
        if self.grid.frames:
            plots.write_gif(self.grid.frames, out / "progress.gif")
        save_loss_plot(self.losses.history, self.steps_per_epoch, out / "losses.png")
        steps = self.epochs * self.steps_per_epoch
        export.save_generator(gan.sampler, out / "generator.keras", provenance={
            "model": spec.model, "inputs": self.job.generator_inputs, "recipe": self.recipe.record(),
            "loss": spec.loss, "dataset": spec.dataset, "data_source": self.digits.source,
            "train_images": len(self.x), "steps": steps, "seed": self.seed})
        samples = gan.generate(1000, seed=self.seed)
        metrics = {
            "dataset": spec.dataset, "data_source": self.digits.source, "train_images": len(self.x),
            "fast": self.fast, "epochs": self.epochs, "resumed_from_epoch": self.initial_epoch,
            "steps": steps, **self.run_config, "model": spec.model, "seed": self.seed,
            "final_epoch_means": {k: float(np.mean(v[-self.steps_per_epoch:]))
                                  for k, v in self.losses.history.items()},
            "wall_time_s": round(sum(self.parts), 2), "wall_time_parts_s": self.parts,
            "cluster_seconds": round(self.cluster_seconds, 2),
            "images_per_second": round(self.timer.images_per_second(), 1) if self.timer.seconds else None,
            "device": config.device_description(), "versions": config.versions(),
            "strategy": distribute.kind_of(self.strategy), "replicas": self.strategy.num_replicas_in_sync,
            "sample_mean_pixel": float(data.from_gan_range(samples).mean() / 255),
            "data_mean_pixel": float(self.digits.x_train.mean() / 255),
        }
        if self.strategy.num_replicas_in_sync > 1 or self.cluster:  # equal on every worker when in sync
            print(f"Weights digest (G, D, average): "
                  f"{distribute.weights_digest(gan.generator, gan.discriminator, gan.sampler)}")
        if spec.dataset == "mnist" and distribute.is_chief(self.cluster):
            metrics["quality"] = quality.measure(gan, self.digits, self.fast, self.seed)
            print(quality.describe(metrics["quality"]))
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        if not distribute.is_chief(self.cluster):
            print(f"Done in {sum(self.parts):.0f} s. This worker's outputs in {out} are removed; the chief "
                  f"writes {spec.out}.")
            return metrics
        print(f"Done: {sum(self.parts):.0f} s of training in {len(self.parts)} part(s) on "
              f"{metrics['device']}. Wrote:")
        for name in OUTPUTS:
            print(f"  {out / name}")
        return metrics


def save_loss_plot(history: dict, steps_per_epoch: int, path: Path) -> None:
    """losses.png: every step's losses and D outputs, drawn off-screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close(plots.plot_losses(history, steps_per_epoch=steps_per_epoch, path=path))


def read_side(directory: Path, name: str, default):
    """A checkpoint's side file (JSON or .npy), or ``default`` when it has none."""
    path = directory / name
    if not path.exists():
        return default
    return np.load(path) if path.suffix == ".npy" else json.loads(path.read_text())


def unwritable(out: Path) -> str | None:
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


def report_error(exc: RunError) -> int:
    """Print ``exc`` on one line (stderr) and return its exit status."""
    print(exc.line(), file=sys.stderr)
    return exc.status
