"""Does a collapsed generator hop from mode to mode (Metz et al. 2016, Fig. 1) with networks other than
notebook 03's: the paper's public demo, or ReLU networks? Notebook 03 cites the rows this script prints.

Two presets train a GAN on notebook 03's ring (8 modes on a circle of radius 2) outside ``gh.toy``, since
their networks differ from the notebook's:

* ``demo``: the public demo's networks and rates (github.com/poolio/unrolled_gan, set to 0 unrolling steps,
  the plain GAN; the demo's default is 5): tanh MLPs of 2 × 128 in G and D, a 256-dimensional z,
  orthogonal initialisation with gain 1.4, the minimax generator loss, simultaneous updates, Adam
  (β1 = 0.5) with G at 1e-3 and D at 1e-4, batches of 512, 25,000 steps. The demo's own ring has radius 1
  and σ = 0.01 (and, through ``linspace`` over [0, 2π], only 7 distinct modes); ``--sigma 0.02`` on this
  radius-2 ring keeps its ratio of σ to radius;
* ``relu``: a variant with ReLU networks (G 2 × 128, D 1 × 128 on its input scaled by 1/4), orthogonal
  gain 0.8, the minimax loss, both rates 1e-4, alternating updates (one D step, then one G step), batches
  of 512. These constants are the authors' recollection of the paper's appendix, not checked against the
  paper.

Every ``--every`` steps it measures 2,500 samples as notebook 03 does (``mode_coverage``,
``collapse_stats``: the main mode and the top-two share count only samples within 3σ of a mode) and, to
follow a cluster that is near a mode but not within 3σ of it, the share within ``--near`` of each mode.

    python benchmarks/toy_hop_settings.py --preset demo --sigma 0.02
    python benchmarks/toy_hop_settings.py --preset relu --sigma 0.02
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import gan_helpers as gh  # noqa: E402

PRESETS = {
    "demo": dict(act="tanh", g_depth=2, d_depth=2, gain=1.4, d_scale=1.0, g_lr=1e-3, d_lr=1e-4,
                 updates="simultaneous"),
    "relu": dict(act="relu", g_depth=2, d_depth=1, gain=0.8, d_scale=0.25, g_lr=1e-4, d_lr=1e-4,
                 updates="alternating"),
}


def mlp(inputs: int, depth: int, outputs: int, act: str, gain: float, scale: float = 1.0) -> keras.Model:
    layers = [keras.Input((inputs,)), keras.layers.Rescaling(scale)]
    layers += [keras.layers.Dense(128, act, kernel_initializer=keras.initializers.Orthogonal(gain))
               for _ in range(depth)]
    return keras.Sequential(layers + [keras.layers.Dense(outputs,
                                                         kernel_initializer=keras.initializers.Orthogonal(gain))])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=list(PRESETS), default="demo")
    p.add_argument("--sigma", type=float, default=0.02, help="the modes' standard deviation")
    p.add_argument("--g-loss", choices=["minimax", "nonsaturating"], default="minimax")
    p.add_argument("--updates", choices=["simultaneous", "alternating"], default=None)
    p.add_argument("--steps", type=int, default=25_000)
    p.add_argument("--every", type=int, default=500)
    p.add_argument("--near", type=float, default=0.3, help="radius of the loose count round each mode")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    cfg = dict(PRESETS[args.preset])
    cfg["updates"] = args.updates or cfg["updates"]
    ring = gh.toy.toy_dataset("ring", sigma=args.sigma)
    keras.utils.set_random_seed(args.seed)
    z_dim, batch = 256, 512
    G = mlp(z_dim, cfg["g_depth"], 2, cfg["act"], cfg["gain"])
    D = mlp(2, cfg["d_depth"], 1, cfg["act"], cfg["gain"], cfg["d_scale"])
    g_opt = keras.optimizers.Adam(cfg["g_lr"], beta_1=0.5, epsilon=1e-8)
    d_opt = keras.optimizers.Adam(cfg["d_lr"], beta_1=0.5, epsilon=1e-8)
    softplus = tf.nn.softplus

    def g_loss(fake_logits):
        if args.g_loss == "minimax":                  # minimise log(1 − D(G(z)))
            return -tf.reduce_mean(softplus(fake_logits))
        return tf.reduce_mean(softplus(-fake_logits))    # minimise −log D(G(z))

    @tf.function
    def step(real):
        z = tf.random.normal((batch, z_dim))
        if cfg["updates"] == "simultaneous":          # both gradients at the same point, as the demo
            with tf.GradientTape(persistent=True) as tape:
                fake_logits = D(G(z))
                d_loss = tf.reduce_mean(softplus(-D(real))) + tf.reduce_mean(softplus(fake_logits))
                gl = g_loss(fake_logits)
            g_grads = tape.gradient(gl, G.trainable_variables)
            d_grads = tape.gradient(d_loss, D.trainable_variables)
            g_opt.apply_gradients(zip(g_grads, G.trainable_variables))
            d_opt.apply_gradients(zip(d_grads, D.trainable_variables))
            return
        with tf.GradientTape() as tape:               # D first, then G against the updated D
            d_loss = tf.reduce_mean(softplus(-D(real))) + tf.reduce_mean(softplus(D(G(z))))
        d_opt.apply_gradients(zip(tape.gradient(d_loss, D.trainable_variables), D.trainable_variables))
        with tf.GradientTape() as tape:
            gl = g_loss(D(G(tf.random.normal((batch, z_dim)))))
        g_opt.apply_gradients(zip(tape.gradient(gl, G.trainable_variables), G.trainable_variables))

    z_watch = np.random.default_rng(8).standard_normal((2500, z_dim)).astype("float32")
    rng = np.random.default_rng(args.seed)
    steps, covs, rows = [], [], []
    t0 = time.perf_counter()
    for i in range(args.steps + 1):
        if i % args.every == 0:
            x = G(z_watch).numpy()
            cov = gh.metrics.mode_coverage(x, ring)
            st = gh.toy.collapse_stats(cov)
            nearest, dist = ring.nearest_mode(x)
            near = np.bincount(nearest[dist <= args.near], minlength=ring.n_modes) / len(x)
            steps.append(i)
            covs.append(cov)
            rows.append((i, cov["modes"], cov["high_quality"], st["top2_share"], st["main_mode"],
                         int(near.argmax()), float(np.sort(near)[-2:].sum())))
        if i < args.steps:
            step(ring.sample(batch, seed=int(rng.integers(1 << 30))))
    seconds = time.perf_counter() - t0
    print(f"preset {args.preset} {cfg}, σ = {args.sigma}, {args.g_loss} loss, seed {args.seed}: "
          f"{args.steps} steps in {seconds:.0f} s on {gh.config.device_description()}")
    print(f"{'step':>6}{'modes':>6}{'HQ':>6}{'top-2':>7}{'main':>5}  | near ({args.near}): main, top-2")
    for s, modes, hq, top2, main_mode, near_main, near_top2 in rows:
        print(f"{s:>6}{modes:>6}{hq:>6.2f}{top2:>7.2f}{main_mode:>5}  | {near_main:>4}{near_top2:>7.2f}")
    late = [r for r in rows if r[0] >= args.steps // 4]
    hops = gh.toy.find_hops(steps, covs)
    def span(k, fmt=".2f"):
        return f"{min(r[k] for r in late):{fmt}}–{max(r[k] for r in late):{fmt}}"

    print(f"after step {args.steps // 4}: top-two share {span(3)}, near top-two {span(6)}, "
          f"modes covered {span(1, 'd')}; hops (find_hops): {len(hops)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
