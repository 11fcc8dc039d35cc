"""Run the compatibility matrix: every tox environment labelled ``matrix``, one artifact each.

    python tools/matrix.py                       # every matrix env, every stage, then docs/compat.md
    python tools/matrix.py --envs lab-v2.2,colab # some of them
    python tools/matrix.py --stages fast,quick   # some stages (see tools/compat_stages.py)
    python tools/matrix.py --fresh               # forget what the artifacts hold and measure again

For each environment it
1. installs it with ``tox -e ENV --notest`` (the built wheel on the environment's pins), timing the
   first install and counting the bytes this machine received meanwhile (``/proc/net/dev``) and
   the environment's size on disk;
2. runs ``tools/compat_stages.py`` with the environment's interpreter, which runs each stage and
   writes ``docs/compat/ENV.json`` after every stage (a re-run resumes: stages already recorded
   for the same source digest are kept);
and at the end renders ``docs/compat.md`` (``tools/render_compat.py``).  The benchmark stage runs
last for all environments back to back, so its timings are comparable (one machine, one run).

Python 3.12 and 3.13 must be on PATH (pyenv: ``PYENV_VERSION=3.11.7:3.12.1:3.13.0``).  Never run
another heavy job meanwhile: the timings and the 2-core training times assume a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMPAT = REPO / "docs" / "compat"
STAGES = ("probes", "fast", "data", "quick", "book", "slow", "bench")


def matrix_envs() -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "tox", "-m", "matrix", "-l", "-q"], cwd=REPO, capture_output=True, text=True, check=True
    )
    return [line.strip() for line in out.stdout.splitlines() if line.strip() and " " not in line.strip()]


def received_bytes() -> int:
    """Bytes received by every interface but loopback since boot."""
    total = 0
    for line in Path("/proc/net/dev").read_text().splitlines()[2:]:
        name, data = line.split(":", 1)
        if name.strip() != "lo":
            total += int(data.split()[0])
    return total


def disk_bytes(path: Path) -> int:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=False)
    return int(out.stdout.split()[0]) if out.returncode == 0 and out.stdout else 0


def load(env: str) -> dict:
    path = COMPAT / f"{env}.json"
    return json.loads(path.read_text()) if path.exists() else {"env": env}


def save(env: str, artifact: dict) -> None:
    COMPAT.mkdir(parents=True, exist_ok=True)
    path = COMPAT / f"{env}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def install(env: str, fresh: bool) -> bool:
    """``tox --notest``; the first install of an environment is measured into its artifact."""
    env_dir = REPO / ".tox" / env
    first = not (env_dir / "bin" / "python").exists()
    artifact = load(env)
    print(
        f"[matrix] {env}: install ({'new environment' if first else 'reusing the environment, rebuilding the wheel'})",
        flush=True,
    )
    rx0, t0 = received_bytes(), time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "tox", "-e", env, "--notest"], cwd=REPO, capture_output=True, text=True, check=False
    )
    seconds, rx = time.monotonic() - t0, received_bytes() - rx0
    ok = proc.returncode == 0
    if first or fresh or "install" not in artifact or not artifact["install"].get("ok"):
        artifact["install"] = {
            "ok": ok,
            "seconds": round(seconds, 1),
            "downloaded_bytes": rx,
            "disk_bytes": disk_bytes(env_dir),
            "measured_on_first_install": first,
            "error": None if ok else "\n".join((proc.stdout + proc.stderr).splitlines()[-25:]),
        }
        save(env, artifact)
    print(
        f"[matrix] {env}: install {'ok' if ok else 'FAILED'} in {seconds:.0f} s, {rx / 1e9:.2f} GB received", flush=True
    )
    return ok


def build_wheel() -> Path:
    """islp-ch10's wheel from the checkout as it is now (tox reuses an installed one of the same version)."""
    out = REPO / ".tox" / ".matrix-wheel"
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
    )
    (wheel,) = out.glob("islp_ch10-*.whl")
    return wheel


def reinstall(env: str, wheel: Path) -> None:
    python = REPO / ".tox" / env / "bin" / "python"
    environ = dict(os.environ, PIP_CONSTRAINT="/dev/null")  # nothing installed is changed: no --upgrade
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--force-reinstall", "--no-deps", str(wheel)], check=True, env=environ)
    subprocess.run([*pip, f"{wheel}[test]"], check=True, env=environ)  # a dependency the checkout added


def run_stages(env: str, stages: list[str], fresh: bool, keep_stale: bool = False, redo: str = "") -> int:
    python = REPO / ".tox" / env / "bin" / "python"
    cmd = [str(python), str(REPO / "tools" / "compat_stages.py"), env, "--stages", ",".join(stages)]
    if fresh:
        cmd.append("--fresh")
    if keep_stale:
        cmd.append("--keep-stale")
    if redo:
        cmd += ["--redo", redo]
    environ = dict(os.environ)
    environ.setdefault("ISLP_CH10_DATA", str(REPO.parent / "shared" / "data"))
    environ["ISLP_CH10_EXPECT_WHEEL"] = "1"
    if env == "lower":
        environ["ISLP_CH10_EXPECT_LOWER"] = "1"
    return subprocess.run(cmd, cwd=REPO, env=environ, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--envs", default=None, help="comma-separated matrix environments (default: all)")
    ap.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, of {','.join(STAGES)}")
    ap.add_argument("--fresh", action="store_true", help="measure again what the artifacts already hold")
    ap.add_argument(
        "--keep-stale",
        action="store_true",
        help="keep stages measured at another commit of the source (the table names each stage's commit)",
    )
    ap.add_argument("--redo", default="", help="comma-separated stages to measure again in every environment")
    ap.add_argument("--install-only", action="store_true", help="only install (and measure) the environments")
    args = ap.parse_args(argv)
    envs = args.envs.split(",") if args.envs else matrix_envs()
    stages = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        ap.error(f"unknown stage(s) {', '.join(unknown)}; known: {', '.join(STAGES)}")
    if shutil.which("python3.12") is None or shutil.which("python3.13") is None:
        print("[matrix] python3.12 and python3.13 must be on PATH (pyenv: PYENV_VERSION=3.11.7:3.12.1:3.13.0)")
        return 2
    installed = [env for env in envs if install(env, args.fresh)]
    wheel = build_wheel()
    for env in installed:
        reinstall(env, wheel)
    print(f"[matrix] {wheel.name} from the checkout installed into {', '.join(installed)}", flush=True)
    if args.install_only:
        return 0 if len(installed) == len(envs) else 1
    first = [s for s in stages if s != "bench"]
    status = 0
    for env in installed:
        if first:
            status |= run_stages(env, first, args.fresh, args.keep_stale, args.redo) != 0
    if "bench" in stages:
        for env in installed:
            status |= run_stages(env, ["bench"], args.fresh, args.keep_stale, args.redo) != 0
    subprocess.run([sys.executable, str(REPO / "tools" / "render_compat.py")], cwd=REPO, check=False)
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
