"""The mutation run's set-up (``tox -e mutation``, docs/mutation.md): inside a run the package under
test is the mutated copy, and the killing suite names test files that exist."""

import os
import tomllib
from pathlib import Path

import pytest

import islp_ch10

ROOT = Path(__file__).resolve().parent.parent


def test_mutation_run_imports_the_mutated_copy():
    """Inside a mutmut run the package under test is the copy in mutants/, not the checkout."""
    if "MUTANT_UNDER_TEST" not in os.environ:
        pytest.skip("not inside a mutmut run: the package is wherever the user installed it")
    assert "mutants" in Path(islp_ch10.__file__).resolve().parts


def test_killing_suite_names_existing_test_files():
    """Every file in ``[tool.mutmut] pytest_add_cli_args_test_selection`` exists (a file moved or
    removed would silently drop its tests from the killing suite), this one included."""
    mutmut = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    selection = mutmut["pytest_add_cli_args_test_selection"]
    assert [f for f in selection if not (ROOT / f).is_file()] == []
    assert "tests/test_mutation_setup.py" in selection
