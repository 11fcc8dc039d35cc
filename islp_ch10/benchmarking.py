"""Machine state and same-run time ratios for ``benchmarks/``.

Timings are only comparable between runs on the same software and hardware, so every
benchmark JSON carries :func:`islp_ch10.machine.machine_state` (the report's environment, plus the
CUDA/cuDNN build, interop threads, the cores this process may use and the thread variables)
through ``pytest_benchmark_update_machine_info``; it and :func:`~islp_ch10.machine.device_name` are
re-exported here for ``benchmarks/``.

Some benchmark groups hold several implementations of the same computation (the numpy
reference against ``torch.nn.functional.conv2d``, a Python loop of ``nn.LSTMCell`` against the
fused ``nn.LSTM``, the book's ISLP training path, the fast path and a plain torch loop).  Each
such benchmark records ``extra_info["variant"]`` and ``extra_info["device"]``, and where one
group covers several cases (the model families of ``train-epoch-paths``) ``extra_info["case"]``;
:data:`PAIRED_GROUPS` says which variants are divided, and :func:`ratios` turns a run's
benchmarks into those time ratios.  No benchmark asserts a time: the ratios are measurements,
reported in the terminal and stored in the JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from islp_ch10.machine import device_name, machine_state

__all__ = ["PAIRED_GROUPS", "device_name", "format_ratios", "machine_state", "ratios", "synchronize"]

# group -> the (numerator, denominator) variant pairs whose time ratio is reported.
PAIRED_GROUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "conv-numpy-vs-torch": (("numpy", "torch"),),
    "lstm-loop-vs-fused": (("loop", "fused"),),
    "train-epoch-paths": (("fast", "plain"), ("islp", "fast")),
}


def synchronize(device: str) -> None:
    """Wait for queued kernels on ``device`` (a no-op on the CPU); call inside timed callables."""
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize(torch.device(device))


def _stat(bench: Mapping[str, Any], key: str) -> float | None:
    stats = bench.get("stats") or {}
    value = stats.get(key)
    return float(value) if value is not None else None


def ratios(benchmarks: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The time ratios of :data:`PAIRED_GROUPS` in one run.

    ``benchmarks`` are pytest-benchmark's JSON records (dicts with ``group``, ``name``,
    ``extra_info`` and ``stats``).  Records pair up by group, ``extra_info["device"]`` and
    ``extra_info["case"]`` (if any); a pair with one side missing (skipped, failed, or not
    selected) yields nothing.  The result is keyed ``"<group>[<device>][<case>] <num>/<den>"``
    (no ``[<case>]`` when there is none) and gives the variants, both benchmark names, their
    ``min`` and ``median`` times and ``ratio_min`` / ``ratio_median`` = time(num) / time(den).
    """
    sides: dict[tuple[str, str, str], dict[str, Mapping[str, Any]]] = {}
    for bench in benchmarks:
        group = bench.get("group")
        info = bench.get("extra_info") or {}
        if group not in PAIRED_GROUPS or "variant" not in info or _stat(bench, "min") is None:
            continue
        key = (group, str(info.get("device", "cpu")), str(info.get("case", "")))
        sides.setdefault(key, {})[info["variant"]] = bench
    out: dict[str, dict[str, Any]] = {}
    for (group, device, case), found in sorted(sides.items()):
        for num_variant, den_variant in PAIRED_GROUPS[group]:
            if num_variant not in found or den_variant not in found:
                continue
            num, den = found[num_variant], found[den_variant]
            entry: dict[str, Any] = {
                "group": group,
                "device": device,
                "case": case,
                "numerator": num_variant,
                "denominator": den_variant,
                "numerator_name": num.get("name"),
                "denominator_name": den.get("name"),
                "numerator_min_s": _stat(num, "min"),
                "denominator_min_s": _stat(den, "min"),
                "numerator_median_s": _stat(num, "median"),
                "denominator_median_s": _stat(den, "median"),
            }
            entry["ratio_min"] = entry["numerator_min_s"] / entry["denominator_min_s"]
            entry["ratio_median"] = entry["numerator_median_s"] / entry["denominator_median_s"]
            label = f"{group}[{device}]" + (f"[{case}]" if case else "")
            out[f"{label} {num_variant}/{den_variant}"] = entry
    return out


def format_ratios(table: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per ratio: ``ratio <group>[<device>][<case>]: num/den = X (min), Y (median)``."""
    lines = []
    for entry in table.values():
        label = f"{entry['group']}[{entry['device']}]" + (f"[{entry['case']}]" if entry["case"] else "")
        lines.append(
            f"ratio {label}: {entry['numerator']}/{entry['denominator']} = "
            f"{entry['ratio_min']:.2f} (min), {entry['ratio_median']:.2f} (median)"
        )
    return lines
