"""The islp-ch10 suite's pytest set-up: plugin modules under ``islp_ch10/testing/``.

==================================  ====================================================
``plugin_markers``                  tiers (``fast`` applied automatically), the CUDA skip,
                                    ``--benchmark``
``plugin_claims``                   ``@pytest.mark.claim`` IDs checked at collection,
                                    ``--claims-report PATH``
``plugin_guard``                    loopback-only network: an empty network namespace where
                                    the system allows one, under it pytest-socket and more,
                                    children included (``--network-guard``,
                                    ``--allow-network``); temporary folders kept out of the
                                    system temp folder
``fixtures``                        RNG restore, torch threads per xdist worker, the data
                                    set fixtures
``hypothesis_profiles``             ``HYPOTHESIS_PROFILE`` = dev / ci / thorough
``plugin_known``                    the known-incompatibilities table as strict xfail
``plugin_gc``                       the start-up's objects frozen out of the garbage
                                    collector's full passes
==================================  ====================================================

They are loaded here, not through a ``pytest11`` entry point, so that installing the package
switches nothing on in other projects' test runs.  Test helpers: ``islp_ch10.testing.fakes``.
"""

import os
from pathlib import Path

# The tests read the staged data beside the checkout unless the user names another folder.
_SHARED_DATA = Path(__file__).resolve().parent.parent / "shared" / "data"
if "ISLP_CH10_DATA" not in os.environ and _SHARED_DATA.is_dir():
    os.environ["ISLP_CH10_DATA"] = str(_SHARED_DATA)

# Seeded-output snapshots live beside the tests, also when islp_ch10 is an installed wheel (tox).
os.environ.setdefault("ISLP_CH10_EXPECT_DIR", str(Path(__file__).resolve().parent / "tests" / "expect"))

pytest_plugins = [
    "islp_ch10.testing.plugin_guard",  # first: it enters the network namespace before a thread starts
    "pytester",  # tests/test_plugin.py runs the plugins on small test files
    "islp_ch10.testing.hypothesis_profiles",
    "islp_ch10.testing.plugin_markers",
    "islp_ch10.testing.plugin_claims",
    "islp_ch10.testing.fixtures",
    "islp_ch10.testing.plugin_known",
    "islp_ch10.testing.plugin_gc",
]
