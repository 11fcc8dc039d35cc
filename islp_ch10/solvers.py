"""The non-network fits the lab compares its networks with, each written once.

``lambda_max``       the smallest lasso penalty that zeroes every coefficient (Hitters' lasso grid,
                     notes line 616, and the IMDB L1 path, notes line 1445, use the same formula)
``l1_logistic``      an L1-penalised logistic regression, explicitly L1 on every scikit-learn the
                     project supports (the IMDB lasso, notes lines 1453-1457)
``lbfgs_fit``        full-batch L-BFGS on the squared error, to convergence (the AR model as a
                     Flatten-Linear network, 10.5/flatten)
``l1_path_problems`` what is wrong with an L1 path's non-zero counts (its contract: few features
                     at the largest penalty, only more as the penalty falls)
"""

from __future__ import annotations

import itertools
import re

import numpy as np

FEW = 0.05  # "few": at the largest penalty at most 5% of the features may be non-zero


def lambda_max(X, y) -> float:
    """``max_j |x_j' (y - ybar)| / n``: at this penalty (scikit-learn's ``alpha`` of ``Lasso`` on
    ``X``) and above, every lasso coefficient is zero.

    ``X`` may be dense or scipy-sparse; standardise it first where the lasso does (Hitters).
    """
    y = np.asarray(y, dtype=float).ravel()
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}; pass matching training data")
    inner = np.asarray(X.T @ (y - y.mean())).ravel()
    return float(np.abs(inner).max() / X.shape[0])


def sklearn_version() -> tuple[int, int]:
    """The installed scikit-learn's ``(major, minor)``."""
    import sklearn

    major, minor = (int(p) for p in re.findall(r"\d+", sklearn.__version__)[:2])
    return major, minor


def l1_logistic(C: float, random_state: int = 0, version: tuple[int, int] | None = None, **kwargs):
    """``LogisticRegression`` with a pure L1 penalty (liblinear), spelled for the installed version.

    scikit-learn >= 1.8 selects the penalty by ``l1_ratio`` and deprecates ``penalty``; before 1.8,
    ``l1_ratio`` is ignored unless ``penalty='elasticnet'``, so ``l1_ratio=1.0`` alone silently
    fits an L2 path there.  Hence ``penalty='l1'`` below 1.8 and ``l1_ratio=1.0`` from 1.8 on.
    """
    from sklearn.linear_model import LogisticRegression

    version = version or sklearn_version()
    penalty = {"l1_ratio": 1.0} if version >= (1, 8) else {"penalty": "l1"}
    return LogisticRegression(C=C, solver="liblinear", random_state=random_state, **penalty, **kwargs)


def lbfgs_fit(model, x, y, max_iter: int = 500):
    """Fit ``model`` to ``y`` on the mean squared error by one full-batch L-BFGS call (strong Wolfe
    line search, gradient tolerance 1e-12): for a linear model, the least-squares solution.

    Returns the model (trained in place).
    """
    import torch

    optimiser = torch.optim.LBFGS(
        model.parameters(),
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure():
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    optimiser.step(closure)
    return model


def l1_path_problems(nonzero: list[int], n_features: int, few: float = FEW) -> list[str]:
    """What is wrong with an L1 path's non-zero counts, ordered from the largest penalty (smallest
    C) down: an L1 path starts with few features (at most ``few`` of them) and only adds them
    (weakly) as C grows.  Empty: a path with the L1 contract."""
    problems = []
    if nonzero[0] > few * n_features:
        problems.append(f"the smallest C keeps {nonzero[0]} of {n_features} features (more than {few:.0%})")
    drops = [(i, a, b) for i, (a, b) in enumerate(itertools.pairwise(nonzero)) if b < a]
    if drops:
        problems.append(f"non-zeros fall as C grows at steps {drops}")
    if nonzero[-1] <= nonzero[0]:
        problems.append(f"the path never adds a feature ({nonzero[0]} -> {nonzero[-1]})")
    return problems
