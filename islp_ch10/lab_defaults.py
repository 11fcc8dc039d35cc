"""What the lab leaves to library defaults, read from the libraries at run time (never typed).

The notes' lab builds several modules with ``SimpleModule.<task>(model)`` and no optimiser
(e.g. the IMDB LSTM, notes line 1591), so the optimiser is whatever ``ISLP.torch.SimpleModule``
constructs when given none.  :func:`simple_module_optimizer` asks ISLP for it.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=None)
def simple_module_optimizer() -> dict:
    """The optimiser ``SimpleModule`` builds when the lab passes none: class name and defaults.

    Returns ``{"optimizer": "rmsprop", "lr": 0.01, "weight_decay": 0.0, ...}`` as ISLP and torch
    define it in the installed versions.
    """
    import torch
    from ISLP.torch import SimpleModule

    probe = SimpleModule.binary_classification(torch.nn.Linear(1, 1))
    opt = probe.configure_optimizers()
    if isinstance(opt, (list, tuple)):
        opt = opt[0]
    out = {"optimizer": type(opt).__name__.lower()}
    out.update({k: v for k, v in opt.defaults.items() if isinstance(v, (int, float, bool))})
    return out
