"""The benchmark summary (``islp_ch10.benchmarking``): ratios of the configured variant pairs per
case, and the machine state recorded beside the timings."""

from __future__ import annotations

import pytest

from islp_ch10 import benchmarking, threads


def _record(variant, seconds, case="hitters", group="train-epoch-paths"):
    return {
        "group": group,
        "name": f"test[{variant}-{case}]",
        "stats": {"min": seconds, "median": 2 * seconds},
        "extra_info": {"variant": variant, "device": "cpu", "case": case},
    }


def test_ratios_divide_the_configured_pairs_per_case():
    records = [
        _record("plain", 1.0),
        _record("fast", 1.2),
        _record("islp", 3.0),
        _record("plain", 2.0, case="nyse-rnn"),
        _record("fast", 5.0, case="nyse-rnn"),
    ]
    table = benchmarking.ratios(records)
    assert table["train-epoch-paths[cpu][hitters] fast/plain"]["ratio_min"] == pytest.approx(1.2)
    assert table["train-epoch-paths[cpu][hitters] islp/fast"]["ratio_median"] == pytest.approx(2.5)
    assert table["train-epoch-paths[cpu][nyse-rnn] fast/plain"]["ratio_min"] == pytest.approx(2.5)
    assert "train-epoch-paths[cpu][nyse-rnn] islp/fast" not in table  # one side missing: no ratio
    lines = benchmarking.format_ratios(table)
    assert "ratio train-epoch-paths[cpu][hitters]: fast/plain = 1.20 (min), 1.20 (median)" in lines


def test_machine_state_extends_the_report_environment():
    from islp_ch10.report import environment

    state = benchmarking.machine_state()
    assert set(environment()) <= set(state)
    assert state["cores_available"] == threads.available_cores()
