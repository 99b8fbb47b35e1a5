"""The fast training runs write the same bytes as when their fingerprints were recorded
(``scripts/run_fingerprint.py --record``): a refactor must not change what a user sees by accident.

The bytes depend on the processor and the library versions, so the comparison runs only in the
environment the fingerprints were recorded in, and is skipped (saying why) elsewhere, as under
``make test-min``'s older versions."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("run_fingerprint", ROOT / "scripts" / "run_fingerprint.py")
run_fingerprint = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_fingerprint)
STORED = json.loads(run_fingerprint.STORED.read_text())


def test_fingerprint_sees_a_changed_pixel(tmp_path):
    """The fingerprint is not blind: one changed byte of samples.png changes it."""
    import numpy as np

    from gan_helpers import plots

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"fd": 1.0, "wall_time_s": 3.0}))
    import keras

    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(run / "generator.keras")
    grid = np.zeros((8, 8), np.uint8)
    plots.save_png(grid, run / "samples.png")
    first = run_fingerprint.fingerprint(run)
    (run / "metrics.json").write_text(json.dumps({"fd": 1.0, "wall_time_s": 9.0}))   # a timing: ignored
    assert run_fingerprint.fingerprint(run) == first
    grid[3, 4] = 1
    plots.save_png(grid, run / "samples.png")
    assert run_fingerprint.fingerprint(run)["samples.png"] != first["samples.png"]
