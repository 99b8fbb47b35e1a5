"""Architecture checks on ``gan_helpers``'s source, read with ``ast`` only (nothing is imported).

1. No import cycle between the package's modules, counting imports inside functions (lazy imports):
   a lazy import hides a cycle at import time but still ties the two modules together.
2. No private (``_name``) attribute of TensorFlow, Keras or any other library: those change without
   notice between releases. ``_name``s that ``gan_helpers`` defines itself are fine.
"""

from __future__ import annotations

import ast
import functools
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gan_helpers"

# Private attributes of other libraries that the package may use anyway, name -> upstream issue URL.
# An entry needs the URL of the upstream issue asking for a public API, and a test that fails if the
# attribute disappears (so that a release that drops it is caught by the suite, not by a notebook).
ALLOWED_PRIVATE: dict[str, str] = {}

_ATTRIBUTE_FUNCTIONS = {"getattr", "hasattr", "setattr", "delattr"}


# ----------------------------------------------------------------------------- reading the package
def python_files(package_dir: Path) -> list[Path]:
    """Every ``.py`` file under ``package_dir``, subpackages included, in a fixed order."""
    return sorted(path for path in package_dir.rglob("*.py")
                  if not any(part.startswith(".") or part == "__pycache__"
                             for part in path.relative_to(package_dir).parts))


@functools.cache
def _parse_source(source: str) -> ast.Module:
    """The syntax tree of ``source``, kept: the tests read the same files several times."""
    return ast.parse(source)


def parse(path: Path) -> ast.Module:
    """The syntax tree of the file ``path`` (shared between calls: not to be modified)."""
    try:
        return _parse_source(path.read_text(encoding="utf-8"))
    except SyntaxError as error:
        error.filename = str(path)
        raise


def module_name(package_dir: Path, path: Path) -> str:
    """The dotted module name of ``path``; a package's ``__init__.py`` is the package itself."""
    parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    """Whether an ``if`` tests ``TYPE_CHECKING`` (bare or as ``typing.TYPE_CHECKING``)."""
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under ``node``, at any depth, except in ``if TYPE_CHECKING:`` bodies."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
        return
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        children: Iterable[ast.AST] = node.orelse
    else:
        children = ast.iter_child_nodes(node)
    for child in children:
        yield from _imports(child)


def _known(name: str, modules: set[str]) -> str | None:
    """The longest prefix of dotted ``name`` that is one of ``modules``, or None."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return None


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool,
             modules: set[str]) -> Iterator[str]:
    """The package modules that one import statement in ``module`` loads."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if (target := _known(alias.name, modules)) is not None:
                yield target
        return
    if node.level:  # relative: `from . import x`, `from ..y import z`
        package = module.split(".") if is_package else module.split(".")[:-1]
        if node.level > len(package):
            raise ValueError(f"{module}: relative import beyond the top-level package")
        base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    if (owner := _known(base, modules)) is None:
        return
    for alias in node.names:  # `from .x import y` loads x.y when y is a submodule, else x
        yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else owner


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the package modules it imports, lazy imports included, ``if TYPE_CHECKING:`` excluded."""
    files = {module_name(package_dir, path): path for path in python_files(package_dir)}
    modules = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        graph[module] = {target for node in _imports(parse(path))
                         for target in _targets(node, module, is_package, modules) if target != module}
    return graph


# ----------------------------------------------------------------------------- cycles
def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, …, a]`` (depth-first, in sorted order), or None if it has none."""
    state: dict[str, str] = {}  # "open" while on the current path, then "done"
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def _reachable(graph: dict[str, set[str]], starts: Iterable[str]) -> set[str]:
    """Every node reached from ``starts`` by one edge or more (``starts`` count only if reached)."""
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, ()))
    return seen


def cyclic_modules(graph: dict[str, set[str]]) -> set[str]:
    """The nodes of ``graph`` that lie on at least one cycle."""
    return {node for node in graph if node in _reachable(graph, graph[node])}


def _short(module: str, root: str) -> str:
    """``module`` without the ``root.`` prefix, for messages."""
    return module.removeprefix(f"{root}.")


def _relative_import(source: str, is_package: bool, target: str) -> str:
    """The ``from .… import …`` statement by which module ``source`` imports module ``target``."""
    package = source.split(".") if is_package else source.split(".")[:-1]
    *parent, name = target.split(".")
    common = 0
    while common < min(len(package), len(parent)) and package[common] == parent[common]:
        common += 1
    return f"from {'.' * (len(package) - common + 1)}{'.'.join(parent[common:])} import {name}"


# ----------------------------------------------------------------------------- private attributes
def _private(name: str) -> bool:
    """Whether ``name`` is private: a leading underscore, and not a dunder like ``__name__``."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_own_object(node: ast.expr) -> bool:
    """Whether ``node`` is ``self``, ``cls`` or ``super()``: their private attributes are the class's own."""
    return ((isinstance(node, ast.Name) and node.id in {"self", "cls"})
            or (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"))


def defined_private_names(package_dir: Path) -> set[str]:
    """The ``_name``s the package defines: modules, functions, classes, variables, arguments, aliases
    and attributes set on ``self``/``cls`` (``obj._x = …`` on another object defines nothing)."""
    names = {part for path in python_files(package_dir)
             for part in path.relative_to(package_dir).with_suffix("").parts}
    for path in python_files(package_dir):
        for node in ast.walk(parse(path)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias) and node.asname:
                names.add(node.asname)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                names.add(node.name)
            elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                  and _is_own_object(node.value)):
                names.add(node.attr)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr"
                  and len(node.args) >= 2 and _is_own_object(node.args[0])
                  and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
                names.add(node.args[1].value)
    return {name for name in names if _private(name)}


def private_attribute_uses(package_dir: Path, allowed: Iterable[str] = ()) -> list[str]:
    """``file:line  .attr`` for each private attribute the package reads or sets (``obj._x``,
    ``getattr(obj, "_x")``…) on an object that is not its own, when it does not define ``_x`` itself."""
    ok = defined_private_names(package_dir) | set(allowed)
    found = []
    for path in python_files(package_dir):
        for node in ast.walk(parse(path)):
            if isinstance(node, ast.Attribute):
                owner, attr = node.value, node.attr
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id in _ATTRIBUTE_FUNCTIONS and len(node.args) >= 2
                  and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
                owner, attr = node.args[0], node.args[1].value
            else:
                continue
            # a read of self._x counts too: in a Keras subclass that is where Keras' own private
            # attributes (self._distribute_strategy…) would be read; the package's own are in ``ok``
            is_super = _is_own_object(owner) and isinstance(owner, ast.Call)
            if _private(attr) and attr not in ok and not is_super:
                found.append((path.relative_to(package_dir.parent).as_posix(), node.lineno, attr))
    return [f"{file}:{line}  .{attr}" for file, line, attr in sorted(found)]


def _write_package(root: Path, files: dict[str, str]) -> Path:
    """Write a package ``root`` of ``{relative path: source}``, with empty ``__init__.py``s where missing."""
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    return root


# ----------------------------------------------------------------------------- tests: import cycles
def test_package_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    assert len(graph) > 10 and "gan_helpers.training" in graph  # the scan did find the package
    cycle = find_cycle(graph)
    assert cycle is None, (
        "import cycle (lazy imports count): " + " → ".join(_short(m, PACKAGE.name) for m in cycle)
        + "\nall modules on a cycle: "
        + ", ".join(sorted(_short(m, PACKAGE.name) for m in cyclic_modules(graph))))


def test_find_cycle_on_a_small_graph():
    graph = {"a": {"b"}, "b": {"c"}, "c": set()}
    assert find_cycle(graph) is None and cyclic_modules(graph) == set()
    graph["c"] = {"a"}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and len(cycle) == 4 and set(cycle) == {"a", "b", "c"}
    assert cyclic_modules(graph) == {"a", "b", "c"}
    assert find_cycle({"a": {"b"}, "b": {"b2"}, "b2": {"b"}}) == ["b", "b2", "b"]


def test_the_cycle_check_fails_when_a_back_edge_is_added(tmp_path):
    copy = tmp_path / PACKAGE.name
    for path in python_files(PACKAGE):
        (copy / path.relative_to(PACKAGE)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy / path.relative_to(PACKAGE))
    original = import_graph(copy)
    assert original == import_graph(PACKAGE)
    # Modules already on a cycle are left out, so that any cycle found below is the one added here
    # (with an acyclic package, as intended, nothing is left out).
    settled = set(original) - cyclic_modules(original) - {PACKAGE.name}
    edges = sorted((a, b) for a in settled for b in original[a] & settled
                   if "__main__" not in (a.rsplit(".", 1)[-1], b.rsplit(".", 1)[-1]))
    assert edges, "no import between two modules off every cycle"
    a, b = edges[0]  # a imports b; make b import a, lazily
    b_file = next(path for path in python_files(copy) if module_name(copy, path) == b)
    statement = _relative_import(b, b_file.name == "__init__.py", a)
    with b_file.open("a", encoding="utf-8") as f:
        f.write(f"\n\ndef _added_back_edge():\n    {statement}  # noqa: F401\n")
    mutated = import_graph(copy)
    assert mutated[b] == original[b] | {a}, statement
    cycle = find_cycle({m: mutated[m] & settled for m in settled})
    assert cycle is not None and {a, b} <= set(cycle), (statement, cycle)
    assert find_cycle(mutated) is not None


# ----------------------------------------------------------------------------- tests: the graph itself
@pytest.mark.parametrize("statement", ["from .b import f", "from . import b", "import pkg.b",
                                       "from pkg.b import f", "from pkg import b", "from .b import *"])
def test_import_graph_sees_lazy_imports(tmp_path, statement):
    package = _write_package(tmp_path / "pkg", {
        "a.py": f"def g():\n    {statement}\n    return 1\n",
        "b.py": "def f():\n    return 2\n",
    })
    assert import_graph(package) == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": set()}


def test_import_graph_resolves_subpackages_and_skips_type_checking(tmp_path):
    package = _write_package(tmp_path / "pkg", {
        "top.py": "X = 1\n",
        "other.py": "Y = 2\n",
        "sub/__init__.py": "from .leaf import Z\n",
        "sub/leaf.py": ("from typing import TYPE_CHECKING\n\nfrom .. import top\nfrom ..sub import leaf2\n"
                        "import pkg.other as o\nZ = 3\n\nif TYPE_CHECKING:\n    from .. import guarded\n"
                        "else:\n    from . import leaf3\n"),
        "sub/leaf2.py": "from pkg.sub import leaf\n",
        "sub/leaf3.py": "import os\n\nimport numpy\n\nfrom . import leaf3\n",  # importing itself is no edge
        "guarded.py": "from .sub import leaf\n",
    })
    assert import_graph(package) == {
        "pkg": set(), "pkg.top": set(), "pkg.other": set(), "pkg.guarded": {"pkg.sub.leaf"},
        "pkg.sub": {"pkg.sub.leaf"}, "pkg.sub.leaf2": {"pkg.sub.leaf"}, "pkg.sub.leaf3": set(),
        "pkg.sub.leaf": {"pkg.top", "pkg.sub.leaf2", "pkg.other", "pkg.sub.leaf3"},
    }


# ----------------------------------------------------------------------------- tests: private attributes
def test_package_uses_no_private_tensorflow_or_keras_attribute():
    offenders = private_attribute_uses(PACKAGE, ALLOWED_PRIVATE)
    assert not offenders, ("private attributes of other libraries (make them public API calls, or see "
                           "ALLOWED_PRIVATE):\n" + "\n".join(offenders))


def test_private_attribute_scan_flags_foreign_names_only(tmp_path):
    package = _write_package(tmp_path / "pkg", {
        "helpers.py": "def _helper():\n    return 1\n",
        "uses.py": (
            "from . import helpers as _helpers\n\n\n"
            "class Thing:\n"
            "    def __init__(self):\n        self._x = 1\n\n"
            "    def run(self, opt, s, other, fn):\n"
            "        owner = opt._distribution_strategy\n"
            "        multi = getattr(s, \"_in_multi_worker_mode\", None)\n"
            "        fn._omit_frequent_tracing_warning = True\n"
            "        keras_own = self._distribute_strategy\n"
            "        return (keras_own, self._x, other._x, super()._y, _helpers._helper(), owner, multi,\n"
            "                getattr(other, \"_helper\"), other.__class__, getattr(s, \"__name__\", \"\"))\n"
        ),
    })
    assert private_attribute_uses(package) == [
        "pkg/uses.py:9  ._distribution_strategy",
        "pkg/uses.py:10  ._in_multi_worker_mode",
        "pkg/uses.py:11  ._omit_frequent_tracing_warning",
        "pkg/uses.py:12  ._distribute_strategy",
    ]
    assert private_attribute_uses(package, allowed={"_in_multi_worker_mode", "_distribute_strategy"}) == [
        "pkg/uses.py:9  ._distribution_strategy", "pkg/uses.py:11  ._omit_frequent_tracing_warning"]


# ------------------------------------------------------------------ the layers of CONTRIBUTING.md
CONTRIBUTING = PACKAGE.parent / "CONTRIBUTING.md"


def declared_layers(text: str) -> dict[str, int]:
    """The layer table of CONTRIBUTING.md: top-level module (or subpackage) → layer."""
    import re

    return {name.rstrip("/"): int(layer)
            for layer, name in re.findall(r"^\| (\d+) \| `([\w/]+)` \|", text, re.MULTILINE)}


def _top(module: str) -> str:
    """``gan_helpers.adversarial.threat`` → ``adversarial``; the package itself → ``""``."""
    rel = module.removeprefix("gan_helpers").lstrip(".")
    return rel.split(".")[0]


def layer_violations(graph: dict[str, set[str]], layers: dict[str, int]) -> list[str]:
    """Every import that does not go to a strictly lower layer (a subpackage's own modules may import
    each other: the cycle test covers them). The package's ``__init__`` sits below every layer."""
    def layer(module: str) -> int:
        return -1 if _top(module) == "" else layers[_top(module)]

    return sorted(f"{_top(a)} (layer {layer(a)}) imports {_top(b)} (layer {layer(b)})"
                  for a, targets in graph.items() for b in targets
                  if _top(a) != _top(b) and not layer(b) < layer(a))


def test_every_module_is_in_the_layer_table():
    layers = declared_layers(CONTRIBUTING.read_text())
    modules = {_top(m) for m in import_graph(PACKAGE)} - {""}
    assert not modules - set(layers), f"add to CONTRIBUTING.md's layer table: {sorted(modules - set(layers))}"
    assert not set(layers) - modules, f"gone from the package: {sorted(set(layers) - modules)}"


def test_every_import_goes_to_a_lower_layer():
    bad = layer_violations(import_graph(PACKAGE), declared_layers(CONTRIBUTING.read_text()))
    assert not bad, "imports against the layers of CONTRIBUTING.md:\n" + "\n".join(bad)


def test_layer_check_catches_an_import_upwards_or_sideways():
    layers = {"models": 1, "metrics": 1, "training": 2, "adversarial": 0}
    graph = {"gan_helpers.training": {"gan_helpers.models"},
             "gan_helpers.adversarial.attacks": {"gan_helpers.adversarial.threat"}}
    assert layer_violations(graph, layers) == []
    graph["gan_helpers.models"] = {"gan_helpers.training", "gan_helpers.metrics"}
    assert layer_violations(graph, layers) == ["models (layer 1) imports metrics (layer 1)",
                                               "models (layer 1) imports training (layer 2)"]
