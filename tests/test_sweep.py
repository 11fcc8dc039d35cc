"""``islp-ch10 sweep``: artifact naming, the merge, resuming, and two sweeps racing for one folder.

The experiments here are fakes registered for one test (as in tests/test_cli_faults.py): each
measures ``100 + seed`` at once, so no test trains a model.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import MappingProxyType

import pytest

from islp_ch10 import cli, errors, experiments, machine, outdir, sweep

CLAIM = "10.9/hitters-mae"


def fake(calls: list | None = None, action=None):
    def experiment(settings):
        if calls is not None:
            calls.append(settings.seed)
        if action is not None:
            action(settings.seed)
        return [experiments.Measurement(CLAIM, "mae", 100.0 + settings.seed, run=settings, part="network")]

    experiment.__doc__ = "fake sweep experiment"
    return experiment


@pytest.fixture
def register(monkeypatch, tmp_path):
    """Add fakes to the experiment registry; one thread, a private cache."""
    import torch

    monkeypatch.setenv("ISLP_CH10_THREADS", "1")
    monkeypatch.setenv("ISLP_CH10_CACHE", str(tmp_path / "cache"))
    threads = torch.get_num_threads()

    def add(**fakes):
        extended = {**experiments.EXPERIMENTS, **{n: experiments.Experiment(fn) for n, fn in fakes.items()}}
        monkeypatch.setattr(experiments, "EXPERIMENTS", MappingProxyType(extended))

    yield add
    torch.set_num_threads(threads)


def sweep_cli(out: Path, *argv: str) -> int:
    return cli.main(["sweep", *argv, "--out", str(out)])


def seeds_in(path: Path) -> list[int]:
    return [r["seed"] for r in json.loads(path.read_text())["runs"]]


def artifact(out: Path, name: str = "fake-s") -> Path:
    return sweep.artifact_path(name, 1, out)


# ----------------------------------------------------------------------------- naming
@pytest.mark.parametrize(
    "name, tag",
    [
        ("AMD EPYC 7B13 64-Core Processor", "amd-epyc-7b13"),
        ("Intel(R) Xeon(R) CPU @ 2.20GHz", "intel-r-xeon-r"),
        ("NVIDIA H100 80GB HBM3", "nvidia-h100-80gb-hbm3"),
    ],
)
def test_machine_tag_is_short_and_file_name_safe(name, tag):
    assert machine.tag(name) == tag


def test_artifact_is_named_experiment_machine_threads(tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "cpu_name", lambda: "AMD EPYC 7B13 64-Core Processor")
    monkeypatch.setattr(machine, "gpu_name", lambda: None)
    assert sweep.artifact_path("mnist-mlp", 2, tmp_path) == tmp_path / "mnist-mlp__amd-epyc-7b13__t2.json"
    # --accelerator gpu without a GPU: the CPU trains, so the CPU names the artifact
    assert sweep.artifact_path("mnist-mlp", 2, tmp_path, "gpu").name == "mnist-mlp__amd-epyc-7b13__t2.json"
    monkeypatch.setattr(machine, "gpu_name", lambda: "NVIDIA H100 80GB HBM3")
    assert sweep.artifact_path("mnist-mlp", 2, tmp_path, "gpu").name == "mnist-mlp__nvidia-h100-80gb-hbm3__t2.json"
    assert sweep.artifact_path("mnist-mlp", 2, tmp_path, "cpu").name == "mnist-mlp__amd-epyc-7b13__t2.json"


# ----------------------------------------------------------------------------- merge
def run(seed: int, value: float) -> dict:
    """One artifact run as a sweep writes it (the artifact's schema needs claim and metric)."""
    return {"seed": seed, "claim": CLAIM, "part": "network", "metric": "mae", "value": value}


def test_merge_rereads_adds_and_replaces_the_same_seed(tmp_path):
    path = tmp_path / "a.json"
    sweep.merge(path, {"experiment": "a"}, [run(0, 1.0)])
    sweep.merge(path, {"experiment": "a", "code": "abc"}, [run(1, 2.0)])
    sweep.merge(path, {}, [run(0, 3.0)])  # a seed measured again replaces its old run
    payload = json.loads(path.read_text())
    assert payload["runs"] == [run(1, 2.0), run(0, 3.0)]
    assert payload["code"] == "abc" and payload["experiment"] == "a"
    sweep.merge(path, {}, [run(5, 0.0)], keep=False)  # --fresh
    assert seeds_in(path) == [5]


def test_damaged_artifact_is_named(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('{"runs": [')
    with pytest.raises(ValueError, match=f"sweep artifact {path} is damaged"):
        sweep.read_artifact(path)
    path.write_text('{"runs": 3}')
    with pytest.raises(ValueError, match="damaged"):
        sweep.merge(path, {}, [{"seed": 0}])
    assert sweep.read_artifact(tmp_path / "absent.json") is None


# ----------------------------------------------------------------------------- the command
def test_sweep_writes_resumes_and_starts_fresh(tmp_path, register, capsys):
    calls: list[int] = []
    register(**{"fake-s": fake(calls)})
    out = tmp_path / "spreads"
    assert sweep_cli(out, "fake-s", "--seeds", "0,1") == 0
    assert sweep_cli(out, "fake-s", "--seeds", "1,2") == 0  # seed 1 is in the artifact: skipped
    path = artifact(out)
    assert seeds_in(path) == [0, 1, 2] and calls == [0, 1, 2]
    payload = json.loads(path.read_text())
    assert [r["value"] for r in payload["runs"]] == [100.0, 101.0, 102.0]
    assert payload["machine"]["torch_threads"] == 1 and payload["machine"]["tag"] == machine.machine_tag("cpu")
    assert "seed 1: already in" in capsys.readouterr().out
    assert sweep_cli(out, "fake-s", "--seeds", "4", "--fresh") == 0
    assert seeds_in(path) == [4]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_a_seed_another_writer_added_meanwhile_is_kept(tmp_path, register):
    out = tmp_path / "spreads"

    def other_writer(seed):  # between this sweep's seeds, someone adds seed 99 to the artifact
        if seed == 1:
            sweep.merge(artifact(out), {}, [run(99, 0.0)])

    register(**{"fake-s": fake(action=other_writer)})
    assert sweep_cli(out, "fake-s", "--seeds", "0,1,2") == 0
    assert sorted(seeds_in(artifact(out))) == [0, 1, 2, 99]


def test_two_concurrent_sweeps_keep_every_seed(tmp_path, register, capsys):
    """Sweep A (seeds 0-2) is inside seed 1 when sweep B (seeds 6, 7) starts on the same folder:
    B is refused with exit 6 and A's seeds are intact; B rerun after A ends adds its seeds."""
    out = tmp_path / "spreads"
    inside, release = threading.Event(), threading.Event()

    def block_at_seed_1(seed):
        if seed == 1:
            inside.set()
            assert release.wait(30), "the test never released sweep A"

    register(**{"fake-s": fake(action=block_at_seed_1)})
    result: list[int] = []
    a = threading.Thread(target=lambda: result.append(sweep_cli(out, "fake-s", "--seeds", "0,1,2")))
    a.start()
    try:
        assert inside.wait(30), "sweep A never reached seed 1"
        assert seeds_in(artifact(out)) == [0]
        code_b = sweep_cli(out, "fake-s", "--seeds", "6,7")
        err = capsys.readouterr().err
    finally:
        release.set()
        a.join(30)
    assert code_b == errors.BUSY
    assert f"islp-ch10: {out} is in use by another islp-ch10 run (pid " in err
    assert result == [0] and seeds_in(artifact(out)) == [0, 1, 2]
    assert sweep_cli(out, "fake-s", "--seeds", "6,7") == 0
    assert seeds_in(artifact(out)) == [0, 1, 2, 6, 7]


def test_sweep_takes_over_a_stale_lock(tmp_path, register, capsys):
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    out = tmp_path / "spreads"
    out.mkdir()
    (out / outdir.LOCK_NAME).write_text(str(child.pid))
    register(**{"fake-s": fake()})
    assert sweep_cli(out, "fake-s", "--seeds", "0") == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"islp-ch10: taking over the stale lock {out / outdir.LOCK_NAME} of pid {child.pid} (no longer running)"
    ]
    assert seeds_in(artifact(out)) == [0]
