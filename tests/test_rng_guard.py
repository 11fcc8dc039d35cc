"""The per-test guards (``islp_ch10/testing/fixtures.py``): a test that reseeds and draws from
every generator, or sets torch's thread count (as the command line does for its run), leaves
them, for the next test, as it found them.  Run on two-test files with the guards and, as the
broken variant, without them."""

import pytest

from islp_ch10.testing.fakes import INNER_RUN_ARGS

TWO_TESTS = """
import random

import numpy as np
import torch

SEEN = {}


def _states():
    states = {
        "python": random.getstate(),
        "numpy": np.random.get_state()[1].tolist(),
        "torch": torch.get_rng_state().tolist(),
    }
    if torch.cuda.is_available():
        states["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return states


def test_first_reseeds_and_draws_from_every_generator():
    SEEN.update(_states())
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)  # reseeds the CUDA generators too, where there are any
    random.random(), np.random.rand(), torch.rand(1)
    if torch.cuda.is_available():
        torch.rand(1, device="cuda")
    now = _states()
    assert all(now[name] != SEEN[name] for name in SEEN)


def test_next_finds_the_state_the_first_found():
    now = _states()
    assert [name for name in SEEN if now[name] != SEEN[name]] == []
"""


TWO_THREAD_TESTS = """
import torch

SEEN = []


def test_first_sets_the_thread_count_as_a_run_of_the_command_line_does():
    SEEN.append(torch.get_num_threads())
    torch.set_num_threads(SEEN[0] + 3)


def test_next_finds_the_thread_count_the_first_found():
    assert torch.get_num_threads() == SEEN[0]
"""


def _run(pytester, *plugins, tests=TWO_TESTS):
    pytester.makepyfile(test_two=tests)
    args = [arg for plugin in plugins for arg in ("-p", plugin)]
    return pytester.runpytest_inprocess(*args, *INNER_RUN_ARGS)


def test_a_test_that_reseeds_every_generator_leaves_them_unchanged_for_the_next(pytester):
    _run(pytester, "islp_ch10.testing.fixtures").assert_outcomes(passed=2)


def test_without_the_guard_the_next_test_sees_the_reseeded_generators(pytester):
    result = _run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_next_finds_the_state_the_first_found*"])
    assert "'python'" in result.stdout.str() and "'torch'" in result.stdout.str()


def test_a_test_that_sets_the_thread_count_leaves_it_unchanged_for_the_next(pytester):
    _run(pytester, "islp_ch10.testing.fixtures", tests=TWO_THREAD_TESTS).assert_outcomes(passed=2)


def test_without_the_guard_the_next_test_inherits_the_thread_count(pytester):
    result = _run(pytester, tests=TWO_THREAD_TESTS)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_next_finds_the_thread_count_the_first_found*"])


@pytest.fixture(autouse=True)
def _no_outer_pytest_plugins(monkeypatch):
    """The inner runs must not pick up the plugins of the outer session from the environment."""
    monkeypatch.delenv("PYTEST_PLUGINS", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
