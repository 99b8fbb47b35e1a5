"""Check functions for the notebooks' exercises, one module per notebook: each runs a learner's
code on cases with known answers and says in plain words what is wrong, or that it passed.

Every check is importable from here (``gan_helpers.exercises.check_fgsm``), as the notebooks do."""

from ._common import ExerciseFailed
from .nb01_overview import (
    check_flip_budget,
    check_lg_equals_ld,
    check_score_change,
    check_two_meanings,
    check_worst_perturbation,
)
from .nb02_objective import (
    check_collapse_divergences,
    check_disjoint_supports,
    check_jsd,
    check_lsgan_d_star,
    check_near_collapse,
    check_optimal_discriminator,
)
from .nb03_toy import (
    check_collapse_value,
    check_collapsed_push,
    check_gradient_penalty,
    check_high_quality_share,
    check_minibatch_std,
    check_mode_seeking_fit,
)
from .nb04_dcgan import check_discriminator_loss, check_generator, check_generator_loss
from .nb05_evaluation import check_classifier_score, check_frechet_distance, check_precision
from .nb06_conditional import (
    check_class_grid_inputs,
    check_concat_discriminator,
    check_ignored_label_agreement,
    check_projection_logit,
    check_shifted_embedding,
)
from .nb07_wgan import (
    check_best_critic,
    check_hinge_loss,
    check_lr_prediction,
    check_one_step_normalisation,
    check_power_iteration,
    check_steep_critic,
)
from .nb08_adversarial import check_broken_by_any, check_dlr, check_fgsm, check_projection
from .nb09_distributed import (
    check_replica_loss,
    check_replica_rows,
    check_scale_out_plan,
    check_synced_moments,
    check_two_example_batch_norm,
    check_unscaled_step,
)

__all__ = [
    "ExerciseFailed",
    "check_worst_perturbation",
    "check_two_meanings",
    "check_score_change",
    "check_flip_budget",
    "check_lg_equals_ld",
    "check_optimal_discriminator",
    "check_jsd",
    "check_lsgan_d_star",
    "check_collapse_divergences",
    "check_near_collapse",
    "check_disjoint_supports",
    "check_high_quality_share",
    "check_gradient_penalty",
    "check_minibatch_std",
    "check_mode_seeking_fit",
    "check_collapse_value",
    "check_collapsed_push",
    "check_generator_loss",
    "check_discriminator_loss",
    "check_generator",
    "check_frechet_distance",
    "check_classifier_score",
    "check_precision",
    "check_projection_logit",
    "check_concat_discriminator",
    "check_class_grid_inputs",
    "check_shifted_embedding",
    "check_ignored_label_agreement",
    "check_hinge_loss",
    "check_power_iteration",
    "check_best_critic",
    "check_steep_critic",
    "check_one_step_normalisation",
    "check_lr_prediction",
    "check_fgsm",
    "check_projection",
    "check_broken_by_any",
    "check_dlr",
    "check_replica_loss",
    "check_replica_rows",
    "check_synced_moments",
    "check_unscaled_step",
    "check_scale_out_plan",
    "check_two_example_batch_norm",
]
