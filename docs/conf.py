"""Sphinx configuration of the skaae documentation.

Build from the repository root (or, with ``.`` for ``docs``, from ``docs/``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m sphinx -W --keep-going -b html -D plot_gallery=0 docs docs/_build/html

The second command does not run the gallery examples.
"""

import os
import re
import sys
from pathlib import Path

# Paths are taken from this file, not from the working directory, so that the
# build works from the repository root and from docs/ alike.
DOCS_DIR = Path(__file__).resolve().parent
REPO_ROOT = DOCS_DIR.parent
sys.path.insert(0, str(REPO_ROOT))

import skaae  # noqa: E402

# The benchmark pages are written from the results files: one page per benchmark
# and one per table (benchmarks/results/<benchmark>/<experiment>.md, with its
# figures), into benchmark_results/, which git ignores. benchmarks.rst includes
# the toctree written beside them.
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from run import write_docs_pages  # noqa: E402

write_docs_pages(DOCS_DIR / "benchmark_results")

# The gallery examples read MNIST from SKAAE_MNIST, else from
# ../shared/datasets/mnist.npz relative to the working directory. sphinx-gallery
# runs each example from its own folder, where that relative path misses, so
# pass the copy beside the repository root through SKAAE_MNIST when there is
# one (a value set by the user wins).
_SHARED_MNIST = REPO_ROOT.parent / "shared" / "datasets" / "mnist.npz"
if _SHARED_MNIST.is_file():
    os.environ.setdefault("SKAAE_MNIST", str(_SHARED_MNIST))

# -- Project information -----------------------------------------------------

project = "skaae"
author = "skaae developers"
copyright = "skaae developers"
version = skaae.__version__
release = skaae.__version__

# -- General configuration ---------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    # Only so that the benchmark result tables (.md) can be included.
    "myst_parser",
]
# No sphinx.ext.intersphinx: the build must work offline, and fetching the
# inventories of numpy, scikit-learn or torch would fail with a warning.

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_templates",
    # The gallery's sources; sphinx-gallery turns them into auto_examples/.
    "examples",
    "**.ipynb_checkpoints",
]

# The benchmark result tables are written by the benchmark scripts, whose
# headings go from "#" straight to "###" in places. That is valid Markdown and
# renders correctly; MyST only reports it as a style issue ("Non-consecutive
# header level increase"), and the committed results files are not edited by
# hand.
suppress_warnings = ["myst.header"]

default_role = "literal"

# -- autodoc / autosummary / numpydoc ---------------------------------------

autosummary_generate = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False


def _defining_module(obj):
    """Module that defines a class member (a property's getter for properties)."""
    obj = getattr(obj, "fget", obj)
    return getattr(obj, "__module__", None)


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document only the members that skaae itself defines.

    The class pages list inherited members, so that e.g. ``GaussianPrior``
    shows ``Prior.sample``. What the estimators inherit from scikit-learn's
    mixins (``get_params``, ``set_output``, ``fit_transform``, ``score``, the
    generated ``set_{method}_request`` of metadata routing, ...) is documented
    by scikit-learn, and those docstrings link to pages of scikit-learn's own
    documentation that do not exist here.
    """
    if what != "class":
        return None
    if re.fullmatch(r"set_\w+_request", name):
        return True
    module = _defining_module(obj)
    if module is not None and not module.startswith("skaae"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)


# -- sphinx-gallery ----------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "doc_module": ("skaae",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"skaae": None},
    "abort_on_example_error": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "min_reported_time": 1,
}

# -- HTML output -------------------------------------------------------------

html_theme = "alabaster"
html_title = f"skaae {release}"
html_theme_options = {
    "description": "Adversarial autoencoders as scikit-learn estimators",
    "fixed_sidebar": False,
}
html_static_path = []
