"""Every shell command shown to the reader works as shown.

The commands come from README.md and the notebooks: fenced ```bash/sh/shell/console blocks, `!` lines and
%%bash cells, and inline `python -m gan_helpers …`, `make …`, `python benchmarks/…`, `pip …` spans.
Each is either run here, in fast mode with a short budget, or listed in MAPPED with the test that
exercises it and why it cannot run here. A command found in neither way fails the test, so a new
command cannot slip in unrun. Training commands are de-duplicated by what they train: each distinct
(model, loss, clusters, strategy) trains once, in-process, for one fast epoch of a narrow network; the
others are parsed, so every option shown is checked.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from gan_helpers import cli

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"```(?:bash|sh|shell|console)\n(.*?)```", re.S)
INLINE = re.compile(r"`((?:TF_CONFIG=|python3? -m gan_helpers|python3? (?:benchmarks|scripts)/|make |pip "
                    r"|conda )[^`]*)`")
# what a shown training command gets on top of its own options: fast mode, one epoch, narrow networks
BUDGET = ["--fast", "--epochs", "1", "--width", "8", "--d-width", "16", "--quiet"]

# Commands that cannot run inside a test: the test that exercises each, and why. A regular expression
# that must match the whole (normalised) command.
MAPPED = {
    r"make test( JOBS=0)?|make unit|make notebooks|make lint":
        ("CI (.ci/run runs make test)", "the test suite itself"),
    r"make test-seeds":
        ("tests/test_notebook_tools.py and CI's make notebooks", "every notebook twice more: minutes"),
    r"make test-min":
        ("run on demand", "installs the oldest allowed versions from the network"),
    r"make lab": ("none needed: it starts a JupyterLab server", "a server that does not exit"),
    r"make sync": ("tests/test_notebook_tools.py::test_readme_index_nav_and_setup_cells_are_current",
                   "rewrites the tracked notebooks"),
    r"make student": ("tests/test_notebook_tools.py::test_student_copy_has_a_stub_for_every_solution_and_"
                      "no_outputs", "writes student/ for every notebook"),
    r"make bench": ("run on demand (CONTRIBUTING: no timed tests)", "a benchmark of several minutes"),
    r"python -m gan_helpers train --source keras":
        ("parsed here; the keras source is tested in tests/test_data.py", "downloads MNIST"),
    r"python3 -m venv \.venv && \. \.venv/bin/activate && pip install -e \"\.\[dev\]\"|"
    r"pip install -e \"?\.(\[[\w,]+\])?\"?|"
    r"conda env create -f environment\.yml && conda activate adversarial-learning":
        ("the extras and environment.yml are checked here; CI installs with make", "needs the network"),
    r"TF_CONFIG='.*' python -m gan_helpers train --strategy multiworker .*":
        ("tests/test_distribute.py::test_two_workers_train_in_sync_only_the_chief_keeps_outputs_and_both_resume",
         "several processes with their own TF_CONFIG; the command is parsed here and must train what "
         "that test trains"),
    r"make book(-test)?|python scripts/book\.py --serve":
        ("tests/test_book.py; make -n and the script's options are checked here",
         "renders every notebook into the book, or serves it"),
    r"python scripts/notebooks\.py run":
        ("tests/test_notebook_tools.py::test_run_names_a_notebook_by_number_file_name_or_path_and_refuses_no_match",
         "executes notebooks in full mode"),
    r"python benchmarks/\S+\.py.*": ("run on demand; its options are checked here against its argparse",
                                     "a benchmark or study of minutes to hours"),
}


def _split_lines(block: str) -> list[str]:
    """A shell block's commands: continuation lines joined, prompts and comments dropped."""
    out = []
    for line in block.replace("\\\n", " ").splitlines():
        line = re.sub(r"^\s*\$\s+", "", line)
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            out.append(" ".join(line.split()))
    return out


def shown_commands() -> dict[str, list[str]]:
    """Every command shown to the reader, normalised, with where it is shown."""
    found: dict[str, list[str]] = {}

    def add(where: str, text: str, markdown: bool) -> None:
        if markdown:
            for block in FENCE.findall(text):
                for cmd in _split_lines(block):
                    found.setdefault(cmd, []).append(where)
            for span in INLINE.findall(FENCE.sub("", text)):
                found.setdefault(" ".join(span.split()), []).append(where)
        else:
            lines = text.splitlines()
            shell = lines[1:] if lines and lines[0].startswith("%%bash") else \
                [line.lstrip()[1:] for line in lines if line.lstrip().startswith("!")]
            for cmd in _split_lines("\n".join(shell)):
                found.setdefault(cmd, []).append(where)

    add("README.md", (ROOT / "README.md").read_text(), True)
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            if cell["cell_type"] in ("markdown", "code"):
                add(f"{nb.name}, cell {i}", "".join(cell["source"]), cell["cell_type"] == "markdown")
    return found


def _train_args(cmd: str) -> list[str] | None:
    """The CLI arguments of a training command (``make train`` through ``make -n``), else None."""
    words = shlex.split(cmd)
    while words and re.match(r"^[A-Z_]+=", words[0]):   # an environment prefix such as TF_CONFIG=…
        words.pop(0)
    if words[:4] in (["python", "-m", "gan_helpers", "train"], ["python3", "-m", "gan_helpers", "train"]):
        return words[4:]
    if words[:2] == ["make", "train"]:
        dry = subprocess.run(["make", "-n", *words[1:]], cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert dry.returncode == 0, dry.stderr
        line = [x for x in dry.stdout.splitlines() if "-m gan_helpers train" in x][-1]
        return shlex.split(line.split("-m gan_helpers train", 1)[1])
    return None


def _mapped(cmd: str):
    return next((v for k, v in MAPPED.items() if re.fullmatch(k, cmd)), None)


COMMANDS = shown_commands()


def test_the_docs_show_commands_and_each_is_run_or_mapped():
    assert len(COMMANDS) > 20, sorted(COMMANDS)
    unknown = [f"{c!r} (in {', '.join(w)})" for c, w in COMMANDS.items()
               if _mapped(c) is None and _train_args(c) is None and not c.startswith("make ")]
    assert not unknown, ("commands shown to the reader that no test runs; run them in "
                         "tests/test_commands_shown.py or map them in MAPPED:\n" + "\n".join(unknown))


def test_every_make_target_shown_exists():
    for cmd in {c for c in COMMANDS if c.startswith("make ")}:
        if cmd.startswith("make train"):
            continue   # run below
        assert _mapped(cmd), f"{cmd!r} is shown but neither run nor mapped"
        dry = subprocess.run(["make", "-n", *shlex.split(cmd)[1:]], cwd=ROOT, capture_output=True,
                             text=True, timeout=30)
        assert dry.returncode == 0, f"{cmd!r}: {dry.stderr}"


def test_install_commands_name_extras_and_files_that_exist():
    pyproject = (ROOT / "pyproject.toml").read_text()
    for cmd in COMMANDS:
        for extras in re.findall(r"\.\[([\w,]+)\]", cmd):
            for extra in extras.split(","):
                assert re.search(rf"^{extra} = \[", pyproject, re.M), f"{cmd!r}: no extra {extra!r}"
        for f in re.findall(r"-f (\S+)", cmd):
            assert (ROOT / f).is_file(), f"{cmd!r}: no {f}"


def test_script_commands_use_options_their_scripts_define():
    for cmd in COMMANDS:
        m = re.match(r"python3? ((?:benchmarks|scripts)/\S+\.py)(.*)", cmd)
        if not m:
            continue
        source = (ROOT / m.group(1)).read_text()
        for option in re.findall(r"(?<!\S)(--[\w-]+)", m.group(2)):
            assert f'"{option}"' in source, f"{cmd!r}: {m.group(1)} has no option {option}"
        for word in re.findall(r"(?<!\S)([a-z]\w*)(?=\s|$)", m.group(2).split("--")[0]):
            assert f'"{word}"' in source, f"{cmd!r}: {m.group(1)} has no command {word!r}"


def _specs() -> dict:
    """Each training command shown, parsed; keyed by what it trains."""
    by_job: dict = {}
    for cmd in COMMANDS:
        args = _train_args(cmd)
        if args is None or "--help" in args or _mapped(cmd):
            continue
        spec = cli.parse(["train", *args])
        job = (spec.model, spec.loss, spec.clusters, spec.strategy, spec.cpu_replicas)
        by_job.setdefault(job, []).append((cmd, args))
    return by_job


def test_help_is_shown_and_exits_0(capsys):
    for cmd in COMMANDS:
        args = _train_args(cmd)
        if args is not None and "--help" in args:
            with pytest.raises(SystemExit) as exc:
                cli.main(["train", *args])
            assert exc.value.code == 0 and "--strategy" in capsys.readouterr().out


def test_multiworker_commands_train_what_the_two_worker_tests_train():
    # tests/test_distribute.py runs two workers on the CLI's defaults (the main job) and on --model cgan;
    # the plain DCGAN (--clusters 0) takes the same path with unlabelled batches
    tested = {("dcgan", 50), ("cgan", 0), ("dcgan", 0)}
    for cmd in (c for c in COMMANDS if c.startswith("TF_CONFIG=")):
        spec = cli.parse(["train", *_train_args(cmd)])
        assert spec.strategy == "multiworker" and (spec.model, spec.clusters) in tested, cmd


# test_each_training_command_shown_trains_in_fast_mode is in tests/test_fast_runs.py: in fast mode most of
# the commands shown are the fast runs that module trains once for all its tests.
