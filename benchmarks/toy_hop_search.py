"""Does notebook 03's collapsed toy GAN hop from mode to mode (Metz et al. 2016, Fig. 1)? Variants of its
collapsing baseline (G 1e-4, D 1e-3, batch 256, Adam β1 = 0.5) on the ring, each trained with one seed and
measured every ``--every`` steps as the notebook measures: a *hop* is a change of the main mode between two
snapshots with a top-two share of at least 0.8 at both (``gh.toy.find_hops``), a *move* any change of the
main mode while at least 1% of the samples sit on the two main modes.

    python benchmarks/toy_hop_search.py                      # every variant, 4,000 steps each
    python benchmarks/toy_hop_search.py --variants "both 1e-4" "batch 32"
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import gan_helpers as gh  # noqa: E402
from gan_helpers.toy import ToyRecipe  # noqa: E402

VARIANTS = {   # name: (recipe, batch size, ring σ)
    "baseline": (ToyRecipe("baseline", g_lr=1e-4, d_lr=1e-3), 256, 0.05),
    "both 1e-4": (ToyRecipe("both 1e-4", g_lr=1e-4, d_lr=1e-4), 256, 0.05),
    "D lags 10×": (ToyRecipe("D lags 10×", g_lr=1e-3, d_lr=1e-4), 256, 0.05),
    "minibatch std in D": (ToyRecipe("minibatch std", g_lr=1e-4, d_lr=1e-3, minibatch_std=True), 256, 0.05),
    "batch 32": (ToyRecipe("batch 32", g_lr=1e-4, d_lr=1e-3), 32, 0.05),
    "batch 64": (ToyRecipe("batch 64", g_lr=1e-4, d_lr=1e-3), 64, 0.05),
    "G 2e-4": (ToyRecipe("G 2e-4", g_lr=2e-4, d_lr=1e-3), 256, 0.05),
    "G 5e-4": (ToyRecipe("G 5e-4", g_lr=5e-4, d_lr=1e-3), 256, 0.05),
    "D 3e-4": (ToyRecipe("D 3e-4", g_lr=1e-4, d_lr=3e-4), 256, 0.05),
    "both 1e-4, β1 0.9": (ToyRecipe("β1 0.9", g_lr=1e-4, d_lr=1e-4, beta_1=0.9), 256, 0.05),
    "G 3e-4, D 3e-5": (ToyRecipe("G 3e-4, D 3e-5", g_lr=3e-4, d_lr=3e-5), 256, 0.05),
    "both 1e-4, σ 0.1": (ToyRecipe("σ 0.1", g_lr=1e-4, d_lr=1e-4), 256, 0.1),
    "minimax loss": (ToyRecipe("minimax", g_loss="minimax", g_lr=1e-4, d_lr=1e-3), 256, 0.05),
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    z = gh.training.noise(2500, 16, seed=8)
    print(f"{'variant':<22}{'hops':>6}{'moves':>7}{'top-two share after the first quarter':>40}{'s':>6}")
    for name in args.variants:
        recipe, batch, sigma = VARIANTS[name]
        ring = gh.toy.toy_dataset("ring", sigma=sigma)
        t0 = time.perf_counter()
        _, rec, _ = gh.toy.train_toy_gan(recipe, ring, args.seed, args.steps, args.every, z, batch_size=batch)
        late = np.asarray(rec.steps) >= args.steps // 4
        top2 = rec.series("top2_share")[late]
        hops = gh.toy.find_hops(rec.steps, rec.coverage)
        moves = gh.toy.find_hops(rec.steps, rec.coverage, min_share=0.01)
        print(f"{name:<22}{len(hops):>6}{len(moves):>7}{top2.min():>31.2f}–{top2.max():.2f}"
              f"{time.perf_counter() - t0:>6.0f}", flush=True)
    print(f"\n{gh.config.device_description()}, seed {args.seed}, {args.steps} steps, every {args.every}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
