"""Print the per-seed and per-block figures behind the catalogue's 10.8 spread fields.

    python tools/double_descent_spreads.py

10.8/min-norm-shrinks (the minimum-norm coefficient norm at d = 20/30/40/50 per seed, its trend
and ratio on the median) and 10.8/signal-to-noise (the excess test MSE at d = 20 per noise level
and seed), for the default nine seeds, and both criteria over ten disjoint 9-seed blocks (what
``islp-ch10 sweep double-descent`` seeds 0..9 run).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from islp_ch10.double_descent import (
    DoubleDescentConfig,
    norm_ratio,
    norm_trend,
    run_double_descent,
    spike_by_noise,
)
from islp_ch10.experiments import DOUBLE_DESCENT_BLOCK as BLOCK


def main() -> None:
    """Per-seed and per-block figures of 10.8/min-norm-shrinks and 10.8/signal-to-noise."""
    import dataclasses

    base = DoubleDescentConfig()
    sds = (0.3, 0.1, 0.03, 0.01, 0.0)
    result = run_double_descent(base)
    print("10.8/min-norm-shrinks, seeds", base.seeds)
    for s in range(len(base.seeds)):
        norms = [result.coef_norm[s, result.index(d)] for d in (20, 30, 40, 50)]
        print(f"  seed {base.seeds[s]}: ||coef|| at d = 20/30/40/50: " + " / ".join(f"{v:.3g}" for v in norms))
    print(f"  median: trend {norm_trend(result):.3f}, ratio d=20/d=50 {norm_ratio(result, 50):.2f}")
    print("10.8/signal-to-noise, excess test MSE at d = 20 per seed for sd =", sds)
    for seed in base.seeds:
        cfg = dataclasses.replace(base, seeds=(seed,))
        print(f"  seed {seed}: " + " / ".join(f"{v:.3g}" for v in spike_by_noise(sds, cfg)))
    spikes = spike_by_noise(sds, base)
    print(
        "  median: " + " / ".join(f"{v:.3g}" for v in spikes) + f"; ratio sd 0.3 / sd 0: {spikes[0] / spikes[-1]:.0f}"
    )
    print(f"ten disjoint {BLOCK}-seed blocks (the experiment's seeds 0..9: simulation seeds 0..{10 * BLOCK - 1}):")
    for b in range(10):
        cfg = dataclasses.replace(base, seeds=tuple(range(BLOCK * b, BLOCK * (b + 1))))
        r = run_double_descent(dataclasses.replace(cfg, dfs=tuple(range(20, 51))))
        sp = spike_by_noise(sds, cfg)
        print(
            f"  block {b}: trend {norm_trend(r):.3f}, ratio {norm_ratio(r, 50):.2f}; spike decreasing "
            f"{bool(np.all(np.diff(sp) < 0))}, ratio sd 0.3 / sd 0 {sp[0] / sp[-1]:.0f}"
        )


if __name__ == "__main__":
    main()
