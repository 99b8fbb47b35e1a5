"""Sphinx configuration of the course site (`make book`): Sphinx + MyST-NB + sphinx-book-theme,
the engine of Jupyter Book 1, configured directly.

`scripts/book.py` stages the sources into build/book/src (this file and _static/, README.md as index.md,
the notebooks with their stored outputs, a solutions appendix) and runs sphinx-build on that folder.
Nothing is fetched from a network, at build time or at reading time: the theme's assets come with the pip
packages and MathJax 3 with `django-static-mathjax` (copied into _static/mathjax).
"""

project = "Adversarial learning: GANs and adversarial examples in Keras 3"
author = "the gan-tutorial authors"
copyright = "the gan-tutorial authors, MIT licence"  # noqa: A001 (Sphinx's name)
REPO_URL = "https://github.com/adversarial-learning/gan-tutorial"

extensions = ["myst_nb", "sphinx.ext.mathjax"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# The committed outputs are the content: never execute.
nb_execution_mode = "off"
# nbconvert and MyST-NB's defaults drop image/gif (jupyter/nbconvert#2270): show it, above text/plain.
nb_mime_priority_overrides = [("html", "image/gif", 25), ("readthedocs", "image/gif", 25)]
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure"]

# MathJax 3.2.2 from the pip package django-static-mathjax (its files only: Django is not needed), copied
# next to the pages by scripts/book.py: nothing is fetched from a CDN. Its TeX input numbers equations
# with \tag{n}, as the notebooks do, and its CommonHTML output brings its own web fonts.
mathjax_path = "mathjax/tex-chtml.js"
html_theme = "sphinx_book_theme"
html_title = "Adversarial learning"
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_last_updated_fmt = None
html_copy_source = True  # the download button offers each notebook as .ipynb
html_show_sourcelink = False
html_theme_options = {
    "repository_url": REPO_URL,
    "repository_branch": "main",
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com", "notebook_interface": "classic"},
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
}
html_context = {"default_mode": "light"}
