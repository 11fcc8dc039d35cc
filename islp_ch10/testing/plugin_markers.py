"""Pytest plugin: the suite's markers and tiers, the CUDA skip and the ``--benchmark`` switch.

Tiers
-----
``fast``       textbook invariants: no data, no training beyond a few steps.  Any test under
               ``tests/`` that carries none of ``slow``/``data``/``gpu``/``benchmark`` is marked
               ``fast`` automatically, so ``pytest -m fast`` cannot miss a new invariant test.
               Benchmarks (``benchmarks/``) are never marked ``fast``.
``data``       reads a real data set (``ISLP_CH10_DATA``); skipped, with how to get it, if absent.
``slow``       trains a model to a figure of the chapter.
``gpu``        needs CUDA; skipped with the reason on a machine without it.
``benchmark``  pytest-benchmark timings (``benchmarks/``).

``--benchmark``: timing on.  Without it every benchmark runs its target once as a smoke test
(pytest-benchmark's ``--benchmark-disable``), so ``pytest benchmarks`` stays quick and still
checks each benchmark's answer.  ``pytest -m gpu --benchmark`` from the project root collects
``tests/`` and ``benchmarks/`` (``testpaths``), so it times the CUDA benchmarks on a GPU machine
and, on a CPU machine, reports each as skipped with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TIER_MARKERS = ("slow", "data", "gpu", "benchmark")
MARKERS = (
    "fast: textbook invariant; no data, no training beyond a few steps (applied automatically)",
    "slow: trains a chapter model to a figure",
    "data: needs a real data set from ISLP_CH10_DATA (skipped with instructions when absent)",
    "gpu: needs CUDA (skipped without it)",
    "benchmark: pytest-benchmark timing; add --benchmark to time, otherwise runs once",
)


def pytest_addoption(parser):
    parser.getgroup("islp-ch10").addoption(
        "--benchmark",
        action="store_true",
        default=False,
        help="time the benchmark-marked tests (otherwise each runs once as a smoke test)",
    )


def pytest_configure(config):
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    # pytest-benchmark builds its session in a trylast pytest_configure, after this one.
    if (
        not config.getoption("--benchmark")
        and hasattr(config.option, "benchmark_disable")
        and not getattr(config.option, "benchmark_enable", False)
    ):
        config.option.benchmark_disable = True


def cuda_available() -> bool:
    """``torch.cuda.is_available()``, or False where torch is missing."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    tests = Path(config.rootpath, "tests")
    cuda = None  # asked once, and only when a gpu test is collected: importing torch takes a second
    for item in items:
        names = {m.name for m in item.iter_markers()}
        if Path(item.path).resolve().is_relative_to(tests) and not names & set(TIER_MARKERS):
            item.add_marker(pytest.mark.fast)
        if "gpu" in names:
            if cuda is None:
                cuda = cuda_available()
            if not cuda:
                reason = "needs CUDA: torch.cuda.is_available() is False on this machine"
                item.add_marker(pytest.mark.skip(reason=reason))
