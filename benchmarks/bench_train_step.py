"""Throughput of the GAN ``train_step`` in a few settings, as ratios to a float32 baseline measured in
the same process. Run on demand: ``make bench`` (or ``python benchmarks/bench_train_step.py --steps 50``).
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np

import gan_helpers as gh


def images_per_second(steps: int, batch_size: int, jit: bool, mixed: bool) -> float:
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    try:
        gh.config.set_seed(0)
        gan = gh.training.GAN(gh.models.build_generator(64, 32), gh.models.build_discriminator(32), seed=0)
        gan.compile(*gh.training.make_optimizers(mixed_precision=mixed), jit_compile=jit)
        x = np.random.default_rng(0).uniform(-1, 1, (batch_size * steps, 28, 28, 1)).astype("float32")
        ds = gh.data.make_dataset(x, batch_size, shuffle=False)
        gan.fit(ds.take(3), epochs=1, verbose=0)  # trace and warm up
        t0 = time.perf_counter()
        gan.fit(ds, epochs=1, verbose=0)
        return batch_size * steps / (time.perf_counter() - t0)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    print(gh.config.describe_runtime())
    settings = [("float32 (baseline)", False, False), ("XLA", True, False),
                ("mixed precision", False, True), ("mixed precision + XLA", True, True)]
    base = None
    for name, jit, mixed in settings:
        ips = images_per_second(args.steps, args.batch_size, jit, mixed)
        base = base or ips
        print(f"{name:<24} {ips:8.0f} images/s   ×{ips / base:.2f}")


if __name__ == "__main__":
    main()
