"""Attacks stay inside the threat model, PGD beats FGSM, restarts never hurt, robust accuracy is a worst
case, the trainer trains in every mode, and the early-stopping callback restores the best weights."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from gan_helpers import adversarial as adv
from gan_helpers import exercises


@pytest.fixture(scope="module")
def digits(bundled):
    x, y = bundled
    x = adv.to_unit_range(x[:1152])
    y = y[:1152].astype("int32")
    x[-64:-32] = 0.0  # whole images at the edges of the pixel range
    x[-32:] = 1.0
    return x[:1024], y[:1024], x[1024:], y[1024:]


def _small_mlp(x, y) -> keras.Model:
    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                            keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)])
    net.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    net.fit(x, y, batch_size=64, epochs=3, verbose=0)
    return net


@pytest.fixture(scope="module")
def model(digits):
    """A small MLP trained for two epochs on 1,024 digits: accurate enough to be attacked."""
    x, y, _, _ = digits
    return _small_mlp(x, y)


@pytest.fixture(scope="module")
def mixed(bundled):
    """The same MLP trained on 1,024 digits drawn from all ten classes (the bundled digits are sorted by
    class, so ``digits`` holds mostly 0s and 1s), and 128 held-out digits of all classes: for the tests
    that need several classes (targets, labels that must stay aligned with their images)."""
    x, y = bundled
    pick = np.random.default_rng(0).permutation(len(y))[:1152]
    x, y = adv.to_unit_range(x[pick]), y[pick].astype("int32")
    return _small_mlp(x[:1024], y[:1024]), x[1024:], y[1024:]


def _losses(model, x, y):
    return keras.ops.convert_to_numpy(keras.losses.sparse_categorical_crossentropy(
        y, model(x, training=False), from_logits=True))


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_attacks_stay_in_the_eps_ball_and_the_pixel_range(model, digits, eps):
    _, _, x, y = digits  # includes all-0 and all-1 images
    for x_adv in (adv.fgsm(model, x, y, eps), adv.pgd(model, x, y, eps, steps=5, step_size=0.05, restarts=2)):
        assert x_adv.shape == x.shape and x_adv.dtype == np.float32
        assert np.abs(x_adv - x).max() <= eps + 1e-6
        assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    if eps > 0:  # the edges: an all-black image can only get brighter, an all-white one darker
        assert (x_adv[-64:-32] >= 0).all() and (x_adv[-32:] <= 1).all()
        assert np.abs(x_adv - x).max() > eps / 2


def test_the_threat_model_assertion_catches_escapes():
    x = np.full((2, 3), 0.5, np.float32)
    adv.assert_in_threat_model(x, x + 0.1, 0.1)
    with pytest.raises(AssertionError, match="left the ε-ball"):
        adv.assert_in_threat_model(x, x + 0.2, 0.1)
    with pytest.raises(AssertionError, match="outside \\[0, 1\\]"):
        adv.assert_in_threat_model(np.ones_like(x), np.ones_like(x) + 0.05, 0.1)


def test_attacks_lower_accuracy_and_pgd_is_at_least_as_strong_as_fgsm(model, digits):
    _, _, x, y = digits
    x, y = x[:96], y[:96]
    clean = adv.accuracy(model, x, y)
    x_f = adv.fgsm(model, x, y, 0.1)
    x_p = adv.pgd(model, x, y, 0.1, steps=20, step_size=0.01)
    acc_f, acc_p = adv.accuracy(model, x_f, y), adv.accuracy(model, x_p, y)
    assert clean > 0.7
    assert acc_f < clean - 0.2
    assert acc_p <= acc_f
    assert _losses(model, x_p, y).mean() >= _losses(model, x_f, y).mean()


def test_restarts_are_never_weaker_than_one_start(model, digits):
    _, _, x, y = digits
    x, y = x[:96], y[:96]
    eps, kw = 0.05, {"steps": 3, "step_size": 0.02, "seed": 7, "batch_size": 40}
    one = adv.pgd(model, x, y, eps, restarts=1, **kw)
    four = adv.pgd(model, x, y, eps, restarts=4, **kw)
    broken1 = adv.predict(model, one) != y
    broken4 = adv.predict(model, four) != y
    assert not (broken1 & ~broken4).any(), "an example broken by the first start was lost"
    both = ~broken1 & ~broken4
    assert (_losses(model, four, y)[both] >= _losses(model, one, y)[both] - 1e-5).all()
    again = adv.pgd(model, x, y, eps, restarts=1, **kw)
    np.testing.assert_array_equal(one, again)  # the seed fixes the random start


def _threshold_model() -> keras.Model:
    """Predicts class 1 exactly when the first input exceeds 0.5."""
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    w = np.zeros((4, 2), np.float32)
    w[0, 1] = 10.0
    net.set_weights([w, np.array([0.0, -5.0], np.float32)])
    return net


def test_robust_accuracy_counts_an_example_broken_by_any_attack():
    net = _threshold_model()
    x = np.zeros((4, 4), np.float32)
    x[:, 0] = [0.9, 0.7, 0.75, 0.2]           # example 3 is wrong without any attack
    y = np.ones(4, np.int32)

    def attack_a(m, x, y, eps):              # breaks example 1 only
        out = x.copy()
        out[1, 0] -= 0.25
        return out

    def attack_b(m, x, y, eps):              # breaks example 2 only
        out = x.copy()
        out[2, 0] -= 0.29
        return out

    result = adv.robust_accuracy(net, x, y, {"a": attack_a, "b": attack_b}, eps=0.3)
    assert result.clean == 0.75
    assert result.per_attack == {"a": 0.5, "b": 0.5}
    assert result.robust == 0.25 and float(result) == 0.25
    np.testing.assert_array_equal(result.correct, [True, False, False, False])
    same = adv.robust_accuracy(net, x, y, [lambda m, x, y, e: x], eps=0.3)
    assert same.robust == 0.75                 # clean mistakes count as broken
    with pytest.raises(AssertionError, match="ε-ball"):
        adv.robust_accuracy(net, x, y, [lambda m, x, y, e: np.clip(x - 0.5, 0, 1)], eps=0.3)


@pytest.mark.parametrize("call,match", [
    (lambda m, x, y: adv.fgsm(m, x, y, -0.1), "between 0 and 1"),
    (lambda m, x, y: adv.fgsm(m, x, y, float("nan")), "between 0 and 1"),
    (lambda m, x, y: adv.fgsm(m, x * 2, y, 0.1), "pixels in \\[0, 1\\]"),
    (lambda m, x, y: adv.fgsm(m, x - 0.5, y, 0.1), "pixels in \\[0, 1\\]"),
    (lambda m, x, y: adv.fgsm(m, (x * 255).astype(np.uint8), y, 0.1), "uint8"),
    (lambda m, x, y: adv.fgsm(m, x, y[:-1], 0.1), "must match"),
    (lambda m, x, y: adv.fgsm(m, x, np.eye(10)[y], 0.1), "integer class labels"),
    (lambda m, x, y: adv.pgd(m, x, y, 0.1, steps=0), "steps=0"),
    (lambda m, x, y: adv.pgd(m, x, y, 0.1, restarts=0), "restarts=0"),
    (lambda m, x, y: adv.pgd(m, x, y, 0.1, step_size=0), "step_size"),
    (lambda m, x, y: adv.pgd(m, x, y, 0.1, restarts=2, random_start=False), "random_start"),
    (lambda m, x, y: adv.robust_accuracy(m, x, y, {}, 0.1), "attacks is empty"),
])
def test_bad_inputs_are_refused_with_what_is_allowed(model, digits, call, match):
    _, _, x, y = digits
    with pytest.raises(ValueError, match=match):
        call(model, x[:8], y[:8])


def test_trainer_refuses_unknown_modes_and_bad_settings():
    clf = adv.build_classifier(4, 8)
    with pytest.raises(ValueError, match="fgsm, fgsm_rs, pgd"):
        adv.AdversarialTrainer(clf, mode="trades")
    with pytest.raises(ValueError, match="clean_weight"):
        adv.AdversarialTrainer(clf, mode="pgd", clean_weight=1.5)
    with pytest.raises(ValueError, match="ramp_steps"):
        adv.AdversarialTrainer(clf, mode="pgd", ramp_steps=-1)


@pytest.mark.parametrize("mode", adv.MODES)
def test_train_step_runs_in_every_mode_and_changes_the_weights(digits, mode):
    x, y, _, _ = digits
    keras.utils.set_random_seed(1)
    clf = adv.build_classifier(4, 8)
    trainer = adv.AdversarialTrainer(clf, mode=mode, eps=0.3, steps=3, clean_weight=0.25, ramp_steps=4,
                                     seed=0)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    x_adv = keras.ops.convert_to_numpy(trainer.perturb(x[:32], y[:32], 0.3))
    adv.assert_in_threat_model(x[:32], x_adv, 0.3)
    assert np.abs(x_adv - x[:32]).max() > 0.1
    before = [w.copy() for w in clf.get_weights()]
    history = trainer.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0).history
    assert {"loss", "clean_acc", "adv_acc", "eps"} <= set(history)
    assert np.isfinite(history["loss"][0])
    np.testing.assert_allclose(history["eps"][0], 0.3 * (1 / 4 + 2 / 4) / 2, rtol=1e-5)  # ramp, 2 steps
    assert any(not np.allclose(a, b) for a, b in zip(before, clf.get_weights()))


def test_early_stopping_restores_the_best_weights(model, digits):
    _, _, x, y = digits
    trainer = adv.AdversarialTrainer(model, mode="fgsm_rs", eps=0.3)
    stop = adv.PGDEarlyStopping(x[:64], y[:64], eps=0.02, steps=2, drop=0.2)
    stop.set_model(trainer)
    good = [w.copy() for w in model.get_weights()]
    stop.on_epoch_end(0)
    assert stop.best_acc > 0.5 and not stop.stopped
    model.set_weights([np.zeros_like(w) for w in good])   # a collapse: PGD accuracy falls to chance
    stop.on_epoch_end(1)
    assert stop.stopped and trainer.stop_training
    assert stop.history[1] < stop.best_acc - 0.2
    stop.on_train_end()
    for a, b in zip(model.get_weights(), good):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_works_inside_fit(digits):
    x, y, xv, yv = digits
    keras.utils.set_random_seed(2)
    trainer = adv.AdversarialTrainer(adv.build_classifier(4, 8), mode="fgsm_rs", eps=0.1, seed=0)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    stop = adv.PGDEarlyStopping(xv[:32], yv[:32], eps=0.1, steps=2)
    history = trainer.fit(x[:64], y[:64], batch_size=32, epochs=2, verbose=0, callbacks=[stop]).history
    assert len(stop.history) == 2 and history["val_pgd_acc"] == stop.history
    assert len(stop.fgsm_history) == 2 and all(0 <= a <= 1 for a in stop.fgsm_history)


def test_a_monitor_without_restore_keeps_the_last_weights(model, digits):
    _, _, x, y = digits
    trainer = adv.AdversarialTrainer(model, mode="fgsm_rs", eps=0.3)
    watch = adv.PGDEarlyStopping(x[:64], y[:64], eps=0.02, steps=2, drop=1.0, restore_best=False)
    watch.set_model(trainer)
    good = [w.copy() for w in model.get_weights()]
    try:
        watch.on_epoch_end(0)
        model.set_weights([np.zeros_like(w) for w in good])
        watch.on_epoch_end(1)
        assert not watch.stopped and watch.history[1] < watch.history[0] - 0.2
        assert watch.fgsm_history[1] < watch.fgsm_history[0]
        watch.on_train_end()
        assert all(not w.any() for w in model.get_weights())     # the collapsed weights stay
    finally:
        model.set_weights(good)


# ------------------------------------------------------------------ the exercise checks of notebook 08
def test_fgsm_check_passes_the_package_and_catches_mistakes():
    assert exercises.check_fgsm(adv.fgsm)

    def no_clip(model, x, y, eps):
        import tensorflow as tf
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            loss = keras.losses.sparse_categorical_crossentropy(y, model(xt), from_logits=True)
        return x + eps * np.sign(tape.gradient(loss, xt).numpy())

    with pytest.raises(exercises.ExerciseFailed, match="clip"):
        exercises.check_fgsm(no_clip)
    with pytest.raises(exercises.ExerciseFailed, match="wrong way"):
        exercises.check_fgsm(lambda m, x, y, eps: np.clip(2 * x - no_clip(m, x, y, eps), 0, 1))
    with pytest.raises(exercises.ExerciseFailed, match="true labels"):
        exercises.check_fgsm(lambda m, x, y, eps: adv.fgsm(m, x, np.argmax(m(x).numpy(), -1), eps))

    def stub(model, x, y, eps):
        raise NotImplementedError("hint")

    with pytest.raises(exercises.ExerciseFailed, match="not written yet"):
        exercises.check_fgsm(stub)


def test_projection_check():
    assert exercises.check_projection(lambda xa, x, e: np.clip(np.clip(xa, x - e, x + e), 0, 1))
    with pytest.raises(exercises.ExerciseFailed, match="pixel range"):
        exercises.check_projection(lambda xa, x, e: np.clip(xa, x - e, x + e))
    with pytest.raises(exercises.ExerciseFailed, match="left the ε-ball"):
        exercises.check_projection(lambda xa, x, e: np.clip(xa, 0, 1))
    with pytest.raises(exercises.ExerciseFailed, match="around x"):
        exercises.check_projection(lambda xa, x, e: np.clip(xa, -e, e))


def test_broken_by_any_check():
    assert exercises.check_broken_by_any(lambda c, a: np.mean(c & a.all(0)))
    for wrong, match in [(lambda c, a: np.mean(a.all(0)), "without any attack"),
                         (lambda c, a: min(np.mean(c & r) for r in a), "worst single attack"),
                         (lambda c, a: np.mean([np.mean(c & r) for r in a]), "averaging"),
                         (lambda c, a: np.mean(c & a.any(0)), "'any'"),
                         (lambda c, a: np.mean(c & a[0] & a[1]), "any number of attacks")]:
        with pytest.raises(exercises.ExerciseFailed, match=match):
            exercises.check_broken_by_any(wrong)


# ------------------------------------------------------------------ APGD (Croce & Hein 2020) and Square
def _scaled(model, factor=1000.0):
    """The same classifier with its logits multiplied: identical predictions, a saturated softmax."""
    return keras.Sequential([keras.Input(model.input_shape[1:]), model, keras.layers.Rescaling(factor)])


def test_dlr_loss_matches_its_formula_and_ignores_the_logit_scale():
    logits = np.array([[3.0, 1.0, 0.5, -2.0], [0.2, 4.0, 1.0, 3.0]], np.float32)
    y = np.array([1, 1])
    # example 0: −(z_y − max_{i≠y} z_i)/(z_π1 − z_π3) = −(1 − 3)/(3 − 0.5); example 1: −(4 − 3)/(4 − 1)
    want = np.array([2 / 2.5, -1 / 3])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(adv.dlr_loss(logits, y)), want, rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(adv.dlr_loss(1000 * logits + 7, y)), want,
                               rtol=1e-5)
    np.testing.assert_allclose(adv.margin(logits, y), [-2.0, 1.0])


def test_apgd_checkpoints_follow_the_paper():
    # p = 0, 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99: w_j = ⌈p_j · N⌉
    assert adv.apgd_checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert adv.apgd_checkpoints(1) == []


class _ScriptedLoss:
    """A loss oracle for ``_apgd_run`` on a tiny batch: APGD reads only f and sign(∇f), so both are
    scripted. Row r's t-th new point gets f = script[r][t] and random gradient signs; a point seen before
    gets its old values (a function of the point, so re-evaluating x_max changes nothing). It records the
    iterates x⁽⁰⁾, x⁽¹⁾, … of every row and the gradient at each."""

    def __init__(self, script, dim, seed=0):
        self.script = [list(map(float, s)) for s in script]
        self.points = [[] for _ in script]
        self.grads = [[] for _ in script]
        self.memo = [{} for _ in script]
        self.rng = np.random.default_rng(seed)
        self.dim = dim

    def __call__(self, z, y):
        import tensorflow as tf

        z = z.numpy()
        f, g = np.zeros(len(z), np.float32), np.zeros(z.shape, np.float32)
        for r, zr in enumerate(z):
            key = zr.tobytes()
            if key not in self.memo[r]:
                t = len(self.points[r])
                self.memo[r][key] = (self.script[r][t], self.rng.choice([-1.0, 1.0], self.dim))
                self.points[r].append(zr.copy())
                self.grads[r].append(self.memo[r][key][1])
            f[r], g[r] = self.memo[r][key]
        logits = tf.one_hot(y, 2)                       # always right: no example is ever broken
        return tf.constant(f), tf.constant(g), logits


def _apgd_step(x, x_prev, eta, grad, lo, hi, alpha=0.75):
    """Equation (7) for one example: z = Π(x + η·sign g), then Π(x + α(z − x) + (1 − α)(x − x_prev))."""
    z = np.clip(x + np.float32(eta) * np.sign(grad), lo, hi)
    return np.clip(x + alpha * (z - x) + (1 - alpha) * (x - x_prev), lo, hi)


def _scripted_apgd():
    """Three examples on a scripted loss, checkpoints after steps 5, 10 and 15 (windows of 5: condition 1
    fires with fewer than 3.75 rises). Returns ``check(row, t, start, prev, eta)``, True when x⁽ᵗ⁾ of
    ``row`` is one step of equation (7) with step η·ε from x⁽ˢᵗᵃʳᵗ⁾, x⁽ᵖʳᵉᵛ⁾ being the point before it;
    ``no_momentum(row, t, start, eta)``, the distance from x⁽ᵗ⁾ to that step without the momentum term;
    the iterates of each row; and the run's output. Each checkpoint decision is read off the next
    iterate: a halving restarts the example from x_max with η/2, otherwise it goes on as it was.

    row 0: f falls below its start at once, then rises every step without passing it.
    row 1: rises once, then falls: condition 1 halves it at w = 5. Then it rises 4 times in 5 steps while
           staying below f_max, and 5 times in the next 5, still below.
    row 2: rises at every step, so it never halves.
    """
    from gan_helpers.adversarial.attacks import _apgd_run

    script = [[10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16],
              [0, 5, 4, 3, 2, 1, 1, 2, 3, 4, 4.5, 4.6, 4.7, 4.8, 4.9, 4.95, 4.97],
              list(range(17))]
    dim, eps, steps = 8, 0.3, 16
    x = np.full((3, dim), 0.5, np.float32)             # pixels far from 0 and 1: only the ε-ball binds
    oracle = _ScriptedLoss(script, dim)
    out = _apgd_run(oracle, x, np.zeros(3, np.int32), eps, steps, {5, 10, 15}, rho=0.75, momentum=0.75,
                    rng=np.random.default_rng(0))
    assert [len(p) for p in oracle.points] == [steps + 1] * 3   # one new point per step, no revisits
    lo, hi = np.maximum(x - eps, 0.0)[0], np.minimum(x + eps, 1.0)[0]
    pts, grads = oracle.points, oracle.grads

    def check(row, t, start, prev, eta):
        want = _apgd_step(pts[row][start], pts[row][prev], eta * eps, grads[row][start], lo, hi)
        return np.allclose(pts[row][t], want, rtol=0, atol=1e-6)

    def no_momentum(row, t, start, eta):
        return np.abs(_apgd_step(pts[row][start], pts[row][start], eta * eps, grads[row][start], lo, hi)
                      - pts[row][t]).max()

    return check, no_momentum, pts, out


def test_apgd_condition_2_waits_for_a_checkpoint_without_a_halving():
    """Croce & Hein's condition 2 (η not reduced at the last checkpoint and f_max not raised since) as the
    reference runs it: never at the first checkpoint, never right after the example's own halving."""
    check, _, pts, (out, broken, f_best) = _scripted_apgd()
    wrong = [why for ok, why in [
        (check(0, 6, 5, 4, 2), "row 0, w = 5: it must go on as it was, η = 2ε and its momentum term "
                               "(condition 2 cannot fire at the first checkpoint)"),
        (check(0, 11, 0, 9, 1), "row 0, w = 10: condition 2 must halve it (η not halved at w = 5, f_max "
                                "unchanged since) and restart it from x_max = x⁽⁰⁾"),
        (check(1, 6, 1, 4, 1), "row 1, w = 5: condition 1 must halve it and restart it from x_max = x⁽¹⁾"),
        (check(1, 11, 10, 9, 1), "row 1, w = 10: it must go on as it was, η = ε and its momentum term "
                                 "(condition 2 cannot fire right after its halving)"),
        (check(1, 16, 1, 14, 0.5), "row 1, w = 15: condition 2 must halve it and restart it from x⁽¹⁾"),
    ] if not ok]
    assert not wrong, "\n".join(wrong)
    # the best point is what comes back: x⁽¹⁶⁾ (f = 16), x⁽¹⁾ (f = 5), x⁽¹⁶⁾ (f = 16)
    assert not broken.any()
    np.testing.assert_allclose(f_best, [16, 5, 16])
    for row, t in ((0, 16), (1, 1), (2, 16)):
        np.testing.assert_array_equal(out[row], pts[row][t])


def test_apgd_momentum_is_per_example_across_a_halving():
    """At w = 5 only row 1 halves. Row 2 must keep its momentum term x⁽⁵⁾ − x⁽⁴⁾; row 1 restarts from
    x_max = x⁽¹⁾ with the term x_max − x⁽⁴⁾, as Algorithm 1 (x⁽⁵⁾ := x_max) and the reference have it."""
    check, no_momentum, _, _ = _scripted_apgd()
    assert check(2, 6, 5, 4, 2), "row 2 lost its momentum term when row 1 halved"
    assert no_momentum(2, 6, 5, 2) > 0.01                  # and that term mattered at this step
    assert check(1, 6, 1, 4, 1), "row 1 did not restart from x_max with the momentum term x_max − x⁽⁴⁾"
    assert no_momentum(1, 6, 1, 1) > 0.01


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_apgd_and_square_stay_in_the_eps_ball_and_the_pixel_range(model, digits, eps):
    _, _, x, y = digits  # includes all-0 and all-1 images
    for x_adv in (adv.apgd(model, x, y, eps, "ce", steps=10, restarts=2),
                  adv.apgd(model, x, y, eps, "dlr", steps=10),
                  adv.square(model, x, y, eps, queries=20)):
        assert x_adv.shape == x.shape and x_adv.dtype == np.float32
        assert np.abs(x_adv - x).max() <= eps + 1e-6
        assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
        if eps > 0:
            assert np.abs(x_adv - x).max() > eps / 2


@pytest.mark.parametrize("loss", adv.APGD_LOSSES)
def test_apgd_is_never_weaker_than_its_own_start(model, digits, loss):
    _, _, x, y = digits
    x, y = x[:96], y[:96]
    eps = 0.05
    start = adv.apgd_start(x, eps, np.random.default_rng(3))     # the first draw of seed 3
    x_adv = adv.apgd(model, x, y, eps, loss, steps=8, seed=3, batch_size=96)
    broken_start = adv.predict(model, start) != y
    broken_adv = adv.predict(model, x_adv) != y
    assert np.all(broken_adv[broken_start])                        # broken at the start: stays broken
    logits = lambda z: keras.ops.convert_to_numpy(model(z, training=False))  # noqa: E731
    if loss == "ce":
        f0, f1 = _losses(model, start, y), _losses(model, x_adv, y)
    else:
        f0 = keras.ops.convert_to_numpy(adv.dlr_loss(logits(start), y))
        f1 = keras.ops.convert_to_numpy(adv.dlr_loss(logits(x_adv), y))
    keep = ~broken_adv
    assert np.all(f1[keep] >= f0[keep] - 1e-5)                     # unbroken: a loss at least the start's
    assert broken_adv.sum() > broken_start.sum()                   # and the steps did something


def test_apgd_is_at_least_as_strong_as_pgd(model, digits):
    _, _, x, y = digits
    x, y = x[:96], y[:96]
    for eps in (0.05, 0.1):
        acc_pgd = adv.accuracy(model, adv.pgd(model, x, y, eps, steps=40, step_size=2.5 * eps / 40), y)
        acc_ce = adv.accuracy(model, adv.apgd(model, x, y, eps, "ce", steps=40), y)
        acc_dlr = adv.accuracy(model, adv.apgd(model, x, y, eps, "dlr", steps=40), y)
        assert acc_ce <= acc_pgd and acc_dlr <= acc_pgd + 1 / 96, (eps, acc_pgd, acc_ce, acc_dlr)


def test_dlr_and_square_see_through_a_saturated_softmax(model, digits):
    _, _, x, y = digits
    x, y = x[:96], y[:96]
    masked = _scaled(model)
    eps = 0.15
    acc_pgd = adv.accuracy(masked, adv.pgd(masked, x, y, eps, steps=10, step_size=0.0375), y)
    acc_dlr = adv.accuracy(masked, adv.apgd(masked, x, y, eps, "dlr", steps=20), y)
    acc_sq = adv.accuracy(masked, adv.square(masked, x, y, eps, queries=300), y)
    acc_sq_plain = adv.accuracy(model, adv.square(model, x, y, eps, queries=300), y)
    assert acc_dlr < acc_pgd - 0.4 and acc_sq < acc_pgd - 0.4, (acc_pgd, acc_dlr, acc_sq)
    assert abs(acc_sq - acc_sq_plain) <= 0.05     # only the logits' order matters to a black-box search


def test_square_only_lowers_the_margin(model, digits):
    _, _, x, y = digits
    x, y = x[:64], y[:64]
    x_adv = adv.square(model, x, y, 0.15, queries=100)
    logits = lambda z: keras.ops.convert_to_numpy(model(z, training=False))  # noqa: E731
    assert np.all(adv.margin(logits(x_adv), y) <= adv.margin(logits(x), y) + 1e-5)
    assert adv.accuracy(model, x_adv, y) < adv.accuracy(model, x, y) - 0.2


@pytest.mark.parametrize("call,match", [
    (lambda m, x, y: adv.apgd(m, x, y, 0.1, loss="mse"), "ce, dlr"),
    (lambda m, x, y: adv.apgd(m, x, y, 0.1, steps=0), "steps=0"),
    (lambda m, x, y: adv.apgd(m, x, y, 0.1, rho=1.5), "rho"),
    (lambda m, x, y: adv.apgd(m, x, y, 2.0), "between 0 and 1"),
    (lambda m, x, y: adv.square(m, x, y, 0.1, queries=0), "queries=0"),
    (lambda m, x, y: adv.square(m, x, y, 0.1, p_init=0), "p_init"),
    (lambda m, x, y: adv.square(m, x.reshape(len(x), -1), y, 0.1), "height, width, channels"),
])
def test_apgd_and_square_refuse_bad_inputs(model, digits, call, match):
    _, _, x, y = digits
    with pytest.raises(ValueError, match=match):
        call(model, x[:8], y[:8])


def test_dlr_check_passes_the_package_and_names_each_mistake():
    import tensorflow as tf

    assert exercises.check_dlr(adv.dlr_loss)

    def parts(z, y):
        z = np.asarray(z, np.float64)
        top = -np.sort(-z, axis=1)
        z_y = z[np.arange(len(y)), y]
        other = np.where(np.eye(z.shape[1], dtype=bool)[y], -np.inf, z).max(1)
        return z_y, other, top

    def flipped(z, y):
        z_y, o, t = parts(z, y)
        return (z_y - o) / (t[:, 0] - t[:, 2])

    def second(z, y):
        z_y, o, t = parts(z, y)
        return -(z_y - o) / (t[:, 0] - t[:, 1])

    def over_all(z, y):
        z_y, o, t = parts(z, y)
        return -(z_y - t[:, 0]) / (t[:, 0] - t[:, 2])

    def softmax_based(z, y):
        p = tf.nn.softmax(np.asarray(z, np.float32)).numpy()
        return -(p[np.arange(len(y)), y] - np.where(np.eye(10, dtype=bool)[y], -1, p).max(1))

    for wrong, match in [(flipped, "sign is flipped"), (second, "π₃"), (over_all, "i ≠ y"),
                         (lambda z, y: tf.reduce_mean(adv.dlr_loss(z, y)), "one loss per example"),
                         (softmax_based, "off by")]:
        with pytest.raises(exercises.ExerciseFailed, match=match):
            exercises.check_dlr(wrong)


def test_cyclic_rate_rises_to_its_peak_at_40_percent_falls_to_zero_and_refuses_bad_settings():
    from gan_helpers.adversarial import CyclicRate

    rate = CyclicRate(5e-3, 1000)
    got = [float(rate(s)) for s in (0, 200, 400, 700, 1000, 1200)]
    np.testing.assert_allclose(got, [0.0, 2.5e-3, 5e-3, 2.5e-3, 0.0, 0.0], atol=1e-9)
    assert CyclicRate(**rate.get_config()).get_config() == rate.get_config()
    bad_settings = [dict(peak=0.0, total_steps=10), dict(peak=1e-3, total_steps=0),
                    dict(peak=1e-3, total_steps=2.5)]
    for bad in bad_settings:
        with pytest.raises(ValueError, match="peak|total_steps"):
            CyclicRate(**bad)


# ------------------------------------------------------------ APGD-T, survivors-only evaluation, convergence
def test_dlr_targeted_loss_matches_its_formula_and_ignores_the_logit_scale():
    logits = np.array([[3.0, 1.0, 0.5, -2.0, 0.0],
                       [0.2, 4.0, 1.0, 3.0, -1.0],
                       [5.0, 2.0, 1.0, 0.0, -1.0]], np.float32)
    y, t = np.array([0, 1, 2]), np.array([1, 3, 0])
    # −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2):
    # row 0: −(3 − 1)/(3 − (0.5 + 0)/2); row 1: −(4 − 3)/(4 − (1 + 0.2)/2); row 2: −(1 − 5)/(5 − (1 + 0)/2)
    want = np.array([-2 / 2.75, -1 / 3.4, 4 / 4.5])
    got = keras.ops.convert_to_numpy(adv.dlr_targeted_loss(logits, y, t))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(adv.dlr_targeted_loss(1000 * logits + 7, y, t)),
                               want, rtol=1e-5)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_apgd_targeted_stays_in_the_eps_ball_and_the_pixel_range(model, digits, eps):
    _, _, x, y = digits  # includes all-0 and all-1 images
    x_adv = adv.apgd_targeted(model, x, y, eps, targets=2, steps=5)
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32
    assert np.abs(x_adv - x).max() <= eps + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    wrong_clean = adv.predict(model, x) != y
    np.testing.assert_array_equal(x_adv[wrong_clean], x[wrong_clean])   # clean mistakes come back as they are
    if eps > 0:
        assert np.abs(x_adv - x).max() > eps / 2


def test_apgd_targeted_aims_at_the_runner_up_first_and_more_targets_are_never_weaker(mixed):
    model, x, y = mixed
    x, y = x[:64], y[:64]
    eps = 0.05
    pred_one = adv.predict(model, adv.apgd_targeted(model, x, y, eps, targets=1, steps=10, seed=2))
    three = adv.predict(model, adv.apgd_targeted(model, x, y, eps, targets=3, steps=10, seed=2)) != y
    one = pred_one != y
    assert np.all(three[one])                  # run 1 is the same run: later targets only add
    assert three.sum() > one.sum() > (adv.predict(model, x) != y).sum() + 5
    logits = keras.ops.convert_to_numpy(model(x, training=False))
    logits[np.arange(len(y)), y] = -np.inf
    runner_up = logits.argmax(1)               # target 1: the largest non-true clean logit
    newly = one & (adv.predict(model, x) == y)
    assert np.mean(pred_one[newly] == runner_up[newly]) > 0.8


def test_survivors_only_evaluation_gives_the_same_worst_case_and_attacks_fewer_examples(mixed):
    model, x, y = mixed
    seen = {}

    def recorded(name, attack):
        def run(m, xs, ys, e):
            seen[name] = len(xs)
            return attack(m, xs, ys, e)
        return run

    attacks = {"FGSM": adv.fgsm,          # attacks whose result on a digit does not depend on the others
               "PGD": lambda m, xs, ys, e: adv.pgd(m, xs, ys, e, steps=5, step_size=0.03, random_start=False),
               "FGSM/2": lambda m, xs, ys, e: adv.fgsm(m, xs, ys, e / 2)}
    eps = 0.08
    every = adv.robust_accuracy(model, x, y, {k: recorded(k, a) for k, a in attacks.items()}, eps)
    assert seen == {k: len(x) for k in attacks} == every.attacked and every.on_survivors == ()
    survivors = adv.robust_accuracy(model, x, y, {k: recorded(k, a) for k, a in attacks.items()}, eps,
                                    only_survivors=True)
    np.testing.assert_array_equal(survivors.correct, every.correct)
    assert survivors.robust == every.robust and survivors.clean == every.clean
    assert 0 < every.robust < every.clean
    counts = [survivors.attacked[k] for k in attacks]
    assert counts[0] == round(every.clean * len(x)) and counts[1] < counts[0], counts
    assert seen == survivors.attacked                                 # each ran on the survivors only
    acc = list(survivors.per_attack.values())                         # robust accuracy left after each
    assert acc == sorted(acc, reverse=True) and acc[-1] == survivors.robust
    assert survivors.per_attack["FGSM"] == every.per_attack["FGSM"]
    some = adv.robust_accuracy(model, x, y, attacks, eps, only_survivors=["FGSM/2"])
    np.testing.assert_array_equal(some.correct, every.correct)
    assert some.on_survivors == ("FGSM/2",) and some.attacked["PGD"] == len(x)
    assert some.per_attack["PGD"] == every.per_attack["PGD"] and some.per_attack["FGSM/2"] == every.robust


def _bump_model(centre=0.65, width=0.08) -> keras.Model:
    """Two classes on 4 inputs: class 1 only inside a narrow tent of input 0 around ``centre``, and a
    gradient of exactly 0 outside it, so APGD breaks an example only when its random start falls in the
    tent: each restart is a fresh chance, and restarts matter."""
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                            keras.layers.Dense(2)])
    w1 = np.zeros((4, 3), np.float32)
    w1[0] = 1 / width                      # relu((x0 − c + w)/w), relu((x0 − c)/w), relu((x0 − c − w)/w)
    b1 = np.array([-(centre - width), -centre, -(centre + width)], np.float32) / width
    w2 = np.array([[0, 10], [0, -20], [0, 10]], np.float32)     # class 1 logit: 10·tent − 1
    net.set_weights([w1, b1, w2, np.array([0.0, -1.0], np.float32)])
    return net


def test_convergence_is_a_running_minimum_over_restarts_and_matches_apgd():
    net = _bump_model()
    x, y = np.full((64, 4), 0.5, np.float32), np.zeros(64, np.int32)
    eps = 0.3
    curve = adv.apgd_convergence(net, x, y, eps, "ce", steps=(6, 3), restarts=(4, 1, 2), seed=5)
    np.testing.assert_array_equal(curve.steps, [3, 6])
    np.testing.assert_array_equal(curve.restarts, [1, 2, 4])
    assert curve.robust.shape == (2, 3) and curve.clean == 1.0
    assert np.all(np.diff(curve.robust, axis=1) <= 0)                 # more restarts never help the model
    assert np.all(curve.robust[:, -1] < curve.robust[:, 0] - 0.1), curve.robust   # and here they matter
    for i, steps in enumerate(curve.steps):                          # one batch: exactly apgd's figures
        for j, restarts in enumerate(curve.restarts):
            x_adv = adv.apgd(net, x, y, eps, "ce", steps=int(steps), restarts=int(restarts), seed=5)
            got = adv.robust_accuracy(net, x, y, [lambda m, xs, ys, e, a=x_adv: a], eps).robust
            assert curve.robust[i, j] == got, (steps, restarts, curve.robust[i, j], got)


def _three_classes() -> keras.Model:
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])


@pytest.mark.parametrize("call,match", [
    (lambda m, x, y: adv.apgd_targeted(m, x, y, 0.1, targets=10), "from 1 to 9"),
    (lambda m, x, y: adv.apgd_targeted(m, x, y, 0.1, targets=0), "from 1 to 9"),
    (lambda m, x, y: adv.apgd_targeted(m, x, y, 0.1, targets=2.0), "from 1 to 9"),
    (lambda m, x, y: adv.apgd_targeted(m, x, y, 0.1, steps=0), "steps=0"),
    (lambda m, x, y: adv.apgd_targeted(m, x, y, 0.1, rho=0), "rho"),
    (lambda m, x, y: adv.apgd_targeted(_three_classes(), x, y % 3, 0.1, targets=1), "at least 4 classes"),
    (lambda m, x, y: adv.apgd_convergence(m, x, y, 0.1, restarts=()), "restarts is empty"),
    (lambda m, x, y: adv.apgd_convergence(m, x, y, 0.1, steps=(10, 0)), "steps=0"),
    (lambda m, x, y: adv.apgd_convergence(m, x, y, 0.1, loss="dlr-t"), "ce, dlr"),
    (lambda m, x, y: adv.robust_accuracy(m, x, y, {"a": adv.fgsm}, 0.1, only_survivors=["b"]),
     "some of \\['a'\\]"),
])
def test_apgd_targeted_convergence_and_survivors_refuse_bad_inputs(model, digits, call, match):
    _, _, x, y = digits
    with pytest.raises(ValueError, match=match):
        call(model, x[:8], y[:8])
