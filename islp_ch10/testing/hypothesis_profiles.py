"""Hypothesis profiles for the suite: ``dev`` (default), ``ci`` (default when ``CI`` is set:
derandomised, no example database) and ``thorough``; ``HYPOTHESIS_PROFILE`` picks one.

``dev`` and ``ci`` run ``FAST_EXAMPLES`` generated examples per property, so that the fast tier
stays a matter of seconds; the explicit ``@example`` cases (the book's figures and the edge cases,
where a test has them) run under every profile on top.  ``thorough`` runs ``THOROUGH_EXAMPLES``
(40 times as many) for a wider search before a release or after touching a reference:
``HYPOTHESIS_PROFILE=thorough pytest -m fast``.

Loaded as a pytest plugin (``pytest_plugins`` in the root ``conftest.py``); hypothesis is a test
extra, so without it this module does nothing.
"""

from __future__ import annotations

import contextlib
import os

FAST_EXAMPLES = 25
THOROUGH_EXAMPLES = 1000


def register_profiles() -> None:
    """Register the three profiles and load the one ``HYPOTHESIS_PROFILE`` (or ``CI``) names."""
    from hypothesis import HealthCheck, settings

    settings.register_profile("dev", max_examples=FAST_EXAMPLES, deadline=None)
    settings.register_profile(
        "ci",
        max_examples=FAST_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
        print_blob=True,
    )
    settings.register_profile("thorough", max_examples=THOROUGH_EXAMPLES, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_configure(config):
    """Where tests run: this process, or each xdist worker.  The ``pytest -n N`` controller runs no
    test and leaves the profiles to its workers."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        return
    with contextlib.suppress(ImportError):  # the package itself does not need hypothesis
        register_profiles()
