"""One ``islp-ch10 reproduce`` run: each experiment and seed measured and saved the moment it ends,
then the report rebuilt from every measurement in the output folder.

The command line checks everything first and holds the folder's lock (:mod:`islp_ch10.outdir`);
:class:`Reproduction` does the work inside it: :meth:`~Reproduction.measure` runs the pairs (an
experiment whose data is absent is skipped with its reason, the first failure stops the run, Ctrl-C
is :class:`~islp_ch10.errors.Interrupted` with the count kept), :meth:`~Reproduction.finish`
rebuilds the report and says what happened.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

from islp_ch10 import errors
from islp_ch10.errors import Interrupted, InterruptGuard

if TYPE_CHECKING:
    from islp_ch10.lab_defaults import RunSettings


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

    def measure(self, todo: list[tuple[str, int]]) -> None:
        """Run each pair, saving its measurements the moment it ends; stop at the first failure."""
        from islp_ch10.data import DataMissing
        from islp_ch10.report import MEASUREMENTS

        missing: set[str] = set()
        with InterruptGuard() as guard:
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
                        raise Interrupted(self.new, str(self.out / MEASUREMENTS)) from exc
                    self.failure = exc
                    print(f"    failed: {type(exc).__name__}: {exc}", flush=True)
                    break

    def _one(self, name: str, settings: RunSettings) -> None:
        from islp_ch10 import experiments
        from islp_ch10.outdir import save_or_rescue

        t0 = time.perf_counter()
        measurements = experiments.run(name, settings)
        self.by_products.update({k: v for m in measurements for k, v in m.in_memory.items()})
        records = [m.to_json() for m in measurements]
        meta = {"path": settings.path, "wall_time_s": time.perf_counter() - t0}
        save_or_rescue(self.out, name, settings.seed, records, meta)
        self.new += len(records)
        for r in records:
            label = r["claim"] + (f" [{r['part']}]" if r.get("part") else "")
            print(f"    {label}: {r['metric']} = {r['value']:.4f}", flush=True)
        print(f"    done in {time.perf_counter() - t0:.1f} s", flush=True)

    def finish(self) -> int:
        """Rebuild the report from every measurement in the folder and say what happened."""
        from islp_ch10 import report

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
        written = report.rebuild(self.out, double_descent=dd, wall_time=wall, skipped=self.skipped)
        if self.failure is not None:
            err = errors.classify(self.failure)
            err.args = (
                f"{err} -- {self.new} measurement(s) of this run kept in {self.out / report.MEASUREMENTS}, "
                f"report rebuilt; fix it and rerun with --resume",
            )
            raise err from self.failure
        failed = written.below_threshold
        print(
            f"wrote {written.report} and {written.results} in {time.perf_counter() - self.start:.0f} s; {self.new} "
            f"new measurement(s), {len(written.rows)} figure(s), {len(failed)} below threshold, "
            f"{len(self.skipped)} skipped for data"
        )
        return errors.BELOW_THRESHOLD if failed else errors.OK
