"""What a measurement ran on: the environment line, CPU and GPU names, the machine tag, the commit.

The one reader of each: :func:`cpu_name` (``/proc/cpuinfo``), :func:`gpu_name`, :func:`machine_tag`
(the file-name-safe name in sweep artifacts), :func:`git_commit`, :func:`environment` (the report's
environment line and the sweep artifacts' versions) and :func:`machine_state` (the environment plus
what a benchmark timing depends on).  Imports of the package: :mod:`islp_ch10.threads` only.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

__all__ = [
    "cpu_name",
    "device_name",
    "environment",
    "git_commit",
    "gpu_name",
    "machine_state",
    "machine_tag",
    "tag",
]

# Lightning's accelerator names the command line accepts (a low module: parsing needs no torch)
ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")
GPU_ACCELERATORS = ("gpu", "cuda", "auto")


def cpu_name() -> str:
    """The processor's brand string: ``/proc/cpuinfo``'s ``model name`` (``platform.processor()`` is
    often empty), else ``platform``'s guess."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def gpu_name() -> str | None:
    """The first CUDA GPU's marketing name, or None without a usable one."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def device_name(device: str = "cpu") -> str:
    """A human name for a torch ``device``: the GPU's marketing name, or the CPU's brand string."""
    import torch

    if str(device).startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return cpu_name()


def tag(name: str) -> str:
    """A processor or GPU name as a short file-name-safe tag (``AMD EPYC 7B13 64-Core`` -> ``amd-epyc-7b13``)."""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return re.sub(r"-(processor|cpu|\d+-core|\d+-vcpu).*$", "", text)[:40]


def machine_tag(accelerator: str = "cpu") -> str:
    """What trains, as a tag: the GPU when ``accelerator`` asks for one and one is present, else the CPU."""
    gpu = gpu_name() if accelerator in GPU_ACCELERATORS else None
    return tag(gpu or cpu_name()) or platform.machine()


def git_commit() -> str | None:
    """The checkout's short commit, ``+dirty`` with uncommitted changes to tracked files; None outside git."""
    here = Path(__file__).parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, as a user runs it
            capture_output=True,
            text=True,
            cwd=here,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607 - as above
            capture_output=True,
            text=True,
            cwd=here,
            timeout=10,
        ).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict[str, Any]:
    """Versions of python, torch and the other libraries, the CPU, the thread policy and the GPU."""
    import numpy
    import torch

    from islp_ch10.threads import choose_threads

    try:
        threads_reason = str(choose_threads())
    except ValueError as exc:  # a bad ISLP_CH10_THREADS is refused before any run; recorded as such here
        threads_reason = str(exc)
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": cpu_name(),
        "cpus": os.cpu_count(),
        "threads_policy": threads_reason,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": numpy.__version__,
        "cuda": gpu_name(),
    }
    for name in ("pytorch_lightning", "torchvision", "torchmetrics", "sklearn", "ISLP"):
        try:
            info[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001 - a missing optional package is recorded as such
            info[name] = None
    return info


def machine_state() -> dict[str, Any]:
    """What a timing depends on besides the code: :func:`environment` and more.

    The environment (python, versions of torch / Lightning / torchvision / torchmetrics /
    scikit-learn / ISLP, ``torch_threads``, ``cpus``, ``cuda`` = GPU name or ``None``), plus
    ``cpu`` (the processor's brand string), ``cores_available`` (``os.sched_getaffinity``),
    ``torch_interop_threads``, ``cuda_build`` and ``cudnn`` (``"none"`` without them),
    ``gpu_count``, and the thread variables that are set (``OMP_NUM_THREADS``,
    ``MKL_NUM_THREADS``, ``ISLP_CH10_THREADS``).
    """
    import torch

    from islp_ch10.threads import ENV, available_cores

    state = environment()
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
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", ENV):
        if var in os.environ:
            state[var] = os.environ[var]
    return state
