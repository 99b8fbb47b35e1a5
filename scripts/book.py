"""Build the course site: the committed notebooks (with their stored outputs, never re-executed) and the
README as a static HTML site with search, maths and previous/next navigation.

    python scripts/book.py            # stage build/book/src, build build/book/html
    python scripts/book.py --serve    # the same, then serve it on http://127.0.0.1:8000

The engine is Sphinx + MyST-NB + sphinx-book-theme (Jupyter Book 1's engine), configured in book/conf.py.
Everything comes from installed packages (`pip install -e ".[book]"`); nothing is fetched from a network.

Staging copies, it never edits the sources:
- README.md becomes index.md; its links to files that are not pages of the site point to GitHub.
- each notebook keeps its cells and outputs; a cell whose source is hidden in Jupyter
  (`metadata.jupyter.source_hidden`: the check and solution cells) gets MyST-NB's `hide-input` tag, so
  its code is collapsed behind a toggle and its output stays visible;
- the Colab badge image is a local copy (no image is fetched while reading);
- solutions.md, an appendix, collects every cell tagged `solution`, under its exercise's heading.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
OUT = ROOT / "build" / "book"
SRC = OUT / "src"
HTML = OUT / "html"
REPO_URL = "https://github.com/adversarial-learning/gan-tutorial"
BADGE_URL = "https://colab.research.google.com/assets/colab-badge.svg"
LINK = re.compile(r"(\]\()([^)\s]+)(\))")


def notebooks(folder: Path | None = None) -> list[Path]:
    """The notebooks in reading order (their file names start with the number)."""
    return sorted((folder or ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def rewrite_links(text: str, where: str, pages: set[str]) -> str:
    """Relative links of a Markdown text found at repository folder `where` ("" or "notebooks"):
    a page of the site stays (README.md is index.md), anything else points to the file on GitHub."""

    def fix(m: re.Match) -> str:
        target = m.group(2)
        if re.match(r"^[a-z]+:|^#|^/", target):
            return m.group(0)
        path, _, anchor = target.partition("#")
        repo_path = Path(where, path).as_posix()
        parts: list[str] = []
        for p in repo_path.split("/"):
            if p == "..":
                parts = parts[:-1]
            elif p not in ("", "."):
                parts.append(p)
        repo_path = "/".join(parts)
        if repo_path == "README.md":
            repo_path = "index.md"
        if repo_path in pages:
            depth = len([p for p in where.split("/") if p])
            new = "../" * depth + repo_path
        else:
            new = f"{REPO_URL}/blob/main/{repo_path}"
        return m.group(1) + new + ("#" + anchor if anchor else "") + m.group(3)

    return LINK.sub(fix, text)


def badge(text: str, depth: int) -> str:
    return text.replace(BADGE_URL, "../" * depth + "_static/colab-badge.svg")


def exercise_title(cells: list[dict], index: int) -> str:
    """The exercise that a solution cell answers: the nearest "**Exercise N.** ..." line above it, or else
    the nearest heading (other than a "Solutions" section's)."""
    for cell in reversed(cells[:index]):
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        bold = re.findall(r"^\*\*(Exercise[^*]*?)\.?\*\*\s*(.*)$", text, flags=re.M)
        if bold:
            name, rest = bold[-1]
            return f"{name}: {rest.strip()}" if rest.strip() else name
        headings = [h.strip() for h in re.findall(r"^#{2,4}\s+(.+)$", text, flags=re.M)]
        headings = [h for h in headings if h.lower().rstrip(".") not in ("solutions", "solution")]
        if headings:
            return headings[-1]
    return "Exercise"


def notebook_title(nb: dict, fallback: str) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            m = re.search(r"^#\s+(.+)$", "".join(cell["source"]), flags=re.M)
            if m:
                return m.group(1).strip()
    return fallback


def stage(folder: Path | None = None) -> None:
    """Write build/book/src from the repository's files (the notebooks from `folder`, if given)."""
    if SRC.exists():
        shutil.rmtree(SRC)
    (SRC / "notebooks").mkdir(parents=True)
    shutil.copy(BOOK / "conf.py", SRC / "conf.py")
    shutil.copytree(BOOK / "_static", SRC / "_static")
    # MathJax 3 (its es5 bundle and fonts) from django-static-mathjax; its `mathjax` module imports nothing
    mathjax = importlib.util.find_spec("mathjax")
    es5 = Path(mathjax.origin).parent / "static" / "mathjax" / "es5" if mathjax and mathjax.origin else None
    if es5 is None or not (es5 / "tex-chtml.js").exists():
        sys.exit("MathJax 3 is missing: pip install -e '.[book]' (it comes with django-static-mathjax)")
    shutil.copytree(es5, SRC / "_static" / "mathjax")

    nbs = notebooks(folder)
    pages = {"index.md", "solutions.md"} | {f"notebooks/{p.name}" for p in nbs}
    solutions: list[str] = []
    for path in nbs:
        nb = json.loads(path.read_text(encoding="utf-8"))
        nb = copy.deepcopy(nb)
        title = notebook_title(nb, path.stem)
        answers = []
        for i, cell in enumerate(nb["cells"]):
            meta = cell.setdefault("metadata", {})
            tags = meta.setdefault("tags", [])
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if cell["cell_type"] == "markdown":
                source = badge(rewrite_links(source, "notebooks", pages), 1)
            elif cell["cell_type"] == "code" and meta.get("jupyter", {}).get("source_hidden"):
                if "hide-input" not in tags:
                    tags.append("hide-input")
            if "solution" in tags:
                answers.append((exercise_title(nb["cells"], i), source))
            cell["source"] = source
        staged = json.dumps(nb, ensure_ascii=False, indent=1)
        (SRC / "notebooks" / path.name).write_text(staged, encoding="utf-8")
        if answers:
            solutions.append(f"## {title}\n\n[Back to the notebook](notebooks/{path.name})\n")
            for heading, code in answers:
                solutions.append(f"### {heading}\n\n```python\n{code.rstrip()}\n```\n")

    (SRC / "solutions.md").write_text(
        "# Appendix: solutions to the exercises\n\n"
        "Every coding exercise's solution, as it stands (collapsed) in its notebook and as the tests run it "
        "through the exercise's check. Try the exercise first: `make student` writes copies without them.\n\n"
        + "\n".join(solutions),
        encoding="utf-8",
    )

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    readme = badge(rewrite_links(readme, "", pages), 0)
    toc = "\n".join(f"notebooks/{p.stem}" for p in nbs)
    readme += (
        "\n\n```{toctree}\n:hidden:\n:caption: Notebooks\n\n" + toc + "\n```\n\n"
        "```{toctree}\n:hidden:\n:caption: Appendix\n\nsolutions\n```\n"
    )
    (SRC / "index.md").write_text(readme, encoding="utf-8")


def build(strict: bool = True, folder: Path | None = None) -> float:
    """Stage and build; returns the seconds it took. A Sphinx warning fails the build when `strict`."""
    start = time.perf_counter()
    stage(folder)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "auto", str(SRC), str(HTML)]
    if strict:
        cmd.insert(3, "-W")
    if HTML.exists():
        shutil.rmtree(HTML)
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def missing_packages() -> list[str]:
    return [name for name in ("sphinx", "myst_nb", "sphinx_book_theme", "mathjax")
            if importlib.util.find_spec(name) is None]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true", help="serve the built site on 127.0.0.1:PORT")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--notebooks", type=Path, help="the notebooks' folder (default: notebooks/)")
    parser.add_argument("--no-strict", action="store_true", help="do not turn Sphinx warnings into errors")
    args = parser.parse_args()
    if missing_packages():
        sys.exit(f"missing {', '.join(missing_packages())}: pip install -e '.[book]' (Python 3.11 or newer)")
    try:
        seconds = build(strict=not args.no_strict, folder=args.notebooks)
    except subprocess.CalledProcessError as err:
        sys.exit(f"the book did not build (sphinx-build exit status {err.returncode}): see above")
    print(f"built {HTML / 'index.html'} in {seconds:.0f} s")
    if args.serve:
        subprocess.run([sys.executable, "-m", "http.server", str(args.port), "--bind", "127.0.0.1",
                        "--directory", str(HTML)], check=False)


if __name__ == "__main__":
    main()
