"""Seed sweeps: the one command behind every empirical spread in the catalogue.

``islp-ch10 sweep EXPERIMENT --seeds 0,1,2`` runs one experiment once per seed and writes
``docs/spreads/<experiment>__<machine>__t<threads>.json``: per-seed values, the library versions,
the device, the torch thread count, the git commit and the command line.

A sweep holds its folder's lock (:func:`islp_ch10.outdir.hold`) from start to end, so a second
sweep or reproduce run on the same folder is refused (exit 6) instead of racing it.  After every
seed it merges under that lock (:func:`merge`): re-read the artifact, add this seed's runs, replace
the file atomically; so an interrupted sweep keeps the seeds it finished, a rerun skips the seeds
already in the artifact (``--fresh`` starts the artifact over), and no seed another writer added
in between is lost.  ``tests/test_spreads.py`` checks that the catalogue's spread figures equal
these artifacts.

Measurements made elsewhere in another format are converted once by
``python tools/import_measurements.py FILE``: the artifact keeps the source's name, checksum and
notes under ``provenance``, and only runs in the lab's configuration.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from islp_ch10.errors import naming
from islp_ch10.fileio import write_json
from islp_ch10.machine import cpu_name, environment, git_commit, machine_tag

SPREADS_DIR = Path(__file__).resolve().parent.parent / "docs" / "spreads"
VERSION_KEYS = ("python", "torch", "numpy", "pytorch_lightning", "torchmetrics", "sklearn", "ISLP")


def artifact_path(experiment: str, threads: int, out_dir: Path | None = None, accelerator: str = "cpu") -> Path:
    """``<out_dir>/<experiment>__<machine>__t<threads>.json`` (machine: :func:`islp_ch10.machine.machine_tag`)."""
    return (out_dir or SPREADS_DIR) / f"{experiment}__{machine_tag(accelerator)}__t{threads}.json"


def read_artifact(path: Path) -> dict | None:
    """The artifact at ``path``, or None when there is none (the one reader of sweep artifacts).

    It is checked against :class:`islp_ch10.schemas.SweepArtifact`: a truncated file, a wrong
    shape, a non-finite value or a claim not in the catalogue raises
    :class:`~islp_ch10.schemas.DamagedFile` (a ``ValueError``) naming it."""
    from islp_ch10 import schemas

    try:
        return schemas.read(path, schemas.SweepArtifact, "sweep artifact", "move it away or rerun with --fresh")
    except FileNotFoundError:
        return None


def runs_in(path: Path) -> int:
    """How many runs the artifact at ``path`` holds (0 when it is absent or unreadable)."""
    try:
        return len((read_artifact(path) or {"runs": []})["runs"])
    except (OSError, ValueError):
        return 0


def merge(path: Path, header: dict, runs: Iterable[dict], keep: bool = True) -> dict:
    """Re-read the artifact at ``path``, add ``runs`` (they replace runs of the same seeds), update
    its ``header`` fields and replace the file atomically; returns what was written.

    ``keep=False`` drops the runs already there (``--fresh``).  Call it under the folder's lock."""
    runs = list(runs)
    old = read_artifact(path) if keep else None
    seeds = {r["seed"] for r in runs}
    kept = [r for r in (old or {}).get("runs", []) if r["seed"] not in seeds]
    payload = {**(old or {}), **header, "runs": kept + runs}
    with naming(path):
        write_json(path, payload)
    return payload


def _command(experiment: str, seeds: list[int]) -> str:
    if sys.argv and "sweep" in sys.argv:
        return "islp-ch10 sweep " + " ".join(sys.argv[sys.argv.index("sweep") + 1 :])
    return f"islp-ch10 sweep {experiment} --seeds {','.join(map(str, seeds))}"


def _header(experiment: str, seeds: list[int], threads: int, accelerator: str) -> dict:
    """What an artifact says about the machine, the versions and the code it was measured with."""
    env = environment()
    return {
        "experiment": experiment,
        "command": _command(experiment, seeds),
        "machine": {
            "cpu": cpu_name(),
            "tag": machine_tag(accelerator),
            "torch_threads": threads,
            "accelerator": accelerator,
            "cuda": env.get("cuda"),
        },
        "versions": {k: v for k, v in env.items() if k in VERSION_KEYS},
        "code": git_commit(),
    }


def _run_record(m, seed: int, seconds: float) -> dict:
    """One measurement as an artifact's run (validation metric per epoch, at most 500 values)."""
    return {
        "seed": seed,
        "claim": m.claim,
        "part": m.part,
        "metric": m.metric,
        "value": m.value,
        "raw": m.raw,
        "epochs": m.epochs,
        "seconds": round(seconds, 1),
        "valid_by_epoch": [
            round(h[k], 4)
            for h in m.history
            for k in h
            if k.startswith("valid_") and k.removeprefix("valid_") in ("accuracy", "r2", "mae")
        ][:500],
    }


def run_sweep(
    experiment: str,
    seeds: list[int],
    out_dir: Path | None = None,
    resume: bool = True,
    log: Callable[[str], None] = print,
    accelerator: str = "cpu",
) -> Path:
    """Run ``experiment`` for each seed (the lab's configuration, fast path) on ``accelerator``,
    holding ``out_dir``'s lock throughout, and merge each seed into its artifact (named after the
    GPU when one trains, else the CPU).  ``resume=False``: start the artifact over."""
    import torch

    from islp_ch10 import experiments
    from islp_ch10.lab_defaults import RunSettings
    from islp_ch10.outdir import hold, scratch

    out = out_dir or SPREADS_DIR
    threads = torch.get_num_threads()
    path = artifact_path(experiment, threads, out, accelerator)
    out.mkdir(parents=True, exist_ok=True)
    with hold(out), scratch(out):  # the fits' temporary folders inside out/.logs-*, removed at the end
        header = _header(experiment, seeds, threads, accelerator)
        done = {r["seed"] for r in (read_artifact(path) or {"runs": []})["runs"]} if resume else set()
        keep = resume
        for seed in seeds:
            if seed in done:
                log(f"{experiment} seed {seed}: already in {path.name}, skipped")
                continue
            t0 = time.perf_counter()
            ms = experiments.run(experiment, RunSettings(seed=seed, accelerator=accelerator))
            runs = [_run_record(m, seed, time.perf_counter() - t0) for m in ms]
            for m in ms:
                log(f"{experiment} seed {seed}: {m.claim} [{m.part}] {m.metric} = {m.value:.4f}")
            merge(path, {**header, "date": datetime.now(UTC).strftime("%Y-%m-%d")}, runs, keep=keep)
            keep = True  # from here on the artifact holds this sweep's own seeds
    return path


def quoted(x: float) -> float:
    """How the catalogue quotes an artifact's figure: rounded to 4 decimals (exact figures such as
    the Hitters least-squares MAE 259.7153 keep every digit the book's check needs)."""
    return round(float(x), 4)
