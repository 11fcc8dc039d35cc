"""The training entry point: refusal of non-finite data, no files left behind, in-memory history,
what callbacks see on both paths."""

from __future__ import annotations

import math
import os
import re
import signal
import tempfile
from typing import ClassVar

import numpy as np
import pytest
import torch

from islp_ch10.errors import Terminated
from islp_ch10.training import HistoryRecorder, RunSettings, TrainConfig, fit

PATHS = ("fast", "islp")


def _regression_data(n=120, p=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, p, generator=g)
    y = x @ torch.randn(p, generator=g) + 0.1 * torch.randn(n, generator=g)
    return x, y


def _classification_data(n=150, p=8, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, p, generator=g)
    y = torch.argmax(x[:, :classes] + 0.3 * torch.randn(n, classes, generator=g), dim=1)
    return (x[:100], y[:100]), (x[100:], y[100:])


def _linear(p=6):
    return lambda: torch.nn.Sequential(torch.nn.Linear(p, 1), torch.nn.Flatten(0))


def _classifier(p=8, classes=3):
    return lambda: torch.nn.Sequential(
        torch.nn.Linear(p, 8), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(8, classes)
    )


# ----------------------------------------------------------------------------- non-finite data
def _standardise(x: torch.Tensor) -> torch.Tensor:
    """A correct pipeline step: centre and scale, leaving constant columns at zero."""
    sd = x.std(0)
    return (x - x.mean(0)) / torch.where(sd > 0, sd, torch.ones_like(sd))


def _standardise_broken(x: torch.Tensor) -> torch.Tensor:
    """The broken variant: divides by the standard deviation even when it is 0 (0/0 = NaN)."""
    return (x - x.mean(0)) / x.std(0)


@pytest.mark.parametrize("path", PATHS)
def test_fit_refuses_nan_from_a_broken_pipeline(path):
    """A constant column through the broken standardiser is all NaN: fit names row 0 and that column."""
    x, y = _regression_data()
    x[:, 4] = 3.0  # a constant predictor, as a one-level dummy would be
    cfg = TrainConfig(task="regression", epochs=1, batch_size=32)
    with pytest.raises(ValueError, match=r"training inputs .* at row 0, column 4\b"):
        fit(_linear(), (_standardise_broken(x), y), (_standardise(x), y), cfg, path=path)
    # the correct pipeline passes the same check and trains
    result = fit(_linear(), (_standardise(x), y), (_standardise(x), y), cfg, path=path)
    assert math.isfinite(result.test["loss"])


def test_fit_names_first_non_finite_target_and_image_position():
    x, y = _regression_data()
    y[7] = float("inf")
    y[30] = float("nan")
    cfg = TrainConfig(task="regression", epochs=1)
    with pytest.raises(
        ValueError, match=r"training targets hold 2 non-finite value\(s\), the first \(inf\) at row 7, column 0"
    ):
        fit(_linear(), (x, y), (x, y), cfg)
    images = torch.rand(20, 1, 28, 28)
    images[3, 0, 5, 6] = float("nan")
    labels = torch.zeros(20, dtype=torch.long)
    cfg = TrainConfig(task="multiclass", num_classes=10, epochs=1)
    net = lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))  # noqa: E731
    with pytest.raises(ValueError, match=r"row 3, column 146 \(index \(0, 5, 6\)"):
        fit(net, (images, labels), (images[:4].nan_to_num(), labels[:4]), cfg)


def test_fit_checks_sparse_inputs_and_test_set():
    import scipy.sparse as sp

    x = sp.random(40, 30, density=0.2, format="lil", dtype=np.float32, random_state=0)
    x[12, 9] = np.nan
    x = x.tocsr()
    y = torch.zeros(40)
    cfg = TrainConfig(task="binary", epochs=1)
    net = lambda: torch.nn.Sequential(torch.nn.Linear(30, 1), torch.nn.Flatten(0))  # noqa: E731
    with pytest.raises(ValueError, match=r"training inputs .* at row 12, column 9"):
        fit(net, (x, y), (x, y), cfg)
    xt, yt = _regression_data()
    bad = xt.clone()
    bad[5, 2] = float("-inf")
    with pytest.raises(ValueError, match=r"test inputs .* at row 5, column 2"):
        fit(_linear(), (xt, yt), (bad, yt), TrainConfig(task="regression", epochs=1))


# ----------------------------------------------------------------------------- nothing left behind
def _entries(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A private system temp folder and working folder, both empty: whatever a fit leaves shows."""
    tmp, cwd = tmp_path / "tmp", tmp_path / "cwd"
    tmp.mkdir()
    cwd.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.chdir(cwd)
    return tmp, cwd


def test_leftover_check_sees_a_leaked_folder(scratch):
    """The check below can fail: a folder made the old way (mkdtemp, never removed) shows up."""
    tmp, _cwd = scratch
    tempfile.mkdtemp(prefix="islp-ch10-logs-")
    assert _entries(tmp) != []


@pytest.mark.parametrize("path", PATHS)
def test_fit_without_log_dir_leaves_nothing(scratch, path):
    tmp, cwd = scratch
    train, test = _classification_data()
    result = fit(
        _classifier(), train, test, TrainConfig(task="multiclass", num_classes=3, epochs=2, validation=0.2), path=path
    )
    assert result.log_dir is None and len(result.history) == 2
    assert _entries(tmp) == [] and _entries(cwd) == []


class _Boom(Exception):
    pass


class _FailAtFirstEpochEnd(__import__("pytorch_lightning").Callback):
    def on_train_epoch_end(self, trainer, pl_module):
        raise _Boom("a failure in the middle of training")


@pytest.mark.parametrize("path", PATHS)
def test_failed_fit_leaves_nothing(scratch, path):
    tmp, cwd = scratch
    train, test = _classification_data()
    with pytest.raises(_Boom):
        fit(
            _classifier(),
            train,
            test,
            TrainConfig(task="multiclass", num_classes=3, epochs=2),
            path=path,
            callbacks=[_FailAtFirstEpochEnd()],
        )
    assert _entries(tmp) == [] and _entries(cwd) == []


def test_log_dir_when_asked_holds_the_csv(tmp_path):
    train, test = _classification_data()
    result = fit(
        _classifier(), train, test, TrainConfig(task="multiclass", num_classes=3, epochs=2, log_dir=str(tmp_path))
    )
    import csv

    with open(f"{result.log_dir}/metrics.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(float(r["epoch"])) for r in rows] == [0, 1]
    assert float(rows[-1]["train_loss"]) == pytest.approx(result.history[-1]["train_loss"])


# ----------------------------------------------------------------------------- history
@pytest.mark.parametrize("path", PATHS)
def test_history_is_per_epoch_and_whole_set(path):
    """One row per epoch; validating on the test set, the last row's figures are the test figures
    (both over the whole set with the final weights)."""
    train, test = _classification_data()
    cfg = TrainConfig(task="multiclass", num_classes=3, epochs=3, batch_size=32, validation="test")
    result = fit(_classifier(), train, test, cfg, path=path)
    assert [row["epoch"] for row in result.history] == [0, 1, 2]
    assert all(
        set(row) == {"epoch", "train_loss", "train_accuracy", "valid_loss", "valid_accuracy"} for row in result.history
    )
    last = result.history[-1]
    assert last["valid_accuracy"] == pytest.approx(result.test["accuracy"], abs=1e-7)
    assert last["valid_loss"] == pytest.approx(result.test["loss"], rel=1e-6)


def test_batch_averaged_figures_are_not_whole_set():
    """The whole-set check above can fail: averaging per-batch accuracies (uneven last batch) differs."""
    train, test = _classification_data()
    result = fit(_classifier(), train, test, TrainConfig(task="multiclass", num_classes=3, epochs=1, validation="test"))
    model = result.model.eval()
    with torch.no_grad():
        hits = (model(test[0]).argmax(1) == test[1]).float()
    batch_means = [hits[i : i + 32].mean().item() for i in range(0, len(hits), 32)]
    assert np.mean(batch_means) != pytest.approx(result.history[-1]["valid_accuracy"], abs=1e-7)


def test_fast_history_matches_book_history():
    """Same batches, same weights: the two paths' per-epoch figures agree (float rounding apart).

    Except the training R^2: ``SimpleModule`` logs each batch's R^2 and Lightning averages them
    (weighted by batch size), which for MAE, accuracy and the loss is the whole-epoch figure but
    for R^2 is not; the fast path's is over the whole epoch.
    """
    x, y = _regression_data(n=160)
    cfg = dict(task="regression", epochs=3, batch_size=32, validation=0.25)
    runs = {path: fit(_linear(), (x, y), (x[:40], y[:40]), TrainConfig(**cfg), path=path) for path in PATHS}
    fast, book = runs["fast"].history, runs["islp"].history
    assert len(fast) == len(book) == 3
    for a, b in zip(fast, book):
        assert (
            set(a) == set(b) == {"epoch", "train_loss", "train_mae", "train_r2", "valid_loss", "valid_mae", "valid_r2"}
        )
        for key in set(a) - {"train_r2"}:
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key


def test_history_travels_back_from_worker_processes():
    """Under ddp_spawn the rows are made in a worker; callback_metrics carries them to the main process."""

    class FakeTrainer:
        callback_metrics: ClassVar[dict] = {}

    worker, trainer = HistoryRecorder(), FakeTrainer()
    worker.rows = [{"epoch": 0, "train_loss": 1.5, "valid_loss": 2.0}, {"epoch": 1, "train_loss": 1.25}]
    worker.on_train_end(trainer, None)
    assert HistoryRecorder().history(trainer) == worker.rows


# ----------------------------------------------------------------------------- what callbacks see
class _Probe(__import__("pytorch_lightning").Callback):
    def on_train_start(self, trainer, pl_module):
        self.optimizers = list(trainer.optimizers)
        self.batch_size = trainer.train_dataloader.batch_size
        self.max_epochs = trainer.max_epochs

    def on_train_epoch_end(self, trainer, pl_module):
        self.epochs_seen = trainer.current_epoch + 1


@pytest.mark.parametrize("path", PATHS)
def test_callbacks_see_the_lab_configuration(path):
    train, test = _classification_data()
    probe = _Probe()
    fit(
        _classifier(),
        train,
        test,
        TrainConfig(task="multiclass", num_classes=3, epochs=2, batch_size=16, lr=0.003, optimizer="adam"),
        path=path,
        callbacks=[probe],
    )
    assert len(probe.optimizers) == 1 and isinstance(probe.optimizers[0], torch.optim.Adam)
    assert probe.optimizers[0].defaults["lr"] == 0.003
    assert probe.batch_size == 16 and probe.max_epochs == 2 and probe.epochs_seen == 2


def test_max_steps_stops_both_paths_at_the_same_weights():
    train, test = _classification_data()
    cfg = dict(task="multiclass", num_classes=3, epochs=5, batch_size=16, max_steps=3)
    runs = {p: fit(_classifier(), train, test, TrainConfig(**cfg), path=p) for p in PATHS}
    a, b = runs["fast"].model.state_dict(), runs["islp"].model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    one_more = fit(_classifier(), train, test, TrainConfig(**{**cfg, "max_steps": 4})).model.state_dict()
    assert not all(torch.equal(a[k], one_more[k]) for k in a)


# ----------------------------------------------------------------------------- what a fit reports and where it runs
class _Count(__import__("pytorch_lightning").Callback):
    """Counts Lightning's batches per epoch and sanity checks, and notes where Lightning may write."""

    def __init__(self):
        self.batches, self.sanity, self.module, self.root, self.tmpdir = [], 0, None, None, "unset"

    def on_sanity_check_start(self, trainer, pl_module):
        self.sanity += 1

    def on_train_start(self, trainer, pl_module):
        import os

        self.module, self.root, self.tmpdir = (
            type(pl_module).__name__,
            trainer.default_root_dir,
            os.environ.get("TMPDIR"),
        )

    def on_train_epoch_start(self, trainer, pl_module):
        self.batches.append(0)

    def on_train_batch_end(self, trainer, *args):
        self.batches[-1] += 1


@pytest.mark.parametrize("path", PATHS)
def test_fit_result_names_its_path_run_and_wall_time(path):
    """``FitResult.path`` and ``run`` say how the fit ran; ``wall_time`` is the training's duration
    (positive, within the time the call took)."""
    import time

    x, y = _regression_data()
    config = TrainConfig(task="regression", epochs=1, batch_size=60, seed=4)
    start = time.perf_counter()
    result = fit(_linear(), (x, y), (x, y), config, path=path)
    took = time.perf_counter() - start
    assert result.path == path and result.run == config.settings(path) and result.run.seed == 4
    assert 0 < result.wall_time <= took


@pytest.mark.parametrize(
    ("path", "module", "batches", "sanity"), [("fast", "FastModule", 1, 0), ("islp", "SimpleModule", 4, 1)]
)
def test_the_fast_path_hands_lightning_epochs_the_book_path_minibatches(path, module, batches, sanity):
    """``path="fast"`` trains :class:`FastModule`, one Lightning step per epoch, and skips
    Lightning's validation sanity check; the book's path runs SimpleModule per minibatch
    (96 training rows in batches of 24) after the sanity check, as the lab's Trainer does."""
    x, y = _regression_data()
    count = _Count()
    config = TrainConfig(task="regression", epochs=2, batch_size=24, validation=0.2)
    fit(_linear(), (x, y), (x[:10], y[:10]), config, path=path, callbacks=[count])
    assert (count.module, count.batches, count.sanity) == (module, [batches, batches], sanity)


def test_lightning_writes_into_the_fits_private_folder_or_log_dir(tmp_path):
    """Without ``log_dir`` Lightning's root is the fit's own temporary folder (``islp-ch10-fit-*``),
    removed afterwards, and TMPDIR is left alone (it is redirected only for spawned workers); with
    ``log_dir`` the root is that folder."""
    import os
    from pathlib import Path

    x, y = _regression_data()
    count = _Count()
    fit(_linear(), (x, y), (x, y), TrainConfig(task="regression", epochs=1), callbacks=[count])
    root = Path(count.root)
    assert root.name.startswith("islp-ch10-fit-") and not root.exists()
    assert count.tmpdir == os.environ.get("TMPDIR")
    logged = _Count()
    config = TrainConfig(task="regression", epochs=1, log_dir=str(tmp_path), name="hitters-seed1")
    result = fit(_linear(), (x, y), (x, y), config, callbacks=[logged])
    assert logged.root == str(tmp_path)
    assert Path(result.log_dir).parent == tmp_path / "hitters-seed1"


def test_an_interrupted_fit_raises_instead_of_returning(monkeypatch):
    """Lightning < 2.4 returns from fit after Ctrl-C with ``interrupted`` set: the model is
    truncated, so fit raises (the CLI keeps the measurements made so far) rather than measure it
    as the lab's.  (Lightning's SIGTERM flag, the other such case, cannot be simulated here:
    Lightning 2.6 raises on it itself.)"""
    import pytorch_lightning as pl

    monkeypatch.setattr(pl.Trainer, "interrupted", property(lambda self: True))
    x, y = _regression_data()
    with pytest.raises(KeyboardInterrupt, match=r"^training interrupted after \d+ epoch\(s\)$"):
        fit(_linear(), (x, y), (x, y), TrainConfig(task="regression", epochs=2))


class _Sigterm(__import__("pytorch_lightning").Callback):
    """Sends this process SIGTERM after Lightning's training batch ``at`` (or, with ``at=None``,
    once training has ended, after Lightning's last look at its flag) and counts the batches."""

    def __init__(self, at):
        self.at, self.batches = at, 0

    def on_train_batch_end(self, trainer, *args):
        self.batches += 1
        if self.batches == self.at:
            os.kill(os.getpid(), signal.SIGTERM)

    def on_train_end(self, trainer, pl_module):
        if self.at is None:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.fixture
def sigterm_noted():
    """A SIGTERM handler that only notes the signal, as a caller of ``fit`` without the command
    line's handler may have: Lightning (2.2 to 2.6) calls it beside its own, and this process lives."""
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    yield seen
    signal.signal(signal.SIGTERM, previous)


def sigterm_mid_epoch_problems() -> list[str]:
    """A SIGTERM after batch 2 of an 8-batch epoch must end the fit there, with Lightning's
    ``SIGTERMException``.  The book's path: Lightning sees each minibatch (the fast path hands it
    one batch per epoch)."""
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    x, y = _regression_data(n=32)
    sender = _Sigterm(at=2)
    config = TrainConfig(task="regression", epochs=3, batch_size=4)
    try:
        fit(_linear(), (x, y), (x, y), config, callbacks=[sender], path="islp")
    except SIGTERMException:
        pass
    else:
        return ["the fit returned as if it had finished"]
    return [] if sender.batches == 2 else [f"{sender.batches} batches trained after a SIGTERM at batch 2"]


def test_a_sigterm_ends_a_fit_in_the_batch_it_arrives_in(sigterm_noted, monkeypatch):
    """Lightning (2.2 to 2.6) does it; the check rejects a trainer that loses the signal (its flag
    never set), which trains every epoch and returns."""
    import pytorch_lightning as pl

    assert sigterm_mid_epoch_problems() == [] and sigterm_noted == [signal.SIGTERM]
    monkeypatch.setattr(pl.Trainer, "received_sigterm", property(lambda self: False))
    assert sigterm_mid_epoch_problems() == ["the fit returned as if it had finished"]


def sigterm_at_the_end_problems() -> list[str]:
    """A SIGTERM that arrives as training ends must make ``fit`` raise ``Terminated``."""
    x, y = _regression_data(n=32)
    try:
        fit(_linear(), (x, y), (x, y), TrainConfig(task="regression", epochs=1), callbacks=[_Sigterm(at=None)])
    except Terminated as e:
        return [] if re.fullmatch(r"terminated \(SIGTERM\) after \d+ epoch\(s\)", str(e)) else [f"said {e}"]
    return ["the fit returned as if it had finished"]


def test_a_sigterm_after_the_last_epoch_is_still_a_termination(sigterm_noted, monkeypatch):
    """Lightning looks at its SIGTERM flag only while epochs run; one that arrives as training ends
    leaves ``fit`` to return, and ``fit`` raises instead of passing the model on as finished.  The
    check rejects a trainer that loses the signal."""
    import pytorch_lightning as pl

    assert sigterm_at_the_end_problems() == [] and sigterm_noted == [signal.SIGTERM]
    monkeypatch.setattr(pl.Trainer, "received_sigterm", property(lambda self: False))
    assert sigterm_at_the_end_problems() == ["the fit returned as if it had finished"]


def test_the_book_path_prints_nothing(capfd):
    """The book's path reads its test figures with ``Trainer.test``, whose results table is not
    printed: a fit writes nothing to the terminal (the CLI's output is its own)."""
    x, y = _regression_data()
    result = fit(_linear(), (x, y), (x, y), TrainConfig(task="regression", epochs=1), path="islp")
    assert set(result.extra["islp_test"]) >= {"test_loss"}
    assert capfd.readouterr().out == ""


def test_inputs_may_be_a_tensor_a_numpy_array_or_a_sparse_matrix():
    """The same rows as a float32 tensor, a float32 numpy array or a scipy sparse matrix (float64,
    as scipy builds them; densified per batch) give the same fit and test figures."""
    import scipy.sparse as sp

    x, y = _regression_data(n=60)
    x = torch.where(x > 0.5, x, torch.zeros_like(x))  # mostly zeros, as a bag of words is
    config = TrainConfig(task="regression", epochs=2, batch_size=16)
    dense = fit(_linear(), (x, y), (x, y), config)
    for given in (x.numpy(), sp.csr_matrix(x.numpy().astype(np.float64))):
        other = fit(_linear(), (given, y), (given, y), config)
        assert other.test == pytest.approx(dense.test, rel=1e-6)


def test_the_non_finite_check_never_densifies_a_sparse_matrix():
    """A sparse matrix is checked on its stored entries (the IMDB matrix would take gigabytes
    dense); a lone NaN, even in a one-row set, is found."""
    import scipy.sparse as sp

    from islp_ch10.training import check_finite

    class NoDense(sp.csr_matrix):
        def toarray(self, *args, **kwargs):
            raise AssertionError("densified")

    m = NoDense(np.eye(3, dtype=np.float64))
    check_finite(m, torch.zeros(3))
    m.data[1] = np.nan
    with pytest.raises(
        ValueError, match=r"training inputs hold 1 non-finite value\(s\), the first \(nan\) at row 1, column 1;"
    ):
        check_finite(m, torch.zeros(3))
    with pytest.raises(ValueError, match=r"training targets hold 1 non-finite value\(s\), the first \(nan\) at row 0"):
        check_finite(torch.ones(1, 1), torch.tensor([float("nan")]))


def test_evaluation_follows_training_onto_the_gpu(monkeypatch):
    """After a fit that asked for a GPU (``gpu``, ``cuda`` or ``auto``) the test set is scored on
    the GPU when one is present (simulated here), otherwise on the CPU."""
    from islp_ch10.training import _eval_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for acc in ("gpu", "cuda", "auto"):
        assert _eval_device(RunSettings(accelerator=acc)) == torch.device("cuda")
    assert _eval_device(RunSettings(accelerator="cpu")) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _eval_device(RunSettings(accelerator="gpu")) == torch.device("cpu")


def test_the_book_path_splits_validation_with_the_runs_seed():
    """ISLP's SimpleDataModule draws the validation rows with the run's seed, as the fast path does:
    with seed 5 both paths validate on the same rows, in the main process (no loader workers)."""
    x, y = _regression_data()
    config = TrainConfig(task="regression", epochs=1, batch_size=24, validation=0.25, seed=5)
    workers = []

    class Workers(__import__("pytorch_lightning").Callback):
        def on_train_start(self, trainer, pl_module):
            workers.append(trainer.train_dataloader.num_workers)

    fast, book = (fit(_linear(), (x, y), (x, y), config, path=p, callbacks=[Workers()]) for p in PATHS)
    assert fast.history[0]["valid_loss"] == pytest.approx(book.history[0]["valid_loss"], rel=1e-5)
    assert workers == [0, 0]


def test_a_lab_configuration_trains_every_epoch_without_a_step_limit():
    """A LabConfig has no ``max_steps``: its fit runs all its epochs over all minibatches."""
    from islp_ch10.lab_defaults import LabConfig

    x, y = _regression_data()
    lab = LabConfig(task="regression", epochs=3, batch_size=40, validation=None, metric="mae", source="notes 1")
    count = _Count()
    result = fit(_linear(), (x, y), (x, y), lab, run=RunSettings(), callbacks=[count])
    assert len(result.history) == 3 and count.batches == [1, 1, 1]


# ----------------------------------------------------------------------------- the pieces fit is made of
def test_seed_everything_seeds_loader_workers_and_asks_for_deterministic_kernels(monkeypatch):
    """Lightning's seeding with ``workers=True`` (loader workers seeded too) and torch's
    deterministic algorithms, warning only where a kernel has none (CUDA)."""
    import os

    from islp_ch10.training import seed_everything

    monkeypatch.delenv("PL_SEED_WORKERS", raising=False)
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    try:
        torch.use_deterministic_algorithms(False)
        seed_everything(3)
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        assert os.environ["PL_SEED_WORKERS"] == "1"
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def test_the_trainer_is_strictly_deterministic_on_the_cpu():
    """On the CPU the lab's Trainer asks for deterministic kernels and errors (not warns) on one
    without: bit-identical reruns are a claim (10.9/determinism)."""
    import pytorch_lightning as pl

    seen = []

    class Probe(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            seen.append(
                (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
            )

    x, y = _regression_data()
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    try:
        fit(_linear(), (x, y), (x, y), TrainConfig(task="regression", epochs=1), callbacks=[Probe()])
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
    assert seen == [(True, False)]


def test_make_metrics_are_the_labs_per_task():
    """SimpleModule's metrics: MAE and R^2 for regression, binary accuracy, multiclass accuracy
    over ``num_classes``."""
    from torchmetrics.classification import BinaryAccuracy, MulticlassAccuracy
    from torchmetrics.regression import MeanAbsoluteError, R2Score

    from islp_ch10.training import make_metrics

    reg = make_metrics("regression")
    assert set(reg) == {"mae", "r2"} and isinstance(reg["mae"], MeanAbsoluteError) and isinstance(reg["r2"], R2Score)
    [(name, acc)] = make_metrics("binary").items()
    assert name == "accuracy" and isinstance(acc, BinaryAccuracy)
    [(name, acc)] = make_metrics("multiclass", num_classes=4).items()
    assert name == "accuracy" and isinstance(acc, MulticlassAccuracy) and acc.num_classes == 4


def test_train_config_hands_its_optimiser_and_run_settings_on():
    """A TrainConfig's optimiser carries its lr and weight decay (none unless asked: the library
    default is 0); an unknown optimiser is refused; its run half keeps every device setting."""
    from islp_ch10.training import make_optimizer

    params = list(torch.nn.Linear(2, 1).parameters())
    assert make_optimizer("sgd", params, lr=0.1).defaults["weight_decay"] == 0.0
    opt = TrainConfig(task="regression", optimizer="adam", lr=0.002, weight_decay=1e-4).make_optimizer(params)
    assert isinstance(opt, torch.optim.Adam) and (opt.defaults["lr"], opt.defaults["weight_decay"]) == (0.002, 1e-4)
    with pytest.raises(ValueError, match=r"^optimizer must be 'rmsprop', 'sgd' or 'adam', got 'lbfgs'$"):
        TrainConfig(task="regression", optimizer="lbfgs")
    config = TrainConfig(task="regression", seed=2, accelerator="gpu", devices=2, strategy="ddp", progress=True)
    assert config.settings("islp") == RunSettings(2, "islp", "gpu", 2, "ddp", True)
    with pytest.raises(ValueError, match=r"^path must be 'fast' or 'islp', got 'gpu'$"):
        RunSettings(path="gpu")


def test_in_memory_batches_and_the_epoch_loader():
    """A data set of rows sliced per minibatch (one row by index too); x and y must agree in
    length; the epoch loader yields one item per epoch, none for an empty set; the fast module
    predicts as its network does."""
    from islp_ch10.training import EpochLoader, FastModule, InMemoryBatches, _whole_batch

    x, y = torch.arange(12.0).reshape(6, 2), torch.arange(6.0)
    ds = InMemoryBatches(x, y)
    xb, yb = ds[4]
    assert torch.equal(xb, x[[4]]) and torch.equal(yb, y[[4]])
    with pytest.raises(ValueError, match=r"^x has 6 rows but y has 5$"):
        InMemoryBatches(x, y[:5])
    assert len(EpochLoader(ds, batch_size=4, collate_fn=_whole_batch)) == 1
    assert len(EpochLoader(InMemoryBatches(x[:0], y[:0]), batch_size=4, collate_fn=_whole_batch)) == 0
    net = torch.nn.Linear(2, 1)
    module = FastModule(net, TrainConfig(task="regression"), ds, None)
    assert torch.equal(module(x), net(x))


def test_a_fit_stopped_by_max_steps_mid_epoch_records_that_epoch():
    """Stopping after 3 steps inside the first epoch (7 minibatches) still scores that epoch."""
    train, test = _classification_data()
    cfg = TrainConfig(task="multiclass", num_classes=3, epochs=5, batch_size=16, max_steps=3)
    history = fit(_classifier(), train, test, cfg).history
    assert len(history) == 1 and {"train_loss", "train_accuracy"} <= set(history[0])


def test_csv_logs_are_stepped_by_epoch_and_hold_no_checkpoint(tmp_path):
    """Lightning's CSV rows are indexed by epoch (``step`` = epoch); a fit writes no checkpoint."""
    import csv

    train, test = _classification_data()
    cfg = TrainConfig(task="multiclass", num_classes=3, epochs=3, log_dir=str(tmp_path))
    result = fit(_classifier(), train, test, cfg)
    with open(f"{result.log_dir}/metrics.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(int(float(r["step"])), int(float(r["epoch"]))) for r in rows] == [(0, 0), (1, 1), (2, 2)]
    assert list(tmp_path.rglob("*.ckpt")) == []


def test_history_sent_back_from_workers_keeps_full_precision_and_integer_epochs():
    class FakeTrainer:
        callback_metrics: ClassVar[dict] = {}

    worker, trainer = HistoryRecorder(), FakeTrainer()
    worker.rows = [{"epoch": 0, "train_loss": 0.1}, {"epoch": 1, "train_loss": 1 / 3}]
    worker.on_train_end(trainer, None)
    rows = HistoryRecorder().history(trainer)
    assert rows == worker.rows and all(type(r["epoch"]) is int for r in rows)
