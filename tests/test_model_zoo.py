"""The model spec catches realistic bugs: each broken variant of islp_ch10/testing/zoo.py is rejected
by the check named for it, the real network passes that same check, and every behavioural check
rejects at least one variant (so none of them is a check that cannot fail)."""

import pytest

from islp_ch10.models import MODELS
from islp_ch10.testing import model_checks as mc
from islp_ch10.testing.zoo import ZOO

# variant -> (check that must reject it, what its message must say)
REJECTED_BY = {
    "HittersDropout02": ("check_dropout_rates_match_table", r"rate 0\.200\), the table's rate 0\.4"),
    "MNISTDropoutSwapped": ("check_dropout_rates_match_table", r"dropout 0 .*rate 0\.300\), the table's rate 0\.4"),
    "MNISTNoSecondDropout": ("check_dropout_rates_match_table", r"1 dropout layers applied .* table has 2"),
    "NYSEDropout03": ("check_dropout_rates_match_table", r"rate 0\.300\), the table's rate 0\.1"),
    "NonlinearARFunctionalDropout": ("check_dropout_rates_match_table", r"0 dropout layers applied"),
    "HittersInputNoise": ("check_dropout_rates_match_table", r"randomness outside nn\.Dropout"),
    "IMDBDenseMissingReLU": ("check_forward_matches_numpy", r"differs from the numpy evaluation"),
    "CIFARMissingReLU": ("check_forward_matches_numpy", r"differs from the numpy evaluation"),
    "NonlinearARMissingReLU": ("check_forward_matches_numpy", r"differs from the numpy evaluation"),
    "NYSERNNReLU": ("check_forward_matches_numpy", r"differs from the numpy evaluation"),
    "IMDBLSTMFirstPosition": ("check_forward_matches_numpy", r"differs from the numpy evaluation"),
    "MNISTSoftmaxInside": ("check_returns_logits", r"not the last Linear layer's output"),
    "IMDBDenseSigmoidInside": ("check_returns_logits", r"not the last Linear layer's output"),
    "MNISTWidths238x194": ("check_summary_matches_table", r"row 1: summary Layer\(kind='Linear', shape=\(238,\)"),
    "IMDBGRU": ("check_summary_matches_table", r"summary Layer\(kind='GRU'"),
    "HittersZeroBias": ("check_expected_output", r"seeded output differs from HittersNet\.npz"),
    "HittersCastsInput": ("check_rejects_float64_and_float16", r"DID NOT RAISE"),
}

# Where a variant shows that an older or cheaper check is blind to it: these must pass on it.
BLIND = {
    "MNISTWidths238x194": ("check_param_count",),
    "NYSERNNReLU": ("check_summary_matches_table", "check_param_count"),
    "IMDBLSTMFirstPosition": ("check_summary_matches_table",),
    "HittersZeroBias": ("check_forward_matches_numpy", "check_summary_matches_table"),
    "NonlinearARFunctionalDropout": ("check_eval_disables_dropout",),
}

# A test failure: an AssertionError, or pytest's Failed (pytest.raises' "DID NOT RAISE").
CHECK_FAILURE = (AssertionError, pytest.fail.Exception)


def test_zoo_and_table_agree():
    assert set(REJECTED_BY) == set(ZOO), "every broken variant needs the check that rejects it, and no more"
    assert set(BLIND) <= set(ZOO)


@pytest.mark.parametrize("variant", sorted(REJECTED_BY))
def test_named_check_rejects_broken_variant(variant):
    check_name, message = REJECTED_BY[variant]
    with pytest.raises(CHECK_FAILURE, match=message):
        mc.CHECKS_BY_NAME[check_name](ZOO[variant])


@pytest.mark.parametrize("variant", sorted(REJECTED_BY))
def test_real_network_passes_the_same_check(variant):
    check_name, _ = REJECTED_BY[variant]
    mc.CHECKS_BY_NAME[check_name](MODELS[ZOO[variant].name])


@pytest.mark.parametrize("variant, check_name", [(v, c) for v, checks in sorted(BLIND.items()) for c in checks])
def test_weaker_checks_miss_the_bug(variant, check_name):
    """Why the stronger check exists: this one passes on the broken variant."""
    mc.CHECKS_BY_NAME[check_name](ZOO[variant])


BEHAVIOUR_CHECKS = (
    "check_summary_matches_table",
    "check_forward_matches_numpy",
    "check_dropout_rates_match_table",
    "check_returns_logits",
    "check_expected_output",
    "check_rejects_float64_and_float16",
)


def test_every_behaviour_check_rejects_some_variant():
    used = {check for check, _ in REJECTED_BY.values()}
    assert set(BEHAVIOUR_CHECKS) <= used, f"checks no variant fails: {set(BEHAVIOUR_CHECKS) - used}"
