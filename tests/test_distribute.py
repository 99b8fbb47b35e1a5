"""The GAN trainer under tf.distribute, on the CPU: 2 logical replicas against one device, 2 worker
processes on localhost, and the CLI's strategy errors.

Logical CPU devices can only be set up before TensorFlow starts, so the multi-device checks run in
fresh processes (``tests/replica_step.py`` and ``python -m gan_helpers train``), each with a timeout.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gan_helpers import cli, distribute, exercises

HERE = Path(__file__).resolve().parent
TOL = 1e-6  # float32 sums in another order; a missing 1/replicas moves weights by ~1e-2


def _replica_step(*flags: str) -> dict:
    proc = subprocess.run([sys.executable, str(HERE / "replica_step.py"), *flags], capture_output=True,
                          text=True, timeout=600, cwd=HERE.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


@pytest.fixture(scope="module")
def scaled():
    return _replica_step("--noise")


@pytest.fixture(scope="module")
def unscaled():
    return _replica_step("--no-scaling", "--only", "bce_sgd,gp_sgd,bce_adam")


@pytest.mark.parametrize("case", ["bce_sgd", "bce_adam", "gp_sgd", "syncbn_sgd"])
def test_two_replicas_take_the_same_step_as_one_device(scaled, case):
    r = scaled[case]
    assert r["replicas"] == 2
    assert r["moved"] > 100 * TOL          # the step really changed the weights
    assert r["weights"] < TOL, r           # G, D and the weight average, after one step
    for key, value in r["logs_one"].items():  # metrics: the global batch's, not one replica's
        assert r["logs_two"][key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


@pytest.mark.parametrize("case", ["bce_sgd", "gp_sgd", "bce_adam"])
def test_the_equality_fails_without_the_per_replica_scaling(unscaled, case):
    """The mutation: each replica's gradient of its own batch mean, summed, is 2× too large. SGD
    steps twice as far; even Adam, nearly blind to a constant gradient scale, moves measurably."""
    r = unscaled[case]
    assert r["replicas"] == 2 and r["weights"] > (10 if case == "bce_adam" else 100) * TOL, r


def test_per_replica_batch_norm_breaks_the_equality_and_sync_bn_restores_it(scaled):
    assert scaled["bn_sgd"]["weights"] > 100 * TOL      # statistics of 4 samples, not of 8
    assert scaled["syncbn_sgd"]["weights"] < TOL


def test_replicas_draw_different_noise_rows_of_the_one_device_draw(scaled):
    whole = np.array(scaled["noise"]["whole"])
    first, second = (np.array(p) for p in scaled["noise"]["parts"])
    assert not np.allclose(first, second)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=1e-6)


# ----------------------------------------------------------------------------- multi-worker
def _run_workers(out: Path, *extra: str, timeout: int = 540, status: int = 0,
                 only_worker_1: tuple[str, ...] = ()) -> list[subprocess.CompletedProcess]:
    """Two localhost workers of `train --fast --strategy multiworker`; each one's output in .stdout."""
    args = ["train", "--fast", "--source", "bundled", "--out", str(out), "--width", "8", "--d-width", "16",
            "--quiet", "--strategy", "multiworker", *extra]
    results = distribute.run_local_workers(args, timeout=timeout, log_dir=out.parent / f"{out.name}_logs",
                                           extra={1: only_worker_1})
    for r in results:
        assert r.returncode == status, r.stdout[-4000:]
    return results


def test_a_failing_worker_stops_the_other_instead_of_leaving_it_waiting(tmp_path):
    import time

    args = ["train", "--fast", "--source", "bundled", "--out", str(tmp_path / "run"), "--width", "4",
            "--quiet", "--strategy", "multiworker"]
    start = time.monotonic()
    runs = distribute.run_local_workers(args, timeout=300, grace=2, log_dir=tmp_path / "logs",
                                        extra={1: ["--no-such-option"]})
    assert runs[1].returncode == 2 and "--no-such-option" in runs[1].stdout, runs[1].stdout[-2000:]
    assert runs[0].returncode != 0, runs[0].stdout[-2000:]        # stopped: worker 1 never joined
    assert time.monotonic() - start < 120                          # long before the 300-s timeout
    assert (tmp_path / "logs" / "worker1.log").read_text() == runs[1].stdout


def _digest(stdout: str) -> str:
    match = re.search(r"Weights digest \(G, D, average\): (\w+)", stdout)
    assert match, stdout[-2000:]
    return match.group(1)


def test_two_workers_train_in_sync_only_the_chief_keeps_outputs_and_both_resume(tmp_path):
    out = tmp_path / "run"
    chief, worker = _run_workers(out, "--epochs", "1")   # the defaults: the main job, on 50 clusters
    assert "Self-conditioning on 50 k-means clusters" in chief.stdout
    for name in ("samples.png", "progress.gif", "losses.png", "generator.keras", "metrics.json"):
        assert (out / name).stat().st_size > 0, name
    m = json.loads((out / "metrics.json").read_text())
    assert m["strategy"] == "multiworker" and m["replicas"] == 2
    assert m["epochs"] == 1 and m["steps"] == 20 and "quality" in m
    assert "this is worker 1 (writes to a temporary folder)" in worker.stdout
    assert not list(out.glob(distribute.WORKER_TEMP_PREFIX + "*"))  # the worker's folder is gone
    assert _digest(chief.stdout) == _digest(worker.stdout)           # same weights on both

    chief, worker = _run_workers(out, "--epochs", "2")
    for r in (chief, worker):
        assert "Resuming from the checkpoint after epoch 1" in r.stdout
    assert _digest(chief.stdout) == _digest(worker.stdout)
    m = json.loads((out / "metrics.json").read_text())
    assert m["resumed_from_epoch"] == 1 and m["epochs"] == 2
    assert len(json.loads((out / "checkpoint" / "history.json").read_text())["g_loss"]) == 40
    assert not list(out.glob(distribute.WORKER_TEMP_PREFIX + "*"))

    # a worker that would start elsewhere (here: --restart on worker 1 only) stops both, in one line
    for r in _run_workers(out, "--epochs", "3", status=2, only_worker_1=("--restart",)):
        assert "the workers would start from different epochs (2, 0)" in r.stdout, r.stdout[-2000:]
        assert "Traceback" not in r.stdout
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 2   # nothing was overwritten


def test_two_workers_train_the_conditional_gan_in_sync(tmp_path):
    # labelled batches (x, y) across workers: Keras' first-batch reduce needs distribute's nest fix
    chief, worker = _run_workers(tmp_path / "cgan", "--model", "cgan", "--epochs", "1")
    assert "Training cgan" in chief.stdout
    assert _digest(chief.stdout) == _digest(worker.stdout)


# ----------------------------------------------------------------------------- CLI errors
def _cli(args, env_tf_config=None):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    if env_tf_config is not None:
        env["TF_CONFIG"] = env_tf_config
    return subprocess.run([sys.executable, "-m", "gan_helpers", "train", *args], capture_output=True,
                          text=True, timeout=300, env=env)


NESTED_REDUCE = """
import json, os
os.environ.pop("TF_CONFIG", None)
import tensorflow as tf
from gan_helpers import distribute
strategy = distribute._multiworker_class()()
def step():
    x = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group + 1, tf.float32)
    return {"images": tf.stack([x, 2 * x]), "labels": (3 * x, tf.reshape(x, (1, 1)))}
values, op = strategy.run(step), tf.distribute.ReduceOp.SUM
nested = strategy.reduce(op, values, axis=None)
leaves = tf.nest.map_structure(
    lambda v: tf.distribute.MultiWorkerMirroredStrategy.reduce(strategy, op, v, None), values)
tf.nest.assert_same_structure(nested, values)
print("RESULT", json.dumps([[v.numpy().tolist() for v in tf.nest.flatten(r)] for r in (nested, leaves)]))
"""


def test_nested_reduce_equals_the_reduce_of_each_leaf():
    # distribute's fix for keras-team/keras#20329, in a fresh process: one local worker, no training
    proc = subprocess.run([sys.executable, "-c", NESTED_REDUCE], capture_output=True, text=True, timeout=300,
                          cwd=HERE.parent, env={k: v for k, v in os.environ.items() if k != "TF_CONFIG"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))
    nested, leaves = json.loads(line[len("RESULT "):])
    assert nested == leaves == [[1.0, 2.0], 3.0, [[1.0]]]


@pytest.mark.parametrize("args,tf_config,message", [
    (["--strategy", "multiworker"], None, "--strategy multiworker needs TF_CONFIG"),
    (["--strategy", "multiworker"], "{not json", "TF_CONFIG is not valid JSON"),
    (["--strategy", "multiworker"], '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", '
     '"index": 3}}', "task index 3 is not among the 1 worker"),
    (["--cpu-replicas", "2", "--strategy", "one"], None, "--cpu-replicas 2 needs --strategy mirrored"),
    (["--cpu-replicas", "2", "--batch-size", "63"], None, "--batch-size 63 does not split evenly over 2"),
])
def test_wrong_strategy_combinations_give_one_line_and_status_2(tmp_path, args, tf_config, message):
    proc = _cli(["--fast", "--source", "bundled", "--out", str(tmp_path / "run"), *args], tf_config)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()  # nothing was started


@pytest.mark.parametrize("args,message", [
    (["--strategy", "two"], "invalid choice: 'two'"),
    (["--cpu-replicas", "0"], "must be a positive whole number, got 0"),
])
def test_bad_strategy_arguments_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", *args])
    assert exc.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("name,cpu_replicas,gpus,expected", [
    ("auto", None, 0, "one"), ("auto", None, 1, "one"), ("auto", None, 2, "mirrored"),
    ("auto", 2, 0, "mirrored"), ("mirrored", None, 0, "mirrored"), ("one", 1, 0, "one"),
])
def test_auto_means_mirrored_only_with_several_devices(name, cpu_replicas, gpus, expected):
    assert distribute.resolve(name, cpu_replicas, gpus) == expected


def test_chief_is_worker_0_unless_the_cluster_names_a_chief():
    def cfg(cluster, task_type, index):
        return {"cluster": cluster, "task": {"type": task_type, "index": index}}

    workers = {"worker": ["a:1", "b:1"]}
    assert distribute.is_chief(None)
    assert distribute.is_chief(cfg(workers, "worker", 0))
    assert not distribute.is_chief(cfg(workers, "worker", 1))
    with_chief = {"chief": ["c:1"], **workers}
    assert distribute.is_chief(cfg(with_chief, "chief", 0))
    assert not distribute.is_chief(cfg(with_chief, "worker", 0))
    out = Path("/tmp/run")
    assert distribute.write_dir(out, cfg(workers, "worker", 0)) == out
    assert distribute.write_dir(out, cfg(workers, "worker", 1)) == out / "workertemp_1"


def test_replica_loss_exercise_accepts_the_global_scaling_and_names_the_local_mean():
    from gan_helpers import exercises

    assert exercises.check_replica_loss(lambda losses, global_batch: np.sum(losses) / global_batch)
    with pytest.raises(exercises.ExerciseFailed, match="each replica divided by its own batch of 8"):
        exercises.check_replica_loss(lambda losses, global_batch: np.mean(losses))
    with pytest.raises(exercises.ExerciseFailed, match="divide the sum"):
        exercises.check_replica_loss(lambda losses, global_batch: np.sum(losses))


def test_replica_rows_exercise_refuses_shared_and_misplaced_rows():
    from gan_helpers import exercises

    assert exercises.check_replica_rows(lambda rows, r, n: rows[r * len(rows) // n:(r + 1) * len(rows) // n])
    with pytest.raises(exercises.ExerciseFailed, match="every replica got the same rows"):
        exercises.check_replica_rows(lambda rows, r, n: rows[:len(rows) // n])
    with pytest.raises(exercises.ExerciseFailed, match="in replica order"):
        exercises.check_replica_rows(lambda rows, r, n: rows[r::n])


def test_synced_moments_exercise_names_the_average_of_local_variances():
    from gan_helpers import exercises

    def right(parts):
        n = sum(len(p) for p in parts)
        mean = sum(p.sum(0) for p in parts) / n
        return mean, sum((p ** 2).sum(0) for p in parts) / n - mean ** 2

    assert exercises.check_synced_moments(right)
    with pytest.raises(exercises.ExerciseFailed, match="average of the replicas' own variances"):
        exercises.check_synced_moments(lambda parts: (right(parts)[0], np.mean([p.var(0) for p in parts], 0)))


def test_unscaled_step_exercise_names_what_each_optimizer_does():
    ex = exercises.nb09_distributed
    assert ex.check_unscaled_step({"adam": 1})
    assert ex.check_unscaled_step({"sgd": 4, "adam": 1})   # an SGD prediction, if given, is checked too
    with pytest.raises(exercises.ExerciseFailed, match="adam: you predicted 4"):
        ex.check_unscaled_step({"adam": 4})
    with pytest.raises(exercises.ExerciseFailed, match="sgd: you predicted 1"):
        ex.check_unscaled_step({"sgd": 1, "adam": 1})
    with pytest.raises(exercises.ExerciseFailed, match="write your answer first"):
        ex.check_unscaled_step({"adam": ...})
    with pytest.raises(exercises.ExerciseFailed, match="'adam'"):
        ex.check_unscaled_step({"sgd": 4})


def test_scale_out_plan_and_two_example_batch_norm_exercises():
    ex = exercises.nb09_distributed
    good = {"A": {"per_replica": 8, "steps": 2500, "noisier_bn": True},
            "B": {"per_replica": 64, "steps": 313, "noisier_bn": False}}
    assert ex.check_scale_out_plan(good)
    with pytest.raises(exercises.ExerciseFailed, match="plan B: the main job sees"):
        ex.check_scale_out_plan({**good, "B": {**good["B"], "steps": 2500}})
    assert ex.check_two_example_batch_norm((-1, 1))
    with pytest.raises(exercises.ExerciseFailed, match="batch norm outputs"):
        ex.check_two_example_batch_norm((0, 1))
