"""The notebooks' shared structure: set-up cell, navigation, exercises, index and student copies."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("nbtools", ROOT / "scripts" / "notebooks.py")
nbtools = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nbtools)
PATHS = nbtools.notebook_paths()
IDS = [p.name[:2] for p in PATHS]


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_readme_index_nav_and_setup_cells_are_current(capsys):
    assert nbtools.cmd_sync(check=True) == 0, capsys.readouterr().out


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_colab_cell_installs_from_the_pyproject_url_only_on_colab(path, monkeypatch, tmp_path):
    nb = nbformat.read(path, as_version=4)
    setup = [c for c in nb.cells if "colab-setup" in c.metadata.get("tags", [])]
    assert len(setup) == 1
    calls = []

    def fake_pip(returncode, stderr=""):
        def run(cmd, **kw):
            calls.append((cmd, kw))
            return subprocess.CompletedProcess(cmd, returncode, "", stderr)
        return run

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(subprocess, "run", fake_pip(0))
    exec(setup[0].source, {})                                   # not on Colab: nothing happens
    assert calls == []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(setup[0].source, {})
    url = nbtools.repo_url()
    assert url.startswith("https://github.com/")
    assert [c[0] for c in calls] == [[sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                                      f"gan_helpers @ git+{url}"]]


def test_colab_cell_explains_a_failed_install_and_uses_an_uploaded_copy(monkeypatch, tmp_path):
    source = nbtools.setup_cell_source("https://github.com/someone/missing-fork")
    calls = []

    def failing_pip(cmd, **kw):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "Cloning ...\nERROR: repository not found\n")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(subprocess, "run", failing_pip)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    with pytest.raises(SystemExit) as err:                     # a message, not a CalledProcessError
        exec(source, {})
    message = str(err.value)
    for part in ("https://github.com/someone/missing-fork", "ERROR: repository not found", "REPO_URL",
                 "fork", "upload", "gan_helpers folder"):
        assert part in message, part
    (tmp_path / "gan_helpers").mkdir()                          # uploaded with the Files pane
    calls.clear()
    exec(source, {})
    assert calls == []


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_navigation_links_point_to_real_files(path):
    nb = nbformat.read(path, as_version=4)
    assert "nav" in nb.cells[0].metadata.get("tags", []) and "nav" in nb.cells[-1].metadata.get("tags", [])
    links = __import__("re").findall(r"\]\(([^)#]+)", nb.cells[0].source)
    local = [t for t in links if not t.startswith("https://")]
    colab = [t for t in links if t.startswith("https://colab.research.google.com/")]
    assert local and len(colab) == len(local) - 1              # Colab gets every link but Contents
    for target in local:
        assert (path.parent / target).exists(), target
    for target in colab:                                         # the same notebooks, on Colab
        assert target == nbtools.colab_url(nbtools.repo_url(), target.rsplit("/", 1)[-1])
        assert (path.parent / target.rsplit("/", 1)[-1]).exists(), target


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_at_least_three_graded_exercises_with_hidden_solutions(path):
    cells = code_cells(nbformat.read(path, as_version=4))
    graded = 0
    for i, cell in enumerate(cells):
        if "solution" in cell.metadata.get("tags", []):
            assert cell.metadata.get("jupyter", {}).get("source_hidden") is True
            assert "gh.exercises.check_" in cells[i + 1].source, "a solution must be followed by its check"
            graded += 1
    assert graded >= 3


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    assert nbtools.cmd_student(out) == 0
    return out


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_student_copy_has_a_stub_for_every_solution_and_no_outputs(path, student_dir):
    original = nbformat.read(path, as_version=4)
    student = nbformat.read(student_dir / path.name, as_version=4)
    solutions = [c for c in original.cells if "solution" in c.metadata.get("tags", [])]
    stubs = [c for c in student.cells if "stub" in c.metadata.get("tags", [])]
    assert len(stubs) == len(solutions) >= 3
    assert not any("solution" in c.metadata.get("tags", []) for c in student.cells)
    for sol, stub in zip(solutions, stubs):
        assert sol.source not in stub.source and ("NotImplementedError" in stub.source or "?" in stub.source)
    assert all(c.outputs == [] and c.execution_count is None for c in code_cells(student))


def _start(nb, prefix: str) -> int:
    return next(i for i, c in enumerate(nb.cells)
                if c.cell_type == "markdown" and c.source.startswith(prefix))


def setup_and_exercises(student, original) -> list:
    """The student copy's set-up section and its exercises, without the lesson in between. The lesson's
    cells are the original's, which nbval runs already; the exercises need only the set-up (checked here:
    an exercise that used a lesson variable would fail with NameError, not ExerciseFailed)."""
    body = _start(student, "## 1") if any(c.source.startswith("## 1") for c in student.cells) else 5
    heads = [c for c in student.cells if c.cell_type == "markdown"]
    prefix = "## Exercises" if any(c.source.startswith("## Exercises") for c in heads) else "### Exercise"
    ex, ex_original = _start(student, prefix), _start(original, prefix)
    assert [c.source for c in student.cells[:ex]] == [c.source for c in original.cells[:ex_original]], \
        "the student copy's lesson must be the original's, cell for cell"
    return student.cells[:body] + student.cells[ex:]


@pytest.fixture(scope="module")
def student_runs(student_dir) -> dict[str, list]:
    """Each student copy's set-up and exercises, executed in fast mode: its code cells, keyed by file name.
    One kernel runs them one notebook after another, with ``%reset -f`` in between (no name carries over),
    so that TensorFlow starts once, not once per notebook; a notebook that splits the CPU into logical
    devices (09) needs a TensorFlow of its own and gets its own kernel."""
    from nbclient import NotebookClient

    kernels = [nbformat.v4.new_notebook()]
    for path in PATHS:
        cells = [c for c in setup_and_exercises(nbformat.read(student_dir / path.name, as_version=4),
                                                nbformat.read(path, as_version=4)) if c.cell_type == "code"]
        for c in cells:
            c.metadata["from_notebook"] = path.name
        fresh = any("configure_cpu_replicas" in c.source for c in cells)
        nb = nbformat.v4.new_notebook() if fresh else kernels[0]
        nb.cells += [nbformat.v4.new_code_cell("%reset -f"), *cells]
        if fresh:
            kernels.append(nb)
    old = os.environ.get("GAN_HELPERS_FAST")
    os.environ["GAN_HELPERS_FAST"] = "1"
    try:   # in the student folder, so the copies' runs/ never overwrite the real notebooks' outputs
        for nb in kernels:
            NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                           resources={"metadata": {"path": str(student_dir)}}).execute()
    finally:
        os.environ.pop("GAN_HELPERS_FAST") if old is None else os.environ.update(GAN_HELPERS_FAST=old)
    return {p.name: [c for nb in kernels for c in nb.cells if c.metadata.get("from_notebook") == p.name]
            for p in PATHS}


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_student_copy_runs_to_its_exercises_and_the_checks_fail_kindly(path, student_runs):
    cells = student_runs[path.name]
    first_stub = next(i for i, c in enumerate(cells) if "stub" in c.metadata.get("tags", []))
    for i, cell in enumerate(cells):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if i < first_stub or "stub" in cell.metadata.get("tags", []):
            assert not errors, f"cell {i} of the student copy fails: {errors[0].evalue if errors else ''}"
        elif "gh.exercises.check_" in cell.source:
            assert len(errors) == 1 and errors[0].ename == "ExerciseFailed", \
                f"check cell {i} should fail with ExerciseFailed, got {[e.ename for e in errors]}"
            assert "not written yet" in errors[0].evalue or "answer" in errors[0].evalue
        else:
            assert not errors, f"cell {i} fails: {errors[0].ename}: {errors[0].evalue}"


def test_only_tensorflow_startup_noise_is_stripped_from_saved_outputs():
    cell = nbformat.v4.new_code_cell("import tensorflow")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text=(
            "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            "I0000 00:00:1.0 123 cudart_stub.cc:31] Could not find cuda drivers on your machine\n"
            "I0000 00:00:1.0 123 port.cc:153] oneDNN custom operations are on. You may see slightly\n"
            "E0000 00:00:1.0 123 meta_optimizer.cc:967] remapper failed: INVALID_ARGUMENT: Mutation::Apply "
            "error: fanout 'x' exist for missing node 'y'.\n")),
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: something real\n"),
        nbformat.v4.new_output("stream", name="stdout", text="cudart_stub.cc in stdout stays\n"),
        nbformat.v4.new_output("stream", name="stdout", text=(
            "gan_helpers: MNIST could not be downloaded (Exception); using the bundled sample of 10,000 "
            "real MNIST digits instead.\nmnist: 8000 train, 2000 test images from the bundled sample\n")),
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nbtools.strip_startup_noise(nb)
    assert [o.text for o in nb.cells[0].outputs] == [
        "UserWarning: something real\n", "cudart_stub.cc in stdout stays\n",
        "mnist: 8000 train, 2000 test images from the bundled sample\n"]


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_check_and_solution_cells_are_collapsed_and_introduced(path):
    """CONTRIBUTING.md: outcome checks and solutions stay out of the reader's way, but each check is
    introduced by prose that says what it guards."""
    cells = nbformat.read(path, as_version=4).cells
    for i, cell in enumerate(cells):
        kinds = {"check", "solution"} & set(cell.metadata.get("tags", []))
        if cell.cell_type == "code" and kinds:
            assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, (i, kinds)
        if "check" in kinds:
            assert cells[i - 1].cell_type == "markdown", f"check cell {i} has no sentence before it"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_every_hint_is_visible_in_the_exercise_text(path):
    cells = nbformat.read(path, as_version=4).cells
    for k, cell in enumerate(cells):
        if "solution" in cell.metadata.get("tags", []) and cell.metadata.get("hint"):
            prose = next(c for c in reversed(cells[:k]) if c.cell_type == "markdown")
            assert nbtools.HINT_PREFIX + cell.metadata["hint"] in prose.source, (k, cell.metadata["hint"])


def test_run_names_a_notebook_by_number_file_name_or_path_and_refuses_no_match(capsys):
    assert nbtools.cmd_run("fast", ["notebooks/99_nothing.ipynb"]) == 2
    assert "no notebook matches notebooks/99_nothing.ipynb" in capsys.readouterr().err


def test_under_xdist_each_notebook_is_one_unit_and_05_follows_04():
    from tests.schedule import unit_of

    assert unit_of("notebooks/03_toy_gan_mode_collapse.ipynb::Cell 7") == "03_toy_gan_mode_collapse"
    assert unit_of("notebooks/05_evaluating_gans.ipynb::Cell 0") == "04_dcgan_mnist"
    assert unit_of("notebooks/04_dcgan_mnist.ipynb::Cell 12") == "04_dcgan_mnist"
    assert unit_of("tests/test_resilience.py::test_a") == unit_of("tests/test_resilience.py::test_b")
    assert unit_of("tests/test_cli.py::test_a") != unit_of("tests/test_cli.py::test_b")
    names = {p.stem for p in PATHS}
    assert {"04_dcgan_mnist", "05_evaluating_gans"} <= names   # the pair the plugin keeps together exists


def test_the_xdist_scheduler_keeps_each_notebook_on_one_worker_in_order_and_05_after_04(tmp_path):
    """Run the plugin's scheduler under nbval on stand-in notebooks named like the real ones, two workers."""
    log = tmp_path / "order.log"
    stems = ["03_toy_gan_mode_collapse", "04_dcgan_mnist", "05_evaluating_gans", "06_conditional_gan"]
    for stem in stems:
        write = "f.write(os.environ['PYTEST_XDIST_WORKER'] + "
        cells = [nbformat.v4.new_code_cell(f"import os\nwith open({str(log)!r}, 'a') as f:\n"
                                           f"    {write}' {stem} {i}\\n')")
                 for i in range(3)]
        nbformat.write(nbformat.v4.new_notebook(cells=cells), tmp_path / f"{stem}.ipynb")
    (tmp_path / "test_plain.py").write_text("def test_one():\n    pass\n\n\ndef test_two():\n    pass\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadscope",
                          "-p", "tests.schedule", "--nbval-lax", "--nbval-current-env",
                          "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(tmp_path),
                          "test_plain.py", *[f"{s}.ipynb" for s in stems]],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "14 passed" in run.stdout, run.stdout
    rows = [line.split() for line in log.read_text().splitlines()]
    assert len(rows) == 12
    for stem in stems:
        mine = [(w, int(i)) for w, s, i in rows if s == stem]
        assert len({w for w, _ in mine}) == 1, f"{stem}'s cells ran on more than one worker: {mine}"
        assert [i for _, i in mine] == [0, 1, 2], f"{stem}'s cells ran out of order: {mine}"
    order = [s for _, s, _ in rows]
    on = {s: w for w, s, _ in rows}
    assert on["05_evaluating_gans"] == on["04_dcgan_mnist"]
    assert max(k for k, s in enumerate(order) if s == "04_dcgan_mnist") < order.index("05_evaluating_gans")
