"""Helpers shared by the tests: register a fake data file, start a child process under the sandbox,
load a script of the checkout's ``tools/`` folder as a module."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 hex digest of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


#: arguments every inner pytest run of the suite passes, in this process (pytester) or a child: an
#: inner run in a temporary folder does not read the project's addopts, so it names its plugins and
#: loads no others, as the project's own runs do.  Autoloaded, pytest-socket's teardown would lift
#: the outer run's network guard for every later test of an in-process run's process (seen: ten
#: guard tests of tests/test_plugin.py failing after tests/test_rng_guard.py), and a child run would
#: start 0.6 s slower (1 s more under ``-n 2``) assertion-rewriting all of hypothesis where
#: bytecode is not cached.
INNER_RUN_ARGS = ("--disable-plugin-autoload", "-p", "no:cacheprovider")


def load_tool(path: str | os.PathLike):
    """The script at ``path`` (one of the checkout's ``tools/*.py``) imported as a module named
    ``tools_<stem>``, so that a test can call its functions; ``tools/`` is not part of the package."""
    import importlib.util

    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"tools_{path.stem}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
