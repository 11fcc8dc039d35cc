"""Pytest plugin: the suite's shared fixtures and per-process set-up.

* every test leaves the python / numpy / torch (CPU and CUDA) RNG state and torch's thread count
  as it found them (autouse);
* ``one_torch_thread``: run a test on one intra-op thread;
* under ``pytest -n N`` each worker gets its share of the cores, for torch and the BLAS/OpenMP pools;
* one session fixture per real data set (``mnist``, ``imdb``, ``nyse``, ``hitters``,
  ``cifar100``), all made by :func:`data_fixture`: the loaded data, or a skip that says how to
  get the files;
* inside a mutmut run (docs/mutation.md, "data/"): the data fixtures are function-scoped while
  mutmut maps tests to functions, and the processed-data cache is a private folder per run.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest


def pytest_configure(config):
    _private_cache_under_mutmut(config)
    _threads_per_worker(config)


def pytest_unconfigure(config):
    saved = config.stash.get(_SAVED_CACHE, None)
    if saved is None:
        return
    before, folder = saved
    if before is None:
        os.environ.pop("ISLP_CH10_CACHE", None)
    else:
        os.environ["ISLP_CH10_CACHE"] = before
    shutil.rmtree(folder, ignore_errors=True)


_SAVED_CACHE = pytest.StashKey[tuple]()


def _mutmut_phase() -> str | None:
    """mutmut's ``MUTANT_UNDER_TEST`` ("stats" while it maps tests to functions, a mutant's name
    while it runs one), or None outside a mutmut run."""
    return os.environ.get("MUTANT_UNDER_TEST")


def _private_cache_under_mutmut(config) -> None:
    """Inside a mutmut run, point ``ISLP_CH10_CACHE`` at a fresh folder for this pytest session.

    A mutated loader must never write into (or delete from) the user's processed-data cache: a
    mutant of the IMDB cache's name, contents or clean-up would otherwise leave a wrong cache that
    every later mutant, and every later test run, reads as good.  The fresh folder holds links to
    the files the user's cache already has (so the data tier reads the IMDB cache in seconds rather
    than rebuilding it per mutant); the loaders only ever replace a cache file (``atomic_write``) or
    unlink it, which touches the link, never the user's file.  The parsing code behind the cache is
    checked on tiny synthetic archives built inside the run (``tests/test_data_integrity.py``).  The
    user's cache folder is found as :func:`islp_ch10.data.cache_dir` finds it, without calling it
    (a mutant of it would pick the source)."""
    if _mutmut_phase() is None:
        return
    before = os.environ.get("ISLP_CH10_CACHE")
    if before:
        source = Path(before).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME")
        source = (Path(base) if base else Path.home() / ".cache") / "islp-ch10" / "processed"
    folder = Path(tempfile.mkdtemp(prefix="islp-ch10-mutmut-cache-"))
    if source.is_dir():
        for item in source.iterdir():
            if item.is_file() and item.suffix != ".lock":
                (folder / item.name).symlink_to(item.resolve())
    config.stash[_SAVED_CACHE] = (before, folder)
    os.environ["ISLP_CH10_CACHE"] = str(folder)


def _threads_per_worker(config) -> None:
    """Under ``-n N`` give each worker its share of the cores, for torch's threads and for the
    BLAS and OpenMP pools numpy, scipy and scikit-learn use.  N workers each spinning up
    all-core thread pools oversubscribe the machine, and the pools' threads then wait on each
    other.  Measured here (2 cores, ``-n 2``): an LSTM forward 3.7 s with 2 torch threads per
    worker against 0.1 s with 1; scikit-learn's multinomial logistic regression on 100 images
    2.9 s with numpy's 2 OpenBLAS threads against 0.07 s with 1.  The share is also exported as
    ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS`` (unless the user set
    them), for pools loaded later and for the worker's child processes."""
    if not hasattr(config, "workerinput"):
        return
    share_cores(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))


def share_cores(workers: int, environ=os.environ):
    """Give this process ``1/workers`` of the cores: torch's intra-op threads, every BLAS and
    OpenMP pool already loaded (threadpoolctl) and, unless set, the variables that size pools
    loaded later and those of child processes.  Returns threadpoolctl's limiter, whose
    ``restore_original_limits()`` undoes the pool limits."""
    import torch
    from threadpoolctl import threadpool_limits

    share = worker_share(workers)
    torch.set_num_threads(share)
    for name in POOL_VARIABLES:
        environ.setdefault(name, str(share))
    return threadpool_limits(limits=share)


def worker_share(workers: int) -> int:
    """Threads per pool for one of ``workers`` processes sharing this machine's cores (at least 1)."""
    return max(1, (os.cpu_count() or 1) // workers)


#: the variables the BLAS and OpenMP runtimes read when they start
POOL_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@pytest.fixture(autouse=True)
def _restore_rng_state():
    """Every test leaves python, numpy and torch RNG state as it found it (order independence):
    torch's CPU generator and, where CUDA is available, every CUDA device's generator, as
    torchvision's ``prevent_leaking_rng`` does.  (Reading the CUDA states initialises CUDA in the
    process once, at the first test, on a machine that has it.)"""
    import torch

    py, npy, tch = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    yield
    random.setstate(py)
    np.random.set_state(npy)
    torch.set_rng_state(tch)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """Every test leaves torch's intra-op thread count as it found it.  The command line sets it
    for its run (``islp_ch10.threads.apply_threads``), and a test that runs the command line in
    this process would otherwise hand its choice (up to four threads per core) to every later
    test of the worker: measured here, the fast tier's slowest test went from 2.8 s to 22 s under
    ``-n 2`` when the worker before it had run ``reproduce`` with ``ISLP_CH10_THREADS=8``."""
    import torch

    threads = torch.get_num_threads()
    yield
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@pytest.fixture
def one_torch_thread():
    """Run a test on one intra-op thread (the autouse ``_restore_torch_threads``, set up before
    it, restores the count afterwards).  For tiny tensors, waking torch's thread pool costs
    milliseconds per call on a loaded 2-core machine and changes no value.
    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    torch.set_num_threads(1)


def _data_scope(fixture_name, config) -> str:
    """``session``, but ``function`` while mutmut maps tests to the functions they call: a
    session fixture runs its loader inside the first test that asks for it, so mutmut would credit
    the loader to that one test and run only it against the loader's mutants (a mutated
    ``load_hitters`` split would meet no test that checks the split).  Each mutant's run is a fresh
    pytest session, so the loader still runs once per mutant, inside the mutated process."""
    return "function" if _mutmut_phase() == "stats" else "session"


def data_fixture(name: str):
    """A session fixture ``name`` returning ``islp_ch10.data.load_<name>()``, skipped with the
    loader's own instructions when the files are missing (``DataMissing``); function-scoped while
    mutmut maps tests to functions (:func:`_data_scope`)."""

    def load():
        from islp_ch10 import data

        try:
            return getattr(data, f"load_{name}")()
        except data.DataMissing as exc:
            pytest.skip(str(exc))

    load.__doc__ = f"The {name} data set from ISLP_CH10_DATA (skipped, with how to get it, when absent)."
    return pytest.fixture(scope=_data_scope, name=name)(load)


DATA_SETS = ("mnist", "imdb", "nyse", "hitters", "cifar100")
mnist, imdb, nyse, hitters, cifar100 = (data_fixture(name) for name in DATA_SETS)
