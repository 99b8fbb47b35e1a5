"""Data parallelism with ``tf.distribute``: pick a strategy, split the CPU into logical replicas,
and the per-replica pieces of the GAN step (loss scaling, metric reduction, per-replica noise).

Under a strategy each replica runs ``GAN.train_step`` on its share of the global batch and the
optimizers *sum* the replicas' gradients. A loss averaged over the local batch must therefore be
divided by the number of replicas, so that the sum is the gradient of the global-batch mean
(``tf.nn.compute_average_loss`` does the same for per-example losses). Notebook 09 explains it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

STRATEGIES = ("auto", "one", "mirrored", "multiworker")
WORKER_TEMP_PREFIX = "workertemp_"


def _tf():
    import tensorflow as tf

    return tf


# ----------------------------------------------------------------------------- inside the step
def num_replicas() -> int:
    """Replicas in sync under the current strategy (1 outside any strategy)."""
    return int(_tf().distribute.get_strategy().num_replicas_in_sync)


def scale_to_global_batch(loss):
    """A loss averaged over this replica's batch, divided by the number of replicas: the replicas'
    summed gradients are then those of the mean over the global batch. A no-op on one device."""
    n = num_replicas()
    return loss if n == 1 else loss / float(n)


def mean_over_replicas(*values):
    """The mean of each value over all replicas (an all-reduce), so that every replica reports the
    global-batch figure to its metrics; values unchanged on one device."""
    tf = _tf()
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return values
    return tuple(ctx.all_reduce(tf.distribute.ReduceOp.MEAN, list(values)))


def replica_rows(draw, local_batch):
    """Draw for the global batch, keep this replica's rows. ``draw(n)`` makes ``n`` random rows from
    the shared seed state; replica ``r`` takes rows ``r·b … (r + 1)·b − 1``, so replicas never share
    noise and the concatenation over replicas is exactly what one device draws for the whole batch."""
    tf = _tf()
    ctx = tf.distribute.get_replica_context()
    n = 1 if ctx is None else ctx.num_replicas_in_sync
    if n == 1:
        return draw(local_batch)
    rows = draw(local_batch * n)
    start = ctx.replica_id_in_sync_group * local_batch
    return rows[start:start + local_batch]


def logs_for_keras(logs: dict) -> dict:
    """``train_step``'s logs as Keras' ``fit`` can reduce them. With several workers, Keras 3 reduces
    each log with ``strategy.reduce("MEAN", v, axis=0)``, which fails on a scalar (tensorflow/tensorflow
    issue 72388), so there each value goes out as shape [1]; it comes back a scalar."""
    tf = _tf()
    strategy = tf.distribute.get_strategy()
    multi_worker = (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
                    and workers_in(strategy.cluster_resolver.cluster_spec()) > 1)
    return {k: tf.reshape(v, [1]) for k, v in logs.items()} if multi_worker else logs


def workers_in(cluster_spec) -> int:
    """The worker processes a ``tf.train.ClusterSpec`` names (chief included): more than one is when
    Keras reduces the logs across workers."""
    return sum(cluster_spec.num_tasks(job) for job in ("chief", "worker") if job in cluster_spec.jobs)


# ----------------------------------------------------------------------------- set-up
def build_optimizers(strategy, pairs) -> None:
    """Check that each optimizer of ``pairs`` ((optimizer, network), …) was made in ``strategy``'s
    scope, then create its moment variables now, in that scope: under ``tf.distribute`` they must be
    mirrored like the weights they follow, and cannot be created inside the distributed step."""
    for optimizer, network in pairs:
        inner = getattr(optimizer, "inner_optimizer", optimizer)  # a LossScaleOptimizer's Adam
        if not strategy.extended.variable_created_in_scope(inner.iterations.value):
            raise ValueError(f"the optimizer of the {network.name} was created outside the scope of the "
                             f"strategy the GAN was built in ({type(strategy).__name__}); create the "
                             "networks and both optimizers inside `with strategy.scope():`")
        if not optimizer.built:
            with strategy.scope():
                optimizer.build(network.trainable_variables)


def configure_cpu_replicas(n: int) -> None:
    """Split the (first) CPU into ``n`` logical devices so that ``MirroredStrategy`` has ``n``
    replicas on a laptop. It must run before TensorFlow starts its runtime (before the first op)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of CPU replicas must be a positive integer, got {n!r}")
    tf = _tf()
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == n:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError:
        have = len(tf.config.list_logical_devices("CPU"))
        raise RuntimeError(f"TensorFlow has already started with {have} CPU device(s), so it cannot "
                           f"be split into {n} now: configure the replicas first, in a fresh "
                           "process (restart the kernel in a notebook).") from None


def tf_config() -> dict | None:
    """``TF_CONFIG`` parsed and checked (cluster with workers, this task's type and index), or None
    when it is not set. A malformed one raises ``ValueError`` saying what is wrong."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        cfg = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"TF_CONFIG is not valid JSON ({exc})") from None
    cluster = cfg.get("cluster") if isinstance(cfg, dict) else None
    task = cfg.get("task") if isinstance(cfg, dict) else None
    if not isinstance(cluster, dict) or not cluster.get("worker") and not cluster.get("chief"):
        raise ValueError('TF_CONFIG needs "cluster" with a "worker" list of host:port addresses, e.g. '
                         '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                         '"task": {"type": "worker", "index": 0}}')
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise ValueError(f'TF_CONFIG needs "task": {{"type": …, "index": …}} with a type among the '
                         f"cluster's ({', '.join(cluster)}), got {task!r}")
    index = task.get("index", 0)
    if not isinstance(index, int) or not 0 <= index < len(cluster[task["type"]]):
        raise ValueError(f"TF_CONFIG task index {index!r} is not among the {len(cluster[task['type']])} "
                         f"{task['type']} address(es)")
    return cfg


def is_chief(cfg: dict | None) -> bool:
    """True for the task that writes the outputs: the "chief" task, or worker 0 when the cluster has
    no chief (TensorFlow's convention), or the only process when there is no ``TF_CONFIG``."""
    if cfg is None:
        return True
    task = cfg["task"]
    if task["type"] == "chief":
        return True
    return task["type"] == "worker" and task.get("index", 0) == 0 and "chief" not in cfg["cluster"]


def resolve(name: str, cpu_replicas: int | None = None, gpus: int = 0) -> str:
    """The strategy ``name`` stands for: ``auto`` is ``mirrored`` with more than one GPU (or with
    ``cpu_replicas`` > 1), else ``one``. Wrong combinations raise ``ValueError``."""
    if name not in STRATEGIES:
        raise ValueError(f"strategy {name!r} is not known; choose one of {', '.join(STRATEGIES)}")
    if name == "auto":
        name = "mirrored" if gpus > 1 or (cpu_replicas or 1) > 1 else "one"
    if cpu_replicas is not None and cpu_replicas > 1 and name != "mirrored":
        raise ValueError(f"--cpu-replicas {cpu_replicas} needs --strategy mirrored (or auto); "
                         f"{name} runs one replica per {'worker' if name == 'multiworker' else 'process'}")
    if name == "multiworker" and tf_config() is None:
        raise ValueError("--strategy multiworker needs TF_CONFIG describing the cluster, e.g. "
                         'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                         '"task": {"type": "worker", "index": 0}}\' on the first machine')
    return name


def make_strategy(name: str, cpu_replicas: int | None = None):
    """A ``tf.distribute`` strategy: ``one`` is TensorFlow's default (no distribution), ``mirrored``
    a ``MirroredStrategy`` over the GPUs (or over ``cpu_replicas`` logical CPUs when given),
    ``multiworker`` a ``MultiWorkerMirroredStrategy`` configured by ``TF_CONFIG``."""
    tf = _tf()
    name = resolve(name, cpu_replicas, len(tf.config.list_physical_devices("GPU")))
    if cpu_replicas is not None and cpu_replicas > 1:
        configure_cpu_replicas(cpu_replicas)
    if name == "one":
        return tf.distribute.get_strategy()
    if name == "multiworker":
        return _multiworker_class()()
    if cpu_replicas is not None and cpu_replicas > 1:
        return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])
    return tf.distribute.MirroredStrategy()


def _multiworker_class():
    """``MultiWorkerMirroredStrategy`` whose ``reduce`` also takes a nest of values, one leaf at a time.

    ``keras.Model.fit`` reduces the first batch to learn its shapes, and passes it whole: a labelled
    batch ``(images, labels)`` then fails across workers with "Attempt to convert a value (PerReplica
    ...)" (Keras 3.15; keras-team/keras#20329). Reducing each leaf is what ``reduce`` does for one
    value, so ``fit`` can build the model from a labelled first batch (the main job's clusters, the cGAN's
    classes)."""
    tf = _tf()

    class NestReducingMultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            if not tf.nest.is_nested(value):
                return super().reduce(reduce_op, value, axis)
            return tf.nest.map_structure(
                lambda v: super(NestReducingMultiWorkerStrategy, self).reduce(reduce_op, v, axis), value)

    return NestReducingMultiWorkerStrategy


def kind_of(strategy) -> str:
    """The CLI's name for a strategy object: ``one``, ``mirrored`` or ``multiworker``."""
    tf = _tf()
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "multiworker"
    return "mirrored" if isinstance(strategy, tf.distribute.MirroredStrategy) else "one"


def describe(strategy, cluster: dict | None, batch_size: int) -> str:
    """One line: the strategy, its replicas and how the global batch splits over them."""
    n = strategy.num_replicas_in_sync
    kind = kind_of(strategy)
    if kind == "one":
        return f"one device (batch {batch_size})"
    name = {"mirrored": "MirroredStrategy", "multiworker": "MultiWorkerMirroredStrategy"}[kind]
    where = ""
    if cluster:
        task = cluster["task"]
        where = (f"; this is {task['type']} {task.get('index', 0)} "
                 f"({'chief: writes the outputs' if is_chief(cluster) else 'writes to a temporary folder'})")
    return f"{name}, {n} replicas, global batch {batch_size} = {n} × {batch_size // n}{where}"


def for_workers(dataset, cluster: dict | None):
    """``dataset`` unchanged, or for several workers, sharded by element: in-memory data has no
    files to split, which TensorFlow's default (file) sharding would otherwise warn about."""
    if not cluster:
        return dataset
    tf = _tf()
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def values_on_replicas(strategy, value: int) -> list[int]:
    """``value`` as every replica (on every worker) has it, gathered with a collective: the workers
    use it to check that they agree before training (for example on the epoch they resume from)."""
    tf = _tf()

    @tf.function
    def gather():
        local = strategy.run(lambda: tf.reshape(tf.constant(value, tf.int64), [1]))
        return strategy.gather(local, axis=0)

    return [int(v) for v in gather().numpy()]


def check_batch(batch_size: int, replicas: int) -> None:
    """The global batch must split evenly over the replicas; ``ValueError`` otherwise."""
    if batch_size % replicas:
        lower = max(replicas, batch_size - batch_size % replicas)
        raise ValueError(f"--batch-size {batch_size} does not split evenly over {replicas} replicas; "
                         f"use a multiple of {replicas} (e.g. {lower}): each replica trains on "
                         "batch-size / replicas images")


# ----------------------------------------------------------------------------- outputs
def write_dir(out: Path, cfg: dict | None) -> Path:
    """Where this process writes: ``out`` for the chief; a temporary ``out/workertemp_<index>`` for
    the other workers (TensorFlow's multi-worker guide: every worker saves, only the chief keeps)."""
    if is_chief(cfg):
        return out
    return out / f"{WORKER_TEMP_PREFIX}{cfg['task'].get('index', 0)}"


def remove_worker_dir(path: Path, out: Path) -> None:
    """Delete a non-chief worker's temporary folder (never the chief's output folder)."""
    if Path(path) != Path(out) and Path(path).name.startswith(WORKER_TEMP_PREFIX):
        shutil.rmtree(path, ignore_errors=True)


def weights_digest(*models) -> str:
    """A short SHA-256 of the models' trainable weights: workers in sync print the same digest.
    Batch-norm moving statistics are left out: each replica keeps its own (notebook 09)."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for model in models:
        for w in model.trainable_variables:
            h.update(np.ascontiguousarray(np.asarray(w.numpy()), dtype=np.float32).tobytes())
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------- checks
def train_one_batch(strategy, make_gan, images, init: dict | None = None, steps: int = 1):
    """Build a GAN with ``make_gan()`` inside ``strategy``'s scope (networks *and* optimizers), set
    its networks to ``init`` (name → weights, from ``network_weights``), train ``steps`` steps on
    ``images`` as one global batch, and return (the GAN, the last step's logs).

    The same ``init``, seed and batch under two strategies must give the same weights: that is the
    test of the per-replica loss scaling (``scale_to_global_batch``)."""
    tf = _tf()
    with strategy.scope():
        gan = make_gan()
    for name, weights in (init or {}).items():
        _networks(gan)[name].set_weights(weights)
    ds = tf.data.Dataset.from_tensors(tf.constant(images, tf.float32)).repeat(steps)
    history = gan.fit(ds, epochs=1, verbose=0)
    return gan, {k: float(v[-1]) for k, v in history.history.items()}


def _networks(gan) -> dict:
    """The GAN's networks by name: generator, discriminator and, when kept, the weight average."""
    nets = {"generator": gan.generator, "discriminator": gan.discriminator}
    return nets | ({"average": gan.ema.model} if gan.ema is not None else {})


def network_weights(gan) -> dict:
    """The GAN's networks' weights by name (generator, discriminator, average)."""
    return {name: net.get_weights() for name, net in _networks(gan).items()}


def max_difference(a: dict, b: dict) -> float:
    """Largest absolute difference between two ``network_weights`` results."""
    import numpy as np

    return max(float(np.max(np.abs(x - y))) for name in a for x, y in zip(a[name], b[name]))


def free_ports(n: int) -> list[int]:
    """n TCP ports on 127.0.0.1 that were free a moment ago (a localhost cluster's addresses)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def run_local_workers(args: Sequence[str], n: int = 2, timeout: float = 600.0, log_dir: Path | None = None,
                      extra: dict[int, Sequence[str]] | None = None,
                      grace: float = 10.0) -> list[subprocess.CompletedProcess]:
    """Run ``python -m gan_helpers *args`` as the n workers of one localhost cluster and return each one's
    exit status and output (stdout and stderr together, kept in ``log_dir/worker{i}.log``).

    Each worker gets its own ``TF_CONFIG`` and no GPU (``CUDA_VISIBLE_DEVICES=""``: two processes must not
    share one), plus ``extra[i]`` on its command line. A worker that fails would leave the others waiting
    in their next all-reduce, so after the first failure the rest get ``grace`` seconds to exit, then they are
    stopped (status -9), as they are at the timeout."""
    workers = [f"127.0.0.1:{port}" for port in free_ports(n)]
    log_dir = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="gan_helpers_workers_"))
    log_dir.mkdir(parents=True, exist_ok=True)
    logs = [log_dir / f"worker{i}.log" for i in range(n)]
    procs: list[subprocess.Popen] = []
    deadline = time.monotonic() + timeout
    try:
        for i, log in enumerate(logs):
            cfg = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}
            env = dict(os.environ, TF_CONFIG=json.dumps(cfg), CUDA_VISIBLE_DEVICES="")
            cmd = [sys.executable, "-m", "gan_helpers", *args, *(extra or {}).get(i, ())]
            with open(log, "w") as f:   # a file per worker: no pipe can fill up; the child keeps its handle
                procs.append(subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, text=True, env=env))
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            if any(p.poll() not in (None, 0) for p in procs):   # the others get `grace` s to exit too
                deadline = min(deadline, time.monotonic() + grace)
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return [subprocess.CompletedProcess(p.args, p.returncode, log.read_text(), "")
            for p, log in zip(procs, logs)]
