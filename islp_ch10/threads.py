"""How many threads torch gets: the cores this process may run on, unless ``ISLP_CH10_THREADS`` says.

torch's default is one intra-op thread per core of the machine, whether or not this process may
use them (a container's CPU set, ``taskset``) or they are free.  :func:`choose_threads` counts
the cores in the process's affinity mask (``os.sched_getaffinity``) instead, and
``ISLP_CH10_THREADS=N`` overrides it (set it to 1 when another heavy job shares the machine: the
recurrent kernels wait for every thread at every time step).  The choice carries its reason, a
sentence for the report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

ENV = "ISLP_CH10_THREADS"
#: ``ISLP_CH10_THREADS`` may ask for at most this many threads per available core
OVERSUBSCRIPTION = 4

__all__ = ["ENV", "OVERSUBSCRIPTION", "ThreadChoice", "apply_threads", "available_cores", "choose_threads"]


@dataclass(frozen=True)
class ThreadChoice:
    """``threads`` for torch, where the number came from (``source``) and why, in one sentence."""

    threads: int
    source: str  # "ISLP_CH10_THREADS" or "affinity"
    cores_available: int
    reason: str

    def __str__(self) -> str:
        return self.reason


def available_cores() -> int:
    """The cores this process may run on (its affinity mask; ``os.cpu_count()`` where there is none)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def choose_threads(environ: Mapping[str, str] | None = None) -> ThreadChoice:
    """The thread count for torch: ``ISLP_CH10_THREADS`` if set, else one per available core.

    Raises ``ValueError`` (one line, naming the variable) when ``ISLP_CH10_THREADS`` is not a
    whole number from 1 to :data:`OVERSUBSCRIPTION` times the available cores (more threads than
    that only wait for each other, and a huge number exhausts memory when torch starts them).
    """
    env = os.environ if environ is None else environ
    cores = available_cores()
    raw = env.get(ENV, "").strip()
    if raw:
        try:
            wanted = int(raw)
        except ValueError:
            wanted = 0
        if wanted < 1:
            raise ValueError(
                f"{ENV}={raw!r} is not a positive whole number; set it to a thread count "
                f"such as 1, or unset it to use one thread per available core ({cores})"
            )
        if wanted > OVERSUBSCRIPTION * cores:
            raise ValueError(
                f"{ENV}={raw!r} is more than {OVERSUBSCRIPTION} x the {cores} core(s) available; set it "
                f"to a thread count from 1 to {OVERSUBSCRIPTION * cores}, or unset it to use one per core"
            )
        note = "" if wanted <= cores else f", more than the {cores} core(s) available, so threads will share cores"
        return ThreadChoice(wanted, ENV, cores, f"{wanted} torch thread(s) from {ENV}={raw}{note}")
    return ThreadChoice(
        cores,
        "affinity",
        cores,
        f"{cores} torch thread(s): one per core this process may run on "
        f"(os.sched_getaffinity); set {ENV} to choose another number",
    )


def apply_threads(environ: Mapping[str, str] | None = None) -> ThreadChoice:
    """:func:`choose_threads`, then ``torch.set_num_threads`` with the result; returns the choice."""
    import torch

    choice = choose_threads(environ)
    torch.set_num_threads(choice.threads)
    return choice
