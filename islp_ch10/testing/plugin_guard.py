"""Pytest plugin: a test touches nothing outside itself.

Network, two layers
    1. **The floor: an empty network namespace** (:mod:`islp_ch10.testing.netns`).  Before any
       test, worker or thread starts, the pytest process enters a new user + network namespace
       with only ``lo`` (up): what any test starts afterwards, in any language, with any
       environment or interpreter flags, inherits it, and no socket reaches beyond loopback, whatever
       the path to the kernel.  The user namespace means the run cannot leave it again (``setns``
       back to the host's network needs capabilities it does not have there).  A run started in
       such a namespace already (``unshare -rn pytest ...``) keeps it.  Where the system refuses
       namespaces (not Linux, user namespaces disabled, the process already multi-threaded), the
       run goes on with layer 2 alone and the header says why.  ``--network-guard=namespace``
       (or ``ISLP_CH10_NETWORK_GUARD=namespace``) makes a refused namespace a usage error;
       ``--network-guard=sandbox`` skips the namespace (the fallback, on purpose).
    2. **The sandbox** (:mod:`islp_ch10.testing.sandbox`: pytest-socket plus resolver/UDP guards
       and an audit hook, loopback only), installed for the whole run in every test process and,
       through ``childsite/sitecustomize.py`` on ``PYTHONPATH``, in every Python process a test
       starts.  It is what names the offending test: after each test phase the attempts it
       recorded are read back; a phase that made one is reported failed even if the test caught
       the exception.  The failure is on the test's report, so ``pytest -n N`` (which forwards
       worker reports) fails too.  A Python child that cannot load the sandbox (an ``env`` without
       its variables, ``-I``/``-E``/``-S``) fails its test as well (build a child's env with
       ``fakes.child_env``).  Attempts outside any test fail the session.  Patches undone by the
       test (``importlib.reload(socket)``) are re-applied after each phase.

    The run's header says which guard is active.  ``--allow-network`` turns both off.

Temporary folders
    For the whole session ``tempfile`` (and ``TMPDIR`` for children) points into pytest's base
    temporary folder, so code under test that makes temporary folders (an unnamed ``fit`` log
    folder, for one) leaves them where pytest cleans up.  At the end, ``islp-ch10-logs-*`` folders
    that appeared in the system temporary folder during the run are named in a warning.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest

from islp_ch10.testing import netns, sandbox

LOG_PREFIX = "islp-ch10-logs-"
SYSTEM_TMP = pytest.StashKey[Path]()  # the temporary folder before this plugin redirected it
_TMP_BEFORE = pytest.StashKey[set]()
_LOG_FOLDER = pytest.StashKey[Path]()
_SAVED_ENV = pytest.StashKey[dict]()
_OUTSIDE = pytest.StashKey[list]()  # attempts made outside any test phase (all workers)
_WORKER_KEY = "islp_ch10_sandbox_attempts"
GUARD = pytest.StashKey[tuple]()  # ("namespace" | "fallback" | "off", the header's description)
GUARD_ENV = "ISLP_CH10_NETWORK_GUARD"  # the default of --network-guard


def pytest_addoption(parser, pluginmanager):
    parser.getgroup("islp-ch10").addoption(
        "--allow-network",
        action="store_true",
        default=False,
        help="do not block non-loopback network access (sockets, name resolution) during the run",
    )
    parser.getgroup("islp-ch10").addoption(
        "--network-guard",
        choices=("auto", "namespace", "sandbox"),
        default=os.environ.get(GUARD_ENV) or "auto",
        help="auto (default; ISLP_CH10_NETWORK_GUARD overrides it): an empty network namespace where the "
        "system allows one, else the in-process sandbox alone; namespace: refuse to run without one; "
        "sandbox: the in-process sandbox alone",
    )
    # The namespace is entered now, while pytest loads this plugin (first in conftest.py): later,
    # importing numpy (the next plugins) starts a thread, and unshare(CLONE_NEWUSER) needs a
    # single-threaded process.  The options are parsed here the way pytest will parse them.
    config = pluginmanager.get_plugin("pytestconfig")
    if config is not None and GUARD not in config.stash:
        config.stash[GUARD] = _choose_guard(config, _early_options(config, parser))


def _early_options(config, parser) -> dict:
    """``--allow-network`` and ``--network-guard`` from the ini file's addopts, PYTEST_ADDOPTS and the
    command line (pytest's order), before pytest itself has parsed them."""
    try:
        args = [*config.getini("addopts"), *shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))]
        namespace = parser.parse_known_args([*args, *map(str, config.invocation_params.args)])
        return {"allow": namespace.allow_network, "mode": namespace.network_guard}
    except (pytest.UsageError, ValueError, SystemExit):  # a malformed command line: pytest reports it
        return {"allow": False, "mode": "auto"}  # later; until then, the safe default


def _choose_guard(config, options: dict) -> tuple[str, str]:
    """Enter the network namespace if asked and possible; return the guard's kind and description
    (kind "error": --network-guard=namespace without one, reported as a usage error at configure)."""
    if options["allow"]:
        return "off", "off (--allow-network)"
    mode = options["mode"]
    if mode == "sandbox":
        return "fallback", "pytest-socket fallback: --network-guard=sandbox"
    if netns.isolated():
        where = "inherited from the xdist controller" if hasattr(config, "workerinput") else "the run started in one"
        return "namespace", f"network namespace (only lo; {where}) + pytest-socket sandbox"
    if hasattr(config, "workerinput"):  # the controller could not make one; a worker does not try
        why = "the xdist controller runs without a network namespace"
    else:
        why = netns.enter()
        if why is None:
            return "namespace", "network namespace (unshare: user + net, only lo) + pytest-socket sandbox"
    if mode == "namespace":
        return "error", f"--network-guard=namespace: no network namespace: {why}"
    return "fallback", f"pytest-socket fallback: {why}"


def pytest_configure(config):
    config.stash[SYSTEM_TMP] = Path(tempfile.gettempdir())
    config.stash[_TMP_BEFORE] = _log_folders(config.stash[SYSTEM_TMP])
    config.stash[_OUTSIDE] = []
    if GUARD not in config.stash:  # this plugin was registered after option parsing
        options = {"allow": config.getoption("--allow-network"), "mode": config.getoption("--network-guard")}
        config.stash[GUARD] = _choose_guard(config, options)
    kind, description = config.stash[GUARD]
    if kind == "error":
        raise pytest.UsageError(description)
    if kind == "off":
        return
    try:
        import pytest_socket  # noqa: F401
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
    sandbox.install(folder)


def pytest_report_header(config):
    return f"islp-ch10 network guard: {config.stash[GUARD][1]}"


def pytest_unconfigure(config):
    for key, value in config.stash.get(_SAVED_ENV, {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    if _LOG_FOLDER in config.stash and sandbox.state() is not None:  # an outer run's record, if any
        sandbox.state()["log"] = config.stash[_SAVED_ENV][sandbox.ENV_LOG]
    if _LOG_FOLDER in config.stash:
        shutil.rmtree(config.stash[_LOG_FOLDER], ignore_errors=True)


def _describe(attempts) -> str:
    return "; ".join(f"{a['what']}({a['target']}) in pid {a['pid']}" for a in attempts)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Fail the phase that tried the network, whatever the test did with the exception."""
    report = yield
    sandbox.rearm()  # a test that reloaded the socket module undid the Python-level patches
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
