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


# ----------------------------------------------------------------------------- the L1 path's contract, case by case
def test_l1_path_contract_allows_exactly_five_percent_at_the_largest_penalty():
    """ "Few" at the largest penalty is at most 5% of the features (the boundary allowed); more is
    named with the count, and a path that grows from there has no other problem."""
    assert sparsity_violations([5, 10, 30], 100) == []
    assert sparsity_violations([6, 10, 30], 100) == ["the smallest C keeps 6 of 100 features (more than 5%)"]


def test_l1_path_contract_names_every_step_where_non_zeros_fall():
    """Non-zeros may only grow (weakly) as C grows; each fall is named by step and counts."""
    assert sparsity_violations([0, 3, 2, 4, 4, 1, 5], 100) == [
        "non-zeros fall as C grows at steps [(1, 3, 2), (4, 4, 1)]"
    ]
    assert sparsity_violations([0, 0, 3], 100) == []
    assert sparsity_violations([0, 4, 4], 100) == []


def test_l1_path_contract_needs_the_path_to_add_a_feature():
    """A path whose smallest-penalty end keeps no more features than its largest-penalty end never
    added one: named with both counts."""
    assert sparsity_violations([2, 2], 100) == ["the path never adds a feature (2 -> 2)"]
    assert sparsity_violations([3, 1, 2], 100) == [
        "non-zeros fall as C grows at steps [(0, 3, 1)]",
        "the path never adds a feature (3 -> 2)",
    ]


def test_l1_logistic_passes_further_options_to_scikit_learn():
    """Options other than C and the seed (a tolerance, an iteration cap) reach LogisticRegression."""
    params = l1_logistic(C=0.5, random_state=3, tol=1e-6, max_iter=77).get_params()
    assert (params["C"], params["random_state"], params["tol"], params["max_iter"]) == (0.5, 3, 1e-6, 77)
    assert params["solver"] == "liblinear"


def test_lambda_max_refuses_rows_that_do_not_match():
    """X and y of different lengths are refused with one line giving both counts."""
    with pytest.raises(ValueError, match=r"^X has 5 rows but y has 4; pass matching training data$"):
        lambda_max(np.ones((5, 3)), np.ones(4))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_lasso_paths_first_coefficient_enters_at_lambda_max(seed):
    """The notes' C = 1/(n lambda) (lines 1445-1466) puts the L1 path's first non-zero coefficient
    at lambda_max: just above it every coefficient is zero, just below it some are not.  Balanced
    classes, so the intercept (penalised by liblinear) is zero at the optimum and lambda_max's
    formula is exact; a path on another scale of C (e.g. 2/(n lambda)) starts too early."""
    rng = np.random.default_rng(seed)
    n, p = 400, 20
    y = np.r_[np.ones(n // 2), np.zeros(n // 2)].astype(int)
    X = rng.normal(size=(n, p))
    X[:, :3] += 0.5 * (2 * y[:, None] - 1)
    above, below = lasso_path(X, y, lambda_max(X, y) * np.array([1.05, 0.95]))
    assert np.count_nonzero(above.coef_) == 0
    assert np.count_nonzero(below.coef_) > 0


def test_the_runs_seed_reaches_the_lasso_path():
    """The seed the experiment is run with reaches liblinear (whose coordinate order it draws):
    the same seed gives the same path, another seed a (slightly) different one."""
    X, y = _synthetic_sparse_problem()
    lambdas = lambda_max(X, y) * np.array([1e-2, 1e-3])  # the dense end, where the coordinate order shows
    coefs = {s: [m.coef_ for m in lasso_path(X, y, lambdas, seed=s)] for s in (0, 5)}
    again = [m.coef_ for m in lasso_path(X, y, lambdas, seed=5)]
    assert all(np.array_equal(a, b) for a, b in zip(coefs[5], again, strict=True))
    assert any(not np.array_equal(a, b) for a, b in zip(coefs[0], coefs[5], strict=True))
