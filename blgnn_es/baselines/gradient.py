"""Baselines beside BLUR: SGD, SGD with momentum, Adam (SPEC.md R4) and feedback alignment.

Feedback alignment (``fa``; Lillicrap et al. 2016, "Random synaptic feedback weights support
error backpropagation for deep learning", Nat. Commun. 7:13276) is plain SGD whose error
signals travel back through fixed random matrices B_ℓ instead of W_ℓᵀ:
δ_ℓ = (δ_{ℓ+1} B_ℓ) ⊙ φ'(z_ℓ), ΔW_ℓ = −lr · [a_ℓ, 1]ᵀ δ_{ℓ+1}. B_ℓ is channel 0 of the
initial backward synapses V_ℓ that an untied BLUR network of the same sizes draws from the
sample's synapse seed (:func:`feedback_weights`): BLUR's own backward synapses, held fixed.
BLUR itself cannot run this: ν̃ and μ̃ update V from the same terms as W, and W and V share
one f̃ and η̃, so no genome keeps V fixed while W follows the backprop genome
(docs/baselines.md).

An ordinary one-state network of the BLUR network's layer sizes, started from channel 0 of
the BLUR network's initial forward synapses (``NetworkSpec.init_weights(seed)[0][ℓ][..., 0]``,
bias row last), trained on the same batches in the same order. Every learning rate of a
sweep trains in one set of arrays, (R, n_ℓ + 1, n_{ℓ+1}) per layer, one network through
all its steps after another (one product over all rates' first layers, (128 × 196)(196 ×
13·512), ran at a third of the speed of 13 products (128 × 196)(196 × 512)). The rates
share what they can: the start's accuracy and the first step's gradient are computed once.

The learning rate is chosen on validation data held out from the training split, never on
the test split, separately for each reported step budget (:func:`choose_rates`).

>>> import numpy as np
>>> mlp = Mlp((4, 8, 3))
>>> rng = np.random.default_rng(0)
>>> start = [rng.uniform(-0.5, 0.5, (5, 8)), rng.uniform(-0.3, 0.3, (9, 3))]
>>> x, y = rng.normal(size=(10, 16, 4)), rng.integers(0, 3, (10, 16))
>>> run = train_rates(mlp, "adam", [1e-3, 1e-2], start, x, y,
...                   probes=[Probe(x[0], y[0], (1, 10))])
>>> run.accuracy[0].shape, run.diverged.tolist()
((2, 2), [False, False])
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from threadpoolctl import threadpool_limits

from blgnn_es.config.baselines import (  # noqa: F401 (default_rates: re-exported)
    ACTIVATIONS,
    LOSSES,
    OPTIMIZERS,
    default_rates,
)
from blgnn_es.errors import ConfigError
from blgnn_es.model.network import NetworkSpec

MOMENTUM = 0.9  # heavy ball: v ← 0.9 v + g, W ← W − lr v (PyTorch's SGD momentum)
ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8  # Kingma & Ba's defaults
EVAL_CHUNK = 256  # examples per forward pass when measuring accuracy (keeps it in cache)


@dataclass(frozen=True)
class Mlp:
    """An ordinary one-state network: layer sizes, activations, loss, float type.

    Loss ``ce``: softmax cross-entropy on the output pre-activations (one output: the
    logistic loss). Loss ``mse``: L = 1/(2B) Σ_b Σ_j (φ(z) − t)², targets 0/1 when the output
    activation is sigmoid, else ±1 (SPEC §3.3). Prediction: argmax of z (one output: z > 0).
    """

    layer_sizes: tuple[int, ...]
    hidden_activation: str = "relu_tanh"
    output_activation: str = "identity"  # used by mse only; ce reads logits
    loss: str = "ce"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        for what, name in (("hidden", self.hidden_activation), ("output", self.output_activation)):
            if name not in ACTIVATIONS:
                raise ConfigError(
                    f"baseline {what} activation {name!r}; allowed: {', '.join(ACTIVATIONS)}"
                )
        if self.loss not in LOSSES:
            raise ConfigError(f"baseline loss {self.loss!r}; allowed: {', '.join(LOSSES)}")
        object.__setattr__(self, "layer_sizes", tuple(int(n) for n in self.layer_sizes))


def mlp_for(
    net: NetworkSpec,
    loss: str = "ce",
    hidden_activation: str | None = None,
    output_activation: str | None = None,
) -> Mlp:
    """The baseline network beside a BLUR network: its sizes and float type, and (unless
    given) the activations of its state 0, the one BLUR reads its prediction from."""

    def state0(activation) -> str:
        return activation if isinstance(activation, str) else activation[0]

    hidden = hidden_activation or state0(net.hidden_activation)
    output = output_activation or state0(net.output_activation)
    for name in (hidden, output):
        if name not in ACTIVATIONS:
            raise ConfigError(
                f"the network's state-0 activation {name!r} has no baseline "
                f"counterpart; choose one of {', '.join(ACTIVATIONS)}"
            )
    return Mlp(net.layer_sizes, hidden, output, loss, net.dtype)


def initial_weights(net: NetworkSpec, seed: int) -> list[np.ndarray]:
    """Channel 0 of BLUR's initial forward synapses: (n_ℓ + 1, n_{ℓ+1}) per layer, bias last."""
    forward, _ = net.init_weights(seed)
    return [np.ascontiguousarray(w[:, :, 0]) for w in forward]


def feedback_weights(net: NetworkSpec, seed: int) -> list[np.ndarray]:
    """Feedback alignment's fixed matrices B_ℓ, (n_{ℓ+1}, n_ℓ) for ℓ = 1 … L−1: channel 0 of
    the initial backward synapses of the untied network (a tied network draws them too and
    then overwrites them with Wᵀ; its forward synapses are the same either way)."""
    untied = NetworkSpec.from_dict({**net.to_dict(), "tied": False})
    _, backward = untied.init_weights(seed)
    return [np.ascontiguousarray(v[:, :, 0]) for v in backward[1:]]


# ---- activations ----------------------------------------------------------------------


def activate(name: str, z: np.ndarray) -> np.ndarray:
    """φ(z) of a baseline activation (:data:`ACTIVATIONS`)."""
    if name == "identity":
        return z
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "relu_tanh":
        a = np.tanh(z)
        return np.maximum(a, 0, out=a)
    return 1 / (1 + np.exp(-z))


def _slope(name: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """φ'(z), from z and a = φ(z)."""
    if name == "identity":
        return np.ones_like(z)
    if name == "tanh":
        return 1 - a * a
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "relu_tanh":  # (z > 0)(1 − a²), in place: a = tanh z wherever z > 0
        slope = a * a
        np.subtract(1, slope, out=slope)
        slope *= z > 0
        return slope
    return a * (1 - a)


# ---- the learner: one network at a time ------------------------------------------------

BLAS_THREADS = 1  # see train_rates; a module constant so bench/bench_baselines.py can vary it


@dataclass
class _Nets:
    """Parameters of R networks: layer ℓ is (R, n_ℓ + 1, n_{ℓ+1}), bias row last, so one
    network's layer is one contiguous matrix that stays in cache through its whole step."""

    layers: list[np.ndarray]

    @classmethod
    def replicate(cls, start: list[np.ndarray], count: int, dtype) -> _Nets:
        return cls([np.repeat(np.asarray(w, dtype=dtype)[None], count, axis=0) for w in start])

    def zeros_like(self) -> _Nets:
        return _Nets([np.zeros_like(w) for w in self.layers])

    def of(self, net: int) -> list[np.ndarray]:
        """Network ``net``'s layers (views)."""
        return [w[net] for w in self.layers]

    def finite(self, net: int) -> bool:
        return all(np.isfinite(w[net]).all() for w in self.layers)

    def zero(self, net: int) -> None:
        for w in self.layers:
            w[net] = 0


def _forward(mlp: Mlp, weights: list[np.ndarray], x: np.ndarray):
    """Pre-activations of every layer and the inputs to every layer (x first), each (B, n)."""
    pre, post = [], [x]
    for layer, w in enumerate(weights):
        if layer:
            post.append(activate(mlp.hidden_activation, pre[-1]))
        n = w.shape[0] - 1
        z = post[-1] @ w[:n]
        z += w[n]
        pre.append(z)
    return pre, post


def _output_delta(mlp: Mlp, z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """∂L/∂z at the output for the batch mean loss, (B, n_out)."""
    batch, n_out = z.shape
    if mlp.loss == "ce":
        if n_out == 1:
            return (1 / (1 + np.exp(-z)) - labels[:, None]) / batch
        shifted = np.exp(z - z.max(axis=1, keepdims=True))
        delta = shifted / shifted.sum(axis=1, keepdims=True)
        delta[np.arange(batch), labels] -= 1
        return delta / batch
    a = activate(mlp.output_activation, z)
    return (a - _targets(mlp, labels, n_out, z.dtype)) * _slope(mlp.output_activation, z, a) / batch


def _targets(mlp: Mlp, labels: np.ndarray, n_out: int, dtype) -> np.ndarray:
    low = 0.0 if mlp.output_activation == "sigmoid" else -1.0
    if n_out == 1:
        return np.where(labels == 1, 1.0, low).astype(dtype)[:, None]
    return np.where(labels[:, None] == np.arange(n_out), 1.0, low).astype(dtype)


def _gradients(mlp: Mlp, weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray,
               feedback: list[np.ndarray] | None, out: list[np.ndarray]) -> None:
    """Backprop of one network's batch mean loss into ``out`` (shaped like ``weights``).
    With ``feedback`` (B_ℓ, (n_{ℓ+1}, n_ℓ) for ℓ ≥ 1) the error goes back through B_ℓ
    instead of W_ℓᵀ (feedback alignment)."""
    pre, post = _forward(mlp, weights, x)
    delta = _output_delta(mlp, pre[-1], labels)
    for layer in range(len(weights) - 1, -1, -1):
        w, a, grad = weights[layer], post[layer], out[layer]
        n = w.shape[0] - 1
        np.matmul(a.T, delta, out=grad[:n])
        grad[n] = delta.sum(axis=0)
        if layer:
            back = w[:n].T if feedback is None else feedback[layer - 1]
            delta = delta @ back
            delta *= _slope(mlp.hidden_activation, pre[layer - 1], a)


class _Optimizer:
    """One update rule for R networks, each with its own learning rate, one network and
    step at a time (:meth:`step`)."""

    def __init__(self, name: str, nets: _Nets, rates: np.ndarray) -> None:
        if name not in OPTIMIZERS:
            raise ConfigError(f"baseline {name!r}; allowed: {', '.join(OPTIMIZERS)}")
        self.name = "sgd" if name == "fa" else name  # fa: SGD on feedback-aligned signals
        self.rates = rates
        if self.name != "sgd":
            self.first = nets.zeros_like()
        if name == "adam":
            self.second = nets.zeros_like()

    def step(self, net: int, steps: int, weights: list[np.ndarray],
             grads: list[np.ndarray]) -> None:
        """Update network ``net``; ``grads`` are used as scratch space (in place: no
        temporaries, which cost page faults at these sizes)."""
        rate = self.rates[net]
        for layer, (w, g) in enumerate(zip(weights, grads, strict=True)):
            if self.name == "sgd":
                g *= rate
                w -= g
            elif self.name == "momentum":
                v = self.first.layers[layer][net]
                v *= MOMENTUM
                v += g
                np.multiply(v, rate, out=g)
                w -= g
            else:
                # m̂ / (√ŝ + ε) with m̂ = m / (1 − β₁ᵗ), ŝ = s / (1 − β₂ᵗ)
                m, s = self.first.layers[layer][net], self.second.layers[layer][net]
                m *= ADAM_BETA1
                m += (1 - ADAM_BETA1) * g
                g *= g
                g *= 1 - ADAM_BETA2
                s *= ADAM_BETA2
                s += g
                np.sqrt(s, out=g)
                g *= 1 / np.sqrt(1 - ADAM_BETA2**steps)
                g += ADAM_EPS
                np.divide(m, g, out=g)
                g *= rate / (1 - ADAM_BETA1**steps)
                w -= g

    def forget(self, net: int) -> None:
        for state in (getattr(self, "first", None), getattr(self, "second", None)):
            if state is not None:
                state.zero(net)


@dataclass(frozen=True)
class Probe:
    """Examples whose accuracy is measured after the listed learning steps (0: before any),
    for all rates or only the listed rate ``columns`` (evaluation costs more than a step)."""

    x: np.ndarray  # (N, n_0), or (E, B, n_0) batches that are flattened
    labels: np.ndarray  # (N,) or (E, B)
    steps: tuple[int, ...]
    columns: tuple[int, ...] | None = None


@dataclass
class RatesRun:
    """What :func:`train_rates` measured: per probe, accuracy (R, len(probe.steps));
    which rates diverged (their accuracy counts as 0 from then on); the final weights,
    (R, n + 1, n') per layer."""

    accuracy: list[np.ndarray]
    diverged: np.ndarray
    weights: list[np.ndarray] = field(repr=False)

    def final_weights(self, rate_index: int) -> list[np.ndarray]:
        """Rate ``rate_index``'s weights in the layout of the start: (n + 1, n') per layer."""
        return [w[rate_index].copy() for w in self.weights]


def train_rates(
    mlp: Mlp,
    optimizer: str,
    rates,
    start: list[np.ndarray],
    x_train: np.ndarray,
    labels: np.ndarray,
    probes: list[Probe] = (),
    feedback: list[np.ndarray] | None = None,
) -> RatesRun:
    """Train one network per learning rate from the same start on the same batches.

    ``start``: (n_ℓ + 1, n_{ℓ+1}) per layer, bias row last; x_train (T, B, n_0), labels
    (T, B) ints. A rate whose weights stop being finite is marked diverged and frozen at 0.
    ``feedback``: feedback alignment's fixed B_ℓ (:func:`feedback_weights`); required by
    ``fa``, ignored by the others.
    """
    dtype = np.dtype(mlp.dtype)
    rates = np.asarray(rates, dtype=dtype)
    shapes = [(a + 1, b) for a, b in zip(mlp.layer_sizes, mlp.layer_sizes[1:], strict=False)]
    if [tuple(np.shape(w)) for w in start] != shapes:
        raise ConfigError(
            f"baseline start weights {[np.shape(w) for w in start]}, expected {shapes}"
        )
    x_train = np.asarray(x_train, dtype=dtype)
    labels = np.asarray(labels, dtype=np.int64)
    flat_probes = [
        (
            np.asarray(p.x, dtype=dtype).reshape(-1, mlp.layer_sizes[0]),
            np.asarray(p.labels, dtype=np.int64).reshape(-1),
            p.steps,
            range(len(rates)) if p.columns is None else list(p.columns),
        )
        for p in probes
    ]
    accuracy = [np.zeros((len(p[3]), len(p[2]))) for p in flat_probes]
    back = None
    if optimizer == "fa":
        wanted = [(b, a) for a, b in zip(mlp.layer_sizes[1:-1], mlp.layer_sizes[2:], strict=True)]
        if feedback is None or [tuple(np.shape(m)) for m in feedback] != wanted:
            raise ConfigError(f"feedback alignment needs fixed feedback matrices {wanted}")
        back = [np.asarray(m, dtype=dtype) for m in feedback]
    nets = _Nets.replicate(start, len(rates), dtype)
    rule = _Optimizer(optimizer, nets, rates)
    diverged = np.zeros(len(rates), dtype=bool)
    grads = [np.empty_like(w) for w in nets.of(0)]

    def measure(net: int, step: int) -> None:
        """Network ``net``'s accuracy after ``step`` steps, where a probe asks for it."""
        for out, (x, y, steps, columns) in zip(accuracy, flat_probes, strict=True):
            for column, wanted in enumerate(steps):
                rows = [row for row, listed in enumerate(columns) if listed == net]
                if wanted == step and rows:
                    out[rows, column] = accuracy_of(mlp, nets.of(net), x, y)

    def first_step(net: int) -> None:
        """The first gradient is the same for every rate (one start, one batch): once."""
        if not shared:
            _gradients(mlp, nets.of(net), x_train[0], labels[0], back, grads)
            shared.extend(g.copy() for g in grads)
        else:
            for grad, value in zip(grads, shared, strict=True):
                grad[...] = value

    # One BLAS thread, as for the kernel (learner.limit_kernel_blas_threads): on a busy
    # machine spin-waiting BLAS threads made a step of 196-512-10 x 13 rates 15x slower
    # (470 ms against 25 ms), and the result no longer depends on the thread count.
    # The networks are independent, so one trains through all its steps before the next
    # starts: its layers, gradients and optimizer state stay in cache, and 13 products
    # (128x196)(196x512) ran 3x faster than one (128x196)(196x6656) on all rates at once.
    # A network that diverges stops there (its accuracy stays 0).
    shared: list[np.ndarray] = []
    with (
        threadpool_limits(limits=BLAS_THREADS, user_api="blas"),
        np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"),
    ):
        for out, (x, y, steps, _) in zip(accuracy, flat_probes, strict=True):
            for column, wanted in enumerate(steps):
                if wanted == 0:  # every network still holds the start
                    out[:, column] = accuracy_of(mlp, nets.of(0), x, y)
        for net in range(len(rates)):
            weights = nets.of(net)
            for step in range(len(x_train)):
                if step == 0:
                    first_step(net)
                else:
                    _gradients(mlp, weights, x_train[step], labels[step], back, grads)
                rule.step(net, step + 1, weights, grads)
                if not nets.finite(net):
                    diverged[net] = True
                    nets.zero(net)
                    rule.forget(net)
                    break
                measure(net, step + 1)
    return RatesRun(accuracy, diverged, nets.layers)


def accuracy_of(mlp: Mlp, weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of one network (layers (n + 1, n'), bias row last) on (x, labels), in
    chunks of EVAL_CHUNK examples."""
    correct = 0
    for begin in range(0, len(x), EVAL_CHUNK):
        z = _forward(mlp, weights, x[begin : begin + EVAL_CHUNK])[0][-1]
        guess = (z[:, 0] > 0) if z.shape[1] == 1 else z.argmax(axis=1)
        correct += int((guess == labels[begin : begin + EVAL_CHUNK]).sum())
    return correct / max(len(x), 1)


# ---- sweeps: choose the rate on validation, report on test ----------------------------


@dataclass(frozen=True)
class SeedDraw:
    """One seed's data, shared with the BLUR run it is compared to."""

    start: list[np.ndarray]  # (n + 1, n') per layer
    x_train: np.ndarray  # (T, B, n_0)
    y_train: np.ndarray  # (T, B)
    x_validation: np.ndarray  # held out from the training split
    y_validation: np.ndarray
    x_test: np.ndarray  # the test examples BLUR is evaluated on
    y_test: np.ndarray
    feedback: list[np.ndarray] | None = None  # feedback alignment's fixed B_ℓ
    mlp: Mlp | None = None  # this seed's network when it differs from the sweep's (a task
    # family such as "tabular" draws its input and output sizes per seed); None: the sweep's

    def network(self, default: Mlp) -> Mlp:
        """The network this seed trains: its own, else the sweep's ``default``."""
        return default if self.mlp is None else self.mlp


@dataclass
class Sweep:
    """One optimizer over rates and seeds.

    ``validation`` (seeds, rates, budgets): validation accuracy after each budget's step;
    ``chosen`` (budgets,): index of the rate with the best mean validation accuracy at that
    budget; ``test`` (seeds, budgets): test accuracy at each budget with its chosen rate;
    ``curve`` (seeds, T): test accuracy after every step at the rate chosen for the last
    budget.
    """

    optimizer: str
    rates: np.ndarray
    budgets: tuple[int, ...]
    validation: np.ndarray
    chosen: np.ndarray
    test: np.ndarray
    curve: np.ndarray
    diverged: np.ndarray  # (rates,) seeds whose network diverged at that rate

    def rate_at(self, budget: int) -> float:
        return float(self.rates[self.chosen[self.budgets.index(budget)]])

    @property
    def curve_rate(self) -> float:
        return float(self.rates[self.chosen[-1]])


def choose_rates(validation: np.ndarray) -> np.ndarray:
    """Per budget, the rate with the best mean validation accuracy over seeds (the smaller
    rate on a tie). Takes validation accuracy only: the test split cannot reach it."""
    return np.argmax(validation.mean(axis=0), axis=0)


def sweep(
    mlp: Mlp, optimizer: str, rates, draws: list[SeedDraw], budgets: tuple[int, ...]
) -> Sweep:
    """Choose a rate per budget on validation data, then measure the chosen rates on test.

    Two passes over the same batches: all rates with validation probes at the budgets, then
    only the chosen rates, each measured on test at the budgets it was chosen for, and the
    last budget's rate after every step (the curve).
    """
    rates = np.asarray(rates, dtype=np.float64)
    steps = len(draws[0].x_train)
    budgets = tuple(int(b) for b in budgets)
    validation, diverged = [], np.zeros(len(rates), dtype=np.int64)
    for draw in draws:
        run = train_rates(
            draw.network(mlp),
            optimizer,
            rates,
            draw.start,
            draw.x_train,
            draw.y_train,
            [Probe(draw.x_validation, draw.y_validation, budgets)],
            draw.feedback,
        )
        validation.append(run.accuracy[0])
        diverged += run.diverged
    validation = np.array(validation)
    chosen = choose_rates(validation)
    distinct = sorted(set(chosen.tolist()))
    position = {index: row for row, index in enumerate(distinct)}
    probes = [
        Probe(None, None, tuple(range(1, steps + 1)), (position[int(chosen[-1])],)),
        *(
            Probe(
                None,
                None,
                tuple(b for b, c in zip(budgets, chosen, strict=True) if c == index),
                (position[index],),
            )
            for index in distinct
        ),
    ]
    curve = np.zeros((len(draws), steps))
    test = np.zeros((len(draws), len(budgets)))
    for seed, draw in enumerate(draws):
        run = train_rates(
            draw.network(mlp),
            optimizer,
            rates[distinct],
            draw.start,
            draw.x_train,
            draw.y_train,
            [replace(p, x=draw.x_test, labels=draw.y_test) for p in probes],
            draw.feedback,
        )
        curve[seed] = run.accuracy[0][0]
        for probe, measured in zip(probes[1:], run.accuracy[1:], strict=True):
            for column, budget in enumerate(probe.steps):
                test[seed, budgets.index(budget)] = measured[0, column]
    return Sweep(optimizer, rates, budgets, validation, chosen, test, curve, diverged)
