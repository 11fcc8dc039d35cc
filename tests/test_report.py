"""The reproduction report (``islp_ch10/report.py``): what a measurement file, ``results.json``,
``report.md`` and the plots hold, checked on hand-made measurements (no training, no data).

The CLI drives the same functions end to end (``tests/test_cli_faults.py``); the tests here pin
what those runs cannot see: the summary row's fields, the page's lines, the figures' contents,
timestamps, and the file a write error names.
"""

from __future__ import annotations

import errno
import json
import math
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from islp_ch10 import claims, judge, report
from islp_ch10.experiments import Measurement
from islp_ch10.training import RunSettings

ENV = {
    "torch": "9.9",
    "pytorch_lightning": "8.8",
    "ISLP": "7.7",
    "processor": "Test CPU",
    "cpus": 3,
    "threads_policy": "1 torch thread",
    "cuda": None,
}


def record(claim="10.9/hitters-mae", part="network", metric="mae", value=250.0, seed=0, **extra) -> dict:
    return {"claim": claim, "part": part, "metric": metric, "value": value, "seed": seed, **extra}


@pytest.fixture
def figures(monkeypatch):
    """Every figure the report makes, kept inspectable after the report closes it."""
    made = []
    real = plt.subplots

    def subplots(*args, **kwargs):
        fig, ax = real(*args, **kwargs)
        made.append((fig, ax))
        return fig, ax

    monkeypatch.setattr(plt, "subplots", subplots)
    yield made
    for fig, _ in made:
        plt.close(fig)


@pytest.fixture
def fixed_env(monkeypatch):
    monkeypatch.setattr(report, "environment", lambda: dict(ENV))
    return ENV


def _is_utc_seconds(stamp: str) -> bool:
    when = datetime.fromisoformat(stamp)
    return when.utcoffset() == timedelta(0) and when.microsecond == 0 and "." not in stamp


# ----------------------------------------------------------------------------- measurement files
def test_a_measurement_file_holds_its_run_without_the_temporary_log_folder(tmp_path):
    """``save_measurements``: experiment, seed, a UTC finishing time to the second, the caller's
    metadata, and the records without the run's ``log_dir`` (gone once the run ends)."""
    rec = record(run={"seed": 2, "path": "fast", "log_dir": "/tmp/x"})
    path = report.save_measurements(tmp_path, "exp-a", 2, [rec], meta={"settings": {"path": "fast"}})
    assert path == tmp_path / "measurements" / "exp-a-seed2.json"
    payload = json.loads(path.read_text())
    assert payload["experiment"] == "exp-a" and payload["seed"] == 2 and payload["settings"] == {"path": "fast"}
    assert _is_utc_seconds(payload["finished"])
    assert payload["measurements"] == [record(run={"seed": 2, "path": "fast"})]
    assert rec["run"]["log_dir"] == "/tmp/x"  # the caller's record is not changed


def test_a_write_error_without_a_file_name_names_the_file(tmp_path, monkeypatch):
    """A full disk (an ``OSError`` with no file name) while writing a measurement file, results.json,
    report.md or a plot is reported with the file it was writing."""

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report, "write_json", full)
    with pytest.raises(OSError) as err:
        report.save_measurements(tmp_path, "exp-a", 0, [record()])
    assert err.value.filename == str(report.measurement_path(tmp_path, "exp-a", 0))

    class FullDiskFigure:
        savefig = staticmethod(full)

    with pytest.raises(OSError) as err:
        report._save_figure(FullDiskFigure(), tmp_path / "plot.png")
    assert err.value.filename == str(tmp_path / "plot.png")


@pytest.mark.parametrize("failing", ["results.json", "report.md"])
def test_a_report_write_error_names_the_report_file(tmp_path, monkeypatch, fixed_env, failing):
    real = report.write_text

    def write_text(path, text):
        if Path(path).name == failing:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, text)

    monkeypatch.setattr(report, "write_text", write_text)
    with pytest.raises(OSError) as err:
        report.write([record()], tmp_path)
    assert err.value.filename == str(tmp_path / failing)


def test_settings_key_keeps_path_accelerator_devices_as_json():
    """The settings a measurement is reused under: the three keys, from a RunSettings, a dict, or an
    object lacking some (``None``); values JSON has no type for become text."""
    assert report.settings_key(RunSettings(seed=4, path="islp", devices=2)) == {
        "path": "islp",
        "accelerator": "cpu",
        "devices": 2,
    }
    assert report.settings_key(SimpleNamespace(path="fast")) == {"path": "fast", "accelerator": None, "devices": None}
    assert report.settings_key({"path": "fast", "accelerator": "gpu", "devices": Path("0")}) == {
        "path": "fast",
        "accelerator": "gpu",
        "devices": "0",
    }


def test_an_older_file_takes_its_settings_from_its_first_record():
    """A file without ``settings`` (written before they were stored) is read from its first record's
    ``run``; the file's ``path`` fills in a run that lacks one and never overrides it."""
    old = {"path": "islp", "measurements": [{"run": {"accelerator": "cpu", "devices": 1}}]}
    assert report.file_settings(old) == {"path": "islp", "accelerator": "cpu", "devices": 1}
    own = {"path": "islp", "measurements": [{"run": {"path": "fast", "accelerator": "cpu", "devices": 1}}]}
    assert report.file_settings(own)["path"] == "fast"
    new = {"settings": {"path": "fast", "accelerator": "cpu", "devices": "auto"}, "measurements": []}
    assert report.file_settings(new) == {"path": "fast", "accelerator": "cpu", "devices": "auto"}


def test_a_misnamed_measurement_file_says_what_to_do(tmp_path):
    path = report.save_measurements(tmp_path, "exp-a", 1, [record(seed=1)])
    wrong = path.with_name("exp-b-seed1.json")
    path.rename(wrong)
    with pytest.raises(
        ValueError, match=r"not what its name says\); delete it, or rerun that experiment and seed to measure it again$"
    ):
        report.read_measurement_file(wrong)


# ----------------------------------------------------------------------------- summary
def test_a_summary_row_judges_a_part_by_the_parts_criterion():
    """One row per (claim, part, metric), judged as the catalogue's part says (``least-squares`` of
    10.9/hitters-mae is an exact figure, unlike the claim's ``<= 300``), with its seeds, the epochs
    that were recorded, the summed wall time to 0.01 s, and the claim's deviation and statement."""
    claim = claims.get("10.9/hitters-mae")
    rs = [
        record(part="least-squares", value=250.0, seed=0, epochs=None, wall_time=1.234),
        record(part="least-squares", value=260.0, seed=1, epochs=10, wall_time=None, path="lstsq"),
        record(part="least-squares", value=255.0, seed=2, epochs=10, wall_time=2.0051),
    ]
    [row] = report.summarise(rs)
    book, threshold, direction = claim.criterion("least-squares")
    assert (book, threshold, direction) != claim.criterion(None)
    assert row == {
        "claim": "10.9/hitters-mae",
        "part": "least-squares",
        "metric": "mae",
        "book_value": book,
        "threshold": threshold,
        "direction": direction,
        "values": [250.0, 260.0, 255.0],
        "seeds": [0, 1, 2],
        "median": judge.statistic([250.0, 260.0, 255.0]),
        "epochs": [10],
        "path": ["None", "lstsq"],
        "wall_time_s": 3.24,
        "verdict": judge.verdict(claim, [250.0, 260.0, 255.0], "least-squares"),
        "deviation": claim.deviation,
        "statement": claim.statement,
    }
    assert row["verdict"] == "FAIL" and judge.verdict(claim, row["values"], None) == "pass"


def test_summary_rows_are_ordered_by_claim_part_and_metric_whatever_the_parts():
    """Rows of one claim with and without a part sort together (``None`` before a name is ordered
    as text, not compared with it)."""
    rs = [
        record(part="network", metric="mae"),
        record(claim="10.5/ar-vs-rnn", part="rnn", metric="r2", value=0.45),
        record(part=None, metric="mae"),
        record(part="lasso", metric="mae", value=235.68),
    ]
    rows = report.summarise(rs)
    assert [(r["claim"], r["part"]) for r in rows] == [
        ("10.5/ar-vs-rnn", "rnn"),
        ("10.9/hitters-mae", None),
        ("10.9/hitters-mae", "lasso"),
        ("10.9/hitters-mae", "network"),
    ]


def test_fmt_prints_four_significant_digits_and_a_dash_for_none():
    assert report.fmt(None) == "-" and report.fmt(None, missing="n/a") == "n/a"
    assert report.fmt(0.123456) == "0.1235" and report.fmt(259.7153) == "259.7"
    assert report.fmt(3) == "3" and report.fmt("book") == "book"


# ----------------------------------------------------------------------------- the report
def _hitters_records():
    run = RunSettings(seed=1)
    return [
        Measurement(
            "10.9/hitters-mae",
            "mae",
            250.0,
            run,
            part="network",
            epochs=50,
            wall_time=2.0,
            history=[{"train_mae": 1.0}],
        ),
        record(part="lasso", value=235.68, seed=0, epochs=None, run={"seed": 0, "log_dir": "/gone"}),
    ]


def test_write_makes_the_folder_and_writes_results_and_page(tmp_path, fixed_env):
    """``write`` takes Measurement objects and dicts, makes a nested output folder, and writes
    results.json (pretty-printed, UTC time stamp, environment, wall time, summary, records without
    their log folders, plots, skipped) and report.md; it returns where they are."""
    out = tmp_path / "a" / "b"
    skipped = [{"experiment": "cifar", "reason": "no data"}]
    written = report.write(_hitters_records(), out, wall_time=61.4, skipped=skipped)
    assert written.report == out / "report.md" and written.results == out / "results.json"
    text = written.results.read_text()
    assert text.startswith('{\n  "generated": ')
    results = json.loads(text)
    assert _is_utc_seconds(results["generated"])
    assert results["environment"] == ENV and results["wall_time_s"] == 61.4
    assert results["summary"] == json.loads(json.dumps(written.rows, default=str))
    assert [r["claim"] for r in results["measurements"]] == ["10.9/hitters-mae"] * 2
    assert results["measurements"][1]["run"] == {"seed": 0}
    curve = "curve_10_9_hitters-mae_network_seed1.png"
    assert results["plots"] == [curve] and (out / curve).is_file() and results["skipped"] == skipped
    assert written.report.read_text() == report.markdown(written.rows, [curve], ENV, 61.4, skipped)


def test_results_json_writes_values_json_has_no_type_for_as_text(tmp_path, fixed_env):
    """A seed from numpy (a sweep's ``np.int64``) is written as text rather than failing the report."""
    written = report.write([record(seed=np.int64(3))], tmp_path)
    assert json.loads(written.results.read_text())["measurements"][0]["seed"] == "3"


def test_no_measurements_is_refused_naming_the_folder(tmp_path):
    with pytest.raises(report.EmptyReport, match=f"no measurements to report in {tmp_path}"):
        report.write([], tmp_path)


def test_the_report_page_lines(tmp_path):
    """The page: title, one environment line, the table (book figure and threshold as printed,
    medians and per-seed values to 4 decimals, epochs), deviations once per claim, skipped
    experiments and the plots."""
    rows = report.summarise(
        [
            record(part="network", value=250.0, seed=0, epochs=50),
            record(part="network", value=251.23456, seed=1, epochs=60),
            record(part="lasso", value=235.68, seed=0),
            record(claim="10.9/mnist-mlp", part=None, metric="accuracy", value=0.96, seed=0, epochs=30),
        ]
    )
    hitters, mnist = claims.get("10.9/hitters-mae"), claims.get("10.9/mnist-mlp")
    page = report.markdown(rows, ["a.png", "b.png"], ENV, 61.4, [{"experiment": "cifar", "reason": "no data"}])
    assert page.endswith("\n") and not page.endswith("\n\n")
    assert page.split("\n")[:-1] == [
        "# ISLP chapter 10: reproduction report",
        "",
        "torch 9.9, pytorch-lightning 8.8, ISLP 7.7, Test CPU (3 CPUs; 1 torch thread), GPU: none; "
        "total wall time 61 s",
        "",
        "| claim | part | metric | book | threshold | measured (median) | per seed | epochs | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| 10.9/hitters-mae | lasso | mae | 235.7 | == 235.68 | 235.6800 | 235.6800 | - | "
        f"{judge.verdict(hitters, [235.68], 'lasso')} |",
        "| 10.9/hitters-mae | network | mae | - | <= 259.7153 | 250.6173 | 250.0000, 251.2346 | 50,60 | pass |",
        f"| 10.9/mnist-mlp |  | accuracy | 0.97 | >= {mnist.criterion(None)[1]} | 0.9600 | 0.9600 | 30 | "
        f"{judge.verdict(mnist, [0.96], None)} |",
        "",
        "## Where the book's figure does not reproduce",
        "",
        f"- **10.9/hitters-mae**: {hitters.deviation}",
        f"- **10.9/mnist-mlp**: {mnist.deviation}",
        "",
        "## Skipped: data not present",
        "",
        "- **cifar**: no data",
        "",
        "## Plots",
        "",
        "![a.png](a.png)",
        "![b.png](b.png)",
    ]


def test_the_environment_line_says_what_was_not_recorded():
    """No processor, no thread policy, a GPU, no wall time; a claim-level row without a threshold."""
    env = {**ENV, "processor": None, "threads_policy": None, "cuda": "H100"}
    row = {**report.summarise([record(part="network")])[0], "threshold": None, "epochs": []}
    lines = report.markdown([row], [], env, None).split("\n")
    assert lines[2] == "torch 9.9, pytorch-lightning 8.8, ISLP 7.7,  (3 CPUs; threads not recorded), GPU: H100"
    assert lines[6] == "| 10.9/hitters-mae | network | mae | - | - | 250.0000 | 250.0000 | - | pass |"


# ----------------------------------------------------------------------------- plots
def _lines(ax) -> dict[str, tuple[list, list]]:
    return {ln.get_label(): (list(ln.get_xdata()), list(ln.get_ydata())) for ln in ax.get_lines()}


def test_a_learning_curve_per_trained_model_and_seed(tmp_path, figures):
    """The lab's summary plot per record with a history: training and validation curves of the
    record's metric per epoch (else the first of accuracy, r2, mae, loss it has), the test figure
    as a line, title naming claim, part and seed; records without a history or a known metric get
    none; names say claim, part (``main``) and seed; no figure is left open."""
    records = [
        record(value=1.0),  # no history
        record(history=[{"epoch": 0, "train_other": 1.0}]),  # no known metric
        record(
            seed=3,
            history=[
                {"epoch": 1, "train_mae": 5.0, "valid_mae": 6.0},
                {"epoch": 2, "train_mae": 4.0, "valid_mae": 5.5},
            ],
            raw={"mae": 5.2},
        ),
        record(
            claim="10.9/mnist-mlp",
            part=None,
            metric="mse",
            history=[{"train_loss": 2.0, "train_mae": 1.0, "train_r2": 0.5}, {"train_loss": 1.0, "train_r2": 0.6}],
            raw={"mae": 0.7},
        ),
        record(claim="10.9/mnist-mlp", part=None, metric="loss", history=[{"valid_loss": 0.3}]),
    ]
    names = report.learning_curve_plots(records, tmp_path)
    assert names == [
        "curve_10_9_hitters-mae_network_seed3.png",
        "curve_10_9_mnist-mlp_main_seed0.png",
        "curve_10_9_mnist-mlp_main_seed0.png",
    ]
    assert all((tmp_path / n).read_bytes().startswith(b"\x89PNG") for n in names)
    assert plt.get_fignums() == []
    (_, hitters), (_, mnist), (_, loss) = figures
    assert _lines(hitters) == {
        "Training": ([1, 2], [5.0, 4.0]),
        "Validation": ([1, 2], [6.0, 5.5]),
        "Test": ([0, 1], [5.2, 5.2]),
    }
    assert hitters.get_title() == "10.9/hitters-mae (network), seed 3"
    assert (hitters.get_xlabel(), hitters.get_ylabel()) == ("Epoch", "mae")
    assert [t.get_text() for t in hitters.get_legend().get_texts()] == ["Training", "Validation", "Test"]
    # "mse" is not in the history: r2 is the first of the fallbacks that is; rows without an epoch
    # count from 0; no test figure of r2, no validation curve
    assert mnist.get_ylabel() == "r2" and mnist.get_title() == "10.9/mnist-mlp, seed 0"
    assert _lines(mnist) == {"Training": ([0, 1], [0.5, 0.6])}
    assert _lines(loss) == {"Validation": ([0], [0.3])} and loss.get_ylabel() == "loss"


@pytest.mark.parametrize(
    "keys, metric",
    [
        ({"valid_accuracy", "train_r2", "train_loss"}, "accuracy"),
        ({"train_r2", "train_mae", "train_loss"}, "r2"),
        ({"valid_mae", "train_loss"}, "mae"),
        ({"train_loss"}, "loss"),
    ],
)
def test_a_learning_curve_falls_back_through_accuracy_r2_mae_loss(tmp_path, figures, keys, metric):
    row = dict.fromkeys(keys, 1.0)
    report.learning_curve_plots([record(metric="mse", history=[row])], tmp_path)
    [(_, ax)] = figures
    assert ax.get_ylabel() == metric


def test_the_lasso_path_plot_and_the_double_descent_plot(tmp_path, fixed_env, figures, monkeypatch):
    """The IMDB lasso path is drawn from the first 10.4/imdb-lasso record that carries one (accuracy
    against -log lambda, validation and test); the double-descent figure is saved when a result is
    given, and listed whenever the folder has one."""
    from islp_ch10 import double_descent

    given = []

    def figure(result):
        given.append(result)
        return plt.figure()

    monkeypatch.setattr(double_descent, "double_descent_figure", figure)
    lam = [1.0, 0.1, 0.01]
    path = {"lambdas": lam, "valid_accuracy": [0.5, 0.8, 0.85], "test_accuracy": [0.5, 0.79, 0.84]}
    records = [
        record(claim="10.9/mnist-mlp", part=None, metric="accuracy", value=0.96, details={**path, "lambdas": [5.0]}),
        record(claim="10.4/imdb-lasso", part=None, metric="accuracy", value=0.88),
        record(claim="10.4/imdb-lasso", part=None, metric="accuracy", value=0.88, details=path),
        record(claim="10.4/imdb-lasso", part=None, metric="accuracy", value=0.88, details={**path, "lambdas": [2.0]}),
    ]
    sentinel = object()
    written = report.write(records, tmp_path, double_descent=sentinel)
    assert given == [sentinel]
    plots = json.loads(written.results.read_text())["plots"]
    assert plots == ["double_descent.png", "imdb_lasso_path.png"]
    assert (tmp_path / "double_descent.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "imdb_lasso_path.png").read_bytes().startswith(b"\x89PNG")
    assert "![imdb_lasso_path.png](imdb_lasso_path.png)" in written.report.read_text()
    [(_, ax)] = figures
    x = [-math.log(v) for v in lam]
    assert _lines(ax) == {"Validation": (x, path["valid_accuracy"]), "Test": (x, path["test_accuracy"])}
    assert (ax.get_xlabel(), ax.get_ylabel()) == (r"$-\log(\lambda)$", "Accuracy")
    assert ax.get_title() == "IMDB: L1 logistic regression path"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Validation", "Test"]
    assert plt.get_fignums() == []
    # a later report without a result still lists the figure already in the folder
    again = report.write(records[:1], tmp_path)
    assert json.loads(again.results.read_text())["plots"] == ["double_descent.png"]


def test_rebuild_passes_the_double_descent_result_and_wall_time(tmp_path, fixed_env, monkeypatch):
    seen = {}

    def write(records, out_dir, double_descent=None, wall_time=None, skipped=None):
        seen.update(records=records, double_descent=double_descent, wall_time=wall_time, skipped=skipped)

    report.save_measurements(tmp_path, "exp-a", 0, [record()])
    monkeypatch.setattr(report, "write", write)
    report.rebuild(tmp_path, double_descent="dd", wall_time=12.5, skipped=[{"experiment": "x", "reason": "y"}])
    assert seen == {
        "records": [record()],
        "double_descent": "dd",
        "wall_time": 12.5,
        "skipped": [{"experiment": "x", "reason": "y"}],
    }
