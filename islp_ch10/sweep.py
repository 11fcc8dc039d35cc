"""Seed sweeps: the one command behind every empirical spread in the catalogue.

``islp-ch10 sweep EXPERIMENT --seeds 0,1,2`` runs one experiment once per seed and writes
``docs/spreads/<experiment>__<machine>__t<threads>.json``: per-seed values, the library versions,
the device, the torch thread count, the git commit and the command line.  The file is rewritten
atomically after every seed, so an interrupted sweep keeps the seeds it finished and a rerun
with ``--resume`` skips them.  ``tests/test_spreads.py`` checks that the catalogue's spread
figures equal these artifacts.

Measurements made elsewhere in another format are converted once by
``python -m islp_ch10.sweep --import FILE`` (:func:`import_measurements`): the artifact keeps the
source's name, checksum and notes under ``provenance``, and only runs in the lab's configuration.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

SPREADS_DIR = Path(__file__).resolve().parent.parent / "docs" / "spreads"


def machine_tag(accelerator: str = "cpu") -> str:
    """A short file-name-safe name for what trains: the processor (``amd-epyc``), or the GPU when
    ``accelerator`` asks for one and one is present."""
    import torch

    gpu = accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available()
    name = torch.cuda.get_device_name(0) if gpu else cpu_model()
    return _tag(name) or platform.machine()


def _tag(name: str) -> str:
    tag = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return re.sub(r"-(processor|cpu|\d+-core|\d+-vcpu).*$", "", tag)[:40]


def cpu_model() -> str:
    """The processor's model name from /proc/cpuinfo (``platform.processor()`` is often empty)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, as a user runs it
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607 - as above
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=10,
        ).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def artifact_path(experiment: str, threads: int, out_dir: Path | None = None, accelerator: str = "cpu") -> Path:
    """``<out_dir>/<experiment>__<machine>__t<threads>.json``."""
    return (out_dir or SPREADS_DIR) / f"{experiment}__{machine_tag(accelerator)}__t{threads}.json"


def _write_atomic(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(payload, indent=1, sort_keys=False) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def run_sweep(
    experiment: str,
    seeds: list[int],
    out_dir: Path | None = None,
    resume: bool = True,
    log=print,
    accelerator: str = "cpu",
) -> Path:
    """Run ``experiment`` for each seed (the lab's configuration, fast path) on ``accelerator`` and
    write its artifact (named after the GPU when one trains, else the CPU)."""
    import torch

    from islp_ch10 import experiments
    from islp_ch10.lab_defaults import RunSettings
    from islp_ch10.report import environment

    threads = torch.get_num_threads()
    path = artifact_path(experiment, threads, out_dir, accelerator)
    payload = json.loads(path.read_text()) if (resume and path.exists()) else None
    if payload is None:
        payload = {"experiment": experiment, "runs": []}
    env = environment()
    payload.update(
        {
            "command": "islp-ch10 sweep " + " ".join(sys.argv[2:])
            if sys.argv and "sweep" in sys.argv
            else f"islp-ch10 sweep {experiment} --seeds {','.join(map(str, seeds))}",
            "machine": {
                "cpu": cpu_model(),
                "tag": machine_tag(accelerator),
                "torch_threads": threads,
                "accelerator": accelerator,
                "cuda": env.get("cuda"),
            },
            "versions": {
                k: v
                for k, v in env.items()
                if k in ("python", "torch", "numpy", "pytorch_lightning", "torchmetrics", "sklearn", "ISLP")
            },
            "code": git_commit(),
        }
    )
    done = {r["seed"] for r in payload["runs"]}
    for seed in seeds:
        if seed in done:
            log(f"{experiment} seed {seed}: already in {path.name}, skipped")
            continue
        t0 = time.perf_counter()
        ms = experiments.run(experiment, RunSettings(seed=seed, accelerator=accelerator))
        for m in ms:
            payload["runs"].append(
                {
                    "seed": seed,
                    "claim": m.claim,
                    "part": m.part,
                    "metric": m.metric,
                    "value": m.value,
                    "raw": m.raw,
                    "epochs": m.epochs,
                    "seconds": round(time.perf_counter() - t0, 1),
                    "valid_by_epoch": [
                        round(h[k], 4)
                        for h in m.history
                        for k in h
                        if k.startswith("valid_") and k.removeprefix("valid_") in ("accuracy", "r2", "mae")
                    ][:500],
                }
            )
            log(f"{experiment} seed {seed}: {m.claim} [{m.part}] {m.metric} = {m.value:.4f}")
        payload["date"] = datetime.now(UTC).strftime("%Y-%m-%d")
        _write_atomic(path, payload)
    return path


# external measurement files name models; each maps to the experiment (and claim part) that trains it
_EXTERNAL_MODELS = {"IMDBLSTM": ("imdb-lstm", "10.5/imdb-rnn"), "IMDBRNN": ("imdb-rnn", "10.5/imdb-rnn")}


def import_measurements(source: Path, out_dir: Path | None = None) -> list[Path]:
    """Convert a measurement file with ``runs`` of ``{model, lr, seed, test_accuracy}`` into one
    sweep artifact per experiment (the source is not modified).

    Runs whose learning rate is not the lab's (read from the experiment's LabConfig) are left
    out and listed under ``provenance.excluded``.
    """
    import hashlib

    from islp_ch10 import experiments

    source = Path(source)
    text = source.read_text()
    data = json.loads(text)
    threads = data["machine"]["torch_threads"]
    by_experiment: dict[str, list] = {}
    excluded = []
    for r in data["runs"]:
        name, claim = _EXTERNAL_MODELS.get(r["model"], (None, None))
        if name is None:
            raise ValueError(f"{source}: no experiment trains model {r['model']!r}; known: {sorted(_EXTERNAL_MODELS)}")
        exp = experiments.EXPERIMENTS[name]
        ((part, lab),) = exp.labs.items()
        _, lab_lr = lab.resolved_optimizer()
        if r["lr"] != lab_lr:
            excluded.append(
                f"{r['model']} lr {r['lr']} seed {r['seed']} ({r['test_accuracy']}): not the lab's lr {lab_lr}"
            )
            continue
        by_experiment.setdefault(name, []).append(
            {
                "seed": r["seed"],
                "claim": claim,
                "part": part,
                "metric": lab.metric,
                "value": r["test_accuracy"],
                "epochs": lab.epochs,
                "seconds": r.get("seconds"),
                "valid_by_epoch": r.get("valid_accuracy_by_epoch", []),
            }
        )
    paths = []
    for name, runs in by_experiment.items():
        payload = {
            "experiment": name,
            "runs": sorted(runs, key=lambda r: r["seed"]),
            "command": f"python -m islp_ch10.sweep --import {source.name}",
            "machine": {
                "cpu": data["machine"]["cpu"],
                "tag": _tag(data["machine"]["cpu"]),
                "torch_threads": threads,
                "cuda": None,
            },
            "versions": data.get("versions", {}),
            "code": data.get("code"),
            "provenance": {
                "source": source.name,
                "sha256": hashlib.sha256(text.encode()).hexdigest(),
                "what": data.get("what"),
                "how": data.get("how"),
                "note": data.get("note"),
                "excluded": excluded,
            },
        }
        path = (out_dir or SPREADS_DIR) / f"{name}__{payload['machine']['tag']}__t{threads}.json"
        _write_atomic(path, payload)
        paths.append(path)
    return paths


def quoted(x: float) -> float:
    """How the catalogue quotes an artifact's figure: rounded to 4 decimals (exact figures such as
    the Hitters least-squares MAE 259.7153 keep every digit the book's check needs)."""
    return round(float(x), 4)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m islp_ch10.sweep",
        description="convert an external measurement file into sweep artifacts "
        "(tools/trace_spreads.py then copies every artifact's figures into the catalogue)",
    )
    parser.add_argument("--import", dest="source", required=True, help="the measurement JSON file to convert")
    parser.add_argument("--out", default=None, help="artifact folder (default: docs/spreads of the checkout)")
    args = parser.parse_args()
    for p in import_measurements(Path(args.source), Path(args.out) if args.out else None):
        print(f"wrote {p}")
