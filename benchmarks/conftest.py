"""Benchmark-local plumbing: collection of ``bench_*.py``, machine state, paired ratios.

Markers (``benchmark``, ``gpu``, ...), the ``--benchmark`` switch and the CUDA skip live in the
root ``conftest.py``.  Here:

* files named ``bench_*.py`` under ``benchmarks/`` are collected as test modules (the
  project's ``python_files`` stays the default ``test_*.py`` for ``tests/``);
* ``pytest_benchmark_update_machine_info`` adds :func:`islp_ch10.benchmarking.machine_state`
  (torch / torchvision / Lightning / CUDA / cuDNN versions, threads, GPU) to every JSON;
* ``pytest_benchmark_update_json`` stores the ``slow / fast`` ratios of the paired groups
  (:data:`islp_ch10.benchmarking.PAIRED_GROUPS`) as ``output_json["ratios"]``, and the terminal
  summary prints them, one ``ratio <group>[<device>]: ...`` line each;
* the ``describe`` fixture fills ``benchmark.extra_info`` with shapes, dtype and device name;
* ``ISLP_CH10_THREADS=N`` pins torch's intra-op threads for the whole run (recorded in the
  machine state).  On a machine shared with other busy processes, torch's default of one
  thread per core can make the recurrent kernels tens of times slower (threads wait for each
  other at every time step); ``ISLP_CH10_THREADS=1`` then gives timings that mean something.
"""

from __future__ import annotations

import os

import pytest

from islp_ch10 import benchmarking


def pytest_collect_file(file_path, parent):
    # Paths named on the command line are collected by pytest's python plugin already.
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
            and not parent.session.isinitpath(file_path)):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["islp_ch10"] = benchmarking.machine_state()


def _records(config):
    session = getattr(config, "_benchmarksession", None)
    if session is None:
        return []
    return [bench.as_dict(include_data=False) for bench in session.benchmarks
            if bench and not bench.has_error]


def pytest_benchmark_update_json(config, benchmarks, output_json):
    records = output_json.get("benchmarks", [])
    table = benchmarking.ratios(records)
    output_json["ratios"] = table
    # Also beside the fast variant's own record, so one benchmark's entry tells the whole story.
    fast = {(entry["fast"], entry["device"]): entry for entry in table.values()}
    for record in records:
        info = record.get("extra_info") or {}
        entry = fast.get((record.get("name"), str(info.get("device", "cpu"))))
        if entry is not None:
            info["ratio_slow_over_fast_min"] = entry["ratio_min"]
            info["ratio_slow_over_fast_median"] = entry["ratio_median"]


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    table = benchmarking.ratios(_records(config))
    if not table:
        return
    terminalreporter.section("benchmark ratios (slow / fast, same run)")
    for line in benchmarking.format_ratios(table):
        terminalreporter.write_line(line)
    state = benchmarking.machine_state()
    terminalreporter.write_line(
        f"machine: {state['cpu']} ({state['torch_num_threads']} torch threads), GPU {state['gpu']}, "
        f"torch {state['torch']}")


@pytest.fixture(scope="session", autouse=True)
def _torch_threads():
    """Apply ``ISLP_CH10_THREADS`` (if set) for the rest of the run.

    Not restored afterwards, so that the machine state written at the end of the session reports
    the thread count the benchmarks ran with.
    """
    import torch

    wanted = os.environ.get("ISLP_CH10_THREADS")
    if wanted:
        torch.set_num_threads(int(wanted))


@pytest.fixture
def describe(benchmark):
    """``describe(device, dtype=..., **shapes)`` records what a benchmark ran on in its JSON."""

    import torch

    def record(device: str, variant: str | None = None, **info):
        benchmark.extra_info["device"] = device
        benchmark.extra_info["device_name"] = benchmarking.device_name(device)
        benchmark.extra_info["torch_threads"] = torch.get_num_threads()
        if variant is not None:
            benchmark.extra_info["variant"] = variant
        for key, value in info.items():
            benchmark.extra_info[key] = list(value) if isinstance(value, tuple) else value
        return benchmark

    return record
