"""What a user installs: the wheel carries the claim catalogue, tox tests the installed wheel, and
tox's `lower` environment installs exactly the lower bounds that pyproject.toml declares.

Under tox (tox.ini sets the switches) two more checks run: that `islp_ch10` was imported from
the installed wheel rather than the source tree (``ISLP_CH10_EXPECT_WHEEL``), and, in `lower`,
that pip kept every declared lower bound (``ISLP_CH10_EXPECT_LOWER``).
"""

from __future__ import annotations

import configparser
import importlib.metadata
import importlib.resources
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import islp_ch10

REPO = Path(__file__).resolve().parents[1]
CATALOGUE = "islp_ch10/catalogue"


# ----------------------------------------------------------------------------- helpers
def declared_lower_bounds(pyproject_text: str) -> dict[str, Version]:
    """``{name: lower bound}`` of ``[project] dependencies``; every dependency must be ``name>=X``."""
    bounds = {}
    for line in tomllib.loads(pyproject_text)["project"]["dependencies"]:
        req = Requirement(line)
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != ">=":
            raise ValueError(f"dependency {line!r} should be a single lower bound 'name>=X'")
        bounds[canonicalize_name(req.name)] = Version(specs[0].version)
    return bounds


def tox_deps(tox_text: str, section: str) -> dict[str, str]:
    """``{name: specifier}`` of the ``deps`` of one tox.ini section."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(tox_text)
    lines = [ln.strip() for ln in parser[section]["deps"].splitlines() if ln.strip()]
    return {canonicalize_name(Requirement(ln).name): str(Requirement(ln).specifier) for ln in lines}


# Pins of `tox -e lower` that are facts of the environment, not dependencies of islp-ch10.
ENVIRONMENT_PINS = {
    # pytorch-lightning < 2.4 and ISLP 0.4.0 import pkg_resources, gone from setuptools >= 81.
    "setuptools": "<81",
}


def lower_bound_mismatches(pyproject_text: str, tox_text: str) -> list[str]:
    """Where tox's `lower` env does not pin exactly pyproject's lower bounds (empty when they agree)."""
    bounds = declared_lower_bounds(pyproject_text)
    pins = tox_deps(tox_text, "testenv:lower")
    problems = [
        f"{name}: declared >={v}, tox pins {pins.get(name, 'nothing')}"
        for name, v in bounds.items()
        if pins.get(name) != f"=={v}"
    ]
    problems += [
        f"{name}: tox pins {spec} but pyproject.toml declares no such dependency"
        for name, spec in pins.items()
        if name not in bounds and ENVIRONMENT_PINS.get(name) != spec
    ]
    return problems


def catalogue_missing(members: list[str], expected: set[str]) -> set[str]:
    """The catalogue files (names like ``10_1.toml``) absent from a wheel's member list."""
    present = {Path(m).name for m in members if str(Path(m).parent) == CATALOGUE and m.endswith(".toml")}
    return expected - present


def source_catalogue() -> set[str]:
    return {p.name for p in (REPO / CATALOGUE).glob("*.toml")}


# ----------------------------------------------------------------------------- lower bounds
def test_tox_lower_env_pins_exactly_the_declared_lower_bounds():
    problems = lower_bound_mismatches((REPO / "pyproject.toml").read_text(), (REPO / "tox.ini").read_text())
    assert problems == []


def test_a_lower_pin_that_drifts_from_pyproject_is_reported():
    tox_text = (REPO / "tox.ini").read_text()
    drifted = tox_text.replace("scikit-learn==", "scikit-learn==9", 1)
    assert drifted != tox_text
    problems = lower_bound_mismatches((REPO / "pyproject.toml").read_text(), drifted)
    assert [p.split(":")[0] for p in problems] == ["scikit-learn"]


def test_a_dependency_without_a_lower_bound_is_rejected():
    with pytest.raises(ValueError, match="single lower bound"):
        declared_lower_bounds('[project]\ndependencies = ["torch"]\n')


def floor_violations(pyproject_text: str, tox_text: str, section: str) -> list[str]:
    """The exact pins of a tox env that a declared lower bound would make pip upgrade."""
    bounds = declared_lower_bounds(pyproject_text)
    problems = []
    for name, spec in tox_deps(tox_text, section).items():
        if name in bounds and spec.startswith("==") and Version(spec[2:]) < bounds[name]:
            problems.append(f"{name}: {section} pins {spec}, islp-ch10 requires >={bounds[name]}")
    return problems


@pytest.mark.parametrize("section", ["testenv:lab-v2.2", "testenv:lab-v2.2.3", "testenv:colab"])
def test_islp_ch10_installs_into_the_lab_environments_without_changing_their_pins(section):
    assert floor_violations((REPO / "pyproject.toml").read_text(), (REPO / "tox.ini").read_text(), section) == []


def test_a_floor_above_a_lab_pin_is_reported():
    raised = (REPO / "pyproject.toml").read_text().replace('"torch>=2.3.0"', '"torch>=2.4.0"')
    problems = floor_violations(raised, (REPO / "tox.ini").read_text(), "testenv:lab-v2.2")
    assert problems == ["torch: testenv:lab-v2.2 pins ==2.3.0, islp-ch10 requires >=2.4.0"]


def test_dev_extra_pins_the_tools_that_tox_lint_and_type_install():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    dev = {
        canonicalize_name(Requirement(r).name): str(Requirement(r).specifier)
        for r in pyproject["project"]["optional-dependencies"]["dev"]
    }
    tox_text = (REPO / "tox.ini").read_text()
    assert tox_deps(tox_text, "testenv:lint")["ruff"] == dev["ruff"]
    assert tox_deps(tox_text, "testenv:type")["mypy"] == dev["mypy"]


@pytest.mark.skipif(
    os.environ.get("ISLP_CH10_EXPECT_LOWER") != "1",
    reason="only inside `tox -e lower`, which sets ISLP_CH10_EXPECT_LOWER=1",
)
def test_lower_env_runs_on_the_declared_lower_bounds():
    bounds = declared_lower_bounds((REPO / "pyproject.toml").read_text())
    installed = {name: Version(importlib.metadata.version(name)) for name in bounds}
    assert installed == bounds


# ----------------------------------------------------------------------------- the wheel
@pytest.mark.skipif(
    os.environ.get("ISLP_CH10_EXPECT_WHEEL") != "1",
    reason="only under tox, which installs the wheel and sets ISLP_CH10_EXPECT_WHEEL=1",
)
def test_suite_imports_the_installed_wheel_not_the_source_tree():
    where = Path(islp_ch10.__file__).resolve()
    assert not where.is_relative_to(REPO / "islp_ch10")
    assert where.is_relative_to(Path(sysconfig.get_paths()["purelib"]).resolve())


def test_installed_package_carries_every_catalogue_file():
    """Under tox the installed package is the wheel, so this is the wheel's catalogue."""
    installed = {
        p.name
        for p in importlib.resources.files("islp_ch10").joinpath("catalogue").iterdir()
        if p.name.endswith(".toml")
    }
    assert source_catalogue() and installed == source_catalogue()


def test_a_wheel_without_a_catalogue_file_is_reported(tmp_path):
    expected = source_catalogue()
    dropped = sorted(expected)[0]
    wheel = tmp_path / "islp_ch10-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("islp_ch10/__init__.py", "")
        for name in expected - {dropped}:
            zf.writestr(f"{CATALOGUE}/{name}", "")
    assert catalogue_missing(zipfile.ZipFile(wheel).namelist(), expected) == {dropped}


@pytest.mark.slow
def test_built_wheel_carries_the_catalogue(tmp_path):
    """Build the wheel offline from a copy of the project (so the checkout gets no build/ folder)."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "islp_ch10", src / "islp_ch10", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    out = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(out),
            str(src),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = out.glob("islp_ch10-*.whl")
    members = zipfile.ZipFile(wheel).namelist()
    assert catalogue_missing(members, source_catalogue()) == set()
    assert not [m for m in members if m.startswith(("tests/", "benchmarks/"))]
