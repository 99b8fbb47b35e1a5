"""The DCGAN recipe, one choice at a time: each variant trains for the steps it affords in a fixed
CPU budget, and is measured as ``make train`` measures (FD-MNIST, confident share, class shares).

Two parts, because a 2-core CPU cannot train twenty variants for five minutes each in a session:

* ``--throughput``: CPU steps per second of each variant's step (its networks, batch, loss), measured
  here, in one process, after a warm-up. ``steps = budget × steps/s`` is what 300 s buy.
* ``--train``: trains each variant for its ``steps`` and measures it (any device: the quality after a
  number of steps does not depend on the device that ran them) and writes one JSON line per variant.

    python benchmarks/recipe_search.py --throughput --variants all
    python benchmarks/recipe_search.py --train --variants all --budget 300 --jobs 8 --out runs/search
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BASE = dict(g_width=32, d_width=32, dropout=0.3, batch=64, lr=2e-4, d_lr=None, beta_1=0.5, beta_2=0.999,
            ema=None, loss="ns", sn=False, smooth=1.0, latent=64, d_bn=False, share=False, clusters=0)

VARIANTS: dict[str, dict] = {
    "old default": {},
    "EMA 0.999": dict(ema=0.999),
    "D 64": dict(d_width=64),
    "D 64, no dropout": dict(d_width=64, dropout=0.0),
    "D 64, no dropout, EMA": dict(d_width=64, dropout=0.0, ema=0.999),
    "D 64, dropout, EMA": dict(d_width=64, ema=0.999),
    "D 128, no dropout, EMA": dict(d_width=128, dropout=0.0, ema=0.999),
    "D 64, no dropout, EMA, lr 5e-4": dict(d_width=64, dropout=0.0, ema=0.999, lr=5e-4),
    "D 64, no dropout, EMA, lr 1e-3": dict(d_width=64, dropout=0.0, ema=0.999, lr=1e-3),
    "D 64, no dropout, EMA, lr 2e-3": dict(d_width=64, dropout=0.0, ema=0.999, lr=2e-3),
    "D 64, no dropout, EMA, lr 2e-3, shared fakes": dict(d_width=64, dropout=0.0, ema=0.999, lr=2e-3,
                                                         share=True),
    "G 64, D 64, no dropout, EMA, lr 2e-3": dict(g_width=64, d_width=64, dropout=0.0, ema=0.999, lr=2e-3),
    "D 64, no dropout, EMA, β2 0.99": dict(d_width=64, dropout=0.0, ema=0.999, beta_2=0.99),
    "D 64, no dropout, EMA, TTUR 4e-4/1e-4": dict(d_width=64, dropout=0.0, ema=0.999, d_lr=4e-4, lr=1e-4),
    "D 64, no dropout, EMA, batch 128": dict(d_width=64, dropout=0.0, ema=0.999, batch=128),
    "D 64, no dropout, EMA, batch 32": dict(d_width=64, dropout=0.0, ema=0.999, batch=32),
    "D 64, no dropout, EMA, smooth 0.9": dict(d_width=64, dropout=0.0, ema=0.999, smooth=0.9),
    "D 64, SN + hinge, EMA": dict(d_width=64, dropout=0.0, ema=0.999, sn=True, loss="hinge"),
    "D 64, SN + hinge, EMA, lr 1e-3 β1 0": dict(d_width=64, dropout=0.0, ema=0.999, sn=True, loss="hinge",
                                              lr=1e-3, beta_1=0.0, beta_2=0.9),
    "D 64 BN, no dropout, EMA": dict(d_width=64, dropout=0.0, ema=0.999, d_bn=True),
    "D 64 BN, no dropout, EMA, lr 5e-4": dict(d_width=64, dropout=0.0, ema=0.999, d_bn=True, lr=5e-4),
    "D 64 BN, no dropout, EMA, lr 1e-3": dict(d_width=64, dropout=0.0, ema=0.999, d_bn=True, lr=1e-3),
    "D 64, no dropout, EMA, TTUR 8e-4/2e-4": dict(d_width=64, dropout=0.0, ema=0.999, d_lr=8e-4),
    "G 64, D 64, no dropout, EMA": dict(g_width=64, d_width=64, dropout=0.0, ema=0.999),
    "G 16, D 64, no dropout, EMA": dict(g_width=16, d_width=64, dropout=0.0, ema=0.999),
    "D 64, no dropout, EMA 0.9995": dict(d_width=64, dropout=0.0, ema=0.9995),
    "D 64, no dropout, EMA 0.99": dict(d_width=64, dropout=0.0, ema=0.99),
    # the recipe (D 64, no dropout, EMA, lr 2e-3, shared fakes) with one more change
    "recipe, G 64": dict(g_width=64, d_width=64, dropout=0.0, ema=0.999, lr=2e-3, share=True),
    "recipe, smooth 0.9": dict(d_width=64, dropout=0.0, ema=0.999, lr=2e-3, share=True, smooth=0.9),
    "recipe, SN + hinge, β1 0, β2 0.9": dict(d_width=64, dropout=0.0, ema=0.999, lr=2e-3, share=True,
                                             sn=True, loss="hinge", beta_1=0.0, beta_2=0.9),
    "recipe, batch 128": dict(d_width=64, dropout=0.0, ema=0.999, lr=2e-3, share=True, batch=128),
    # self-conditioning on k-means clusters of the training images (gan_helpers.selfcond)
    "recipe, 10 clusters": dict(d_width=64, dropout=0.0, ema=0.999, lr=2e-3, share=True, clusters=10),
    "recipe, 30 clusters": dict(d_width=64, dropout=0.0, ema=0.999, lr=2e-3, share=True, clusters=30),
    "recipe, 50 clusters": dict(d_width=64, dropout=0.0, ema=0.999, lr=2e-3, share=True, clusters=50),
}


def settings(name: str, overrides: dict | None = None) -> dict:
    return {**BASE, **VARIANTS.get(name, {}), **(overrides or {})}


def build(s: dict, seed: int, clusters=None):
    import keras
    from keras import ops

    import gan_helpers as gh

    gh.config.set_seed(seed)
    if s["clusters"]:   # the recipe's own networks and optimizers, self-conditioned (loss: BCE)
        recipe = gh.recipes.DCGANRecipe(
            latent_dim=s["latent"], g_width=s["g_width"], d_width=s["d_width"], d_dropout=s["dropout"],
            batch_size=s["batch"], lr=s["lr"], d_lr=s["d_lr"], beta_1=s["beta_1"], beta_2=s["beta_2"],
            ema_decay=s["ema"], share_fakes=s["share"], clusters=s["clusters"])
        return gh.jobs.build_gan("dcgan", recipe, seed, clusters, jit_compile=False)
    gan = gh.training.GAN(gh.models.build_generator(s["latent"], s["g_width"]),
                          gh.models.build_discriminator(s["d_width"], s["dropout"], spectral_norm=s["sn"],
                                                        batch_norm=s["d_bn"]),
                          seed=seed, ema_decay=s["ema"])
    d_opt, g_opt = gh.training.make_optimizers(s["lr"], s["beta_1"], d_lr=s["d_lr"], beta_2=s["beta_2"])
    if s["loss"] == "hinge":
        def d_loss(r, f):
            return ops.mean(ops.relu(1.0 - r)) + ops.mean(ops.relu(1.0 + f))

        def g_loss(f):
            return -ops.mean(f)
        gan.compile(d_opt, g_opt, d_loss_fn=d_loss, g_loss_fn=g_loss, jit_compile=False,
                    share_fakes=s["share"])
    else:
        smooth = s["smooth"]

        def d_loss(r, f):  # one-sided label smoothing: real target `smooth`
            return (ops.mean(smooth * ops.softplus(-r) + (1 - smooth) * ops.softplus(r))
                    + ops.mean(ops.softplus(f)))
        gan.compile(d_opt, g_opt, d_loss_fn=d_loss if smooth < 1 else "bce", jit_compile=False,
                    share_fakes=s["share"])
    del keras
    return gan


def arch_key(name: str) -> str:
    """What sets a step's cost: the networks, the batch, the loss and the average."""
    s = settings(name)
    return ("g{g_width}_d{d_width}_p{dropout}_sn{sn}_bn{d_bn}_b{batch}_ema{ema}_{loss}_share{share}"
            "_k{clusters}".format(**s))


def throughput(name: str, steps: int = 40) -> float:
    """Training steps per second on this machine, after a warm-up."""
    import numpy as np

    import gan_helpers as gh

    s = settings(name)
    x = np.random.default_rng(0).uniform(-1, 1, (s["batch"] * (steps + 5), 28, 28, 1)).astype("float32")
    ds = gh.data.make_dataset(x, s["batch"], shuffle=False)
    clusters = gh.selfcond.cluster_images(x, s["clusters"]) if s["clusters"] else None
    if clusters:
        import tensorflow as tf

        ds = tf.data.Dataset.zip((ds, tf.data.Dataset.from_tensor_slices(clusters.labels).batch(
            s["batch"], drop_remainder=True)))
    gan = build(s, 0, clusters)
    gan.fit(ds.take(5), epochs=1, verbose=0)
    t0 = time.perf_counter()
    gan.fit(ds.skip(5), epochs=1, verbose=0)
    return steps / (time.perf_counter() - t0)


def train_and_measure(name: str, steps: int, seed: int, out: Path, overrides: dict | None = None) -> dict:
    import numpy as np

    import gan_helpers as gh

    s = settings(name, overrides)
    digits = gh.data.load_mnist("bundled", with_test=True)
    x = gh.data.to_gan_range(digits.x_train)
    spe = len(x) // s["batch"]
    epochs = max(1, round(steps / spe))
    t0 = time.perf_counter()
    if s["clusters"]:   # k-means on the pixels, counted in the time; data in the CLI's resumable order
        clusters = gh.selfcond.cluster_images(x, s["clusters"], seed=seed)
        gan = build(s, seed, clusters)
        ds = gh.data.resumable_dataset(x, s["batch"], seed=seed, labels=clusters.labels)
        hist = gan.fit(ds, epochs=epochs, steps_per_epoch=spe, verbose=0).history
    else:
        gan = build(s, seed)
        hist = gan.fit(gh.data.make_dataset(x, s["batch"], seed=seed), epochs=epochs, verbose=0).history
    seconds = time.perf_counter() - t0
    net = gh.metrics.load_feature_net("bundled", verbose=False)
    n = 2000
    rng = np.random.default_rng(seed)
    real_a = digits.x_test[rng.choice(len(digits.x_test), n, replace=False)]
    real_b = digits.x_train[rng.choice(len(digits.x_train), n, replace=False)]
    ema_raw_bn = None
    if gan.ema is not None:  # the average with G's own batch-norm statistics copied in
        for a, b in zip(gan.ema.model.non_trainable_variables, gan.generator.non_trainable_variables):
            a.assign(b)
        ema_raw_bn = gh.metrics.evaluate(net, gh.training.generate_from(
            gan.ema.model, gh.training.noise(n, s["latent"], seed)), real_a)
        gan.ema.forget_calibration()   # those statistics are G's: gan.sampler recalibrates the average
    row = gh.metrics.evaluate(net, gan.generate(n, seed=seed), real_a)
    floor = gh.metrics.evaluate(net, real_b, real_a)
    raw = None
    if gan.ema is not None:
        raw_imgs = gh.training.generate_from(gan.generator, np.random.default_rng(seed).standard_normal(
            (n, s["latent"])).astype("float32"))
        raw = gh.metrics.evaluate(net, raw_imgs, real_a)
    noise = np.random.default_rng(42).standard_normal((64, s["latent"])).astype("float32")
    slug = "".join(c if c.isalnum() else "_" for c in name)[:40] + f"_s{seed}"
    out.mkdir(parents=True, exist_ok=True)
    gh.plots.save_png(gh.plots.image_grid(gh.training.generate_from(gan.sampler, noise), ncols=8),
                      out / f"{slug}.png")
    keys = ("fd_mnist", "confident_share", "min_class_share", "max_class_share", "classes_present",
            "precision", "recall")
    result = {"name": name, "seed": seed, "steps": epochs * spe, "train_s": round(seconds, 1),
              "settings": s, "fd_floor": floor["fd_mnist"], "floor_confident": floor["confident_share"],
              **{k: row[k] for k in keys},
              "raw": {k: raw[k] for k in keys} if raw else None,
              "ema_raw_bn": {k: ema_raw_bn[k] for k in keys} if ema_raw_bn else None,
              "d_real": float(hist["d_real"][-1]), "d_fake": float(hist["d_fake"][-1])}
    with open(out / "results.jsonl", "a") as fh:
        fh.write(json.dumps(result) + "\n")
    return result


def export(results: Path, rates_file: Path, target: Path) -> None:
    """The study as the package ships it (``gh.studies.load_recipe_study``): one row per run."""
    import datetime as dt

    import gan_helpers as gh

    rates = json.loads(rates_file.read_text()) if rates_file.exists() else {}
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    if target.exists():   # rows measured earlier (other variants, other --out folders) stay
        new = {(r["name"], r["seed"]) for r in rows}
        rows += [r for r in json.loads(target.read_text())["rows"] if (r["name"], r["seed"]) not in new]
    order = list(VARIANTS)
    rows.sort(key=lambda r: (order.index(r["name"]) if r["name"] in order else len(order), r["seed"]))
    for row in rows:
        row["cpu_steps_per_s"] = rates.get(arch_key(row["name"])) if row["name"] in VARIANTS else None
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({
        "command": "python benchmarks/recipe_search.py --train --steps 3000 --variants '…'",
        "date": dt.date.today().isoformat(), "device": gh.config.device_description(),
        "versions": gh.config.versions(), "data": "bundled MNIST, 8,000 training digits",
        "metrics": "2,000 samples against the 2,000 held-out digits (FD-MNIST, confident share p ≥ 0.9)",
        "rows": rows}, indent=1))
    print(f"wrote {target}: {len(rows)} runs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--throughput", action="store_true")
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--variants", default="all", help="names separated by semicolons, or all")
    ap.add_argument("--budget", type=float, default=300.0, help="CPU seconds of training per variant")
    ap.add_argument("--rates", type=Path, default=Path("benchmarks/cpu_steps_per_second.json"),
                    help="steps/s per variant measured by --throughput on the 2-core CPU")
    ap.add_argument("--steps", type=int, help="train every variant this many steps (overrides --budget)")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("runs/recipe_search"))
    ap.add_argument("--export", type=Path, help="write the study (results + rates) as JSON to this path")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: name|steps|seed
    args = ap.parse_args()
    names = list(VARIANTS) if args.variants == "all" else args.variants.split(";")

    if args.export:
        export(args.out / "results.jsonl", args.rates, args.export)
        return
    if args.one:
        name, steps, seed = args.one.split("|")
        r = train_and_measure(name, int(steps), int(seed), args.out)
        print(json.dumps(r), flush=True)
        return
    if args.throughput:
        rates = json.loads(args.rates.read_text()) if args.rates.exists() else {}
        for name in names:
            key = arch_key(name)
            if key not in rates:
                rates[key] = round(throughput(name), 3)
            print(f"{name:<45} {rates[key]:6.2f} steps/s", flush=True)
        args.rates.write_text(json.dumps(rates, indent=1))
    if args.train:
        rates = json.loads(args.rates.read_text()) if args.steps is None else {}
        jobs = [(n, args.steps or math.floor(args.budget * rates[arch_key(n)]), int(sd)) for n in names
                for sd in args.seeds.split(",")]
        running: list[subprocess.Popen] = []
        for name, steps, seed in jobs:
            while len(running) >= args.jobs:
                running = [p for p in running if p.poll() is None]
                time.sleep(0.5)
            running.append(subprocess.Popen([sys.executable, __file__, "--one", f"{name}|{steps}|{seed}",
                                             "--out", str(args.out)]))
        for p in running:
            p.wait()


if __name__ == "__main__":
    main()
