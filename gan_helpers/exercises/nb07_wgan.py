"""Checks for notebook 07 (WGAN-GP, the hinge loss and spectral normalisation)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._common import ExerciseFailed, _call, _numpy, _passed, _require_answers, _value


def check_hinge_loss(fn: Callable) -> bool:
    """``fn(real_logits, fake_logits)`` must return E[max(0, 1 − l_real)] + E[max(0, 1 + l_fake)]."""
    cases = [(np.array([2.0, 0.5, -1.0]), np.array([-2.0, 0.5, 3.0])),
             (np.array([5.0, 4.0]), np.array([-5.0, -4.0]))]
    for real, fake in cases:
        want = np.maximum(0, 1 - real).mean() + np.maximum(0, 1 + fake).mean()
        got = _value(_call(fn, real.astype("float32"), fake.astype("float32")))
        if not np.isclose(got, want, atol=1e-5):
            no_margin = np.maximum(0, -real).mean() + np.maximum(0, fake).mean()
            swapped = np.maximum(0, 1 + real).mean() + np.maximum(0, 1 - fake).mean()
            hint = ("the margin is missing: it is max(0, 1 − l), not max(0, −l)."
                    if np.isclose(got, no_margin, atol=1e-5) else
                    "real and fake are swapped: real scores should be pushed above +1, fakes below −1."
                    if np.isclose(got, swapped, atol=1e-5) else
                    "average each hinge over its batch, then add the two means.")
            raise ExerciseFailed(f"for real logits {real.tolist()} and fake logits {fake.tolist()} the hinge "
                                 f"loss is {want:.4f}; yours is {got:.4f}. {hint}")
    return _passed("hinge loss")


def check_power_iteration(fn: Callable) -> bool:
    """``fn(w, n_iter)`` must return the top singular value of the 2-D matrix ``w`` after ``n_iter`` steps
    of power iteration; checked against ``numpy.linalg.svd`` on matrices of several shapes."""
    rng = np.random.default_rng(1)
    for shape in ((6, 4), (3, 9), (20, 20)):
        w = rng.normal(size=shape)
        s = np.linalg.svd(w, compute_uv=False)
        got = _value(_call(fn, w, 200))
        if not np.isclose(got, s[0], rtol=1e-4):
            hint = ("that is the Frobenius norm √Σσᵢ², an upper bound: iterate v ← Wu/‖Wu‖, u ← Wᵀv/‖Wᵀv‖."
                    if np.isclose(got, np.linalg.norm(w), rtol=1e-4) else
                    "that is σ², the top eigenvalue of WᵀW: return ‖Wu‖ (or vᵀWu), not its square."
                    if np.isclose(got, s[0] ** 2, rtol=1e-4) else
                    "normalise the vector after every multiplication and return vᵀWu.")
            raise ExerciseFailed(f"for a {shape[0]}×{shape[1]} matrix the top singular value is {s[0]:.4f} "
                                 f"(numpy.linalg.svd); after 200 steps yours gives {got:.4f}. {hint}")
    w = np.diag([3.0, 1.0])
    one = _value(_call(fn, w, 1))
    if not 0 < one <= 3.0 + 1e-6:
        raise ExerciseFailed(f"after one step on diag(3, 1) the estimate must lie in (0, 3], got {one:.4f}: "
                             "vᵀWu with unit u and v can never exceed σ_max.")
    return _passed("power iteration")


def check_best_critic(fn: Callable) -> bool:
    """``fn(x)`` (a NumPy array of points on the line) must be a 1-Lipschitz critic that nearly attains
    W1 = √(2/π) ≈ 0.798 between real data N(0, 1) and fakes N(0, 2²): E f(real) − E f(fake) ≥ 0.77."""
    grid = np.linspace(-12, 12, 4801)
    f = _numpy(_call(fn, grid)).reshape(-1)
    if f.shape != grid.shape or not np.isfinite(f).all():
        raise ExerciseFailed(f"your critic must return one finite number per point; for {len(grid)} points "
                             f"it returned shape {f.shape}")
    slope = np.abs(np.diff(f) / np.diff(grid)).max()
    if slope > 1 + 1e-6:
        raise ExerciseFailed(f"your critic changes by up to {slope:.3f} per unit step: it is not "
                             "1-Lipschitz, so its gap is no lower bound on W1. Keep |f(a) − f(b)| ≤ |a − b|.")
    rng = np.random.default_rng(0)
    real, fake = rng.normal(0, 1, 40000), rng.normal(0, 2, 40000)
    gap = float(np.mean(_numpy(_call(fn, real))) - np.mean(_numpy(_call(fn, fake))))
    w1 = float(np.sqrt(2 / np.pi))
    if gap < 0.77:
        hint = ("the sign is reversed: the critic must score the real data higher." if gap < -0.5 else
                "both have mean 0, so no straight line separates them: what differs is how far from 0 "
                "the points lie." if abs(gap) < 0.05 else
                "a bounded or flattened critic wastes the tails; let it change at slope 1 everywhere.")
        raise ExerciseFailed(f"your critic is 1-Lipschitz, but E f(real) − E f(fake) = {gap:.3f}, while "
                             f"W1 = √(2/π) = {w1:.3f} here. {hint}")
    return _passed("best 1-Lipschitz critic")


def check_steep_critic(gap: float, penalty: float, is_lower_bound: bool) -> bool:
    """Predictions for the critic f(x) = 3x between real N(2, 1) and fake N(−1, 1) (W1 = 3): ``gap`` is
    E f(real) − E f(fake), ``penalty`` the term λ·E[(‖∇f‖ − 1)²] of (4) with λ = 10, and
    ``is_lower_bound`` whether ``gap`` is a lower bound on W1."""
    _require_answers(gap, penalty, is_lower_bound)
    want = {"gap": 9.0, "penalty": 40.0}
    for name, got in (("gap", gap), ("penalty", penalty)):
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise ExerciseFailed(f"{name} must be a number, got {got!r}.") from None
        if not np.isclose(got, want[name], atol=1e-3):
            hint = ("f is linear: E f(real) − E f(fake) = 3·(E x_real − E x_fake)." if name == "gap" else
                    "the gradient of 3x is 3 at every x̂, whatever α is; the penalty is λ(3 − 1)².")
            raise ExerciseFailed(f"{name}: your {got:g} is not it. {hint}")
    if is_lower_bound is not False:
        raise ExerciseFailed("9 is above W1 = 3: the duality (1) bounds the gap only for 1-Lipschitz "
                             "critics, and 3x is 3-Lipschitz. Scaling a critic by k scales its gap by k; "
                             "a k-Lipschitz critic can report up to k·W1.")
    print("Scaling a critic by k scales its gap by k; a k-Lipschitz critic can report up to k·W1. "
          "The penalty (here 40, larger than the gap) is what pulls it back; while λ·GP is large, "
          "the critic's −L_D is no bound on W1.")
    return _passed("a critic that is not 1-Lipschitz")


def check_one_step_normalisation(answer: str) -> bool:
    """Prediction: after dividing a kernel W by σ̂, the estimate of one power step (6) from a random unit
    u, is the top singular value of W / σ̂ "below 1", "exactly 1" or "at least 1"?"""
    _require_answers(answer)
    options = ("below 1", "exactly 1", "at least 1")
    if answer not in options:
        raise ExerciseFailed(f"answer with one of {options}, got {answer!r}.")
    rng = np.random.default_rng(0)
    ratios = []
    for _ in range(200):
        w = rng.normal(size=(16, 64)) * rng.uniform(0.1, 3)
        u = rng.normal(size=64)
        u /= np.linalg.norm(u)
        v = w @ u
        v /= np.linalg.norm(v)
        ratios.append(np.linalg.svd(w, compute_uv=False)[0] / float(v @ w @ u))
    ratios = np.array(ratios)
    if answer != "at least 1":
        raise ExerciseFailed("not so: vᵀWu with unit u and v never exceeds σ(W), so σ̂ ≤ σ and W / σ̂ "
                             "stretches by σ/σ̂ ≥ 1. On 200 random 16×64 kernels, one step from a random u "
                             f"leaves W / σ̂ with top singular value {ratios.min():.2f} to "
                             f"{ratios.max():.2f}.")
    print(f"On 200 random 16×64 kernels, one step from a random u gives σ(W/σ̂) = {ratios.min():.2f} to "
          f"{ratios.max():.2f}. Keeping u between updates is what brings it to 1: every training call "
          "takes one more step (section 3's kernels read 1.000 after 100 calls).")
    return _passed("one power step")


TIE = 0.05   # FD-MNIST of 2,000 samples: rates whose FD lies within 5% of the best count as tied


def check_lr_prediction(best: dict, study: dict) -> bool:
    """``best`` maps each recipe of the stored learning-rate sweep (``study``, from
    ``gh.studies.load_lr_sweep()``) to the rate you predict gives the lowest FD-MNIST at the short budget;
    a rate within ``TIE`` of the lowest FD counts as right."""
    _require_answers(best)
    rows = study["rows"]
    recipes = list(dict.fromkeys(r["recipe"] for r in rows))
    if not isinstance(best, dict) or set(best) != set(recipes):
        raise ExerciseFailed(f"give a dict with one rate for each of {recipes}.")
    table = "\n".join(f"  {r['recipe']:<8} lr {r['lr']:<7g} {r['steps']:>4} G steps  FD-MNIST "
                      + (f"{r['fd_mnist']:6.1f}, confident {r['confident_share']:.1%}" if r.get("fd_mnist")
                         is not None else f"diverged ({r['diverged']})") for r in rows)
    wrong = []
    for name in recipes:
        ok = [r for r in rows if r["recipe"] == name and r.get("fd_mnist") is not None]
        winner = min(ok, key=lambda r: r["fd_mnist"])["lr"]
        rates = [r["lr"] for r in rows if r["recipe"] == name]
        try:
            mine = float(best[name])
        except (TypeError, ValueError):
            raise ExerciseFailed(f"{name}: give one of the swept rates {rates}, got {best[name]!r}.") \
                from None
        if not any(np.isclose(mine, lr) for lr in rates):
            raise ExerciseFailed(f"{name}: pick one of the swept rates {rates}, got {best[name]!r}.")
        fd = {r["lr"]: r["fd_mnist"] for r in ok}
        mine_fd = next((v for lr, v in fd.items() if np.isclose(mine, lr)), None)
        if mine_fd is None or mine_fd > (1 + TIE) * fd[winner]:   # a near-tie is within FD's sampling noise
            wrong.append(f"{name}: the lowest FD came with lr {winner:g}, not {mine:g}")
        elif not np.isclose(mine, winner):
            print(f"{name}: lr {mine:g} is within {TIE:.0%} of the best FD (lr {winner:g}): a tie at this "
                  "sample size")
    if wrong:
        raise ExerciseFailed("; ".join(wrong) + ". The sweep:\n" + table)
    print("The sweep:\n" + table)
    return _passed("learning-rate prediction")
