"""Throughput of the default DCGAN step on one device and on 2 logical CPU replicas
(``MirroredStrategy``), as ratios to one device, measured in the same process. Run on demand, on an
idle machine: ``python benchmarks/bench_distribute.py`` (``--steps 60 --rounds 5`` by default).

Logical CPU devices share the same cores, so on a CPU two replicas cannot be faster than one: they
split the same arithmetic and add an all-reduce per step. Expect a ratio at or below 1. The point of
the CPU replicas is correctness (``tests/test_distribute.py``, notebook 09); the scaling figure needs
a machine with several GPUs, and its row stays empty until one is measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gan_helpers as gh  # noqa: E402

gh.distribute.configure_cpu_replicas(2)   # before TensorFlow starts

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def strategies() -> dict:
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    return {"one device (baseline)": tf.distribute.get_strategy(),
            "MirroredStrategy, 1 replica": tf.distribute.MirroredStrategy(cpus[:1]),
            "MirroredStrategy, 2 CPU replicas": tf.distribute.MirroredStrategy(cpus)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="steps per timing")
    parser.add_argument("--rounds", type=int, default=5, help="timings per setting, taken in turns")
    args = parser.parse_args()
    recipe = gh.recipes.DCGANRecipe()
    x = gh.data.to_gan_range(gh.data.load_dataset("mnist", "bundled").x_train)
    ds = gh.data.make_dataset(x, recipe.batch_size, seed=0).repeat()
    gans = {}
    for name, strategy in strategies().items():
        with strategy.scope():
            gans[name] = recipe.build(seed=0)
        gans[name].fit(ds, epochs=1, steps_per_epoch=5, verbose=0)        # trace and warm up
    rates: dict[str, list[float]] = {name: [] for name in gans}
    for _ in range(args.rounds):
        for name, gan in gans.items():
            t0 = time.perf_counter()
            gan.fit(ds, epochs=1, steps_per_epoch=args.steps, verbose=0)
            rates[name].append(args.steps * recipe.batch_size / (time.perf_counter() - t0))
    base = statistics.median(rates["one device (baseline)"])
    print(f"{gh.config.device_description()}; TensorFlow {tf.__version__}; batch {recipe.batch_size}, "
          f"{args.steps} steps per timing, medians of {args.rounds} rounds\n")
    print(f"{'setting':<36}{'images/s':>10}{'ratio':>8}")
    for name, r in rates.items():
        print(f"{name:<36}{statistics.median(r):>10.0f}{statistics.median(r) / base:>8.2f}")
    print(f"{'MirroredStrategy, 2 GPUs':<36}{'–':>10}{'–':>8}   (not measured: needs 2 GPUs)")
    assert np.isfinite(base)


if __name__ == "__main__":
    main()
