"""The examples in the docstrings of runlake's modules run as written."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import runlake
import runlake.engine
import runlake.query

MODULES = sorted(
    {
        m.name
        for pkg in (runlake, runlake.engine, runlake.query)
        for m in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + ".")
    }
    - {"runlake.__main__", "runlake.cli.commands", "runlake.cli.demo"}
    | {"runlake", "runlake.engine", "runlake.query"}
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
