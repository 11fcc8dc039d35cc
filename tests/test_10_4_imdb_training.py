"""10.4: the L1 path's sparsity on IMDB and on small problems (the trained IMDB figures are judged in
``tests/test_experiments.py``, over the experiment registry)."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from islp_ch10.experiments import lasso_path
from islp_ch10.solvers import l1_logistic, lambda_max
from islp_ch10.solvers import l1_path_problems as sparsity_violations


# ----------------------------------------------------------------------------- sparsity of the L1 path
def _synthetic_sparse_problem(n=600, p=200, informative=8, seed=0):
    """Sparse 0/1 word-count-like rows; the label depends on a few columns only."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=0.05, format="csr", random_state=seed, data_rvs=lambda k: np.ones(k))
    w = np.zeros(p)
    w[rng.choice(p, informative, replace=False)] = rng.choice([-3.0, 3.0], informative)
    y = (X @ w + rng.normal(0, 0.5, n) > 0).astype(int)
    return X, y


def _nonzero_along_path(make, X, y, lambdas):
    n = X.shape[0]
    return [int(np.count_nonzero(make(1 / (n * lam)).fit(X, y).coef_)) for lam in lambdas]


@pytest.mark.claim("10.4/imdb-lasso")
def test_l1_logistic_path_is_sparse():
    """On a small sparse problem, the experiments' L1 path starts from a few features and grows."""
    X, y = _synthetic_sparse_problem()
    lambdas = lambda_max(X, y) * np.geomspace(1, 1e-3, 12)
    nonzero = [int(np.count_nonzero(m.coef_)) for m in lasso_path(X, y, lambdas)]
    assert not sparsity_violations(nonzero, X.shape[1]), nonzero


@pytest.mark.claim("10.4/imdb-lasso")
def test_sparsity_check_rejects_an_l2_path():
    """Broken variant: an L2 penalty (what `l1_ratio=1.0` alone fits on scikit-learn < 1.8) keeps
    every feature at every C, and the sparsity check says so."""
    from sklearn.linear_model import LogisticRegression

    X, y = _synthetic_sparse_problem()
    lambdas = lambda_max(X, y) * np.geomspace(1, 1e-3, 12)
    l2 = _nonzero_along_path(lambda C: LogisticRegression(C=C, solver="liblinear"), X, y, lambdas)
    assert any("smallest C keeps" in p for p in sparsity_violations(l2, X.shape[1])), l2


@pytest.mark.claim("10.4/imdb-lasso")
@pytest.mark.parametrize("version", [(1, 4), (1, 7), (1, 8), (1, 9)])
def test_l1_logistic_is_l1_on_every_supported_sklearn(version):
    """Below 1.8 the penalty is named (l1_ratio alone is ignored there); from 1.8 on l1_ratio=1
    selects L1 and the deprecated `penalty` stays at its default.  The installed version's
    spelling fits without any warning."""
    from sklearn.linear_model import LogisticRegression

    params = l1_logistic(C=1.0, version=version).get_params()
    if version < (1, 8):
        assert params["penalty"] == "l1"
    else:
        assert params["l1_ratio"] == 1.0
        assert params["penalty"] == LogisticRegression().get_params()["penalty"]
    X, y = _synthetic_sparse_problem(n=200, p=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        l1_logistic(C=1.0).fit(X, y)


@pytest.mark.data
@pytest.mark.claim("10.4/imdb-lasso")
def test_imdb_lasso_path_is_sparse(imdb):
    """On the IMDB training reviews, six penalties of the lab's path (lambda_max down to 1e-4
    lambda_max): a few words at the largest penalty, more as C grows."""
    X, y = imdb.X_train, np.asarray(imdb.y_train)
    lambdas = lambda_max(X, y) * np.geomspace(1, 1e-4, 6)
    nonzero = [int(np.count_nonzero(m.coef_)) for m in lasso_path(X, y, lambdas)]
    assert not sparsity_violations(nonzero, X.shape[1]), nonzero
