"""The course site (`make book`) opened in a real browser: headless Chromium, driven by Playwright.

One test builds the site once (scripts/book.py, from the committed notebooks' stored outputs), serves it
on 127.0.0.1 and opens every page once. Per page it checks: no console error and no failed request; no
request leaves the machine; every link inside the site leads to a page (and anchor) that exists; every
maths block was typeset by MathJax and no raw `$$` is left; every image of the notebook's outputs is on
the page and decodes, and the GIFs have more than one frame; the check and solution cells are collapsed;
an "Open in Colab" link to the notebook; previous/next links in reading order; no horizontal overflow at
phone width (390 px); every solution in the appendix. Then the search finds "discriminator" on more than
one page.

Screenshots go to build/book/screenshots (ignored by git), for a person to look at: the top of each page
and its section with the most display maths, each GIF, and three pages at phone width.

It needs the `book` extra (Sphinx, MyST-NB, sphinx-book-theme, jupyter-server-mathjax, Playwright) and a
Chromium: Debian's `apt-get install chromium`, or the path in BOOK_CHROMIUM. Without one it is skipped,
and pytest's summary (-ra) says why. Playwright's own browser download is never used.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 1600}
PHONE_PAGES = ("index.html", "notebooks/02_gan_objective_derivation.html",
               "notebooks/03_toy_gan_mode_collapse.html")
COLAB = "https://colab.research.google.com/github/adversarial-learning/gan-tutorial/blob/main/notebooks/"


def find_chromium() -> str | None:
    named = os.environ.get("BOOK_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium for the book's browser test: apt-get install chromium (or set BOOK_CHROMIUM)",
)

# After MathJax has typeset the page: the display/inline maths nodes that have no typeset output, the
# TeX errors, the displays that stick out of their column (cut off), and the page's text outside code
# with a `$$` or a `\[` left in it.
MATH_REPORT = r"""() => {
  const maths = [...document.querySelectorAll('.bd-article .math')];
  const raw = maths.filter(m => !m.querySelector('mjx-container'));
  const errors = [...document.querySelectorAll('mjx-merror, .bd-article [data-mjx-error]')];
  const article = document.querySelector('.bd-article').cloneNode(true);
  article.querySelectorAll('pre, code, script, mjx-assistive-mml').forEach(n => n.remove());
  const text = article.innerText;
  const leftover = (text.match(/.{0,40}(\$\$|\\\[|\\\().{0,40}/g) || []);
  const clipped = [...document.querySelectorAll('.bd-article div.math')].filter(d => {
    const box = d.getBoundingClientRect(), c = d.querySelector('mjx-container');
    if (!c) return false;
    const r = c.getBoundingClientRect();
    return r.left < box.left - 1 || r.right > box.right + 1;
  });
  return {count: maths.length, raw: raw.map(m => m.textContent.slice(0, 80)),
          clipped: clipped.map(m => m.textContent.slice(0, 80)),
          errors: errors.map(e => e.textContent.slice(0, 80)), leftover};
}"""

# Resolves once MathJax 3 has typeset the page (pages without maths do not load it).
MATH_DONE = r"""() => new Promise(done => {
  if (!document.querySelector('script[src*="tex-chtml.js"]')) return done(false);
  const wait = () => (window.MathJax && MathJax.startup && MathJax.startup.promise)
    ? MathJax.startup.promise.then(() => done(true)) : setTimeout(wait, 50);
  wait();
})"""

# Where, in page coordinates, the section (h2) that holds the most display maths is (null when none has any).
MATHS_SECTION = r"""() => {
  const sections = [...document.querySelectorAll('.bd-article section section')]
    .filter(s => s.parentElement.closest('section') && !s.parentElement.closest('section section'));
  let best = null, most = 0;
  for (const s of sections) {
    const n = s.querySelectorAll('div.math').length;
    if (n > most) { best = s; most = n; }
  }
  if (!best) return null;
  const r = best.getBoundingClientRect();
  return {y: r.top + window.scrollY, height: r.height};
}"""

IMAGES = r"""() => [...document.querySelectorAll('.bd-article img')].map(img => ({
  src: img.getAttribute('src'), output: !!img.closest('.cell_output'),
  complete: img.complete, width: img.naturalWidth, height: img.naturalHeight}))"""


@pytest.fixture(scope="module")
def site():
    pytest.importorskip("sphinx", reason="the book extra is not installed: pip install -e '.[book]'")
    pytest.importorskip("myst_nb", reason="the book extra is not installed: pip install -e '.[book]'")
    pytest.importorskip("playwright", reason="the book extra is not installed: pip install -e '.[book]'")
    spec = importlib.util.spec_from_file_location("book_script", ROOT / "scripts" / "book.py")
    book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(book)
    if os.environ.get("BOOK_REUSE") and (book.HTML / "index.html").exists():
        print("\nBOOK_REUSE: the site already in build/book/html, not rebuilt")
    else:
        seconds = book.build(strict=True)
        print(f"\nbook built in {seconds:.0f} s")
    handler = functools.partial(QuietHandler, directory=str(book.HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield book, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def staged_outputs(path: Path) -> dict:
    """What the pages must show: the staged notebook's image outputs, hidden code cells and solutions."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    images = gifs = hidden = solutions = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        hidden += bool(cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"))
        solutions += "solution" in cell.get("metadata", {}).get("tags", [])
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if any(k.startswith("image/") for k in data):
                images += 1
                # a GIF by its bytes (base64 of "GIF8"), whatever its MIME type: 03 stores its animation
                # under image/png so that nbconvert shows it
                gifs += any(k.startswith("image/") and "".join(v).startswith("R0lGOD")
                            for k, v in data.items())
    return {"images": images, "gifs": gifs, "hidden": hidden, "solutions": solutions}


def anchors_of(html_file: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html_file.read_text(encoding="utf-8")))


def test_book_in_chromium(site):
    from PIL import Image
    from playwright.sync_api import sync_playwright

    book, base = site
    html_dir = book.HTML
    shots = book.OUT / "screenshots"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    notebooks = [p.stem for p in book.notebooks(book.SRC / "notebooks")]
    pages = ["index.html"] + [f"notebooks/{n}.html" for n in notebooks] + ["solutions.html"]
    problems: list[str] = []
    anchor_cache: dict[Path, set[str]] = {}
    start = time.perf_counter()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--disable-gpu"])
        context = browser.new_context(viewport=DESKTOP)
        outside: list[str] = []

        def route(r):
            host = urlparse(r.request.url).hostname
            if r.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(f"console error: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url} ({r.failure})"))
        page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)

        for rel in pages:
            t_page = time.perf_counter()
            errors.clear()
            outside.clear()
            page.set_viewport_size(DESKTOP)
            page.goto(base + rel, wait_until="load")
            page.evaluate(MATH_DONE)
            where = f"{rel}:"
            problems += [f"{where} {e}" for e in errors]
            problems += [f"{where} a request left the machine: {u}" for u in outside]

            # links inside the site
            for href in page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)"):
                url = urlparse(href)
                if not href.startswith(base):
                    continue
                target = html_dir / unquote(url.path[len(urlparse(base).path):] or "index.html")
                if target.is_dir():
                    target = target / "index.html"
                if not target.exists():
                    problems.append(f"{where} broken link {href}")
                elif url.fragment and target.suffix == ".html":
                    if target not in anchor_cache:
                        anchor_cache[target] = anchors_of(target)
                    if unquote(url.fragment) not in anchor_cache[target]:
                        problems.append(f"{where} link to a missing anchor {href}")

            # maths
            maths = page.evaluate(MATH_REPORT)
            problems += [f"{where} maths not typeset: {m!r}" for m in maths["raw"]]
            problems += [f"{where} TeX error: {m!r}" for m in maths["errors"]]
            problems += [f"{where} display maths sticks out of its column: {m!r}" for m in maths["clipped"]]
            problems += [f"{where} raw maths left in the text: {m!r}" for m in maths["leftover"]]

            # images
            images = page.evaluate(IMAGES)
            for img in images:
                if not (img["complete"] and img["width"] > 0 and img["height"] > 0):
                    problems.append(f"{where} image does not decode: {img['src']}")
            outputs = [img for img in images if img["output"]]
            out_gifs = []   # a GIF by its bytes, whatever the file's extension
            for img in outputs:
                file = html_dir / Path(urlparse(urljoin(base + rel, img["src"])).path).relative_to("/")
                if file.is_file() and file.read_bytes()[:4] == b"GIF8":
                    out_gifs.append(img)
                    with Image.open(file) as im:
                        if getattr(im, "n_frames", 1) < 2:
                            problems.append(f"{where} GIF is not animated: {img['src']}")

            if rel.startswith("notebooks/"):
                stem = Path(rel).stem
                want = staged_outputs(book.SRC / "notebooks" / f"{stem}.ipynb")
                if len(outputs) != want["images"]:
                    problems.append(f"{where} {len(outputs)} output images, the notebook {want['images']}")
                if len(out_gifs) != want["gifs"]:
                    problems.append(f"{where} {len(out_gifs)} GIFs, the notebook has {want['gifs']}")
                collapsed = page.eval_on_selector_all(
                    ".cell.tag_hide-input",
                    "cs => cs.map(c => { const d = c.querySelector('details');"
                    " const code = c.querySelector('.cell_input');"
                    " return !!d && !d.open && !!code && d.contains(code) && !code.checkVisibility(); })",
                )
                if len(collapsed) != want["hidden"] or not all(collapsed):
                    problems.append(f"{where} {sum(collapsed)} collapsed code cells of {want['hidden']}")
                colab = page.eval_on_selector_all(f'a[href^="{COLAB}{stem}.ipynb"]', "as => as.length")
                if not colab:
                    problems.append(f"{where} no Open-in-Colab link to {stem}.ipynb")
                i = notebooks.index(stem)
                prev_href = page.eval_on_selector_all("a.left-prev", "as => as.map(a => a.href)")
                next_href = page.eval_on_selector_all("a.right-next", "as => as.map(a => a.href)")
                want_prev = "index.html" if i == 0 else f"{notebooks[i - 1]}.html"
                want_next = "solutions.html" if i == len(notebooks) - 1 else f"{notebooks[i + 1]}.html"
                if not any(h.split("#")[0].endswith(want_prev) for h in prev_href):
                    problems.append(f"{where} previous link {prev_href}, expected {want_prev}")
                if not any(h.split("#")[0].endswith(want_next) for h in next_href):
                    problems.append(f"{where} next link {next_href}, expected {want_next}")

            # screenshots (of the viewport: full-page ones of the long notebooks take seconds each): the top
            # of the page, the section with the most display maths, each GIF
            name = rel.replace("/", "_").removesuffix(".html")
            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=str(shots / f"{name}.png"))
            box = page.evaluate(MATHS_SECTION)
            if box:
                page.evaluate(f"() => window.scrollTo(0, {max(box['y'] - 70, 0)})")
                page.screenshot(path=str(shots / f"{name}.maths.png"))
            for k, img in enumerate(out_gifs):
                gif = page.locator(f".cell_output img[src='{img['src']}']").first
                gif.scroll_into_view_if_needed()
                gif.screenshot(path=str(shots / f"{name}.gif{k + 1}.png"))

            if rel in PHONE_PAGES:
                page.set_viewport_size(PHONE)
                page.evaluate("() => window.scrollTo(0, 0)")
                page.wait_for_timeout(300)
                overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
                if overflow > 1:
                    problems.append(f"{where} at phone width the page is {overflow} px wider than the screen")
                page.screenshot(path=str(shots / f"{name}.phone.png"))
                box = page.evaluate(MATHS_SECTION)
                if box:
                    page.evaluate(f"() => window.scrollTo(0, {max(box['y'] - 60, 0)})")
                    page.screenshot(path=str(shots / f"{name}.phone.maths.png"))
            if rel == "solutions.html":
                blocks = page.eval_on_selector_all(".bd-article div.highlight", "ds => ds.length")
                want = sum(staged_outputs(p)["solutions"] for p in (book.SRC / "notebooks").glob("*.ipynb"))
                if blocks != want:
                    problems.append(f"{where} {blocks} solutions in the appendix, the notebooks have {want}")
            print(f"  {rel}: {time.perf_counter() - t_page:.1f} s")

        # search
        errors.clear()
        page.set_viewport_size(DESKTOP)
        page.goto(base + "search.html?q=discriminator", wait_until="load")
        page.wait_for_function(
            "() => /Search finished|did not match/"
            ".test(document.querySelector('#search-results')?.innerText || '')",
            timeout=60_000,
        )
        found = page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
        found_pages = {urlparse(h).path for h in found}
        if len(found_pages) < 2:
            problems.append(f"search: 'discriminator' on {len(found_pages)} page: {sorted(found_pages)}")
        problems += [f"search.html: {e}" for e in errors]
        page.screenshot(path=str(shots / "search.png"), full_page=False)
        browser.close()

    print(f"{len(pages)} pages opened in {time.perf_counter() - start:.0f} s; screenshots in {shots}")
    assert not problems, "\n".join(problems)
