"""The test suite's network sandbox: loopback only, in the test process and in its Python children.

Standard library only at import time, so that a child interpreter can load this file by path
(``childsite/sitecustomize.py``) without importing the ``islp_ch10`` package.

What is blocked (anything whose host is not loopback):

* ``socket.socket.connect``: pytest-socket's ``socket_allow_hosts`` with :data:`ALLOWED`
  (loopback networks plus the name ``localhost``); AF_UNIX sockets pass;
* ``connect_ex``, ``sendto`` and ``sendmsg`` with a destination (UDP), which pytest-socket leaves
  open;
* name resolution: ``getaddrinfo``, ``gethostbyname(_ex)``, ``gethostbyaddr`` and ``getnameinfo``
  for anything but ``localhost``, a loopback address, or the empty/unspecified host of a bind.

Loopback is decided by :mod:`ipaddress` (``127.0.0.0/8``, ``::1``), never by a string prefix:
``localhost.example.com`` and ``127.0.0.1.nip.io`` are names to resolve, and blocked.

Every blocked attempt raises pytest-socket's ``SocketBlockedError`` or
``SocketConnectBlockedError`` (both ``RuntimeError``, so an ``except OSError`` does not swallow
them) and is also written, one JSON line, to a file in the folder named by :data:`ENV_LOG`.
The pytest plugin (``plugin_guard``) reads that folder after every test phase and fails the test
that made the attempt, even when the test caught the exception, and even when the attempt came
from a child process.  The folder is read once, when the sandbox is installed: a test that
deletes or changes the variable afterwards does not silence the record.

Under the Python-level patches an audit hook (:func:`sys.addaudithook`: it cannot be removed)
applies the same rules to the C socket module's own audit events, so the paths around the
patches are blocked too: ``_socket.socket`` and ``socket.SocketType`` used directly, the base
class's ``connect``/``connect_ex``/``sendto``/``sendmsg``, ``_socket.getaddrinfo`` and the other
resolver functions, a socket module re-executed by ``importlib.reload`` (the patches are also
re-applied by :func:`rearm`), ``AF_PACKET`` sockets (refused at creation) and ctypes look-ups of
libc's network functions (``connect``, ``sendto``, ``getaddrinfo``, ``syscall`` ...).  The same
hook records a Python child that cannot load the sandbox: an environment without the sandbox
variables (``env=``, ``os.posix_spawn``/``os.exec*`` with their own environment, ``env -i``),
or the interpreter flags ``-I``, ``-E`` or ``-S``, which skip ``sitecustomize``.

What no Python code can see (foreign code calling libc directly, a child that is not Python, a
Python child started through a shell) is covered by the network namespace of
:mod:`islp_ch10.testing.netns`, where the system allows one; the README lists these paths.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

ENV_ON = "ISLP_CH10_SANDBOX"  # "1": children install the sandbox at start-up
ENV_LOG = "ISLP_CH10_SANDBOX_LOG"  # folder that receives one <pid>.net file per recording process
ALLOWED = ["127.0.0.0/8", "::1/128", "localhost"]  # pytest-socket's allow list
CHILD_SITE = Path(__file__).resolve().parent / "childsite"  # put on PYTHONPATH for children
BLOCKED_MESSAGE = "the test suite may use loopback only"
_STATE = "_islp_ch10_sandbox"  # attribute on the socket module: shared by every copy of this file
# libc entry points that reach the network; ctypes may not look them up while the sandbox is armed
NET_SYMBOLS = frozenset(
    {
        *("connect", "sendto", "sendmsg", "sendmmsg", "syscall"),
        *("getaddrinfo", "getaddrinfo_a", "getnameinfo", "gethostbyname", "gethostbyname2", "gethostbyaddr"),
        *("gethostbyname_r", "gethostbyname2_r", "gethostbyaddr_r"),
        *("res_query", "res_search", "res_send", "res_nquery", "res_nsearch", "res_nsend"),
        *("__res_query", "__res_search", "__res_send"),
        *("dlsym", "dlvsym", "__libc_dlsym"),  # a look-up that would hand back any of the above
    }
)
_AF_PACKET = getattr(socket, "AF_PACKET", None)


def _text(host):
    return host.decode("ascii", "replace") if isinstance(host, bytes) else host


def is_loopback(host) -> bool:
    """True for ``localhost`` and loopback IP addresses (parsed, scope IDs allowed); else False."""
    host = _text(host)
    if not isinstance(host, str):
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _no_lookup(host) -> bool:
    """Hosts that resolve without asking a resolver: loopback, and the empty/unspecified host."""
    host = _text(host)
    if host is None or host == "":
        return True
    try:
        return is_loopback(host) or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def state() -> dict | None:
    """The installed sandbox (``{"real": {name: original function}}``), or None."""
    return getattr(socket, _STATE, None)


def record(what: str, target) -> None:
    """Append one blocked attempt to ``$ISLP_CH10_SANDBOX_LOG/<pid>.net`` (if the folder is set)."""
    folder = (state() or {}).get("log") or os.environ.get(ENV_LOG)
    if not folder:
        return
    line = json.dumps(
        {"what": what, "target": repr(target), "pid": os.getpid(), "test": os.environ.get("PYTEST_CURRENT_TEST", "")}
    )
    with contextlib.suppress(OSError):
        os.makedirs(folder, exist_ok=True)  # a test that removed the folder does not silence the record
        with open(Path(folder) / f"{os.getpid()}.net", "a") as fh:
            fh.write(line + "\n")


def harvest(folder: str | os.PathLike | None = None) -> list[dict]:
    """Read and remove every attempt recorded so far in ``folder`` (default: ``$ISLP_CH10_SANDBOX_LOG``)."""
    folder = folder or (state() or {}).get("log") or os.environ.get(ENV_LOG)
    if not folder or not Path(folder).is_dir():
        return []
    attempts = []
    for path in sorted(Path(folder).glob("*.net")):
        taken = path.with_suffix(f".taken{os.getpid()}")
        try:
            path.replace(taken)
        except OSError:
            continue
        attempts += [json.loads(line) for line in taken.read_text().splitlines() if line.strip()]
        taken.unlink()
    return attempts


@contextlib.contextmanager
def expect_blocked() -> Iterator[list[dict]]:
    """Within the block, blocked attempts are collected into the yielded list instead of failing
    the test: for tests that probe the sandbox itself."""
    seen: list[dict] = []
    attempts_before = harvest()
    try:
        with warnings.catch_warnings():  # each blocked call also warns; here they are expected
            warnings.filterwarnings("ignore", message=f"({BLOCKED_MESSAGE}|A test tried to use socket)")
            yield seen
    finally:
        seen += harvest()
        for attempt in attempts_before:  # not ours: put them back for the plugin to judge
            record(attempt["what"], attempt["target"])


def _blocked(what: str, target):
    from pytest_socket import SocketBlockedError

    record(what, target)
    return SocketBlockedError(
        f"{BLOCKED_MESSAGE}: {what}({target!r}) was blocked; data comes from "
        "ISLP_CH10_DATA (README 'Data'), and pytest --allow-network lifts the guard"
    )


def _destination_ok(sock, address) -> bool:
    family = getattr(sock, "family", None)
    if family == getattr(socket, "AF_UNIX", None):
        return True
    return isinstance(address, tuple) and bool(address) and is_loopback(address[0])


def _python_flags_skip_site(argv) -> bool:
    """True if a Python command line has ``-I``, ``-E`` or ``-S`` among its interpreter options
    (the options before ``-c``, ``-m``, ``-`` or the script)."""
    args = [os.fsdecode(a) for a in argv[1:]]
    while args:
        arg = args.pop(0)
        if arg.startswith("--"):  # --check-hash-based-pycs takes a value; other long options none
            if arg == "--check-hash-based-pycs" and args:
                args.pop(0)
            continue
        if not arg.startswith("-") or arg == "-":
            return False
        for i, letter in enumerate(arg[1:], start=1):
            if letter in "IES":
                return True
            if letter in "cm":
                return False
            if letter in "XW":  # the value is the rest of this argument, or the next one
                if i == len(arg) - 1 and args:
                    args.pop(0)
                break
    return False


def _unwrap_env(argv, env):
    """``env [-i] [NAME=VALUE ...] PROGRAM ...`` -> (PROGRAM's argv, the environment it gets)."""
    argv = [os.fsdecode(a) for a in argv]
    while argv and os.path.basename(argv[0]) == "env":
        argv = argv[1:]
        while argv and (argv[0].startswith("-") or "=" in argv[0]):
            option = argv.pop(0)
            if option in ("-i", "--ignore-environment", "-"):
                env = {}
            elif "=" in option and not option.startswith("-"):
                env = {**env, option.split("=", 1)[0]: option.split("=", 1)[1]}
            elif option in ("-u", "--unset") and argv:
                unset = argv.pop(0)
                env = {k: v for k, v in env.items() if k != unset}
    return argv, env


def is_python(program) -> bool:
    program = os.fsdecode(program or "")
    return os.path.basename(program).startswith("python") or os.path.realpath(program) == os.path.realpath(
        sys.executable
    )


def check_child(executable, argv, env) -> None:
    """Record a Python child that will not load the sandbox (its environment lacks the sandbox
    variables, or its flags skip ``sitecustomize``).  Other programs cannot load it anyway."""
    argv = [argv] if isinstance(argv, (str, bytes, os.PathLike)) else list(argv or [])
    argv, env = _unwrap_env(argv, dict(os.environ if env is None else env))
    if executable is not None and os.path.basename(os.fsdecode(executable)) != "env":
        argv = [os.fsdecode(executable), *argv[1:]]
    if not argv or not is_python(argv[0]):
        return
    log = (state() or {}).get("log")
    path = str(env.get("PYTHONPATH", "")).split(os.pathsep)
    if env.get(ENV_ON) != "1" or str(CHILD_SITE) not in path or (log and env.get(ENV_LOG) != log):
        record("python child with an env that drops the sandbox (use fakes.child_env)", argv[:3])
    elif _python_flags_skip_site(argv):
        record("python child whose flags (-I/-E/-S) skip the sandbox", argv[:3])


_POPEN = threading.local()  # the argv of the subprocess.Popen this thread is starting


def _audit(sandbox: dict, event: str, args: tuple) -> None:
    """The audit-hook layer (see the module docstring); a no-op while the sandbox is disarmed."""
    if not sandbox.get("armed"):
        return
    if event.startswith("socket."):
        if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
            sock, address = args
            if (event != "socket.sendmsg" or address is not None) and not _destination_ok(sock, address):
                raise _blocked(f"{event.split('.')[1]} (audit)", address)
        elif event == "socket.__new__" and _AF_PACKET is not None and args[1] == _AF_PACKET:
            raise _blocked("socket (audit)", "AF_PACKET")
        elif event == "socket.bind" and getattr(args[0], "family", None) == _AF_PACKET:
            raise _blocked("bind (audit)", args[1])
        elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"):
            if not _no_lookup(args[0]):
                raise _blocked(f"{event.split('.')[1]} (audit)", args[0])
        elif event == "socket.getnameinfo" and not _no_lookup(
            args[0][0] if isinstance(args[0], tuple) and args[0] else None
        ):
            raise _blocked("getnameinfo (audit)", args[0])
    elif event == "ctypes.dlsym":
        name = args[1]
        if isinstance(name, str) and name in NET_SYMBOLS:
            raise _blocked("ctypes look-up", name)
    elif event in ("subprocess.Popen", "os.posix_spawn", "os.exec"):
        # an odd argument must not break the start of a child: it is then just not checked
        with contextlib.suppress(TypeError, ValueError, IndexError, KeyError, AttributeError):
            argv = tuple(map(str, args[1])) if isinstance(args[1], (list, tuple)) else (str(args[1]),)
            if event == "subprocess.Popen":
                _POPEN.argv = argv  # Python >= 3.13 may start it through os.posix_spawn: one child, one check
                check_child(args[0], args[1], args[3])
            elif getattr(_POPEN, "argv", None) == argv:
                _POPEN.argv = None
            else:
                check_child(None, args[1], args[2])


def _patch(real: dict) -> dict:
    """Apply the Python-level patches to the ``socket`` module as it is now; return them."""
    from pytest_socket import SocketConnectBlockedError, socket_allow_hosts

    socket_allow_hosts(ALLOWED, allow_unix_socket=True)  # replaces socket.socket.connect
    library_connect = socket.socket.connect

    def connect(sock, *args):
        try:
            return library_connect(sock, *args)
        except SocketConnectBlockedError:
            record("connect", args[0] if args else None)
            raise

    def connect_ex(sock, address):
        if not _destination_ok(sock, address):
            raise _blocked("connect_ex", address)
        return real["connect_ex"](sock, address)

    def sendto(sock, data, *args):
        address = args[-1] if args else None
        if not _destination_ok(sock, address):
            raise _blocked("sendto", address)
        return real["sendto"](sock, data, *args)

    def sendmsg(sock, buffers, *args):
        address = args[2] if len(args) > 2 else None
        if address is not None and not _destination_ok(sock, address):
            raise _blocked("sendmsg", address)
        return real["sendmsg"](sock, buffers, *args)

    def resolver(name, host_of):
        def lookup(*args, **kwargs):
            host = host_of(args, kwargs)
            if not _no_lookup(host):
                raise _blocked(name, host)
            return real[name](*args, **kwargs)

        lookup.__name__ = name
        return lookup

    first = lambda args, kwargs, key: args[0] if args else kwargs.get(key)  # noqa: E731
    patches = {"getaddrinfo": resolver("getaddrinfo", lambda a, k: first(a, k, "host"))}
    for name in ("gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        patches[name] = resolver(name, lambda a, k: a[0] if a else None)
    patches["getnameinfo"] = resolver("getnameinfo", lambda a, k: a[0][0] if a and a[0] else None)
    for name, function in patches.items():
        setattr(socket, name, function)
    # Patched on the class so every socket, made before or after, goes through the guard (setattr:
    # mypy rejects assigning to a method, which is the point here).
    methods = {"connect": connect, "connect_ex": connect_ex, "sendto": sendto, "sendmsg": sendmsg}
    for name, method in methods.items():
        setattr(socket.socket, name, method)
    return {"class": socket.socket, "getaddrinfo": socket.getaddrinfo}


def armed() -> bool:
    """True while the Python-level patches are in place on the current ``socket`` module."""
    sandbox = state()
    return bool(
        sandbox
        and sandbox.get("armed")
        and socket.getaddrinfo is sandbox["patched"]["getaddrinfo"]
        and socket.socket is sandbox["patched"]["class"]
        and "connect_ex" in vars(socket.socket)
    )


def rearm() -> bool:
    """Re-apply the Python-level patches if code under test undid them (``importlib.reload(socket)``
    re-executes the module over them).  True if they had to be re-applied."""
    sandbox = state()
    if sandbox is None or not sandbox.get("armed") or armed():
        return False
    sandbox["patched"] = _patch(sandbox["real"])
    return True


def disarm() -> None:
    """Turn the audit layer off (the hook itself stays: audit hooks cannot be removed)."""
    sandbox = state()
    if sandbox is not None:
        sandbox["armed"] = False


def install(log: str | os.PathLike | None = None) -> None:
    """Install the sandbox in this process (idempotent, also across copies of this module).  Blocked
    attempts are recorded in ``log`` (default: ``$ISLP_CH10_SANDBOX_LOG`` now); a later call with a
    ``log`` (a pytest run inside a process that already had the sandbox) moves the record there."""
    if state() is not None:
        if log is not None:
            state()["log"] = os.fspath(log)
        return
    real = {
        name: getattr(socket, name)
        for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo")
    }
    real.update(connect_ex=socket.socket.connect_ex, sendto=socket.socket.sendto, sendmsg=socket.socket.sendmsg)
    log = os.fspath(log) if log is not None else os.environ.get(ENV_LOG)
    sandbox = {"real": real, "log": log, "armed": True}
    setattr(socket, _STATE, sandbox)
    sandbox["patched"] = _patch(real)
    sys.addaudithook(lambda event, args: _audit(sandbox, event, args))
