"""Reliability: offline, reproducible, parallel-safe.  (Data integrity faults: test_data_integrity.py.)"""

from __future__ import annotations

import socket

import pytest
import torch

import conftest
from islp_ch10.training import TrainConfig, fit


@pytest.fixture
def tripwire(monkeypatch):
    """Replace the real connect behind the guard: if the guard let a call through, we would know,
    and no packet would leave the machine either way."""
    reached = []

    def fake(self, address):
        reached.append(address)
        return 0

    monkeypatch.setattr(socket.socket, "_islp_real_connect", fake)
    monkeypatch.setattr(socket.socket, "_islp_real_connect_ex", fake)
    monkeypatch.setattr(conftest, "NETWORK_ATTEMPTS", [])
    return reached


def test_network_guard_is_installed():
    assert getattr(socket.socket, "_islp_guarded", False), "conftest did not install the socket guard"


@pytest.mark.parametrize("address", [("93.184.216.34", 443), ("2606:2800:220:1::", 80, 0, 0), ("pypi.org", 443)])
def test_network_guard_blocks_non_loopback(tripwire, address):
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        with pytest.raises(conftest.NetworkBlocked, match="must not use the network"):
            s.connect(address)
        with pytest.raises(conftest.NetworkBlocked):
            s.connect_ex(address)
    assert tripwire == [], "the guard passed a non-loopback connect to the real socket"
    conftest.NETWORK_ATTEMPTS.clear()  # recorded attempts would fail the session: these were ours


@pytest.mark.parametrize("address", [("127.0.0.1", 9), ("localhost", 9), ("::1", 9, 0, 0)])
def test_network_guard_lets_loopback_through(tripwire, address):
    family = socket.AF_INET6 if address[0] == "::1" else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.connect(address)
    assert tripwire == [address]


def test_loopback_really_connects():
    """DDP's gloo rendezvous needs real loopback sockets: a listener on 127.0.0.1 is reachable."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5) as client:
            conn, _ = server.accept()
            client.sendall(b"ping")
            assert conn.recv(4) == b"ping"
            conn.close()


def test_unnamed_fits_write_no_log_folder():
    """Parallel workers never share a log folder: a fit without log_dir writes none (its scratch
    folder is private and removed; tests/test_fast_path.py checks nothing is left)."""
    x, y = torch.randn(64, 4), torch.randn(64)
    net = lambda: torch.nn.Sequential(torch.nn.Linear(4, 1), torch.nn.Flatten(0))  # noqa: E731
    dirs = {fit(net, (x, y), (x, y), TrainConfig(task="regression", epochs=1, batch_size=32)).log_dir
            for _ in range(2)}
    assert dirs == {None}


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.claim("10.9/determinism")
def test_determinism_full_lab_model(hitters, tmp_path):
    """The lab's Hitters network, 50 epochs in the book's configuration, twice: bit-identical."""
    from islp_ch10.models import HittersNet

    t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    train, test = (t(hitters.X_train), t(hitters.Y_train)), (t(hitters.X_test), t(hitters.Y_test))
    runs = [fit(lambda: HittersNet(19), train, test,
                TrainConfig(task="regression", epochs=50, batch_size=32, validation="test",
                            log_dir=str(tmp_path / str(i))))
            for i in range(2)]
    a, b = (r.model.state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert runs[0].test == runs[1].test and runs[0].history == runs[1].history
