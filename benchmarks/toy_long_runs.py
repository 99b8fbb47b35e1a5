"""Notebook 03's remedies, trained for longer than its study: is a remedy that fails at 4,000 steps only
under-trained? Each recipe trains on the ring for ``--steps`` generator steps with every seed, and prints
its coverage every ``--every`` steps and its final figures (the notebook's measures: modes covered,
high-quality share, top-two share, KL over the high-quality samples).

    python benchmarks/toy_long_runs.py --recipes "minimax loss" "spectral norm in D" --steps 20000

The recipes are notebook 03's (section 7), against its collapsing baseline (G 1e-4, D 1e-3).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import gan_helpers as gh  # noqa: E402
from gan_helpers.toy import ToyRecipe  # noqa: E402

RECIPES = {r.name: r for r in [
    ToyRecipe("collapsing baseline", g_lr=1e-4, d_lr=1e-3),
    ToyRecipe("minimax loss", g_loss="minimax", g_lr=1e-4, d_lr=1e-3),
    ToyRecipe("spectral norm in D", g_lr=1e-4, d_lr=1e-3, spectral_norm=True),
    ToyRecipe("minibatch std in D", g_lr=1e-4, d_lr=1e-3, minibatch_std=True),
]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--every", type=int, default=1_000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args(argv)
    ring = gh.toy.toy_dataset("ring")
    rows = []
    t_all = time.perf_counter()
    for name in args.recipes:
        rows += gh.toy.compare_recipes([RECIPES[name]], ring, args.seeds, args.steps, args.every)
        for r in rows[-len(args.seeds):]:
            print(f"{name}, seed {r['seed']} ({r['seconds']:.0f} s): modes every {args.every} steps "
                  f"{r['curve']}; top-two share {np.round(r['top2_curve'], 2).tolist()}", flush=True)
    print(f"\n{len(rows)} runs of {args.steps} generator steps in {time.perf_counter() - t_all:.0f} s "
          f"on {gh.config.device_description()}\n")
    print(gh.toy.format_summary(gh.toy.summarise(rows), ring.n_modes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
