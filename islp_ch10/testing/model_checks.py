"""A reusable spec applied to every chapter model (in the manner of scikit-learn's estimator checks).

Each check is a plain function ``check_<property>(spec)`` taking a :class:`~islp_ch10.models.ModelSpec`;
it builds its own seeded model and input and fails with a message naming the model and the
property.  :func:`parametrize_with_model_checks` turns the registry into ``(spec, check)`` pairs
with ids like ``MNISTMLP-check_bad_shape_raises``.
"""

from __future__ import annotations

import io
from typing import Callable, Iterable

import pytest
import torch

from islp_ch10 import claims
from islp_ch10.models import MODELS, ModelSpec, count_parameters

# {model name: {check name: reason}} -> strict xfail.  Empty: every model meets every check.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {}


def _seeded(spec: ModelSpec) -> torch.nn.Module:
    torch.manual_seed(0)
    return spec.build()


def check_param_count(spec: ModelSpec) -> None:
    """The parameter count equals the book's figure, where the chapter states one."""
    expected = claims.book_value(spec.param_claim)
    got = count_parameters(spec.build())
    assert got == expected, f"{spec.name}: {got} parameters, the book ({spec.param_claim}) says {expected}"


def check_output_shape(spec: ModelSpec) -> None:
    model = _seeded(spec).eval()
    out = model(spec.example_input(batch=3))
    assert out.shape[0] == 3 and out.dim() in (1, 2), f"{spec.name}: output shape {tuple(out.shape)}"
    assert torch.isfinite(out).all(), f"{spec.name}: non-finite output"


def check_bad_shape_raises(spec: ModelSpec) -> None:
    """A wrong trailing shape is refused with a ValueError naming the expected shape."""
    model = _seeded(spec)
    good = spec.example_input(batch=2)
    bad = good[..., :-1] if spec.input_kind == "float" else good.unsqueeze(-1)
    with pytest.raises(ValueError, match=r"shape"):
        model(bad)


def check_bad_dtype_raises(spec: ModelSpec) -> None:
    model = _seeded(spec)
    good = spec.example_input(batch=2)
    bad = good.to(torch.float32) if spec.input_kind == "tokens" else (good * 255).to(torch.uint8)
    with pytest.raises(ValueError, match=r"dtype"):
        model(bad)


def check_grad_reaches_every_parameter(spec: ModelSpec) -> None:
    model = _seeded(spec).train()
    out = model(spec.example_input(batch=4))
    out.float().pow(2).sum().backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert not dead, f"{spec.name}: no gradient reached {dead}"


def check_eval_disables_dropout(spec: ModelSpec) -> None:
    """In eval mode two passes agree exactly; with dropout in train mode they differ."""
    model = _seeded(spec)
    x = spec.example_input(batch=8)
    model.eval()
    assert torch.equal(model(x), model(x)), f"{spec.name}: eval mode is not deterministic"
    if spec.has_dropout:
        model.train()
        torch.manual_seed(1)
        a = model(x)
        b = model(x)
        assert not torch.equal(a, b), f"{spec.name}: dropout has no effect in train mode"


def check_cpu_rerun_bit_identical(spec: ModelSpec) -> None:
    """Same seed, same input, same training step: bit-identical weights on the CPU (10.9/determinism)."""
    def one_step() -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        model = spec.build().train()
        opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
        out = model(spec.example_input(batch=4))
        out.float().pow(2).mean().backward()
        opt.step()
        return {k: v.clone() for k, v in model.state_dict().items()}

    a, b = one_step(), one_step()
    diff = [k for k in a if not torch.equal(a[k], b[k])]
    assert not diff, f"{spec.name}: reruns differ in {diff}"


def check_state_dict_roundtrip(spec: ModelSpec) -> None:
    model = _seeded(spec).eval()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(123)
    clone = spec.build().eval()
    clone.load_state_dict(torch.load(buffer, weights_only=True))
    x = spec.example_input(batch=2)
    assert torch.equal(model(x), clone(x)), f"{spec.name}: outputs differ after a state_dict round trip"


MODEL_CHECKS: tuple[Callable[[ModelSpec], None], ...] = (
    check_param_count,
    check_output_shape,
    check_bad_shape_raises,
    check_bad_dtype_raises,
    check_grad_reaches_every_parameter,
    check_eval_disables_dropout,
    check_cpu_rerun_bit_identical,
    check_state_dict_roundtrip,
)


def parametrize_with_model_checks(names: Iterable[str] | None = None):
    """``pytest.mark.parametrize`` over every (model, check) pair, expected failures as strict xfails."""
    params = []
    for name in names or MODELS:
        for check in MODEL_CHECKS:
            if check is check_param_count and MODELS[name].param_claim is None:
                continue  # no book figure; counted from the layer sizes in test_10_9_lab.py
            reason = EXPECTED_FAILED_CHECKS.get(name, {}).get(check.__name__)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(MODELS[name], check, id=f"{name}-{check.__name__}", marks=marks))
    return pytest.mark.parametrize("spec, check", params)
