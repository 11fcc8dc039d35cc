"""The per-model spec (islp_ch10/testing/model_checks.py) applied to every registered chapter model."""

import ast
from pathlib import Path

import torch

from islp_ch10 import models
from islp_ch10.testing.model_checks import parametrize_with_model_checks


@parametrize_with_model_checks()
def test_model_spec(spec, check):
    check(spec)


def test_every_module_in_models_is_registered():
    """Nothing escapes the registry: each nn.Module class in models.py is a model or a named part."""
    source = Path(models.__file__).read_text(encoding="utf-8")
    classes = [n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef)]
    modules = [c for c in classes if isinstance(getattr(models, c), type)
               and issubclass(getattr(models, c), torch.nn.Module)]
    unregistered = set(modules) - set(models.list_models()) - set(models.COMPONENTS)
    assert not unregistered, f"nn.Modules in models.py missing from MODELS: {sorted(unregistered)}"
    assert set(models.list_models()) <= set(modules)


def test_token_models_reject_ids_outside_the_vocabulary():
    model = models.IMDBLSTM()
    import pytest

    with pytest.raises(ValueError, match=r"\[0, 10003\)"):
        model(torch.tensor([[1, 2, 10003]]))
    with pytest.raises(ValueError, match=r"\[0, 10003\)"):
        model(torch.tensor([[-1, 2, 3]]))


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from islp_ch10.models import MODELS  # noqa: E402


@given(name=st.sampled_from([n for n, s in MODELS.items() if s.input_kind == "float"]),
       shape=st.lists(st.integers(1, 40), min_size=1, max_size=5))
def test_float_models_refuse_every_wrong_shape(name, shape):
    """Any input whose shape is not (batch, *expected) is refused with a ValueError naming the shape."""
    import pytest
    from hypothesis import assume

    spec = MODELS[name]
    assume(tuple(shape[1:]) != spec.input_shape or len(shape) < 2)
    if name == "LinearAR":  # also takes the (batch, L, p) lag array with L * p inputs, by design
        assume(not (len(shape) == 3 and shape[1] * shape[2] == spec.input_shape[0]))
    model = spec.build()
    with pytest.raises(ValueError, match=r"shape"):
        model(torch.rand(*shape))
