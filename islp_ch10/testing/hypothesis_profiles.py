"""Hypothesis profiles for the suite: ``dev`` (default), ``ci`` (default when ``CI`` is set:
derandomised, no example database) and ``thorough``; ``HYPOTHESIS_PROFILE`` picks one.

Loaded as a pytest plugin (``pytest_plugins`` in the root ``conftest.py``); hypothesis is a test
extra, so without it this module does nothing.
"""

from __future__ import annotations

import os

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # the package itself does not need hypothesis
    pass
else:
    settings.register_profile("dev", max_examples=60, deadline=None)
    settings.register_profile(
        "ci",
        max_examples=60,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
        print_blob=True,
    )
    settings.register_profile("thorough", max_examples=1000, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
