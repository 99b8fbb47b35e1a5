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


def test_ignored_label_agreement():
    labels = np.repeat(np.arange(10), [50, 60, 40, 50, 50, 50, 50, 50, 50, 50])
    q = np.bincount(labels) / len(labels)
    assert check_ignored_label_agreement(0.1, float(np.sum(q ** 2)), labels)
    with pytest.raises(ExerciseFailed, match="balanced"):
        check_ignored_label_agreement(0.0, float(np.sum(q ** 2)), labels)
    with pytest.raises(ExerciseFailed, match="share"):
        check_ignored_label_agreement(10, float(np.sum(q ** 2)), labels)
    with pytest.raises(ExerciseFailed, match="like_training"):
        check_ignored_label_agreement(0.1, 0.2, labels)
