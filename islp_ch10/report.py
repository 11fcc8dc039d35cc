"""The reproduction report: results JSON, a Markdown page and the plots people would rather look at.

Input: the :class:`~islp_ch10.experiments.Measurement` s of a run.  Output in one folder:

``results.json``  every measurement (claim, part, seed, epochs, wall time, value) plus, per claim
                  and part, the book value, the threshold, the median over seeds and the verdict,
                  and the versions of torch / Lightning / ISLP that produced them.
``report.md``     the same as a table, with the learning curves and the double-descent plot.
``*.png``         one learning-curve plot per trained model (the lab's training vs validation
                  figure per epoch), the double-descent curves, the IMDB lasso path.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from islp_ch10 import claims


def environment() -> dict:
    import numpy
    import torch

    info = {"python": platform.python_version(), "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "numpy": numpy.__version__,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    for name in ("pytorch_lightning", "torchvision", "torchmetrics", "sklearn", "ISLP"):
        try:
            info[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001 - a missing optional package is recorded as such
            info[name] = None
    return info


def summarise(measurements: Iterable) -> list[dict]:
    """One row per (claim, part): book value, threshold, per-seed values, median, verdict."""
    groups: dict[tuple, list] = defaultdict(list)
    for m in measurements:
        groups[(m.claim, m.part, m.metric)].append(m)
    rows = []
    for (cid, part, metric), ms in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0]))):
        claim = claims.get(cid)
        book, threshold, direction = claim.criterion(part)
        values = [m.value for m in ms]
        median = statistics.median(values)
        verdict = "n/a"
        if threshold is not None:
            verdict = "pass" if claim.passes(median, part) else "FAIL"
        rows.append({
            "claim": cid, "part": part, "metric": metric, "book_value": book, "threshold": threshold,
            "direction": direction, "values": values, "seeds": [m.seed for m in ms], "median": median,
            "epochs": sorted({m.epochs for m in ms if m.epochs is not None}),
            "path": sorted({m.path for m in ms}),
            "wall_time_s": round(sum(m.wall_time for m in ms), 2), "verdict": verdict,
            "deviation": claim.deviation, "statement": claim.statement,
        })
    return rows


def write(measurements: list, out_dir: str | Path, double_descent=None, wall_time: float | None = None,
          skipped: list[dict] | None = None) -> Path:
    """Write results.json, report.md and the plots into ``out_dir``; returns the report's path.

    ``skipped``: ``{"experiment", "reason"}`` records of experiments whose data was absent."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = summarise(measurements)
    plots = learning_curve_plots(measurements, out)
    if double_descent is not None:
        from islp_ch10.double_descent import plot_double_descent

        plot_double_descent(double_descent, out / "double_descent.png")
        plots.append("double_descent.png")
    lasso = [m for m in measurements if m.claim == "10.4/imdb-lasso" and "lambdas" in m.details]
    if lasso:
        plots.append(_lasso_plot(lasso[0], out / "imdb_lasso_path.png"))
    results = {"generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "environment": environment(), "wall_time_s": wall_time, "summary": rows,
               "measurements": [m.to_json() for m in measurements], "plots": plots,
               "skipped": skipped or []}
    _atomic_text(out / "results.json", json.dumps(results, indent=2, default=str))
    _atomic_text(out / "report.md", markdown(rows, plots, results["environment"], wall_time, skipped or []))
    return out / "report.md"


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown(rows: list[dict], plots: list[str], env: dict, wall_time: float | None,
             skipped: list[dict] = ()) -> str:
    lines = ["# ISLP chapter 10: reproduction report", "",
             f"torch {env['torch']}, pytorch-lightning {env['pytorch_lightning']}, ISLP {env['ISLP']}, "
             f"{env['cpus']} CPUs, GPU: {env['cuda'] or 'none'}"
             + (f"; total wall time {wall_time:.0f} s" if wall_time else ""), "",
             "| claim | part | metric | book | threshold | measured (median) | per seed | epochs | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        thr = f"{r['direction']} {r['threshold']}" if r["threshold"] is not None else "-"
        lines.append(f"| {r['claim']} | {r['part'] or ''} | {r['metric']} | {_fmt(r['book_value'])} | {thr} | "
                     f"{r['median']:.4f} | {', '.join(f'{v:.4f}' for v in r['values'])} | "
                     f"{','.join(map(str, r['epochs'])) or '-'} | {r['verdict']} |")
    notes = [r for r in rows if r["deviation"]]
    if notes:
        lines += ["", "## Where the book's figure does not reproduce", ""]
        lines += [f"- **{r['claim']}**: {r['deviation']}" for r in notes]
    if skipped:
        lines += ["", "## Skipped: data not present", ""]
        lines += [f"- **{s['experiment']}**: {s['reason']}" for s in skipped]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def learning_curve_plots(measurements: list, out: Path) -> list[str]:
    """The lab's summary plot per trained model and seed: training vs validation metric per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    for m in measurements:
        if not m.history:
            continue
        keys = set().union(*(row.keys() for row in m.history))
        metric = next(k for k in (m.metric, "accuracy", "r2", "mae", "loss")
                      if f"train_{k}" in keys or f"valid_{k}" in keys)
        epochs = [row["epoch"] for row in m.history]
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for prefix, label in (("train_", "Training"), ("valid_", "Validation")):
            values = [row.get(prefix + metric) for row in m.history]
            if any(v is not None for v in values):
                ax.plot(epochs, values, marker="o", markersize=3, label=label)
        test_value = m.raw.get(metric)
        if test_value is not None:
            ax.axhline(test_value, color="k", ls="--", lw=0.8, label="Test")
        title = f"{m.claim}" + (f" ({m.part})" if m.part else "") + f", seed {m.seed}"
        ax.set(xlabel="Epoch", ylabel=metric, title=title)
        ax.legend()
        fig.tight_layout()
        name = f"curve_{m.claim.replace('/', '_').replace('.', '_')}_{m.part or 'main'}_seed{m.seed}.png"
        fig.savefig(out / name, dpi=90)
        plt.close(fig)
        names.append(name)
    return names


def _lasso_plot(m, path: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(5, 3.5))
    x = -np.log(m.details["lambdas"])
    ax.plot(x, m.details["valid_accuracy"], label="Validation")
    ax.plot(x, m.details["test_accuracy"], label="Test")
    ax.set(xlabel=r"$-\log(\lambda)$", ylabel="Accuracy", title="IMDB: L1 logistic regression path")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path.name


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
