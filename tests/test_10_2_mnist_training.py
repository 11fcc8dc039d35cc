"""10.2: regularising the MNIST network (ridge / weight decay and dropout), trained on the real data."""

import pytest

from islp_ch10.testing.empirical import assert_meets_claim, pick, run_or_skip


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.claim("10.2/regularise")
def test_regularise():
    """Each regulariser's test error minus the unregularised fit's, judged by the catalogue's margins."""
    ms = run_or_skip("mnist-regularise")
    none = pick(ms, "10.2/regularise", "none")
    for part in ("dropout", "ridge"):
        m = pick(ms, "10.2/regularise", part)
        assert m.value == m.details["error"] - none.value
        assert_meets_claim(m)
