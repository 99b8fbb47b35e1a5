"""Does the WGAN-GP critic's loss track sample quality over a run long enough to learn? (notebook 07, §7)

Trains notebook 07's WGAN-GP (Gulrajani et al.'s settings) and the DCGAN recipe for a longer wall-clock
budget than the notebook can afford, recording FD-MNIST, the critic's W1 estimate E f(x) − E f(G(z)) and
D's BCE loss every few seconds, and writes them with the run's facts to a JSON file that notebook 07 plots:

    python benchmarks/critic_tracking.py --seconds 600 --export gan_helpers/results/critic_tracking.json

The curves are indexed by generator step as well as by seconds, so another job on the machine changes how
long the run takes, not what it records at a given step.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="training seconds per recipe")
    parser.add_argument("--every", type=float, default=15.0, help="seconds between two records")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-track", type=int, default=500, help="samples per FD point")
    parser.add_argument("--recipes", default="WGAN-GP,DCGAN")
    parser.add_argument("--export", type=Path, default=None, help="write the records here (JSON)")
    args = parser.parse_args(argv)

    import gan_helpers as gh

    digits = gh.data.load_mnist(with_test=True)
    x_train = gh.data.to_gan_range(digits.x_train)
    net = gh.metrics.load_feature_net(digits.source, digits=digits)
    recipe = gh.recipes.DCGANRecipe()
    real_track = net.features(digits.x_test[:args.n_track])
    z_track = np.random.default_rng(args.seed).standard_normal((args.n_track, recipe.latent_dim))

    def fd_now(gan) -> float:
        fake = gh.training.generate_from(gan.sampler, z_track.astype("float32"))
        return gh.metrics.frechet_distance(real_track, net.features(fake))

    recipes = {"WGAN-GP": gh.variants.WGAN_GP, "DCGAN": recipe, "SN-GAN + hinge": gh.variants.SNGAN}
    given = sys.argv[1:] if argv is None else argv
    out = {"command": "python benchmarks/critic_tracking.py " + " ".join(given),
           "date": date.today().isoformat(), "device": gh.config.device_description(),
           "machine": platform.machine(), "versions": gh.config.versions(), "data": digits.describe(),
           "seconds": args.seconds, "seed": args.seed, "n_track": args.n_track, "runs": {}}
    for name in args.recipes.split(","):
        t0 = time.perf_counter()
        run = gh.variants.train_for_budget(recipes[name], name, x_train, args.seconds, args.seed,
                                           args.every, fd_now)
        out["runs"][name] = {"steps": run.steps, "diverged": run.diverged, "records": run.records,
                             "wall_s": round(time.perf_counter() - t0, 1)}
        last = run.records[-1]
        print(f"{name}: {run.steps} generator steps in {run.seconds:.0f} s of training; FD-MNIST "
              f"{run.records[0]['quality']:.0f} → {last['quality']:.1f}", flush=True)
    if args.export:
        args.export.write_text(json.dumps(out, indent=1))
        print(f"wrote {args.export}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
