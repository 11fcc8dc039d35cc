"""Pytest plugin: the known incompatibilities table applied as strict xfail.

``known_incompatibilities.toml`` beside this module lists (test or claim, requirements on the
installed releases, reason).  At collection, every test an entry names is marked
``xfail(strict=True, reason=...)`` when all of the entry's requirements hold here, so a known
failure is reported as such, and an entry whose failure has gone away turns the run red (strict
XPASS) instead of hiding a passing test.  ``pytest --known-incompatibilities`` prints the table
with which entries apply to this environment.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

TABLE = Path(__file__).with_name("known_incompatibilities.toml")


@dataclass(frozen=True)
class Incompatibility:
    reason: str
    when: tuple[str, ...]
    test: str | None = None
    claim: str | None = None

    def applies(self, installed=None) -> bool:
        """True when every requirement in ``when`` holds for the installed releases."""
        lookup = installed or _installed_version
        for text in self.when:
            req = Requirement(text)
            version = lookup(req.name)
            if version is None or not req.specifier.contains(Version(version), prereleases=True):
                return False
        return True

    def names(self, nodeid: str, claim_ids: tuple[str, ...]) -> bool:
        if self.test is not None and (nodeid == self.test or fnmatch.fnmatchcase(nodeid, self.test)):
            return True
        return self.claim is not None and self.claim in claim_ids


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def load(path: Path | None = None) -> list[Incompatibility]:
    """The table (``TABLE`` unless given); a malformed entry raises ValueError naming it."""
    path = TABLE if path is None else path
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    entries = []
    for i, raw in enumerate(data.get("incompatible", []), 1):
        unknown = set(raw) - {"test", "claim", "when", "reason"}
        if unknown or not raw.get("reason") or not raw.get("when") or ("test" in raw) == ("claim" in raw):
            raise ValueError(
                f"{path.name} entry {i}: needs exactly one of test/claim, a non-empty when and reason"
                + (f" (unknown keys {sorted(unknown)})" if unknown else "")
            )
        when = (raw["when"],) if isinstance(raw["when"], str) else tuple(raw["when"])
        for text in when:
            Requirement(text)  # InvalidRequirement names the bad text
        entries.append(Incompatibility(raw["reason"], when, raw.get("test"), raw.get("claim")))
    return entries


def applicable(entries: list[Incompatibility], installed=None) -> list[Incompatibility]:
    return [e for e in entries if e.applies(installed)]


def pytest_collection_modifyitems(config, items):
    active = applicable(load())
    if not active:
        return
    for item in items:
        claim_ids = tuple(cid for mark in item.iter_markers("claim") for cid in mark.args)
        for entry in active:
            if entry.names(item.nodeid, claim_ids):
                item.add_marker(pytest.mark.xfail(strict=True, reason=f"known incompatibility: {entry.reason}"))
                break
