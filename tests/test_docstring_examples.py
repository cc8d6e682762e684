"""Every ``>>>`` example in the docstrings of ``captum_ifim`` runs and prints what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType

import pytest
import torch

import captum_ifim

#: At least this many examples must run, so that a broken finder cannot pass on zero.
MIN_EXAMPLES = 50


def _modules() -> list[str]:
    """``captum_ifim`` and every module below it, private ones included (they hold the code)."""
    names = ["captum_ifim"]
    for info in pkgutil.walk_packages(captum_ifim.__path__, prefix="captum_ifim."):
        names.append(info.name)
    return sorted(names)


def _doctests(module: ModuleType) -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [test for test in finder.find(module, module.__name__) if test.examples]


@pytest.fixture
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples_pass(module_name: str, one_thread: None) -> None:
    module = importlib.import_module(module_name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures = []
    for test in _doctests(module):
        torch.manual_seed(0)
        outcome = runner.run(test, out=failures.append)
        assert outcome.attempted == len(test.examples)
    assert runner.failures == 0, "".join(failures)


def test_enough_examples_are_found() -> None:
    counts = {
        name: sum(len(t.examples) for t in _doctests(importlib.import_module(name)))
        for name in _modules()
    }
    assert sum(counts.values()) >= MIN_EXAMPLES, counts
    # Every public entry point named in the house style carries an example.
    documented = {
        test.name.rsplit(".", 1)[-1]
        for name in _modules()
        for test in _doctests(importlib.import_module(name))
    }
    for entry in ("IFIMDecomposition", "build_method", "GradCAM", "DeepSHAP", "fgsm"):
        assert entry in documented, entry
