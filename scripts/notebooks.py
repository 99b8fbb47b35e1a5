"""Maintain the notebooks: the shared Colab set-up cell, navigation links, the README index,
student copies, and measured run times.

    python scripts/notebooks.py sync [--check]      # set-up cell, nav cells, README index
    python scripts/notebooks.py student [--out DIR] # student copies: solutions → stubs, outputs cleared
    python scripts/notebooks.py run --mode fast|full [NAMES...]  # execute, record time and hardware

``make student``, ``make sync`` and ``make notebooks-full`` call these.
"""

from __future__ import annotations

import argparse
import ast
import copy
import datetime as dt
import os
import re
import sys
import time
from pathlib import Path

import nbformat

from gan_helpers._quiet import HARMLESS

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
README = ROOT / "README.md"
INDEX_START, INDEX_END = "<!-- notebook-index:start -->", "<!-- notebook-index:end -->"
NAME_RE = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")
META = "gan_tutorial"
DEFAULT_HINT = "write your solution here; the check in the next cell tells you what is wrong"


def repo_url() -> str:
    """The repository URL, defined once in pyproject.toml under [project.urls] Repository."""
    text = (ROOT / "pyproject.toml").read_text()
    try:
        import tomllib

        return tomllib.loads(text)["project"]["urls"]["Repository"]
    except ModuleNotFoundError:  # Python 3.10
        match = re.search(r'^Repository\s*=\s*"([^"]+)"', text, re.M)
        if not match:
            raise SystemExit("pyproject.toml has no [project.urls] Repository") from None
        return match.group(1)


def setup_cell_source(url: str) -> str:
    return f'''# Colab only (elsewhere it does nothing): install gan_helpers from the repository without its
# dependencies, so Colab's own TensorFlow stays. Working from a fork? Put its URL in REPO_URL.
# Fast mode (small runs, a few minutes even on a CPU): add a cell above with %env GAN_HELPERS_FAST=1
import subprocess
import sys
from pathlib import Path

REPO_URL = "{url}"
if "google.colab" in sys.modules and not Path("gan_helpers").is_dir():   # an uploaded copy wins
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                          f"gan_helpers @ git+{{REPO_URL}}"], capture_output=True, text=True)
    if pip.returncode != 0:
        said = (pip.stderr.strip().splitlines() or ["no message"])[-1]
        raise SystemExit(
            f"Could not install gan_helpers from {{REPO_URL}} (pip: {{said}}).\\n"
            "If you work from a fork, set REPO_URL in this cell to your fork's URL and run it again.\\n"
            "Or upload the repository's gan_helpers folder with Colab's Files pane (into /content) "
            "and run this cell again: it then uses the uploaded copy.")'''


def notebook_paths() -> list[Path]:
    paths = sorted(p for p in NB_DIR.glob("*.ipynb") if NAME_RE.match(p.name))
    bad = [p.name for p in NB_DIR.glob("*.ipynb") if not NAME_RE.match(p.name)]
    if bad:
        raise SystemExit(f"notebook names must look like NN_slug.ipynb: {', '.join(bad)}")
    return paths


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def title_of(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "nav" not in tags(cell):
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "untitled"


def short_title(nb) -> str:
    """'04 · A DCGAN on MNIST with Keras 3' → 'A DCGAN on MNIST with Keras 3'."""
    return title_of(nb).split("·", 1)[-1].strip()


def colab_url(url: str, name: str) -> str:
    """Colab's address for notebook ``name`` of the GitHub repository at ``url``."""
    return f"https://colab.research.google.com/github/{url.removeprefix('https://github.com/')}" \
           f"/blob/main/notebooks/{name}"


def nav_source(paths: list[Path], i: int, titles: list[str], url: str) -> str:
    """Relative links (GitHub, Jupyter), then the same links for Colab, where relative ones break."""
    parts, colab = [], []
    if i > 0:
        parts.append(f"[← {paths[i - 1].name[:2]} · {titles[i - 1]}]({paths[i - 1].name})")
        colab.append(f"[← {paths[i - 1].name[:2]}]({colab_url(url, paths[i - 1].name)})")
    parts.append("[Contents](../README.md#the-notebooks)")
    colab.append(f"[contents]({url}#the-notebooks)")
    if i < len(paths) - 1:
        parts.append(f"[{paths[i + 1].name[:2]} · {titles[i + 1]} →]({paths[i + 1].name})")
        colab.append(f"[{paths[i + 1].name[:2]} →]({colab_url(url, paths[i + 1].name)})")
    return " · ".join(parts) + "  \n<sub>On Colab: " + " · ".join(colab) + "</sub>"


def nav_cell(source: str, cell_id: str):
    cell = nbformat.v4.new_markdown_cell(source)
    cell.id = cell_id  # fixed, so that syncing twice changes nothing
    cell.metadata["tags"] = ["nav"]
    return cell


def reading_minutes(nb) -> int:
    """An estimate: prose at 180 words a minute plus half a minute per code cell."""
    words = sum(len(c.source.split()) for c in nb.cells if c.cell_type == "markdown")
    code_cells = sum(c.cell_type == "code" for c in nb.cells)
    return max(1, round(words / 180 + 0.5 * code_cells))


def synced(nb, paths: list[Path], i: int, titles: list[str], url: str):
    """The notebook with its set-up cell, nav cells and cell ids in canonical form."""
    nb = copy.deepcopy(nb)
    body = [c for c in nb.cells if "nav" not in tags(c)]
    setup = [c for c in body if c.cell_type == "code" and '"google.colab" in sys.modules' in c.source]
    if len(setup) != 1:
        raise SystemExit(f"{paths[i].name}: expected one Colab set-up cell, found {len(setup)}")
    setup[0].source = setup_cell_source(url)
    setup[0].metadata["tags"] = sorted(set(tags(setup[0])) | {"colab-setup"})
    setup[0].outputs = []
    setup[0].execution_count = None
    for cell in body:  # execution timestamps from nbclient are noise in a diff
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code" and {"check", "solution"} & set(tags(cell)):
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True   # collapsed, still run
    show_hints(body)
    nav = nav_source(paths, i, titles, url)
    nb.cells = [nav_cell(nav, "nav-top"), *body, nav_cell(nav, "nav-bottom")]
    return nb


HINT_PREFIX = "*Hint:* "


def show_hints(cells: list) -> None:
    """Copy each solution cell's ``hint`` (the student copy's stub message) into the exercise text above
    it, as a last line starting with ``*Hint:*``, so the hint is visible in the notebook too."""
    for k, cell in enumerate(cells):
        hint = cell.metadata.get("hint")
        if "solution" not in tags(cell) or not hint:
            continue
        prose = next((c for c in reversed(cells[:k]) if c.cell_type == "markdown"), None)
        if prose is None:
            raise SystemExit("a solution cell has no exercise text above it")
        lines = [ln for ln in prose.source.rstrip().splitlines() if not ln.startswith(HINT_PREFIX)]
        prose.source = "\n".join(lines).rstrip() + f"\n\n{HINT_PREFIX}{hint}"


def busy(record: dict) -> bool:
    """True when a run started on a machine that was already busy, so its time is no timing."""
    return record.get("load_before", 0.0) > 1.0


def index_table(paths: list[Path], notebooks: list) -> str:
    url = repo_url()
    devices: set[str] = set()
    loaded = False
    rows = ["| # | notebook | what you learn | before it | reading | run: fast · full | |",
            "|---|---|---|---|---|---|---|"]
    for path, nb in zip(paths, notebooks):
        meta = nb.metadata.get(META, {})
        runs = meta.get("runs", {})
        run = {mode: f"{runs[mode]['seconds']:.0f} s{'*' if busy(runs[mode]) else ''}" if mode in runs
               else "not measured" for mode in ("fast", "full")}
        loaded = loaded or any(busy(r) for r in runs.values() if r)

        devices.update(r["device"] for r in runs.values() if r)
        badge = (f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
                 f"({colab_url(url, path.name)})")
        rows.append(f"| {path.name[:2]} | [{short_title(nb)}](notebooks/{path.name}) | "
                    f"{meta.get('teaches', '')} | {meta.get('prerequisites', '')} | "
                    f"~{reading_minutes(nb)} min | {run['fast']} · {run['full']} | {badge} |")
    note = ("Reading time is estimated from the word count. Run times are measured by "
            "`python scripts/notebooks.py run` (fast: `GAN_HELPERS_FAST=1`, as in CI; full: what the "
            f"committed outputs show), on: {'; '.join(sorted(devices)) or 'not measured yet'}.")
    if loaded:
        note += (" \\* Measured while other work ran on the machine (1-minute load average above 1 before "
                 "the start): the outputs are valid, the time is not a timing.")
    return "\n".join(rows) + "\n\n" + note


def cmd_sync(check: bool) -> int:
    paths = notebook_paths()
    notebooks = [nbformat.read(p, as_version=4) for p in paths]
    titles = [short_title(nb) for nb in notebooks]
    url = repo_url()
    stale = []
    for i, (path, nb) in enumerate(zip(paths, notebooks)):
        new = synced(nb, paths, i, titles, url)
        if nbformat.writes(new) != nbformat.writes(nb):
            stale.append(path.name)
            if not check:
                nbformat.write(new, path)
        notebooks[i] = new            # the index describes the notebooks as synced
    readme = README.read_text()
    if INDEX_START not in readme or INDEX_END not in readme:
        raise SystemExit(f"README.md lacks the markers {INDEX_START} … {INDEX_END}")
    head, rest = readme.split(INDEX_START, 1)
    _, tail = rest.split(INDEX_END, 1)
    new_readme = f"{head}{INDEX_START}\n{index_table(paths, notebooks)}\n{INDEX_END}{tail}"
    if new_readme != readme:
        stale.append("README.md")
        if not check:
            README.write_text(new_readme)
    if check and stale:
        print("out of date (run `make sync`): " + ", ".join(stale))
        return 1
    print("up to date" if not stale else "updated: " + ", ".join(stale))
    return 0


def stub_source(cell) -> str:
    """A solution cell's stub: imports kept, each function's body replaced by a raise with a hint."""
    hint = cell.metadata.get("hint", DEFAULT_HINT)
    if "stub" in cell.metadata:
        return cell.metadata["stub"]
    tree = ast.parse(cell.source)
    lines = cell.source.splitlines()
    out = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append("\n".join(lines[node.lineno - 1: node.end_lineno]))
        elif isinstance(node, ast.FunctionDef):
            header = "\n".join(lines[node.lineno - 1: node.body[0].lineno - 1])
            doc = ast.get_docstring(node)
            body = f'    """{doc}"""\n' if doc else ""
            out.append(f"{header}\n{body}    raise NotImplementedError({hint!r})")
        else:
            raise SystemExit(f"a solution cell has a top-level {type(node).__name__}; give it a "
                             "metadata 'stub' so the student copy knows what to show:\n" + cell.source)
    return "# Exercise: your code here.\n" + "\n\n\n".join(out)


def student_copy(nb):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            if "solution" in tags(cell):
                cell.source = stub_source(cell)
                cell.metadata["tags"] = [t for t in tags(cell) if t != "solution"] + ["stub"]
                cell.metadata.pop("jupyter", None)
                cell.metadata.pop("stub", None)
                cell.metadata.pop("hint", None)
    nb.metadata.get(META, {}).pop("runs", None)
    return nb


def cmd_student(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for path in notebook_paths():
        nb = student_copy(nbformat.read(path, as_version=4))
        n = sum("stub" in tags(c) for c in nb.cells)
        nbformat.write(nb, out / path.name)
        print(f"{out / path.name}: {n} exercise stubs")
    return 0


# TensorFlow's start-up chatter on a machine without CUDA, and Grappler's harmless remapper note:
# environment noise, not results. One list for the CLI's live filter and for saved outputs.
STARTUP_NOISE = HARMLESS


# stdout lines about the executing machine's network, not the lesson (the data line names the source)
MACHINE_LINES = re.compile(r"^gan_helpers: MNIST could not be downloaded")


STAMP = "gan_helpers"   # metadata key: {"code_sha256": …} of the code a full run executed


def code_sha256(nb) -> str:
    """sha256 of a notebook's code cells, in order: a full run stores it, so that a code cell changed
    after the run (its outputs no longer come from the code shown) is caught by the tests."""
    import hashlib

    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    return hashlib.sha256("\n\n".join(code).encode()).hexdigest()   # the house rule's formula


def strip_startup_noise(nb):
    """Drop TensorFlow's start-up log lines from stderr outputs (other stderr is kept), and the
    offline-fallback notice from stdout."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.outputs:
            if out.get("output_type") == "stream":
                noise = STARTUP_NOISE if out.get("name") == "stderr" else MACHINE_LINES
                lines = [l for l in out.text.splitlines(keepends=True) if not noise.search(l)]
                if not "".join(lines).strip():
                    continue
                out.text = "".join(lines)
            kept.append(out)
        cell.outputs = kept
    return nb


def execute(nb, fast: bool, timeout: int = 1800):
    """Run a notebook in a fresh kernel of this Python, in notebooks/; returns (nb, seconds)."""
    from nbclient import NotebookClient

    os.environ["GAN_HELPERS_FAST"] = "1" if fast else "0"
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(NB_DIR)}})
    t0 = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - t0


def select(names: list[str]) -> list[Path] | None:
    """The notebooks named by number (06), file name or path (all when none is named); None, with a
    message, when a name matches nothing."""
    wanted = {Path(n).name for n in names}
    paths = [p for p in notebook_paths() if not names or p.name in wanted or p.name[:2] in wanted]
    if names and not paths:
        print(f"no notebook matches {' '.join(names)}; give numbers (06), file names or paths",
              file=sys.stderr)
        return None
    return paths


def cmd_run(mode: str, names: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from gan_helpers import config

    paths = select(names)
    if paths is None:
        return 2
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        load = os.getloadavg()[0]          # other work on the machine makes the time no timing
        executed, seconds = execute(copy.deepcopy(nb), fast=(mode == "fast"))
        record = {"seconds": round(seconds, 1), "device": config.device_description(),
                  "date": dt.date.today().isoformat(), "load_before": round(load, 1)}
        target = strip_startup_noise(executed) if mode == "full" else nb
        target.metadata.setdefault(META, {}).setdefault("runs", {})[mode] = record
        if mode == "full":
            target.metadata[META]["runs"]["fast"] = nb.metadata.get(META, {}).get("runs", {}).get("fast")
            if target.metadata[META]["runs"]["fast"] is None:
                del target.metadata[META]["runs"]["fast"]
        if mode == "full":
            shrink_images(target)
            target.metadata[STAMP] = {"code_sha256": code_sha256(target)}
        nbformat.write(target, path)
        print(f"{path.name}: {mode} run {seconds:.1f} s on {record['device']}")
    return cmd_sync(check=False)


def shrink_images(nb, colours: int = 128) -> int:
    """Re-encode every PNG output as a ``colours``-colour palette PNG (kept only where smaller): the
    figures are grey digits and flat plots, so this is visually lossless and keeps notebooks light on
    GitHub. Returns the bytes saved."""
    import base64
    import io

    from PIL import Image

    saved = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/gif" in data:
                saved += _shrink_gif(data)
            if "image/png" not in data:
                continue
            raw = base64.b64decode(data["image/png"])
            if raw[:4] == b"GIF8":   # an animation stored under image/png on purpose (nbconvert shows it)
                continue
            img = Image.open(io.BytesIO(raw)).convert("RGB")
            buf = io.BytesIO()
            img.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(buf, "PNG", optimize=True)
            if buf.tell() < len(raw):
                data["image/png"] = base64.b64encode(buf.getvalue()).decode("ascii")
                saved += len(raw) - buf.tell()
    return saved


def _shrink_gif(data: dict, max_width: int = 300) -> int:
    """A grey GIF wider than ``max_width`` (a sample grid drawn at 2×) at half size, 32 greys: its
    digits keep their native 28 pixels. Returns the bytes saved."""
    import base64
    import io

    from PIL import Image, ImageSequence

    raw = base64.b64decode(data["image/gif"])
    gif = Image.open(io.BytesIO(raw))
    if gif.size[0] <= max_width:
        return 0
    frames = [f.convert("L").resize((f.size[0] // 2, f.size[1] // 2), Image.LANCZOS).quantize(colors=32)
              for f in ImageSequence.Iterator(gif)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], loop=0, optimize=True,
                   duration=gif.info.get("duration", 500))
    if buf.tell() >= len(raw):
        return 0
    data["image/gif"] = base64.b64encode(buf.getvalue()).decode("ascii")
    return len(raw) - buf.tell()


def cmd_shrink(names: list[str]) -> int:
    paths = select(names)
    if paths is None:
        return 2
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        saved = shrink_images(nb)
        nbformat.write(nb, path)
        print(f"{path.name}: {saved / 1024:.0f} KiB saved, now {path.stat().st_size / 1024:.0f} KiB")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sync", help="set-up cells, nav cells and the README index")
    s.add_argument("--check", action="store_true", help="change nothing; exit 1 if out of date")
    st = sub.add_parser("student", help="write student copies")
    st.add_argument("--out", type=Path, default=ROOT / "student")
    r = sub.add_parser("run", help="execute notebooks and record their run time")
    r.add_argument("--mode", choices=("fast", "full"), required=True)
    r.add_argument("names", nargs="*", help="notebook file names or numbers (default: all)")
    sh = sub.add_parser("shrink", help="re-encode the PNG outputs as palette PNGs (smaller notebooks)")
    sh.add_argument("names", nargs="*", help="notebook file names or numbers (default: all)")
    args = parser.parse_args(argv)
    if args.command == "shrink":
        return cmd_shrink(args.names)
    if args.command == "sync":
        return cmd_sync(args.check)
    if args.command == "student":
        return cmd_student(args.out)
    return cmd_run(args.mode, args.names)


if __name__ == "__main__":
    sys.exit(main())
