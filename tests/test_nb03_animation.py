"""Notebook 03's animation must play wherever the notebook is read: in Jupyter and Colab, on GitHub, and in
the HTML that nbconvert (and nbviewer) make, which skip ``image/gif`` (jupyter/nbconvert#2270)."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from gan_helpers import toy

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_toy_gan_mode_collapse.ipynb"
DATA_URL = re.compile(r'src="data:image/[a-z]+;base64,([A-Za-z0-9+/=\s]+)"')


def _gif(frames: int = 3) -> bytes:
    images = [Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def _html(nb) -> str:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nb)
    return body


def _animated_gifs(html: str) -> list[int]:
    """The frame counts of the animated GIFs embedded in ``html`` as data URLs."""
    counts = []
    for encoded in DATA_URL.findall(html):
        data = base64.b64decode("".join(encoded.split()))
        if data[:6] in (b"GIF87a", b"GIF89a"):
            counts.append(Image.open(io.BytesIO(data)).n_frames)
    return [n for n in counts if n > 1]


def test_gif_display_data_survives_nbconvert_html():
    gif = _gif(3)
    cell = nbformat.v4.new_code_cell("gh.toy.show_gif(gif)")
    cell.outputs = [nbformat.v4.new_output("display_data", data=toy.gif_display_data(gif, frames=3))]
    html = _html(nbformat.v4.new_notebook(cells=[cell]))
    assert _animated_gifs(html) == [3]
    assert "IPython.core.display.Image object" not in html


def test_gif_display_data_refuses_other_bytes():
    with pytest.raises(ValueError, match="GIF"):
        toy.gif_display_data(b"\x89PNG\r\n\x1a\n")


def test_notebook_03_animation_plays_in_nbconvert_html():
    """The committed full-mode outputs: the run's animation is in the HTML, as a GIF of many frames."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "gh.toy.show_gif(" in c.source)
    assert cell.outputs, "the animation cell has no outputs: re-execute notebook 03"
    frames = _animated_gifs(_html(nb))
    assert frames and max(frames) > 1, "no animated GIF in notebook 03's HTML"


def test_the_full_run_keeps_the_animation_when_it_shrinks_images():
    """`scripts/notebooks.py run --mode full` re-encodes PNG outputs as palette PNGs; a GIF stored under
    ``image/png`` must pass through untouched, or the committed animation is its first frame."""
    import importlib.util

    script = NOTEBOOK.parents[1] / "scripts" / "notebooks.py"
    spec = importlib.util.spec_from_file_location("notebook_tools", script)
    tools = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tools)
    cell = nbformat.v4.new_code_cell("show_gif()")
    cell.outputs = [nbformat.v4.new_output("display_data", data=toy.gif_display_data(_gif(4)))]
    nb = nbformat.v4.new_notebook(cells=[cell])
    tools.shrink_images(nb)
    assert _animated_gifs(_html(nb)) == [4]
