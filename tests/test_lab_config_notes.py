"""Every registered LabConfig checked against the notes' lines it cites (issue 15, item 1).

The notes are read at test time from ``../shared/spec/chapter10-notes.zh.txt`` beside the checkout
(or ``$ISLP_CH10_NOTES``), never copied into the project; without them these tests skip and say
how to get them.  For each ``experiment:part`` of the registry, every field (task, loss, epochs,
batch size, validation, optimiser, lr, weight decay, number of classes, metric) is compared with
what the lab's code on the cited lines states, or, where the lab leaves it implicit, with the
default of the installed ISLP / torch (``inspect.signature`` of the optimiser class that
``SimpleModule`` builds).  Each (experiment, field) pair has three broken variants the check
rejects: the LabConfig with that field changed, the notes' text (or the library default) with the
stated value changed, and the citation with that field's line left out.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from islp_ch10.testing import notes as N

ROOT = Path(__file__).resolve().parents[1]


def registered_labs() -> dict:
    """``"experiment:part"`` -> LabConfig, read from the registry (the one place to re-point if the
    registry moves)."""
    from islp_ch10 import experiments

    return {f"{name}:{part}": lab for name, exp in experiments.EXPERIMENTS.items() for part, lab in exp.labs.items()}


LABS = registered_labs()
LabConfig = type(next(iter(LABS.values())))

# Where the project chooses a value the notes leave open: field -> the chosen value.  The ridge arm's
# weight decay: notes 405-409 give the L2 penalty and leave lambda to "a small value or a validation
# search"; 1e-4 is the project's choice (a change of it must be deliberate, and this table edited).
DEVIATIONS = {"mnist-regularise:ridge": {"weight_decay": 1e-4}}

# What each field is changed to in the broken LabConfig (value -> a value the notes do not state).
WRONG = {
    "task": lambda c: {"task": {"regression": "binary", "binary": "regression", "multiclass": "binary"}[c.task]},
    "epochs": lambda c: {"epochs": c.epochs + 1},
    "batch_size": lambda c: {"batch_size": c.batch_size * 2},
    "validation": lambda c: {
        "validation": 0.2 if c.validation == "test" else c.validation // 2 if isinstance(c.validation, int) else 0.25
    },
    "num_classes": lambda c: {"num_classes": 2 if c.num_classes is None else c.num_classes + 1},
    # the lab's optimiser: another class; SimpleModule's default spelt out where the lab leaves it implicit
    "optimizer": lambda c: {"optimizer": "adam", "lr": c.lr} if c.optimizer else {"optimizer": "rmsprop", "lr": 0.01},
    "lr": lambda c: {"optimizer": c.optimizer or "rmsprop", "lr": (c.lr or 0.01) * 10},
    "weight_decay": lambda c: {"weight_decay": (c.weight_decay or 1e-4) * 10},
    "metric": lambda c: {"metric": {"accuracy": "mae", "mae": "r2", "r2": "mae"}[c.metric]},
}
BROKEN_FIELDS = [*WRONG, "loss"]
assert set(BROKEN_FIELDS) == set(N.FIELDS)


@pytest.fixture(scope="module")
def notes() -> dict[int, str]:
    path = N.find_notes(ROOT)
    if path is None:
        pytest.skip(N.HOW_TO)
    if not path.is_file():
        pytest.fail(f"{N.NOTES_ENV}={path} is not a file; {N.HOW_TO}", pytrace=False)
    return N.read_notes(path)


@pytest.fixture(scope="module")
def defaults() -> N.LibraryDefaults:
    return N.library_defaults()


def check(config, notes, defaults, name: str, deviations=None):
    return N.check_lab_config(config, notes, defaults, DEVIATIONS.get(name) if deviations is None else deviations)


def rejected(fn, *args, **kwargs) -> dict[str, str]:
    """The problems ``check`` names for a broken variant (fails if it accepts it)."""
    with pytest.raises(N.NotesMismatch) as info:
        fn(*args, **kwargs)
    return info.value.problems


# ----------------------------------------------------------------------------- the lab as registered
@pytest.mark.parametrize("name", list(LABS))
def test_lab_config_matches_the_notes(name, notes, defaults):
    """Every field equals what the cited lines state, or the library default the lab relies on."""
    rows = check(LABS[name], notes, defaults, name)
    assert {r.field for r in rows} == set(N.FIELDS)
    stated = {r.field: r for r in rows if r.basis == "notes"}
    # the lab states these in every cell: they must come from a cited line, never from a default
    assert {"epochs", "batch_size", "validation", "task"} <= set(stated), rows
    assert all(r.line in N.cited_lines(LABS[name].source) for r in stated.values())


def test_every_labconfig_field_is_checked():
    """A field added to LabConfig must be added to the check (``source`` is the citation itself)."""
    assert {f.name for f in dataclasses.fields(LabConfig)} - {"source"} <= set(N.FIELDS)


def test_implicit_optimiser_is_torchs_rmsprop_signature_default(defaults):
    """SimpleModule with no optimiser builds torch's RMSprop with no lr: its lr is the signature's
    default, and the project's reader of that default (``simple_module_optimizer``) agrees."""
    import torch

    assert defaults.optimizer == "rmsprop"
    assert defaults.built_lr == inspect.signature(torch.optim.RMSprop).parameters["lr"].default == defaults.lr
    reader = inspect.getmodule(LabConfig).simple_module_optimizer()
    assert (reader["optimizer"], reader["lr"], reader["weight_decay"]) == (
        defaults.optimizer,
        defaults.lr,
        defaults.default("rmsprop", "weight_decay"),
    )


def test_every_lab_cell_leaves_the_optimisers_other_knobs_at_torchs_defaults():
    """alpha, eps, momentum, centered: the optimiser a LabConfig builds keeps torch's defaults (the lab
    never sets them); weight decay and lr are the LabConfig's."""
    import torch

    params = [torch.nn.Parameter(torch.zeros(1))]
    for name, lab in LABS.items():
        opt = lab.make_optimizer(params)
        sig = N.signature_defaults(type(opt))
        differs = {
            k: v for k, v in opt.defaults.items() if k in sig and k not in ("lr", "weight_decay") and v != sig[k]
        }
        assert not differs, f"{name}: {differs}"
        assert (opt.defaults["lr"], opt.defaults["weight_decay"]) == (lab.resolved_optimizer()[1], lab.weight_decay)


# ----------------------------------------------------------------------------- broken LabConfigs
@pytest.mark.parametrize("field", BROKEN_FIELDS)
@pytest.mark.parametrize("name", list(LABS))
def test_a_changed_field_is_rejected(name, field, notes, defaults, monkeypatch):
    """Broken variant: the LabConfig with one field changed (the loss through its ``loss`` property)."""
    config = LABS[name]
    if field == "loss":
        monkeypatch.setattr(LabConfig, "loss", property(lambda self: "L1Loss"))
    else:
        config = dataclasses.replace(config, **WRONG[field](config))
    assert field in rejected(check, config, notes, defaults, name)


@pytest.mark.parametrize("name", [n for n, lab in LABS.items() if lab.optimizer is None])
def test_a_misread_simplemodule_default_is_rejected(name, notes, defaults, monkeypatch):
    """Broken variant: the project's reader of SimpleModule's default lr returns another lr."""
    module = inspect.getmodule(LabConfig)
    misread = {**module.simple_module_optimizer(), "lr": 0.001}
    monkeypatch.setattr(module, "simple_module_optimizer", lambda: misread)
    assert "resolved default" in rejected(check, LABS[name], notes, defaults, name)


# ----------------------------------------------------------------------------- broken notes and defaults
def _ctor_paren(notes, stmt: N.Statement) -> tuple[int, int]:
    """``(line, column)`` just after the ``(`` of the SimpleModule call a task statement points at."""
    line = notes[stmt.line]
    return stmt.line, line.index("(", stmt.span[1]) + 1


def _insert(notes, at: tuple[int, int], text: str) -> dict[int, str]:
    line, col = at
    return {**notes, line: notes[line][:col] + text + notes[line][col:]}


def _other_literal(field: str, old: str) -> str:
    """Source text that states something other than ``old`` (the literal stating ``field``)."""
    if field == "task":  # a SimpleModule constructor's name
        return {"regression": "binary_classification"}.get(old, "regression")
    if field == "optimizer":  # an optimiser class
        return "SGD" if old == "Adam" else "Adam"
    if re.fullmatch(r"\d+", old):
        return str(int(old) + 1)
    if re.fullmatch(r"[\d.]+(?:[eE][-+]?\d+)?", old):
        value = float(old)
        return repr(value * 10 if value < 0.1 else round(value + 0.1, 6))
    return old + "_other"  # a data set's or a metric's name


def break_the_source(name: str, field: str, notes, defaults):
    """The notes' text (or, where the lab leaves ``field`` implicit, the library default, or the
    declared deviation) changed so that it states another value for ``field``.

    Returns ``(notes, defaults, deviations)`` and a word on what was changed.
    """
    config = LABS[name]
    rows = {r.field: r for r in check(config, notes, defaults, name)}
    row = rows[field]
    stated = N.lab_statements({n: notes[n] for n in N.cited_lines(config.source)})
    task = stated["task"][0]
    ctor = next(c for c, t in N.CONSTRUCTOR_TASK.items() if t == task.value)
    deviations = dict(DEVIATIONS.get(name, {}))
    if row.basis == "deviation":
        deviations[field] = deviations[field] * 10
        return (notes, defaults, deviations), "the declared deviation"
    if field == "loss":
        losses = {**defaults.losses, ctor: "L1Loss"}
        return (notes, dataclasses.replace(defaults, losses=losses), deviations), f"SimpleModule.{ctor}'s loss"
    if field == "metric" and row.basis == "library default":
        metrics = {**defaults.metrics, ctor: ()}
        return (notes, dataclasses.replace(defaults, metrics=metrics), deviations), f"SimpleModule.{ctor}'s metrics"
    if field == "weight_decay" and row.basis != "notes":
        opt = config.optimizer or defaults.optimizer
        signature = {**defaults.signature, opt: {**defaults.signature[opt], "weight_decay": 0.1}}
        return (notes, dataclasses.replace(defaults, signature=signature), deviations), f"{opt}'s signature"
    if field in ("optimizer", "lr") and config.optimizer is None:  # the lab passes none: pass one
        text = "optimizer=RMSprop(m.parameters(), lr=0.05), "
        return (_insert(notes, _ctor_paren(notes, task), text), defaults, deviations), "an optimiser passed"
    if field == "num_classes" and config.num_classes is None:
        return (_insert(notes, _ctor_paren(notes, task), "num_classes=3, "), defaults, deviations), "num_classes"
    stmt = next(s for s in stated[field] if s.span is not None and s.value == getattr(config, field))
    (start, end), line = stmt.span, notes[stmt.line]
    new = _other_literal(field, line[start:end])
    return ({**notes, stmt.line: line[:start] + new + line[end:]}, defaults, deviations), f"line {stmt.line}: {new}"


@pytest.mark.parametrize("field", BROKEN_FIELDS)
@pytest.mark.parametrize("name", list(LABS))
def test_a_changed_notes_line_or_default_is_flagged(name, field, notes, defaults):
    """Broken variant: the cited text (a copy, one literal changed) or the library default states
    another value; the registered LabConfig no longer matches it."""
    (bent_notes, bent_defaults, deviations), what = break_the_source(name, field, notes, defaults)
    assert bent_notes != notes or bent_defaults != defaults or deviations != DEVIATIONS.get(name, {})
    problems = rejected(check, LABS[name], bent_notes, bent_defaults, name, deviations)
    assert field in problems or (field == "loss" and "task" in problems), (what, problems)


@pytest.mark.parametrize("field", ["epochs", "batch_size", "validation", "task"])
@pytest.mark.parametrize("name", list(LABS))
def test_a_citation_that_leaves_out_a_field_is_flagged(name, field, notes, defaults):
    """Broken variant: the LabConfig's source without the line that states ``field``."""
    config = LABS[name]
    line = next(r.line for r in check(config, notes, defaults, name) if r.field == field)
    kept = [n for n in N.cited_lines(config.source) if n != line]
    source = "notes " + ", ".join(map(str, kept))
    problems = rejected(check, dataclasses.replace(config, source=source), notes, defaults, name)
    assert "state no" in problems[field]


def test_a_citation_past_the_notes_end_is_flagged(notes, defaults):
    """Broken variant: a source citing a line the notes do not have."""
    name, config = next(iter(LABS.items()))
    beyond = dataclasses.replace(config, source=f"notes {max(notes) + 1}")
    assert "source" in rejected(check, beyond, notes, defaults, name)


# ----------------------------------------------------------------------------- the parsers
@pytest.mark.parametrize(
    ("source", "lines"),
    [
        ("notes 721-723 (batch 32, validation=hit_test), 735 (max_epochs=50)", (721, 722, 723, 735)),
        (
            "notes 853-854 (the MLP's data module); weight decay 1e-4 on notes 405-406's L2 penalty",
            (405, 406, 853, 854),
        ),
        ("notes 1548-1549 (validation 2000); the simple RNN reuses it (no lab cell of its own)", (1548, 1549)),
        ("notes 12", (12,)),
        ("notes the lab's cell", ()),
    ],
)
def test_cited_lines_reads_ranges_not_remarks(source, lines):
    assert N.cited_lines(source) == lines


def test_lab_statements_read_the_labs_code_forms():
    """One made-up cell in the lab's style (two lines of data module, an optimiser built on its own
    line, a Trainer call) is read field by field; a comment's numbers are not statements."""
    cell = {
        1: "dm = SimpleDataModule(tr,",
        2: "                      te, validation=te,  # max_epochs=9",
        3: "                      batch_size=64)",
        4: "opt = SGD(net.parameters(),",
        5: "          lr=0.05)",
        6: "mod = SimpleModule.regression(net, optimizer=opt,",
        7: "                              metrics={'r2': R2Score()})",
        8: "t = Trainer(max_epochs=7)",
    }
    got = {k: [(s.value, s.line) for s in v] for k, v in N.lab_statements(cell).items() if v}
    assert got == {
        "validation": [("test", 2)],
        "batch_size": [(64, 3)],
        "optimizer": [("sgd", 4)],
        "lr": [(0.05, 5)],
        "task": [("regression", 6)],
        "metric": [("r2", 7)],
        "epochs": [(7, 8)],
    }
    uncited = {k: v for k, v in cell.items() if k not in (4, 5)}
    assert N.lab_statements(uncited)["optimizer"][0].value == "opt (built outside the cited lines)"


def test_a_simplemodule_call_cut_short_by_the_citation_states_no_default():
    """A cited range that stops inside the SimpleModule call does not read as "no optimiser"."""
    cell = {1: "mod = SimpleModule.binary_classification(", 2: "    net,"}
    said = N.lab_statements(cell)["optimizer"][0].value
    assert "unfinished" in said
    assert N.lab_statements({**cell, 3: ")"})["optimizer"][0].value is None


@pytest.mark.parametrize("name", [n for n, lab in LABS.items() if lab.optimizer is not None])
def test_a_citation_that_stops_inside_the_simplemodule_call_is_flagged(name, notes, defaults):
    """Broken variant: the source cites the SimpleModule call's first line but not the line that
    passes the optimiser."""
    config = LABS[name]
    stated = N.lab_statements({n: notes[n] for n in N.cited_lines(config.source)})
    first = stated["task"][0].line
    kept = [n for n in N.cited_lines(config.source) if n <= first or n > first + 3]
    problems = rejected(
        check, dataclasses.replace(config, source="notes " + ", ".join(map(str, kept))), notes, defaults, name
    )
    assert "unfinished" in problems["optimizer"]


def test_notes_are_found_beside_the_checkout_or_through_the_variable(tmp_path, monkeypatch):
    """``$ISLP_CH10_NOTES`` wins; else ``../shared/spec/`` beside the checkout; else ``None`` (skip)."""
    monkeypatch.delenv(N.NOTES_ENV, raising=False)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    assert N.find_notes(checkout) is None
    spec = tmp_path / "shared" / "spec"
    spec.mkdir(parents=True)
    (spec / N.NOTES_FILE).write_text("a\nb\n", encoding="utf-8")
    assert N.find_notes(checkout) == spec / N.NOTES_FILE
    assert N.read_notes(spec / N.NOTES_FILE) == {1: "a", 2: "b"}
    monkeypatch.setenv(N.NOTES_ENV, str(tmp_path / "elsewhere.txt"))
    assert N.find_notes(checkout) == tmp_path / "elsewhere.txt"


# ----------------------------------------------------------------------------- LabConfig's own contract
def _lab(**fields):
    from islp_ch10.lab_defaults import LabConfig as Lab

    base = {"task": "binary", "epochs": 20, "batch_size": 300, "validation": 2000, "metric": "accuracy"}
    return Lab(**(base | {"source": "notes 1548-1551 (a cell)"} | fields))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"task": "ranking"}, "task must be one of"),
        ({"epochs": 0}, "epochs must be an integer >= 1, got 0"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
        ({"validation": 1.5}, "validation as a fraction must lie strictly between 0 and 1"),
        ({"task": "multiclass"}, "task 'multiclass' needs num_classes"),
        ({"task": "multiclass", "num_classes": 1}, "num_classes must be an integer >= 2, got 1"),
        ({"optimizer": "lbfgs", "lr": 0.1}, "optimizer"),
        ({"optimizer": "rmsprop"}, r"^give optimizer and lr together, or neither \(SimpleModule's default\)$"),
        ({"lr": 0.001}, r"^give optimizer and lr together, or neither \(SimpleModule's default\)$"),
        ({"source": "ISLP lab, 10.9.5"}, "source must cite the notes' lines .*got 'ISLP lab, 10.9.5'"),
    ],
)
def test_a_labconfig_the_lab_could_not_have_written_is_refused(fields, message):
    """Each field a LabConfig holds is checked when it is built (the recipe check of training, the
    optimiser given with its lr or not at all, a citation of the notes), with one line naming it."""
    with pytest.raises(ValueError, match=message):
        _lab(**fields)


def test_a_labconfig_resolves_its_optimiser_from_the_lab_or_simplemodule():
    """An optimiser the lab names is used with its lr; none named: SimpleModule's default, read
    from the installed ISLP (RMSprop at lr 0.01 in the notes' versions)."""
    from islp_ch10.lab_defaults import simple_module_optimizer

    assert _lab(optimizer="rmsprop", lr=0.001).resolved_optimizer() == ("rmsprop", 0.001)
    assert _lab(optimizer="adam", lr=1).resolved_optimizer() == ("adam", 1.0)
    default = simple_module_optimizer()
    assert _lab().resolved_optimizer() == (default["optimizer"], float(default["lr"]))


def test_a_labconfigs_optimiser_carries_its_lr_and_weight_decay():
    """``make_optimizer`` builds the resolved optimiser over the parameters with the config's lr and
    weight decay (the ridge arm's 1e-4 reaches torch)."""
    import torch

    params = [torch.nn.Parameter(torch.zeros(2))]
    opt = _lab(optimizer="sgd", lr=0.05, weight_decay=1e-4).make_optimizer(params)
    assert isinstance(opt, torch.optim.SGD)
    assert opt.param_groups[0]["lr"] == 0.05 and opt.param_groups[0]["weight_decay"] == 1e-4
    assert opt.param_groups[0]["params"][0] is params[0]
    default = _lab().make_optimizer([torch.nn.Parameter(torch.zeros(1))])
    assert type(default) is torch.optim.RMSprop and default.param_groups[0]["weight_decay"] == 0.0
