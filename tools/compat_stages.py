"""Run the matrix stages inside one tox environment and record them in ``docs/compat/ENV.json``.

Run by ``tools/matrix.py`` with the environment's own interpreter (so ``islp_ch10`` is the wheel
installed there, never the checkout):

    .tox/ENV/bin/python tools/compat_stages.py ENV --stages probes,fast,data,quick,book,slow,bench

Stages (each prints a progress line, and the artifact is rewritten atomically after each one; a
stage already recorded for the same source digest is kept unless ``--fresh``):

    probes  the lab's library calls (tools/lab_calls.py), every warning recorded
    fast    ``pytest -m fast`` on tests/: every test's outcome, every claim's outcome
    data    ``pytest -m "data and not slow"``
    quick   ``islp-ch10 reproduce`` (the quick experiments, seed 0, fast path): measured values
    book    the same experiments through the book's ISLP.torch objects (``--path islp``)
    slow    the slow experiments this environment affords (SLOW below), fast path
    bench   ``pytest benchmarks -m "benchmark and not gpu" --benchmark``: kernel and training-step timings

Every warning raised while a reproduce stage or a probe runs is recorded with its category,
message and the library file and line that raised it (pytest stages: pytest's own record).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMPAT = REPO / "docs" / "compat"
SCHEMA = 1

# The slow experiments each environment affords on 2 CPU cores (issue 14: MNIST MLP and IMDB dense
# in two environments besides the README pins, the IMDB LSTM in one).
SLOW = {
    "py311-torch214": ("mnist-mlp", "imdb-dense"),
    "lab-v2.2": ("mnist-mlp", "imdb-dense", "imdb-lstm"),
    "newest": ("mnist-mlp", "imdb-dense"),
}
# Tests of the committed table against the artifacts: meaningless while a matrix run rewrites them
# (they run in the README's test command, on the committed files).
WHILE_WRITING = (
    "test_compat.py::test_the_committed_table_is_what_the_artifacts_render",
    "test_compat.py::test_every_catalogue_claim_has_a_row",
    "test_compat.py::test_every_artifact_names_its_environment_machine_and_versions",
    "test_compat.py::test_a_tampered_artifact_no_longer_matches_the_table",
)
# One experiment per model family that the quick set lacks is added to the book-path stage.
BOOK_EXTRA = ("nyse-rnn",)


def source_digest() -> str:
    """sha256 over the tracked files that decide an outcome (package, tests, benchmarks, tools)."""
    files = subprocess.run(
        ["git", "ls-files", "islp_ch10", "tests", "benchmarks", "tools", "conftest.py", "pyproject.toml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    h = hashlib.sha256()
    for name in sorted(files):
        path = REPO / name
        if path.is_file():
            h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def git_commit() -> str:
    """HEAD's short hash, with ``+dirty`` when the files behind the source digest have uncommitted changes."""
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "islp_ch10", "tests", "benchmarks", "tools", "conftest.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return (out.stdout.strip() or "unknown") + ("+dirty" if dirty else "")


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def environment_facts() -> dict:
    packages = {d.metadata["Name"].lower(): d.version for d in importlib.metadata.distributions() if d.metadata["Name"]}
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "packages": dict(sorted(packages.items())),
        "machine": {
            "cpu": cpu_model(),
            "cores_usable": len(os.sched_getaffinity(0)),
            "system": f"{platform.system()} {platform.release()}",
            "arch": platform.machine(),
        },
    }


# ----------------------------------------------------------------------------- warnings
def library_of(filename: str) -> str:
    parts = Path(filename).parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            rest = parts[parts.index(marker) + 1 :]
            return rest[0].removesuffix(".py") if rest else filename
    return "python" if "lib" in parts else Path(filename).name


def record(caught: list, stage: str) -> list[dict]:
    seen: dict[tuple, dict] = {}
    for w in caught:
        message = str(w.message).strip().splitlines()[0][:400] if str(w.message).strip() else ""
        key = (w.category.__name__, message, w.filename, w.lineno)
        if key not in seen:
            seen[key] = {
                "category": w.category.__name__,
                "message": message,
                "library": library_of(w.filename),
                "file": "/".join(Path(w.filename).parts[-3:]),
                "line": w.lineno,
                "stage": stage,
                "count": 0,
            }
        seen[key]["count"] += 1
    return list(seen.values())


# ----------------------------------------------------------------------------- stages
def run_pytest(marker: str, paths: list[str], extra: list[str], workdir: Path) -> dict:
    junit = workdir / "junit.xml"
    claims = workdir / "claims.json"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--rootdir",
        str(REPO),
        "-c",
        str(REPO / "pyproject.toml"),
        "--import-mode=importlib",
        "-p",
        "no:cacheprovider",
        "-q",
        "-m",
        marker,
        f"--junitxml={junit}",
        "-o",
        "junit_family=xunit2",
        *extra,
        *paths,
    ]
    if "benchmarks" not in " ".join(paths):
        cmd.append(f"--claims-report={claims}")
    env = dict(os.environ, PYTHONSAFEPATH="1")
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False, env=env)
    tests, counts = {}, {"passed": 0, "failed": 0, "error": 0, "skipped": 0, "xfailed": 0, "xpassed": 0}
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            nodeid = f"{case.get('classname', '')}::{case.get('name', '')}"
            outcome, detail = "passed", None
            for child in case:
                if child.tag in ("failure", "error"):
                    outcome, detail = (
                        ("failed" if child.tag == "failure" else "error"),
                        (child.get("message") or "")[:300],
                    )
                elif child.tag == "skipped":
                    kind = child.get("type", "")
                    outcome = "xfailed" if "xfail" in kind else "skipped"
                    detail = (child.get("message") or "")[:300]
            tests[nodeid] = {"outcome": outcome, **({"detail": detail} if detail else {})}
            counts[outcome] = counts.get(outcome, 0) + 1
    summary = next((line for line in reversed(proc.stdout.splitlines()) if " in " in line and "=" not in line[:1]), "")
    return {
        "exit": proc.returncode,
        "command": " ".join(cmd[1:]),
        "summary": summary.strip("= "),
        "counts": counts,
        "tests": tests,
        "claims": json.loads(claims.read_text()) if claims.exists() else {},
        "tail": "\n".join((proc.stdout + proc.stderr).splitlines()[-30:]) if proc.returncode not in (0, 5) else None,
    }


def run_reproduce(argv: list[str], stage: str, workdir: Path) -> dict:
    """``islp-ch10 reproduce`` in this process, every warning recorded; the results it wrote."""
    from islp_ch10 import cli

    out = workdir / "out"
    full = ["reproduce", "--out", str(out), *argv]
    buffer = io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                code = cli.main(full)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        except Exception:  # noqa: BLE001 - recorded, the matrix goes on
            code = "crashed: " + traceback.format_exc().splitlines()[-1]
    results = out / "results.json"
    measured = None
    if results.exists():
        full_results = json.loads(results.read_text())
        measured = {k: full_results.get(k) for k in ("summary", "skipped", "environment", "wall_time_s")}
    return {
        "exit": code,
        "command": "islp-ch10 " + " ".join(a if a != str(out) else "OUT" for a in full),
        "results": measured,
        "tail": "\n".join(buffer.getvalue().splitlines()[-20:]),
        "warnings": record(caught, stage),
    }


def run_probes() -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    import lab_calls

    out = {}
    for probe in lab_calls.PROBES:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    why = probe.run()
                status, error = ("differs", why) if why else ("ok", None)
            except Exception as exc:  # noqa: BLE001 - a breaking call is the finding
                status, error = "breaks", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:400]
        found = record(caught, "probes")
        if status == "ok" and found:
            status = "warns"
        out[probe.name] = {
            "notes_lines": probe.notes_lines,
            "call": probe.what,
            "status": status,
            "error": error,
            "dist": probe.dist,
            "warnings": found,
        }
    return {"exit": 0, "probes": out}


def stage_result(stage: str, env: str, workdir: Path) -> dict:
    tests = str(REPO / "tests")
    if stage == "probes":
        return run_probes()
    if stage == "fast":
        deselect = [a for node in WHILE_WRITING for a in ("--deselect", f"tests/{node}")]  # node ids: rootdir-relative
        result = run_pytest("fast", [tests], ["-n", "2", *deselect], workdir)
        why = "reads docs/compat/*.json, which this matrix run is rewriting"
        result["deselected"] = dict.fromkeys(WHILE_WRITING, why)
        return result
    if stage == "data":
        return run_pytest("data and not slow and not gpu", [tests], [], workdir)
    if stage == "quick":
        return run_reproduce(["--seeds", "0"], stage, workdir)
    if stage == "book":
        from islp_ch10 import experiments

        names = [*experiments.QUICK, *BOOK_EXTRA]
        return run_reproduce(["--path", "islp", "--seeds", "0", "--only", ",".join(names)], stage, workdir)
    if stage == "slow":
        names = SLOW.get(env)
        if not names:
            return {"exit": 0, "skipped": f"no slow experiment is budgeted for {env} (SLOW in tools/compat_stages.py)"}
        return run_reproduce(["--seeds", "0", "--only", ",".join(names)], stage, workdir)
    if stage == "bench":
        bench_json = workdir / "bench.json"
        result = run_pytest(
            "benchmark and not gpu",
            [str(REPO / "benchmarks")],
            ["--benchmark", f"--benchmark-json={bench_json}"],
            workdir,
        )
        if bench_json.exists():
            data = json.loads(bench_json.read_text())
            result["benchmarks"] = {
                b["fullname"].split("::", 1)[-1]: {
                    "group": b.get("group"),
                    "median_s": b["stats"]["median"],
                    "iqr_s": b["stats"]["iqr"],
                    "rounds": b["stats"]["rounds"],
                }
                for b in data.get("benchmarks", [])
            }
            result["machine_info"] = {k: data.get("machine_info", {}).get(k) for k in ("cpu", "python_version")}
        result.pop("tests", None)
        return result
    raise ValueError(f"unknown stage {stage!r}")


def save(path: Path, artifact: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("env")
    ap.add_argument("--stages", default="probes,fast,data,quick,book,slow,bench")
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument(
        "--keep-stale",
        action="store_true",
        help="keep stages measured at another commit (the table names each stage's commit)",
    )
    ap.add_argument("--redo", default="", help="comma-separated stages to measure again whatever is recorded")
    args = ap.parse_args(argv)
    path = COMPAT / f"{args.env}.json"
    artifact = json.loads(path.read_text()) if path.exists() else {}
    digest = source_digest()
    artifact.update({"schema": SCHEMA, "env": args.env, **environment_facts()})
    artifact.setdefault("stages", {})
    for stage in [s for s in args.stages.split(",") if s]:
        done = artifact["stages"].get(stage)
        same_packages = bool(done) and done.get("packages_digest") == packages_digest(artifact)
        same_source = bool(done) and done.get("source_digest") == digest
        redo = args.fresh or stage in args.redo.split(",")
        if done and not redo and same_packages and (same_source or args.keep_stale):
            why = "same source and packages" if same_source else f"--keep-stale: measured at {done.get('commit')}"
            print(f"[{args.env}] {stage}: kept from {done.get('finished', '?')} ({why})", flush=True)
            continue
        print(f"[{args.env}] {stage}: running", flush=True)
        t0 = time.monotonic()
        with cpu_lock(), tempfile.TemporaryDirectory(prefix=f"compat-{args.env}-") as tmp:
            result = stage_result(stage, args.env, Path(tmp))
        result.update(
            seconds=round(time.monotonic() - t0, 1),
            source_digest=digest,
            packages_digest=packages_digest(artifact),
            commit=git_commit(),
            finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            threads=os.environ.get("ISLP_CH10_THREADS", "islp-ch10's policy (one per usable core)"),
        )
        artifact["stages"][stage] = result
        save(path, artifact)
        print(f"[{args.env}] {stage}: done in {result['seconds']:.0f} s (exit {result.get('exit')})", flush=True)
    return 0


@contextlib.contextmanager
def cpu_lock():
    """Hold ``ISLP_CH10_CPU_LOCK`` (default /tmp/islp-cpu.lock) while a stage runs: heavy jobs never overlap."""
    import fcntl

    with open(os.environ.get("ISLP_CH10_CPU_LOCK", "/tmp/islp-cpu.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def packages_digest(artifact: dict) -> str:
    return hashlib.sha256(json.dumps(artifact.get("packages", {}), sort_keys=True).encode()).hexdigest()[:16]


if __name__ == "__main__":
    sys.exit(main())
