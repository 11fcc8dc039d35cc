"""On a CUDA machine: every chapter model gives the CPU's answer on the GPU, and the training
entry point runs there.  Skipped with the reason where torch.cuda.is_available() is False."""

import pytest
import torch

from islp_ch10.models import MODELS
from islp_ch10.training import TrainConfig, fit

# float32 on GPU vs CPU: cuDNN/cuBLAS reduce in other orders (TF32 is off below); 1e-4 relative
# covers that for these sizes, while a wrong layer or weight gives O(1) differences.
RTOL, ATOL = 1e-4, 1e-5


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(MODELS))
def test_model_same_output_on_cuda(name):
    spec = MODELS[name]
    torch.manual_seed(0)
    model = spec.build().eval()
    x = spec.example_input(batch=8)  # drawn on the CPU, then moved: identical inputs
    expected = model(x)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    got = model.to("cuda")(x.to("cuda")).cpu()
    torch.testing.assert_close(got, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.gpu
def test_fit_on_gpu_trains(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1200, 20, generator=g)
    y = torch.argmax(x @ torch.randn(20, 3, generator=g), dim=1)
    net = lambda: torch.nn.Sequential(torch.nn.Linear(20, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))  # noqa: E731
    result = fit(
        net,
        (x[:900], y[:900]),
        (x[900:], y[900:]),
        TrainConfig(task="multiclass", num_classes=3, epochs=5, accelerator="gpu", devices=1, log_dir=str(tmp_path)),
    )
    assert result.test["accuracy"] > 0.85
    assert next(result.model.parameters()).device.type == "cpu"
