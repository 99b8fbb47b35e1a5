"""Training that survives (issue 15): SIGKILL at five moments of a CLI run, NaN stopped with its cause,
bad input answered in one line with nothing on disk changed, and the same seed giving the same bytes.

The subprocess runs are tiny (width 4, 1,280 images, batch 128: 10 steps per epoch) and shared
through module fixtures: one uninterrupted run, a second fresh one, the kill chain and a NaN run."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gan_helpers import checkpoint, cli, divergence, export, faults, recipes, training

EPOCHS, STEPS = 4, 10
ARGS = ["--fast", "--source", "bundled", "--width", "4", "--latent-dim", "8", "--d-width", "8",
        "--batch-size", "128", "--quiet"]
TIMINGS = {"wall_time_s", "wall_time_parts_s", "images_per_second", "cluster_seconds"}


def command(out: Path, epochs: int = EPOCHS) -> list[str]:
    return [sys.executable, "-m", "gan_helpers", "train", *ARGS, "--epochs", str(epochs), "--out", str(out)]


def environment(**extra: str) -> dict:
    """The test's environment as a user's: no test hook, and TensorFlow's log level not set (conftest
    sets one), so that the CLI filters TensorFlow's start-up lines as it does for a user."""
    drop = (faults.PAUSE_ENV, faults.NAN_ENV, "TF_CPP_MIN_LOG_LEVEL")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def run_to_end(out: Path, epochs: int = EPOCHS, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(out, epochs), capture_output=True, text=True, timeout=600,
                          env=environment(**extra_env))


def run_and_kill(out: Path, pause: str, log: Path) -> str:
    """Start the command with the test hook ``pause``, SIGKILL it once it stops there; its output."""
    marker = out / "checkpoint.paused"
    marker.unlink(missing_ok=True)                            # the previous kill's, if any
    with open(log, "w") as f:
        proc = subprocess.Popen(command(out), stdout=f, stderr=subprocess.STDOUT,
                                env=environment(**{faults.PAUSE_ENV: pause}))
        deadline = time.time() + 300
        while not marker.exists():
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"the run never reached {pause}:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return log.read_text()


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with the sha256 of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def weights_of(out: Path) -> list[np.ndarray]:
    return export.load_generator(out / "generator.keras").get_weights()


def state_of(ckpt: Path) -> dict[str, np.ndarray]:
    with np.load(ckpt / "state.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """An uninterrupted run: the reference for everything else."""
    out = tmp_path_factory.mktemp("straight") / "run"
    proc = run_to_end(out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


# ----------------------------------------------------------------------------- SIGKILL at five moments
# (test hook, epoch of the checkpoint the next start resumes from, the line that start prints)
MOMENTS = [
    ("write:1", 0, "deleted the half-written checkpoint.tmp"),   # half of state.npz written, none before
    ("swap:1", 1, "used the complete checkpoint.tmp"),           # old moved aside, new not yet in place
    ("clean:2", 2, "deleted the superseded checkpoint.old"),     # new in place, old not yet deleted
    ("step:25", 2, None),                                        # mid-epoch 3: epoch 3's steps are redone
    ("outputs", EPOCHS, None),                                   # trained, no picture written yet
]


def check_recoverable(out: Path) -> int:
    """What a kill left is never unreadable: a ``checkpoint`` folder in place is always complete, and
    after the repair the next start does (on a copy) it loads, with history and frames to its epoch."""
    ckpt = out / "checkpoint"
    if ckpt.exists():
        assert checkpoint._complete(ckpt), "a half-written checkpoint was in place"
    copy = out.with_name(out.name + "_copy")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(out, copy)
    checkpoint.recover(copy / "checkpoint")
    if not (copy / "checkpoint").exists():
        return 0
    epoch = checkpoint.read_meta(copy / "checkpoint")["epoch"]
    assert all(np.isfinite(a).all() for a in state_of(copy / "checkpoint").values())
    history = json.loads((copy / "checkpoint" / "history.json").read_text())
    assert {len(v) for v in history.values()} == {epoch * STEPS}
    assert len(np.load(copy / "checkpoint" / "frames.npy")) == epoch + 1
    assert not (copy / "checkpoint.tmp").exists() and not (copy / "checkpoint.old").exists()
    shutil.rmtree(copy)
    return epoch


def test_sigkill_at_five_moments_loses_only_the_work_since_the_last_checkpoint(straight, tmp_path):
    out = tmp_path / "run"
    previous = None          # (epoch resumed from, repair line) that the next start must print
    for pause, resumes_from, repair in MOMENTS:
        log = run_and_kill(out, pause, tmp_path / f"{pause.replace(':', '_')}.log")
        if previous:
            epoch, line = previous
            if epoch:
                assert f"Resuming from the checkpoint after epoch {epoch} " in log, log[-2000:]
            if line:
                assert line in log, log[-2000:]
        assert check_recoverable(out) == resumes_from, pause
        previous = (resumes_from, repair)
    final = run_to_end(out)
    assert final.returncode == 0, final.stderr[-3000:]
    assert f"Resuming from the checkpoint after epoch {EPOCHS} " in final.stdout
    assert not list(tmp_path.glob("run/checkpoint.*")), "a .tmp, .old or .paused was left behind"

    # the epoch count, a continuous loss history, one GIF frame per epoch (and the one before training)
    m, s = (json.loads((o / "metrics.json").read_text()) for o in (out, straight))
    assert m["epochs"] == EPOCHS and m["steps"] == EPOCHS * STEPS
    history = json.loads((out / "checkpoint" / "history.json").read_text())
    assert history == json.loads((straight / "checkpoint" / "history.json").read_text())
    assert {len(v) for v in history.values()} == {EPOCHS * STEPS}
    from PIL import Image

    with Image.open(out / "progress.gif") as gif:
        assert gif.n_frames == EPOCHS + 1
    # same seed on a CPU: the killed-and-resumed run is the uninterrupted run, bit for bit
    for a, b in zip(weights_of(out), weights_of(straight)):
        np.testing.assert_array_equal(a, b)
    resumed, whole = state_of(out / "checkpoint"), state_of(straight / "checkpoint")
    assert resumed.keys() == whole.keys()
    for key in whole:
        np.testing.assert_array_equal(resumed[key], whole[key], err_msg=key)
    for name in ("samples.png", "progress.gif"):
        assert (out / name).read_bytes() == (straight / name).read_bytes(), name
    assert {k: v for k, v in m.items() if k not in TIMINGS | {"resumed_from_epoch"}} == \
        {k: v for k, v in s.items() if k not in TIMINGS | {"resumed_from_epoch"}}
    # wall time: the parts kept by checkpoints (swap:1's run, clean:2's, outputs' run), and their sum
    assert len(m["wall_time_parts_s"]) == 3 and all(t > 0 for t in m["wall_time_parts_s"])
    assert m["wall_time_s"] == pytest.approx(sum(m["wall_time_parts_s"]), abs=0.02)
    assert len(s["wall_time_parts_s"]) == 1 and s["wall_time_s"] == s["wall_time_parts_s"][0]


# ----------------------------------------------------------------------------- .tmp and .old left by a kill
@pytest.fixture
def gan():
    from gan_helpers import config, models

    config.set_seed(0)
    g = training.GAN(models.build_generator(8, 4), models.build_discriminator(4), seed=0)
    g.compile(*training.make_optimizers())
    return g


def test_a_complete_tmp_is_used_and_a_half_written_one_deleted(gan, tmp_path):
    ckpt = tmp_path / "checkpoint"
    gan.save_state(ckpt, 1)
    gan.save_state(tmp_path / "newer", 2)
    (tmp_path / "newer").rename(tmp_path / "checkpoint.tmp")   # complete, not yet swapped in
    assert "used the complete checkpoint.tmp" in checkpoint.recover(ckpt)
    assert checkpoint.read_meta(ckpt)["epoch"] == 2 and os.listdir(tmp_path) == ["checkpoint"]

    gan.save_state(tmp_path / "half", 3)
    raw = (tmp_path / "half" / "state.npz").read_bytes()
    (tmp_path / "half" / "state.npz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "half").rename(tmp_path / "checkpoint.tmp")     # meta.json there, state.npz cut short
    assert "deleted the half-written checkpoint.tmp" in checkpoint.recover(ckpt)
    assert checkpoint.read_meta(ckpt)["epoch"] == 2 and os.listdir(tmp_path) == ["checkpoint"]
    assert checkpoint.recover(ckpt) is None


def test_an_old_checkpoint_is_restored_when_none_is_in_place_and_deleted_otherwise(gan, tmp_path):
    ckpt = tmp_path / "checkpoint"
    gan.save_state(ckpt, 1)
    ckpt.rename(tmp_path / "checkpoint.old")                   # killed after the first rename
    assert "restored checkpoint.old" in checkpoint.recover(ckpt)
    assert checkpoint.read_meta(ckpt)["epoch"] == 1 and os.listdir(tmp_path) == ["checkpoint"]
    shutil.copytree(ckpt, tmp_path / "checkpoint.old")
    gan.save_state(ckpt, 2)                                    # save_state removes a stale .old too
    shutil.copytree(ckpt, tmp_path / "checkpoint.old")
    assert "deleted the superseded checkpoint.old" in checkpoint.recover(ckpt)
    assert checkpoint.read_meta(ckpt)["epoch"] == 2 and os.listdir(tmp_path) == ["checkpoint"]


# ----------------------------------------------------------------------------- NaN and divergence
def test_nan_stops_at_that_step_names_the_cause_and_keeps_checkpoint_and_outputs(straight, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(straight, out)
    before = snapshot(out)
    bad_step = EPOCHS * STEPS + 5                              # epoch 5, step 5, after resuming
    proc = run_to_end(out, EPOCHS + 2, **{faults.NAN_ENV: str(bad_step)})
    assert proc.returncode == 3, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert re.search(rf"[dg]_loss became (nan|inf|-inf) at step {bad_step} \(epoch {EPOCHS + 1}, step 5 "
                     rf"of {STEPS}\)", lines[0]), lines[0]
    assert "Likely cause: the learning rate (0.002)" in lines[0] and "from_logits" in lines[0]
    assert "loss scale" in lines[0] and f"checkpoint after epoch {EPOCHS}" in lines[0]
    assert snapshot(out) == before                               # nothing written, nothing touched
    from PIL import Image

    for name in ("samples.png", "progress.gif", "losses.png"):
        with Image.open(out / name) as im:
            im.load()
    json.loads((out / "metrics.json").read_text())
    assert export.load_generator(out / "generator.keras") is not None
    assert checkpoint.read_meta(out / "checkpoint")["epoch"] == EPOCHS


def test_nan_guard_raises_at_the_first_bad_step_in_python(gan, small_images):
    import tensorflow as tf

    x = small_images[:96].copy()
    x[64:] = np.inf                                            # the third batch of 32
    ds = tf.data.Dataset.from_tensor_slices(x).batch(32)
    with pytest.raises(divergence.TrainingDiverged) as info:
        gan.fit(ds, epochs=2, verbose=0, callbacks=[divergence.NaNGuard()])
    assert info.value.step == 3 and info.value.loss == "d_loss" and not np.isfinite(info.value.value)
    assert "d_loss became nan at step 3. Likely cause: the learning rate (0.0002)" in str(info.value)


def test_divergence_cause_puts_the_likely_one_first():
    assert divergence.divergence_cause(1e6).startswith("the learning rate (1e+06) may be too high")
    assert divergence.divergence_cause(2e-4, mixed_precision=True).startswith("under mixed precision the "
                                                                               "loss scale")
    assert divergence.divergence_cause(2e-4, custom_loss=True).startswith("a loss given probabilities")
    assert divergence.divergence_cause(2e-4).startswith("the learning rate")


def test_checkpoint_callback_skips_an_epoch_with_non_finite_losses(gan, tmp_path):
    from gan_helpers import callbacks

    ckpt = callbacks.GANCheckpoint(tmp_path / "ckpt")
    ckpt.set_model(gan)
    ckpt.on_epoch_end(0, {"d_loss": 0.7, "g_loss": 0.8})
    ckpt.on_epoch_end(1, {"d_loss": float("nan"), "g_loss": 0.8})
    assert checkpoint.read_meta(tmp_path / "ckpt")["epoch"] == 1 and ckpt.last_epoch == 1


# ----------------------------------------------------------------------------- reproducibility
def test_same_seed_gives_identical_samples_and_metrics_in_two_fresh_processes(straight, tmp_path):
    again = tmp_path / "again"
    proc = run_to_end(again)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (again / "samples.png").read_bytes() == (straight / "samples.png").read_bytes()
    a, b = (json.loads((o / "metrics.json").read_text()) for o in (again, straight))
    assert {k: v for k, v in a.items() if k not in TIMINGS} == \
        {k: v for k, v in b.items() if k not in TIMINGS}
    assert "quality" in a and a["final_epoch_means"]["g_loss"] == b["final_epoch_means"]["g_loss"]


def test_verbose_brings_tensorflow_start_up_lines_back(tmp_path):
    import platform

    from gan_helpers import _quiet

    if platform.system() != "Linux" or platform.machine() != "x86_64":
        pytest.skip("the oneDNN notice this looks for is printed on x86-64 Linux")
    env = environment()
    argv = [sys.executable, "-m", "gan_helpers", "train", "--fast", "--source", "bundled",
            "--batch-size", "5000", "--out", str(tmp_path / "run")]   # fails after TensorFlow starts
    loud = subprocess.run([*argv, "--verbose"], capture_output=True, text=True, timeout=300, env=env)
    assert loud.returncode == 2 and _quiet.HARMLESS.search(loud.stderr), loud.stderr
    assert loud.stderr.strip().splitlines()[-1] == \
        "error: --batch-size 5000 is larger than the 1280 training images."
    assert not (tmp_path / "run").exists()
    # without --verbose the same lines are hidden: the NaN test above sees one line on stderr


# ----------------------------------------------------------------------------- bad input: one table
def _gan_images(**change):
    x = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    return {"images": x, **change}


def _dataset(images, batch_size=16):
    from gan_helpers import data

    return data.make_dataset(images, batch_size)


def _fit_32(_ws):
    from gan_helpers import config, models

    config.set_seed(0)
    gan = training.GAN(models.build_generator(8, 4), models.build_discriminator(4), seed=0)
    gan.compile(*training.make_optimizers())
    x = np.zeros((32, 32, 32, 1), "float32")
    import tensorflow as tf

    gan.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=1, verbose=0)


def _mismatched_networks(_ws):
    from gan_helpers import models

    training.GAN(models.build_mlp_generator(2), models.build_discriminator(4))


def _labels_out_of_range(_ws):
    from gan_helpers import adversarial

    model = adversarial.build_classifier(width=4, dense=8)
    x = np.full((4, 28, 28, 1), 0.5, "float32")
    adversarial.fgsm(model, x, np.array([0, 3, 10, 9]), eps=0.1)


def _feature_net_nan(_ws):
    from gan_helpers import metrics

    net = metrics.FeatureNet(metrics.build_feature_net(width=4, feature_dim=8), 0.5, "bundled", 1, 0.0)
    x = np.zeros((4, 28, 28, 1), "float32")
    x[1, 3, 3, 0] = np.nan
    net.features(x)


def _load(ws, name):
    from gan_helpers import config, models

    config.set_seed(0)
    gan = training.GAN(models.build_generator(8, 4), models.build_discriminator(4), seed=0)
    gan.compile(*training.make_optimizers())
    gan.load_state(ws / name)


PYTHON_CASES = [
    # (id, call on the workspace, exception, what the message must say)
    ("[-1, 1] images where 0..255 pixels are expected",
     lambda ws: __import__("gan_helpers.data").data.to_gan_range(_gan_images()["images"]),
     TypeError, r"expects uint8 pixels in 0\.\.255, got dtype float32; they look like images already "
                r"in \[-1, 1\]"),
    ("0..255 floats where [-1, 1] is expected", lambda ws: _dataset(_gan_images()["images"] * 127.5 + 127.5),
     ValueError, r"must be in \[-1, 1\].*look like 0\.\.255 pixels: use to_gan_range"),
    ("uint8 pixels where [-1, 1] floats are expected",
     lambda ws: _dataset(np.zeros((64, 28, 28, 1), np.uint8)), TypeError,
     r"uint8 pixels in 0\.\.255; .* gh\.data\.to_gan_range"),
    ("[-1, 1] floats where 0..255 floats are expected (the reverse)",
     lambda ws: __import__("gan_helpers.data").data.from_gan_range(np.full((2, 28, 28), 200.0)),
     ValueError, r"expects floats in \[-1, 1\], got values in \[200, 200\]"),
    ("28×28 without the channel axis", lambda ws: _dataset(_gan_images()["images"][..., 0]), ValueError,
     r"shape \(64, 28, 28\), without the channel axis.*images\[\.\.\., None\]"),
    ("32×32 images for a 28×28 generator", _fit_32, ValueError,
     r"images have shape \(32, 32, 1\) but the generator makes \(28, 28, 1\)"),
    ("NaN pixels", lambda ws: _dataset(np.where(np.arange(64)[:, None, None, None] == 5, np.nan,
                                                 _gan_images()["images"])),
     ValueError, r"hold 784 NaN or inf pixel values"),
    ("an empty array", lambda ws: _dataset(np.zeros((0, 28, 28, 1), "float32")), ValueError,
     r"is empty \(shape \(0, 28, 28, 1\)\)"),
    ("a generator whose output does not fit the discriminator", _mismatched_networks, ValueError,
     r"generator makes images of shape \(2,\) but the discriminator takes \(28, 28, 1\)"),
    ("labels out of range", _labels_out_of_range, ValueError,
     r"labels in \[0, 10\], but the model has 10 classes: labels must be whole numbers from 0 to 9"),
    ("a batch larger than the data", lambda ws: _dataset(_gan_images()["images"], batch_size=65), ValueError,
     r"batch_size=65 must be between 1 and the 64 images available"),
    ("an unknown loss name", lambda ws: __import__("gan_helpers.losses").losses.get_generator_loss("lsgan"),
     ValueError, r"generator loss 'lsgan' is not known; choose one of nonsaturating, minimax, "
                 r"wasserstein, hinge"),
    ("an unknown toy data set name", lambda ws: __import__("gan_helpers.toy").toy.toy_dataset("circle"),
     ValueError, r"toy dataset 'circle' is not known"),
    ("an unknown recipe setting", lambda ws: recipes.DCGANRecipe().replace(widht=8), ValueError,
     r"unknown recipe settings \['widht'\]; known: latent_dim"),
    ("NaN images handed to the feature net", _feature_net_nan, ValueError, r"images contain NaN or inf"),
    ("a checkpoint that is empty", lambda ws: _load(ws, "empty"), FileNotFoundError,
     r"is not a complete checkpoint \(missing state\.npz, meta\.json\)"),
    ("a truncated state.npz", lambda ws: _load(ws, "truncated"), ValueError,
     r"state\.npz is damaged \(BadZipFile: .*--restart"),
    ("a checkpoint of another model size", lambda ws: _load(ws, "wider"), ValueError,
     r"has shape .* was it made with another model size\?"),
    ("a checkpoint from another version", lambda ws: _load(ws, "future"), ValueError,
     r"another version of gan_helpers \(checkpoint format 99; this version reads format 1\)"),
]

CLI = ["train", "--fast", "--source", "bundled", "--width", "4", "--latent-dim", "8", "--d-width", "8",
       "--batch-size", "128", "--quiet"]
CLI_CASES = [
    # (id, arguments (WS is the workspace), what the one line must say)
    ("--out on a read-only folder", ["--out", "WS/readonly/run"], r"WS/readonly cannot be written "
                                                                 r"\(Permission denied\)"),
    ("--out inside a file", ["--out", "WS/notes.txt/run"], r"WS/notes\.txt is a file, so no folder"),
    ("--out that is a file", ["--out", "WS/notes.txt"], r"--out WS/notes\.txt is a file; give a folder"),
    ("a batch larger than the data", ["--batch-size", "5000", "--out", "WS/new"],
     r"--batch-size 5000 is larger than the 1280 training images"),
    ("an unknown loss", ["--loss", "lsgan", "--out", "WS/new"], r"argument --loss: invalid choice: 'lsgan'"),
    ("a loss that does not fit the model", ["--loss", "hinge", "--out", "WS/new"],
     r"--loss hinge does not fit --model dcgan .*--model dcgan takes --loss nonsaturating or minimax"),
    ("an unknown data set", ["--dataset", "cifar10", "--out", "WS/new"], r"invalid choice: 'cifar10'"),
    ("a checkpoint that is empty", ["--out", "WS/empty_run"], r"meta\.json is unreadable .*--restart"),
    ("a truncated state.npz", ["--out", "WS/truncated_run"], r"state\.npz is damaged \(BadZipFile"),
    ("a checkpoint of another model size", ["--out", "WS/wider_run"], r"was it made with another model size"),
    ("a checkpoint made with other settings", ["--width", "6", "--out", "WS/good_run"],
     r"other settings \(width: checkpoint 4, now 6\)"),
    ("a checkpoint from another version", ["--out", "WS/future_run"], r"another version of gan_helpers"),
    ("fewer epochs than the checkpoint has", ["--epochs", "1", "--out", "WS/good_run"],
     r"already at epoch 2, beyond --epochs 1; ask for at least 2 epochs, or --restart"),
    ("a learning rate out of range", ["--lr", "5", "--out", "WS/new"],
     r"must be a learning rate in \(0, 1\]"),
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """Checkpoints good and damaged, as the CLI's command above would find them, and a file."""
    from gan_helpers import config, models

    ws = tmp_path_factory.mktemp("workspace")
    spec = cli.parse([*CLI, "--out", str(ws / "good_run")])
    meta = {**spec.run_config(), "seed": spec.seed, "train_images": 1280, "steps_per_epoch": 10}
    gan = spec.recipe().replace(clusters=0).build(seed=spec.seed)   # the weights are never loaded
    gan.save_state(ws / "good_run" / "checkpoint", 2, meta, {"history": {"g_loss": [0.5] * 20}})
    config.set_seed(0)
    small = training.GAN(models.build_generator(8, 4), models.build_discriminator(4), seed=0)
    small.compile(*training.make_optimizers())
    wide = training.GAN(models.build_generator(8, 6), models.build_discriminator(4), seed=0)
    wide.compile(*training.make_optimizers())
    for name, model in (("truncated", small), ("wider", wide), ("future", small)):
        model.save_state(ws / name, 1)
    for name in ("empty_run", "truncated_run", "wider_run", "future_run"):
        shutil.copytree(ws / "good_run", ws / name)
    (ws / "empty").mkdir()
    shutil.rmtree(ws / "empty_run" / "checkpoint")
    (ws / "empty_run" / "checkpoint").mkdir()
    wide.save_state(ws / "wider_run" / "checkpoint", 2, meta)            # the settings say width 4
    for ckpt in (ws / "truncated", ws / "truncated_run" / "checkpoint"):
        raw = (ckpt / "state.npz").read_bytes()
        (ckpt / "state.npz").write_bytes(raw[: len(raw) // 3])
    for ckpt in (ws / "future", ws / "future_run" / "checkpoint"):
        m = json.loads((ckpt / "meta.json").read_text())
        (ckpt / "meta.json").write_text(json.dumps({**m, "format": 99}))
    (ws / "notes.txt").write_text("keep me")
    (ws / "readonly").mkdir()
    (ws / "readonly").chmod(0o555)
    return ws


@pytest.mark.parametrize("call,error,message", [c[1:] for c in PYTHON_CASES],
                         ids=[c[0] for c in PYTHON_CASES])
def test_bad_input_in_python_is_refused_with_what_is_allowed(workspace, call, error, message):
    before = snapshot(workspace)
    with pytest.raises(error, match=message):
        call(workspace)
    assert snapshot(workspace) == before


def _can_write(folder: Path) -> bool:
    try:
        (folder / "probe").write_text("")
    except OSError:
        return False
    (folder / "probe").unlink()
    return True


@pytest.mark.parametrize("argv,message", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_bad_input_on_the_command_line_gets_one_line_and_status_2(workspace, argv, message, capsys):
    if "readonly" in " ".join(argv) and _can_write(workspace / "readonly"):
        pytest.skip("this user writes into read-only folders (root); run as a normal user, or under "
                    "setpriv --inh-caps=-dac_override --bounding-set=-dac_override, to check this case")
    before = snapshot(workspace)
    argv = [a.replace("WS", str(workspace)) for a in argv]
    try:
        status = cli.main([*CLI, *argv])
    except SystemExit as exc:                                  # argparse's refusals
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert re.search(message.replace("WS", re.escape(str(workspace))), err), err
    assert snapshot(workspace) == before


def test_the_table_has_at_least_20_cases_and_every_listed_kind():
    ids = " | ".join(c[0] for c in PYTHON_CASES + CLI_CASES)
    assert len(PYTHON_CASES) + len(CLI_CASES) >= 20
    for kind in ("0..255", "[-1, 1] floats where 0..255", "without the channel", "32×32", "NaN pixels",
                 "empty array", "generator whose output", "labels out of range", "batch larger",
                 "unknown loss", "read-only", "is empty", "truncated", "another model size",
                 "another version"):
        assert kind in ids, kind


def test_a_damaged_feature_net_cache_is_rebuilt_with_one_line_and_never_trusted(tmp_path, monkeypatch,
                                                                                 capsys, bundled):
    from gan_helpers import data, metrics

    monkeypatch.setenv(metrics.CACHE_ENV, str(tmp_path))
    x, y = bundled
    digits = data.Digits(x[:300], y[:300], x[300:400], y[300:400], "mnist", "bundled")
    reference = metrics.load_feature_net(epochs=1, digits=digits).model.get_weights()
    weights, = tmp_path.glob("*.weights.h5")
    info = weights.with_name(weights.name.replace(".weights.h5", ".json"))
    good = weights.read_bytes()
    other = metrics.build_feature_net()                          # a valid file with other weights
    other.save_weights(tmp_path / "other.weights.h5")
    damages = {
        "truncated weights": lambda: weights.write_bytes(good[: len(good) // 2]),
        "garbled info": lambda: info.write_text("{not json"),
        "other weights under the recorded hash": lambda: weights.write_bytes(
            (tmp_path / "other.weights.h5").read_bytes()),
    }
    for name, damage in damages.items():
        damage()
        capsys.readouterr()
        net = metrics.load_feature_net(epochs=1, digits=digits)
        out = capsys.readouterr().out.strip().splitlines()
        assert sum("is damaged" in line for line in out) == 1, (name, out)
        assert "training the net again" in out[0], (name, out)
        for a, b in zip(net.model.get_weights(), reference):
            np.testing.assert_array_equal(a, b, err_msg=name)
        metrics.load_feature_net(epochs=1, digits=digits)          # the rebuilt cache is trusted again
        assert "feature net: loaded" in capsys.readouterr().out, name


def test_the_data_order_resumes_at_any_step_where_reshuffling_would_not():
    from gan_helpers import data

    x = np.arange(40, dtype="float32").reshape(40, 1, 1, 1) / 40     # image i holds i / 40
    ids = lambda batches: [tuple(np.rint(np.asarray(b).ravel() * 40).astype(int)) for b in batches]  # noqa: E731
    whole = ids(data.resumable_dataset(x, 8, seed=3).take(15))          # three passes of five batches
    for start in (1, 5, 7):
        assert ids(data.resumable_dataset(x, 8, seed=3, start_step=start).take(15 - start)) == whole[start:]
    for p in range(3):                                                  # each pass: every image once
        assert sorted(sum(whole[5 * p: 5 * p + 5], ())) == list(range(40))
    assert whole[:5] != whole[5:10] and whole != ids(data.resumable_dataset(x, 8, seed=4).take(15))
    # what the CLI used before: a new process's first pass is not the second pass it should resume at
    ds = data.make_dataset(x, 8, seed=3)
    first, second = ids(ds), ids(ds)
    assert ids(data.make_dataset(x, 8, seed=3)) == first != second
