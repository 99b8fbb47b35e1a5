"""Notebook 07's prediction exercises and its stored studies: the checks accept the right answers and
refuse the wrong ones, and the stored long runs hold what the notebook reads."""

import pytest

from gan_helpers import studies
from gan_helpers.exercises._common import ExerciseFailed
from gan_helpers.exercises.nb07_wgan import (
    check_lr_prediction,
    check_one_step_normalisation,
    check_steep_critic,
)


def test_steep_critic():
    assert check_steep_critic(9.0, 40.0, False)
    with pytest.raises(ExerciseFailed, match="gap"):
        check_steep_critic(3.0, 40.0, False)
    with pytest.raises(ExerciseFailed, match="penalty"):
        check_steep_critic(9.0, 4.0, False)
    with pytest.raises(ExerciseFailed, match="W1 = 3"):
        check_steep_critic(9.0, 40.0, True)


def test_one_step_normalisation():
    assert check_one_step_normalisation("at least 1")
    for wrong in ("below 1", "exactly 1"):
        with pytest.raises(ExerciseFailed, match="never exceeds"):
            check_one_step_normalisation(wrong)
    with pytest.raises(ExerciseFailed, match="one of"):
        check_one_step_normalisation("above")


SWEEP = {"rows": [
    {"recipe": "A", "lr": 1e-4, "steps": 10, "fd_mnist": 50.0, "confident_share": 0.5, "diverged": None},
    {"recipe": "A", "lr": 1e-3, "steps": 10, "fd_mnist": 20.0, "confident_share": 0.7, "diverged": None},
    {"recipe": "B", "lr": 1e-4, "steps": 10, "fd_mnist": 30.0, "confident_share": 0.6, "diverged": None},
    {"recipe": "B", "lr": 1e-3, "steps": 10, "fd_mnist": None, "diverged": "d_loss = nan at step 3"},
]}


def test_lr_prediction():
    assert check_lr_prediction({"A": 1e-3, "B": 1e-4}, SWEEP)
    with pytest.raises(ExerciseFailed, match="A: the lowest FD came with lr 0.001"):
        check_lr_prediction({"A": 1e-4, "B": 1e-4}, SWEEP)
    with pytest.raises(ExerciseFailed, match="swept rates"):
        check_lr_prediction({"A": 5e-4, "B": 1e-4}, SWEEP)
    with pytest.raises(ExerciseFailed, match="one rate for each"):
        check_lr_prediction({"A": 1e-3}, SWEEP)
    # within 5% of the best FD is a tie (sampling noise at 2,000 samples); 6% above it is not
    tie = {"rows": SWEEP["rows"][:2] + [{**SWEEP["rows"][0], "lr": 3e-4, "fd_mnist": 20.9}]}
    assert check_lr_prediction({"A": 3e-4}, tie)
    tie["rows"][-1]["fd_mnist"] = 21.2
    with pytest.raises(ExerciseFailed, match="A: the lowest FD came with lr 0.001, not 0.0003"):
        check_lr_prediction({"A": 3e-4}, tie)


def test_stored_long_runs_hold_what_notebook_07_reads():
    runs = studies.load_long_runs()["runs"]
    assert set(runs) == {"DCGAN", "WGAN-GP", "SN-GAN"}
    keys = {"d_loss", "d_real", "d_fake", "quality", "grad_norm"}
    for run in runs.values():
        assert {"fd_mnist", "confident_share"} <= set(run["final"])
        assert studies.result_path(run["grid"]).is_file(), run["grid"]
        assert [r["step"] for r in run["records"]] == list(range(0, run["steps"] + 1, 25))
        assert all(keys <= set(r) for r in run["records"][1:])
    # sections 5 and 6 compare the three recipes over the same generator steps
    assert len({run["steps"] for run in runs.values()}) == 1, {k: r["steps"] for k, r in runs.items()}


def test_stored_lr_sweep_has_two_or_more_rates_per_recipe_with_the_default():
    rows = studies.load_lr_sweep()["rows"]
    recipes = {r["recipe"] for r in rows}
    assert "WGAN-GP" in recipes
    for name in recipes:
        mine = [r for r in rows if r["recipe"] == name]
        assert len(mine) >= 2 and sum(r["default"] for r in mine) == 1
