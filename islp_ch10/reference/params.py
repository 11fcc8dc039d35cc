"""Parameter counts read off the chapter's formulas (10.3, 10.5), plain arithmetic.

Document RNN (10.5.1): words are embedded by ``E`` (one ``m``-vector per dictionary entry,
``D`` entries), the RNN's input weights ``W`` are ``K x (m + 1)`` (a bias column included), the
recurrent weights ``U`` are ``K x K`` and each output unit has ``K + 1`` weights ``B``.

Transfer learning (10.3.5): a pretrained network's feature extractor ends in ``F`` features;
the task-specific head is one linear layer ``F -> K`` classes, ``F K + K`` parameters.
"""

from __future__ import annotations

from islp_ch10.reference.rnn import book_param_count

__all__ = ["doc_rnn_blocks", "transfer_head"]


def doc_rnn_blocks(dictionary: int, embed_dim: int, hidden: int, outputs: int = 1) -> dict[str, int]:
    """Entries of the book's blocks ``E`` (D x m), ``W`` (K x (m+1)), ``U`` (K x K), ``B`` (outputs x (K+1))."""
    for name, value in (("dictionary", dictionary), ("embed_dim", embed_dim), ("hidden", hidden), ("outputs", outputs)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    rnn = book_param_count(embed_dim, hidden)  # W: K x (m+1), U: K x K, B: K + 1 per output
    return {"E": dictionary * embed_dim, "W": rnn["W"], "U": rnn["U"], "B": outputs * rnn["B"]}


def transfer_head(features: int, classes: int) -> int:
    """Parameters of a new ``features -> classes`` linear head: ``features * classes + classes``."""
    if features < 1 or classes < 1:
        raise ValueError(f"features and classes must be >= 1, got {features} and {classes}")
    return features * classes + classes
