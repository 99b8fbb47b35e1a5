"""Fingerprint of a training run's outputs, to show that a refactor changed nothing a user sees:
the bytes of samples.png, metrics.json without its timings, and every weight of generator.keras.

    python scripts/run_fingerprint.py runs/dcgan            # prints one JSON line
    python scripts/run_fingerprint.py runs/dcgan --against before.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

# metrics.json keys that vary from run to run on the same bytes: timings and the machine's description
VOLATILE = ("wall_time_s", "wall_time_parts_s", "cluster_seconds", "images_per_second", "device", "versions")


def fingerprint(run: Path) -> dict:
    """sha256 of samples.png, of metrics.json less ``VOLATILE``, and of the generator's weights."""
    import keras

    import gan_helpers.layers  # noqa: F401  (registers the package's layers for loading)

    metrics = json.loads((run / "metrics.json").read_text())
    stable = {k: v for k, v in metrics.items() if k not in VOLATILE}
    weights = keras.models.load_model(run / "generator.keras").get_weights()
    digest = hashlib.sha256()
    for w in weights:
        digest.update(str(w.shape).encode() + w.tobytes())
    return {"samples.png": hashlib.sha256((run / "samples.png").read_bytes()).hexdigest(),
            "metrics.json": hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest(),
            "generator weights": digest.hexdigest()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a folder written by python -m gan_helpers train")
    parser.add_argument("--against", type=Path, help="a fingerprint saved earlier: exit 1 if they differ")
    args = parser.parse_args(argv)
    now = fingerprint(args.run)
    print(json.dumps(now))
    if args.against:
        before = json.loads(args.against.read_text())
        differ = [k for k in now if now[k] != before.get(k)]
        if differ:
            print(f"differ: {', '.join(differ)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
