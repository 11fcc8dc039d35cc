"""Keep the start-up's objects out of the cyclic garbage collector's way.

A process that runs the suite imports torch, Lightning (with torchmetrics, torchvision, dynamo and
sympy behind it), scikit-learn, statsmodels and hypothesis: some 5,000 modules and 600,000
objects the collector tracks, nearly all of them alive until the process ends.  CPython's
generational collector re-examines every one of them at each full collection; measured on this
suite's fast tier (``-n 2``, 2 cores), each xdist worker spent 2.7 s of its 20 s in the collector:
1.3 s while the imports and the collection ran, 0.5 s during the tests and 0.6 s at the end
(pytest's unraisable-exception check collects once more after the last test).

So the collector is paused from ``pytest_configure`` until collection is over; then one full
collection frees whatever cycles the start-up left, :func:`gc.freeze` moves the survivors to the
permanent generation, and the collector is switched back on.  The tests run with the collector
on, and every object a test creates is collected as before; only the start-up's survivors are
never re-examined.  This is the use :func:`gc.freeze` documents for processes that load much
before they work (its other use is fork's copy-on-write).

Loaded as a pytest plugin (``pytest_plugins`` in the root ``conftest.py``).
"""

from __future__ import annotations

import gc

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Pause the collector while the plugins, the test modules and their imports load."""
    gc.disable()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection(session):
    """After collection (or in the ``-n`` controller, which collects nothing): free the start-up's
    garbage, freeze the survivors, and switch the collector back on."""
    try:
        return (yield)
    finally:
        settle()


def settle() -> None:
    """One full collection, the survivors frozen, the collector on: what every test starts from."""
    gc.collect()
    gc.freeze()
    gc.enable()


def pytest_unconfigure(config):
    """An in-process pytest run (pytester) leaves the calling process's collector as it was."""
    gc.enable()
