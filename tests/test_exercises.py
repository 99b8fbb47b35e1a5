import keras
import pytest
from keras import layers, ops

from gan_helpers import exercises, losses, models


def test_the_package_losses_pass_their_checks():
    assert exercises.check_generator_loss(losses.generator_loss_nonsaturating)
    assert exercises.check_discriminator_loss(losses.discriminator_loss)


@pytest.mark.parametrize("wrong,message", [
    (losses.generator_loss_minimax, "did you use log\\(1 − D\\)"),
    (lambda l: -losses.generator_loss_nonsaturating(l), "sign is flipped"),
    (losses.naive_generator_loss_nonsaturating, "stable form"),
])
def test_generator_loss_mistakes_get_plain_words(wrong, message):
    with pytest.raises(exercises.ExerciseFailed, match=message):
        exercises.check_generator_loss(wrong)


def test_discriminator_loss_mistakes_get_plain_words():
    with pytest.raises(exercises.ExerciseFailed, match="labels are swapped"):
        exercises.check_discriminator_loss(lambda r, f: losses.discriminator_loss(f, r))
    with pytest.raises(exercises.ExerciseFailed, match="sign is flipped"):
        exercises.check_discriminator_loss(lambda r, f: -losses.discriminator_loss(r, f))
    with pytest.raises(exercises.ExerciseFailed, match="softplus form"):
        exercises.check_discriminator_loss(losses.naive_discriminator_loss)


def test_generator_check():
    assert exercises.check_generator(lambda n: models.build_generator(n, 4))

    def no_tanh(n):
        return keras.Sequential([keras.Input((n,)), layers.Dense(784), layers.Reshape((28, 28, 1))])

    with pytest.raises(exercises.ExerciseFailed, match="tanh"):
        exercises.check_generator(no_tanh)

    def wrong_size(n):
        return keras.Sequential([keras.Input((n,)), layers.Dense(14 * 14),
                                 layers.Reshape((14, 14, 1)), layers.Activation("tanh")])

    with pytest.raises(exercises.ExerciseFailed, match=r"expected \(8, 28, 28, 1\)"):
        exercises.check_generator(wrong_size)
    with pytest.raises(exercises.ExerciseFailed, match="not a keras.Model"):
        exercises.check_generator(lambda n: ops.zeros((1,)))
