"""Pytest plugin: a test touches nothing outside itself.

Network
    :mod:`islp_ch10.testing.sandbox` (pytest-socket plus resolver/UDP guards, loopback only) is
    installed for the whole run in every test process, and, through ``childsite/sitecustomize.py``
    on ``PYTHONPATH``, in every Python process a test starts.  After each test phase the attempts
    recorded by the sandbox are read back; a phase that made one is reported failed even if the
    test caught the exception.  The failure is on the test's report, so ``pytest -n N`` (which
    forwards worker reports) fails too.  A child started with an ``env=`` that drops the sandbox
    variables fails its test as well (build such an env with ``fakes.child_env``).  Attempts
    outside any test fail the session.  ``--allow-network`` turns the guard off.

Temporary folders
    For the whole session ``tempfile`` (and ``TMPDIR`` for children) points into pytest's base
    temporary folder, so code under test that makes temporary folders (an unnamed ``fit`` log
    folder, for one) leaves them where pytest cleans up.  At the end, ``islp-ch10-logs-*`` folders
    that appeared in the system temporary folder during the run are named in a warning.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

from islp_ch10.testing import sandbox

LOG_PREFIX = "islp-ch10-logs-"
SYSTEM_TMP = pytest.StashKey[Path]()  # the temporary folder before this plugin redirected it
_TMP_BEFORE = pytest.StashKey[set]()
_LOG_FOLDER = pytest.StashKey[Path]()
_SAVED_ENV = pytest.StashKey[dict]()
_OUTSIDE = pytest.StashKey[list]()  # attempts made outside any test phase (all workers)
_WORKER_KEY = "islp_ch10_sandbox_attempts"
_audit_added = False


def pytest_addoption(parser):
    parser.getgroup("islp-ch10").addoption(
        "--allow-network",
        action="store_true",
        default=False,
        help="do not block non-loopback network access (sockets, name resolution) during the run",
    )


def pytest_configure(config):
    config.stash[SYSTEM_TMP] = Path(tempfile.gettempdir())
    config.stash[_TMP_BEFORE] = _log_folders(config.stash[SYSTEM_TMP])
    config.stash[_OUTSIDE] = []
    if config.getoption("--allow-network"):
        return
    try:
        sandbox.install()
    except ImportError as exc:
        raise pytest.UsageError(
            f"the network guard needs pytest-socket ({exc}): install the test extra, "
            "pip install -e '.[test]', or pass --allow-network"
        ) from None
    folder = Path(tempfile.mkdtemp(prefix="islp-ch10-sandbox-"))
    config.stash[_LOG_FOLDER] = folder
    path = [str(sandbox.CHILD_SITE)] + [
        p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(sandbox.CHILD_SITE)
    ]
    config.stash[_SAVED_ENV] = {k: os.environ.get(k) for k in (sandbox.ENV_ON, sandbox.ENV_LOG, "PYTHONPATH")}
    os.environ.update({sandbox.ENV_ON: "1", sandbox.ENV_LOG: str(folder), "PYTHONPATH": os.pathsep.join(path)})
    global _audit_added
    if not _audit_added:
        sys.addaudithook(_audit_child_env)
        _audit_added = True


def pytest_unconfigure(config):
    for key, value in config.stash.get(_SAVED_ENV, {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    if _LOG_FOLDER in config.stash:
        shutil.rmtree(config.stash[_LOG_FOLDER], ignore_errors=True)


def _is_python(program) -> bool:
    program = os.fsdecode(program or "")
    return os.path.basename(program).startswith("python") or os.path.realpath(program) == os.path.realpath(
        sys.executable
    )


def _audit_child_env(event, args):
    """A Python child given its own ``env`` must keep the sandbox: else record it against the test.
    (Other programs, such as ``ldconfig`` run by ``ctypes.util`` with ``env={"LC_ALL": "C"}``,
    are not Python and cannot load the sandbox anyway.)"""
    if event != "subprocess.Popen" or os.environ.get(sandbox.ENV_ON) != "1" or args[3] is None:
        return
    executable, argv, _, env = args
    argv = [argv] if isinstance(argv, (str, bytes, os.PathLike)) else list(argv)
    if not _is_python(executable or (argv[:1] or [""])[0]):
        return
    path = str(env.get("PYTHONPATH", "")).split(os.pathsep)
    if env.get(sandbox.ENV_ON) != "1" or str(sandbox.CHILD_SITE) not in path:
        sandbox.record("python child with an env that drops the sandbox (use fakes.child_env)", argv[:3])


def _describe(attempts) -> str:
    return "; ".join(f"{a['what']}({a['target']}) in pid {a['pid']}" for a in attempts)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Fail the phase that tried the network, whatever the test did with the exception."""
    report = yield
    attempts = sandbox.harvest(item.config.stash.get(_LOG_FOLDER, None))
    if attempts:
        message = f"the network guard blocked: {_describe(attempts)}"
        if report.failed:
            report.sections.append(("islp-ch10 network guard", message))
        else:
            report.outcome = "failed"
            report.longrepr = message + " (the test went on as if nothing happened)"
            if hasattr(report, "wasxfail"):
                del report.wasxfail
    return report


@pytest.fixture(scope="session", autouse=True)
def _tempfile_in_basetemp(tmp_path_factory):
    """Point ``tempfile`` and children's ``TMPDIR`` into pytest's base temporary folder."""
    folder = tmp_path_factory.mktemp("tempfile", numbered=False)
    saved_env, saved_dir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = str(folder), str(folder)
    yield folder
    tempfile.tempdir = saved_dir
    if saved_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = saved_env


def _log_folders(folder: Path) -> set[str]:
    try:
        return {p.name for p in folder.glob(LOG_PREFIX + "*")}
    except OSError:
        return set()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist controller: collect the attempts a worker saw outside its tests."""
    node.config.stash[_OUTSIDE].extend(getattr(node, "workeroutput", {}).get(_WORKER_KEY, []))


def pytest_collection_finish(session):
    """Attempts made while importing conftests and test modules belong to no test."""
    session.config.stash[_OUTSIDE].extend(sandbox.harvest(session.config.stash.get(_LOG_FOLDER, None)))


def pytest_sessionfinish(session):
    config = session.config
    config.stash[_OUTSIDE].extend(sandbox.harvest(config.stash.get(_LOG_FOLDER, None)))
    outside = config.stash[_OUTSIDE]
    if hasattr(config, "workerinput"):
        config.workeroutput[_WORKER_KEY] = outside
        return
    if outside and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    left = sorted(_log_folders(config.stash[SYSTEM_TMP]) - config.stash[_TMP_BEFORE])
    if left:
        warnings.warn(
            pytest.PytestWarning(
                f"{len(left)} {LOG_PREFIX}* folder(s) appeared in {config.stash[SYSTEM_TMP]} during the run "
                f"(this run, or another process on the machine): {', '.join(left[:5])}"
                f"{' ...' if len(left) > 5 else ''}; code under test should use tmp_path or clean up"
            ),
            stacklevel=1,
        )


def pytest_terminal_summary(terminalreporter, config):
    outside = config.stash.get(_OUTSIDE, [])
    if outside:
        terminalreporter.section("islp-ch10 network guard")
        terminalreporter.write_line(f"network access blocked outside any test (run failed): {_describe(outside)}")
