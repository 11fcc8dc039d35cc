"""The known-incompatibilities table: entries apply by installed release, as strict xfail."""

from __future__ import annotations

import textwrap

import pytest

from islp_ch10.testing import plugin_known
from islp_ch10.testing.fakes import INNER_RUN_ARGS


def _entries(tmp_path, text):
    path = tmp_path / "table.toml"
    path.write_text(textwrap.dedent(text))
    return plugin_known.load(path)


def test_the_committed_table_loads():
    for entry in plugin_known.load():
        assert entry.reason and entry.when


def test_an_entry_applies_only_where_every_requirement_holds(tmp_path):
    (entry,) = _entries(
        tmp_path,
        """
        [[incompatible]]
        test = "tests/test_a.py::test_b"
        when = ["torch<2.4", "numpy>=2"]
        reason = "r"
        """,
    )
    versions = {"torch": "2.3.0", "numpy": "2.1.3"}
    assert entry.applies(versions.get)
    assert not entry.applies({**versions, "torch": "2.4.0"}.get)
    assert not entry.applies({**versions, "numpy": "1.26.4"}.get)
    assert not entry.applies({"numpy": "2.1.3"}.get), "a distribution that is not installed never matches"


@pytest.mark.parametrize(
    "text",
    [
        '[[incompatible]]\nwhen = ["torch<2.4"]\nreason = "neither test nor claim"\n',
        '[[incompatible]]\ntest = "t"\nclaim = "10.1/x"\nwhen = ["torch<2.4"]\nreason = "both"\n',
        '[[incompatible]]\ntest = "t"\nwhen = []\nreason = "applies everywhere"\n',
        '[[incompatible]]\ntest = "t"\nwhen = ["torch<2.4"]\nreason = ""\n',
        '[[incompatible]]\ntest = "t"\nwhen = ["torch<2.4"]\nreason = "r"\nskip = true\n',
    ],
)
def test_a_malformed_entry_is_refused(tmp_path, text):
    with pytest.raises(ValueError, match="entry 1"):
        _entries(tmp_path, text)


def test_entries_name_tests_by_node_id_pattern_or_claim(tmp_path):
    by_test, by_claim = _entries(
        tmp_path,
        """
        [[incompatible]]
        test = "tests/test_a.py::test_b*"
        when = ["torch<2.4"]
        reason = "r"
        [[incompatible]]
        claim = "10.4/imdb-lasso"
        when = ["torch<2.4"]
        reason = "r"
        """,
    )
    assert by_test.names("tests/test_a.py::test_b[1]", ())
    assert not by_test.names("tests/test_a.py::test_c", ())
    assert by_claim.names("tests/test_z.py::test_q", ("10.4/imdb-lasso",))
    assert not by_claim.names("tests/test_z.py::test_q", ("10.4/imdb-dense",))


def _run_with_table(pytester, monkeypatch, table_text):
    table = pytester.path / "known.toml"
    table.write_text(textwrap.dedent(table_text))
    monkeypatch.setattr(plugin_known, "TABLE", table)
    pytester.makepyfile(
        test_sample="""
        def test_breaks():
            assert False, "the known failure"

        def test_works():
            assert True
        """
    )
    return pytester.runpytest_inprocess("-p", "islp_ch10.testing.plugin_known", *INNER_RUN_ARGS)


def test_a_known_failure_is_reported_xfail_and_a_fixed_one_turns_red(pytester, monkeypatch):
    result = _run_with_table(
        pytester,
        monkeypatch,
        """
        [[incompatible]]
        test = "test_sample.py::test_*"
        when = ["pytest>=1"]
        reason = "upstream bug"
        """,
    )
    # test_breaks is xfailed; test_works passes although listed: strict XPASS fails the run.
    result.assert_outcomes(xfailed=1, failed=1)


def test_an_entry_for_another_release_changes_nothing(pytester, monkeypatch):
    result = _run_with_table(
        pytester,
        monkeypatch,
        """
        [[incompatible]]
        test = "test_sample.py::test_*"
        when = ["pytest<1"]
        reason = "only on an ancient pytest"
        """,
    )
    result.assert_outcomes(failed=1, passed=1)
