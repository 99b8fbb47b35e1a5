"""Which network's clusters buy the main job's gain? The self-conditioning ablation of issue #27.

Trains each arm with the main job's recipe, step budget and data (``gh.jobs.MAIN_JOB``: 2,500 steps of
batch 64 on the 8,000 bundled training digits, 50 k-means clusters of their pixels; each seed clusters
and orders the batches as ``python -m gan_helpers train --seed S --source bundled`` does), for every seed:

1. ``plain``: the DCGAN recipe without clusters (``MAIN_JOB.replace(clusters=0)``);
2. ``g-only``: G draws a cluster code from z₁ (the main job's G), D is the plain DCGAN discriminator;
3. ``d-only``: the plain G, and the main job's D (a per-cluster projection head) with every image, real
   or fake, labelled by its nearest k-means centre: the rule that gave the real images their clusters;
4. ``both``: the main job.

``gh.selfcond``'s docstring says why arms 2 and 3 are built so, and why a fake labelled with a drawn
cluster (``d-only-drawn``, not run unless asked) is not the fair D-only arm. Each run is measured as
``benchmarks/critic_tracking.py`` measures: 2,000 samples of the weight-averaged G against the 2,000
held-out digits (``gh.metrics.evaluate``: FD-MNIST, confident share, precision and recall, classes
present and class shares), beside the real-vs-real floor at the same N. The JSON holds the date, device,
versions, command, per-arm per-seed rows and each arm's mean and range over the seeds; it is rewritten
after each run, and the same command with the same ``--out`` skips the runs already in it:

    python benchmarks/selfcond_ablation.py --out runs/ablation/selfcond_ablation.json
    python benchmarks/selfcond_ablation.py --arms d-only,both --head pooled --out runs/ablation/pooled.json
    python benchmarks/selfcond_ablation.py --arms d-only-drawn --out runs/ablation/drawn.json
    python benchmarks/selfcond_ablation.py --fast --out runs/ablation/fast.json     # smoke test, seconds

``--head pooled`` puts D's projection on the 7×7 map summed over its positions (6,400 weights for 50
clusters, against 313,600 on the flattened map) in the arms whose D has the head. ``--fast`` trains each
arm, with narrow networks (G width 8, D width 16), for 4 steps on 256 digits, and measures 200 samples
with a feature net trained for one epoch on those digits: it checks the pipeline, not the arms.
Step-based, so other work on the machine changes how long it takes, not what it records.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ARMS = {
    "plain": "the DCGAN recipe without clusters (clusters=0)",
    "g-only": "G draws a cluster code from z1 (the main job's G); D is the plain DCGAN discriminator",
    "d-only": "the plain G; the main job's D (per-cluster projection head), every image labelled by its "
              "nearest k-means centre",
    "both": "the main job: G's cluster code and D's per-cluster projection head",
    "d-only-drawn": "the plain G; the main job's D, a fake labelled with the cluster of a real image of the "
                    "batch (a draw independent of the fake)",
}
DEFAULT_ARMS = "plain,g-only,d-only,both"
HEADED = ("d-only", "both", "d-only-drawn")       # the arms whose D has the projection head
METRICS = ("fd_mnist", "confident_share", "precision", "recall", "classes_present", "min_class_share",
           "max_class_share")
FAST = {"images": 256, "steps": 4, "n_eval": 200, "g_width": 8, "d_width": 16}   # --fast: a smoke test


def train_arm(gh, arm: str, recipe, x: np.ndarray, clusters, seed: int, pooled: bool):
    """Build ``arm`` on ``recipe`` and train it for the recipe's steps on the ``make train`` schedule
    and batch order (``data.resumable_dataset``); returns the GAN, the Keras history and the seconds."""
    gh.config.set_seed(seed)
    if arm == "plain":
        gan, labels = recipe.replace(clusters=0).build(seed=seed), None
    else:
        gan = gh.selfcond.build_self_conditioned(recipe, clusters, seed, arm=arm,
                                                 pooled=pooled and arm in HEADED)
        labels = clusters.labels
    epochs, per_epoch = gh.recipes.schedule(len(x), recipe.batch_size, recipe.steps)
    ds = gh.data.resumable_dataset(x, recipe.batch_size, seed=seed, labels=labels)
    t0 = time.perf_counter()
    history = gan.fit(ds, epochs=epochs, steps_per_epoch=per_epoch, verbose=0,
                      callbacks=[gh.divergence.NaNGuard()]).history
    return gan, history, time.perf_counter() - t0


def summarise(rows: list[dict]) -> dict:
    """Each metric's mean and [min, max] over an arm's seeds."""
    return {"seeds": [r["seed"] for r in rows],
            "mean": {k: float(np.mean([r[k] for r in rows])) for k in METRICS},
            "range": {k: [float(min(r[k] for r in rows)), float(max(r[k] for r in rows))] for k in METRICS}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default=DEFAULT_ARMS, help=f"comma-separated, of {', '.join(ARMS)}")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--head", choices=("flat", "pooled"), default="flat",
                        help="D's projection on the flattened map (the main job's) or on pooled features")
    parser.add_argument("--source", default="bundled", help="MNIST source: bundled, keras or auto")
    parser.add_argument("--n-eval", type=int, default=2000, help="samples measured per run")
    parser.add_argument("--out", type=Path, default=Path("runs/ablation/selfcond_ablation.json"))
    parser.add_argument("--restart", action="store_true", help="ignore the runs already in --out")
    parser.add_argument("--fast", action="store_true", help="a smoke test: 4 steps on 256 digits per arm")
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    arms = args.arms.split(",")
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        parser.error(f"unknown arms {unknown}; choose from {', '.join(ARMS)}")

    import gan_helpers as gh

    digits = gh.data.load_mnist(args.source, with_test=True)
    recipe, n_eval = gh.jobs.MAIN_JOB, args.n_eval
    if args.fast:
        n_eval = min(n_eval, FAST["n_eval"])
        digits = dataclasses.replace(digits, x_train=digits.x_train[:FAST["images"]],
                                     y_train=digits.y_train[:FAST["images"]], x_test=digits.x_test[:n_eval],
                                     y_test=digits.y_test[:n_eval])
        recipe = recipe.replace(steps=FAST["steps"], g_width=FAST["g_width"], d_width=FAST["d_width"])
    x = gh.data.to_gan_range(digits.x_train)
    if n_eval > len(digits.x_test):
        parser.error(f"--n-eval {n_eval} is more than the {len(digits.x_test)} held-out digits")
    epochs, per_epoch = gh.recipes.schedule(len(x), recipe.batch_size, recipe.steps)
    settings = {"recipe": recipe.record(), "steps": epochs * per_epoch, "epochs": epochs,
                "steps_per_epoch": per_epoch, "train_images": len(x), "data": digits.describe(),
                "n_eval": n_eval, "head": args.head, "fast": args.fast}
    out = {"command": "python benchmarks/selfcond_ablation.py " + " ".join(given),
           "date": date.today().isoformat(), "device": gh.config.device_description(),
           "machine": platform.machine(), "versions": gh.config.versions(),
           "load_before": [round(v, 2) for v in os.getloadavg()], "settings": settings,
           "arms": {a: ARMS[a] for a in ARMS}, "runs": {}}
    if args.out.exists() and not args.restart:
        old = json.loads(args.out.read_text())
        if old.get("settings") != settings:
            parser.error(f"{args.out} holds runs made with other settings; give another --out, or --restart")
        out["runs"] = old["runs"]
        out["commands"] = [*old.get("commands", [old["command"]]), out["command"]]

    net = gh.metrics.load_feature_net(digits.source, epochs=1 if args.fast else None, digits=digits,
                                      verbose=False)
    real_eval = digits.x_test[:n_eval]
    rng = np.random.default_rng(0)
    floor = gh.metrics.evaluate(net, digits.x_train[rng.choice(len(digits.x_train), n_eval, replace=False)],
                                real_eval)
    out["real_vs_real_floor"] = {k: floor[k] for k in METRICS}
    print(f"{digits.describe()}; {settings['steps']} steps of batch {recipe.batch_size} per run; "
          f"FD-MNIST floor {floor['fd_mnist']:.2f} at N = {n_eval}", flush=True)

    for seed in args.seeds:
        clusters = gh.selfcond.cluster_images(x, recipe.clusters, seed=seed)   # as make train clusters
        for arm in arms:
            run = out["runs"].setdefault(arm, {"rows": []})
            if any(r["seed"] == seed for r in run["rows"]):
                print(f"{arm}, seed {seed}: already in {args.out}", flush=True)
                continue
            gan, history, seconds = train_arm(gh, arm, recipe, x, clusters, seed, args.head == "pooled")
            m = gh.metrics.evaluate(net, gan.generate(n_eval, seed=seed), real_eval)
            row = {"seed": seed, "steps": int(gan.d_optimizer.iterations.numpy()),
                   "train_s": round(seconds, 1),
                   "head": args.head if arm in HEADED else None,
                   "d_weights": gan.discriminator.count_params(), "g_weights": gan.generator.count_params(),
                   **{k: m[k] for k in METRICS},
                   "last_epoch": {k: float(v[-1]) for k, v in history.items()}}
            run["rows"] = sorted([*run["rows"], row], key=lambda r: r["seed"])
            run.update(summarise(run["rows"]))
            print(f"{arm}, seed {seed}: {row['steps']} steps in {seconds:.0f} s; FD-MNIST "
                  f"{row['fd_mnist']:.2f}, confident {row['confident_share']:.1%}, recall "
                  f"{row['recall']:.2f}, {row['classes_present']}/10 classes", flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)   # after each run: a stop keeps the rest
            args.out.write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
