"""The networks of ISLP chapter 10 and its lab, as plain ``nn.Module`` s.

Each class follows one figure or lab cell of the chapter; its docstring names the
section and the layer sizes, and ``forward`` carries shape comments.  Every model
checks its input and raises :class:`ValueError` naming the expected shape or dtype,
so a student who feeds a ``(28, 28)`` image to the MNIST network learns what went
wrong instead of reading a matmul error.

The registry at the bottom (:data:`MODELS`, :func:`list_models`, :func:`get_model`)
lets the test-suite apply one spec to every network (see
``islp_ch10/testing/model_checks.py``); a test checks that every module defined
here is registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

__all__ = [
    "HittersNet",
    "MNISTMLP",
    "MNISTLogistic",
    "BuildingBlock",
    "CIFARCNN",
    "IMDBDense",
    "IMDBLSTM",
    "IMDBRNN",
    "NYSERNN",
    "LinearAR",
    "NonlinearAR",
    "ModelSpec",
    "MODELS",
    "list_models",
    "get_model",
    "count_parameters",
]

IMDB_VOCAB = 10_003  # 10,000 words + padding (0), start (1) and unknown (2)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model`` (every entry of every weight and bias)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _check_float_input(model: str, x: torch.Tensor, trailing: tuple[int, ...], what: str) -> None:
    """Raise ValueError unless ``x`` is a floating tensor of shape (batch, *trailing)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{model} expects a torch.Tensor of shape (batch, {_fmt(trailing)}) [{what}], "
                        f"got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise ValueError(f"{model} expects a floating-point tensor (e.g. torch.float32) [{what}], "
                         f"got dtype {x.dtype}")
    if x.dim() != 1 + len(trailing) or tuple(x.shape[1:]) != trailing:
        raise ValueError(f"{model} expects input of shape (batch, {_fmt(trailing)}) [{what}], "
                         f"got {tuple(x.shape)}")


def _check_token_input(model: str, x: torch.Tensor, vocab: int) -> None:
    """Raise ValueError unless ``x`` is an integer (batch, length) tensor of ids in [0, vocab)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{model} expects a torch.Tensor of token ids, got {type(x).__name__}")
    if x.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{model} expects integer token ids (torch.int64 or torch.int32) of shape "
                         f"(batch, length), got dtype {x.dtype}")
    if x.dim() != 2:
        raise ValueError(f"{model} expects token ids of shape (batch, length), got {tuple(x.shape)}")
    if x.numel() and (int(x.min()) < 0 or int(x.max()) >= vocab):
        raise ValueError(f"{model}: token ids must lie in [0, {vocab}) (vocabulary of {vocab}), "
                         f"got values in [{int(x.min())}, {int(x.max())}]")


def _fmt(shape: tuple[int, ...]) -> str:
    return ", ".join(str(s) for s in shape)


# ----------------------------------------------------------------------------- 10.1 / 10.9.1
class HittersNet(nn.Module):
    """Single hidden layer for Salary on Hitters (10.9.1): 19 -> 50 (ReLU, dropout 0.4) -> 1.

    Parameters: 50*19 + 50 + 51 = 1,051.
    """

    def __init__(self, input_size: int = 19, hidden: int = 50, dropout: float = 0.4):
        super().__init__()
        self.input_size = input_size
        self.flatten = nn.Flatten()
        self.sequential = nn.Sequential(
            nn.Linear(input_size, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_float_input("HittersNet", x, (self.input_size,), "standardised predictors")
        x = self.flatten(x)               # (B, 19)
        return torch.flatten(self.sequential(x))  # (B,)


# ----------------------------------------------------------------------------- 10.2 / 10.9.2
class MNISTMLP(nn.Module):
    """Two hidden layers for MNIST digits (Figure 10.4, lab 10.9.2).

    784 -> 256 (ReLU, dropout 0.4) -> 128 (ReLU, dropout 0.3) -> 10 logits.
    Parameters: 200,960 + 32,896 + 1,290 = 235,146.
    """

    def __init__(self, dropout1: float = 0.4, dropout2: float = 0.3):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 256), nn.ReLU(), nn.Dropout(dropout1))
        self.layer2 = nn.Sequential(nn.Linear(256, 128), nn.ReLU(), nn.Dropout(dropout2))
        self.output = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_float_input("MNISTMLP", x, (1, 28, 28), "grey images scaled to [0, 1]")
        a1 = self.layer1(x)     # (B, 256)
        a2 = self.layer2(a1)    # (B, 128)
        return self.output(a2)  # (B, 10) logits; softmax lives in the loss


class MNISTLogistic(nn.Module):
    """Multinomial logistic regression on MNIST: the network with no hidden layer (lab 10.9.2).

    The notes call this "LDA" (erratum): it is multinomial logistic regression.
    Parameters: 785 * 10 = 7,850.
    """

    def __init__(self):
        super().__init__()
        self.linear = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_float_input("MNISTLogistic", x, (1, 28, 28), "grey images scaled to [0, 1]")
        return self.linear(x)  # (B, 10) logits


# ----------------------------------------------------------------------------- 10.3 / 10.9.3
class BuildingBlock(nn.Module):
    """One box of Figure 10.8: 3x3 convolution ('same' padding), ReLU, 2x2 max pool.

    Keeps the spatial size through the convolution and halves it in the pool.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=(3, 3), padding="same")
        self.activation = nn.ReLU()
        self.pool = nn.MaxPool2d(kernel_size=(2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.activation(self.conv(x)))  # (B, C_out, H/2, W/2)


class CIFARCNN(nn.Module):
    """The lab's CIFAR-100 network (Figure 10.8, lab 10.9.3).

    Four building blocks 3->32->64->128->256 channels take 32x32 to 2x2; the 1,024 flattened
    features go through dropout 0.5, a 512-unit ReLU layer and 100 class logits.
    Parameters: 964,516.
    """

    channels = (3, 32, 64, 128, 256)

    def __init__(self, num_classes: int = 100, dropout: float = 0.5):
        super().__init__()
        self.conv = nn.Sequential(*[BuildingBlock(c_in, c_out)
                                    for c_in, c_out in zip(self.channels[:-1], self.channels[1:])])
        self.output = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(2 * 2 * 256, 512),
            nn.ReLU(),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_float_input("CIFARCNN", x, (3, 32, 32), "RGB images, channels first")
        features = self.conv(x)                     # (B, 256, 2, 2)
        flat = torch.flatten(features, start_dim=1)  # (B, 1024)
        return self.output(flat)                     # (B, 100) logits


# ----------------------------------------------------------------------------- 10.4 / 10.9.5
class IMDBDense(nn.Module):
    """Bag-of-words sentiment network (lab 10.9.5): 10,003 -> 16 -> 16 -> 1 logit, ReLU."""

    def __init__(self, input_size: int = IMDB_VOCAB):
        super().__init__()
        self.input_size = input_size
        self.dense1 = nn.Linear(input_size, 16)
        self.activation = nn.ReLU()
        self.dense2 = nn.Linear(16, 16)
        self.output = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_float_input("IMDBDense", x, (self.input_size,), "binary bag-of-words rows")
        val = self.activation(self.dense1(x))    # (B, 16)
        val = self.activation(self.dense2(val))  # (B, 16)
        return torch.flatten(self.output(val))   # (B,) logit of Pr(positive)


# ----------------------------------------------------------------------------- 10.5 / 10.9.6
class _IMDBSequenceNet(nn.Module):
    """Embedding -> recurrent layer -> last hidden state -> one logit (shared by LSTM and RNN)."""

    def __init__(self, recurrent: nn.Module, vocab: int, embedding_dim: int, hidden: int):
        super().__init__()
        self.vocab = vocab
        self.embedding = nn.Embedding(vocab, embedding_dim)
        self.recurrent = recurrent
        self.dense = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_token_input(type(self).__name__, x, self.vocab)
        emb = self.embedding(x)            # (B, L, 32)
        out, _ = self.recurrent(emb)       # (B, L, 32)
        return torch.flatten(self.dense(out[:, -1]))  # O_L only -> (B,)


class IMDBLSTM(_IMDBSequenceNet):
    """Sequence model for IMDB (lab 10.9.6): embedding 10,003 x 32, LSTM 32, one logit."""

    def __init__(self, vocab: int = IMDB_VOCAB, embedding_dim: int = 32, hidden: int = 32):
        super().__init__(nn.LSTM(embedding_dim, hidden, batch_first=True), vocab, embedding_dim, hidden)


class IMDBRNN(_IMDBSequenceNet):
    """The simple-RNN variant of :class:`IMDBLSTM` (10.5 compares it, about 76% in the book)."""

    def __init__(self, vocab: int = IMDB_VOCAB, embedding_dim: int = 32, hidden: int = 32):
        super().__init__(nn.RNN(embedding_dim, hidden, batch_first=True), vocab, embedding_dim, hidden)


class NYSERNN(nn.Module):
    """The NYSE forecaster (Figure 10.14, lab 10.9.6): RNN 3 -> 12 units over L=5 lags,
    dropout 0.1 on the last hidden state, Linear 12 -> 1."""

    def __init__(self, n_series: int = 3, hidden: int = 12, lags: int = 5, dropout: float = 0.1):
        super().__init__()
        self.n_series, self.lags = n_series, lags
        self.rnn = nn.RNN(n_series, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_float_input("NYSERNN", x, (self.lags, self.n_series), "lags oldest first, series")
        out, _ = self.rnn(x)                   # (B, L, 12)
        val = self.dense(self.dropout(out[:, -1]))  # (B, 1), from A_L only
        return torch.flatten(val)              # (B,)


class LinearAR(nn.Module):
    """AR(L) regression as a network (10.5.2): the (L, p) lag array flattened, one Linear layer."""

    def __init__(self, n_features: int = 15):
        super().__init__()
        self.n_features = n_features
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(n_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(x, torch.Tensor) and x.dim() == 3:
            _check_float_input("LinearAR", x, (x.shape[1], x.shape[2]), "lag array")
            if x.shape[1] * x.shape[2] != self.n_features:
                raise ValueError(f"LinearAR expects {self.n_features} predictors once flattened, "
                                 f"got input of shape {tuple(x.shape)}")
        else:
            _check_float_input("LinearAR", x, (self.n_features,), "flattened lagged predictors")
        return torch.flatten(self.linear(self.flatten(x)))  # (B,)


class NonlinearAR(nn.Module):
    """The lab's nonlinear AR (10.9.6): 15 lags + 5 day-of-week columns = 20 -> 32 (ReLU,
    dropout 0.5) -> 1."""

    def __init__(self, n_features: int = 20, hidden: int = 32, dropout: float = 0.5):
        super().__init__()
        self.n_features = n_features
        self._forward = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_features, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_float_input("NonlinearAR", x, (self.n_features,), "lags + day-of-week indicators")
        return torch.flatten(self._forward(x))  # (B,)


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class ModelSpec:
    """How to build a model and feed it: the data for the per-model checks.

    ``input_shape`` excludes the batch dimension; ``input_kind`` is ``"float"`` or
    ``"tokens"`` (integer ids below ``vocab``); ``param_claim`` is the catalogue ID whose
    ``book_value`` is the model's parameter count, if the chapter states one.
    """

    name: str
    factory: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    input_kind: str = "float"
    vocab: int = 0
    param_claim: str | None = None
    has_dropout: bool = False

    def build(self) -> nn.Module:
        return self.factory()

    def example_input(self, batch: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
        """A seeded input of the right shape and dtype (drawn on the CPU)."""
        g = generator or torch.Generator().manual_seed(0)
        if self.input_kind == "tokens":
            return torch.randint(0, self.vocab, (batch, *self.input_shape), generator=g)
        return torch.rand((batch, *self.input_shape), generator=g)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec("HittersNet", HittersNet, (19,), param_claim="10.9/hitters-params", has_dropout=True),
        ModelSpec("MNISTMLP", MNISTMLP, (1, 28, 28), param_claim="10.2/params-mlp", has_dropout=True),
        ModelSpec("MNISTLogistic", MNISTLogistic, (1, 28, 28)),
        ModelSpec("CIFARCNN", CIFARCNN, (3, 32, 32), param_claim="10.3/params-cnn", has_dropout=True),
        ModelSpec("IMDBDense", IMDBDense, (IMDB_VOCAB,)),
        ModelSpec("IMDBLSTM", IMDBLSTM, (50,), input_kind="tokens", vocab=IMDB_VOCAB),
        ModelSpec("IMDBRNN", IMDBRNN, (50,), input_kind="tokens", vocab=IMDB_VOCAB),
        ModelSpec("NYSERNN", NYSERNN, (5, 3), has_dropout=True),
        ModelSpec("LinearAR", LinearAR, (15,)),
        ModelSpec("NonlinearAR", NonlinearAR, (20,), has_dropout=True),
    ]
}

# Building blocks and shared bases are parts, not models: they are exempt from the registry.
COMPONENTS = ("BuildingBlock", "_IMDBSequenceNet")


def list_models() -> list[str]:
    """Names of every registered chapter model, in book order."""
    return list(MODELS)


def get_model(name: str) -> nn.Module:
    """A freshly initialised model by its registry name."""
    try:
        return MODELS[name].build()
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None
