"""The test run's network floor: an empty network namespace with loopback up (Linux).

:func:`enter` moves the calling process into a new user namespace and a new network namespace
(``unshare(CLONE_NEWUSER | CLONE_NEWNET)``, what ``unshare -rn`` does), brings ``lo`` up, and
checks that ``lo`` is the only interface left.  Everything the process starts afterwards
(xdist workers, any child in any language, with any environment or interpreter flags) inherits
the namespace; every socket, whatever the path to the kernel (``_socket``, ctypes, ``AF_PACKET``,
``curl``), sees loopback and nothing else.  The user namespace is what makes the floor permanent:
capabilities held inside it do not reach the host's namespaces, so ``setns`` back to the host's
network, or moving an interface in, fails even for a root process.

Root keeps its identity: a helper forked before the ``unshare`` (still holding ``CAP_SETUID`` in
the parent namespace) maps every user and group ID to itself, so file access is as before.  An
unprivileged user is mapped to its own ID, and the process drops the capabilities the new
namespace gave it once ``lo`` is up, so its own files stay as (in)accessible as before.

Standard library only; nothing here is imported by the code under test.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import socket
import struct
import sys

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_FULL_RANGE = 4294967295


def interfaces() -> list[str]:
    """The names of the network interfaces this process sees."""
    return sorted(name for _, name in socket.if_nameindex())


def _lo_flags(sock, flags: int | None = None) -> int:
    request = struct.pack("16sH22x", b"lo", flags or 0)
    reply = fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS if flags is None else _SIOCSIFFLAGS, request)
    return struct.unpack("16sH22x", reply)[1]


def loopback_up() -> bool:
    """Bring ``lo`` up if it is down (needs ``CAP_NET_ADMIN`` over this namespace); True if it is up."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        flags = _lo_flags(sock)
        if not flags & _IFF_UP:
            with contextlib.suppress(OSError):
                _lo_flags(sock, flags | _IFF_UP)
            flags = _lo_flags(sock)
    return bool(flags & _IFF_UP)


def isolated() -> bool:
    """True when ``lo`` is the only interface and it is up: an empty namespace (ours, inherited,
    or one the run was started in with ``unshare -rn``)."""
    try:
        return interfaces() == ["lo"] and loopback_up()
    except OSError:
        return False


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _drop_capabilities(libc) -> None:
    """``capset`` with empty sets: the unprivileged process keeps no capability in its namespace."""
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def _map_helper(target: int):
    """Fork a child that, once told, maps every ID of ``target``'s new user namespace to itself.
    Returns ``(write end of the go pipe, child pid)``; the child exits 0 on success."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the forked helper
        status = 1
        try:
            os.close(w)
            if os.read(r, 1) == b"1":
                for kind in ("uid_map", "gid_map"):
                    _write(f"/proc/{target}/{kind}", f"0 0 {_FULL_RANGE}\n")
                status = 0
        finally:
            os._exit(status)
    os.close(r)
    return w, pid


def enter() -> str | None:
    """Enter a new user + network namespace with ``lo`` up.  None on success, else why not
    (nothing changed, or, if the namespace was made but is unusable, the reason to report)."""
    if not sys.platform.startswith("linux"):
        return f"network namespaces are Linux-only (this is {sys.platform})"
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError as exc:
        return f"cannot read /proc/self/task ({exc.strerror})"
    if threads > 1:
        return f"the process already runs {threads} threads, and unshare(CLONE_NEWUSER) needs one"
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.geteuid(), os.getegid()
    go, helper = _map_helper(os.getpid()) if uid == 0 else (None, None)
    flags = CLONE_NEWUSER | CLONE_NEWNET
    failed = libc.unshare(flags) != 0
    code = ctypes.get_errno()
    if helper is not None:
        os.write(go, b"0" if failed else b"1")
        os.close(go)
        mapped = os.waitpid(helper, 0)[1] == 0
    else:
        mapped = False
    if failed:
        return f"unshare(CLONE_NEWUSER|CLONE_NEWNET) failed: {errno.errorcode.get(code, code)} ({os.strerror(code)})"
    try:
        if not mapped:  # unprivileged (or the helper failed): map this process's own IDs only
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
            _write("/proc/self/gid_map", f"{gid} {gid} 1\n")
        if not loopback_up():
            return "entered a network namespace but could not bring lo up"
        if uid != 0:
            _drop_capabilities(libc)
    except OSError as exc:
        return f"entered a network namespace but could not set it up: {exc}"
    seen = interfaces()
    if seen != ["lo"]:
        return f"the new network namespace shows {seen}, not just lo"
    return None
