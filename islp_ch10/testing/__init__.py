"""Helpers for the test-suite: device parameters, the per-model spec, hypothesis strategies."""

import pytest


def cpu_and_cuda():
    """Device parameters: ``cpu`` always, ``cuda`` carrying the ``gpu`` mark (skipped without CUDA)."""
    return ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]
