"""The suite's own pytest plugin (``islp_ch10/testing``): network sandbox, claim report, temp folders,
and the project's headline commands.

Each hole of the old socket guard has a test here that shows it closed: a non-loopback connect or
``connect_ex``, name resolution (``getaddrinfo`` and friends, ``urlopen``), a look-alike loopback
name, UDP ``sendto``, a child Python process, a child started with an env that drops the sandbox,
and a test that swallows the error, serially and under ``pytest -n 2``.  Tripwires stand in for
the real socket functions behind the guard, so no blocked call could leave the machine even if
the guard failed.  The network namespace under the sandbox, and the paths around the sandbox's
patches, are tried in ``tests/test_network_escapes.py``.
"""

from __future__ import annotations

import gc
import inspect
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import urllib.request
from pathlib import Path

import pytest
import pytest_socket

from islp_ch10.testing import fakes, sandbox
from islp_ch10.testing.plugin_guard import SYSTEM_TMP

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = (pytest_socket.SocketBlockedError, pytest_socket.SocketConnectBlockedError)
REMOTE = [("93.184.216.34", 443), ("2606:2800:220:1::", 80, 0, 0), ("pypi.org", 443)]
LOOPBACK = [("127.0.0.1", 9), ("localhost", 9), ("::1", 9, 0, 0)]
LOOKALIKES = ["localhost.example.com", "127.0.0.1.example.com", "localhost-1", "::1.example.com"]
INNER_PLUGINS = [
    *fakes.INNER_RUN_ARGS,
    "-p",
    "xdist",
    "-p",
    "islp_ch10.testing.plugin_claims",
    "-p",
    "islp_ch10.testing.plugin_guard",
]


@pytest.fixture(autouse=True)
def _sandbox_on(request):
    if request.config.getoption("--allow-network"):
        pytest.skip("--allow-network: the sandbox these tests probe is off for this run")


@pytest.fixture
def tripwire(monkeypatch):
    """Stand-ins for the real socket functions behind the sandbox: what reached them is recorded,
    and nothing reaches the network."""
    reached = []

    def fake(name):
        def call(*args, **kwargs):
            reached.append((name, args[1] if name in ("connect", "connect_ex") else (args or [kwargs.get("host")])[0]))
            return 0 if name.startswith("connect") else []

        return call

    monkeypatch.setattr(pytest_socket, "_true_connect", fake("connect"))
    for name in sandbox.state()["real"]:
        monkeypatch.setitem(sandbox.state()["real"], name, fake(name))
    return reached


def test_sandbox_is_installed_here_and_offered_to_children():
    assert sandbox.state() is not None, "plugin_guard did not install the sandbox"
    assert os.environ[sandbox.ENV_ON] == "1"
    assert str(sandbox.CHILD_SITE) in os.environ["PYTHONPATH"].split(os.pathsep)


@pytest.mark.parametrize("address", REMOTE, ids=lambda a: a[0])
def test_non_loopback_connect_is_blocked(tripwire, address):
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with sandbox.expect_blocked() as seen:
        for method in ("connect", "connect_ex"):
            with socket.socket(family, socket.SOCK_STREAM) as s, pytest.raises(BLOCKED):
                getattr(s, method)(address)
    assert tripwire == [], "the guard passed a non-loopback address to the real socket"
    assert [a["what"] for a in seen] == ["connect", "connect_ex"]


@pytest.mark.parametrize("address", LOOPBACK, ids=lambda a: a[0])
def test_loopback_connect_passes(tripwire, address):
    family = socket.AF_INET6 if address[0] == "::1" else socket.AF_INET
    for method in ("connect", "connect_ex"):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            getattr(s, method)(address)
    assert tripwire == [("connect", address), ("connect_ex", address)]


@pytest.mark.parametrize("host", LOOKALIKES)
def test_names_that_only_look_like_loopback_are_blocked(tripwire, host):
    """The old guard matched prefixes ("localhost", "127.", "::1"); these names go to a resolver."""
    assert not sandbox.is_loopback(host)
    with sandbox.expect_blocked() as seen:
        for lookup in (lambda: socket.getaddrinfo(host, 80), lambda: socket.gethostbyname(host)):
            with pytest.raises(BLOCKED):
                lookup()
        with socket.socket() as s, pytest.raises(BLOCKED):
            s.connect((host, 80))
    assert tripwire == [] and len(seen) == 3


@pytest.mark.parametrize(
    "lookup",
    [
        lambda: socket.getaddrinfo("pypi.org", 443),
        lambda: socket.getaddrinfo(host="pypi.org", port=443),
        lambda: socket.gethostbyname("pypi.org"),
        lambda: socket.gethostbyname_ex("pypi.org"),
        lambda: socket.gethostbyaddr("93.184.216.34"),
        lambda: socket.getnameinfo(("93.184.216.34", 443), 0),
        lambda: socket.create_connection(("pypi.org", 443), timeout=1),
        lambda: urllib.request.urlopen("http://pypi.org/simple/", timeout=1),
    ],
    ids=[
        "getaddrinfo",
        "getaddrinfo-kw",
        "gethostbyname",
        "gethostbyname_ex",
        "gethostbyaddr",
        "getnameinfo",
        "create_connection",
        "urlopen",
    ],
)
def test_name_resolution_is_blocked_before_the_resolver(tripwire, lookup):
    with sandbox.expect_blocked() as seen, pytest.raises(BLOCKED):
        lookup()
    assert tripwire == [], "a non-loopback name reached the real resolver"
    assert len(seen) == 1


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1", None, ""])
def test_loopback_and_bind_lookups_pass(tripwire, host):
    socket.getaddrinfo(host, 80)
    assert tripwire == [("getaddrinfo", host)]


def test_udp_sendto_is_blocked_unless_loopback():
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
    ):
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        with sandbox.expect_blocked() as seen:
            with pytest.raises(BLOCKED):
                client.sendto(b"dns?", ("192.0.2.1", 53))  # TEST-NET-1: routable nowhere
            with pytest.raises(BLOCKED):
                client.sendto(b"dns?", 0, ("pypi.org", 53))
            with pytest.raises(BLOCKED):
                client.sendmsg([b"dns?"], [], 0, ("192.0.2.1", 53))
        client.sendto(b"ping", server.getsockname())
        assert server.recv(4) == b"ping"
    assert [a["what"] for a in seen] == ["sendto", "sendto", "sendmsg"]


LOOPBACK_TABLE = [
    ("127.0.0.1", True),
    ("127.255.0.9", True),
    ("::1", True),
    ("::1%lo", True),
    ("LOCALHOST", True),
    ("localhost.", True),
    (b"127.0.0.1", True),
    ("0:0:0:0:0:0:0:1", True),
    ("localhost.example.com", False),
    ("127.0.0.1.nip.io", False),
    ("128.0.0.1", False),
    ("::2", False),
    ("::1.example.com", False),
    ("0.0.0.0", False),
    ("", False),
    (None, False),
    ("/tmp/sock", False),
]


@pytest.mark.parametrize("host, loopback", LOOPBACK_TABLE)
def test_loopback_is_parsed_not_prefix_matched(host, loopback):
    assert sandbox.is_loopback(host) is loopback


def test_the_old_prefix_rule_fails_the_loopback_table():
    """The broken variant: the old guard's prefix match lets look-alike names through."""

    def prefix_rule(host):
        return str(host or "").startswith(("127.", "::1", "localhost", "0.0.0.0")) or not host

    wrong = [host for host, loopback in LOOPBACK_TABLE if prefix_rule(host) != loopback]
    assert {"localhost.example.com", "127.0.0.1.nip.io", "::1.example.com"} <= set(wrong)


CHILD = textwrap.dedent("""
    import json, socket
    tried = {}
    for name, attempt in [
        ("connect", lambda: socket.socket().connect(("192.0.2.1", 9))),
        ("getaddrinfo", lambda: socket.getaddrinfo("pypi.org", 443)),
        ("lookalike", lambda: socket.getaddrinfo("localhost.example.com", 443)),
        ("sendto", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("192.0.2.1", 53))),
    ]:
        try:
            attempt()
            tried[name] = "went through"
        except RuntimeError as exc:  # swallowed, as a careless child would
            tried[name] = type(exc).__name__
        except OSError as exc:
            tried[name] = "went through: " + type(exc).__name__
    print(json.dumps(tried))
""")


def test_child_python_process_inherits_the_sandbox():
    """A child that swallows every error is blocked anyway, and its attempts reach the parent's record."""
    with sandbox.expect_blocked() as seen:
        out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, check=True)
    tried = json.loads(out.stdout.splitlines()[-1])
    assert set(tried.values()) <= {"SocketBlockedError", "SocketConnectBlockedError"}, tried
    assert len(seen) == 4 and all(a["pid"] != os.getpid() for a in seen)


def test_child_with_an_env_that_drops_the_sandbox_is_caught():
    bare = {k: v for k, v in os.environ.items() if k not in (sandbox.ENV_ON, "PYTHONPATH")}
    with sandbox.expect_blocked() as seen:
        subprocess.run([sys.executable, "-c", "pass"], env=bare, check=True, timeout=60)
        subprocess.run([sys.executable, "-c", "pass"], env=fakes.child_env(pythonpath=[ROOT]), check=True, timeout=60)
    assert len(seen) == 1 and "drops the sandbox" in seen[0]["what"]


def test_ddp_loopback_rendezvous_works_under_the_sandbox():
    """What each ``ddp_spawn`` rank does: a gloo process group over a TCP store on 127.0.0.1, here in
    this process, which runs under the sandbox (and, where the run entered one, the network
    namespace) as a rank does: its children inherit both (the tests above).  Nothing is recorded
    as blocked.  It ran in a child of its own until 2026-12-06; the child's ``import torch`` made it
    the fast tier's slowest test (1.5 s)."""
    import torch
    import torch.distributed as dist

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with sandbox.expect_blocked() as seen:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
        try:
            t = torch.ones(3)
            dist.all_reduce(t)
        finally:
            dist.destroy_process_group()
    assert int(t.sum()) == 3 and hasattr(socket, "_islp_ch10_sandbox") and seen == []


# ----------------------------------------------------------------------------- whole runs
SWALLOWING = textwrap.dedent("""
    import socket, subprocess, sys
    import pytest

    def swallow(attempt):
        try:
            attempt()
        except RuntimeError:
            pass

    def test_swallows_connect():
        swallow(lambda: socket.socket().connect(("192.0.2.1", 9)))

    def test_swallows_connect_ex():
        swallow(lambda: socket.socket().connect_ex(("192.0.2.1", 9)))

    def test_swallows_resolution():
        swallow(lambda: socket.getaddrinfo("pypi.org", 443))

    def test_swallows_lookalike():
        swallow(lambda: socket.gethostbyname("localhost.example.com"))

    def test_swallows_udp():
        swallow(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("192.0.2.1", 53)))

    def test_swallowed_in_a_child():
        code = "import socket\\ntry: socket.getaddrinfo('pypi.org', 443)\\nexcept RuntimeError: pass"
        subprocess.run([sys.executable, "-c", code], check=True)

    @pytest.mark.xfail(reason="a network attempt must not hide behind xfail")
    def test_hides_behind_xfail():
        swallow(lambda: socket.getaddrinfo("pypi.org", 443))
        raise AssertionError

    def test_loopback_is_fine():
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0)); server.listen(1)
            socket.create_connection(server.getsockname(), timeout=5).close()
""")

CLAIMED = textwrap.dedent("""
    import pytest

    @pytest.mark.claim("10.3/maxpool-example")
    def test_claim_passes():
        pass

    @pytest.mark.claim("10.3/maxpool-example", "10.2/mnist-shape")
    def test_claim_fails():
        assert False

    @pytest.mark.claim("10.2/mnist-shape")
    def test_claim_skips():
        pytest.skip("no data")
""")


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist-n2"])
def test_swallowed_blocks_fail_their_tests_and_claims_are_reported(pytester, workers, monkeypatch):
    """Every test that made (and swallowed) a blocked attempt is reported failed, under xdist too,
    and the claim report holds every claim-marked test's outcome."""
    # pytest prints full (untruncated) summary lines when CI or BUILD_NUMBER is set, which would
    # repeat each failure's message once more; the inner run counts messages, so it runs as locally
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)
    pytester.makepyfile(test_swallowing=SWALLOWING, test_claimed=CLAIMED)
    report = pytester.path / "claims.json"
    result = pytester.runpytest_subprocess(*INNER_PLUGINS, *workers, f"--claims-report={report}", "-rf")
    result.assert_outcomes(failed=8, passed=2, skipped=1)
    failed = {line.split("::")[1].split(" ")[0] for line in result.outlines if line.startswith("FAILED")}
    assert failed == {
        "test_swallows_connect",
        "test_swallows_connect_ex",
        "test_swallows_resolution",
        "test_swallows_lookalike",
        "test_swallows_udp",
        "test_swallowed_in_a_child",
        "test_hides_behind_xfail",
        "test_claim_fails",
    }
    assert result.stdout.str().count("(the test went on as if nothing happened)") == 7
    outcomes = {
        cid: sorted((r["test"].split("::")[1], r["outcome"]) for r in records)
        for cid, records in json.loads(report.read_text()).items()
    }
    assert outcomes == {
        "10.3/maxpool-example": [("test_claim_fails", "failed"), ("test_claim_passes", "passed")],
        "10.2/mnist-shape": [("test_claim_fails", "failed"), ("test_claim_skips", "skipped")],
    }


def test_attempts_outside_tests_fail_the_session_and_log_folders_left_in_temp_are_named(pytester):
    pytester.makepyfile(
        test_outside=textwrap.dedent("""
        import os, socket
        from islp_ch10.testing.plugin_guard import LOG_PREFIX, SYSTEM_TMP
        try:
            socket.getaddrinfo("pypi.org", 443)  # at import, outside any test
        except RuntimeError:
            pass

        def test_leaves_a_log_folder(request):
            os.mkdir(request.config.stash[SYSTEM_TMP] / (LOG_PREFIX + "left-by-a-test"))
    """)
    )
    result = pytester.runpytest_subprocess(*INNER_PLUGINS)
    leaked = Path(tempfile.gettempdir()) / "islp-ch10-logs-left-by-a-test"
    shutil.rmtree(leaked, ignore_errors=True)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*1 islp-ch10-logs-* folder(s) appeared in*islp-ch10-logs-left-by-a-test*",
            "*network access blocked outside any test*pypi.org*",
        ]
    )


def test_tempfile_points_into_pytests_base_temp(tmp_path_factory, request):
    base = tmp_path_factory.getbasetemp()
    assert Path(tempfile.gettempdir()).is_relative_to(base) and Path(os.environ["TMPDIR"]).is_relative_to(base)
    assert not request.config.stash[SYSTEM_TMP].is_relative_to(base)


# ----------------------------------------------------------------------------- headline commands
def _pytest_command() -> list[str]:
    script = Path(sys.executable).with_name("pytest")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pytest"]


@pytest.mark.slow  # a full collection of the suite in a child (3.2 s on an idle 2-core machine): the slow tier
def test_headline_gpu_benchmark_command_collects_the_gpu_benchmarks():
    """``pytest -m gpu --benchmark --collect-only -q`` from the root lists the GPU tests and the conv
    and LSTM GPU benchmark groups (issue 11: it used to list tests/ only)."""
    out = subprocess.run(
        [*_pytest_command(), "-m", "gpu", "--benchmark", "--collect-only", "-q"],
        cwd=ROOT,
        env=fakes.child_env(pythonpath=[ROOT]),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    ids = [line for line in out.stdout.splitlines() if "::" in line]
    assert all("cuda" in i for i in ids if i.startswith("benchmarks/")), "a CPU benchmark was selected by -m gpu"
    conv = {}
    for i in ids:
        if i.startswith("benchmarks/bench_conv.py::"):
            conv.setdefault(i.split("::")[1].split("[")[0], set()).add(i.split("[")[1].split("-")[0])
    lstm = {i.split("::")[1].split("[")[0] for i in ids if i.startswith("benchmarks/bench_lstm.py::")}
    # one benchmark group per conv block and pass (conv-block<i>-fwd / -fwd-bwd), each with a cuda param
    assert {"test_block_forward", "test_block_forward_backward"} <= set(conv), ids
    assert conv["test_block_forward"] == conv["test_block_forward_backward"] and len(conv["test_block_forward"]) >= 2
    assert {"test_imdb_lstm_forward", "test_imdb_lstm_forward_backward", "test_lstm_loop_vs_fused"} <= lstm, ids
    assert any(i.startswith("tests/") for i in ids), "the GPU tests under tests/ are missing"


# ----------------------------------------------------------------------------- hypothesis profiles
def test_the_process_that_runs_tests_has_the_suites_hypothesis_profile():
    """The profiles are registered where tests run (this process: serial, or an xdist worker; the
    controller skips the import), so a property runs FAST_EXAMPLES examples unless asked for more."""
    from hypothesis import settings

    from islp_ch10.testing import hypothesis_profiles as hp

    wanted = os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
    examples = {"dev": hp.FAST_EXAMPLES, "ci": hp.FAST_EXAMPLES, "thorough": hp.THOROUGH_EXAMPLES}
    assert settings.get_profile(wanted).max_examples == examples[wanted] == settings.default.max_examples


# ----------------------------------------------------------------------------- the gpu skip
@pytest.mark.parametrize("with_gpu_test", [False, True], ids=["cpu-only", "gpu-test"])
def test_cuda_is_asked_once_and_only_when_a_gpu_test_is_collected(pytester, monkeypatch, with_gpu_test):
    """A gpu test skips, naming why, where CUDA is absent; a session without gpu tests never asks
    (asking imports torch: a second for each child pytest run of the suite's plugin tests)."""
    from islp_ch10.testing import plugin_markers

    asked = []
    monkeypatch.setattr(plugin_markers, "cuda_available", lambda: asked.append(1) or False)
    gpu = "@pytest.mark.gpu\ndef test_on_gpu():\n    pass\n" if with_gpu_test else ""
    pytester.makepyfile(test_one=f"import pytest\n\ndef test_plain():\n    pass\n\n{gpu}")
    result = pytester.runpytest_inprocess("-p", "islp_ch10.testing.plugin_markers", *fakes.INNER_RUN_ARGS, "-rs")
    assert asked == ([1] if with_gpu_test else [])
    result.assert_outcomes(passed=1, skipped=1 if with_gpu_test else 0)
    if with_gpu_test:
        result.stdout.fnmatch_lines(["*needs CUDA: torch.cuda.is_available() is False*"])


# ----------------------------------------------------------------------------- the garbage collector
def frozen(obj) -> bool:
    """Whether ``obj`` (tracked by the collector) sits in the permanent generation, which
    ``gc.get_objects()`` leaves out."""
    return not any(o is obj for o in gc.get_objects())


COLLECTOR_CHECKS = textwrap.dedent("""
    import gc
    import weakref

    from test_plugin_helpers import frozen

    class Node:
        pass

    MADE_AT_COLLECTION = [Node()]

    def test_the_start_up_is_frozen():
        assert frozen(MADE_AT_COLLECTION)

    def test_a_tests_cycles_are_collected_without_asking():
        first = Node()
        first.other = Node()
        first.other.other = first
        gone = weakref.ref(first)
        del first
        kept = [[] for _ in range(10_000)]  # enough new objects to start the collector, where it is on
        assert gone() is None, len(kept)
""")
BROKEN_COLLECTOR_PLUGINS = {
    "left_off": ["gc.freeze()"],
    "never_frozen": ["gc.enable()"],
}
BROKEN_COLLECTOR_PLUGIN = textwrap.dedent("""
    import gc
    import pytest

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(config):
        gc.disable()

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection(session):
        try:
            return (yield)
        finally:
            {settle}
""")


@pytest.mark.parametrize(
    ("plugin", "failing"),
    [
        ("islp_ch10.testing.plugin_gc", set()),
        ("left_off", {"test_a_tests_cycles_are_collected_without_asking"}),
        ("never_frozen", {"test_the_start_up_is_frozen"}),
    ],
)
def test_tests_run_with_the_collector_on_and_the_start_up_frozen(pytester, plugin, failing):
    """What a test module builds at collection is frozen, and a test's own garbage is still
    collected unasked; the same checks reject a plugin that never switches the collector back on
    and one that never freezes."""
    pytester.makepyfile(
        test_collector=COLLECTOR_CHECKS,
        test_plugin_helpers=f"import gc\n\n\n{inspect.getsource(frozen)}",
        **{
            name: BROKEN_COLLECTOR_PLUGIN.replace("{settle}", "\n        ".join(settle))
            for name, settle in BROKEN_COLLECTOR_PLUGINS.items()
        },
    )
    pytester.syspathinsert()
    try:
        result = pytester.runpytest_inprocess("-p", plugin, *fakes.INNER_RUN_ARGS, "-rf", "test_collector.py")
    finally:
        gc.enable()  # a broken plugin leaves it off in this process
    result.assert_outcomes(passed=2 - len(failing), failed=len(failing))
    assert {line.split("::")[1].split(" ")[0] for line in result.outlines if line.startswith("FAILED")} == failing


MADE_AT_COLLECTION = [object()]


def test_this_process_runs_its_tests_with_the_collector_on_and_its_start_up_frozen():
    """What the checks above state, in the process running this suite (each xdist worker)."""
    assert gc.isenabled() and frozen(MADE_AT_COLLECTION)
