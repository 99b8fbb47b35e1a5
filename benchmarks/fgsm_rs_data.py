"""Is notebook 08's FGSM-RS short of its goal for lack of steps or lack of data?

Trains FGSM-RS with notebook 08's recipe (Wong et al. 2020: unclipped random start, α = 1.25 ε, a cyclic
learning rate peaking at 5e-3, batch 100, no early stopping) and measures PGD-40 with 3 restarts at
ε = 0.3 (step 0.01, as in 08) on the notebook's 1,000 held-out digits *and* on 1,000 of the digits it
trained on. A model whose robust accuracy is much higher on its training digits than on held-out ones
overfits robustly; in notebook 08's runs (one seed) more epochs on the same digits widened that gap, and
more digits narrowed it.

    python benchmarks/fgsm_rs_data.py --data bundled --epochs 40   # 08's run: 7,744 digits, 3,120 steps
    python benchmarks/fgsm_rs_data.py --data keras --epochs 10     # MNIST's 60,000 training digits
                                                                   # less 08's held-out ones (a download)

With ``--data keras`` every digit of the bundled sample's held-out split is removed from the training
set first (the bundled sample was drawn from MNIST's training set), so both runs are measured on the same
held-out digits that the notebook uses.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import gan_helpers as gh  # noqa: E402
from gan_helpers import adversarial as adv  # noqa: E402

EPS, BATCH, ALPHA, PEAK = 0.3, 100, 0.375, 5e-3       # notebook 08, section 5


def _digest(images: np.ndarray) -> list[str]:
    return [hashlib.sha1(np.asarray(im, dtype=np.uint8).reshape(-1).tobytes()).hexdigest() for im in images]


def splits(data: str):
    """(x_fit, y_fit, x_held, y_held): notebook 08's held-out digits, and the training digits of ``data``."""
    bundled = gh.data.load_mnist(source="bundled", with_test=True)
    x_held = adv.to_unit_range(bundled.x_test[:1000])
    y_held = bundled.y_test[:1000].astype("int32")
    if data == "bundled":                         # 08's x_fit: the first 8,000 less the monitor's last 256
        return (adv.to_unit_range(bundled.x_train[:8000 - 256]),
                bundled.y_train[:8000 - 256].astype("int32"), x_held, y_held)
    full = gh.data.load_mnist(source="keras")
    held = set(_digest(bundled.x_test))
    keep = np.array([d not in held for d in _digest(full.x_train)])
    print(f"MNIST training set: {len(keep):,} digits, {int((~keep).sum()):,} of them held out by notebook 08 "
          "and removed")
    return (adv.to_unit_range(full.x_train[keep]), full.y_train[keep].astype("int32"), x_held, y_held)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=["bundled", "keras"], default="bundled")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--alpha", type=float, default=ALPHA, help="the FGSM step from the random start")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    x_fit, y_fit, x_held, y_held = splits(args.data)
    total = args.epochs * (len(x_fit) // BATCH)    # the schedule's length, computed as notebook 08 does
    steps = args.epochs * -(-len(x_fit) // BATCH)  # what fit runs: a last, smaller batch in every epoch
    gh.config.set_seed(args.seed)
    clf = adv.build_classifier()
    trainer = adv.AdversarialTrainer(clf, mode="fgsm_rs", eps=EPS, seed=args.seed, alpha=args.alpha)
    trainer.compile(optimizer=keras.optimizers.Adam(adv.CyclicRate(PEAK, total)))
    t0 = time.perf_counter()
    history = trainer.fit(x_fit, y_fit, batch_size=BATCH, epochs=args.epochs, verbose=0).history
    seconds = time.perf_counter() - t0

    def pgd(m, x, y, e):
        return adv.pgd(m, x, y, e, steps=40, step_size=0.01, restarts=3, seed=1)

    held = adv.robust_accuracy(clf, x_held, y_held, {"PGD-40x3": pgd}, EPS).robust
    seen = adv.robust_accuracy(clf, x_fit[:1000], y_fit[:1000], {"PGD-40x3": pgd}, EPS).robust
    print(f"FGSM-RS (α = {args.alpha}) on {len(x_fit):,} digits ({args.data}), {args.epochs} epochs = "
          f"{steps:,} steps (the rate reaches 0 after {total:,}), {seconds:.0f} s on "
          f"{gh.config.device_description()}")
    print(f"last epoch: FGSM-RS accuracy on its training batches {history['adv_acc'][-1]:.3f}, "
          f"loss {history['loss'][-1]:.4f}; clean accuracy, held-out digits: "
          f"{adv.accuracy(clf, x_held, y_held):.3f}")
    print(f"PGD-40x3 at eps {EPS}: held-out {held:.3f}, training digits {seen:.3f} (gap {seen - held:+.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
