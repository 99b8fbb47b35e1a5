"""Notebook 03's remedies, trained for longer than its study: is a remedy that fails at 4,000 steps only
under-trained? Each recipe trains on the ring for ``--steps`` generator steps with every seed, and prints
its coverage every ``--every`` steps and its final figures (the notebook's measures: modes covered,
high-quality share, top-two share, KL over the high-quality samples).

    python benchmarks/toy_long_runs.py --recipes "collapsing baseline" "minimax loss" "spectral norm in D" \
        --json gan_helpers/results/toy_long_runs.json

``--json`` stores every run's figures and curves (rewritten after each run), which notebook 03 reads.

The recipes are notebook 03's (section 7), against its collapsing baseline (G 1e-4, D 1e-3).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

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


KEYS = ("recipe", "seed", "modes", "high_quality", "kl_uniform", "top2_share", "kl_hq", "main_mode",
        "modes_hq", "steps", "curve", "top2_curve", "seconds")


def store(args, rows: list[dict]) -> None:
    """Write the runs so far (figures and curves, no samples) with how they were made."""
    args.json.parent.mkdir(parents=True, exist_ok=True)
    runs = [{k: (r[k] if not isinstance(r[k], np.generic) else r[k].item()) for k in KEYS} for r in rows]
    meta = {"command": "python benchmarks/toy_long_runs.py " + " ".join(
                ["--recipes", *[f'"{n}"' for n in args.recipes], "--steps", str(args.steps),
                 "--every", str(args.every), "--seeds", *map(str, args.seeds)]),
            "device": gh.config.device_description(), "date": time.strftime("%Y-%m-%d"),
            "recipes": {n: RECIPES[n].__dict__ for n in args.recipes}}
    args.json.write_text(json.dumps({"meta": meta, "runs": runs}, indent=1) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--every", type=int, default=1_000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--json", type=Path, help="store the runs' figures and curves in this JSON file")
    args = p.parse_args(argv)
    ring = gh.toy.toy_dataset("ring")
    rows = []
    t_all = time.perf_counter()
    for name in args.recipes:
        for seed in args.seeds:
            rows += gh.toy.compare_recipes([RECIPES[name]], ring, [seed], args.steps, args.every)
            r = rows[-1]
            print(f"{name}, seed {r['seed']} ({r['seconds']:.0f} s): modes every {args.every} steps "
                  f"{r['curve']}; top-two share {np.round(r['top2_curve'], 2).tolist()}", flush=True)
            if args.json:
                store(args, rows)
    print(f"\n{len(rows)} runs of {args.steps} generator steps in {time.perf_counter() - t_all:.0f} s "
          f"on {gh.config.device_description()}\n")
    print(gh.toy.format_summary(gh.toy.summarise(rows), ring.n_modes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
