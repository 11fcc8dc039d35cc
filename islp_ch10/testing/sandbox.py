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
from a child process.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

ENV_ON = "ISLP_CH10_SANDBOX"  # "1": children install the sandbox at start-up
ENV_LOG = "ISLP_CH10_SANDBOX_LOG"  # folder that receives one <pid>.net file per recording process
ALLOWED = ["127.0.0.0/8", "::1/128", "localhost"]  # pytest-socket's allow list
CHILD_SITE = Path(__file__).resolve().parent / "childsite"  # put on PYTHONPATH for children
BLOCKED_MESSAGE = "the test suite may use loopback only"
_STATE = "_islp_ch10_sandbox"  # attribute on the socket module: shared by every copy of this file


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
    folder = os.environ.get(ENV_LOG)
    if not folder:
        return
    line = json.dumps(
        {"what": what, "target": repr(target), "pid": os.getpid(), "test": os.environ.get("PYTEST_CURRENT_TEST", "")}
    )
    with contextlib.suppress(OSError), open(Path(folder) / f"{os.getpid()}.net", "a") as fh:
        fh.write(line + "\n")


def harvest(folder: str | os.PathLike | None = None) -> list[dict]:
    """Read and remove every attempt recorded so far in ``folder`` (default: ``$ISLP_CH10_SANDBOX_LOG``)."""
    folder = folder or os.environ.get(ENV_LOG)
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


def install() -> None:
    """Install the sandbox in this process (idempotent, also across copies of this module)."""
    if state() is not None:
        return
    from pytest_socket import SocketConnectBlockedError, socket_allow_hosts

    real = {
        name: getattr(socket, name)
        for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo")
    }
    real.update(connect_ex=socket.socket.connect_ex, sendto=socket.socket.sendto, sendmsg=socket.socket.sendmsg)
    setattr(socket, _STATE, {"real": real})

    socket_allow_hosts(ALLOWED, allow_unix_socket=True)  # replaces socket.socket.connect
    library_connect = socket.socket.connect

    def connect(sock, *args):
        try:
            return library_connect(sock, *args)
        except SocketConnectBlockedError:
            record("connect", args[0] if args else None)
            raise

    def destination_ok(sock, address) -> bool:
        return sock.family == getattr(socket, "AF_UNIX", None) or (
            isinstance(address, tuple) and is_loopback(address[0])
        )

    def connect_ex(sock, address):
        if not destination_ok(sock, address):
            raise _blocked("connect_ex", address)
        return real["connect_ex"](sock, address)

    def sendto(sock, data, *args):
        address = args[-1] if args else None
        if not destination_ok(sock, address):
            raise _blocked("sendto", address)
        return real["sendto"](sock, data, *args)

    def sendmsg(sock, buffers, *args):
        address = args[2] if len(args) > 2 else None
        if address is not None and not destination_ok(sock, address):
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
    socket.getaddrinfo = resolver("getaddrinfo", lambda a, k: first(a, k, "host"))
    for name in ("gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        setattr(socket, name, resolver(name, lambda a, k: a[0] if a else None))
    socket.getnameinfo = resolver("getnameinfo", lambda a, k: a[0][0] if a and a[0] else None)
    # Patched on the class so every socket, made before or after, goes through the guard (setattr:
    # mypy rejects assigning to a method, which is the point here).
    patches = {"connect": connect, "connect_ex": connect_ex, "sendto": sendto, "sendmsg": sendmsg}
    for name, method in patches.items():
        setattr(socket.socket, name, method)
