"""Adversarial examples and adversarial training under the L∞ threat model, pixels in [0, 1].

Attacks (``fgsm``, ``pgd``, ``apgd`` with the CE or DLR loss, the targeted ``apgd_targeted`` (APGD-T) and
the black-box ``square``) take a classifier that returns logits, run it in inference mode on the true
labels, and check every result against the threat model: ‖x_adv − x‖∞ ≤ ε and 0 ≤ x_adv ≤ 1.
``robust_accuracy`` counts an example as broken when any attack breaks it, optionally running the costly
attacks on the survivors only; ``apgd_convergence`` gives robust accuracy against APGD's steps and
restarts. ``AdversarialTrainer`` is a ``keras.Model`` whose ``train_step`` trains on FGSM, FGSM with random
start, or PGD examples.

Layers: ``threat`` (the threat model, checks, predictions) ← ``attacks`` ← ``evaluation`` (convergence),
and ``attacks`` ← ``defense`` (training). A module imports only from the ones before it on its arrow, and
none imports anything from the rest of ``gan_helpers``: the subpackage stands on its own. Every public
name is re-exported here.
"""

from .attacks import (
    APGD_LOSSES,
    Attack,
    RobustResult,
    apgd,
    apgd_checkpoints,
    apgd_start,
    apgd_targeted,
    dlr_loss,
    dlr_targeted_loss,
    fgsm,
    margin,
    pgd,
    robust_accuracy,
    square,
    square_schedule,
)
from .defense import MODES, AdversarialTrainer, CyclicRate, PGDEarlyStopping
from .evaluation import Convergence, apgd_convergence
from .threat import (
    DEFAULT_BATCH,
    TOLERANCE,
    accuracy,
    assert_in_threat_model,
    build_classifier,
    predict,
    project,
    to_unit_range,
)

__all__ = [
    "APGD_LOSSES", "DEFAULT_BATCH", "MODES", "TOLERANCE",
    "Attack", "RobustResult", "robust_accuracy",
    "accuracy", "assert_in_threat_model", "build_classifier", "predict", "project", "to_unit_range",
    "apgd", "apgd_checkpoints", "apgd_start", "apgd_targeted", "dlr_loss", "dlr_targeted_loss", "fgsm",
    "margin", "pgd", "square", "square_schedule",
    "Convergence", "apgd_convergence",
    "AdversarialTrainer", "CyclicRate", "PGDEarlyStopping",
]
