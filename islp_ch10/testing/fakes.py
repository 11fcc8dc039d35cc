"""Helpers shared by the tests: register a fake data file, start a child process under the sandbox."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 hex digest of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def register(monkeypatch, root: Path, key: str) -> None:
    """Make ``root / key`` a known data file for this test: its digest goes into
    ``islp_ch10.data.KNOWN_FILES[key]`` (undone by ``monkeypatch`` afterwards)."""
    from islp_ch10 import data

    monkeypatch.setitem(data.KNOWN_FILES, key, data.FileSpec((("sha256", file_sha256(root / key)),)))


def child_env(*, pythonpath: Sequence[str | os.PathLike] = (), **extra: str) -> dict[str, str]:
    """``os.environ`` plus ``extra``, with ``pythonpath`` put in front of the inherited
    ``PYTHONPATH`` (never replacing it: the test sandbox reaches children through it)."""
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**os.environ, **extra, "PYTHONPATH": os.pathsep.join([*map(str, pythonpath), *inherited])}
