"""Long runs of notebook 07's three recipes, and what the WGAN-GP critic's loss tracks (notebook 07, §6).

Trains each recipe (the DCGAN recipe, WGAN-GP and SN-GAN with the hinge loss, with the package's
settings) for a fixed number of **generator steps**, and every ``--every`` steps records the mean losses
since the last record (the critic's W1 estimate E f(x) − E f(G(z)) is ``d_real − d_fake``; WGAN-GP's
penalty term λ·GP is ``d_loss + d_real − d_fake``), FD-MNIST of 500 samples from fixed noise, and the
critic's gradient norm ‖∇f(x̂)‖ at points x̂ between 256 fixed held-out digits and 256 fakes from fixed
noise (its mean and the mean of (‖∇f‖ − 1)²). At the end it measures 2,000 samples against the 2,000
held-out digits (FD-MNIST, confident share) and saves an 8×8 sample grid as a PNG:

    python benchmarks/critic_tracking.py --steps 2000 --recipes WGAN-GP,DCGAN,SN-GAN \\
        --stop-file runs/ct/STOP --part runs/ct/long.json
    python benchmarks/critic_tracking.py --merge runs/ct/long.json --export gan_helpers/results/long_runs.json

``touch runs/ct/STOP`` ends every run at its next record (as ``--steps`` set to its steps would), then
measures it.
Step-based, so another job on the machine changes how long a run takes, not what it records.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

NOTE = ("one recipe after another in one process on an otherwise idle 2-core CPU (the load average before "
        "the start is under 'load_before'), TensorFlow's default threads. The records are indexed by "
        "generator step; a run ended early by --stop-file ends at a record, as --steps set to its steps "
        "would end it ('reproduce')")


def grad_norms(critic, real, fake, alpha) -> np.ndarray:
    """‖∇f(x̂)‖ per sample at x̂ = α·real + (1 − α)·fake."""
    import tensorflow as tf

    mixed = tf.constant(alpha * real + (1 - alpha) * fake, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        scores = critic(mixed, training=False)
    g = tf.reshape(tape.gradient(scores, mixed), [mixed.shape[0], -1]).numpy().astype(np.float64)
    return np.sqrt((g ** 2).sum(axis=1))


def train_one(gh, recipe, name: str, x_train, steps: int, every: int, seed: int, measure, probe, evaluate,
              grid_dir: Path, stop_file: Path | None = None):
    """Train ``recipe`` for ``steps`` generator steps (fewer if ``stop_file`` appears: the run then ends
    at a record, exactly as ``--steps`` set to the steps done would end it), recording every ``every``."""
    import keras

    gh.config.set_seed(seed)
    rows = recipe.rows_per_batch if isinstance(recipe, gh.variants.VariantRecipe) else recipe.batch_size
    gan = recipe.build(seed=seed)
    records: list[dict] = []

    class Recorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.t0, self.paused = time.perf_counter(), 0.0
            records.append(self.row(0, {}))

        def row(self, step, logs):
            t = time.perf_counter()
            r = {"step": step, "train_s": round(t - self.t0 - self.paused, 1),
                 **{k: float(v) for k, v in (logs or {}).items()}, "quality": float(measure(gan)),
                 **probe(gan)}
            self.paused += time.perf_counter() - t
            return r

        def on_epoch_end(self, epoch, logs=None):   # Keras' epoch logs: means over the epoch's steps
            records.append(self.row((epoch + 1) * every, logs))
            last = records[-1]
            print(f"  {name} step {last['step']}: {last['train_s']:.0f} s, FD {last['quality']:.1f}",
                  flush=True)
            if stop_file is not None and stop_file.exists():   # a deadline: end at this record
                self.model.stop_training = True

    ds = gh.data.make_dataset(x_train, rows, seed=seed).repeat()
    t0 = time.perf_counter()
    rec = Recorder()
    gan.fit(ds, epochs=steps // every, steps_per_epoch=every, verbose=0,
            callbacks=[gh.divergence.NaNGuard(), rec])
    wall = time.perf_counter() - t0
    final = evaluate(gan, seed)
    slug = name.lower().replace(" ", "").replace("+hinge", "")
    png = grid_dir / f"long_run_{slug}.png"
    noise = np.random.default_rng(42).standard_normal((64, recipe.latent_dim if hasattr(recipe, "latent_dim")
                                                       else recipe.base.latent_dim)).astype("float32")
    gh.plots.save_png(gh.plots.image_grid(gh.training.generate_from(gan.sampler, noise), ncols=8), png,
                      scale=1)
    done = records[-1]["step"]
    return {"steps": done, "asked_steps": steps, "wall_s": round(wall, 1), "train_s": records[-1]["train_s"],
            "final": final,
            "grid": png.name, "records": records}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1200, help="generator steps per recipe")
    parser.add_argument("--every", type=int, default=25, help="generator steps between two records")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-track", type=int, default=500, help="samples per FD point")
    parser.add_argument("--n-eval", type=int, default=2000, help="samples for the final figures")
    parser.add_argument("--recipes", default="WGAN-GP,DCGAN,SN-GAN")
    parser.add_argument("--part", type=Path, help="write this process's runs here (JSON)")
    parser.add_argument("--merge", type=Path, nargs="*", help="parts to merge into --export")
    parser.add_argument("--export", type=Path, default=None, help="write the merged records here (JSON)")
    parser.add_argument("--grid-dir", type=Path, default=Path("gan_helpers/results"), help="PNG folder")
    parser.add_argument("--stop-file", type=Path, help="end the run at its next record once this exists")
    parser.add_argument("--note", default=NOTE, help="how the run was made (stored with the records)")
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv

    if args.merge:
        parts = [json.loads(p.read_text()) for p in args.merge]
        out = {k: v for k, v in parts[0].items() if k not in ("runs", "command")}
        out["commands"] = [p["command"] for p in parts]
        out["runs"] = {k: v for p in parts for k, v in p["runs"].items()}
        for name, run in out["runs"].items():   # what reproduces each run, stopped early or not
            run["reproduce"] = (f"python benchmarks/critic_tracking.py --steps {run['steps']} --every "
                                f"{out['every']} --recipes {name} --seed {out['seed']}")
        out.setdefault("note", NOTE)
        args.export.write_text(json.dumps(out, indent=1))
        print(f"wrote {args.export}: {', '.join(out['runs'])}")
        return 0

    import gan_helpers as gh

    digits = gh.data.load_mnist(with_test=True)
    x_train = gh.data.to_gan_range(digits.x_train)
    net = gh.metrics.load_feature_net(digits.source, digits=digits)
    base = gh.recipes.DCGANRecipe()
    real_track = net.features(digits.x_test[:args.n_track])
    z_track = np.random.default_rng(args.seed).standard_normal((args.n_track, base.latent_dim))
    z_track = z_track.astype("float32")
    rng = np.random.default_rng(args.seed + 1)
    probe_real = gh.data.to_gan_range(digits.x_test[-256:]).astype("float32")
    probe_z = rng.standard_normal((256, base.latent_dim)).astype("float32")
    probe_alpha = rng.uniform(size=(256, 1, 1, 1)).astype("float32")
    real_eval = digits.x_test[:args.n_eval]

    def measure(gan) -> float:
        fake = gh.training.generate_from(gan.sampler, z_track)
        return gh.metrics.frechet_distance(real_track, net.features(fake))

    def probe(gan) -> dict:
        # the critic trains against the raw G's fakes, so its gradient is probed there
        fake = gh.training.generate_from(gan.generator, probe_z)
        norms = grad_norms(gan.discriminator, probe_real, fake, probe_alpha)
        f_real = np.asarray(gan.discriminator(probe_real, training=False)).mean()
        f_fake = np.asarray(gan.discriminator(fake, training=False)).mean()
        return {"grad_norm": float(norms.mean()), "gp_mean": float(((norms - 1) ** 2).mean()),
                "probe_gap": float(f_real - f_fake)}

    def evaluate(gan, seed) -> dict:
        m = gh.metrics.evaluate(net, gan.generate(args.n_eval, seed=seed), real_eval)
        return {k: m[k] for k in ("fd_mnist", "confident_share", "min_class_share", "max_class_share",
                                  "classes_present", "precision", "recall")}

    recipes = {"WGAN-GP": gh.variants.WGAN_GP, "DCGAN": base, "SN-GAN": gh.variants.SNGAN}
    out = {"command": "python benchmarks/critic_tracking.py " + " ".join(given),
           "date": date.today().isoformat(), "device": gh.config.device_description(),
           "machine": platform.machine(), "versions": gh.config.versions(), "data": digits.describe(),
           "steps": args.steps, "every": args.every, "seed": args.seed, "n_track": args.n_track,
           "n_eval": args.n_eval, "note": args.note, "load_before": [round(x, 2) for x in os.getloadavg()],
           "runs": {}}
    for name in args.recipes.split(","):
        run = train_one(gh, recipes[name], name, x_train, args.steps, args.every, args.seed, measure, probe,
                        evaluate, args.grid_dir, args.stop_file)
        out["runs"][name] = run
        print(f"{name}: {run['steps']} generator steps, {run['wall_s']:.0f} s; FD-MNIST "
              f"{run['final']['fd_mnist']:.1f}, confident {run['final']['confident_share']:.1%}", flush=True)
        if args.part:   # after each recipe, so a later failure keeps the finished runs
            args.part.parent.mkdir(parents=True, exist_ok=True)
            args.part.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
