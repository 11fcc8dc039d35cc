"""Reliability: offline, reproducible, parallel-safe.  (Data integrity faults: test_data_integrity.py;
the network guard and the suite's plugin: test_plugin.py.)"""

from __future__ import annotations

import socket

import pytest
import torch

from islp_ch10.training import TrainConfig, fit


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
    dirs = {fit(net, (x, y), (x, y), TrainConfig(task="regression", epochs=1, batch_size=32)).log_dir for _ in range(2)}
    assert dirs == {None}


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.claim("10.9/determinism")
def test_determinism_full_lab_model(hitters, tmp_path):
    """The lab's Hitters network, 50 epochs in the book's configuration, twice: bit-identical."""
    from islp_ch10.models import HittersNet

    t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    train, test = (t(hitters.X_train), t(hitters.Y_train)), (t(hitters.X_test), t(hitters.Y_test))
    runs = [
        fit(
            lambda: HittersNet(19),
            train,
            test,
            TrainConfig(task="regression", epochs=50, batch_size=32, validation="test", log_dir=str(tmp_path / str(i))),
        )
        for i in range(2)
    ]
    a, b = (r.model.state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert runs[0].test == runs[1].test and runs[0].history == runs[1].history
