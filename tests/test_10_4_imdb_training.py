"""10.4: document classification on IMDB, trained on the real reviews."""

import pytest

from islp_ch10.testing.empirical import assert_meets_claim, pick, run_or_skip


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.claim("10.4/imdb-dense")
def test_imdb_dense():
    assert_meets_claim(pick(run_or_skip("imdb-dense"), "10.4/imdb-dense"))


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.claim("10.4/imdb-lasso")
def test_imdb_lasso():
    """The L1 path's best test accuracy, and the accuracy at the lambda chosen on held-out reviews."""
    m = pick(run_or_skip("imdb-lasso"), "10.4/imdb-lasso")
    assert_meets_claim(m)
    # the validation-chosen lambda is within 1 point of the path's best test accuracy
    assert m.details["test_at_chosen"] >= m.value - 0.01
