"""Notebook 06's prediction exercises: the checks accept the right answers and refuse the wrong ones."""

import numpy as np
import pytest

from gan_helpers.exercises._common import ExerciseFailed
from gan_helpers.exercises.nb06_conditional import check_ignored_label_agreement, check_shifted_embedding

RIGHT = {"logit_changes": True, "label_gap_changes": False, "psi_can_undo_it": True}


def test_shifted_embedding_accepts_the_facts():
    assert check_shifted_embedding(RIGHT)


@pytest.mark.parametrize("key", sorted(RIGHT))
def test_shifted_embedding_refuses_each_wrong_answer(key):
    with pytest.raises(ExerciseFailed, match=key):
        check_shifted_embedding({**RIGHT, key: not RIGHT[key]})


def test_shifted_embedding_refuses_missing_keys():
    with pytest.raises(ExerciseFailed, match="keys"):
        check_shifted_embedding({"logit_changes": True})


def _sum_of_squares(q):
    return float(np.sum(np.asarray(q) ** 2))


LABELS = np.repeat(np.arange(10), [50, 60, 40, 50, 50, 50, 50, 50, 50, 50])


def test_ignored_label_agreement_accepts_the_answer():
    assert check_ignored_label_agreement(0.1, _sum_of_squares, LABELS)


def test_ignored_label_agreement_rejects_the_naive_answer_for_training_like_labels():
    """The training q is nearly uniform (Σq² = 0.1004 here), so 0.1 would pass a tolerance on it alone;
    the skewed q shows a constant answer."""
    assert abs(_sum_of_squares(np.bincount(LABELS) / len(LABELS)) - 0.1) < 0.002
    with pytest.raises(ExerciseFailed, match="like_training.*0.1 is the balanced answer"):
        check_ignored_label_agreement(0.1, lambda q: 0.1, LABELS)
    with pytest.raises(ExerciseFailed, match="like_training"):
        check_ignored_label_agreement(0.1, lambda q: float(np.mean(q)), LABELS)


def test_ignored_label_agreement_refuses_a_number_a_percentage_and_a_wrong_balanced():
    with pytest.raises(ExerciseFailed, match="function"):
        check_ignored_label_agreement(0.1, 0.1005, LABELS)
    with pytest.raises(ExerciseFailed, match="balanced"):
        check_ignored_label_agreement(0.0, _sum_of_squares, LABELS)
    with pytest.raises(ExerciseFailed, match="share"):
        check_ignored_label_agreement(10, _sum_of_squares, LABELS)
    with pytest.raises(ExerciseFailed, match="share"):
        check_ignored_label_agreement(0.1, lambda q: 100 * _sum_of_squares(q), LABELS)


def test_ignored_label_agreement_asks_for_answers_and_code_first():
    with pytest.raises(ExerciseFailed, match="answer"):
        check_ignored_label_agreement("?", _sum_of_squares, LABELS)

    def stub(q):
        raise NotImplementedError("predict it from q")

    with pytest.raises(ExerciseFailed, match="not written yet"):
        check_ignored_label_agreement(0.1, stub, LABELS)
