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

import os

FAST_EXAMPLES = 25
THOROUGH_EXAMPLES = 1000

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # the package itself does not need hypothesis
    pass
else:
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
