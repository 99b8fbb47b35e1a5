"""The quality figures a training run reports (notebook 05 explains them): FD-MNIST, classifier score
and coverage of the generator's samples beside the real-vs-real floor at the same N, and for a
conditional generator how often the feature net reads the digit that was asked for."""

from __future__ import annotations

import numpy as np

from . import metrics as m
from .conditional import label_agreement


def measure(gan, digits, fast: bool, seed: int) -> dict:
    """FD-MNIST, classifier score and coverage of the generator, next to the real-vs-real floor at the
    same N and the held-out digits' confident share (notebook 05 explains them)."""
    n = 500 if fast else 2000
    net = m.load_feature_net(digits.source, epochs=1 if fast else None, digits=digits)
    rng = np.random.default_rng(seed)
    real_a = digits.x_test[rng.choice(len(digits.x_test), n, replace=False)]
    real_b = digits.x_train[rng.choice(len(digits.x_train), n, replace=False)]
    keys = ("fd_mnist", "confident_share", "classifier_score", "classes_present", "min_class_share",
            "max_class_share", "precision", "recall", "density", "knn_coverage")

    def row(images):
        return {k: v for k, v in m.evaluate(net, images, real_a).items() if k in keys}

    # the fidelity floor comes from digits the feature net never saw: on its own training digits
    # (the FD floor's set) it is over-confident
    result = {"n": n, "feature_net": {"source": net.source, "test_accuracy": net.test_accuracy},
              "generator": row(gan.generate(n, seed=seed)), "real_vs_real_floor": row(real_b),
              "held_out_confident_share": m.confident_share(net.probs(real_a))}
    if "generator" in gan.label_inputs:   # does the digit match the label asked for?
        agree = label_agreement(net, gan.sampler, n, seed)
        result.update(label_agreement=agree["agreement"], label_agreement_per_class=agree["per_class"])
    return result


def describe(q: dict) -> str:
    """The quality figures in one or two lines."""
    g, f = q["generator"], q["real_vs_real_floor"]
    agree = (f"Label agreement {q['label_agreement']:.1%} (the feature net reads the requested digit)\n"
             if "label_agreement" in q else "")
    return (f"{agree}FD-MNIST {g['fd_mnist']:.2f} (real-vs-real floor {f['fd_mnist']:.2f}, N = {q['n']}); "
            f"confident share {g['confident_share']:.1%} (held-out real digits "
            f"{q['held_out_confident_share']:.1%}); class shares {g['min_class_share']:.1%}–"
            f"{g['max_class_share']:.1%}, {g['classes_present']}/10 classes; classifier score "
            f"{g['classifier_score']:.2f} (floor {f['classifier_score']:.2f})")
