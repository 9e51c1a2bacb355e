"""Network settings (SPEC.md §1, §3, §5) and initial synapses.

A :class:`NetworkSpec` holds everything about a BLUR network that is not in the genome:
layer sizes, the number of states k, the synapse options, the pass modes and the
per-state activations. It is plain data, validated once, and round-trips through a dict
(the genome sidecar and the run config store it that way).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from blgnn_es.errors import NetworkError

# Codes shared with the kernel (blgnn_es/kernel.py) and the oracle (blgnn_es/reference.py).
ACTIVATIONS = ("identity", "tanh", "relu", "relu_tanh", "sigmoid", "dsigmoid")
FEEDBACK_MODES = ("label", "error")
BACKWARD_MODES = ("additive", "multiplicative_second")
DTYPES = ("float32", "float64")

Activation = str | tuple[str, ...]


def _as_activation(value: Any, states: int, what: str) -> Activation:
    """Normalise one activation setting: a name for all states, or one name per state."""
    if isinstance(value, str):
        names: tuple[str, ...] = (value,)
    else:
        names = tuple(value)
        if len(names) != states:
            raise NetworkError(
                f"{what}: a per-state list needs {states} names (one per state), got {len(names)}"
            )
    for name in names:
        if name not in ACTIVATIONS:
            raise NetworkError(
                f"{what}: unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}"
            )
    return names[0] if isinstance(value, str) else names


@dataclass(frozen=True)
class NetworkSpec:
    """Shape and options of a BLUR network; the genome supplies everything else.

    >>> net = NetworkSpec(layer_sizes=(196, 512, 10), states=2)
    >>> net.n_layers, net.genome_length
    (2, 23)
    """

    layer_sizes: tuple[int, ...]
    states: int = 2
    tied: bool = False
    shared_states: bool = False
    feedback: str = "label"
    backward: str = "additive"
    normalization: bool = True
    oja: bool = False
    read_normalization: bool = False
    hidden_activation: Activation = "relu_tanh"
    output_activation: Activation = "tanh"
    backward_activation: Activation | None = None  # None: the same as hidden_activation
    init_scale: float = 1.0
    dtype: str = "float32"

    def __post_init__(self) -> None:
        sizes = tuple(int(n) for n in self.layer_sizes)
        if len(sizes) < 2 or min(sizes) < 1:
            raise NetworkError(
                "layer_sizes must list at least inputs and outputs, all >= 1, "
                f"got {self.layer_sizes}"
            )
        object.__setattr__(self, "layer_sizes", sizes)
        if int(self.states) < 2:
            raise NetworkError(f"states must be >= 2 (SPEC §1), got {self.states}")
        object.__setattr__(self, "states", int(self.states))
        if self.feedback not in FEEDBACK_MODES:
            raise NetworkError(f"feedback {self.feedback!r}; allowed: {', '.join(FEEDBACK_MODES)}")
        if self.backward not in BACKWARD_MODES:
            raise NetworkError(f"backward {self.backward!r}; allowed: {', '.join(BACKWARD_MODES)}")
        if self.dtype not in DTYPES:
            raise NetworkError(f"dtype {self.dtype!r}; allowed: {', '.join(DTYPES)}")
        if not np.isfinite(self.init_scale) or self.init_scale <= 0:
            raise NetworkError(f"init_scale must be a positive number, got {self.init_scale}")
        k = self.states
        object.__setattr__(
            self,
            "hidden_activation",
            _as_activation(self.hidden_activation, k, "hidden_activation"),
        )
        object.__setattr__(
            self,
            "output_activation",
            _as_activation(self.output_activation, k, "output_activation"),
        )
        if self.backward_activation is not None:
            object.__setattr__(
                self,
                "backward_activation",
                _as_activation(self.backward_activation, k, "backward_activation"),
            )

    # ---- derived shapes -------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        """L: the number of synapse layers (hidden layers + 1)."""
        return len(self.layer_sizes) - 1

    @property
    def n_inputs(self) -> int:
        return self.layer_sizes[0]

    @property
    def n_outputs(self) -> int:
        return self.layer_sizes[-1]

    @property
    def genome_length(self) -> int:
        return 4 * self.states**2 + 7

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    def forward_shape(self, layer: int) -> tuple[int, int, int]:
        """Shape of W_ℓ in SPEC layout: (n_ℓ + 1, n_{ℓ+1}, k)."""
        return (self.layer_sizes[layer] + 1, self.layer_sizes[layer + 1], self.states)

    def backward_shape(self, layer: int) -> tuple[int, int, int]:
        """Shape of V_ℓ in SPEC layout: (n_{ℓ+1}, n_ℓ, k)."""
        return (self.layer_sizes[layer + 1], self.layer_sizes[layer], self.states)

    def with_sizes(self, layer_sizes: tuple[int, ...]) -> NetworkSpec:
        """The same settings on other layer sizes (for transfer across widths and depths)."""
        return replace(self, layer_sizes=tuple(layer_sizes))

    # ---- activations ----------------------------------------------------------------
    def activation_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-layer, per-state activation codes for the kernel.

        Returns ``(forward, backward)``, both int64 of shape (L, k): row ℓ-1 is layer ℓ.
        Backward rows exist for hidden layers only; the output row is unused.
        """
        k, L = self.states, self.n_layers
        fwd = np.zeros((L, k), dtype=np.int64)
        bwd = np.zeros((L, k), dtype=np.int64)
        back = (
            self.hidden_activation if self.backward_activation is None else self.backward_activation
        )
        for layer in range(L):
            is_output = layer == L - 1
            fwd[layer] = _codes(self.output_activation if is_output else self.hidden_activation, k)
            bwd[layer] = _codes(back, k)
        return fwd, bwd

    # ---- serialisation --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["layer_sizes"] = list(self.layer_sizes)
        for key in ("hidden_activation", "output_activation", "backward_activation"):
            if isinstance(out[key], tuple):
                out[key] = list(out[key])
        if out["backward_activation"] is None:
            out.pop("backward_activation")
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkSpec:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise NetworkError(
                f"unknown network settings {sorted(unknown)}; allowed: {sorted(known)}"
            )
        return cls(**data)

    # ---- synapses -------------------------------------------------------------------
    def init_weights(self, seed: int) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        """Initial synapses (SPEC §1), drawn from ``seed``, in SPEC layout and ``self.dtype``.

        Each entry is U(-1, 1) · init_scale / sqrt(fan_in), fan_in = n_ℓ + 1 for W and
        n_{ℓ+1} for V. Draw order: for each layer, W then V. Then shared_states copies
        channel 0 to every channel and tied sets V = W[:n]ᵀ. Returns (W list, V list or
        None when tied).
        """
        rng = np.random.default_rng(seed)
        forward, backward = [], []
        for layer in range(self.n_layers):
            w_shape, v_shape = self.forward_shape(layer), self.backward_shape(layer)
            w = rng.uniform(-1.0, 1.0, size=w_shape) * (self.init_scale / np.sqrt(w_shape[0]))
            v = rng.uniform(-1.0, 1.0, size=v_shape) * (self.init_scale / np.sqrt(v_shape[0]))
            if self.shared_states:
                w[...] = w[:, :, :1]
                v[...] = v[:, :, :1]
            forward.append(w.astype(self.dtype))
            backward.append(v.astype(self.dtype))
        if self.tied:
            return forward, None
        return forward, backward


def _codes(activation: Activation, states: int) -> list[int]:
    names = (activation,) * states if isinstance(activation, str) else activation
    return [ACTIVATIONS.index(name) for name in names]


def backprop_network(
    layer_sizes: tuple[int, ...], dtype: str = "float64", init_scale: float = 1.0
) -> NetworkSpec:
    """The network settings under which :func:`blgnn_es.model.genome.backprop_genome` is SGD.

    SPEC §4: k = 2, tied, shared states, error feedback, multiplicative backward,
    forward activation (sigmoid, dsigmoid) on every layer, identity backward, no
    normalization. Targets go in as the MSE loss expects them (for example 0/1).
    """
    return NetworkSpec(
        layer_sizes=tuple(layer_sizes),
        states=2,
        tied=True,
        shared_states=True,
        feedback="error",
        backward="multiplicative_second",
        normalization=False,
        hidden_activation=("sigmoid", "dsigmoid"),
        output_activation=("sigmoid", "dsigmoid"),
        backward_activation="identity",
        init_scale=init_scale,
        dtype=dtype,
    )


def encode_targets(
    labels: np.ndarray,
    n_outputs: int,
    low: float = -1.0,
    high: float = 1.0,
    dtype: Any = np.float32,
) -> np.ndarray:
    """Labels (int, any shape) -> targets (..., n_outputs): ``high`` for the true class.

    With one output (a two-class task) the target is ``high`` for label 1, ``low`` for 0.
    """
    labels = np.asarray(labels)
    if n_outputs == 1:
        targets = np.where(labels[..., None] == 1, high, low)
    else:
        targets = np.where(labels[..., None] == np.arange(n_outputs), high, low)
    return np.ascontiguousarray(targets, dtype=dtype)
