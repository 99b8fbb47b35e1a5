"""``python -m gan_helpers train``: parse the arguments once into a frozen ``run.RunSpec``, run it
(``run.train``), and report an error as one line with its exit status."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import config
from .data import DATASETS, SOURCES


def _number(kind: type, allowed, rule: str):
    """An argparse type: parse ``text`` as ``kind`` and refuse values outside ``allowed``, naming ``rule``."""
    noun = "whole number" if kind is int else "number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {noun}") from None
        if not allowed(value):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive whole number")
_seed = _number(int, lambda v: 0 <= v < 2**32, "between 0 and 2**32 - 1")
_unit_interval = _number(float, lambda v: 0.0 <= v < 1.0, "in [0, 1)")
_learning_rate = _number(float, lambda v: 0.0 < v <= 1.0, "a learning rate in (0, 1]")


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument gets one line (not the usage block) and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message} ({self.prog} --help lists what is allowed)\n")


def build_parser() -> argparse.ArgumentParser:
    from .jobs import GENERATOR_LOSSES, MAIN_JOB, MODELS
    from .recipes import DCGANRecipe

    r = DCGANRecipe()
    parser = _Parser(prog="python -m gan_helpers", description="Adversarial-learning tutorial helpers.")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a GAN (by default the main job: a self-conditioned GAN with "
                                     "DCGAN networks); write samples, GIF, losses and metrics",
                       description="Train the main job, a self-conditioned GAN with DCGAN networks (k-means "
                                   "clusters of the pixels): notebook 04, section 9 (--clusters 0: the plain "
                                   "DCGAN of its sections 2-8; --model cgan: the conditional GAN of "
                                   "notebook 06; wgan-gp or sngan: notebook 07's variants), and write "
                                   "samples.png, "
                                   "progress.gif, losses.png, generator.keras and metrics.json. "
                                   "Rerunning the same command resumes from the last epoch's "
                                   "checkpoint.")
    t.add_argument("--dataset", choices=DATASETS, default="mnist")
    t.add_argument("--source", choices=SOURCES, default="auto",
                   help="where MNIST comes from: auto (download, else the bundled sample), "
                        "keras, or bundled (default: auto)")
    t.add_argument("--steps", type=_positive_int, default=None,
                   help=f"Adam steps of the whole run, whatever the size of the data (default: the "
                        f"recipe's, {MAIN_JOB.steps} for the self-conditioned dcgan, {r.steps} otherwise)")
    t.add_argument("--epochs", type=_positive_int, default=None,
                   help="passes over the data, instead of --steps (default: as many as --steps needs)")
    t.add_argument("--batch-size", type=_positive_int, default=r.batch_size)
    t.add_argument("--latent-dim", type=_positive_int, default=r.latent_dim)
    t.add_argument("--width", type=_positive_int, default=r.g_width,
                   help=f"generator: filters of its last hidden layer (default {r.g_width})")
    t.add_argument("--d-width", type=_positive_int, default=r.d_width,
                   help=f"discriminator: filters of its first layer (default {r.d_width})")
    t.add_argument("--d-dropout", type=_unit_interval, default=r.d_dropout,
                   help=f"discriminator dropout rate in [0, 1) (default {r.d_dropout})")
    t.add_argument("--ema", type=_unit_interval, default=r.ema_decay or 0.0,
                   help=f"decay of the moving average of G's weights that the pictures come from; "
                        f"0 turns it off (default {r.ema_decay})")
    t.add_argument("--lr", type=_learning_rate, default=r.lr,
                   help=f"Adam learning rate of both networks (default {r.lr})")
    t.add_argument("--model", choices=tuple(MODELS), default="dcgan",
                   help="dcgan (DCGAN networks, notebook 04; self-conditioned unless --clusters 0); "
                        "cgan (label-conditioned, notebook 06: "
                        "generator.keras takes [z, labels], samples.png has one row per digit); "
                        "wgan-gp (Wasserstein critic with gradient penalty, 5 critic steps per generator "
                        "step) or sngan (spectrally normalised critic, hinge loss), notebook 07, with "
                        "their papers' optimizer settings (default: dcgan)")
    t.add_argument("--clusters", type=_number(int, lambda v: v >= 0, "0 or a positive whole number"),
                   default=None, metavar="K",
                   help="dcgan only: self-condition G and D on K k-means clusters of the training "
                        "images (no labels; generator.keras still takes z alone); 0 trains the plain "
                        "DCGAN (default: 50 for dcgan, the main job, notebook 04, section 9)")
    t.add_argument("--loss", choices=GENERATOR_LOSSES, default=None,
                   help="generator loss: " + "; ".join(f"{' or '.join(m.losses)} for {m.name}"
                                                       for m in MODELS.values())
                        + " (default: the model's own, the first named)")
    t.add_argument("--seed", type=_seed, default=config.DEFAULT_SEED)
    t.add_argument("--out", type=Path, default=None,
                   help="output folder (default: runs/<model>, with _ for -: runs/dcgan, runs/wgan_gp…)")
    t.add_argument("--fast", action="store_true",
                   help=f"tiny CI-sized run (same as {config.FAST_ENV}=1)")
    t.add_argument("--restart", action="store_true",
                   help="ignore an existing checkpoint in --out and start again")
    t.add_argument("--quiet", action="store_true", help="one line per epoch, no progress bar")
    t.add_argument("--strategy", choices=("auto", "one", "mirrored", "multiworker"), default="auto",
                   help="tf.distribute strategy: auto (mirrored when more than one GPU is visible, else "
                        "one device), one, mirrored (all GPUs, or the --cpu-replicas logical CPUs), "
                        "multiworker (several processes or machines described by TF_CONFIG; the first "
                        "worker writes the outputs) (default: auto)")
    t.add_argument("--cpu-replicas", type=_positive_int, default=None, metavar="N",
                   help="split the CPU into N logical devices and train on them with mirrored "
                        "(data parallelism on a laptop; no speed-up, the point is to try it)")
    t.add_argument("--deterministic", action="store_true",
                   help="make TensorFlow's ops deterministic (tf.config.experimental."
                        "enable_op_determinism): same bytes from the same seed on a GPU too, but slower")
    t.add_argument("--verbose", action="store_true",
                   help="show TensorFlow's start-up and log lines, which are hidden by default")
    return parser


def parse(argv: list[str] | None = None):
    """The ``train`` command line as a frozen ``run.RunSpec``, or ``run.RunError`` for settings that do
    not fit together (argparse itself exits with status 2 on a malformed one)."""
    from .run import RunSpec

    args = vars(build_parser().parse_args(argv))
    for not_a_setting in ("command", "verbose"):   # train is the only command
        args.pop(not_a_setting)
    return RunSpec.resolve(**args)


def main(argv: list[str] | None = None) -> int:
    from .run import RunError, report_error, train

    try:
        train(parse(argv))
    except RunError as exc:
        return report_error(exc)
    return 0


def entry() -> int:
    """``python -m gan_helpers`` and the ``gan-helpers`` command: TensorFlow's harmless start-up lines
    are hidden before it is imported, unless ``--verbose`` (or the user's own log level) asks for them."""
    from . import USER_SET_TF_LOG_LEVEL
    from ._quiet import hide_tensorflow_startup_lines

    if "--verbose" in sys.argv[1:]:
        if not USER_SET_TF_LOG_LEVEL:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        hide_tensorflow_startup_lines()
    return main()
