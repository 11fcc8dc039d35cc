"""Every way out of the network guard that issue 17 found, tried against both of its layers.

The floor (``plugin_guard`` runs the suite in an empty network namespace): each escape is made by
code the in-process sandbox cannot see (a child started with ``-I``/``-E``/``-S``, through
``env -i`` in a shell, by ``os.posix_spawn`` with an empty environment, ``curl``), and the raw
paths (``_socket``, the base class's ``connect_ex``, libc ``connect`` through ctypes, a reloaded
socket module, ``AF_PACKET``) run in such a child, so only the kernel answers.  Each must fail
with the kernel's "no route" (``ENETUNREACH``, ``ENODEV``, a failed resolution).

The control (a broken variant): the same probe in a namespace that does have a route out (a veth
pair whose far end nobody answers, inside a nested namespace made for the test, so nothing leaves
the machine) gets through: the UDP datagram is sent, the TCP connect is in progress, the raw
frame goes out.  So the probes tell the guard from its absence, and a pytest run started there
with ``--network-guard=sandbox`` (or unable to make a namespace) says so in its header while the
same escapes get through.

The in-process layer (used alone where namespaces are refused): each in-process path is blocked
and recorded, and each child that cannot carry the sandbox is recorded against its test.

Targets are documentation addresses only: 192.0.2.1 (TEST-NET-1), ``example.invalid``.
"""

from __future__ import annotations

import _socket
import ctypes
import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import pytest_socket

from islp_ch10.testing import fakes, netns, sandbox
from islp_ch10.testing.plugin_guard import GUARD

BLOCKED = (pytest_socket.SocketBlockedError, pytest_socket.SocketConnectBlockedError)
TARGET = ("192.0.2.1", 9)  # TEST-NET-1 (RFC 5737), the discard port

# One escape per name; run as `python PROBE name...`, prints {name: [verdict, detail]}.  Verdicts:
# "unreachable" (the kernel has no route: ENETUNREACH, ENODEV), "unresolved" (a name lookup
# failed), "blocked" (the in-process sandbox raised), "reached" (the network stack took it: sent,
# or a connect in progress), "not permitted" (the system refused the socket itself).
PROBE = textwrap.dedent(r"""
    import ctypes, errno, importlib, json, os, socket, _socket, struct, sys

    TARGET = ("192.0.2.1", 9)
    NO_ROUTE = (errno.ENETUNREACH, errno.ENODEV, errno.ENXIO)

    def tcp(make):
        s = make(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)  # a route: EINPROGRESS at once; no route: ENETUNREACH at once
        try:
            s.connect(TARGET)
        finally:
            s.close()
        return "connected"

    def connect_ex_base():
        s = _socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        code = _socket.socket.connect_ex(s, TARGET)
        s.close()
        if code:
            raise OSError(code, os.strerror(code))
        return "connected"

    def udp():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            return f"sent {s.sendto(b'islp-ch10 probe', TARGET)} bytes"

    def libc_connect():
        libc = ctypes.CDLL(None, use_errno=True)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        address = struct.pack("=H", socket.AF_INET) + struct.pack("!H", TARGET[1])
        address += socket.inet_aton(TARGET[0]) + bytes(8)
        try:
            if libc.connect(s.fileno(), address, len(address)) != 0:
                code = ctypes.get_errno()
                raise OSError(code, os.strerror(code))
        finally:
            s.close()
        return "connected"

    def reloaded():
        importlib.reload(socket)
        return tcp(socket.socket)

    def packet():
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88B5))
        frame = b"\xff" * 6 + bytes(6) + b"\x88\xb5" + b"islp-ch10 probe"  # 0x88b5: local experimental
        others = [name for _, name in socket.if_nameindex() if name != "lo"]
        with s:
            for name in others or ["eth0"]:
                s.sendto(frame, (name, 0x88B5))
            return f"sent on {others}"

    PROBES = {
        "socket": lambda: tcp(socket.socket),
        "_socket": lambda: tcp(_socket.socket),
        "connect_ex_base": connect_ex_base,
        "udp": udp,
        "getaddrinfo": lambda: socket.getaddrinfo("example.invalid", 80),
        "_socket.getaddrinfo": lambda: _socket.getaddrinfo("example.invalid", 80),
        "ctypes_connect": libc_connect,
        "reload": reloaded,
        "af_packet": packet,
        "interfaces": lambda: sorted(name for _, name in socket.if_nameindex()),
        "sandboxed": lambda: hasattr(socket, "_islp_ch10_sandbox"),
    }
    result = {}
    for name in sys.argv[1:]:
        try:
            result[name] = ["reached", repr(PROBES[name]())]
        except RuntimeError as exc:
            result[name] = ["blocked", type(exc).__name__]
        except socket.gaierror as exc:
            result[name] = ["unresolved", str(exc)]
        except OSError as exc:
            code = errno.errorcode.get(exc.errno, str(exc.errno))
            if exc.errno in (errno.EPERM, errno.EACCES) and name == "af_packet":
                result[name] = ["not permitted", code]
            else:
                result[name] = ["unreachable" if exc.errno in NO_ROUTE else "reached", code]
    print(json.dumps(result))
""")
KERNEL_PROBES = ["socket", "_socket", "connect_ex_base", "udp", "getaddrinfo", "_socket.getaddrinfo"]
KERNEL_PROBES += ["ctypes_connect", "reload", "af_packet"]


def _verdicts(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def _probe(argv_prefix, names, **kwargs) -> dict:
    out = subprocess.run([*argv_prefix, *names], capture_output=True, text=True, timeout=120, **kwargs)
    assert out.returncode == 0, out.stderr[-2000:]
    return _verdicts(out.stdout)


def _assert_no_way_out(verdicts: dict) -> None:
    """Every probe failed at the kernel: no route for sockets, no answer for names."""
    if verdicts.get("af_packet", [""])[0] == "not permitted":
        verdicts = {k: v for k, v in verdicts.items() if k != "af_packet"}  # no raw sockets here at all
    for name, (verdict, detail) in verdicts.items():
        expected = "unresolved" if name.endswith("getaddrinfo") else "unreachable"
        assert verdict == expected, f"{name}: {verdict} ({detail})"
    for name in set(verdicts) & {"socket", "_socket", "udp", "ctypes_connect", "reload", "connect_ex_base"}:
        assert verdicts[name][1] == "ENETUNREACH", (name, verdicts[name])


@pytest.fixture
def namespace_guard(request):
    kind, description = request.config.stash[GUARD]
    if kind != "namespace":
        pytest.skip(f"the namespace guard is not active in this run ({description})")
    assert netns.isolated() and netns.interfaces() == ["lo"]


@pytest.fixture
def probe_file(tmp_path) -> Path:
    path = tmp_path / "probe.py"
    path.write_text(PROBE)
    return path


# ----------------------------------------------------------------------------- the floor
@pytest.mark.parametrize("flag", ["-I", "-E", "-S"])
def test_python_child_without_the_sandbox_finds_no_route(namespace_guard, probe_file, flag):
    """A child that skips ``sitecustomize`` runs with no sandbox at all: only the namespace stops it
    (and the sandbox records the child against this test, which ``expect_blocked`` collects)."""
    with sandbox.expect_blocked() as seen:
        verdicts = _probe([sys.executable, flag, str(probe_file)], ["sandboxed", *KERNEL_PROBES])
    assert verdicts.pop("sandboxed") == ["reached", "False"], "the child loaded the sandbox after all"
    _assert_no_way_out(verdicts)
    assert [a["what"] for a in seen] == ["python child whose flags (-I/-E/-S) skip the sandbox"]


def test_env_i_through_a_shell_finds_no_route(namespace_guard, probe_file):
    """``env -i`` inside a shell command: the sandbox cannot see it, the namespace still holds."""
    script = 'exec env -i "$0" "$1" sandboxed socket udp getaddrinfo ctypes_connect'
    with sandbox.expect_blocked() as seen:
        out = subprocess.run(
            ["sh", "-c", script, sys.executable, str(probe_file)], capture_output=True, text=True, timeout=120
        )
    assert out.returncode == 0, out.stderr[-2000:]
    verdicts = _verdicts(out.stdout)
    assert verdicts.pop("sandboxed") == ["reached", "False"]
    _assert_no_way_out(verdicts)
    assert seen == [], "the sandbox cannot see into a shell command; only the namespace covers this"


def test_posix_spawn_with_an_empty_environment_finds_no_route(namespace_guard, probe_file, tmp_path):
    out = tmp_path / "spawned.json"
    names = ["sandboxed", "socket", "udp", "getaddrinfo", "ctypes_connect"]
    with sandbox.expect_blocked() as seen:
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, str(probe_file), *names],
            {},
            file_actions=[(os.POSIX_SPAWN_OPEN, 1, str(out), os.O_WRONLY | os.O_CREAT, 0o600)],
        )
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    verdicts = _verdicts(out.read_text())
    assert verdicts.pop("sandboxed") == ["reached", "False"]
    _assert_no_way_out(verdicts)
    assert [a["what"] for a in seen] == ["python child with an env that drops the sandbox (use fakes.child_env)"]


@pytest.mark.parametrize(
    "url, exit_code",
    [("http://example.invalid/", 6), ("http://192.0.2.1:9/", 7)],  # 6: could not resolve; 7: could not connect
    ids=["name", "address"],
)
def test_curl_finds_no_route(namespace_guard, url, exit_code):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    out = subprocess.run(
        [curl, "-sS", "--noproxy", "*", "--max-time", "20", url], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == exit_code, out.stderr


def test_the_namespace_cannot_be_left(namespace_guard):
    """The user namespace: even a root process cannot join the host's network namespace again."""
    try:
        shared = os.readlink("/proc/1/ns/net") == os.readlink("/proc/self/ns/net")
    except PermissionError:  # what the user namespace makes of the host's pid 1
        shared = False
    if shared:
        pytest.skip("pid 1 runs in this namespace too (the run was started inside one)")
    with pytest.raises(PermissionError):
        fd = os.open("/proc/1/ns/net", os.O_RDONLY)
        try:
            os.setns(fd, os.CLONE_NEWNET) if hasattr(os, "setns") else _libc_setns(fd)
        finally:
            os.close(fd)
    assert netns.interfaces() == ["lo"]


def _libc_setns(fd: int) -> None:  # os.setns is Python 3.12+
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, netns.CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


# ----------------------------------------------------------------------------- the control
ROUTED_SETUP = (
    "ip link set lo up && ip link add islp0 type veth peer name islp1 && "
    "ip addr add 198.51.100.2/24 dev islp0 && ip link set islp0 up && ip link set islp1 up && "
    "ip route add default via 198.51.100.1"
)


@pytest.fixture(scope="module")
def routed():
    """A command prefix that runs a command in a fresh namespace with a route out: a veth pair whose
    far end answers nobody (TEST-NET-2 addresses), so what is sent there never leaves the machine."""
    prefix = ["unshare", "-rn", "sh", "-c", ROUTED_SETUP + ' && exec "$@"', "routed"]
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare and ip (util-linux, iproute2)")
    out = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        pytest.skip(f"cannot make a routed test namespace here: {out.stderr.strip()[-300:]}")
    return prefix


def test_without_the_namespace_the_same_probes_get_through(routed, probe_file):
    """The broken variant: where a route exists, the probes reach the network stack, so their
    failure under the guard is the guard's doing."""
    names = ["interfaces", "socket", "_socket", "connect_ex_base", "udp", "ctypes_connect", "reload", "af_packet"]
    with sandbox.expect_blocked():  # -I: this child is meant to run without the sandbox
        verdicts = _probe([*routed, sys.executable, "-I", str(probe_file)], names)
    assert verdicts.pop("interfaces") == ["reached", repr(["islp0", "islp1", "lo"])]
    if verdicts["af_packet"][0] == "not permitted":
        verdicts.pop("af_packet")
    assert {name: verdict for name, (verdict, _) in verdicts.items()} == dict.fromkeys(verdicts, "reached"), verdicts
    assert verdicts["socket"][1] == "EINPROGRESS" and verdicts["udp"][1].startswith("'sent")


INNER_TEST = textwrap.dedent("""
    import json, os, subprocess, sys
    from islp_ch10.testing import sandbox

    def test_escape(request):
        with sandbox.expect_blocked():
            out = subprocess.run([sys.executable, "-I", os.environ["PROBE_FILE"], "interfaces", "udp", "socket"],
                                 capture_output=True, text=True, check=True)
        print("VERDICTS", out.stdout.strip().splitlines()[-1])
""")


def _inner_run(routed, pytester, probe_file, *args, conftest=None) -> tuple[list[str], dict]:
    pytester.makepyfile(test_inner=INNER_TEST)
    if conftest is not None:
        pytester.makeconftest(conftest)
    argv = [sys.executable, "-m", "pytest", *fakes.INNER_RUN_ARGS, "-s", *args]
    out = subprocess.run(
        [*routed, *argv],
        cwd=pytester.path,
        # the inner run's mode comes from its own arguments, not from the outer run's setting
        # (.ci/run sets ISLP_CH10_NETWORK_GUARD=namespace)
        env={**{k: v for k, v in os.environ.items() if k != "ISLP_CH10_NETWORK_GUARD"}, "PROBE_FILE": str(probe_file)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    header = [line for line in out.stdout.splitlines() if line.startswith("islp-ch10 network guard:")]
    verdicts = [line for line in out.stdout.splitlines() if "VERDICTS" in line]
    return header, json.loads(verdicts[0].split("VERDICTS", 1)[1])


def test_a_run_started_with_a_route_enters_the_namespace(routed, pytester, probe_file):
    header, verdicts = _inner_run(routed, pytester, probe_file, "-p", "islp_ch10.testing.plugin_guard")
    assert header == [
        "islp-ch10 network guard: network namespace (unshare: user + net, only lo) + pytest-socket sandbox"
    ]
    assert verdicts == {
        "interfaces": ["reached", "['lo']"],
        "udp": ["unreachable", "ENETUNREACH"],
        "socket": ["unreachable", "ENETUNREACH"],
    }


@pytest.mark.parametrize("why", ["switch", "threads"])
def test_a_run_without_the_namespace_says_so_and_escapes_get_through(routed, pytester, probe_file, why):
    """The fallback, on purpose (``--network-guard=sandbox``) or because the system refuses (a
    thread already running when the plugin loads): the header says which, and the same ``-I``
    child now reaches the network stack."""
    if why == "switch":
        args, conftest = ["-p", "islp_ch10.testing.plugin_guard", "--network-guard=sandbox"], None
        reason = "--network-guard=sandbox"
    else:
        args, reason = [], "the process already runs 2 threads, and unshare(CLONE_NEWUSER) needs one"
        conftest = textwrap.dedent("""
            import threading
            threading.Thread(target=threading.Event().wait, daemon=True).start()
            pytest_plugins = ["islp_ch10.testing.plugin_guard"]
        """)
    header, verdicts = _inner_run(routed, pytester, probe_file, *args, conftest=conftest)
    assert header == [f"islp-ch10 network guard: pytest-socket fallback: {reason}"]
    assert verdicts["interfaces"] == ["reached", "['islp0', 'islp1', 'lo']"]
    assert verdicts["udp"][0] == verdicts["socket"][0] == "reached", verdicts


def test_namespace_mode_refuses_to_run_without_one(routed, pytester, probe_file):
    pytester.makepyfile(test_inner="def test_nothing():\n    pass\n")
    pytester.makeconftest(
        "import threading\nthreading.Thread(target=threading.Event().wait, daemon=True).start()\n"
        'pytest_plugins = ["islp_ch10.testing.plugin_guard"]\n'
    )
    out = subprocess.run(
        [*routed, sys.executable, "-m", "pytest", *fakes.INNER_RUN_ARGS, "--network-guard=namespace"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == pytest.ExitCode.USAGE_ERROR, out.stdout[-2000:] + out.stderr[-2000:]
    assert "--network-guard=namespace: no network namespace: the process already runs 2 threads" in out.stderr


# ----------------------------------------------------------------------------- the in-process layer
IN_PROCESS = {
    "_socket.socket": lambda: _socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(TARGET),
    "SocketType": lambda: socket.SocketType.connect(socket.socket(), TARGET),
    "base connect_ex": lambda: _socket.socket.connect_ex(socket.socket(), TARGET),
    "base sendto": lambda: socket.SocketType.sendto(socket.socket(type=socket.SOCK_DGRAM), b"x", TARGET),
    "_socket.getaddrinfo": lambda: _socket.getaddrinfo("example.invalid", 80),
    "_socket.gethostbyname": lambda: _socket.gethostbyname("example.invalid"),
    "ctypes connect": lambda: ctypes.CDLL(None).connect,
    "ctypes syscall": lambda: ctypes.CDLL(None).syscall,
    "ctypes dlsym": lambda: ctypes.CDLL(None).dlsym,
    "AF_PACKET": lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW),
}


@pytest.mark.parametrize("attempt", IN_PROCESS.values(), ids=IN_PROCESS.keys())
def test_in_process_paths_around_the_patches_are_blocked(attempt):
    with sandbox.expect_blocked() as seen, pytest.raises(BLOCKED):
        attempt()
    assert len(seen) == 1


@pytest.fixture
def reloadable_socket():
    """``importlib.reload(socket)`` makes new classes; the module is put back as it was afterwards,
    so the rest of the run keeps one ``socket.socket``."""
    saved = dict(vars(socket))
    yield
    vars(socket).clear()
    vars(socket).update(saved)


def test_reloading_socket_does_not_disarm_the_sandbox(reloadable_socket):
    """``importlib.reload(socket)`` re-executes the module over the patches: the audit layer still
    blocks, and the plugin re-applies the patches (``rearm``, after every test phase)."""
    with sandbox.expect_blocked() as seen:
        importlib.reload(socket)
        assert not sandbox.armed()
        with pytest.raises(BLOCKED):
            socket.socket().connect(TARGET)
        with pytest.raises(BLOCKED):
            socket.getaddrinfo("example.invalid", 80)
        assert sandbox.rearm() and sandbox.armed()
        with pytest.raises(BLOCKED):
            socket.getaddrinfo("example.invalid", 80)
    assert [a["what"] for a in seen] == ["connect (audit)", "getaddrinfo (audit)", "getaddrinfo"]


def test_the_broken_variant_reload_without_the_audit_layer_is_not_blocked(reloadable_socket, monkeypatch):
    """With the audit layer off, a reloaded module's resolver reaches the real one: the audit layer
    is what catches it (the real resolver is a tripwire here, so nothing is looked up)."""
    reached: list[str] = []
    monkeypatch.setattr(_socket, "getaddrinfo", lambda *a, **k: reached.append(a[0]) or [])
    monkeypatch.setitem(sandbox.state(), "armed", False)
    with sandbox.expect_blocked() as seen:
        importlib.reload(socket)
        socket.getaddrinfo("example.invalid", 80)
    assert reached == ["example.invalid"] and seen == []


def test_deleting_the_log_variable_does_not_silence_the_record(monkeypatch):
    folder = os.environ[sandbox.ENV_LOG]
    with sandbox.expect_blocked() as seen:
        monkeypatch.delenv(sandbox.ENV_LOG)
        with pytest.raises(BLOCKED):
            socket.getaddrinfo("example.invalid", 80)
        subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=60)  # a child with nowhere to record
        monkeypatch.setenv(sandbox.ENV_LOG, folder)
    assert [a["what"] for a in seen] == [
        "getaddrinfo",
        "python child with an env that drops the sandbox (use fakes.child_env)",
    ]


@pytest.mark.parametrize(
    "argv",
    [
        [sys.executable, "-I", "-c", "pass"],
        [sys.executable, "-E", "-c", "pass"],
        [sys.executable, "-S", "-c", "pass"],
        [sys.executable, "-bIc", "pass"],
        ["env", "-i", sys.executable, "-c", "pass"],
        ["env", "-u", "PYTHONPATH", sys.executable, "-c", "pass"],
    ],
    ids=["-I", "-E", "-S", "-bIc", "env -i", "env -u"],
)
def test_children_that_cannot_carry_the_sandbox_are_recorded(argv):
    with sandbox.expect_blocked() as seen:
        subprocess.run(argv, check=True, timeout=60)
    assert len(seen) == 1 and "sandbox" in seen[0]["what"]


@pytest.mark.parametrize(
    "argv",
    [
        [sys.executable, "-X", "utf8", "-c", "pass"],
        [sys.executable, "-W", "error", "-c", "pass"],
        [sys.executable, "-c", "pass", "-I"],  # an argument of the script, not an interpreter flag
        ["true", "-I"],
    ],
    ids=["-X utf8", "-W error", "-I after -c", "not python"],
)
def test_children_that_carry_the_sandbox_are_not_recorded(argv):
    with sandbox.expect_blocked() as seen:
        subprocess.run(argv, check=True, timeout=60)
    assert seen == []


def test_posix_spawn_with_its_own_env_is_recorded():
    with sandbox.expect_blocked() as seen:
        pid = os.posix_spawn(sys.executable, [sys.executable, "-c", "pass"], {})
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert [a["what"] for a in seen] == ["python child with an env that drops the sandbox (use fakes.child_env)"]


def test_unshare_refuses_a_multithreaded_process():
    """``netns.enter`` checks before it acts: with a second thread it changes nothing and says why."""
    code = textwrap.dedent("""
        import json, threading
        from islp_ch10.testing import netns
        threading.Thread(target=threading.Event().wait, daemon=True).start()
        before = netns.interfaces()
        print(json.dumps([netns.enter(), before == netns.interfaces()]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    why, unchanged = _verdicts(out.stdout)
    assert why == "the process already runs 2 threads, and unshare(CLONE_NEWUSER) needs one" and unchanged
