"""Pytest plugin: ``@pytest.mark.claim(...)`` ties tests to catalogue IDs, and their outcomes are recorded.

``@pytest.mark.claim("10.3/maxpool-example", ...)`` names the claims a test checks.  Collection
fails on an ID the catalogue (``islp_ch10/catalogue``) does not know.  ``--claims-report PATH``
writes ``{claim id: [{"test": node id, "outcome": ...}]}`` as JSON for ``islp-ch10 claims`` and
the report.

As pytest's junitxml does, the recorder is an object kept in ``config.stash`` and registered as a
plugin for the run.  The claim IDs travel on each report's ``user_properties``, so under
``pytest -n N`` the controller, which sees every worker's reports, writes the whole file.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from islp_ch10.fileio import write_text

CLAIMS = "claims"  # the user_properties key


class ClaimRecorder:
    """Collects ``{claim id: [outcome records]}`` from the reports and writes them at the end."""

    def __init__(self, path: str | None):
        self.path = path
        self.outcomes: dict[str, list[dict]] = defaultdict(list)

    def pytest_runtest_logreport(self, report):
        ids = next((v for k, v in report.user_properties if k == CLAIMS), None)
        if not ids or not (report.when == "call" or (report.when == "setup" and report.outcome != "passed")):
            return
        state = "xfailed" if hasattr(report, "wasxfail") else report.outcome
        for cid in ids:
            self.outcomes[cid].append({"test": report.nodeid, "outcome": state})

    def pytest_sessionfinish(self, session):
        if not self.path:
            return
        write_text(Path(self.path), json.dumps(self.outcomes, indent=2, sort_keys=True))


RECORDER = pytest.StashKey[ClaimRecorder]()


def pytest_addoption(parser):
    parser.getgroup("islp-ch10").addoption(
        "--claims-report",
        metavar="PATH",
        default=None,
        help="write the outcome of every claim-marked test to PATH as JSON",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "claim(*ids): the chapter-10 claim IDs this test checks (see islp_ch10/catalogue)"
    )
    if not hasattr(config, "workerinput"):  # xdist workers forward their reports instead
        config.stash[RECORDER] = ClaimRecorder(config.getoption("--claims-report"))
        config.pluginmanager.register(config.stash[RECORDER], "islp-ch10-claim-recorder")


def pytest_unconfigure(config):
    recorder = config.stash.get(RECORDER, None)
    if recorder is not None:
        del config.stash[RECORDER]
        config.pluginmanager.unregister(recorder)


def pytest_collection_modifyitems(config, items):
    from islp_ch10 import claims

    known = claims.catalogue()
    for item in items:
        for mark in item.iter_markers("claim"):
            for cid in mark.args:
                if cid not in known:
                    raise pytest.UsageError(f"{item.nodeid}: claim marker names unknown ID {cid!r}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Carry the test's claim IDs on its report, so the xdist controller can see them too."""
    report = yield
    ids = [cid for mark in item.iter_markers("claim") for cid in mark.args]
    if ids:
        report.user_properties.append((CLAIMS, ids))
    return report
