"""The conditional GAN of notebook 06: its networks, its trainer hooks, its CLI run and its checks."""


import keras
import numpy as np
import pytest
from PIL import Image

from gan_helpers import cli, conditional, data, exercises, export, jobs, layers, recipes, training

LATENT = 16


def small_gan(head="projection", seed=0, **compile_kwargs):
    recipe = recipes.DCGANRecipe().replace(latent_dim=LATENT, g_width=4, d_width=4)
    return conditional.build_conditional(recipe, head=head, seed=seed, **compile_kwargs)


def noise(n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, LATENT)).astype("float32")


def test_shapes_of_generator_and_both_discriminators():
    g = conditional.build_conditional_generator(LATENT, 4)
    assert g.output_shape == (None, 28, 28, 1)
    images = conditional.generate(g, noise(5), [0, 1, 2, 3, 9])
    assert images.shape == (5, 28, 28, 1) and np.abs(images).max() <= 1
    for head in conditional.HEADS:
        d = conditional.build_conditional_discriminator(4, head=head)
        assert d([images, np.arange(5)]).shape == (5, 1)
    with pytest.raises(ValueError, match="head='sum' is not known; choose one of projection, concat"):
        conditional.build_conditional_discriminator(4, head="sum")


def test_projection_logit_is_psi_plus_the_label_row_dot_the_features():
    d = conditional.build_conditional_discriminator(4, head="projection")
    d.get_layer("class_embedding").set_weights([np.random.default_rng(1).normal(size=(10, 392))])
    x = np.random.default_rng(0).uniform(-1, 1, (6, 28, 28, 1)).astype("float32")
    y = np.array([0, 3, 3, 5, 9, 1])
    phi = keras.Model(d.inputs, d.get_layer("phi").output)([x, y]).numpy()
    w, b = d.get_layer("psi").get_weights()
    emb = d.get_layer("class_embedding").get_weights()[0]
    logits = d([x, y]).numpy()[:, 0]

    def formula(rows):
        return (phi @ w)[:, 0] + b[0] + np.sum(emb[rows] * phi, axis=1)

    np.testing.assert_allclose(logits, formula(y), rtol=1e-4, atol=1e-4)
    with pytest.raises(AssertionError):   # a mutated formula (the wrong class's row) fails the same check
        np.testing.assert_allclose(logits, formula((y + 1) % 10), rtol=1e-4, atol=1e-4)
    with pytest.raises(AssertionError):   # and so does one without the projection term
        np.testing.assert_allclose(logits, (phi @ w)[:, 0] + b[0], rtol=1e-4, atol=1e-4)


def test_concat_discriminator_sees_the_label_as_one_hot_planes():
    x = np.zeros((3, 28, 28, 1), "float32")
    planes = layers.LabelPlanes(10)(x, np.array([2, 0, 9])).numpy()
    assert planes.shape == (3, 28, 28, 10)
    np.testing.assert_array_equal(planes[:, 5, 7], np.eye(10)[[2, 0, 9]])
    np.testing.assert_array_equal(planes.sum(-1), 1)


@pytest.mark.parametrize("head", conditional.HEADS)
def test_the_label_changes_the_outputs_and_its_effect_depends_on_the_image(head):
    g = conditional.build_conditional_generator(LATENT, 4)
    z = noise(4)
    a, b = conditional.generate(g, z, [1, 1, 1, 1]), conditional.generate(g, z, [7, 7, 7, 7])
    assert np.abs(a - b).max() > 1e-4       # same noise, another label: another image
    d = conditional.build_conditional_discriminator(4, head=head)
    if head == "projection":                # larger class rows than the initial ±0.05, to see them
        d.get_layer("class_embedding").set_weights([np.random.default_rng(1).normal(size=(10, 392))])
    x = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    shift = d([x, np.full(8, 7)]).numpy() - d([x, np.full(8, 1)]).numpy()
    assert np.ptp(shift) > 1e-4             # not one constant offset: D judges the pair (x, y)
    with pytest.raises(exercises.ExerciseFailed, match="library's own discriminator"):
        exercises.check_concat_discriminator(                # Exercise 2 cannot be solved by the library
            lambda w: conditional.build_conditional_discriminator(w, head=head))


def test_a_train_step_updates_both_networks_and_fakes_take_the_real_labels(small_images):
    gan = small_gan(run_eagerly=True, share_fakes=False)
    seen = []
    fakes = gan.fakes
    gan.fakes = lambda n, cond, training=True: (seen.append(np.asarray(cond)), fakes(n, cond))[1]
    labels = np.arange(len(small_images)) % 10
    ds = data.resumable_dataset(small_images, 32, seed=0, labels=labels)
    before = [v.numpy().copy() for v in (gan.generator.trainable_variables[0],
                                         gan.discriminator.trainable_variables[0])]
    history = gan.fit(ds, epochs=1, steps_per_epoch=2, verbose=0)
    assert all(np.isfinite(v).all() for v in history.history.values())
    after = [gan.generator.trainable_variables[0].numpy(), gan.discriminator.trainable_variables[0].numpy()]
    assert all(np.abs(a - b).max() > 0 for a, b in zip(after, before))
    first_batch = next(iter(data.resumable_dataset(small_images, 32, seed=0, labels=labels)))[1].numpy()
    assert len(seen) == 4 and np.array_equal(seen[0], first_batch)   # D's fakes and G's fakes, 2 steps
    assert np.array_equal(seen[0], seen[1]) and not np.array_equal(seen[0], seen[2])


def test_graph_mode_step_with_shared_fakes_and_a_gradient_penalty_runs(small_images):
    gan = small_gan(gp_weight=1.0)
    ds = data.resumable_dataset(small_images, 32, seed=0, labels=np.arange(len(small_images)) % 10)
    history = gan.fit(ds, epochs=1, steps_per_epoch=2, verbose=0)
    assert all(np.isfinite(v).all() for v in history.history.values())
    gan.ema.calibrate(gan.calibration_inputs(training.noise(64, gan.latent_dim, 0)))
    assert gan.generate(20, seed=0).shape == (20, 28, 28, 1)


def test_images_without_labels_and_unconditional_networks_are_refused(small_images):
    gan = small_gan()
    with pytest.raises(ValueError, match=r"\(images, labels\) batches"):
        gan.fit(data.resumable_dataset(small_images, 32), epochs=1, steps_per_epoch=1, verbose=0)
    from gan_helpers import models

    with pytest.raises(ValueError, match="takes two inputs"):
        conditional.ConditionalGAN(models.build_generator(LATENT, 4), gan.discriminator)


def test_saved_generator_takes_z_and_labels(tmp_path):
    gan = small_gan()
    path = export.save_generator(gan.sampler, tmp_path / "generator.keras")
    loaded = keras.models.load_model(path)
    z, y = noise(6), np.array([0, 1, 2, 7, 8, 9])
    np.testing.assert_allclose(conditional.generate(loaded, z, y),
                               conditional.generate(gan.sampler, z, y), atol=1e-6)
    np.testing.assert_allclose(loaded([z, y], training=False).numpy(),
                               gan.sampler([z, y], training=False).numpy(), atol=1e-6)
    assert [tuple(t.shape) for t in loaded.inputs] == [(None, LATENT), (None,)]


@pytest.mark.parametrize("labels,message", [
    ([0, 1, 10], r"must be in 0–9, got values from 0 to 10"),
    ([-1, 0, 1], r"must be in 0–9, got values from -1 to 1"),
    ([0.0, 1.0, 2.0], r"must be integers 0–9 \(class indices\), got dtype float64"),
    (np.eye(10, dtype=int)[:3], r"got shape \(3, 10\); one-hot rows\? use labels.argmax"),
    ([True, False, True], "must be integers"),
    ([1, 2], "there are 2 labels for 3 noise vectors"),
])
def test_bad_labels_get_a_clear_value_error(labels, message):
    g = conditional.build_conditional_generator(LATENT, 4)
    with pytest.raises(ValueError, match=message):
        conditional.generate(g, noise(3), labels)
    gan = small_gan()
    if len(np.asarray(labels)) == 3:
        with pytest.raises(ValueError, match=message):
            gan.generate(3, labels=labels)


def test_class_grid_has_one_row_per_class_and_one_column_per_noise_vector():
    z = noise(3)
    zz, yy = conditional.class_grid_inputs(z)
    assert zz.shape == (30, LATENT) and list(yy[:6]) == [0, 0, 0, 1, 1, 1]
    np.testing.assert_array_equal(zz[3:6], z)
    assert exercises.check_class_grid_inputs(conditional.class_grid_inputs)
    g = conditional.build_conditional_generator(LATENT, 4)
    assert conditional.class_grid(g, z).shape == (10 * 30 + 2, 3 * 30 + 2)


def test_label_agreement_counts_per_class():
    class Net:   # reads every image as a 3
        def probs(self, images):
            return np.eye(10)[np.full(len(images), 3)]

    g = conditional.build_conditional_generator(LATENT, 4)
    agree = conditional.label_agreement(Net(), g, n=50, seed=0)
    assert agree["agreement"] == pytest.approx(0.1)
    assert agree["per_class"] == [0.0] * 3 + [1.0] + [0.0] * 6


def test_exercise_checks_catch_wrong_answers():
    def right(psi, phi, emb, y):
        return psi + np.sum(emb[y] * phi, axis=1)

    assert exercises.check_projection_logit(right)
    with pytest.raises(exercises.ExerciseFailed, match="unconditional term"):
        exercises.check_projection_logit(lambda psi, phi, emb, y: np.sum(emb[y] * phi, axis=1))
    with pytest.raises(exercises.ExerciseFailed, match="own label"):
        exercises.check_projection_logit(lambda psi, phi, emb, y: psi + phi @ emb.sum(0))

    def late_concat(width):   # the label joins after the last non-linearity: an offset per label only
        x, y = keras.Input((28, 28, 1)), keras.Input((), dtype="int32")
        h = keras.layers.Flatten()(keras.layers.Conv2D(width, 4, strides=2, activation="relu")(x))
        h = keras.layers.Concatenate()([h, keras.layers.Embedding(10, 4)(y)])
        return keras.Model([x, y], keras.layers.Dense(1)(h))

    with pytest.raises(exercises.ExerciseFailed, match="same amount"):
        exercises.check_concat_discriminator(late_concat)
    def label_blind(width):   # takes the label but never uses it
        x, y = keras.Input((28, 28, 1)), keras.Input((), dtype="int32")
        return keras.Model([x, y], keras.layers.Dense(1)(keras.layers.Flatten()(x)))

    with pytest.raises(exercises.ExerciseFailed, match="does not change the logits"):
        exercises.check_concat_discriminator(label_blind)

    def own_concat(width, planes=True):   # Exercise 2's answer: the label planes join the image at the input
        x, y = keras.Input((28, 28, 1)), keras.Input((), dtype="int32")
        extra = layers.LabelPlanes(10)(x, y) if planes else keras.layers.Lambda(
            lambda a: keras.ops.repeat(a, 10, axis=-1))(x)
        h = keras.layers.Concatenate()([x, extra])
        h = keras.layers.Conv2D(width, 4, strides=2, activation="relu")(h)
        h = keras.layers.Flatten()(h)
        if not planes:        # the label enters the same non-linearity, but not as one-hot planes
            h = keras.layers.Concatenate()([h, keras.layers.Embedding(10, 4)(y)])
            h = keras.layers.Dense(8, activation="relu")(h)
        return keras.Model([x, y], keras.layers.Dense(1)(h))

    assert exercises.check_concat_discriminator(own_concat)
    with pytest.raises(exercises.ExerciseFailed, match="no LabelPlanes layer"):
        exercises.check_concat_discriminator(lambda w: own_concat(w, planes=False))
    with pytest.raises(exercises.ExerciseFailed, match="one class per column"):
        exercises.check_class_grid_inputs(lambda z, k: (np.tile(z, (k, 1)), np.tile(np.arange(k), len(z))))


def test_cli_refuses_an_unknown_model(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--model", "gan9000"])
    assert exc.value.code == 2
    assert "invalid choice: 'gan9000'" in capsys.readouterr().err and "cgan" in jobs.MODELS


def test_class_grid_gif_frames_carry_their_epoch(tmp_path):
    grid = np.full((20, 60), 128, np.uint8)
    frame = conditional.captioned(grid, "epoch 4")
    assert frame.shape == (32, 60) and (frame[12:] == grid).all()
    assert frame[:12].min() < 64 and frame[:12].max() == 255     # dark text on the white strip
    assert not np.array_equal(frame[:12], conditional.captioned(grid, "epoch 8")[:12])
    with pytest.raises(ValueError, match="2-D uint8"):
        conditional.captioned(grid.astype("float32"), "epoch 4")
    callback = conditional.ClassGrid(noise(2), gif_path=tmp_path / "p.gif")
    callback.frames, callback.epochs = [grid, grid], [0, 3]      # as grabbed before and after training
    callback.on_train_end()
    with Image.open(tmp_path / "p.gif") as gif:
        assert gif.n_frames == 2 and gif.size == (2 * 60, 2 * 32)
        first = np.asarray(gif.convert("L"))
        gif.seek(1)
        assert not np.array_equal(first[:24], np.asarray(gif.convert("L"))[:24])   # "epoch 0" ≠ "epoch 3"
