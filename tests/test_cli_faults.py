"""The command line fails well: one line, a documented exit code, nothing lost.

Each test drives the real entry point ``islp_ch10.cli.main([...])`` into one fault a user can
meet and checks the message, the exit code, and that a report written earlier (and the data
cache) are byte-for-byte intact afterwards.  Experiments are tiny fakes registered in
``experiments.EXPERIMENTS`` with monkeypatch, so no test trains a real model.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import signal
import tempfile
from pathlib import Path
from types import MappingProxyType

import pytest

from islp_ch10 import claims, cli, data, errors, experiments, outdir, report, threads

CLAIM = "10.9/hitters-mae"  # an empirical claim with a <= threshold and parts
THRESHOLD = 300.0


# ----------------------------------------------------------------------------- fakes and helpers
def fake(part: str, value: float = 200.0, calls: list | None = None, action=None):
    """An experiment that measures ``value + seed`` for part ``part`` of CLAIM; ``action(seed)``
    runs first (to raise or interrupt)."""

    def experiment(settings):
        if calls is not None:
            calls.append((part, settings.seed))
        if action is not None:
            action(settings.seed)
        return [experiments.Measurement(CLAIM, "mae", value + settings.seed, run=settings, part=part)]

    experiment.__doc__ = f"fake experiment ({part})"
    return experiment


def register(monkeypatch, **fakes) -> None:
    """Add the fakes to the (read-only) experiment registry for one test."""
    extended = {**experiments.EXPERIMENTS, **{name: experiments.Experiment(fn) for name, fn in fakes.items()}}
    monkeypatch.setattr(experiments, "EXPERIMENTS", MappingProxyType(extended))


def _judged_by_threshold(monkeypatch) -> None:
    """CLAIM with every part judged ``<= THRESHOLD`` (in the real catalogue the least-squares and
    lasso parts are exact figures) and no traced band, so the fakes' values decide pass and fail."""
    real = claims.get(CLAIM)
    parts = {
        name: {**{k: v for k, v in spec.items() if k != "spread_values"}, "threshold": THRESHOLD, "direction": "<="}
        for name, spec in real.parts.items()
    }
    patched = dataclasses.replace(real, extra={**real.extra, "parts": parts})
    table = {**claims.catalogue(), CLAIM: patched}
    monkeypatch.setattr(claims, "catalogue", lambda: table)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A private cache (with one file in it) and no thread override; returns the output folder."""
    _judged_by_threshold(monkeypatch)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "keep.bin").write_bytes(b"cached bytes")
    monkeypatch.setenv(data.CACHE_ENV, str(cache))
    monkeypatch.delenv(threads.ENV, raising=False)
    return tmp_path / "out"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Temporary files or log folders a run should have removed."""
    return [
        p.name for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name.startswith((".logs-", ".write-probe"))
    ]


@pytest.fixture
def good_report(env, monkeypatch, capsys):
    """A finished report in the output folder (two fakes, seeds 0 and 1) and a snapshot of it."""
    register(monkeypatch, **{"fake-a": fake("least-squares"), "fake-b": fake("lasso")})
    code, out, _ = run(capsys, "reproduce", "--only", "fake-a,fake-b", "--seeds", "0,1", "--out", env)
    assert code == 0, out
    assert (env / "results.json").is_file() and (env / "report.md").is_file()
    return env, snapshot(env), snapshot(env.parent / "cache")


def assert_intact(good, message: str, err: str) -> None:
    """One line on stderr containing ``message``; report and cache unchanged; no leftovers."""
    out_dir, before, cache_before = good
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("islp-ch10: "), err
    assert message in lines[0], lines[0]
    assert "Traceback" not in err
    after = snapshot(out_dir)
    for name in ("results.json", "report.md"):
        assert after[name] == before[name], f"{name} changed"
    assert snapshot(out_dir.parent / "cache") == cache_before
    assert not leftovers(out_dir)


def deny_writes(monkeypatch, folder: Path, code: int = errno.EACCES) -> None:
    """Make ``folder`` refuse new files: chmod for a normal user; as root (who ignores modes) the
    temporary-file creation every write goes through fails the same way."""
    os.chmod(folder, 0o555)
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve().is_relative_to(folder.resolve()):
            raise OSError(code, os.strerror(code), str(dir))
        return real(*args, dir=dir, **kwargs)

    if os.geteuid() == 0 or code != errno.EACCES:
        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


# ----------------------------------------------------------------------------- usage (exit 2)
@pytest.mark.parametrize(
    "seeds, says",
    [
        ("-1", "seed -1 is negative"),
        ("", "names no seed"),
        (",", "names no seed"),
        ("0,x", "'x' is not a whole number"),
        ("1,1", "seed 1 is given twice"),
    ],
)
def test_bad_seeds_are_usage_errors_and_never_empty_the_report(good_report, capsys, seeds, says):
    code, _out, err = run(capsys, "reproduce", "--only", "fake-a", "--seeds", seeds, "--out", good_report[0])
    assert code == errors.USAGE
    assert_intact(good_report, says, err)


@pytest.mark.parametrize(
    "value, says",
    [
        ("0", "is not a positive whole number"),
        ("-2", "is not a positive whole number"),
        ("abc", "is not a positive whole number"),
    ],
)
def test_bad_thread_variable(good_report, capsys, monkeypatch, value, says):
    monkeypatch.setenv(threads.ENV, value)
    code, _, err = run(capsys, "reproduce", "--only", "fake-a", "--out", good_report[0])
    assert code == errors.USAGE
    assert_intact(good_report, f"{threads.ENV}", err)
    assert says in err


def test_gpu_on_a_cpu_machine(good_report, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = run(capsys, "reproduce", "--only", "fake-a", "--accelerator", "gpu", "--out", good_report[0])
    assert code == errors.USAGE
    assert_intact(good_report, "--accelerator gpu: this machine has no usable CUDA GPU", err)


@pytest.mark.parametrize(
    "option, value, says",
    [
        ("--strategy", "bogus", "--strategy 'bogus' is not a Lightning strategy"),
        ("--devices", "0", "--devices 0"),
        ("--devices", "two", "--devices 'two'"),
        ("--accelerator", "quantum", "--accelerator 'quantum' is not one of"),
        ("--path", "slow", "invalid choice"),
    ],
)
def test_bad_lightning_options(good_report, capsys, option, value, says):
    code, _, err = run(capsys, "reproduce", "--only", "fake-a", option, value, "--out", good_report[0])
    assert code == errors.USAGE
    assert_intact(good_report, says, err)


def test_lightning_refuses_a_combination(good_report, capsys):
    """A known strategy Lightning cannot set up here (DeepSpeed is not installed) is refused up front."""
    pytest.importorskip("pytorch_lightning")
    try:
        import deepspeed  # noqa: F401

        pytest.skip("DeepSpeed is installed here")
    except ImportError:
        pass
    code, _, err = run(capsys, "reproduce", "--only", "fake-a", "--strategy", "deepspeed", "--out", good_report[0])
    assert code == errors.USAGE
    assert_intact(good_report, "Lightning refuses", err)


@pytest.mark.parametrize("only, says", [("nope", "unknown experiment(s): nope"), (",", "names no experiment")])
def test_bad_experiment_selection(good_report, capsys, only, says):
    code, _, err = run(capsys, "reproduce", "--only", only, "--out", good_report[0])
    assert code == errors.USAGE
    assert_intact(good_report, says, err)


def test_download_unknown_name(capsys, tmp_path):
    code, _, err = run(capsys, "download", "bogus", "--root", tmp_path)
    assert code == errors.USAGE
    assert err.strip() == (
        f"islp-ch10: unknown data set 'bogus'; choose one of {', '.join(sorted(data.DATASETS))} or all"
    )
    assert not list(tmp_path.iterdir())


def test_python_m_islp_ch10_is_the_same_command(capsys, tmp_path, monkeypatch):
    import runpy

    monkeypatch.setattr("sys.argv", ["islp_ch10", "download", "bogus", "--root", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("islp_ch10", run_name="__main__")
    assert exit_.value.code == errors.USAGE
    assert "unknown data set 'bogus'" in capsys.readouterr().err


def test_unknown_option_is_one_line(capsys):
    code, _, err = run(capsys, "reproduce", "--frobnicate")
    assert code == errors.USAGE and len(err.strip().splitlines()) == 1 and "--frobnicate" in err


def test_help_documents_exit_codes(capsys):
    code, out, _ = run(capsys, "reproduce", "--help")
    assert code == 0
    for value, what in errors.EXIT_CODES.items():
        assert f"{value:>3}  {what}" in out
    assert "130" in cli.__doc__ and "exit" in errors.__doc__


# ----------------------------------------------------------------------------- claims --results
def test_claims_on_truncated_results(good_report, capsys):
    results = good_report[0] / "results.json"
    broken = results.parent / "broken.json"
    broken.write_bytes(results.read_bytes()[:200])
    code, _out, err = run(capsys, "claims", "--results", broken)
    assert code == errors.DATA_CORRUPT
    assert f"--results {broken} is damaged (not valid JSON" in err and len(err.strip().splitlines()) == 1


def test_claims_on_a_folder(good_report, capsys):
    code, _, err = run(capsys, "claims", "--results", good_report[0])
    assert code == errors.USAGE
    assert "is a folder, not a JSON file; did you mean" in err and "results.json" in err


def test_claims_on_a_missing_named_file(capsys, tmp_path):
    code, _, err = run(capsys, "claims", "--results", tmp_path / "nope.json")
    assert code == errors.USAGE and "does not exist" in err


# ----------------------------------------------------------------------------- data (exit 3, 4)
def _raise(exc):
    def action(seed):
        raise exc

    return action


def test_every_experiment_missing_data_is_exit_3(good_report, capsys, monkeypatch):
    missing = data.DataMissing("mnist", "mnist/x.gz", "/nowhere")
    register(monkeypatch, **{"fake-m": fake("network", action=_raise(missing))})
    code, _, err = run(capsys, "reproduce", "--only", "fake-m", "--out", good_report[0])
    assert code == errors.DATA_MISSING
    assert_intact(good_report, "no experiment could run, data missing for fake-m", err)
    assert "islp-ch10 download mnist" in err


def test_some_missing_data_is_reported_and_the_rest_measured(env, capsys, monkeypatch):
    missing = data.DataMissing("mnist", "mnist/x.gz", "/nowhere")
    register(monkeypatch, **{"fake-a": fake("least-squares"), "fake-m": fake("network", action=_raise(missing))})
    code, out, _ = run(capsys, "reproduce", "--only", "fake-a,fake-m", "--out", env)
    assert code == errors.OK and "skipped: mnist" in out
    results = json.loads((env / "results.json").read_text())
    assert [s["experiment"] for s in results["skipped"]] == ["fake-m"]
    assert [r["part"] for r in results["measurements"]] == ["least-squares"]


@pytest.mark.parametrize(
    "exc, says",
    [
        (data.ChecksumError("/d/mnist/t.gz", "sha256 aa", "sha256 bb"), "checksum mismatch for /d/mnist/t.gz"),
        (data.DataFormatError("/d/mnist/t.gz: wrong IDX magic number"), "wrong IDX magic number"),
    ],
)
def test_corrupt_data_is_exit_4_and_keeps_earlier_measurements(good_report, capsys, monkeypatch, exc, says):
    calls = []
    register(monkeypatch, **{"fake-c": fake("network", calls=calls, action=_raise(exc))})
    out_dir = good_report[0]
    code, _, err = run(capsys, "reproduce", "--only", "fake-a,fake-c", "--seeds", "5", "--out", out_dir)
    assert code == errors.DATA_CORRUPT
    assert says in err and "1 measurement(s) of this run kept" in err and "--resume" in err
    # the fake-a measurement taken before the failure is on disk and in the rebuilt report
    assert report.measurement_path(out_dir, "fake-a", 5).is_file()
    results = json.loads((out_dir / "results.json").read_text())
    assert {(r["part"], r["seed"]) for r in results["measurements"]} >= {("least-squares", 5)}
    assert not leftovers(out_dir)


def test_internal_error_is_one_line_and_debug_shows_the_traceback(good_report, capsys, monkeypatch):
    register(monkeypatch, **{"fake-bug": fake("network", action=_raise(RuntimeError("boom")))})
    args = ("reproduce", "--only", "fake-bug", "--out", good_report[0])
    code, _, err = run(capsys, *args)
    assert code == errors.INTERNAL
    assert_intact(good_report, "internal error: RuntimeError: boom (rerun with --debug", err)
    code, _, err = run(capsys, *args, "--debug")
    assert code == errors.INTERNAL and "Traceback" in err and "RuntimeError: boom" in err


# ----------------------------------------------------------------------------- I/O (exit 5) and busy (6)
def test_read_only_output_folder(good_report, capsys, monkeypatch):
    out_dir = good_report[0]
    deny_writes(monkeypatch, out_dir)
    try:
        code, _, err = run(capsys, "reproduce", "--only", "fake-a", "--out", out_dir)
    finally:
        os.chmod(out_dir, 0o755)
    assert code == errors.IO
    assert_intact(good_report, f"output folder {out_dir} is not writable (Permission denied); pass another --out", err)


def test_output_folder_that_is_a_file(env, capsys, monkeypatch, tmp_path):
    register(monkeypatch, **{"fake-a": fake("least-squares")})
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "reproduce", "--only", "fake-a", "--out", blocker / "out")
    assert code == errors.IO and "cannot be created" in err and len(err.strip().splitlines()) == 1


def test_read_only_cache(good_report, capsys, monkeypatch, env):
    cache = env.parent / "cache"
    deny_writes(monkeypatch, cache)
    try:
        code, _, err = run(capsys, "reproduce", "--only", "fake-a", "--out", good_report[0])
    finally:
        os.chmod(cache, 0o755)
    assert code == errors.IO
    assert_intact(good_report, f"cache folder {cache} is not writable", err)
    assert data.CACHE_ENV in err


def test_too_little_space_is_refused_before_training(good_report, capsys, monkeypatch):
    import shutil

    calls = []
    register(monkeypatch, **{"fake-a": fake("least-squares", calls=calls)})
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=2**20))
    code, _, err = run(capsys, "reproduce", "--only", "fake-a", "--out", good_report[0])
    assert code == errors.IO and calls == []
    assert_intact(good_report, "only 1.0 MB free for output folder", err)


def test_disk_full_while_saving_rescues_the_measurement(good_report, capsys, monkeypatch):
    out_dir = good_report[0]

    def fill_disk(seed):  # the disk fills up while the experiment runs
        deny_writes(monkeypatch, out_dir, errno.ENOSPC)

    register(monkeypatch, **{"fake-full": fake("network", action=fill_disk)})
    try:
        code, _, err = run(capsys, "reproduce", "--only", "fake-full", "--seeds", "7", "--out", out_dir)
    finally:
        os.chmod(out_dir, 0o755)
    assert code == errors.IO
    assert_intact(good_report, "No space left on device", err)
    rescued = Path(err.split("saved to ")[1].split()[0].rstrip(";"))
    try:
        saved = json.loads(rescued.read_text())
        assert saved["measurements"][0]["value"] == 207.0
    finally:
        rescued.unlink()


def test_a_second_run_on_the_same_folder_is_refused(good_report, capsys):
    import fcntl

    out_dir = good_report[0]
    with open(out_dir / outdir.LOCK_NAME, "a+") as held:  # another run holds the lock
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        held.truncate(0)
        held.write("4242")
        held.flush()
        code, _, err = run(capsys, "reproduce", "--only", "fake-a", "--out", out_dir)
    assert code == errors.BUSY
    assert_intact(good_report, f"{out_dir} is in use by another islp-ch10 run (pid 4242)", err)


# ----------------------------------------------------------------------------- Ctrl-C (exit 130) and --resume
def test_ctrl_c_then_resume_equals_an_uninterrupted_run(env, capsys, monkeypatch, tmp_path):
    calls: list = []
    stop = {"at": ("lasso", 1)}

    def action_for(part):
        def action(seed):
            if (part, seed) == stop["at"]:
                os.kill(os.getpid(), signal.SIGINT)

        return action

    register(
        monkeypatch,
        **{
            "fake-a": fake("least-squares", calls=calls, action=action_for("least-squares")),
            "fake-b": fake("lasso", calls=calls, action=action_for("lasso")),
        },
    )
    args = ("reproduce", "--only", "fake-a,fake-b", "--seeds", "0,1,2")
    handler = signal.getsignal(signal.SIGINT)

    code, _, err = run(capsys, *args, "--out", env)
    assert code == errors.INTERRUPTED
    # fake-a seeds 0-2 and fake-b seed 0 finished before the interrupt
    assert err.strip() == (
        f"islp-ch10: interrupted; 4 measurements kept in {env / report.MEASUREMENTS} (rerun with --resume to continue)"
    )
    assert report.measured(env) == {("fake-a", 0), ("fake-a", 1), ("fake-a", 2), ("fake-b", 0)}
    assert signal.getsignal(signal.SIGINT) is handler and not leftovers(env)

    stop["at"] = None
    calls.clear()
    code, out, _ = run(capsys, *args, "--out", env, "--resume")
    assert code == errors.OK and "resuming: 4 experiment/seed pair(s)" in out
    assert calls == [("lasso", 1), ("lasso", 2)]  # only what was missing

    straight = tmp_path / "straight"
    assert run(capsys, *args, "--out", straight)[0] == errors.OK

    def comparable(path):
        r = json.loads((path / "results.json").read_text())
        return {k: r[k] for k in ("summary", "measurements", "plots", "skipped")}

    assert comparable(env) == comparable(straight)


def _fit_signalling(signum):
    """An experiment action that trains a tiny network through ``fit`` and sends ``signum`` to this
    process after the first batch."""
    import pytorch_lightning as pl
    import torch

    from islp_ch10.training import TrainConfig, fit

    class Signal(pl.Callback):
        def on_train_batch_end(self, trainer, *args):
            os.kill(os.getpid(), signum)

    def train(seed):
        config = TrainConfig(task="regression", epochs=2, batch_size=4, validation=None, seed=seed)
        fit(
            lambda: torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Flatten(0)),
            (torch.zeros(8, 2), torch.zeros(8)),
            (torch.zeros(4, 2), torch.zeros(4)),
            config,
            callbacks=[Signal()],
        )

    return train


def test_ctrl_c_inside_lightning_training_is_exit_130(env, capsys, monkeypatch):
    """Ctrl-C during a fit is an interruption on every Lightning: 2.6 turns it into ``sys.exit(1)``,
    and before 2.4 Lightning stops "gracefully" and returns as if the fit had ended (``fit`` re-raises
    then, so the truncated model is never measured)."""
    train = _fit_signalling(signal.SIGINT)

    register(monkeypatch, **{"fake-a": fake("least-squares"), "fake-fit": fake("network", action=train)})
    handler = signal.getsignal(signal.SIGINT)
    code, _, err = run(capsys, "reproduce", "--only", "fake-a,fake-fit", "--out", env)
    assert code == errors.INTERRUPTED
    assert "interrupted; 1 measurement kept" in err.strip().splitlines()[-1]
    assert report.measured(env) == {("fake-a", 0)}
    assert signal.getsignal(signal.SIGINT) is handler  # Lightning's SIG_IGN does not outlive the run


# ----------------------------------------------------------------------------- the report itself
def test_failing_claim_is_exit_1_with_report(env, capsys, monkeypatch):
    register(monkeypatch, **{"fake-bad": fake("network", value=THRESHOLD + 50)})
    code, out, _ = run(capsys, "reproduce", "--only", "fake-bad", "--out", env)
    assert code == errors.BELOW_THRESHOLD and "1 below threshold" in out
    rows = json.loads((env / "results.json").read_text())["summary"]
    assert [r["verdict"] for r in rows] == ["FAIL"]


def test_report_is_never_written_empty(tmp_path):
    with pytest.raises(report.EmptyReport):
        report.write([], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_report_is_rebuilt_from_every_measurement_file(env, capsys, monkeypatch):
    register(monkeypatch, **{"fake-a": fake("least-squares"), "fake-b": fake("lasso")})
    assert run(capsys, "reproduce", "--only", "fake-a", "--seeds", "0,1", "--out", env)[0] == 0
    assert run(capsys, "reproduce", "--only", "fake-b", "--out", env)[0] == 0
    results = json.loads((env / "results.json").read_text())
    assert sorted((r["part"], r["seed"]) for r in results["measurements"]) == [
        ("lasso", 0),
        ("least-squares", 0),
        ("least-squares", 1),
    ]
    assert {r["part"]: r["values"] for r in results["summary"]} == {"lasso": [200.0], "least-squares": [200.0, 201.0]}


# ----------------------------------------------------------------------------- claims listing
class _Claim:
    tests = ("tests/t.py::test_a", "tests/t.py::test_b")


@pytest.mark.parametrize(
    "records, status",
    [
        (
            [
                {"test": "tests/t.py::test_a", "outcome": "passed"},
                {"test": "tests/t.py::test_b[x]", "outcome": "passed"},
            ],
            "passed",
        ),
        ([{"test": "tests/t.py::test_a", "outcome": "passed"}], "incomplete"),  # test_b deselected
        (
            [{"test": "tests/t.py::test_a", "outcome": "passed"}, {"test": "tests/t.py::test_b", "outcome": "skipped"}],
            "incomplete",
        ),
        (
            [{"test": "tests/t.py::test_a", "outcome": "passed"}, {"test": "tests/t.py::test_b", "outcome": "failed"}],
            "failed",
        ),
        ([{"test": "tests/t.py::test_a", "outcome": "skipped"}], "skipped"),
        ([], "not run"),
    ],
)
def test_claim_roll_up_is_honest(records, status):
    assert claims.claim_status(_Claim, records) == status


def test_claims_listing_fits_100_columns_in_section_order(good_report, capsys, tmp_path):
    outcomes = tmp_path / "claims.json"
    outcomes.write_text(json.dumps({CLAIM: [{"test": "tests/test_10_9_lab.py::x", "outcome": "passed"}]}))
    code, out, _ = run(
        capsys, "claims", "--results", good_report[0] / "results.json", "--tests", outcomes, "--width", 100
    )
    assert code == 0
    assert max(map(len, out.splitlines())) <= 100
    sections = [line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("== ")]
    assert sections == sorted(sections, key=lambda s: tuple(map(int, s.split("."))))
    row = next(line for line in out.splitlines() if line.startswith(CLAIM))
    assert "incomplete" in row and f"<={THRESHOLD:g}" in row
    assert "measured [least-squares]: 200.5 (pass, threshold <=" in out and "2 parts" in row
    assert out.strip().splitlines()[-1].startswith(f"{len(claims.catalogue())} claims: ")


def test_claims_default_paths_do_not_depend_on_the_current_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports" / "latest").mkdir(parents=True)
    (tmp_path / "reports" / "latest" / "results.json").write_text("{ truncated")
    code, out, _ = run(capsys, "claims", "--section", "10.1")
    assert code == 0  # the broken file in the current folder is not the default
    assert str(outdir.default_reports_dir()) in out or "claims:" in out


# ---------------------------------------------------------------- issue 17: inputs refused before work (exit 2)
MAX_SEED = 2**32 - 1


def test_the_seed_bound_is_what_numpy_and_lightning_accept():
    """The bound the command line enforces is the stack's: 2**32-1 seeds numpy and Lightning, 2**32 does not."""
    import numpy as np
    import pytorch_lightning as pl

    assert cli.MAX_SEED == MAX_SEED
    np.random.seed(MAX_SEED)
    assert pl.seed_everything(MAX_SEED) == MAX_SEED  # no verbose=: Lightning < 2.3 has no such argument
    with pytest.raises(ValueError):
        np.random.seed(MAX_SEED + 1)


@pytest.mark.parametrize("seeds", [str(MAX_SEED + 1), f"0,{2**64}"])
def test_a_seed_above_2_32_is_refused_before_any_experiment_runs(good_report, capsys, monkeypatch, seeds):
    calls: list = []
    register(monkeypatch, **{"fake-a": fake("least-squares", calls=calls)})
    code, out, err = run(capsys, "reproduce", "--only", "fake-a", "--seeds", seeds, "--out", good_report[0])
    assert code == errors.USAGE and calls == [] and out == ""
    assert_intact(good_report, f"is above {MAX_SEED} (2**32-1), the largest seed numpy and Lightning accept", err)


def test_the_largest_seed_runs(env, capsys, monkeypatch):
    calls: list = []
    register(monkeypatch, **{"fake-a": fake("least-squares", calls=calls)})
    code, _, err = run(capsys, "reproduce", "--only", "fake-a", "--seeds", MAX_SEED, "--out", env)
    assert code in (errors.OK, errors.BELOW_THRESHOLD), err
    assert calls == [("least-squares", MAX_SEED)]


def _sweep_env(tmp_path, monkeypatch, calls):
    """A fake sweep experiment and an artifact folder holding one earlier artifact."""
    register(monkeypatch, **{"fake-s": fake("network", calls=calls)})
    folder = tmp_path / "spreads"
    folder.mkdir()
    (folder / "earlier.json").write_text('{"experiment": "x", "runs": []}')
    return folder


def test_sweep_refuses_a_seed_above_2_32(env, capsys, monkeypatch, tmp_path):
    calls: list = []
    folder = _sweep_env(tmp_path, monkeypatch, calls)
    before = snapshot(folder)
    code, _, err = run(capsys, "sweep", "fake-s", "--seeds", f"1,{MAX_SEED + 1}", "--out", folder)
    assert code == errors.USAGE and calls == [] and snapshot(folder) == before
    assert len(err.strip().splitlines()) == 1 and f"seed {MAX_SEED + 1} is above {MAX_SEED}" in err


def test_a_thread_count_far_above_the_cores_is_refused(good_report, capsys, monkeypatch):
    """ISLP_CH10_THREADS=100000 ended in a MemoryError with an empty message; now: exit 2, the bound named."""
    cores = threads.available_cores()
    monkeypatch.setenv(threads.ENV, "100000")
    code, out, err = run(capsys, "reproduce", "--only", "fake-a", "--out", good_report[0])
    assert code == errors.USAGE and out == ""
    assert_intact(good_report, f"{threads.ENV}='100000' is more than 4 x the {cores} core(s) available", err)
    assert f"from 1 to {4 * cores}" in err


def test_four_threads_per_core_is_still_allowed(env, capsys, monkeypatch):
    register(monkeypatch, **{"fake-a": fake("least-squares")})
    limit = threads.OVERSUBSCRIPTION * threads.available_cores()
    monkeypatch.setenv(threads.ENV, str(limit))
    code, out, _ = run(capsys, "reproduce", "--only", "fake-a", "--out", env)
    assert code == errors.OK and f"{limit} torch thread(s) from {threads.ENV}" in out


@pytest.mark.parametrize("command", ["reproduce", "sweep"])
def test_an_empty_out_is_refused_not_read_as_the_default(env, capsys, monkeypatch, tmp_path, command):
    calls: list = []
    register(monkeypatch, **{"fake-a": fake("least-squares", calls=calls)})
    argv = ["reproduce", "--only", "fake-a"] if command == "reproduce" else ["sweep", "fake-a"]
    before = snapshot(outdir.default_reports_dir())
    code, _, err = run(capsys, *argv, "--out", "")
    assert code == errors.USAGE and calls == [] and snapshot(outdir.default_reports_dir()) == before
    assert len(err.strip().splitlines()) == 1 and "--out is empty; name a folder, or leave --out out" in err


def _bare_env(tmp_path, **extra) -> dict:
    """The environment of a child ``python -m islp_ch10`` with no folder variables but ``extra``."""
    drop = ("MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", data.CACHE_ENV, data.DATA_ENV)
    env = {k: v for k, v in os.environ.items() if k not in drop}
    repo = str(Path(cli.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [repo, env.get("PYTHONPATH")]))
    env["TMPDIR"] = str(tmp_path)  # where matplotlib would leave its temporary folder
    return {**env, **extra}


def _child(tmp_path, *argv, **extra):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "islp_ch10", *map(str, argv)],
        env=_bare_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(
    "home, says",
    [("", "HOME='' is empty"), ("relative/home", "is not an absolute path"), ("/proc/self", "is not writable")],
)
def test_an_unusable_home_is_one_line_before_any_warning(tmp_path, home, says):
    """HOME="" put the cache at /.cache; an unwritable HOME printed matplotlib's warnings first."""
    done = _child(tmp_path, "reproduce", "--only", "hitters-linear", "--out", tmp_path / "out", HOME=home)
    assert done.returncode == errors.USAGE, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()] and done.stderr.startswith("islp-ch10: ")
    assert says in done.stderr and f"the cache folder (or set {data.CACHE_ENV})" in done.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("matplotlib-*"))


def test_an_unusable_home_is_fine_when_no_default_folder_needs_it(tmp_path):
    """With the folders set explicitly an unusable HOME is no error, and matplotlib stays quiet.

    XDG_DATA_HOME names the reports folder's base: an installed islp-ch10 (not a checkout) would
    otherwise put its default reports under HOME, and rightly refuse."""
    cache = tmp_path / "cache"
    done = _child(
        tmp_path,
        "claims",
        "--results",
        tmp_path / "nope.json",
        HOME="/proc/self",
        XDG_DATA_HOME=str(tmp_path / "share"),
        **{data.CACHE_ENV: cache},
    )
    assert done.returncode == errors.USAGE
    assert done.stderr.strip() == f"islp-ch10: --results {tmp_path / 'nope.json'} does not exist; pass an existing file"
    assert not list(tmp_path.glob("matplotlib-*"))


# ---------------------------------------------------------------- issue 17: damaged files (exit 4, named)
def _damage(kind: str, path: Path) -> None:
    """Damage the measurement file at ``path`` the way ``kind`` says."""
    payload = json.loads(path.read_text())
    if kind == "truncated":
        path.write_bytes(path.read_bytes()[:120])
        return
    if kind == "wrong shape":
        payload = [payload]
    elif kind == "measurements not a list":
        payload["measurements"] = {"0": payload["measurements"][0]}
    elif kind == "unknown claim":
        payload["measurements"][0]["claim"] = "10.99/no-such-claim"
    elif kind == "NaN figure":
        payload["measurements"][0]["value"] = float("nan")
    elif kind == "infinite figure":
        payload["measurements"][0]["value"] = float("-inf")
    elif kind == "string figure":
        payload["measurements"][0]["value"] = "200.0"
    elif kind == "other experiment":
        payload["experiment"] = "fake-b"
    path.write_text(json.dumps(payload))  # NaN and inf as Python writes them


DAMAGE = {
    "truncated": "not valid JSON",
    "wrong shape": "Input should be a valid dictionary",
    "measurements not a list": "measurements: Input should be a valid list",
    "unknown claim": "claim '10.99/no-such-claim' is not in the catalogue",
    "NaN figure": "measurements.0.value: Input should be a finite number",
    "infinite figure": "measurements.0.value: Input should be a finite number",
    "string figure": "measurements.0.value: Input should be a valid number",
    "other experiment": "it holds fake-b seed 0, not what its name says",
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_measurement_file_is_refused_before_work(good_report, capsys, monkeypatch, kind):
    """A damaged file the run will not rewrite: exit 4 naming it, before anything is trained (it
    used to be exit 70 after the work, and every later run into the folder failed the same way)."""
    out_dir = good_report[0]
    damaged = report.measurement_path(out_dir, "fake-a", 0)
    _damage(kind, damaged)
    good_report = (out_dir, snapshot(out_dir), good_report[2])
    calls: list = []
    register(monkeypatch, **{"fake-b": fake("lasso", calls=calls)})
    code, _, err = run(capsys, "reproduce", "--only", "fake-b", "--seeds", "3", "--out", out_dir)
    assert code == errors.DATA_CORRUPT and calls == []
    assert_intact(good_report, f"measurement file {damaged} is damaged (", err)
    assert DAMAGE[kind] in err and "delete it, or rerun that experiment and seed" in err


@pytest.mark.parametrize("kind", ["truncated", "NaN figure", "unknown claim"])
def test_resume_measures_a_damaged_file_again_instead_of_counting_it_done(good_report, capsys, monkeypatch, kind):
    out_dir = good_report[0]
    damaged = report.measurement_path(out_dir, "fake-a", 0)
    _damage(kind, damaged)
    calls: list = []
    register(monkeypatch, **{"fake-a": fake("least-squares", calls=calls), "fake-b": fake("lasso", calls=calls)})
    code, out, _ = run(capsys, "reproduce", "--only", "fake-a,fake-b", "--seeds", "0,1", "--out", out_dir, "--resume")
    assert code == errors.OK
    assert f"note: {damaged.name} is damaged (" in out and "measuring fake-a seed 0 again" in out
    assert "resuming: 3 experiment/seed pair(s)" in out and calls == [("least-squares", 0)]
    assert report.read_measurement_file(damaged)["measurements"][0]["value"] == 200.0
    assert (
        json.loads((out_dir / "results.json").read_text())["summary"]
        == json.loads(good_report[1]["results.json"])["summary"]
    )


def _results_variant(good_report, tmp_path, change) -> Path:
    payload = json.loads((good_report[0] / "results.json").read_text())
    path = tmp_path / "results-variant.json"
    path.write_text(json.dumps(change(payload)))
    return path


def _set(row_key, value):
    def change(payload):
        payload["summary"][0][row_key] = value
        return payload

    return change


@pytest.mark.parametrize(
    "change, says",
    [
        (lambda p: {"summary": {"claim": CLAIM}}, "summary: Input should be a valid list"),
        (lambda p: {"results": p["summary"]}, "summary: Field required"),
        (lambda p: p["summary"], "Input should be a valid dictionary"),
        (lambda p: {**p, "summary": [{**p["summary"][0], "median": "200"}]}, "summary.0.median"),
        (_set("median", float("nan")), "summary.0.median: Input should be a finite number"),
        (_set("median", float("inf")), "summary.0.median: Input should be a finite number"),
        (_set("claim", "10.99/no-such-claim"), "claim '10.99/no-such-claim' is not in the catalogue"),
        (_set("verdict", "maybe"), "summary.0.verdict"),
    ],
)
def test_claims_refuses_a_damaged_results_file_before_printing(good_report, capsys, tmp_path, change, says):
    path = _results_variant(good_report, tmp_path, change)
    code, out, err = run(capsys, "claims", "--results", path)
    assert code == errors.DATA_CORRUPT and out == ""
    assert err.strip() == err.strip().splitlines()[0] and f"--results {path} is damaged (" in err and says in err


@pytest.mark.parametrize(
    "content, says",
    [
        ([{"test": "t", "outcome": "passed"}], "Input should be a valid dictionary"),
        ({CLAIM: {"test": "t", "outcome": "passed"}}, f"{CLAIM}: Input should be a valid list"),
        ({CLAIM: [{"test": "t"}]}, f"{CLAIM}.0.outcome: Field required"),
        ({CLAIM: [{"test": "t", "outcome": "great"}]}, "Input should be 'passed', 'failed'"),
        ({"10.99/nope": [{"test": "t", "outcome": "failed"}]}, "claim '10.99/nope' is not in the catalogue"),
    ],
)
def test_claims_refuses_damaged_test_outcomes_before_printing(capsys, tmp_path, content, says):
    path = tmp_path / "claims.json"
    path.write_text(json.dumps(content))
    code, out, err = run(capsys, "claims", "--tests", path, "--results", tmp_path / "absent.json")
    assert code == errors.USAGE  # the explicit --results is absent: the first input refused wins
    code, out, err = run(capsys, "claims", "--tests", path)
    assert code == errors.DATA_CORRUPT and out == ""
    assert len(err.strip().splitlines()) == 1 and f"--tests {path} is damaged (" in err and says in err


@pytest.mark.parametrize("damage", ["truncated", "nan value", "runs not a list"])
def test_a_damaged_sweep_artifact_is_exit_4_before_training(env, capsys, monkeypatch, tmp_path, damage):
    from islp_ch10 import sweep

    calls: list = []
    folder = _sweep_env(tmp_path, monkeypatch, calls)
    assert run(capsys, "sweep", "fake-s", "--seeds", "0,1", "--out", folder)[0] == errors.OK
    (artifact,) = list(folder.glob("fake-s__*.json"))
    text = artifact.read_text()
    if damage == "truncated":
        artifact.write_text(text[: len(text) // 2])
    elif damage == "nan value":
        payload = json.loads(text)
        payload["runs"][1]["value"] = float("nan")
        artifact.write_text(json.dumps(payload))
    else:
        artifact.write_text(json.dumps({**json.loads(text), "runs": {"0": 1}}))
    before, calls[:] = snapshot(folder), []
    code, _, err = run(capsys, "sweep", "fake-s", "--seeds", "2", "--out", folder)
    assert code == errors.DATA_CORRUPT and calls == [] and snapshot(folder) == before
    assert len(err.strip().splitlines()) == 1
    assert f"sweep artifact {artifact} is damaged (" in err and "move it away or rerun with --fresh" in err
    with pytest.raises(ValueError, match="is damaged"):
        sweep.read_artifact(artifact)
    code, _, _ = run(capsys, "sweep", "fake-s", "--seeds", "2", "--out", folder, "--fresh")
    assert code == errors.OK and [r["seed"] for r in sweep.read_artifact(artifact)["runs"]] == [2]


# ---------------------------------------------------------------- issue 17: SIGTERM (exit 143), --resume by path
def _term_at(stop):
    def action(seed):
        if seed == stop:
            os.kill(os.getpid(), signal.SIGTERM)

    return action


def test_sigterm_is_exit_143_with_the_measurements_kept(env, capsys, monkeypatch):
    """What `timeout`, CI and systemd send: reported as "internal error" (70) before."""
    register(monkeypatch, **{"fake-a": fake("least-squares", action=_term_at(2))})
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    code, _, err = run(capsys, "reproduce", "--only", "fake-a", "--seeds", "0,1,2,3", "--out", env)
    assert code == errors.TERMINATED == 143
    assert err.strip() == (
        f"islp-ch10: terminated (SIGTERM); 2 measurements kept in {env / report.MEASUREMENTS} "
        "(rerun with --resume to continue)"
    )
    assert report.measured(env) == {("fake-a", 0), ("fake-a", 1)} and not leftovers(env)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers


def test_sigterm_inside_lightning_training_is_exit_143(env, capsys, monkeypatch):
    """SIGTERM during a fit is exit 143 on every Lightning: Lightning < 2.4 installs its own SIGTERM
    handler during fit, which only sets a flag; ``fit`` stops and raises then."""
    train = _fit_signalling(signal.SIGTERM)

    register(monkeypatch, **{"fake-a": fake("least-squares"), "fake-fit": fake("network", action=train)})
    handler = signal.getsignal(signal.SIGTERM)
    code, _, err = run(capsys, "reproduce", "--only", "fake-a,fake-fit", "--out", env)
    assert code == errors.TERMINATED
    assert "terminated (SIGTERM); 1 measurement kept" in err.strip().splitlines()[-1] and "--resume" in err
    assert report.measured(env) == {("fake-a", 0)}
    assert signal.getsignal(signal.SIGTERM) is handler


def test_sigterm_during_a_sweep_is_exit_143(env, capsys, monkeypatch, tmp_path):
    register(monkeypatch, **{"fake-s": fake("network", action=_term_at(1))})
    folder = tmp_path / "spreads"
    code, _, err = run(capsys, "sweep", "fake-s", "--seeds", "0,1", "--out", folder)
    assert code == errors.TERMINATED and "terminated (SIGTERM); 1 measurement kept in" in err
    assert "(rerun the same sweep: it skips the seeds kept to continue)" in err


def test_exit_143_is_documented(capsys):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()  # the checkout's, also under tox
    assert "143 terminated (SIGTERM" in cli.__doc__ and "143 terminated by SIGTERM" in readme
    assert errors.EXIT_CODES[143].startswith("terminated (SIGTERM)")
    code, out, _ = run(capsys, "reproduce", "--help")
    assert code == 0 and "143  terminated (SIGTERM)" in out


def _path_fake(calls):
    """A fake whose figure depends on the training path, as a real network's does."""

    def experiment(settings):
        calls.append((settings.path, settings.seed))
        value = 200.0 + settings.seed + (0.5 if settings.path == "islp" else 0.0)
        return [experiments.Measurement(CLAIM, "mae", value, run=settings, part="network")]

    experiment.__doc__ = "fake experiment whose figure depends on the path"
    return experiment


def test_resume_with_another_path_measures_again(env, capsys, monkeypatch):
    """`--resume --path islp` reused the fast path's measurements and the report said fast."""
    calls: list = []
    register(monkeypatch, **{"fake-p": _path_fake(calls)})
    args = ("reproduce", "--only", "fake-p", "--seeds", "0,1", "--out", env)
    assert run(capsys, *args)[0] == errors.OK
    calls.clear()
    code, out, _ = run(capsys, *args, "--resume", "--path", "islp")
    assert code == errors.OK and calls == [("islp", 0), ("islp", 1)]
    assert "note: fake-p seed 0 was measured with other settings (path fast -> islp); measuring it again" in out
    rows = json.loads((env / "results.json").read_text())["summary"]
    assert [(r["path"], r["values"]) for r in rows] == [(["islp"], [200.5, 201.5])]
    calls.clear()
    code, out, _ = run(capsys, *args, "--resume", "--path", "islp")  # now the same settings: nothing to do
    assert code == errors.OK and calls == [] and "resuming: 2 experiment/seed pair(s)" in out


def test_resume_reads_the_settings_of_files_written_before_they_were_recorded(env, capsys, monkeypatch):
    """Files of earlier versions carry the path only in each record's ``run``: still keyed by it."""
    calls: list = []
    register(monkeypatch, **{"fake-p": _path_fake(calls)})
    args = ("reproduce", "--only", "fake-p", "--out", env)
    assert run(capsys, *args)[0] == errors.OK
    path = report.measurement_path(env, "fake-p", 0)
    payload = json.loads(path.read_text())
    del payload["settings"]
    path.write_text(json.dumps(payload))
    calls.clear()
    assert run(capsys, *args, "--resume")[0] == errors.OK and calls == []
    assert run(capsys, *args, "--resume", "--path", "islp")[0] == errors.OK and calls == [("islp", 0)]


# ---------------------------------------------------------------- issue 17: the minor items
def test_a_killed_runs_scratch_is_removed_by_the_next_run(env, capsys, monkeypatch):
    """`kill -9` left OUT/.logs-* and a temporary folder of the fit behind; now every temporary
    folder of a run lives in its OUT/.logs-*, and the next run on the folder removes stale ones."""
    made: list[str] = []

    def use_tmp(seed):  # what a fit does: a private temporary folder
        made.append(tempfile.mkdtemp(prefix="islp-ch10-fit-"))

    register(monkeypatch, **{"fake-a": fake("least-squares", action=use_tmp)})
    env.mkdir()
    stale = env / ".logs-killed"
    (stale / "tmp" / "islp-ch10-fit-x").mkdir(parents=True)
    (stale / "tmp" / "islp-ch10-fit-x" / "last.ckpt").write_bytes(b"x")
    system_tmp = tempfile.gettempdir()
    code, _, _ = run(capsys, "reproduce", "--only", "fake-a", "--out", env)
    assert code == errors.OK and not stale.exists() and not leftovers(env)
    assert len(made) == 1 and Path(made[0]).parent.parent.name.startswith(".logs-")
    assert Path(made[0]).is_relative_to(env) and not Path(made[0]).exists()
    assert tempfile.gettempdir() == system_tmp


def test_a_full_disk_while_writing_the_report_names_the_file_and_keeps_the_hint(good_report, capsys, monkeypatch):
    out_dir = good_report[0]
    real = report.write_text

    def full(path, text):
        if Path(path).name == "results.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # a write or fsync names no file
        return real(path, text)

    monkeypatch.setattr(report, "write_text", full)
    code, _, err = run(capsys, "reproduce", "--only", "fake-a", "--seeds", "4", "--out", out_dir)
    assert code == errors.IO
    assert_intact(good_report, f"{out_dir / 'results.json'}: No space left on device; free some space", err)
    assert f"1 measurement(s) of this run kept in {out_dir / report.MEASUREMENTS}" in err and "--resume" in err
    assert report.measurement_path(out_dir, "fake-a", 4).is_file()


def _reads_imagenet_index(root: Path):
    def action(seed):
        data.load_imagenet_classes(root)

    return action


def test_an_unreadable_data_file_says_check_its_permissions(good_report, capsys, monkeypatch, tmp_path):
    from islp_ch10.data import _core

    root = tmp_path / "data"
    index = root / "imagenet" / "imagenet_class_index.json"
    index.parent.mkdir(parents=True)
    index.write_text("{}")

    def unreadable(path, *args, **kwargs):  # as root chmod does not stop a read; the OS error is the same
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(_core, "open", unreadable, raising=False)
    data.clear_hash_memo()
    register(monkeypatch, **{"fake-d": fake("network", action=_reads_imagenet_index(root))})
    code, _, err = run(capsys, "reproduce", "--only", "fake-d", "--out", good_report[0])
    assert code == errors.IO
    assert_intact(good_report, f"{index}: Permission denied; not readable: check its permissions", err)
    assert "make it writable" not in err


def test_a_folder_in_place_of_a_data_file_says_so(good_report, capsys, monkeypatch, tmp_path):
    root = tmp_path / "data"
    (root / "imagenet" / "imagenet_class_index.json").mkdir(parents=True)
    register(monkeypatch, **{"fake-d": fake("network", action=_reads_imagenet_index(root))})
    code, _, err = run(capsys, "reproduce", "--only", "fake-d", "--out", good_report[0])
    assert code == errors.DATA_MISSING
    where = root / "imagenet" / "imagenet_class_index.json"
    assert_intact(good_report, f"{where} is a folder, not the data file 'imagenet/imagenet_class_index.json'", err)
    assert "not found" not in err


def test_data_reports_every_data_set_the_download_table_knows(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "empty"))
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "cache"))
    assert set(data.DATASETS) <= set(data.PRESENCE)
    code, out, _ = run(capsys, "data")
    assert code == errors.OK
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    assert listed == set(data.PRESENCE)
    for name in ("imdb", "imagenet", "mnist", "cifar100"):
        row = next(line for line in out.splitlines() if line.split()[:1] == [name])
        assert row.split()[1] == "missing:", row


def test_download_all_goes_on_past_a_failure_and_exits_with_the_worst_code(capsys, monkeypatch, tmp_path):
    from islp_ch10.data import _core

    def fetch(url, out):
        if "mnist" in url:
            out.write(b"not the file")  # a checksum mismatch: exit 4
        else:
            raise OSError("network is unreachable")  # every mirror failing: exit 5

    monkeypatch.setattr(_core, "fetch", fetch)
    code, out, err = run(capsys, "download", "all", "--root", tmp_path)
    assert code == errors.IO  # the worst of 4 and 5
    names = sorted(data.DATASETS)
    assert [line.split()[1] for line in out.splitlines() if line.startswith("downloading ")] == names
    assert out.count("    failed (exit ") == len(names) and "failed (exit 4): checksum mismatch" in out
    assert err.strip() == (
        f"islp-ch10: {len(names)} of {len(names)} data sets failed: "
        + ", ".join(f"{n} (exit {4 if n == 'mnist' else 5})" for n in names)
        + "; see the lines above"
    )
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_download_of_one_data_set_still_stops_with_its_code(capsys, monkeypatch, tmp_path):
    from islp_ch10.data import _core

    monkeypatch.setattr(_core, "fetch", lambda url, out: (_ for _ in ()).throw(OSError("unreachable")))
    code, _, err = run(capsys, "download", "imagenet", "--root", tmp_path)
    assert code == errors.IO and "check the network connection" in err and len(err.strip().splitlines()) == 1


def test_a_sweeps_temporary_folders_live_in_its_artifact_folder_and_go(env, capsys, monkeypatch, tmp_path):
    made: list[str] = []
    register(monkeypatch, **{"fake-s": fake("network", action=lambda seed: made.append(tempfile.mkdtemp()))})
    folder = tmp_path / "spreads"
    folder.mkdir()
    (folder / ".logs-killed").mkdir()
    assert run(capsys, "sweep", "fake-s", "--seeds", "0", "--out", folder)[0] == errors.OK
    assert Path(made[0]).is_relative_to(folder) and not Path(made[0]).exists()
    assert not leftovers(folder)


def test_a_failure_before_a_damaged_file_is_measured_again_keeps_the_hint(good_report, capsys, monkeypatch):
    """The damaged file was to be rewritten, but the run stopped first: the report cannot be rebuilt
    from it, and the message still says what was kept and to resume (not exit 70 on the damage)."""
    out_dir = good_report[0]
    _damage("NaN figure", report.measurement_path(out_dir, "fake-a", 0))
    register(monkeypatch, **{"fake-bug": fake("network", action=_raise(RuntimeError("boom")))})
    argv = ("reproduce", "--only", "fake-b,fake-bug,fake-a", "--seeds", "0", "--out", out_dir)
    code, out, err = run(capsys, *argv)
    assert code == errors.INTERNAL and "measuring fake-a seed 0 again" in out
    assert len(err.strip().splitlines()) == 1 and "internal error: RuntimeError: boom" in err
    assert f"1 measurement(s) of this run kept in {out_dir / report.MEASUREMENTS}, report not rebuilt" in err
    assert "rerun with --resume" in err


def test_parsing_the_command_line_imports_no_torch():
    """A bad option is refused in a fraction of a second and with nothing before its one line: the
    parser needs no torch or Lightning (whose import prints warnings on some releases, e.g.
    Lightning 2.2's pkg_resources warning)."""
    import subprocess
    import sys

    code = (
        "import sys; from islp_ch10 import cli; cli.build_parser(); "
        "print(sorted(m for m in ('torch', 'pytorch_lightning', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
