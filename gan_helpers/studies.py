"""Loaders of the stored results that the notebooks show (``gan_helpers/results/*.json``), written by
the scripts in ``benchmarks/``: a notebook plots a measured study without rerunning it."""

from __future__ import annotations

import json
from importlib import resources

RECIPE_STUDY = "dcgan_recipe_study.json"
LONG_RUNS = "long_runs.json"


def load(name: str) -> dict:
    """One stored result by file name."""
    return json.loads(resources.files("gan_helpers").joinpath("results", name).read_text())


def load_recipe_study() -> dict:
    """The measured study behind ``DCGANRecipe`` (``benchmarks/recipe_search.py`` writes it): each
    choice trained for the same number of steps on the bundled digits, with its quality."""
    return load(RECIPE_STUDY)


def load_long_runs() -> dict:
    """Notebook 07's long runs of its three recipes (``benchmarks/critic_tracking.py`` writes them): per
    recipe the losses, FD-MNIST and the critic's gradient norm every 25 generator steps, the final
    FD-MNIST and confident share of 2,000 samples, and the file name of its sample grid."""
    return load(LONG_RUNS)


def format_recipe_study(study: dict, names: list[str] | None = None) -> str:
    """The study as an aligned table: FD-MNIST (and its ratio to the real-vs-real floor), confident
    share, smallest–largest class share, precision/recall, D(x)/D(G(z)) in the last step, what the
    raw G scored, and what the average scored with the raw G's batch-norm statistics copied in."""
    rows = [r for r in study["rows"] if names is None or r["name"] in names]
    lines = [f"{'recipe':<44}{'steps':>6}{'FD-MNIST':>10}{'× floor':>8}{'confident':>10}{'classes':>13}"
             f"{'prec/rec':>11}{'D(x)/D(G(z))':>14}{'raw G FD':>10}{'raw-BN FD':>11}"]
    for r in rows:
        raw = f"{r['raw']['fd_mnist']:10.1f}" if r.get("raw") else f"{'–':>10}"
        raw_bn = f"{r['ema_raw_bn']['fd_mnist']:11.1f}" if r.get("ema_raw_bn") else f"{'–':>11}"
        ratio = r["fd_mnist"] / r["fd_floor"]
        lines.append(f"{r['name']:<44}{r['steps']:>6}{r['fd_mnist']:>10.1f}{ratio:>8.1f}"
                     f"{r['confident_share']:>10.1%}{r['min_class_share']:>6.1%}–{r['max_class_share']:<6.1%}"
                     f"{r['precision']:>6.2f}/{r['recall']:.2f}{r['d_real']:>9.2f}/{r['d_fake']:.2f}{raw}{raw_bn}")
    where = f"{study['device']}, {study['date']}; {study['data']}; {study['metrics']}."
    return "\n".join(lines) + "\n\n" + where


LR_SWEEP = "lr_sweep.json"


def load_lr_sweep() -> dict:
    """Notebook 07's learning-rate sweep (``benchmarks/recipes_lr_sweep.py``): three rates per recipe at
    the short budget's generator steps, with FD-MNIST and the confident share of 2,000 samples."""
    return load(LR_SWEEP)


def result_path(name: str):
    """The path of a stored result file (a sample grid PNG, for instance) in ``gan_helpers/results``."""
    return resources.files("gan_helpers").joinpath("results", name)
