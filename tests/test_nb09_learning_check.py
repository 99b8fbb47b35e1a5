"""Notebook 09's learning check fails for a generator that never learns and for one that draws blanks.

The notebook splits the CPU into two logical devices in its first cell, which needs a fresh TensorFlow
runtime, so the cells run in a subprocess (tests/test_notebook_checks.py runs in the test process).
Only the set-up cell and section 6 run: training the two-replica DCGAN and its twin once, then the
measuring cell three times, as written and with each mutation, each followed by the check cell.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "09_distributed_training.ipynb"
MEASURE = '"two replicas": draw(dcgan)'
MUTATIONS = {
    "blank": '"two replicas": np.full_like(draw(dcgan), -1.0)',   # draws black images
    "never learns": '"two replicas": draw(untrained)',               # the generator before training
}


def _cell(cells, marker: str) -> int:
    where = [i for i, c in enumerate(cells) if marker in c.source]
    assert len(where) == 1, f"{marker!r} should be in exactly one cell, found {len(where)}"
    return where[0]


def test_learning_check_fails_for_a_blank_or_untrained_generator(tmp_path):
    cells = [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    setup = cells[_cell(cells, "configure_cpu_replicas(2)")].source
    train = cells[_cell(cells, "class StepTimes")].source
    i = _cell(cells, MEASURE)
    measure, check = cells[i].source, cells[i + 1].source
    assert "check" in cells[i + 1].metadata.get("tags", []), "the measuring cell should precede its check"
    script = "\n".join([
        "import matplotlib; matplotlib.use('Agg')",
        "import matplotlib.pyplot as plt; plt.show = lambda *a, **k: plt.close('all')",
        setup, "from gan_helpers import distribute", train,
        f"MEASURE, CHECK, MUTATIONS = {measure!r}, {check!r}, {MUTATIONS!r}",
        textwrap.dedent(f"""
            exec(MEASURE); exec(CHECK)          # as written: passes
            for MUTANT, NEW in MUTATIONS.items():   # names the cells do not use
                try:
                    exec(MEASURE.replace({MEASURE!r}, NEW)); exec(CHECK)
                except AssertionError:
                    print("caught:", MUTANT)
                else:
                    print("survived:", MUTANT)
        """)])
    env = dict(os.environ, GAN_HELPERS_FAST="1", MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          cwd=NOTEBOOK.parent, env=env)
    print(proc.stdout)   # the measured figures, for -s
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    for name in MUTATIONS:
        assert f"caught: {name}" in proc.stdout, proc.stdout[-2000:]
