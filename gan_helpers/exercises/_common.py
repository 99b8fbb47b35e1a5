"""Shared plumbing of the check functions: the failure type and how a learner's code is called."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class ExerciseFailed(AssertionError):
    """A learner's answer is not right yet; the message says how it goes wrong."""


def _call(fn: Callable, *args):
    """Call the learner's function, turning an unwritten stub into a plain message."""
    try:
        return fn(*args)
    except NotImplementedError as exc:
        name = getattr(fn, "__name__", "your function")
        raise ExerciseFailed(f"{name} is not written yet ({exc or 'NotImplementedError'}). Replace the "
                             "`raise NotImplementedError` line with your code, run its cell, then this "
                             "check again.") from None


def _require_answers(*answers) -> None:
    """Refuse, kindly, a prediction still holding the student copy's placeholder ("?", None or ...)."""
    def unanswered(a) -> bool:
        if isinstance(a, dict):
            return any(unanswered(v) for v in a.values())
        if isinstance(a, (list, tuple)):
            return any(unanswered(v) for v in a)
        return a is None or a is ... or (isinstance(a, str) and a.strip() == "?")

    if any(unanswered(a) for a in answers):
        raise ExerciseFailed("write your answer first: replace every \"?\" (or None) in the cell above with "
                             "your prediction, run it, then this check again.")


def _passed(what: str) -> bool:
    print(f"✓ {what}: all checks passed.")
    return True


def _numpy(a) -> np.ndarray:
    """A learner's result (a tensor, array or number) as a float64 NumPy array."""
    import keras

    return np.asarray(keras.ops.convert_to_numpy(a), dtype=np.float64)


def _value(x) -> float:
    return float(_numpy(x))


def _logit(p: float) -> float:
    return float(np.log(p) - np.log1p(-p))
