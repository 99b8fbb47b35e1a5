"""Fingerprints of the fast training runs, to show that a change to the package altered nothing a user
sees: the bytes of samples.png, metrics.json without its timings, and every weight of generator.keras,
for ``python -m gan_helpers train --fast --seed 42`` with each ``--model``.

    python scripts/run_fingerprint.py runs/dcgan        # one run folder's fingerprint, as JSON
    python scripts/run_fingerprint.py --record          # train the four fast runs, store their fingerprints
    python scripts/run_fingerprint.py --record --from-runs DIR   # store those of DIR/dcgan, DIR/cgan…

The bytes depend on the machine and the library versions, so the stored fingerprints say where they were
made (``environment``), and ``tests/test_run_fingerprint.py`` compares only in that environment.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORED = ROOT / "tests" / "run_fingerprints.json"
MODELS = ("dcgan", "cgan", "wgan-gp", "sngan")
# metrics.json keys that vary from run to run on the same bytes: timings and the machine's description
VOLATILE = ("wall_time_s", "wall_time_parts_s", "cluster_seconds", "images_per_second", "device", "versions")


def fingerprint(run: Path) -> dict:
    """sha256 of samples.png, of metrics.json less ``VOLATILE``, and of the generator's weights."""
    import keras

    import gan_helpers.layers  # noqa: F401  (registers the package's layers for loading)

    metrics = json.loads((run / "metrics.json").read_text())
    stable = {k: v for k, v in metrics.items() if k not in VOLATILE}
    digest = hashlib.sha256()
    for w in keras.models.load_model(run / "generator.keras").get_weights():
        digest.update(str(w.shape).encode() + w.tobytes())
    return {"samples.png": hashlib.sha256((run / "samples.png").read_bytes()).hexdigest(),
            "metrics.json": hashlib.sha256(json.dumps(stable).encode()).hexdigest(),   # keys in file order
            "generator weights": digest.hexdigest()}


def environment() -> dict:
    """What the bytes depend on: the libraries' versions, the processor and its instruction sets."""
    from gan_helpers import config

    flags = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        flags = next((line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")), "")
    import PIL

    return {**config.versions(), "pillow": PIL.__version__, "machine": platform.machine(),
            "cpu_flags_sha256": hashlib.sha256(flags.encode()).hexdigest()[:16]}


def command(model: str, out: Path) -> list[str]:
    """The fast run whose bytes are fingerprinted: what a user types, with the seed and data pinned."""
    return [sys.executable, "-m", "gan_helpers", "train", "--fast", "--seed", "42", "--model", model,
            "--source", "bundled", "--out", str(out), "--quiet"]


def train_fast(model: str, out: Path) -> subprocess.CompletedProcess:
    """Run :func:`command` in a child process; its output is returned, a failure raised with its end."""
    proc = subprocess.run(command(model, out), cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"the fast {model} run failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return proc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, nargs="?", help="a folder written by python -m gan_helpers train")
    parser.add_argument("--record", action="store_true", help=f"train the fast runs, write {STORED.name}")
    parser.add_argument("--from-runs", type=Path, metavar="DIR",
                        help="with --record: fingerprint DIR/<model> (runs made earlier, say by the code "
                             "before a refactor) instead of training")
    args = parser.parse_args(argv)
    if args.run:
        print(json.dumps(fingerprint(args.run)))
        return 0
    if not args.record:
        parser.error("give a run folder or --record")
    if args.from_runs:
        runs = {m: fingerprint(args.from_runs / m) for m in MODELS}
    else:
        with tempfile.TemporaryDirectory() as tmp:
            runs = {}
            for m in MODELS:
                train_fast(m, Path(tmp) / m)
                runs[m] = fingerprint(Path(tmp) / m)
    STORED.write_text(json.dumps({"environment": environment(), "runs": runs}, indent=2) + "\n")
    print(f"wrote {STORED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
