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


def test_mutation_run_keeps_the_users_data_cache_out_of_reach(tmp_path):
    """Inside a mutmut run the processed-data cache is a private folder of this session (a mutated
    loader must not write into, or delete from, the user's cache); outside one it is untouched."""
    from islp_ch10.testing import fixtures

    if "MUTANT_UNDER_TEST" not in os.environ:
        assert fixtures._mutmut_phase() is None
        pytest.skip("not inside a mutmut run: the cache is the user's")
    assert Path(os.environ["ISLP_CH10_CACHE"]).name.startswith("islp-ch10-mutmut-cache-")


def test_data_fixtures_are_per_test_only_while_mutmut_maps_tests(monkeypatch):
    """While mutmut records which test calls which function (``MUTANT_UNDER_TEST=stats``) every test
    loads its data set itself, so each is credited with the loader; otherwise a session loads it once."""
    from islp_ch10.testing import fixtures

    monkeypatch.setenv("MUTANT_UNDER_TEST", "stats")
    assert fixtures._data_scope("hitters", None) == "function"
    for phase in ("islp_ch10.data.tabular.x_load_hitters__mutmut_1", ""):
        monkeypatch.setenv("MUTANT_UNDER_TEST", phase)
        assert fixtures._data_scope("hitters", None) == "session"
    monkeypatch.delenv("MUTANT_UNDER_TEST")
    assert fixtures._data_scope("hitters", None) == "session"
