"""A pytest plugin: nbval's kernel runs each notebook once, and every mutation of `tests/mutations.py` in it.

Before nbval executes a code cell that holds a mutation site, the plugin sends the kernel the altered cell and
the check cells right after it, run on a copy of the kernel's namespace (`dict(globals())`, as a fresh
notebook run would see it at that point). The trial must end in AssertionError. After the cell itself has
run, a mutation that passed its checks, or a trial that broke with another error (a broken harness must not
pass), fails that cell's test with what was altered. `make notebooks` and `make test` load it with `-p`.

`GAN_HELPERS_MUTATIONS` may name a JSON file of another table (used by the plugin's own test).
"""

from __future__ import annotations

import ast
import functools
import json
import os
from pathlib import Path

import pytest

from tests import mutations

TRIAL = '''
def _gh_mutation_trial(_gh_cells, _gh_label):
    _gh_space = dict(globals())
    try:
        for _gh_k, _gh_src in enumerate(_gh_cells):
            exec(compile(_gh_src, f"{_gh_label} [{_gh_k}]", "exec"), _gh_space)
    except AssertionError:
        return "caught"
    except BaseException as _gh_e:      # noqa: BLE001 - reported, never swallowed
        return f"broke with {type(_gh_e).__name__}: {_gh_e}"
    return "survived"
'''


@functools.cache
def _sites(path: Path) -> dict[int, list[tuple[str, str]]]:
    table = os.environ.get("GAN_HELPERS_MUTATIONS")
    return mutations.sites(path, json.loads(Path(table).read_text()) if table else None)


def _is_nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell_num")


def _run_in_kernel(kernel, code: str, timeout: float) -> str:
    """Run code in the kernel; return the text value of `_gh_mutation_result` afterwards."""
    msg_id = kernel.kc.execute(code, store_history=False, allow_stdin=False, stop_on_error=False,
                               user_expressions={"r": "_gh_mutation_result"})
    while True:
        reply = kernel.get_message(stream="shell", timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    kernel.await_idle(msg_id, timeout)          # drain this run's outputs (figures, prints) from iopub
    content = reply["content"]
    if content["status"] != "ok":
        return f"broke with {content.get('ename')}: {content.get('evalue')}"
    value = content["user_expressions"]["r"]
    if value.get("status") != "ok":
        return "broke: no result came back from the kernel"
    return ast.literal_eval(value["data"]["text/plain"])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """nbval starts a notebook's kernel in its first cell's set-up: start it in fast mode."""
    if not (_is_nbval_cell(item) and item.parent.kernel is None):
        return (yield)
    old = os.environ.get("GAN_HELPERS_FAST")
    os.environ.setdefault("GAN_HELPERS_FAST", "1")
    try:
        return (yield)
    finally:
        if old is None:
            os.environ.pop("GAN_HELPERS_FAST", None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    if not _is_nbval_cell(item):
        return (yield)
    path = Path(str(item.fspath))
    here = _sites(path).get(item.cell_num, [])
    outcomes = []
    if here:
        cells = mutations.code_cells(path)
        checks = mutations.checks_after(cells, item.cell_num)
        timeout = item.config.option.nbval_cell_timeout
        kernel = item.parent.kernel
        _run_in_kernel(kernel, TRIAL + "_gh_mutation_result = ''", timeout)
        for old, new in here:
            trial = [cells[item.cell_num][0].replace(old, new), *checks]
            label = f"{path.name} cell {item.cell_num} altered"
            code = f"_gh_mutation_result = _gh_mutation_trial({trial!r}, {label!r})"
            outcomes.append((new, _run_in_kernel(kernel, code, timeout)))
    result = yield                                # the cell as written, run by nbval
    bad = [f"{new!r}: {outcome}" for new, outcome in outcomes if outcome != "caught"]
    if bad:
        raise AssertionError(f"{len(bad)} of {len(outcomes)} altered formulas in {path.name} cell "
                             f"{item.cell_num} were not caught by their checks:\n" + "\n".join(bad))
    return result
