"""The thread policy (``islp_ch10.threads``): torch threads follow ``ISLP_CH10_THREADS`` or the
cores this process may use, and a bad value is refused in one line."""

from __future__ import annotations

import os

import pytest
import torch

from islp_ch10 import threads
from islp_ch10.testing import fixtures


def test_threads_default_to_the_cores_this_process_may_use():
    choice = threads.choose_threads({})
    assert choice.threads == choice.cores_available == threads.available_cores()
    assert choice.source == "affinity" and "sched_getaffinity" in choice.reason


def test_threads_follow_the_environment_variable():
    choice = threads.choose_threads({threads.ENV: "3"})
    assert choice.threads == 3 and choice.source == threads.ENV and "ISLP_CH10_THREADS=3" in str(choice)


@pytest.mark.parametrize("value", ["0", "-2", "abc", "1.5"])
def test_threads_refuse_a_bad_variable(value):
    with pytest.raises(ValueError, match=r"^ISLP_CH10_THREADS=.* is not a positive whole number; [^\n]*$"):
        threads.choose_threads({threads.ENV: value})


def test_apply_threads_sets_torch():
    before = torch.get_num_threads()
    try:
        assert threads.apply_threads({threads.ENV: "1"}).threads == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


# ----------------------------------------------------------------------------- pytest -n N workers
def pool_share_problems(workers: int) -> list[str]:
    """The thread pools of this process that exceed a worker's share of the cores under ``-n workers``."""
    from threadpoolctl import threadpool_info

    share = fixtures.worker_share(workers)
    pools = [(p["internal_api"], p["num_threads"]) for p in threadpool_info()]
    pools.append(("torch", torch.get_num_threads()))
    return [f"{name}: {n} threads, a worker's share is {share}" for name, n in pools if n > share]


@pytest.fixture
def restore_pools():
    from threadpoolctl import threadpool_limits

    before, limiter = torch.get_num_threads(), threadpool_limits(limits=None)  # records the current limits
    yield
    limiter.restore_original_limits()
    torch.set_num_threads(before)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: every pool already fits a worker's share")
def test_an_xdist_worker_gets_its_share_of_the_cores_for_every_pool(restore_pools):
    """Two workers each running all-core BLAS and torch pools oversubscribe the cores and the pools'
    threads wait on each other (islp_ch10/testing/fixtures.py gives the measured cost)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=os.cpu_count())
    torch.set_num_threads(os.cpu_count())
    assert pool_share_problems(2), "broken variant: every pool at one thread per core"
    environ: dict[str, str] = {}
    fixtures.share_cores(2, environ)
    assert pool_share_problems(2) == []
    assert environ == dict.fromkeys(fixtures.POOL_VARIABLES, str(os.cpu_count() // 2))
