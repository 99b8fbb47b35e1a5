"""Throughput of the default GAN step under the settings that change its cost, as ratios to the
recipe with fresh noise for G, measured in the same process. Run on demand, on an idle machine:
``make bench`` (or ``python benchmarks/bench_train_step.py --steps 120 --rounds 5``).

Every setting trains the same recipe (``gh.recipes.DCGANRecipe``) on the same batches. The settings
are timed in turns, round after round, so a drift in machine speed hits them all alike; the table
shows each one's median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import gan_helpers as gh  # noqa: E402

# name: (compile keyword arguments, mixed-precision policy or None, k-means clusters: 0 for the plain recipe)
SETTINGS = {
    "recipe, fresh fakes (XLA auto: off on a CPU)": (dict(share_fakes=False), None, None),
    "recipe: shared fakes": (dict(), None, None),
    "XLA on (jit_compile=True)": (dict(jit_compile=True), None, None),
    "10 steps per execution": (dict(steps_per_execution=10), None, None),
    "mixed_bfloat16": (dict(), "mixed_bfloat16", None),
    "mixed_float16, XLA on": (dict(jit_compile=True), "mixed_float16", None),
    "the main job: self-conditioned, 50 clusters": (dict(), None, gh.jobs.MAIN_JOB.clusters),
}


def build(kwargs: dict, policy: str | None, clusters=None):
    keras.mixed_precision.set_global_policy(policy or "float32")
    try:
        recipe = gh.recipes.DCGANRecipe().replace(clusters=clusters.k if clusters else 0)
        return gh.jobs.build_gan("dcgan", recipe, 0, clusters, mixed_precision=policy == "mixed_float16",
                                 **kwargs)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120, help="steps per timing")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="names of settings to run (default: all)")
    args = parser.parse_args()
    print(gh.config.describe_runtime())
    recipe = gh.recipes.DCGANRecipe()
    batch = recipe.batch_size
    x = np.random.default_rng(0).uniform(-1, 1, (batch * args.steps, 28, 28, 1)).astype("float32")
    ds = gh.data.make_dataset(x, batch, shuffle=False)
    names = args.only or list(SETTINGS)
    if not gh.config.has_gpu():
        skipped = [n for n in names if SETTINGS[n][1] == "mixed_float16"]
        names = [n for n in names if n not in skipped]
        if skipped:
            print(f"no GPU: skipped {', '.join(skipped)} (float16 has no fast arithmetic on a CPU)")
    gans, data = {}, {}
    for name in names:
        kwargs, policy, k = SETTINGS[name]
        clusters = gh.selfcond.cluster_images(x, k) if k else None
        data[name] = (ds if not k else
                      gh.data.resumable_dataset(x, batch, labels=clusters.labels).take(args.steps))
        gans[name] = build(kwargs, policy, clusters)
        gans[name].fit(data[name].take(3), epochs=1, verbose=0)      # trace and warm up
    rates: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.rounds):
        for name in names:
            t0 = time.perf_counter()
            gans[name].fit(data[name], epochs=1, verbose=0)
            rates[name].append(batch * args.steps / (time.perf_counter() - t0))
    base = statistics.median(rates[names[0]])
    print(f"\nbatch {batch}, {args.steps} steps per timing, median of {args.rounds} rounds")
    for name in names:
        ips = statistics.median(rates[name])
        print(f"{name:<44} {ips:8.0f} images/s  {ips / batch:6.2f} steps/s   ×{ips / base:.2f}")


if __name__ == "__main__":
    main()
