"""The reproduction report: per-experiment measurement files, results JSON, a Markdown page, plots.

Layout of an output folder ``OUT``:

``measurements/<experiment>-seed<N>.json``  one file per experiment and seed, written atomically
                  (unique temporary name, then ``os.replace``) the moment that experiment ends, so
                  a failed or interrupted run keeps everything it measured.
``results.json``  rebuilt from every measurement file: each measurement (claim, part, seed,
                  epochs, wall time, value) plus, per claim and part, the book value, the
                  threshold, the median over seeds and the verdict, and the library versions.
``report.md``     the same as a table, with the learning curves and the double-descent plot.
``*.png``         one learning-curve plot per trained model and seed, the double-descent
                  curves, the IMDB lasso path.

A report is never written from zero measurements (:class:`EmptyReport`), so a good report is
never replaced by an empty one.  Measurements are plain dicts (``Measurement.to_json()``).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from islp_ch10 import claims, judge
from islp_ch10.errors import naming
from islp_ch10.fileio import atomic_write, write_json, write_text
from islp_ch10.machine import environment

MEASUREMENTS = "measurements"
_FILE = re.compile(r"^(?P<experiment>[a-z0-9][a-z0-9-]*)-seed(?P<seed>\d+)\.json$")


class EmptyReport(ValueError):
    """There are no measurements to report; the previous report (if any) is left as it was."""


@dataclass(frozen=True)
class Written:
    """What :func:`write` produced: the report's and the results' paths and the summary rows."""

    report: Path
    results: Path
    rows: list[dict]

    @property
    def below_threshold(self) -> list[dict]:
        """The rows whose median misses the claim's threshold."""
        return below_threshold(self.rows)


# ----------------------------------------------------------------------------- measurement files
def measurement_path(out_dir: str | Path, experiment: str, seed: int) -> Path:
    """Where the measurements of one experiment and seed are kept."""
    return Path(out_dir) / MEASUREMENTS / f"{experiment}-seed{seed}.json"


def save_measurements(
    out_dir: str | Path, experiment: str, seed: int, records: list[dict], meta: dict | None = None
) -> Path:
    """Write one experiment's measurements atomically (a unique temporary file, then ``os.replace``)."""
    path = measurement_path(out_dir, experiment, seed)
    payload = {
        "experiment": experiment,
        "seed": seed,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        **(meta or {}),
        "measurements": [_slim(r) for r in records],
    }
    with naming(path):
        return write_json(path, payload)


#: what a measurement's figures depend on besides experiment and seed: the training path and where
#: it trained (CPU or GPU, how many devices).  ``--resume`` reuses a file only when these match;
#: the strategy (how several devices are driven), the thread count and the progress bars are left
#: out: they do not change what is computed.
SETTINGS_KEYS = ("path", "accelerator", "devices")


def settings_key(settings) -> dict:
    """The :data:`SETTINGS_KEYS` of a ``RunSettings`` (or of a measurement's ``run`` dict) as JSON values."""
    get = settings.get if isinstance(settings, dict) else lambda k: getattr(settings, k, None)
    return json.loads(json.dumps({k: get(k) for k in SETTINGS_KEYS}, default=str))


def file_settings(payload: dict) -> dict:
    """The settings a measurement file was measured with (older files: from their first record's ``run``)."""
    if isinstance(payload.get("settings"), dict):
        return settings_key(payload["settings"])
    run = dict(payload["measurements"][0].get("run") or {})
    run.setdefault("path", payload.get("path"))
    return settings_key(run)


def measurement_files(out_dir: str | Path) -> dict[tuple[str, int], Path]:
    """The measurement files in ``out_dir``, by (experiment, seed) as their names say."""
    folder = Path(out_dir) / MEASUREMENTS
    if not folder.is_dir():
        return {}
    return {(m["experiment"], int(m["seed"])): p for p in sorted(folder.iterdir()) if (m := _FILE.match(p.name))}


def measured(out_dir: str | Path) -> set[tuple[str, int]]:
    """The (experiment, seed) pairs that have a measurement file in ``out_dir`` (valid or not)."""
    return set(measurement_files(out_dir))


def load_measurements(out_dir: str | Path) -> list[dict]:
    """Every measurement recorded in ``out_dir/measurements``, in file-name order.

    A damaged file raises :class:`~islp_ch10.schemas.DamagedFile` naming it."""
    records: list[dict] = []
    for path in measurement_files(out_dir).values():
        records += read_measurement_file(path)["measurements"]
    return records


def read_measurement_file(path: Path) -> dict:
    """One measurement file's payload, checked against :class:`islp_ch10.schemas.MeasurementFile`
    (the one reader of these files): truncated, wrong-shaped, non-finite figures or a claim not in
    the catalogue raise :class:`~islp_ch10.schemas.DamagedFile` naming the file."""
    from islp_ch10 import schemas

    todo = "delete it, or rerun that experiment and seed to measure it again"
    payload = schemas.read(path, schemas.MeasurementFile, "measurement file", todo)
    m = _FILE.match(Path(path).name)
    if m and (payload["experiment"], payload["seed"]) != (m["experiment"], int(m["seed"])):
        reason = f"it holds {payload['experiment']} seed {payload['seed']}, not what its name says"
        raise schemas.DamagedFile("measurement file", path, reason, todo)
    return payload


# ----------------------------------------------------------------------------- summary
def summarise(records: Iterable[dict]) -> list[dict]:
    """One row per (claim, part, metric): book value, threshold, per-seed values, median, verdict."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["claim"], r.get("part"), r["metric"])].append(r)
    rows = []
    for (cid, part, metric), rs in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0]))):
        claim = claims.get(cid)
        book, threshold, direction = claim.criterion(part)
        values = [r["value"] for r in rs]
        median = judge.statistic(values)
        verdict = judge.verdict(claim, values, part)
        rows.append(
            {
                "claim": cid,
                "part": part,
                "metric": metric,
                "book_value": book,
                "threshold": threshold,
                "direction": direction,
                "values": values,
                "seeds": [r.get("seed") for r in rs],
                "median": median,
                "epochs": sorted({r["epochs"] for r in rs if r.get("epochs") is not None}),
                "path": sorted({str(r.get("path")) for r in rs}),
                "wall_time_s": round(sum(r.get("wall_time") or 0.0 for r in rs), 2),
                "verdict": verdict,
                "deviation": claim.deviation,
                "statement": claim.statement,
            }
        )
    return rows


def below_threshold(rows: list[dict]) -> list[dict]:
    """The summary rows whose median misses the claim's threshold."""
    return [r for r in rows if r["verdict"] == "FAIL"]


# ----------------------------------------------------------------------------- writing
def rebuild(
    out_dir: str | Path, double_descent=None, wall_time: float | None = None, skipped: list[dict] | None = None
) -> Written:
    """Rebuild results.json, report.md and the plots from every measurement file in ``out_dir``."""
    return write(load_measurements(out_dir), out_dir, double_descent, wall_time, skipped)


def write(
    records: list[dict],
    out_dir: str | Path,
    double_descent=None,
    wall_time: float | None = None,
    skipped: list[dict] | None = None,
) -> Written:
    """Write results.json, report.md and the plots into ``out_dir``; returns what was written.

    ``records``: measurement dicts; none at all raises :class:`EmptyReport` and writes nothing.
    ``skipped``: ``{"experiment", "reason"}`` records of experiments whose data was absent.
    Every file is written atomically, so an interrupted write leaves the previous file whole."""
    records = [_slim(r if isinstance(r, dict) else r.to_json()) for r in records]
    out = Path(out_dir)
    if not records:
        raise EmptyReport(f"no measurements to report in {out}; the previous report (if any) is kept")
    out.mkdir(parents=True, exist_ok=True)
    rows = summarise(records)
    plots = learning_curve_plots(records, out)
    if double_descent is not None:
        from islp_ch10.double_descent import double_descent_figure

        plt = _pyplot()
        fig = double_descent_figure(double_descent)
        _save_figure(fig, out / "double_descent.png", dpi=100)
        plt.close(fig)
    if (out / "double_descent.png").is_file():
        plots.append("double_descent.png")
    lasso = [r for r in records if r["claim"] == "10.4/imdb-lasso" and "lambdas" in r.get("details", {})]
    if lasso:
        plots.append(_lasso_plot(lasso[0], out / "imdb_lasso_path.png"))
    env = environment()
    results = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": env,
        "wall_time_s": wall_time,
        "summary": rows,
        "measurements": records,
        "plots": plots,
        "skipped": skipped or [],
    }
    with naming(out / "results.json"):
        write_text(out / "results.json", json.dumps(results, indent=2, default=str))
    with naming(out / "report.md"):
        write_text(out / "report.md", markdown(rows, plots, env, wall_time, skipped or []))
    return Written(out / "report.md", out / "results.json", rows)


def _slim(record: dict) -> dict:
    """A measurement without the run's temporary log folder (it is gone once the run ends)."""
    run = {k: v for k, v in (record.get("run") or {}).items() if k != "log_dir"}
    return {**record, "run": run} if "run" in record else record


def fmt(value, missing: str = "-") -> str:
    """A figure as the report and the claims table print it: 4 significant digits, ``missing`` for None."""
    if value is None:
        return missing
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown(
    rows: list[dict], plots: list[str], env: dict, wall_time: float | None, skipped: Sequence[dict] = ()
) -> str:
    """The report page: environment line, one table row per claim and part, deviations, plots."""
    lines = [
        "# ISLP chapter 10: reproduction report",
        "",
        f"torch {env['torch']}, pytorch-lightning {env['pytorch_lightning']}, ISLP {env['ISLP']}, "
        f"{env.get('processor') or ''} ({env['cpus']} CPUs; {env.get('threads_policy') or 'threads not recorded'}), "
        f"GPU: {env['cuda'] or 'none'}" + (f"; total wall time {wall_time:.0f} s" if wall_time else ""),
        "",
        "| claim | part | metric | book | threshold | measured (median) | per seed | epochs | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        thr = f"{r['direction']} {r['threshold']}" if r["threshold"] is not None else "-"
        lines.append(
            f"| {r['claim']} | {r['part'] or ''} | {r['metric']} | {fmt(r['book_value'])} | {thr} | "
            f"{r['median']:.4f} | {', '.join(f'{v:.4f}' for v in r['values'])} | "
            f"{','.join(map(str, r['epochs'])) or '-'} | {r['verdict']} |"
        )
    notes = {r["claim"]: r["deviation"] for r in rows if r["deviation"]}  # one line per claim, not per part
    if notes:
        lines += ["", "## Where the book's figure does not reproduce", ""]
        lines += [f"- **{claim}**: {deviation}" for claim, deviation in notes.items()]
    if skipped:
        lines += ["", "## Skipped: data not present", ""]
        lines += [f"- **{s['experiment']}**: {s['reason']}" for s in skipped]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, path: Path, dpi: int = 90) -> None:
    with naming(path), atomic_write(path) as fh:
        fig.savefig(fh, format="png", dpi=dpi)


def learning_curve_plots(records: list[dict], out: Path) -> list[str]:
    """The lab's summary plot per trained model and seed: training vs validation metric per epoch."""
    names = []
    for r in records:
        history = r.get("history") or []
        if not history:
            continue
        plt = _pyplot()
        keys = set().union(*(row.keys() for row in history))
        metric = next(
            (k for k in (r["metric"], "accuracy", "r2", "mae", "loss") if f"train_{k}" in keys or f"valid_{k}" in keys),
            None,
        )
        if metric is None:
            continue
        epochs = [row.get("epoch", i) for i, row in enumerate(history)]
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for prefix, label in (("train_", "Training"), ("valid_", "Validation")):
            values = [row.get(prefix + metric) for row in history]
            if any(v is not None for v in values):
                ax.plot(epochs, values, marker="o", markersize=3, label=label)
        test_value = (r.get("raw") or {}).get(metric)
        if test_value is not None:
            ax.axhline(test_value, color="k", ls="--", lw=0.8, label="Test")
        title = r["claim"] + (f" ({r['part']})" if r.get("part") else "") + f", seed {r.get('seed')}"
        ax.set(xlabel="Epoch", ylabel=metric, title=title)
        ax.legend()
        fig.tight_layout()
        name = (
            f"curve_{r['claim'].replace('/', '_').replace('.', '_')}_{r.get('part') or 'main'}_seed{r.get('seed')}.png"
        )
        _save_figure(fig, out / name)
        plt.close(fig)
        names.append(name)
    return names


def _lasso_plot(r: dict, path: Path) -> str:
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    x = -np.log(r["details"]["lambdas"])
    ax.plot(x, r["details"]["valid_accuracy"], label="Validation")
    ax.plot(x, r["details"]["test_accuracy"], label="Test")
    ax.set(xlabel=r"$-\log(\lambda)$", ylabel="Accuracy", title="IMDB: L1 logistic regression path")
    ax.legend()
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)
    return path.name
