"""One schema per kind of file the package reads back, and the one way to read them.

The files a run writes and a later run reads (a measurement file, ``results.json``, the claim
outcomes ``pytest --claims-report`` writes, a sweep artifact) are checked against a pydantic (v2)
model before anything uses them: :func:`read` parses the bytes, validates them in strict mode
(no string-to-number coercion), and raises :class:`DamagedFile` naming the file, the first bad
field and what to do.  Every figure must be a finite number and every claim ID must be in the
catalogue, so a NaN median or a renamed claim is refused before a table is printed or a run is
counted as done.  The models allow extra fields: they state what a reader relies on, not every
key a writer adds.

pydantic was chosen over jsonschema because the readers are Python, the models double as the
readable documentation of each file, and finiteness and catalogue membership are one-line
validators; the floor (``pydantic>=2.0``, pinned in tox's lower env) keeps the oldest supported
environment installable, and only features of 2.0 are used (the fault tests pass on 2.0 and 2.14).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, ValidationError

__all__ = [
    "ClaimOutcomes",
    "DamagedFile",
    "MeasurementFile",
    "Results",
    "SweepArtifact",
    "read",
]

Finite = Annotated[float, Field(allow_inf_nan=False)]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]


class DamagedFile(ValueError):
    """A file the package wrote earlier no longer has its schema: truncated, edited or from elsewhere."""

    def __init__(self, what: str, path: Path, reason: str, todo: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{what} {path} is damaged ({reason}); {todo}")


def _known_claim(cid: str) -> str:
    from islp_ch10 import claims

    if cid not in claims.catalogue():
        raise ValueError(f"claim {cid!r} is not in the catalogue")
    return cid


ClaimID = Annotated[str, AfterValidator(_known_claim)]


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


# ----------------------------------------------------------------------------- measurement files
class Measurement(_Model):
    """One measured figure (``experiments.Measurement.to_json()``, slimmed)."""

    claim: ClaimID
    metric: str
    value: Finite
    part: str | None = None
    seed: Seed | None = None
    epochs: Annotated[int, Field(ge=0)] | None = None
    raw: dict[str, Any] = {}
    history: list[dict[str, Any]] = []


class MeasurementFile(_Model):
    """``OUT/measurements/<experiment>-seed<N>.json``: one experiment and seed."""

    experiment: str
    seed: Seed
    measurements: Annotated[list[Measurement], Field(min_length=1)]
    settings: dict[str, Any] | None = None  # what the figures depend on (path, accelerator, devices)


# ----------------------------------------------------------------------------- results.json
class SummaryRow(_Model):
    claim: ClaimID
    part: str | None = None
    metric: str
    median: Finite
    values: list[Finite]
    verdict: Literal["pass", "FAIL", "n/a"]
    threshold: Finite | None = None
    direction: str | None = None


class Results(_Model):
    """``OUT/results.json`` (what ``islp-ch10 claims --results`` reads)."""

    summary: list[SummaryRow]
    measurements: list[Measurement] = []


# ----------------------------------------------------------------------------- claim outcomes
class Outcome(_Model):
    test: str
    outcome: Literal["passed", "failed", "skipped", "xfailed", "error"]


class ClaimOutcomes(RootModel[dict[ClaimID, list[Outcome]]]):
    """``pytest --claims-report PATH``: ``{claim id: [{"test", "outcome"}]}``."""

    model_config = ConfigDict(strict=True)


# ----------------------------------------------------------------------------- sweep artifacts
class SweepRun(_Model):
    seed: Seed
    claim: ClaimID
    part: str | None = None
    metric: str
    value: Finite
    epochs: Annotated[int, Field(ge=0)] | None = None


class SweepArtifact(_Model):
    """``docs/spreads/<experiment>__<machine>__t<threads>.json``: one experiment over seeds."""

    experiment: str
    runs: list[SweepRun]
    machine: dict[str, Any] = {}


# ----------------------------------------------------------------------------- reading
def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(map(str, first["loc"]))
    msg = first["msg"].removeprefix("Value error, ")
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where + ': ' if where else ''}{msg}{more}"


def read(path: Path, model: type[BaseModel], what: str, todo: str) -> Any:
    """The JSON value in ``path`` once it has passed ``model``; :class:`DamagedFile` otherwise.

    ``what`` names the file in the message (``"measurement file"``), ``todo`` says what to do.
    The text is parsed by the standard library (which reads the ``NaN`` and ``Infinity`` that
    Python writes for such figures, so the schema can name them) and then validated in strict
    mode.  An absent or unreadable file raises the usual ``OSError``."""
    raw = Path(path).read_bytes()
    try:
        value = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise DamagedFile(what, path, f"not valid JSON, truncated? {exc}", todo) from None
    try:
        model.model_validate(value, strict=True)
    except ValidationError as exc:
        raise DamagedFile(what, path, _reason(exc), todo) from None
    return value
