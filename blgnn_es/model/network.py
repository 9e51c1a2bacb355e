"""Network settings (SPEC.md §1, §3, §5) and initial synapses.

A :class:`NetworkSpec` holds everything about a BLUR network that is not in the genome:
layer sizes, the number of states k, the synapse options, the pass modes and the
per-state activations. Every option is declared once, in :class:`NetworkOptions` (type,
default, range, meaning); the run config's ``[network]`` section, the genome sidecar and
docs/config.md all derive from that declaration.
"""

from __future__ import annotations

from numbers import Integral
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from blgnn_es.errors import NetworkError

# Codes shared with the kernel (blgnn_es/kernel.py) and the oracle (blgnn_es/reference.py).
ACTIVATIONS = ("identity", "tanh", "relu", "relu_tanh", "sigmoid", "dsigmoid")
FEEDBACK_MODES = ("label", "error")
BACKWARD_MODES = ("additive", "multiplicative_second")
DTYPES = ("float32", "float64")

Activation = str | tuple[str, ...]


def _plain_int(value: Any) -> Any:
    """numpy integers count as integers (sizes often come from array shapes); bools do not."""
    if isinstance(value, Integral) and not isinstance(value, bool | int):
        return int(value)
    return value


def _activation(value: Any) -> Any:
    """One activation name for every state, or a list (stored as a tuple) of names."""
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not names:
        raise ValueError("give an activation name or a list of names (one per state)")
    for name in names:
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}")
    return value if isinstance(value, str) else tuple(value)


def _sizes(value: Any) -> Any:
    """Layer sizes from any sequence (a list from JSON, a tuple, an array shape)."""
    return tuple(value) if isinstance(value, list | tuple | np.ndarray) else value


Int = Annotated[int, BeforeValidator(_plain_int), Strict()]
"""An integer (numpy integers too); never a bool, float or string."""
Float = Annotated[float, Strict()]
"""A number (ints become floats), never a bool or string."""
Bool = Annotated[bool, Strict()]
ActivationSetting = Annotated[Activation, BeforeValidator(_activation)]

_ACTIVATION_ALLOWED = f"one of {', '.join(ACTIVATIONS)}, or a list of k of them (one per state)"
_ACTIVATION_EXTRA = {"allowed": _ACTIVATION_ALLOWED, "type": "string or list"}


class NetworkOptions(BaseModel):
    """Every network option but the layer sizes: the one declaration of each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    states: Int = Field(2, ge=2, le=16, description="k, states per neuron (SPEC §1)")
    tied: Bool = Field(False, description="V = Wᵀ at all times (symmetric synapses)")
    shared_states: Bool = Field(False, description="all k channels of a synapse hold one matrix")
    feedback: Literal[FEEDBACK_MODES] = Field(
        "label", description="how the target enters the output layer (SPEC §3.3)")
    backward: Literal[BACKWARD_MODES] = Field(
        "additive", description="backward update mode (SPEC §3.4)")
    normalization: Bool = Field(True, description="activation normalization (SPEC §5)")
    oja: Bool = Field(False, description="Oja decay term in the synapse update")
    read_normalization: Bool = Field(False, description="normalize synapse columns when read")
    hidden_activation: ActivationSetting = Field(
        "relu_tanh", description="hidden activation: one name, or a list of k names "
        "(one per state)", json_schema_extra=_ACTIVATION_EXTRA)
    output_activation: ActivationSetting = Field(
        "tanh", description="output activation (name or list of k)",
        json_schema_extra=_ACTIVATION_EXTRA)
    backward_activation: ActivationSetting | None = Field(
        None, description="backward-pass activation (default: the hidden activation)",
        json_schema_extra=_ACTIVATION_EXTRA)
    init_scale: Float = Field(1.0, gt=0.0, allow_inf_nan=False,
                              description="scale of the initial synapses")
    dtype: Literal[DTYPES] = Field("float32", description="floating point type of the unroll")

    @field_validator("hidden_activation", "output_activation", "backward_activation")
    @classmethod
    def _one_per_state(cls, value: Activation | None, info: ValidationInfo) -> Activation | None:
        """A per-state list must name every state (the states check ran first)."""
        states = info.data.get("states")
        if isinstance(value, tuple) and states is not None and len(value) != states:
            raise ValueError(f"a per-state list needs {states} names (one per state), "
                             f"got {len(value)}")
        return value


_LIMITS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


def network_error_text(err: ValidationError, model: type[BaseModel]) -> str:
    """The first problem of a validation error as one line: key, value, what is allowed."""
    first = err.errors(include_url=False)[0]
    key = str(first["loc"][0]) if first["loc"] else "network"
    value, ctx = first.get("input"), first.get("ctx", {})
    if isinstance(ctx.get("error"), ValueError):
        return f"{key}: {ctx['error']}"
    limits = [f"{_LIMITS[name]} {ctx[name]}" for name in _LIMITS if name in ctx]
    if limits:
        return f"{key} must be {' and '.join(limits)}, got {value!r}"
    field = model.model_fields.get(key)
    if first["type"] == "literal_error" and field is not None:
        return f"{key} {value!r} is not allowed; allowed: {', '.join(field.annotation.__args__)}"
    if first["type"] == "extra_forbidden":
        return f"unknown network setting {key!r}; allowed: {', '.join(model.model_fields)}"
    return f"{key} = {value!r}: {first['msg']}"


class NetworkSpec(NetworkOptions):
    """Shape and options of a BLUR network; the genome supplies everything else.

    >>> net = NetworkSpec(layer_sizes=(196, 512, 10), states=2)
    >>> net.n_layers, net.genome_length
    (2, 23)
    """

    layer_sizes: Annotated[tuple[Int, ...], BeforeValidator(_sizes)] = Field(
        description="neurons per layer: inputs, hidden layers, outputs")

    def __init__(self, *args: Any, **data: Any) -> None:
        """Keyword fields (``layer_sizes`` may come first, positionally); NetworkError on
        anything SPEC.md does not allow."""
        if args:
            if len(args) > 1 or "layer_sizes" in data:
                raise NetworkError("NetworkSpec takes layer_sizes positionally, the rest by name")
            data["layer_sizes"] = args[0]
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise NetworkError(network_error_text(err, type(self))) from None

    @field_validator("layer_sizes")
    @classmethod
    def _at_least_in_and_out(cls, sizes: tuple[int, ...]) -> tuple[int, ...]:
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError("list at least inputs and outputs, all >= 1, "
                             f"got {sizes}")
        return sizes

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
        return NetworkSpec(**{**self.options(), "layer_sizes": layer_sizes})

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
    def options(self) -> dict[str, Any]:
        """Every option but the layer sizes, as given to the constructor."""
        return {name: getattr(self, name) for name in NetworkOptions.model_fields}

    def to_dict(self) -> dict[str, Any]:
        """The sidecar form: layer_sizes first, lists for tuples, no backward_activation when
        it is the hidden one (genomes/*.json store exactly this)."""
        out: dict[str, Any] = {"layer_sizes": list(self.layer_sizes)}
        for name, value in self.options().items():
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkSpec:
        """Inverse of :meth:`to_dict`; unknown keys are a NetworkError."""
        known = set(cls.model_fields)
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
