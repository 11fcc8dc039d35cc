"""The thread policy (``islp_ch10.threads``): torch threads follow ``ISLP_CH10_THREADS`` or the
cores this process may use, and a bad value is refused in one line."""

from __future__ import annotations

import pytest
import torch

from islp_ch10 import threads


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
