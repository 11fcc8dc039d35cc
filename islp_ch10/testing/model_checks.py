"""A reusable spec applied to every chapter model (in the manner of scikit-learn's estimator checks).

Each check is a plain function ``check_<property>(spec)`` taking a :class:`~islp_ch10.models.ModelSpec`;
it builds its own seeded model and input and fails with a message naming the model and the
property.  A check that only makes sense for some networks says so with :func:`applies_to`
(a predicate on the spec: a classifier, a network with a book parameter count ...), never by
model name.  :func:`parametrize_with_model_checks` turns the registry into ``(spec, check)``
pairs with ids like ``MNISTMLP-check_bad_shape_raises``.

The checks pin behaviour, not only size: the ``torchinfo`` summary equals the book's table,
the eval-mode forward equals a numpy evaluation of that table
(:func:`islp_ch10.reference.networks.evaluate`), train-mode dropout rates equal the table's,
classifiers return logits, a seeded output equals a stored file under ``tests/expect/``, and
float64/float16 input is refused.  ``islp_ch10/testing/zoo.py`` holds broken variants that
named checks must reject (``tests/test_model_zoo.py``).
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from islp_ch10 import claims
from islp_ch10.models import MODELS, ModelSpec, count_parameters
from islp_ch10.reference import networks

# {model name: {check name: reason}} -> strict xfail.  Empty: every model meets every check.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {}

#: Seeded-output snapshots (torchvision's ``_assert_expected``): ``ISLP_CH10_ACCEPT=1`` rewrites them.
#: The folder is the suite's ``tests/expect`` (named by the root conftest in ISLP_CH10_EXPECT_DIR, so an
#: installed wheel finds the checkout's files); the source tree's copy otherwise.
EXPECT_DIR = Path(os.environ.get("ISLP_CH10_EXPECT_DIR") or Path(__file__).resolve().parents[2] / "tests" / "expect")
ACCEPT_ENV = "ISLP_CH10_ACCEPT"
MAX_EXPECT_BYTES = 50_000
# float32 snapshots compared across CPUs and BLAS builds: summation order moves the last bits
# (about 1e-6 relative for fan-ins up to 10^4); a changed layer or initialisation moves them by
# 1e-2 or more.
EXPECT_RTOL, EXPECT_ATOL = 1e-4, 1e-5
# torch against numpy, both float64: only the order of summation differs (fan-in <= 10,003, error
# about 1e-13); 1e-9 leaves four orders of magnitude and still sees any change of formula.
NUMPY_RTOL, NUMPY_ATOL = 1e-9, 1e-9


def applies_to(predicate: Callable[[ModelSpec], bool]):
    """Mark a check as meaningful only for specs where ``predicate(spec)`` holds (a capability)."""

    def mark(check):
        check.applies_to = predicate
        return check

    return mark


def is_classifier(spec: ModelSpec) -> bool:
    return spec.task in ("binary", "multiclass")


def _seeded(spec: ModelSpec) -> nn.Module:
    torch.manual_seed(0)
    return spec.build()


def export_weights(model: nn.Module) -> list[np.ndarray]:
    """The model's parameters as float64 numpy arrays, in torch's registration order."""
    return [p.detach().cpu().double().numpy() for p in model.parameters()]


# ----------------------------------------------------------------------------- size and table
def check_param_count(spec: ModelSpec) -> None:
    """The built model has the table's total, and the table's total is the book's figure where the
    chapter states one (the figure lives only in the catalogue)."""
    got = count_parameters(spec.build())
    assert got == spec.param_count, f"{spec.name}: {got} parameters, its table sums to {spec.param_count}"
    if spec.param_claim:
        expected = claims.book_value(spec.param_claim)
        assert spec.param_count == expected, (
            f"{spec.name}: the table sums to {spec.param_count}, the book ({spec.param_claim}) says {expected}"
        )


def summary_rows(model: nn.Module, x: torch.Tensor) -> list[networks.Layer]:
    """The leaf rows ``torchinfo.summary`` lists for ``model`` on ``x``, batch axis dropped."""
    from torchinfo import summary

    stats = summary(model, input_data=x, verbose=0, device="cpu", depth=100)
    return [
        networks.Layer(info.class_name, tuple(info.output_size[1:]), info.num_params)
        for info in stats.summary_list
        if info.is_leaf_layer
    ]


def check_summary_matches_table(spec: ModelSpec) -> None:
    """``torchinfo.summary`` lists the table's leaf layers: types, output shapes, parameters."""
    got = summary_rows(_seeded(spec).eval(), spec.example_input(batch=2))
    expected = list(spec.layers)
    if got != expected:
        lines = [f"  row {i}: summary {g}  table {e}" for i, (g, e) in enumerate(zip(got, expected)) if g != e]
        if len(got) != len(expected):
            lines.append(f"  summary has {len(got)} leaf rows, the table {len(expected)}")
        raise AssertionError(f"{spec.name}: torchinfo summary differs from the book's table\n" + "\n".join(lines))


def check_claims_known(spec: ModelSpec) -> None:
    """Every claim ID the spec names is in the catalogue."""
    known = claims.catalogue()
    unknown = [cid for cid in spec.claims.values() if cid not in known]
    assert not unknown, f"{spec.name}: claims {unknown} are not in islp_ch10/catalogue"


# ----------------------------------------------------------------------------- behaviour
def check_forward_matches_numpy(spec: ModelSpec) -> None:
    """The eval-mode forward (float64) equals the numpy evaluation of the book's table with the
    model's own weights."""
    model = _seeded(spec).double().eval()
    x = spec.example_input(batch=2)
    x = x.double() if spec.input_kind == "float" else x
    with torch.no_grad():
        out = model(x).numpy()
    try:
        ref = networks.evaluate(spec.layers, export_weights(model), x.numpy())
    except ValueError as exc:
        raise AssertionError(f"{spec.name}: the model's weights do not fit the book's table: {exc}") from None
    ref = ref.reshape(x.shape[0], *spec.output_shape)
    assert out.shape == ref.shape, f"{spec.name}: output shape {out.shape}, the book's formula gives {ref.shape}"
    np.testing.assert_allclose(
        out,
        ref,
        rtol=NUMPY_RTOL,
        atol=NUMPY_ATOL,
        err_msg=f"{spec.name}: eval-mode forward differs from the numpy evaluation",
    )


def _dropout_batch(spec: ModelSpec) -> int:
    """A batch giving the narrowest dropout layer at least 4,096 entries to measure on."""
    widths = [math.prod(layer.shape) for layer in spec.layers if layer.kind == "Dropout"]
    return max(8, math.ceil(4096 / min(widths))) if widths else 8


def check_dropout_rates_match_table(spec: ModelSpec) -> None:
    """In train mode each dropout layer of the table is applied, in order, at the table's rate, and
    no other randomness is: measured on the layers' inputs and outputs during one forward pass.

    The rate is read twice from the data: the survivors are scaled by exactly ``1/(1-p)``, and the
    fraction of live inputs zeroed lies within 6 binomial standard errors of ``p``.  With every
    dropout layer set to ``p = 0`` the train-mode output equals the eval-mode output.
    """
    model = _seeded(spec).train()
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    modules = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append((i[0].detach(), o.detach()))) for m in modules]
    x = spec.example_input(batch=_dropout_batch(spec))
    torch.manual_seed(1)
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    assert len(seen) == len(spec.dropout), (
        f"{spec.name}: {len(seen)} dropout layers applied in train mode, "
        f"the table has {len(spec.dropout)} ({spec.dropout})"
    )
    for k, ((a, b), p) in enumerate(zip(seen, spec.dropout)):
        live = a != 0
        kept = live & (b != 0)
        scale = b[kept] / a[kept]
        measured = 1 - 1 / scale.mean().item()
        assert torch.allclose(scale, torch.full_like(scale, 1 / (1 - p)), rtol=1e-5), (
            f"{spec.name}: dropout {k} scales survivors by {scale.mean().item():.4f} (rate {measured:.3f}), "
            f"the table's rate {p} scales by {1 / (1 - p):.4f}"
        )
        n = int(live.sum())
        zeroed = 1 - int(kept.sum()) / n
        bound = 6 * math.sqrt(p * (1 - p) / n)
        assert abs(zeroed - p) <= bound, (
            f"{spec.name}: dropout {k} zeroed {zeroed:.3f} of {n} live inputs, "
            f"the table's rate is {p} (allowed +-{bound:.3f})"
        )
    for m in modules:
        m.p = 0.0
    with torch.no_grad():
        torch.manual_seed(2)
        train_out = model.train()(x)
        eval_out = model.eval()(x)
    assert torch.equal(train_out, eval_out), (
        f"{spec.name}: with its dropout layers at rate 0 the train-mode "
        "output still differs from eval mode (randomness outside nn.Dropout)"
    )


@applies_to(is_classifier)
def check_returns_logits(spec: ModelSpec) -> None:
    """A classifier's output is its last Linear layer's output, untouched (logits: the loss applies
    the sigmoid/softmax), and can leave [0, 1] / need not sum to 1."""
    model = _seeded(spec).eval()
    linear_outputs: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: linear_outputs.append(o.detach()))
        for m in model.modules()
        if isinstance(m, nn.Linear)
    ]
    x = spec.example_input(batch=8)
    with torch.no_grad():
        out = model(x)
    for h in hooks:
        h.remove()
    assert linear_outputs, f"{spec.name}: no Linear layer ran"
    last = linear_outputs[-1]
    assert last.numel() == out.numel() and torch.equal(out, last.reshape(out.shape)), (
        f"{spec.name}: the output is not the last Linear layer's output (a sigmoid/softmax inside "
        "forward turns logits into probabilities; the loss expects logits)"
    )
    output_layer = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        output_layer.weight.mul_(100.0)
        output_layer.bias.add_(50.0)
        big = model(x)
    if spec.task == "binary":
        assert (big.min() < 0) or (big.max() > 1), f"{spec.name}: outputs stay in [0, 1] with large weights"
    else:
        sums = big.sum(dim=1)
        assert not torch.allclose(sums, torch.ones_like(sums)), f"{spec.name}: rows sum to 1 with large weights"


def check_expected_output(spec: ModelSpec) -> None:
    """The seeded eval-mode output on the seeded example input equals ``tests/expect/<name>.npz``."""
    model = _seeded(spec).eval()
    with torch.no_grad():
        out = model(spec.example_input(batch=2))
    assert_expected(out, spec.name)


def assert_expected(out: torch.Tensor, name: str) -> None:
    """Compare ``out`` with the snapshot ``EXPECT_DIR/<name>.npz``; rewrite it when ``ISLP_CH10_ACCEPT=1``."""
    path = EXPECT_DIR / f"{name}.npz"
    node = f"tests/test_model_spec.py::test_model_spec[{name}-check_expected_output]"
    if os.environ.get(ACCEPT_ENV) == "1":
        buffer = io.BytesIO()
        np.savez_compressed(buffer, output=out.detach().cpu().numpy())
        if buffer.tell() > MAX_EXPECT_BYTES:
            raise AssertionError(
                f"{name}: snapshot of {buffer.tell():,} bytes refused (limit "
                f"{MAX_EXPECT_BYTES:,}); snapshot a smaller batch"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buffer.getvalue())
        return
    if not path.exists():
        raise AssertionError(
            f"{name}: no expected output {path}; create it with: {ACCEPT_ENV}=1 python -m pytest '{node}'"
        )
    if path.stat().st_size > MAX_EXPECT_BYTES:
        raise AssertionError(f"{path}: {path.stat().st_size:,} bytes, over the {MAX_EXPECT_BYTES:,}-byte limit")
    with np.load(path) as data:
        expected = torch.from_numpy(data["output"])
    torch.testing.assert_close(
        out.detach().cpu(),
        expected,
        rtol=EXPECT_RTOL,
        atol=EXPECT_ATOL,
        msg=lambda m: (
            f"{name}: seeded output differs from {path.name} (rerun with {ACCEPT_ENV}=1 if the change is intended)\n{m}"
        ),
    )


# ----------------------------------------------------------------------------- input handling
def check_output_shape(spec: ModelSpec) -> None:
    model = _seeded(spec).eval()
    out = model(spec.example_input(batch=3))
    expected = (3, *spec.output_shape)
    assert tuple(out.shape) == expected, f"{spec.name}: output shape {tuple(out.shape)}, expected {expected}"
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


def check_rejects_float64_and_float16(spec: ModelSpec) -> None:
    """float64 and float16 input is refused with a ValueError naming the model and the dtype
    (the policy of islp_ch10.models: never cast silently)."""
    model = _seeded(spec)
    good = spec.example_input(batch=2)
    for dtype in (torch.float64, torch.float16):
        with pytest.raises(ValueError, match=rf"{re.escape(spec.name)}\b.*{re.escape(str(dtype))}"):
            model(good.to(dtype))


# ----------------------------------------------------------------------------- training mechanics
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
    check_summary_matches_table,
    check_claims_known,
    check_forward_matches_numpy,
    check_dropout_rates_match_table,
    check_returns_logits,
    check_expected_output,
    check_output_shape,
    check_bad_shape_raises,
    check_bad_dtype_raises,
    check_rejects_float64_and_float16,
    check_grad_reaches_every_parameter,
    check_eval_disables_dropout,
    check_cpu_rerun_bit_identical,
    check_state_dict_roundtrip,
)
CHECKS_BY_NAME = {check.__name__: check for check in MODEL_CHECKS}


def applicable(check: Callable[[ModelSpec], None], spec: ModelSpec) -> bool:
    """Whether ``check`` applies to ``spec`` (its :func:`applies_to` predicate; every spec by default)."""
    return getattr(check, "applies_to", lambda s: True)(spec)


def parametrize_with_model_checks(names: Iterable[str] | None = None):
    """``pytest.mark.parametrize`` over every applicable (model, check) pair, expected failures as strict xfails."""
    params = []
    for name in names or MODELS:
        for check in MODEL_CHECKS:
            if not applicable(check, MODELS[name]):
                continue
            reason = EXPECTED_FAILED_CHECKS.get(name, {}).get(check.__name__)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(MODELS[name], check, id=f"{name}-{check.__name__}", marks=marks))
    return pytest.mark.parametrize("spec, check", params)
