"""Machine state and same-run time ratios for ``benchmarks/``.

Timings are only comparable between runs on the same software and hardware, so every
benchmark JSON carries :func:`machine_state` (:func:`islp_ch10.report.environment`, plus the
CUDA/cuDNN build, interop threads, the cores this process may use and the thread variables)
through ``pytest_benchmark_update_machine_info``.

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

import os
import platform
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["PAIRED_GROUPS", "device_name", "format_ratios", "machine_state", "ratios", "synchronize"]

# group -> the (numerator, denominator) variant pairs whose time ratio is reported.
PAIRED_GROUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "conv-numpy-vs-torch": (("numpy", "torch"),),
    "lstm-loop-vs-fused": (("loop", "fused"),),
    "train-epoch-paths": (("fast", "plain"), ("islp", "fast")),
}


def device_name(device: str = "cpu") -> str:
    """A human name for ``device``: the GPU's marketing name, or the CPU's brand string."""
    import torch

    if str(device).startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return cpu_name()


def cpu_name() -> str:
    """The processor's brand string (``/proc/cpuinfo``'s ``model name``, else ``platform``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_state() -> dict[str, Any]:
    """What a timing depends on besides the code: :func:`islp_ch10.report.environment` and more.

    The report's environment (python, versions of torch / Lightning / torchvision / torchmetrics /
    scikit-learn / ISLP, ``torch_threads``, ``cpus``, ``cuda`` = GPU name or ``None``), plus
    ``cpu`` (the processor's brand string), ``cores_available`` (``os.sched_getaffinity``),
    ``torch_interop_threads``, ``cuda_build`` and ``cudnn`` (``"none"`` without them),
    ``gpu_count``, and the thread variables that are set (``OMP_NUM_THREADS``,
    ``MKL_NUM_THREADS``, ``ISLP_CH10_THREADS``).
    """
    import torch

    from islp_ch10.report import environment
    from islp_ch10.threads import available_cores

    state: dict[str, Any] = dict(environment())
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    extra = {
        "cpu": cpu_name(),
        "cores_available": available_cores(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cuda_build": torch.version.cuda or "none",
        "cudnn": str(cudnn) if cudnn else "none",
        "gpu_count": torch.cuda.device_count() if torch.cuda.is_available() else 0,
    }
    for key, value in extra.items():
        state.setdefault(key, value)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "ISLP_CH10_THREADS"):
        if var in os.environ:
            state[var] = os.environ[var]
    return state


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
