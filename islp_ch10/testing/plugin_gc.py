"""Keep the start-up's objects out of the cyclic garbage collector's way.

A process that runs the suite imports torch, Lightning (with torchmetrics, torchvision, dynamo and
sympy behind it), scikit-learn, statsmodels and hypothesis: some 5,000 modules and 600,000
objects the collector tracks, nearly all of them alive until the process ends.  CPython's
generational collector re-examines every one of them at each full collection.  Measured on the
fast tier (``pytest -m fast -n 2``, 2 cores), each xdist worker spent 2.7 s of its 20 s in the
collector: 1.3 s while the imports and the collection ran, 0.5 s during the tests and 0.6 s at
the end (pytest's unraisable-exception check collects once after the last test).  With this
plugin, 0.1 to 0.2 s.

What it does, following the recipe of :func:`gc.freeze`'s documentation (there, for fork's
copy-on-write; here, for a process that loads far more than it then allocates):

* the collector is paused from ``pytest_configure`` until collection is over; then everything
  the start-up built is frozen (moved to the permanent generation, never examined again) and the
  collector is switched back on.  The start-up's own garbage (some 30,000 objects in cycles,
  about 0.4 s of a full collection to find) is frozen with it: memory, not behaviour, since
  nothing reaches it;
* after a test that imported modules (the first to fit a model brings in Lightning, others
  scikit-learn or statsmodels), one full collection frees that test's garbage and the survivors
  are frozen too: the imports are as long-lived as the start-up.

Every test runs with the collector on, and whatever garbage a test leaves is collected as before.

Loaded as a pytest plugin (``pytest_plugins`` in the root ``conftest.py``).
"""

from __future__ import annotations

import gc
import sys

import pytest

_modules_when_frozen = [0]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Pause the collector while the plugins, the test modules and their imports load."""
    gc.disable()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection(session):
    """After collection (also in the ``-n`` controller, which collects nothing): freeze what the
    start-up built and switch the collector back on."""
    try:
        return (yield)
    finally:
        freeze()


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_protocol(item, nextitem):
    """After a test that imported modules: collect its garbage, then freeze what is left."""
    try:
        return (yield)
    finally:
        if len(sys.modules) != _modules_when_frozen[0]:
            gc.collect()
            freeze()


def freeze() -> None:
    """Every object alive now moves to the permanent generation; the collector is on."""
    gc.freeze()
    gc.enable()
    _modules_when_frozen[0] = len(sys.modules)


def pytest_unconfigure(config):
    """An in-process pytest run (pytester) leaves the calling process's collector on."""
    gc.enable()
