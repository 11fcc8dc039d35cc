"""The networks of ISLP chapter 10 and its lab, as plain ``nn.Module`` s, each registered with
what the book says of it.

Each class follows one figure or lab cell of the chapter; its docstring names the section and
the layer sizes, and ``forward`` carries shape comments.  The :func:`register_model` decorator
above each class records the book's spec of that network as a :class:`ModelSpec`: the task, the
lab's input, the per-layer table ``torchinfo.summary`` prints for that input (see
:class:`~islp_ch10.reference.networks.Layer`), the dropout rates in order and the claim IDs
the network serves.  The test-suite applies one spec to every registered network
(``islp_ch10/testing/model_checks.py``); a test checks that every module defined here is
registered or is a named part (:data:`COMPONENTS`).

Input policy.  Every model checks its input and raises :class:`ValueError` naming the model
and the expected shape or dtype, so a student who feeds a ``(28, 28)`` image to the MNIST
network learns what went wrong instead of reading a matmul error.  Float inputs must have the
dtype of the model's weights: float32 for a model as built (the lab's tensors are float32).
float64 or float16 input is refused, never cast silently, because a silent cast would hide the
precision the caller asked for; cast with ``x.float()``.  A model the caller has cast
(``model.double()``) takes input of its own dtype, which is how the float64 comparisons with
the numpy references run.  Token models take int64 or int32 ids below the vocabulary size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from islp_ch10.reference.networks import Layer

__all__ = [
    "CIFARCNN",
    "IMDBLSTM",
    "IMDBRNN",
    "MNISTMLP",
    "MODELS",
    "NYSERNN",
    "BuildingBlock",
    "HittersNet",
    "IMDBDense",
    "Layer",
    "LinearAR",
    "MNISTLogistic",
    "ModelSpec",
    "NonlinearAR",
    "count_parameters",
    "list_models",
    "register_model",
]

IMDB_VOCAB = 10_003  # 10,000 words + padding (0), start (1) and unknown (2)
NOTES = "chapter10-notes.zh.txt"
TASKS = ("regression", "binary", "multiclass")
INPUT_KINDS = ("float", "tokens")
# The nonlinearity each layer type applies, as the book's formulas use it: ReLU layers, the
# simple RNN's g (tanh, nn.RNN's and Keras' default in the lab), the LSTM's gates and cell.
ACTIVATION_OF = {"ReLU": "relu", "RNN": "tanh", "LSTM": "sigmoid gates, tanh cell"}


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model`` (every entry of every weight and bias)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class ModelSpec:
    """What the book says of one network, and how to build and feed it.

    ``lab_input``   shape of the input the lab passes to ``summary()`` (or trains on), batch first
    ``layers``      the leaf layers as ``torchinfo.summary`` lists them for that input, in call
                    order: ``Layer(type, output shape without the batch axis, parameters)``
    ``task``        ``"regression"`` (one number), ``"binary"`` (one logit) or ``"multiclass"`` (logits)
    ``dropout``     the rates of the table's ``Dropout`` rows, in order
    ``input_kind``  ``"float"`` or ``"tokens"`` (integer ids below ``vocab``)
    ``claims``      role -> catalogue ID; role ``"params"`` names the claim whose ``book_value``
                    is the network's parameter count
    ``source``      where the lab code sits in the notes (line numbers)

    Derived, so stated once: :attr:`input_shape`, :attr:`has_dropout`, :attr:`param_count`,
    :attr:`param_claim`, :attr:`activations`, :attr:`output_shape`.
    """

    name: str
    factory: Callable[[], nn.Module]
    task: str
    lab_input: tuple[int, ...]
    layers: tuple[Layer, ...]
    dropout: tuple[float, ...] = ()
    input_kind: str = "float"
    vocab: int = 0
    claims: Mapping[str, str] = field(default_factory=dict, hash=False)
    source: str = ""

    def __post_init__(self):
        layers = tuple(Layer(kind, tuple(shape), int(params)) for kind, shape, params in self.layers)
        object.__setattr__(self, "layers", layers)
        problems = []
        if self.task not in TASKS:
            problems.append(f"task {self.task!r} is not one of {TASKS}")
        if self.input_kind not in INPUT_KINDS:
            problems.append(f"input_kind {self.input_kind!r} is not one of {INPUT_KINDS}")
        if (self.input_kind == "tokens") != (self.vocab > 0):
            problems.append("token models need vocab > 0 and float models vocab = 0")
        n_dropout = sum(layer.kind == "Dropout" for layer in layers)
        if n_dropout != len(self.dropout) or not all(0 < p < 1 for p in self.dropout):
            problems.append(f"{n_dropout} Dropout rows but rates {self.dropout} (need one rate in (0, 1) per row)")
        if not layers or layers[-1].kind != "Linear":
            problems.append("the last row must be the output Linear layer")
        if problems:
            raise ValueError(f"ModelSpec {self.name}: " + "; ".join(problems))

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example's input shape (the lab's input without the batch axis)."""
        return tuple(self.lab_input[1:])

    @property
    def has_dropout(self) -> bool:
        return any(layer.kind == "Dropout" for layer in self.layers)

    @property
    def param_count(self) -> int:
        """Total parameters: the sum of the table's column."""
        return sum(layer.params for layer in self.layers)

    @property
    def param_claim(self) -> str | None:
        """The catalogue ID whose ``book_value`` is this network's parameter count, if any."""
        return self.claims.get("params")

    @property
    def activations(self) -> tuple[str, ...]:
        """The nonlinearities the table applies, in order."""
        return tuple(ACTIVATION_OF[layer.kind] for layer in self.layers if layer.kind in ACTIVATION_OF)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """One example's output: a number for regression and binary tasks, class logits otherwise."""
        return tuple(self.layers[-1].shape) if self.task == "multiclass" else ()

    def build(self) -> nn.Module:
        """A freshly initialised model (seed torch first for a reproducible one)."""
        return self.factory()

    def example_input(self, batch: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
        """A seeded input of the right shape and dtype (drawn on the CPU)."""
        g = generator or torch.Generator().manual_seed(0)
        if self.input_kind == "tokens":
            return torch.randint(0, self.vocab, (batch, *self.input_shape), generator=g)
        return torch.rand((batch, *self.input_shape), generator=g)

    def table(self) -> str:
        """The layer table as ``torchinfo.summary`` prints it for the lab's input."""
        batch = self.lab_input[0]
        lines = [f"{self.name} ({self.source})", f"{'Layer (type)':<16}{'Output Shape':<24}{'Param #':>12}"]
        for layer in self.layers:
            shape = str([batch, *layer.shape])
            lines.append(f"{layer.kind:<16}{shape:<24}{(f'{layer.params:,}' if layer.params else '--'):>12}")
        lines.append(f"Total params: {self.param_count:,}")
        return "\n".join(lines)


MODELS: dict[str, ModelSpec] = {}

# Building blocks and shared bases are parts, not models: they are exempt from the registry.
COMPONENTS = ("BuildingBlock", "_IMDBSequenceNet")


def register_model(name: str | None = None, **book) -> Callable[[type], type]:
    """Class decorator: register ``cls`` under ``name`` (default: the class name) with the book's
    spec ``book`` (the :class:`ModelSpec` fields other than ``name`` and ``factory``)."""

    def register(cls: type) -> type:
        spec = ModelSpec(name=name or cls.__name__, factory=cls, **book)
        if spec.name in MODELS:
            raise ValueError(f"model {spec.name!r} is registered twice; give the second a name=")
        MODELS[spec.name] = spec
        return cls

    return register


def list_models() -> list[str]:
    """Names of every registered chapter model, in book order."""
    return list(MODELS)


# ----------------------------------------------------------------------------- input checks
def _fmt(shape: tuple[int, ...]) -> str:
    return ", ".join(str(s) for s in shape)


def _weight_dtype(model: nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


def _check_float_input(model: nn.Module, x: torch.Tensor, trailing: tuple[int, ...], what: str) -> None:
    """Raise unless ``x`` is a tensor of the weights' dtype and shape (batch, *trailing)."""
    name = type(model).__name__
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} expects a torch.Tensor of shape (batch, {_fmt(trailing)}) [{what}], got {type(x).__name__}"
        )
    want = _weight_dtype(model)
    if x.dtype != want:
        raise ValueError(
            f"{name} expects {want} input [{what}] (the dtype of its weights), got dtype "
            f"{x.dtype}; convert with x.to({want}) (models never cast silently)"
        )
    if x.dim() != 1 + len(trailing) or tuple(x.shape[1:]) != trailing:
        raise ValueError(f"{name} expects input of shape (batch, {_fmt(trailing)}) [{what}], got {tuple(x.shape)}")


def _check_token_input(model: nn.Module, x: torch.Tensor, vocab: int) -> None:
    """Raise ValueError unless ``x`` is an integer (batch, length) tensor of ids in [0, vocab)."""
    name = type(model).__name__
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor of token ids, got {type(x).__name__}")
    if x.dtype not in (torch.int64, torch.int32):
        raise ValueError(
            f"{name} expects integer token ids (torch.int64 or torch.int32) of shape "
            f"(batch, length), got dtype {x.dtype}"
        )
    if x.dim() != 2:
        raise ValueError(f"{name} expects token ids of shape (batch, length), got {tuple(x.shape)}")
    if x.numel() and (int(x.min()) < 0 or int(x.max()) >= vocab):
        raise ValueError(
            f"{name}: token ids must lie in [0, {vocab}) (vocabulary of {vocab}), "
            f"got values in [{int(x.min())}, {int(x.max())}]"
        )


# ----------------------------------------------------------------------------- 10.1 / 10.9.1
@register_model(
    task="regression",
    lab_input=(175, 19),
    dropout=(0.4,),
    layers=(
        Layer("Flatten", (19,), 0),
        Layer("Linear", (50,), 50 * 19 + 50),
        Layer("ReLU", (50,), 0),
        Layer("Dropout", (50,), 0),
        Layer("Linear", (1,), 50 + 1),
    ),
    claims={"params": "10.9/hitters-params", "layers": "10.9/hitters-layer-params", "trained": "10.9/hitters-mae"},
    source=f"{NOTES}:656-672 (model), 684 (four maps), 689-694 (summary of X_train, 175 x 19)",
)
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
        _check_float_input(self, x, (self.input_size,), "standardised predictors")
        x = self.flatten(x)  # (B, 19)
        return torch.flatten(self.sequential(x))  # (B,)


# ----------------------------------------------------------------------------- 10.2 / 10.9.2
@register_model(
    task="multiclass",
    lab_input=(256, 1, 28, 28),
    dropout=(0.4, 0.3),
    layers=(
        Layer("Flatten", (784,), 0),
        Layer("Linear", (256,), 784 * 256 + 256),
        Layer("ReLU", (256,), 0),
        Layer("Dropout", (256,), 0),
        Layer("Linear", (128,), 256 * 128 + 128),
        Layer("ReLU", (128,), 0),
        Layer("Dropout", (128,), 0),
        Layer("Linear", (10,), 128 * 10 + 10),
    ),
    claims={"params": "10.2/params-mlp", "forward": "10.2/two-hidden-forward", "trained": "10.9/mnist-mlp"},
    source=f"{NOTES}:885-911 (model), 918-925 (summary of a batch X_, 256 images, batch_size at 857)",
)
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
        _check_float_input(self, x, (1, 28, 28), "grey images scaled to [0, 1]")
        a1 = self.layer1(x)  # (B, 256)
        a2 = self.layer2(a1)  # (B, 128)
        return self.output(a2)  # (B, 10) logits; softmax lives in the loss


@register_model(
    task="multiclass",
    lab_input=(256, 1, 28, 28),
    layers=(
        Layer("Flatten", (784,), 0),
        Layer("Linear", (10,), 784 * 10 + 10),
    ),
    claims={"trained": "10.9/mnist-mlr"},
    source=f"{NOTES}:973-990 (model; no summary() call, trained on the same batches of 256)",
)
class MNISTLogistic(nn.Module):
    """Multinomial logistic regression on MNIST: the network with no hidden layer (lab 10.9.2).

    The notes call this "LDA" (erratum): it is multinomial logistic regression.
    Parameters: 785 * 10 = 7,850.
    """

    def __init__(self):
        super().__init__()
        self.linear = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_float_input(self, x, (1, 28, 28), "grey images scaled to [0, 1]")
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


def _block_rows(c_in: int, c_out: int, size: int) -> tuple[Layer, ...]:
    """The three rows of one BuildingBlock on ``size x size`` maps: conv 3x3 'same', ReLU, 2x2 pool."""
    return (
        Layer("Conv2d", (c_out, size, size), 9 * c_in * c_out + c_out),
        Layer("ReLU", (c_out, size, size), 0),
        Layer("MaxPool2d", (c_out, size // 2, size // 2), 0),
    )


@register_model(
    task="multiclass",
    lab_input=(128, 3, 32, 32),
    dropout=(0.5,),
    layers=(
        *_block_rows(3, 32, 32),
        *_block_rows(32, 64, 16),
        *_block_rows(64, 128, 8),
        *_block_rows(128, 256, 4),
        Layer("Dropout", (1024,), 0),
        Layer("Linear", (512,), 1024 * 512 + 512),
        Layer("ReLU", (512,), 0),
        Layer("Linear", (100,), 512 * 100 + 100),
    ),
    claims={"params": "10.3/params-cnn", "trained": "10.3/cnn-accuracy"},
    source=f"{NOTES}:1104-1145 (blocks and model), 1155-1161 (summary of a batch X_, batch_size 128 at 1063)",
)
class CIFARCNN(nn.Module):
    """The lab's CIFAR-100 network (Figure 10.8, lab 10.9.3).

    Four building blocks 3->32->64->128->256 channels take 32x32 to 2x2; the 1,024 flattened
    features go through dropout 0.5, a 512-unit ReLU layer and 100 class logits.
    Parameters: 964,516.
    """

    channels = (3, 32, 64, 128, 256)

    def __init__(self, num_classes: int = 100, dropout: float = 0.5):
        super().__init__()
        self.conv = nn.Sequential(
            *[BuildingBlock(c_in, c_out) for c_in, c_out in zip(self.channels[:-1], self.channels[1:])]
        )
        self.output = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(2 * 2 * 256, 512),
            nn.ReLU(),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_float_input(self, x, (3, 32, 32), "RGB images, channels first")
        features = self.conv(x)  # (B, 256, 2, 2)
        flat = torch.flatten(features, start_dim=1)  # (B, 1024)
        return self.output(flat)  # (B, 100) logits


# ----------------------------------------------------------------------------- 10.4 / 10.9.5
@register_model(
    task="binary",
    lab_input=(25_000, IMDB_VOCAB),
    layers=(
        Layer("Linear", (16,), IMDB_VOCAB * 16 + 16),
        Layer("ReLU", (16,), 0),
        Layer("Linear", (16,), 16 * 16 + 16),
        Layer("ReLU", (16,), 0),
        Layer("Linear", (1,), 16 + 1),
    ),
    claims={"sizes": "10.9/imdb-params", "trained": "10.4/imdb-dense"},
    source=f"{NOTES}:1357-1373 (model), 1382-1388 (summary of the 25,000 x 10,003 test matrix)",
)
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
        _check_float_input(self, x, (self.input_size,), "binary bag-of-words rows")
        val = self.activation(self.dense1(x))  # (B, 16)
        val = self.activation(self.dense2(val))  # (B, 16)
        return torch.flatten(self.output(val))  # (B,) logit of Pr(positive)


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
        _check_token_input(self, x, self.vocab)
        emb = self.embedding(x)  # (B, L, 32)
        out, _ = self.recurrent(emb)  # (B, L, 32)
        return torch.flatten(self.dense(out[:, -1]))  # O_L only -> (B,)


@register_model(
    task="binary",
    lab_input=(10, 500),
    input_kind="tokens",
    vocab=IMDB_VOCAB,
    layers=(
        Layer("Embedding", (500, 32), IMDB_VOCAB * 32),
        Layer("LSTM", (500, 32), 4 * (32 * 32 + 32 * 32 + 2 * 32)),
        Layer("Linear", (1,), 32 + 1),
    ),
    claims={"sizes": "10.9/imdb-params", "trained": "10.5/imdb-rnn"},
    source=f"{NOTES}:1561-1571 (model), 1577-1583 (summary of 10 documents of 500 tokens)",
)
class IMDBLSTM(_IMDBSequenceNet):
    """Sequence model for IMDB (lab 10.9.6): embedding 10,003 x 32, LSTM 32, one logit."""

    def __init__(self, vocab: int = IMDB_VOCAB, embedding_dim: int = 32, hidden: int = 32):
        super().__init__(nn.LSTM(embedding_dim, hidden, batch_first=True), vocab, embedding_dim, hidden)


@register_model(
    task="binary",
    lab_input=(10, 500),
    input_kind="tokens",
    vocab=IMDB_VOCAB,
    layers=(
        Layer("Embedding", (500, 32), IMDB_VOCAB * 32),
        Layer("RNN", (500, 32), 32 * 32 + 32 * 32 + 2 * 32),
        Layer("Linear", (1,), 32 + 1),
    ),
    claims={"trained": "10.5/imdb-rnn"},
    source=f"{NOTES}:284 (the simple RNN's 76%), the LSTM's cells 1561-1583 with nn.RNN in place of nn.LSTM",
)
class IMDBRNN(_IMDBSequenceNet):
    """The simple-RNN variant of :class:`IMDBLSTM` (10.5 compares it, about 76% in the book)."""

    def __init__(self, vocab: int = IMDB_VOCAB, embedding_dim: int = 32, hidden: int = 32):
        super().__init__(nn.RNN(embedding_dim, hidden, batch_first=True), vocab, embedding_dim, hidden)


@register_model(
    task="regression",
    lab_input=(1770, 5, 3),
    dropout=(0.1,),
    layers=(
        Layer("RNN", (5, 12), 3 * 12 + 12 * 12 + 2 * 12),
        Layer("Dropout", (12,), 0),
        Layer("Linear", (1,), 12 + 1),
    ),
    claims={"sizes": "10.9/nyse-params", "trained": "10.5/ar-vs-rnn"},
    source=f"{NOTES}:1699-1713 (model), 1727-1733 (summary of X_rnn_t, the 1,770 test days)",
)
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
        _check_float_input(self, x, (self.lags, self.n_series), "lags oldest first, series")
        out, _ = self.rnn(x)  # (B, L, 12)
        val = self.dense(self.dropout(out[:, -1]))  # (B, 1), from A_L only
        return torch.flatten(val)  # (B,)


@register_model(
    task="regression",
    lab_input=(1770, 15),
    layers=(
        Layer("Flatten", (15,), 0),
        Layer("Linear", (1,), 15 + 1),
    ),
    claims={"trained": "10.5/ar-vs-rnn"},
    source=f"{NOTES}:1661-1663 (least squares on the 15 lag columns), 1786 (an AR model is the "
    "network with no hidden layer)",
)
class LinearAR(nn.Module):
    """AR(L) regression as a network (10.5.2): the (L, p) lag array flattened, one Linear layer."""

    def __init__(self, n_features: int = 15):
        super().__init__()
        self.n_features = n_features
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(n_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(x, torch.Tensor) and x.dim() == 3:
            _check_float_input(self, x, (x.shape[1], x.shape[2]), "lag array")
            if x.shape[1] * x.shape[2] != self.n_features:
                raise ValueError(
                    f"LinearAR expects {self.n_features} predictors once flattened, got input of shape {tuple(x.shape)}"
                )
        else:
            _check_float_input(self, x, (self.n_features,), "flattened lagged predictors")
        return torch.flatten(self.linear(self.flatten(x)))  # (B,)


@register_model(
    task="regression",
    lab_input=(1770, 20),
    dropout=(0.5,),
    layers=(
        Layer("Flatten", (20,), 0),
        Layer("Linear", (32,), 20 * 32 + 32),
        Layer("ReLU", (32,), 0),
        Layer("Dropout", (32,), 0),
        Layer("Linear", (1,), 32 + 1),
    ),
    claims={"sizes": "10.9/nyse-params", "trained": "10.5/nonlinear-ar"},
    source=f"{NOTES}:1812-1823 (model; no summary() call, trained on X_day: 15 lags + 5 days, 1,770 test days)",
)
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
        _check_float_input(self, x, (self.n_features,), "lags + day-of-week indicators")
        return torch.flatten(self._forward(x))  # (B,)
