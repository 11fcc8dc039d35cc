"""The lab's configuration checked against the notes' own code lines.

A :class:`~islp_ch10.lab_defaults.LabConfig` cites the notes' lines it comes from (``source``:
``"notes 721-727 (...), 735-736 (...)"``).  This module reads those lines from the notes at test
time (the notes are never copied into the project), finds what the lab's code states there
(:func:`lab_statements`: ``max_epochs=``, ``batch_size=``, ``validation=``, the optimiser and its
``lr``, ``SimpleModule.<task>``, ``num_classes=``, ``metrics=``) and compares every field of the
LabConfig with it (:func:`check_lab_config`).  What the lab leaves implicit is compared with the
libraries' own defaults, read from the installed ISLP and torch (:func:`library_defaults`).

==========================  ===============================================================
:func:`find_notes`          ``$ISLP_CH10_NOTES``, else ``../shared/spec/`` beside a checkout
:func:`cited_lines`         the line numbers a ``source`` string cites
:func:`lab_statements`      what the code on those lines states, field by field, with spans
:func:`check_lab_config`    every field compared; raises :class:`NotesMismatch` naming each
==========================  ===============================================================
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOTES_FILE = "chapter10-notes.zh.txt"
NOTES_ENV = "ISLP_CH10_NOTES"
HOW_TO = (
    f"the notes are not part of the project: put {NOTES_FILE} in ../shared/spec/ beside the checkout, "
    f"or set {NOTES_ENV}=/path/to/{NOTES_FILE}"
)

# SimpleModule's constructor per LabConfig task
CONSTRUCTOR_TASK = {"regression": "regression", "binary_classification": "binary", "classification": "multiclass"}

# Every LabConfig field this module checks (``loss`` is derived from ``task``; ``source`` is the citation).
FIELDS = (
    *("task", "loss", "epochs", "batch_size", "validation"),
    *("optimizer", "lr", "weight_decay", "num_classes", "metric"),
)


class NotesMismatch(AssertionError):
    """A LabConfig that disagrees with the notes' lines it cites (or cites too few of them)."""

    def __init__(self, problems: Mapping[str, str]):
        self.problems = dict(problems)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.problems.items()))


# ----------------------------------------------------------------------------- reading the notes
def find_notes(checkout: str | os.PathLike) -> Path | None:
    """The notes file: ``$ISLP_CH10_NOTES`` if set, else ``<checkout>/../shared/spec/<NOTES_FILE>``
    if it exists, else ``None``."""
    named = os.environ.get(NOTES_ENV)
    if named:
        return Path(named)
    candidate = Path(checkout).resolve().parent / "shared" / "spec" / NOTES_FILE
    return candidate if candidate.is_file() else None


def read_notes(path: str | os.PathLike) -> dict[int, str]:
    """The notes' lines by 1-based number."""
    text = Path(path).read_text(encoding="utf-8")
    return dict(enumerate(text.splitlines(), start=1))


_PAREN = re.compile(r"\([^()]*\)")
_RANGE = re.compile(r"(?:^notes\s+|[,;]\s*|\bnotes\s+)(\d+)(?:\s*-\s*(\d+))?(?![\w.])")


def cited_lines(source: str) -> tuple[int, ...]:
    """The line numbers ``source`` cites: ``"notes 721-727 (batch 32), 735 (...)"`` gives 721..727, 735.

    Parenthesised remarks are dropped first, so the numbers inside them (``(batch 32)``) are not
    citations; a range is a number after ``notes``, a comma or a semicolon.
    """
    text = source
    while _PAREN.search(text):
        text = _PAREN.sub("", text)
    out: list[int] = []
    for m in _RANGE.finditer(text):
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ValueError(f"backwards range {lo}-{hi} in {source!r}")
        out.extend(range(lo, hi + 1))
    return tuple(sorted(set(out)))


# ----------------------------------------------------------------------------- what the lab's code states
@dataclass(frozen=True)
class Statement:
    """One thing the cited code states: ``value`` of ``field`` at ``line``; ``span`` (character
    offsets within that line) is the literal that says it, ``None`` where nothing is written
    (an implicit default)."""

    field: str
    value: Any
    line: int | None
    span: tuple[int, int] | None = None


_NUMBER = r"\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"
_SIMPLE = {
    "epochs": re.compile(r"\bmax_epochs\s*=\s*(\d+)"),
    "batch_size": re.compile(r"\bbatch_size\s*=\s*(\d+)"),
    "validation": re.compile(rf"\bvalidation\s*=\s*({_NUMBER}|[A-Za-z_]\w*)"),
    "num_classes": re.compile(r"\bnum_classes\s*=\s*(\d+)"),
    "weight_decay": re.compile(rf"\bweight_decay\s*=\s*({_NUMBER})"),
}
_CTOR = re.compile(r"\bSimpleModule\.(\w+)\s*\(")
_DATAMODULE = re.compile(r"\bSimpleDataModule\s*\(\s*(\w+)\s*,\s*(\w+)")
_OPT_ARG = re.compile(r"\boptimizer\s*=\s*(\w+)")
# an optimiser built over a model's parameters: ``name = RMSprop(model.parameters(), lr=0.001)``
_OPT_BUILD = re.compile(r"(?:\b(\w+)\s*=\s*)?\b([A-Z]\w*)\s*\(\s*[\w.]+\.parameters\(\)")
_LR = re.compile(rf"\blr\s*=\s*({_NUMBER})")
_METRICS = re.compile(r"\bmetrics\s*=\s*\{([^}]*)\}")
_METRIC_KEY = re.compile(r"""['"](\w+)['"]\s*:""")


def _number(text: str) -> int | float:
    return int(text) if re.fullmatch(r"\d+", text) else float(text)


class _Code:
    """The cited lines joined, comments dropped, with offsets mapped back to (line, column)."""

    def __init__(self, lines: Mapping[int, str]):
        self.starts: list[tuple[int, int]] = []  # (offset in text, line number)
        parts, offset = [], 0
        for number in sorted(lines):
            code = lines[number].split("#", 1)[0]
            self.starts.append((offset, number))
            parts.append(code)
            offset += len(code) + 1
        self.text = "\n".join(parts)

    def where(self, offset: int) -> tuple[int, int]:
        """``(line number, column)`` of a text offset."""
        line_start, number = max((s for s in self.starts if s[0] <= offset), key=lambda s: s[0])
        return number, offset - line_start

    def statement(self, name: str, value: Any, m: re.Match, group: int = 1) -> Statement:
        number, col = self.where(m.start(group))
        return Statement(name, value, number, (col, col + len(m.group(group))))

    def call_args(self, open_paren: int) -> tuple[int, int]:
        """``(start, end)`` offsets of the arguments of the call whose ``(`` is at ``open_paren``;
        ``end`` is ``-1`` where the call runs past the cited lines."""
        depth = 0
        for i in range(open_paren, len(self.text)):
            depth += {"(": 1, ")": -1}.get(self.text[i], 0)
            if depth == 0:
                return open_paren + 1, i
        return open_paren + 1, -1


def _lr(code: _Code, open_paren: int) -> re.Match | None:
    """The ``lr=`` argument of the optimiser call whose ``(`` is at ``open_paren``, if given."""
    start, end = code.call_args(open_paren)
    return _LR.search(code.text, start, len(code.text) if end < 0 else end)


def lab_statements(lines: Mapping[int, str]) -> dict[str, list[Statement]]:
    """What the lab's code on ``lines`` states, per :data:`FIELDS` name (empty list: not stated).

    ``optimizer``/``lr`` are stated as ``None`` (no span, the line of the ``SimpleModule`` call)
    where the lab builds its module with no optimiser; ``validation`` is ``"test"`` where it names
    the data module's test set, ``"dataset <name>"`` for any other data set; ``metric`` lists every
    key of a ``metrics={...}`` argument.  A ``optimizer=<name>`` whose construction is not among
    the lines is stated as ``"<name> (built outside the cited lines)"``.
    """
    code = _Code(lines)
    text = code.text
    found: dict[str, list[Statement]] = {f: [] for f in FIELDS}
    test_sets = {m.group(2): m.group(1) for m in _DATAMODULE.finditer(text)}  # test name -> train name
    for name, rx in _SIMPLE.items():
        for m in rx.finditer(text):
            raw = m.group(1)
            if name == "validation" and not raw[0].isdigit():
                value: Any = "test" if raw in test_sets else f"dataset {raw}"
            else:
                value = _number(raw)
            found[name].append(code.statement(name, value, m))
    builds = {}  # variable name -> (class match, lr match or None)
    for m in _OPT_BUILD.finditer(text):
        builds[m.group(1)] = (m, _lr(code, text.index("(", m.start(2))))
    for m in _CTOR.finditer(text):
        found["task"].append(code.statement("task", CONSTRUCTOR_TASK.get(m.group(1), m.group(1)), m))
        start, end = code.call_args(m.end() - 1)
        line = code.where(m.start())[0]
        unfinished = end < 0
        end = len(text) if unfinished else end
        for mm in _METRICS.finditer(text, start, end):
            for key in _METRIC_KEY.finditer(text, mm.start(1), mm.end(1)):
                found["metric"].append(code.statement("metric", key.group(1), key))
        opt = _OPT_ARG.search(text, start, end)
        if opt is None and unfinished:  # its optimiser argument may be on a line not cited
            said = f"the SimpleModule call at line {line} unfinished (cite it to its closing parenthesis)"
            found["optimizer"].append(Statement("optimizer", said, line))
            found["lr"].append(Statement("lr", said, line))
            continue
        if opt is None:  # no optimiser: SimpleModule's default
            found["optimizer"].append(Statement("optimizer", None, line))
            found["lr"].append(Statement("lr", None, line))
            continue
        inline = _OPT_BUILD.match(text, opt.start(1))
        build = (inline, _lr(code, text.index("(", inline.start(2)))) if inline else builds.get(opt.group(1))
        if build is None:
            stated = f"{opt.group(1)} (built outside the cited lines)"
            found["optimizer"].append(code.statement("optimizer", stated, opt))
            continue
        cls, lr = build
        found["optimizer"].append(code.statement("optimizer", cls.group(2).lower(), cls, 2))
        if lr is not None:
            found["lr"].append(code.statement("lr", _number(lr.group(1)), lr))
        else:  # built with no lr: the class's own default
            found["lr"].append(Statement("lr", f"{cls.group(2)} default", code.where(cls.start(2))[0]))
    return found


# ----------------------------------------------------------------------------- the libraries' defaults
@dataclass(frozen=True)
class LibraryDefaults:
    """What ISLP's ``SimpleModule`` and torch do where the lab says nothing.

    ``optimizer``: the class SimpleModule builds when given none; ``signature``: every default of
    each optimiser class's ``__init__`` (``inspect.signature``); ``built_lr``: the lr SimpleModule's
    own optimiser ends up with; ``losses``/``metrics``: per constructor, its loss class and
    default metric names.
    """

    optimizer: str
    signature: Mapping[str, Mapping[str, Any]]
    built_lr: float
    losses: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def lr(self) -> float:
        """SimpleModule's default lr, as torch's signature of its optimiser class gives it."""
        return self.signature[self.optimizer]["lr"]

    def default(self, optimizer: str, name: str) -> Any:
        return self.signature[optimizer][name]


def signature_defaults(cls) -> dict[str, Any]:
    """The numeric and boolean defaults of ``cls.__init__``'s signature (an optimiser's lr, weight decay...)."""
    return {
        p.name: p.default
        for p in inspect.signature(cls).parameters.values()
        if p.default is not inspect.Parameter.empty and isinstance(p.default, (int, float, bool))
    }


def library_defaults() -> LibraryDefaults:
    """Read from the installed ISLP and torch (a few milliseconds)."""
    import torch
    from ISLP.torch import SimpleModule

    signature = {
        name.lower(): signature_defaults(cls)
        for name, cls in vars(torch.optim).items()
        if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer
    }
    losses, metrics, built = {}, {}, None
    for ctor in CONSTRUCTOR_TASK:
        kwargs = {"num_classes": 2} if ctor == "classification" else {}
        module = getattr(SimpleModule, ctor)(torch.nn.Linear(1, 1), **kwargs)
        losses[ctor] = type(module.loss).__name__
        metrics[ctor] = tuple(module.metrics or ())
        opt = module.configure_optimizers()
        opt = opt[0] if isinstance(opt, (list, tuple)) else opt
        built = built or opt
    return LibraryDefaults(
        optimizer=type(built).__name__.lower(),
        signature=signature,
        built_lr=float(built.param_groups[0]["lr"]),
        losses=losses,
        metrics=metrics,
    )


# ----------------------------------------------------------------------------- the check
@dataclass(frozen=True)
class Checked:
    """One field compared: ``value`` (the LabConfig's), where the expectation came from
    (``"notes"``, ``"library default"`` or ``"deviation"``) and the notes line, if any."""

    field: str
    value: Any
    basis: str
    line: int | None


def _one(found: list[Statement], name: str, lines: tuple[int, ...]) -> Statement:
    values = {repr(s.value) for s in found}
    if not found:
        raise _Missing(f"the cited lines ({_span(lines)}) state no {name}")
    if len(values) > 1:
        raise _Missing(f"the cited lines state several: {', '.join(f'{s.value!r} (line {s.line})' for s in found)}")
    return found[0]


class _Missing(Exception):
    pass


def _span(lines: tuple[int, ...]) -> str:
    return f"{lines[0]}-{lines[-1]}" if lines else "none"


def check_lab_config(
    config,
    notes: Mapping[int, str],
    defaults: LibraryDefaults,
    deviations: Mapping[str, Any] | None = None,
) -> list[Checked]:
    """Compare every field of ``config`` with the notes' lines it cites, or with the libraries'
    defaults where the lab states nothing; return one :class:`Checked` per field.

    ``deviations`` maps a field to the value the project chose where the notes leave it open (the
    ridge arm's weight decay); such a field is compared with that value instead.  Raises
    :class:`NotesMismatch` naming every field that differs or that the cited lines do not state.
    """
    deviations = dict(deviations or {})
    lines = cited_lines(config.source)
    problems: dict[str, str] = {}
    absent = [n for n in lines if n not in notes]
    if not lines or absent:
        raise NotesMismatch({"source": f"{config.source!r} cites lines the notes lack: {absent or 'none cited'}"})
    stated = lab_statements({n: notes[n] for n in lines})
    out: list[Checked] = []

    def compare(name: str, value: Any, expected: Any, basis: str, line: int | None) -> None:
        if name in deviations:
            expected, basis, line = deviations.pop(name), "deviation", None
        if type(value) is not type(expected) or value != expected:
            where = f"line {line}" if line else basis
            problems[name] = f"the LabConfig has {value!r}, {where} states {expected!r}"
        out.append(Checked(name, value, basis, line))

    def from_notes(name: str, value: Any) -> Statement | None:
        try:
            s = _one(stated[name], name, lines)
        except _Missing as e:
            problems[name] = str(e)
            return None
        compare(name, value, s.value, "notes", s.line)
        return s

    for name in ("epochs", "batch_size", "validation"):
        from_notes(name, getattr(config, name))
    ctor = None
    try:
        task = _one(stated["task"], "SimpleModule.<task>(...) call", lines)
        ctor = next((c for c, t in CONSTRUCTOR_TASK.items() if t == task.value), None)
        compare("task", config.task, task.value, "notes", task.line)
        if ctor is None:
            problems["loss"] = f"SimpleModule.{task.value} is no constructor this project knows"
        else:
            compare("loss", config.loss, defaults.losses[ctor], f"SimpleModule.{ctor}'s loss", task.line)
    except _Missing as e:
        problems["task"] = problems["loss"] = str(e)
    if stated["num_classes"]:
        from_notes("num_classes", config.num_classes)
    else:
        compare("num_classes", config.num_classes, None, "notes (none stated)", None)
    named = {s.value for s in stated["metric"]}
    metric_line = next((s.line for s in stated["metric"] if s.value == config.metric), None)
    library = set(defaults.metrics.get(ctor, ())) if ctor else set()
    if config.metric in named or config.metric in library:
        out.append(Checked("metric", config.metric, "notes" if metric_line else "library default", metric_line))
    else:
        problems["metric"] = f"the LabConfig has {config.metric!r}; the lab tracks {sorted(named | library)}"
    # the optimiser: stated in the notes, or SimpleModule's default
    try:
        opt = _one(stated["optimizer"], "optimiser (SimpleModule call)", lines)
        lr = _one(stated["lr"], "lr", lines)
    except _Missing as e:
        problems["optimizer"] = str(e)
        opt = lr = None
    if opt is not None and opt.value is None:
        compare("optimizer", config.optimizer, None, "notes (no optimiser: SimpleModule's default)", opt.line)
        compare("lr", config.lr, None, "notes (no optimiser: SimpleModule's default)", opt.line)
        resolved = config.resolved_optimizer()
        if resolved != (defaults.optimizer, defaults.lr):
            problems["resolved default"] = (
                f"resolved_optimizer() gives {resolved!r}; SimpleModule builds {defaults.optimizer} "
                f"with torch's signature default lr {defaults.lr!r}"
            )
        optimizer_class = defaults.optimizer
    elif opt is not None and opt.value not in defaults.signature:  # the lines cut the optimiser off
        problems["optimizer"] = problems["lr"] = f"the cited lines state {opt.value!r}"
        optimizer_class = config.optimizer or defaults.optimizer
    elif opt is not None:
        compare("optimizer", config.optimizer, opt.value, "notes", opt.line)
        if isinstance(lr.value, str):  # the lab builds it without an lr: the class's own default
            expected_lr = defaults.signature.get(opt.value, {}).get("lr")
            compare("lr", config.lr, expected_lr, f"{opt.value}'s signature default", lr.line)
        else:
            compare("lr", config.lr, lr.value, "notes", lr.line)
        optimizer_class = opt.value
    else:
        optimizer_class = config.optimizer or defaults.optimizer
    if stated["weight_decay"]:
        from_notes("weight_decay", config.weight_decay)
    else:
        wd = defaults.signature.get(optimizer_class, {}).get("weight_decay")
        if wd is None:
            problems["weight_decay"] = f"torch has no optimiser {optimizer_class!r} with a weight_decay default"
        else:
            basis = f"{optimizer_class}'s signature default"
            compare("weight_decay", float(config.weight_decay), float(wd), basis, None)
    if deviations:
        problems["deviations"] = f"declared for fields the check never compared: {sorted(deviations)}"
    if problems:
        raise NotesMismatch(problems)
    return out
