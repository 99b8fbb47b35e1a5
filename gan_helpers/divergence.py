"""When a loss becomes NaN or infinite: stop at that step, name the loss and the likely cause, and
keep the last good checkpoint (the epoch never ends, so ``callbacks.GANCheckpoint`` never runs)."""

from __future__ import annotations

import math

import keras

from . import losses


class TrainingDiverged(FloatingPointError):
    """A loss became NaN or infinite; the message names the step, the loss and the likely cause."""

    def __init__(self, step: int, loss: str, value: float, cause: str):
        self.step, self.loss, self.value, self.cause = step, loss, value, cause
        super().__init__(f"{loss} became {value} at step {step}. Likely cause: {cause}")


def divergence_cause(lr: float, mixed_precision: bool = False, custom_loss: bool = False) -> str:
    """The likely reasons a GAN's loss became NaN or inf, most likely first, for the message."""
    causes = {
        "lr": f"the learning rate ({lr:g}) may be too high for this model; the recipe uses 2e-3, so try a "
              "tenth of yours",
        "logits": "a loss given probabilities where it expects logits (D must end without a sigmoid "
                  "and losses must use from_logits=True, as gan_helpers.losses does)",
        "scale": "under mixed precision the loss scale overflowed float16 (wrap both optimizers in "
                 "LossScaleOptimizer, as make_optimizers(mixed_precision=True) does)",
    }
    order = ["lr", "logits", "scale"]
    if mixed_precision:
        order = ["scale", "lr", "logits"]
    if custom_loss and lr <= 0.01:
        order.remove("logits")
        order.insert(0, "logits")
    first, *rest = order
    return f"{causes[first]}. Other possible causes: " + "; ".join(causes[k] for k in rest) + "."


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first step whose loss is NaN or infinite by raising ``TrainingDiverged``."""

    def __init__(self, keys: tuple[str, ...] = ("d_loss", "g_loss")):
        super().__init__()
        self.keys = keys
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for key in self.keys:
            if key in (logs or {}) and not math.isfinite(value := float(logs[key])):
                step = self.epoch * int(self.params.get("steps") or 0) + batch + 1
                raise TrainingDiverged(step, key, value, self.cause())

    def cause(self) -> str:
        """The likely cause, from the model's learning rate, loss scaling and losses."""
        opt = getattr(self.model, "g_optimizer", None)
        lr = float(keras.ops.convert_to_numpy(opt.learning_rate)) if opt is not None else float("nan")
        mixed = isinstance(opt, keras.optimizers.LossScaleOptimizer)
        custom = getattr(self.model, "g_loss_fn", None) not in losses.GENERATOR_LOSSES.values()
        return divergence_cause(lr, mixed, custom)
