"""The lab's library calls, each run once on small inputs, to see which warn or break on a release set.

Each probe makes the call the way the lab's code in the notes makes it (the notes line is named
beside it; ``../shared/spec/chapter10-notes.zh.txt``), on inputs small enough for a second of CPU.
``tools/compat_stages.py`` runs every probe with every warning recorded and stores, per probe,
``ok`` (no warning), ``warns`` (the warnings, with the library and line that raised them),
``breaks`` (the exception) or ``differs`` (it runs, but gives what the lab did not expect: e.g. an
L1 call that returns no zero coefficient).  Probes import lazily: a missing package breaks that
probe only.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Probe:
    name: str
    notes_lines: str  # where the lab makes the call
    what: str
    run: Callable[[], str | None]  # returns why the outcome differs from the lab's, or None
    dist: str = ""  # the distribution whose release decides the outcome (for "since which release")


def _import_islp() -> str | None:
    import ISLP
    import ISLP.models
    import ISLP.torch  # noqa: F401

    return None


def _import_without_pkg_resources() -> str | None:
    """``import ISLP, pytorch_lightning`` where setuptools has no pkg_resources (setuptools >= 81, or none)."""
    import subprocess
    import sys

    code = "import sys; sys.modules['pkg_resources'] = None; import ISLP, ISLP.torch, pytorch_lightning"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
        raise ImportError(f"without pkg_resources: {last}")
    return None


def _seed_and_determinism() -> str | None:
    import torch
    from pytorch_lightning import seed_everything

    before = torch.are_deterministic_algorithms_enabled()
    try:
        seed_everything(0, workers=True)
        torch.use_deterministic_algorithms(True, warn_only=True)
    finally:
        torch.use_deterministic_algorithms(before)
    return None


def _lasso_logit() -> str | None:
    import numpy as np
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = sparse.csr_matrix(rng.binomial(1, 0.2, size=(200, 40)).astype(float))
    beta = np.zeros(40)
    beta[:3] = 2.0
    y = (X @ beta + rng.normal(size=200) > 1.0).astype(int)
    lam_max = np.abs(X.T @ (y - y.mean())).max()
    logit = LogisticRegression(penalty="l1", C=1 / lam_max, solver="liblinear", warm_start=True, fit_intercept=True)
    logit.C = 1 / (0.05 * lam_max)
    logit.fit(X, y)
    zeros = int(np.sum(logit.coef_ == 0))
    return (
        None if zeros > 0 else f"no coefficient is zero at 0.05 lambda_max ({logit.coef_.size} non-zero): not an L1 fit"
    )


def _simple_module_fit() -> str | None:
    import torch
    from ISLP.torch import ErrorTracker, SimpleDataModule, SimpleModule
    from pytorch_lightning import Trainer
    from pytorch_lightning.loggers import CSVLogger
    from torch import nn
    from torch.utils.data import TensorDataset
    from torchmetrics import MeanAbsoluteError

    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 5, generator=g)
    Y = X @ torch.ones(5) + 0.1 * torch.randn(64, generator=g)
    train, test = TensorDataset(X[:48], Y[:48]), TensorDataset(X[48:], Y[48:])
    model = nn.Sequential(nn.Flatten(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 1), nn.Flatten(0))
    with tempfile.TemporaryDirectory() as logs:
        dm = SimpleDataModule(train, test, batch_size=16, num_workers=0, validation=test)
        module = SimpleModule.regression(model, metrics={"mae": MeanAbsoluteError()})
        trainer = Trainer(
            deterministic=True,
            max_epochs=1,
            log_every_n_steps=1,
            logger=CSVLogger(logs, name="probe"),
            callbacks=[ErrorTracker()],
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="cpu",
        )
        trainer.fit(module, datamodule=dm)
        trainer.test(module, datamodule=dm, verbose=False)
    return None


def _torchinfo_summary() -> str | None:
    from torch import nn
    from torchinfo import summary

    model = nn.Sequential(nn.Linear(19, 50), nn.ReLU(), nn.Dropout(0.4), nn.Linear(50, 1))
    summary(model, input_size=(175, 19), col_names=["input_size", "output_size", "num_params"], verbose=0)
    return None


def _load_data() -> str | None:
    from ISLP import load_data

    hitters = load_data("Hitters").dropna()
    nyse = load_data("NYSE")
    if hitters.shape != (263, 20):
        return f"Hitters after dropna() is {hitters.shape}, the lab's is (263, 20)"
    return None if len(nyse) == 6051 else f"NYSE has {len(nyse)} rows, the lab's 6051"


def _nyse_lag_cells() -> str | None:
    import numpy as np
    import pandas as pd
    from ISLP import load_data
    from sklearn.linear_model import LinearRegression
    from sklearn.preprocessing import StandardScaler

    nyse = load_data("NYSE")
    cols = ["DJ_return", "log_volume", "log_volatility"]
    X = pd.DataFrame(
        StandardScaler(with_mean=True, with_std=True).fit_transform(nyse[cols]),
        columns=nyse[cols].columns,
        index=nyse.index,
    )
    for lag in range(1, 6):
        for col in cols:
            shifted = np.full(X.shape[0], np.nan)
            shifted[lag:] = X[col].values[:-lag]
            X.insert(len(X.columns), f"{col}_{lag}", shifted)
    X.insert(len(X.columns), "train", nyse["train"])
    X = X.dropna()
    Y, train = X["log_volume"], X["train"]
    X = X.drop(columns=["train", *cols])
    model = LinearRegression().fit(X[train], Y[train])
    r2 = model.score(X[~train], Y[~train])
    day = pd.concat([X, pd.get_dummies(nyse["day_of_week"])], axis=1).dropna()
    r2_day = model.fit(day[train], Y[train]).score(day[~train], Y[~train])
    return None if r2 < r2_day else f"the day-of-week fit's R2 {r2_day:.4f} is not above the lag fit's {r2:.4f}"


def _pretrained_preprocessing() -> str | None:
    import torch
    from torchvision.models import ResNet50_Weights
    from torchvision.transforms import CenterCrop, Normalize, Resize

    image = (torch.arange(3 * 300 * 260) % 251).reshape(3, 300, 260).to(torch.uint8)
    resized = Resize((232, 232), antialias=True)(image)
    cropped = CenterCrop(224)(resized.float() / 255)
    Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])(cropped)
    preset = ResNet50_Weights.DEFAULT.transforms()
    out = preset(image)
    return None if tuple(out.shape) == (3, 224, 224) else f"the weights' preset gives shape {tuple(out.shape)}"


def _numpy_scalar_print() -> str | None:
    import numpy as np

    shown = repr(np.abs(np.array([1.5, -2.5])).mean())
    return None if shown == "2.0" else f"a printed numpy mean reads {shown!r}, the lab's output reads '2.0'"


PROBES: tuple[Probe, ...] = (
    Probe("import ISLP", "470-471, 533-544", "import ISLP, ISLP.models, ISLP.torch", _import_islp, dist="islp"),
    Probe(
        "import ISLP without pkg_resources",
        "470-471, 533-544",
        "the same imports where setuptools ships no pkg_resources (>= 81, or no setuptools: a fresh Python 3.12 venv)",
        _import_without_pkg_resources,
        dist="pytorch-lightning",
    ),
    Probe(
        "seed_everything",
        "507-515",
        "seed_everything(0, workers=True); use_deterministic_algorithms",
        _seed_and_determinism,
        dist="pytorch-lightning",
    ),
    Probe("load_data", "560, 1629", "load_data('Hitters').dropna(), load_data('NYSE')", _load_data, dist="islp"),
    Probe(
        "torchinfo summary",
        "686-694",
        "summary(model, input_size=..., col_names=[...])",
        _torchinfo_summary,
        dist="torchinfo",
    ),
    Probe(
        "SimpleModule fit",
        "708-756",
        "SimpleDataModule, SimpleModule.regression(metrics=MAE), "
        "Trainer(deterministic=True, callbacks=[ErrorTracker()]).fit/.test with a CSVLogger",
        _simple_module_fit,
        dist="pytorch-lightning",
    ),
    Probe(
        "LogisticRegression l1",
        "1450-1456",
        "LogisticRegression(penalty='l1', solver='liblinear', warm_start=True)",
        _lasso_logit,
        dist="scikit-learn",
    ),
    Probe(
        "NYSE lag cells",
        "1629-1672",
        "StandardScaler, X.insert lags, boolean Series masks, get_dummies",
        _nyse_lag_cells,
        dist="pandas",
    ),
    Probe(
        "pretrained preprocessing",
        "1238-1254",
        "Resize((232, 232), antialias=True); ResNet50_Weights.DEFAULT.transforms()",
        _pretrained_preprocessing,
        dist="torchvision",
    ),
    Probe(
        "numpy scalar print",
        "595-596",
        "printing a numpy mean, as the lab prints its MAEs",
        _numpy_scalar_print,
        dist="numpy",
    ),
)
