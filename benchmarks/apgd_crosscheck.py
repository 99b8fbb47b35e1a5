"""Issue #30: does the package's APGD-CE measure what an independent implementation measures?

Trains a PGD model with notebook 08's recipe, shortened (``gh.adversarial.AdversarialTrainer``, mode
"pgd", ε = 0.3, PGD-10 with step 0.075, ε ramped over the first 2 epochs, Adam with a cosine decay from
1e-3, batch 100, on 08's 7,744 training digits; 08 trains for 30 epochs, this script for ``--epochs``),
then measures robust accuracy on 08's held-out digits under

* ``gh.adversarial.apgd(..., loss="ce", steps=100, restarts=1)``, as 08 runs APGD-CE, and
* the Adversarial Robustness Toolbox's ``AutoProjectedGradientDescent`` with the same settings:
  L∞, ε = 0.3, ``eps_step`` = 2ε (APGD's initial step η⁽⁰⁾), ``max_iter`` = 100, ``nb_random_init`` = 1
  (one run from a random start), ``loss_type="cross_entropy"`` on the logits, untargeted, true labels,

and prints both, their difference and the digits that only one of them breaks. An example counts as
robust when it is classified correctly clean and after the attack. The done-when of issue #30: the two
agree within one percentage point.

ART is not a dependency of gan_helpers: install it (and what it imports: scikit-learn, joblib,
threadpoolctl, narwhals, cloudpickle, tqdm) into ``build/art-site``, which this script puts on its path,
so that nothing in the project's environment changes. ``pip install --dry-run
adversarial-robustness-toolbox`` changes none of NumPy, SciPy, TensorFlow or Keras, but it would add those
packages to the environment, so ``--no-deps`` and the list:

    .venv/bin/pip install --no-deps --target build/art-site adversarial-robustness-toolbox==1.20.1 \\
        scikit-learn==1.9.1 joblib==1.6.0 threadpoolctl==3.8.0 narwhals==2.29.0 cloudpickle==3.1.3 \\
        tqdm==4.70.1
    .venv/bin/python benchmarks/apgd_crosscheck.py            # the comparison: 1,000 held-out digits
    .venv/bin/python benchmarks/apgd_crosscheck.py --fast     # a smoke test: 1 epoch, 100 digits, 20 steps

``--model runs/apgd_crosscheck/pgd.weights.h5`` loads the classifier's weights from that file if it exists,
and otherwise trains and saves them there (a second run then compares the attacks only).

Where ART's APGD differs from Croce & Hein's Algorithm 1 and their reference (fra31/auto-attack,
``autoattack/autopgd_base.py``), read in ART 1.20.1's ``auto_projected_gradient_descent.py``; none of
these is a setting, so the comparison keeps them:

* it keeps only the *last* iterate of a run, where the package (like the reference) keeps any iterate
  that was misclassified;
* condition 1 counts the steps that raised the best loss f_max, not the steps that raised f;
* its condition 2 compares η with the step size recorded *after* the last checkpoint's halving, so it
  reduces to "f_max did not improve" (the bug that issue #30 found in the package);
* on a halving it restarts from x_max with the momentum term x_max − (the iterate before x_max);
* its random start is uniform in the ε-ball (the reference scales the draw so that its largest change is
  ε); its checkpoints are tested one iteration later (``k_iter`` counts from 0).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
ART_SITE = ROOT / "build" / "art-site"

import keras  # noqa: E402
import numpy as np  # noqa: E402

import gan_helpers as gh  # noqa: E402
from gan_helpers import adversarial as adv  # noqa: E402

EPS, BATCH, LR = 0.3, 100, 1e-3                          # notebook 08, sections 1 and 5
TRAIN_STEPS, TRAIN_STEP_SIZE, RAMP_EPOCHS = 10, 0.075, 2  # 08's PGD training: PGD-10, α = 2.5 ε / 10


def load_art():
    """ART's APGD and TensorFlow wrapper, from ``build/art-site`` (see the docstring) or the environment."""
    if ART_SITE.is_dir():
        sys.path.insert(0, str(ART_SITE))
    try:
        from art.attacks.evasion import AutoProjectedGradientDescent
        from art.estimators.classification import TensorFlowV2Classifier
    except ImportError as err:
        raise SystemExit(f"ART is not installed ({err}); install it into {ART_SITE} with the command in "
                         "this script's docstring.") from None
    return AutoProjectedGradientDescent, TensorFlowV2Classifier


def data(n_eval: int):
    """Notebook 08's training digits (the first 8,000 less the monitor's last 256) and its first
    ``n_eval`` held-out digits."""
    digits = gh.data.load_mnist(source="bundled", with_test=True)
    x_fit = adv.to_unit_range(digits.x_train[:8000 - 256])
    y_fit = digits.y_train[:8000 - 256].astype("int32")
    x_eval = adv.to_unit_range(digits.x_test[:n_eval])
    y_eval = digits.y_test[:n_eval].astype("int32")
    return x_fit, y_fit, x_eval, y_eval


def train(x_fit, y_fit, epochs: int, seed: int) -> tuple[keras.Model, float]:
    """Notebook 08's PGD training for ``epochs`` epochs (its ``train_defence("PGD", ...)``)."""
    gh.config.set_seed(seed)
    clf = adv.build_classifier()
    steps_per_epoch = len(x_fit) // BATCH
    ramp = int(min(RAMP_EPOCHS, epochs) * steps_per_epoch)
    trainer = adv.AdversarialTrainer(clf, mode="pgd", eps=EPS, seed=seed, steps=TRAIN_STEPS,
                                     step_size=TRAIN_STEP_SIZE, ramp_steps=ramp)
    rate = keras.optimizers.schedules.CosineDecay(LR, epochs * steps_per_epoch, alpha=0.05)
    trainer.compile(optimizer=keras.optimizers.Adam(rate))
    t0 = time.perf_counter()
    trainer.fit(x_fit, y_fit, batch_size=BATCH, epochs=epochs, verbose=0)
    return clf, time.perf_counter() - t0


def art_apgd(clf, x, y, steps: int, seed: int, batch_size: int) -> np.ndarray:
    AutoProjectedGradientDescent, TensorFlowV2Classifier = load_art()
    estimator = TensorFlowV2Classifier(
        model=clf, nb_classes=10, input_shape=tuple(x.shape[1:]), clip_values=(0.0, 1.0),
        loss_object=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    attack = AutoProjectedGradientDescent(
        estimator, norm=np.inf, eps=EPS, eps_step=2 * EPS, max_iter=steps, targeted=False, nb_random_init=1,
        batch_size=batch_size, loss_type="cross_entropy", verbose=False)
    np.random.seed(seed)                                  # ART draws its random start from NumPy's global RNG
    return attack.generate(x=x, y=y).astype(np.float32)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fast", action="store_true", help="1 epoch of training, 100 digits, 20 attack steps")
    p.add_argument("--epochs", type=int, help="PGD training epochs (default 4; --fast: 1)")
    p.add_argument("--n", type=int, help="held-out digits attacked (default 1,000; --fast: 100)")
    p.add_argument("--steps", type=int, help="APGD iterations, both (default 100; --fast: 20)")
    p.add_argument("--seed", type=int, default=42, help="training seed (08's default)")
    p.add_argument("--attack-seed", type=int, default=1, help="both attacks' random start (08 uses 1)")
    p.add_argument("--batch", type=int, default=500, help="attack batch size, both implementations")
    p.add_argument("--model", type=Path, help="weights file: loaded if it exists, else trained and saved")
    args = p.parse_args(argv)
    epochs = args.epochs or (1 if args.fast else 4)
    n = args.n or (100 if args.fast else 1000)
    steps = args.steps or (20 if args.fast else 100)
    load_art()                                            # fail before training if ART is missing
    t_start = time.perf_counter()
    x_fit, y_fit, x, y = data(n)

    if args.model is not None and args.model.exists():
        clf = adv.build_classifier()
        clf.load_weights(args.model)
        print(f"model: weights loaded from {args.model}")
    else:
        clf, seconds = train(x_fit, y_fit, epochs, args.seed)
        print(f"model: notebook 08's PGD training (PGD-{TRAIN_STEPS}, step {TRAIN_STEP_SIZE}, ε = {EPS}), "
              f"{epochs} epoch(s) on {len(x_fit):,} digits, seed {args.seed}: {seconds:.0f} s")
        if args.model is not None:
            args.model.parent.mkdir(parents=True, exist_ok=True)
            clf.save_weights(args.model)
            print(f"       weights saved to {args.model}")

    clean = adv.predict(clf, x) == y
    t0 = time.perf_counter()
    x_pkg = adv.apgd(clf, x, y, EPS, "ce", steps=steps, restarts=1, seed=args.attack_seed,
                     batch_size=args.batch)
    t_pkg = time.perf_counter() - t0
    t0 = time.perf_counter()
    x_art = art_apgd(clf, x, y, steps, args.attack_seed, args.batch)
    t_art = time.perf_counter() - t0
    adv.assert_in_threat_model(x, x_art, EPS)             # ART's points obey the same threat model
    ok_pkg = clean & (adv.predict(clf, x_pkg) == y)
    ok_art = clean & (adv.predict(clf, x_art) == y)
    diff = 100 * (ok_pkg.mean() - ok_art.mean())

    print(f"APGD-CE, ε = {EPS}, {steps} steps, 1 run from a random start, {n:,} of notebook 08's held-out "
          f"digits; clean accuracy {clean.mean():.1%}")
    print(f"  gan_helpers.adversarial.apgd        robust accuracy {ok_pkg.mean():.1%}   ({t_pkg:.0f} s)")
    print(f"  ART AutoProjectedGradientDescent    robust accuracy {ok_art.mean():.1%}   ({t_art:.0f} s)")
    print(f"  difference (package − ART): {diff:+.1f} percentage points; broken by the package only: "
          f"{int((ok_art & ~ok_pkg).sum())}, by ART only: {int((ok_pkg & ~ok_art).sum())}, by both: "
          f"{int((clean & ~ok_pkg & ~ok_art).sum())} digits")
    agree = abs(diff) <= 1.0
    print(f"  {'agree' if agree else 'DISAGREE'}: |difference| {'≤' if agree else '>'} 1 point "
          f"(done-when of issue #30); {time.perf_counter() - t_start:.0f} s in all on "
          f"{gh.config.device_description()}")
    return 0 if agree or args.fast else 1


if __name__ == "__main__":
    raise SystemExit(main())
