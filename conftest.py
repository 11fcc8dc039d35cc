"""Markers, tiers, devices, data, claims and guards for the islp-ch10 suite: all in one place.

Tiers
-----
``fast``       textbook invariants: no data, no training beyond a few steps.  Any test under
               ``tests/`` that carries none of ``slow``/``data``/``gpu``/``benchmark`` is marked
               ``fast`` automatically, so ``pytest -m fast`` cannot miss a new invariant test.
``data``       reads a real data set (``ISLP_CH10_DATA``); skipped, with how to get it, if absent.
``slow``       trains a model to a figure of the chapter.
``gpu``        needs CUDA; skipped with the reason on a machine without it.
``benchmark``  pytest-benchmark timings (``benchmarks/``).

``--benchmark``: timing on.  Without it every benchmark runs its target once as a smoke test
(pytest-benchmark's ``--benchmark-disable``), so ``pytest benchmarks`` stays quick and still
checks each benchmark's answer.  ``pytest -m gpu --benchmark`` therefore times the CUDA
benchmarks on a GPU machine and, on a CPU machine, reports each as skipped with the reason.

Claims
------
``@pytest.mark.claim("10.3/maxpool-example", ...)`` ties a test to catalogue IDs.  Collection
fails on an unknown ID.  ``--claims-report PATH`` writes ``{claim id: [outcomes]}`` as JSON for
``islp-ch10 claims`` and the report.
"""

from __future__ import annotations

import json
import os
import random
import socket
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent
TIER_MARKERS = ("slow", "data", "gpu", "benchmark")
_CONFIG = None  # the session's config, for hooks that receive only a report

# ----------------------------------------------------------------------------- data root
# The tests read the staged data beside the checkout unless the user names another folder.
_SHARED_DATA = ROOT.parent / "shared" / "data"
if "ISLP_CH10_DATA" not in os.environ and _SHARED_DATA.is_dir():
    os.environ["ISLP_CH10_DATA"] = str(_SHARED_DATA)

# ----------------------------------------------------------------------------- hypothesis
try:
    from hypothesis import HealthCheck, settings

    settings.register_profile("dev", max_examples=60, deadline=None)
    settings.register_profile(
        "ci", max_examples=60, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.too_slow], print_blob=True,
    )
    settings.register_profile("thorough", max_examples=1000, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
except ImportError:  # hypothesis is a test extra; the package itself does not need it
    pass


def pytest_addoption(parser):
    group = parser.getgroup("islp-ch10")
    group.addoption("--benchmark", action="store_true", default=False,
                    help="time the benchmark-marked tests (otherwise each runs once as a smoke test)")
    group.addoption("--claims-report", metavar="PATH", default=None,
                    help="write the outcome of every claim-marked test to PATH as JSON")
    group.addoption("--allow-network", action="store_true", default=False,
                    help="do not block non-loopback sockets during the run")


def pytest_configure(config):
    for line in (
        "fast: textbook invariant; no data, no training beyond a few steps (applied automatically)",
        "slow: trains a chapter model to a figure",
        "data: needs a real data set from ISLP_CH10_DATA (skipped with instructions when absent)",
        "gpu: needs CUDA (skipped without it)",
        "benchmark: pytest-benchmark timing; add --benchmark to time, otherwise runs once",
        "claim(*ids): the chapter-10 claim IDs this test checks (see islp_ch10/catalogue)",
    ):
        config.addinivalue_line("markers", line)
    # pytest-benchmark builds its session in a trylast pytest_configure, after this one.
    if not config.getoption("--benchmark") and hasattr(config.option, "benchmark_disable"):
        if not getattr(config.option, "benchmark_enable", False):
            config.option.benchmark_disable = True
    global _CONFIG
    _CONFIG = config
    _share_cores_between_xdist_workers(config)
    config._claim_outcomes = defaultdict(list)
    if not config.getoption("--allow-network"):
        _install_network_guard()


def _share_cores_between_xdist_workers(config) -> None:
    """Under ``-n N`` give each worker its share of the cores as torch threads.  N workers each
    spinning up all-core thread pools oversubscribe the machine, and torch's OpenMP threads then
    wait on each other (measured here: an LSTM forward 3.7 s with 2 threads per worker against
    0.1 s with 1)."""
    if not hasattr(config, "workerinput"):
        return
    import torch

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def pytest_collection_modifyitems(config, items):
    from islp_ch10 import claims

    known = claims.catalogue()
    cuda = _cuda_available()
    for item in items:
        for mark in item.iter_markers("claim"):
            for cid in mark.args:
                if cid not in known:
                    raise pytest.UsageError(f"{item.nodeid}: claim marker names unknown ID {cid!r}")
        names = {m.name for m in item.iter_markers()}
        in_tests = Path(str(item.fspath)).resolve().is_relative_to(ROOT / "tests")
        if in_tests and not names & set(TIER_MARKERS):
            item.add_marker(pytest.mark.fast)
        if "gpu" in names and not cuda:
            item.add_marker(pytest.mark.skip(
                reason="needs CUDA: torch.cuda.is_available() is False on this machine"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Carry the test's claim IDs on its report, so the xdist controller can see them too."""
    outcome = yield
    ids = [cid for mark in item.iter_markers("claim") for cid in mark.args]
    if ids:
        outcome.get_result().user_properties.append(("claims", ids))


def pytest_runtest_logreport(report):
    ids = next((v for k, v in report.user_properties if k == "claims"), None)
    if not ids or not (report.when == "call" or (report.when == "setup" and report.outcome != "passed")):
        return
    state = "xfailed" if hasattr(report, "wasxfail") else report.outcome
    outcomes = getattr(_CONFIG, "_claim_outcomes", None)
    if outcomes is not None:
        for cid in ids:
            outcomes[cid].append({"test": report.nodeid, "outcome": state})


def pytest_sessionfinish(session, exitstatus):
    if NETWORK_ATTEMPTS and session.exitstatus == 0:
        session.exitstatus = 1  # a test that swallowed NetworkBlocked still fails the run
        print(f"\nnetwork access attempted during the run: {NETWORK_ATTEMPTS}")
    path = session.config.getoption("--claims-report")
    if path and not hasattr(session.config, "workerinput"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(str(path) + ".tmp")
        tmp.write_text(json.dumps(session.config._claim_outcomes, indent=2, sort_keys=True))
        tmp.replace(path)


def _cuda_available() -> bool:
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError:
        return False


# ----------------------------------------------------------------------------- network guard
class NetworkBlocked(RuntimeError):
    """Raised when code under test tries to reach a non-loopback address."""


_LOOPBACK = ("127.", "::1", "localhost", "0.0.0.0")
NETWORK_ATTEMPTS: list[str] = []


def _is_loopback(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = str(address[0]) if address else ""
    return host.startswith(_LOOPBACK) or host == ""


def _install_network_guard() -> None:
    """Wrap ``socket.connect``/``connect_ex``: loopback and AF_UNIX pass, anything else raises.

    The wrapped originals are kept as ``socket.socket._islp_real_connect(_ex)`` so a test can
    replace them and prove the guard stops a connection before it reaches the real call.
    """
    if getattr(socket.socket, "_islp_guarded", False):
        return
    socket.socket._islp_real_connect = socket.socket.connect
    socket.socket._islp_real_connect_ex = socket.socket.connect_ex

    def guarded(attr):
        def connect(self, address):
            if not _is_loopback(address):
                NETWORK_ATTEMPTS.append(repr(address))
                raise NetworkBlocked(f"the test suite must not use the network (tried {address!r}); "
                                     "data comes from ISLP_CH10_DATA, see README 'Data'")
            return getattr(socket.socket, attr)(self, address)
        return connect

    socket.socket.connect = guarded("_islp_real_connect")
    socket.socket.connect_ex = guarded("_islp_real_connect_ex")
    socket.socket._islp_guarded = True


# ----------------------------------------------------------------------------- RNG guard
@pytest.fixture(autouse=True)
def _restore_rng_state():
    """Every test leaves python, numpy and torch RNG state as it found it (order independence)."""
    import torch

    py, npy, tch = random.getstate(), np.random.get_state(), torch.get_rng_state()
    yield
    random.setstate(py)
    np.random.set_state(npy)
    torch.set_rng_state(tch)


@pytest.fixture
def one_torch_thread():
    """Run a test on one intra-op thread (restored afterwards).  For tiny tensors, waking torch's
    thread pool costs milliseconds per call on a loaded 2-core machine and changes no value.
    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ----------------------------------------------------------------------------- data fixtures
def _load_or_skip(loader, *args, **kwargs):
    from islp_ch10.data import DataMissing

    try:
        return loader(*args, **kwargs)
    except DataMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def mnist():
    from islp_ch10 import data

    return _load_or_skip(data.load_mnist)


@pytest.fixture(scope="session")
def imdb():
    from islp_ch10 import data

    return _load_or_skip(data.load_imdb)


@pytest.fixture(scope="session")
def nyse():
    from islp_ch10 import data

    return _load_or_skip(data.load_nyse)


@pytest.fixture(scope="session")
def hitters():
    from islp_ch10 import data

    return _load_or_skip(data.load_hitters)


@pytest.fixture(scope="session")
def cifar100():
    from islp_ch10 import data

    return _load_or_skip(data.load_cifar100)
