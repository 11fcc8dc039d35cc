"""Benchmark-local plumbing: collection of ``bench_*.py``, machine state, paired ratios.

Markers (``benchmark``, ``gpu``, ...), the ``--benchmark`` switch and the CUDA skip live in the
root ``conftest.py``.  Here:

* files named ``bench_*.py`` under ``benchmarks/`` are collected as test modules (the
  project's ``python_files`` stays the default ``test_*.py`` for ``tests/``);
* ``pytest_benchmark_update_machine_info`` adds :func:`islp_ch10.benchmarking.machine_state`
  (the report's environment plus CUDA / cuDNN build, cores available, thread variables) and the
  thread policy's choice to every JSON;
* ``pytest_benchmark_update_json`` stores the time ratios of the paired groups
  (:data:`islp_ch10.benchmarking.PAIRED_GROUPS`) as ``output_json["ratios"]`` and, in the
  numerator's own ``extra_info``, as ``ratio_<num>_over_<den>_min`` / ``_median``; the terminal
  summary prints them, one ``ratio <group>[<device>][<case>]: num/den = ...`` line each;
* the ``describe`` fixture fills ``benchmark.extra_info`` with shapes, dtype and device name;
* torch's threads follow :func:`islp_ch10.threads.apply_threads` for the whole run: one per core
  this process may use, or ``ISLP_CH10_THREADS=N``.  On a machine shared with other busy
  processes, one thread per core can make the recurrent kernels tens of times slower (threads
  wait for each other at every time step); ``ISLP_CH10_THREADS=1`` then gives timings that mean
  something.
"""

from __future__ import annotations

import pytest

from islp_ch10 import benchmarking, threads

_THREADS = pytest.StashKey[str]()  # the thread policy's sentence for this run


def pytest_collect_file(file_path, parent):
    # Paths named on the command line are collected by pytest's python plugin already.
    if file_path.suffix == ".py" and file_path.name.startswith("bench_") and not parent.session.isinitpath(file_path):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_benchmark_update_machine_info(config, machine_info):
    state = benchmarking.machine_state()
    state["thread_policy"] = config.stash.get(_THREADS, None) or str(threads.choose_threads())
    machine_info["islp_ch10"] = state


def _records(config):
    session = getattr(config, "_benchmarksession", None)
    if session is None:
        return []
    return [bench.as_dict(include_data=False) for bench in session.benchmarks if bench and not bench.has_error]


def pytest_benchmark_update_json(config, benchmarks, output_json):
    records = output_json.get("benchmarks", [])
    table = benchmarking.ratios(records)
    output_json["ratios"] = table
    # Also in the numerator's own record, so one benchmark's entry tells the whole story.
    by_name = {
        (record.get("name"), str((record.get("extra_info") or {}).get("device", "cpu"))): record for record in records
    }
    for entry in table.values():
        record = by_name.get((entry["numerator_name"], entry["device"]))
        if record is not None:
            info = record.setdefault("extra_info", {})
            stem = f"ratio_{entry['numerator']}_over_{entry['denominator']}"
            info[stem + "_min"] = entry["ratio_min"]
            info[stem + "_median"] = entry["ratio_median"]


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    table = benchmarking.ratios(_records(config))
    if not table:
        return
    terminalreporter.section("benchmark ratios (same run)")
    for line in benchmarking.format_ratios(table):
        terminalreporter.write_line(line)
    state = benchmarking.machine_state()
    terminalreporter.write_line(
        f"machine: {state['cpu']}, {state['cores_available']} core(s) available, "
        f"{state['torch_threads']} torch threads, GPU {state['cuda'] or 'none'}, torch {state['torch']}"
    )


@pytest.fixture(scope="session", autouse=True)
def _torch_threads(pytestconfig):
    """Apply the thread policy (:func:`islp_ch10.threads.apply_threads`) for the rest of the run.

    Not restored afterwards, so that the machine state written at the end of the session reports
    the thread count the benchmarks ran with.
    """
    pytestconfig.stash[_THREADS] = str(threads.apply_threads())


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
