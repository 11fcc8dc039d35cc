"""Machine state and paired-benchmark ratios for ``benchmarks/``.

Timings are only comparable between runs on the same software and hardware, so every
benchmark JSON carries :func:`machine_state` (torch, torchvision, Lightning, CUDA and cuDNN
versions, thread count, GPU name) through ``pytest_benchmark_update_machine_info``.

Some benchmark groups hold two implementations of the same computation, a slow one and a
fast one (the numpy reference against ``torch.nn.functional.conv2d``, a Python loop of
``nn.LSTMCell`` against the fused ``nn.LSTM``, the book's ISLP training path against the fast
path).  Each such benchmark records ``extra_info["variant"]`` and ``extra_info["device"]``;
:data:`PAIRED_GROUPS` says which variant is the slow one, and :func:`ratios` turns a run's
benchmarks into ``slow / fast`` time ratios.  No benchmark asserts a time: the ratios are
measurements, reported in the terminal and stored in the JSON.
"""

from __future__ import annotations

import os
import platform
from typing import Any, Iterable, Mapping

__all__ = ["PAIRED_GROUPS", "machine_state", "device_name", "ratios", "format_ratios", "synchronize"]

# group -> (slow variant, fast variant); the ratio reported is time(slow) / time(fast).
PAIRED_GROUPS: dict[str, tuple[str, str]] = {
    "conv-numpy-vs-torch": ("numpy", "torch"),
    "lstm-loop-vs-fused": ("loop", "fused"),
    "train-epoch-islp-vs-fast": ("islp", "fast"),
}


def _version(module_name: str) -> str:
    try:
        module = __import__(module_name)
    except ImportError:
        return "not installed"
    return str(getattr(module, "__version__", "unknown"))


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
    """What a timing depends on besides the code: library versions, threads, accelerator.

    Keys: ``torch``, ``torchvision``, ``pytorch_lightning``, ``torchmetrics``, ``numpy``,
    ``cuda`` (the CUDA version torch was built with, or ``"none"``), ``cudnn`` (cuDNN version or
    ``"none"``), ``cuda_available``, ``gpu`` (the device name, or ``"none"``), ``gpu_count``,
    ``torch_num_threads``, ``torch_num_interop_threads``, ``cpu``, ``cpu_count`` and the
    thread-count environment variables that were set (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``,
    ``ISLP_CH10_THREADS``).
    """
    import torch

    cuda_available = torch.cuda.is_available()
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    state: dict[str, Any] = {
        "torch": torch.__version__,
        "torchvision": _version("torchvision"),
        "pytorch_lightning": _version("pytorch_lightning"),
        "torchmetrics": _version("torchmetrics"),
        "numpy": _version("numpy"),
        "cuda": torch.version.cuda or "none",
        "cudnn": str(cudnn) if cudnn else "none",
        "cuda_available": cuda_available,
        "gpu": torch.cuda.get_device_name(0) if cuda_available else "none",
        "gpu_count": torch.cuda.device_count() if cuda_available else 0,
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
    }
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
    """``slow / fast`` ratios of the paired groups in a run.

    ``benchmarks`` are pytest-benchmark's JSON records (dicts with ``group``, ``name``,
    ``extra_info`` and ``stats``).  Records pair up by group and ``extra_info["device"]``; a
    pair with one side missing (skipped, failed, or not selected) yields nothing.  The result is
    keyed ``"<group>[<device>]"`` and gives both benchmark names, ``min`` and ``median`` times
    and ``ratio_min`` / ``ratio_median``.  If the fast record's ``extra_info`` holds
    ``fit_wall_time_min`` (the training benchmarks' ``trainer.fit`` time alone) on both sides,
    ``ratio_fit_only`` is added too.
    """
    sides: dict[tuple[str, str], dict[str, Mapping[str, Any]]] = {}
    for bench in benchmarks:
        group = bench.get("group")
        info = bench.get("extra_info") or {}
        if group not in PAIRED_GROUPS or "variant" not in info or _stat(bench, "min") is None:
            continue
        sides.setdefault((group, str(info.get("device", "cpu"))), {})[info["variant"]] = bench
    out: dict[str, dict[str, Any]] = {}
    for (group, device), found in sorted(sides.items()):
        slow_name, fast_name = PAIRED_GROUPS[group]
        if slow_name not in found or fast_name not in found:
            continue
        slow, fast = found[slow_name], found[fast_name]
        entry: dict[str, Any] = {
            "group": group,
            "device": device,
            "slow": slow.get("name"),
            "fast": fast.get("name"),
            "slow_min_s": _stat(slow, "min"),
            "fast_min_s": _stat(fast, "min"),
            "slow_median_s": _stat(slow, "median"),
            "fast_median_s": _stat(fast, "median"),
        }
        entry["ratio_min"] = entry["slow_min_s"] / entry["fast_min_s"]
        entry["ratio_median"] = entry["slow_median_s"] / entry["fast_median_s"]
        s_fit = (slow.get("extra_info") or {}).get("fit_wall_time_min")
        f_fit = (fast.get("extra_info") or {}).get("fit_wall_time_min")
        if s_fit and f_fit:
            entry["ratio_fit_only"] = float(s_fit) / float(f_fit)
        out[f"{group}[{device}]"] = entry
    return out


def format_ratios(table: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per pair: ``ratio <group>[<device>]: slow/fast = X (min), Y (median)``."""
    lines = []
    for key, entry in table.items():
        slow_name, fast_name = PAIRED_GROUPS[entry["group"]]
        line = (f"ratio {key}: {slow_name}/{fast_name} = {entry['ratio_min']:.2f} (min), "
                f"{entry['ratio_median']:.2f} (median)")
        if "ratio_fit_only" in entry:
            line += f", {entry['ratio_fit_only']:.2f} (trainer.fit only)"
        lines.append(line)
    return lines
