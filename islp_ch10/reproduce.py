"""One ``islp-ch10 reproduce`` run: each experiment and seed measured and saved the moment it ends,
then the report rebuilt from every measurement in the output folder.

The command line checks everything first and holds the folder's lock (:mod:`islp_ch10.outdir`);
:func:`plan` reads every measurement file already in the folder (each checked against its schema)
and decides what to measure; :class:`Reproduction` does the work inside the lock:
:meth:`~Reproduction.measure` runs the pairs (an experiment whose data is absent is skipped with
its reason, the first failure stops the run, Ctrl-C or SIGTERM is
:class:`~islp_ch10.errors.Interrupted` with the count kept), :meth:`~Reproduction.finish` rebuilds
the report and says what happened.

Scratch files (Lightning's logs, every temporary folder of the fits) live in one ``OUT/.logs-*``
folder (:func:`islp_ch10.outdir.scratch`) removed on every exit; one left by a run that was killed
(``kill -9``) is removed by the next run on the folder, under the lock.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from islp_ch10 import errors
from islp_ch10.errors import InterruptGuard

if TYPE_CHECKING:
    from islp_ch10.lab_defaults import RunSettings


def plan(
    out: Path, pairs: list[tuple[str, int]], settings: RunSettings, resume: bool, log: Callable[[str], None] = print
) -> list[tuple[str, int]]:
    """The pairs still to measure, after reading every measurement file already in ``out``.

    Each file is checked against its schema before anything is trained.  A damaged file this run
    will write again is re-measured (with a note); one it will not write is refused
    (:class:`~islp_ch10.schemas.DamagedFile`, exit 4), since the report is rebuilt from every file.
    With ``resume`` a pair is skipped only when its file is whole and was measured with the same
    path, accelerator and devices (:data:`islp_ch10.report.SETTINGS_KEYS`); otherwise it is measured
    again, with a note saying why."""
    from islp_ch10 import report
    from islp_ch10.schemas import DamagedFile

    wanted = set(pairs)
    key = report.settings_key(settings)
    done: set[tuple[str, int]] = set()
    for pair, path in report.measurement_files(out).items():
        try:
            payload = report.read_measurement_file(path)
        except DamagedFile as exc:
            if pair not in wanted:
                raise
            log(f"note: {exc.path.name} is damaged ({exc.reason}); measuring {pair[0]} seed {pair[1]} again")
            continue
        if not resume or pair not in wanted:
            continue
        had = report.file_settings(payload)
        if had == key:
            done.add(pair)
        else:
            diff = ", ".join(f"{k} {had[k]} -> {key[k]}" for k in report.SETTINGS_KEYS if had[k] != key[k])
            log(f"note: {pair[0]} seed {pair[1]} was measured with other settings ({diff}); measuring it again")
    if done:
        log(f"resuming: {len(done)} experiment/seed pair(s) already measured in {out / report.MEASUREMENTS}")
    return [p for p in pairs if p not in done]


@dataclasses.dataclass
class Reproduction:
    """One reproduce run's progress: what was measured, skipped for data, or failed."""

    out: Path
    settings: RunSettings  # what every experiment/seed pair starts from (its seed replaced)
    resumed: int = 0
    new: int = 0
    skipped: list[dict] = dataclasses.field(default_factory=list)
    failure: BaseException | None = None
    by_products: dict = dataclasses.field(default_factory=dict)  # e.g. double-descent curves, for plots
    start: float = dataclasses.field(default_factory=time.perf_counter)
    rescue_dir: str = dataclasses.field(default_factory=tempfile.gettempdir)  # the system's, not the scratch

    def measure(self, todo: list[tuple[str, int]]) -> None:
        """Run each pair, saving its measurements the moment it ends; stop at the first failure."""
        from islp_ch10.data import DataMissing
        from islp_ch10.report import MEASUREMENTS

        missing: set[str] = set()
        from islp_ch10.outdir import scratch

        # every temporary file of the run (Lightning's, the fits') lives in one scratch folder under
        # OUT, which the next run removes if this one is killed
        with scratch(self.out), InterruptGuard() as guard:
            for step, (name, seed) in enumerate(todo, 1):
                if name in missing:
                    continue
                print(f"[{step}/{len(todo)}] {name} seed {seed} ({self.settings.path} path) ...", flush=True)
                try:
                    self._one(name, dataclasses.replace(self.settings, seed=seed))
                except DataMissing as exc:
                    print(f"    skipped: {exc}", flush=True)
                    self.skipped.append({"experiment": name, "reason": str(exc)})
                    missing.add(name)
                except BaseException as exc:
                    if guard.was_interrupt(exc):
                        raise guard.interrupted(self.new, str(self.out / MEASUREMENTS), exc) from exc
                    self.failure = exc
                    print(f"    failed: {type(exc).__name__}: {exc}", flush=True)
                    break

    def _one(self, name: str, settings: RunSettings) -> None:
        from islp_ch10 import experiments, report
        from islp_ch10.outdir import save_or_rescue

        t0 = time.perf_counter()
        measurements = experiments.run(name, settings)
        self.by_products.update({k: v for m in measurements for k, v in m.in_memory.items()})
        records = [m.to_json() for m in measurements]
        wall = time.perf_counter() - t0
        meta = {"path": settings.path, "settings": report.settings_key(settings), "wall_time_s": wall}
        save_or_rescue(self.out, name, settings.seed, records, meta, self.rescue_dir)
        self.new += len(records)
        for r in records:
            label = r["claim"] + (f" [{r['part']}]" if r.get("part") else "")
            print(f"    {label}: {r['metric']} = {r['value']:.4f}", flush=True)
        print(f"    done in {time.perf_counter() - t0:.1f} s", flush=True)

    def finish(self) -> int:
        """Rebuild the report from every measurement in the folder and say what happened."""
        from islp_ch10 import report
        from islp_ch10.schemas import DamagedFile

        if not self.new and not self.resumed:
            if self.failure is not None:
                raise self.failure
            if self.skipped:
                names = ", ".join(s["experiment"] for s in self.skipped)
                raise errors.DataMissingError(
                    f"no experiment could run, data missing for {names}: {self.skipped[0]['reason']}"
                )
        dd = self.by_products.get("double_descent")
        wall = time.perf_counter() - self.start
        kept = f"{self.new} measurement(s) of this run kept in {self.out / report.MEASUREMENTS}"
        try:
            written = report.rebuild(self.out, double_descent=dd, wall_time=wall, skipped=self.skipped)
        except (OSError, DamagedFile) as exc:  # e.g. the disk filled up: what was measured is kept all the same
            err = errors.classify(self.failure or exc)
            err.args = (f"{err} -- {kept}, report not rebuilt; fix it and rerun with --resume",)
            raise err from exc
        if self.failure is not None:
            err = errors.classify(self.failure)
            err.args = (f"{err} -- {kept}, report rebuilt; fix it and rerun with --resume",)
            raise err from self.failure
        failed = written.below_threshold
        print(
            f"wrote {written.report} and {written.results} in {time.perf_counter() - self.start:.0f} s; {self.new} "
            f"new measurement(s), {len(written.rows)} figure(s), {len(failed)} below threshold, "
            f"{len(self.skipped)} skipped for data"
        )
        return errors.BELOW_THRESHOLD if failed else errors.OK
