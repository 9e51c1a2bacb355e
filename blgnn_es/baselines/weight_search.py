"""CMA-ES spent directly on a network's weights: the upper bound of "no learning rule".

Issue 15 item 4(b). BLUR's genome is meta-trained by CMA-ES for popsize × generations
evaluations; this baseline gives the same number of evaluations to CMA-ES searching the
weights of one network on one task instead, so the question "does the rule learn more than
a direct search with the same budget finds?" has an answer.

- The network is the one the gradient baselines train (:func:`gradient.mlp_for`): the BLUR
  network's layer sizes, state-0 activations and float type, one state per neuron.
- The search starts at channel 0 of the BLUR network's initial forward synapses of that
  seed (:func:`gradient.initial_weights`; biases are the last row of every layer) and
  searches all of them, flattened layer by layer, with ``sigma0``.
- Fitness (minimized): the baselines' loss (``ce`` or ``mse``, as for gradient descent) of
  the plain forward network, no learning, over every training example the rule sees in its
  T learning steps (the T batches of B). The same examples every generation, so CMA-ES
  works on a deterministic function.
- Budget: ``evaluations`` forward evaluations of one candidate network, exactly:
  ``evaluations / popsize`` generations of ``popsize``; pycma's own stopping tests are
  switched off so the whole budget is spent. The result is the best candidate evaluated.
- Seed: pycma is seeded from the sample's seed (``derive_seed(..., "evaluate-weight-search")``
  through :class:`evaluation.SampleSeeds`), so a search is reproducible.
- Above :data:`FULL_COVARIANCE_LIMIT` weights (e.g. MNIST's 196-512-10) pycma's full
  covariance matrix does not fit; the search uses its diagonal (separable) CMA-ES.

There is no per-step curve: as a :class:`gradient.Sweep` its test accuracy is the same in
every step column (a flat line) and its "rate" is nan.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import cma
import numpy as np
from threadpoolctl import threadpool_limits

from blgnn_es.baselines.gradient import Mlp, SeedDraw, Sweep, accuracy_of, activate
from blgnn_es.errors import ConfigError

SEARCH_NAME = "cmaes-weights"
SEED_PURPOSE = "weight-search"
FULL_COVARIANCE_LIMIT = 2000
"""Weights beyond which the search uses pycma's diagonal covariance (CMA_diagonal)."""
CHUNK_ELEMENTS = 1 << 22
"""Activations (candidates × examples × width) held at once when evaluating a population."""


def pycma_seed(seed: int) -> int:
    """A derived 63-bit seed as pycma takes it: 1 … 2³¹ − 1 (0 would mean "the clock")."""
    return 1 + int(seed) % (2**31 - 2)


def whole_budget_options(seed: int, popsize: int, diagonal: bool = False) -> dict:
    """pycma options for a search that spends its whole budget: seeded, silent, every
    stopping test off (a baseline at equal budget must not stop early)."""
    return {
        "seed": pycma_seed(seed), "popsize": popsize, "verbose": -9, "verb_disp": 0,
        "verb_log": 0, "tolx": 0, "tolfun": 0, "tolfunhist": 0, "tolflatfitness": math.inf,
        "tolstagnation": math.inf, "tolconditioncov": math.inf, "tolfacupx": math.inf,
        "tolupsigma": math.inf, "CMA_diagonal": diagonal,
    }


@dataclass
class WeightSearch:
    """One search: the best weights found ((n + 1, n') per layer, bias row last), its
    training loss, the start's, the loss of the best candidate after each generation, how
    many candidate networks were evaluated, and the wall time."""

    weights: list[np.ndarray]
    loss: float
    initial_loss: float
    history: np.ndarray
    evaluations: int
    seconds: float


def flatten(weights: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(w) for w in weights]).astype(np.float64)


def unflatten(flat: np.ndarray, shapes: list[tuple[int, int]]) -> list[np.ndarray]:
    """(P, D) candidates -> per layer (P, n + 1, n')."""
    out, begin = [], 0
    for rows, cols in shapes:
        out.append(flat[:, begin:begin + rows * cols].reshape(-1, rows, cols))
        begin += rows * cols
    return out


def population_loss(mlp: Mlp, layers: list[np.ndarray], x: np.ndarray,
                    labels: np.ndarray) -> np.ndarray:
    """The batch-mean loss of P networks ((P, n + 1, n') per layer) on (x, labels): the loss
    gradient descent minimizes (gradient.Mlp), one value per network; nan where it is not
    finite."""
    a = x[None]
    for layer, w in enumerate(layers):
        if layer:
            a = activate(mlp.hidden_activation, a)
        n = w.shape[1] - 1
        a = a @ w[:, :n] + w[:, n:n + 1]
    z, n_out = a, a.shape[-1]
    if mlp.loss == "ce":
        if n_out == 1:  # logistic loss, labels 0/1
            sign = np.where(labels == 1, 1.0, -1.0)
            loss = np.logaddexp(0.0, -sign[None] * z[..., 0]).mean(axis=1)
        else:
            top = z.max(axis=2, keepdims=True)
            log_norm = np.log(np.exp(z - top).sum(axis=2)) + top[..., 0]
            picked = np.take_along_axis(z, labels[None, :, None], axis=2)[..., 0]
            loss = (log_norm - picked).mean(axis=1)
    else:
        low = 0.0 if mlp.output_activation == "sigmoid" else -1.0
        if n_out == 1:
            target = np.where(labels == 1, 1.0, low)[:, None]
        else:
            target = np.where(labels[:, None] == np.arange(n_out), 1.0, low)
        out = activate(mlp.output_activation, z)
        loss = 0.5 * ((out - target[None]) ** 2).sum(axis=2).mean(axis=1)
    return np.where(np.isfinite(loss), loss, np.nan)


def search_weights(
    mlp: Mlp,
    start: list[np.ndarray],
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    evaluations: int,
    popsize: int,
    sigma0: float,
    seed: int,
) -> WeightSearch:
    """CMA-ES on the weights from ``start`` for exactly ``evaluations`` candidate networks.

    ``x_train`` (T, B, n_0) or (N, n_0), ``y_train`` (T, B) or (N,): the examples of the
    fitness. A candidate whose loss is not finite ranks last (pycma gets +inf's stand-in).
    """
    if popsize < 2 or evaluations < popsize or evaluations % popsize:
        raise ConfigError(f"weight search: evaluations ({evaluations}) must be a positive "
                          f"multiple of popsize ({popsize}), popsize >= 2")
    started = time.perf_counter()
    dtype = np.dtype(mlp.dtype)
    shapes = [(a + 1, b) for a, b in zip(mlp.layer_sizes, mlp.layer_sizes[1:], strict=False)]
    if [tuple(np.shape(w)) for w in start] != shapes:
        raise ConfigError(f"weight search start {[np.shape(w) for w in start]}, "
                          f"expected {shapes}")
    x = np.asarray(x_train, dtype=dtype).reshape(-1, mlp.layer_sizes[0])
    y = np.asarray(y_train, dtype=np.int64).reshape(-1)
    widest = max(mlp.layer_sizes[1:])
    chunk = max(1, CHUNK_ELEMENTS // max(1, len(y) * widest))

    def losses(candidates: np.ndarray) -> np.ndarray:
        out = np.empty(len(candidates))
        for begin in range(0, len(candidates), chunk):
            part = candidates[begin:begin + chunk].astype(dtype)
            out[begin:begin + chunk] = population_loss(mlp, unflatten(part, shapes), x, y)
        return out

    x0 = flatten(start)
    options = whole_budget_options(seed, popsize, diagonal=x0.size > FULL_COVARIANCE_LIMIT)
    generations = evaluations // popsize
    history = np.empty(generations)
    best_x, best_loss, used = x0, math.inf, 0
    with (
        threadpool_limits(limits=1, user_api="blas"),
        np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"),
    ):
        initial = float(losses(x0[None])[0])
        es = cma.CMAEvolutionStrategy(x0, sigma0, options)
        for generation in range(generations):
            candidates = np.asarray(es.ask())
            values = losses(candidates)
            used += len(candidates)
            finite = np.isfinite(values)
            if finite.any():
                pick = int(np.nanargmin(values))
                if values[pick] < best_loss:
                    best_loss, best_x = float(values[pick]), candidates[pick].copy()
            worst = np.nanmax(values) if finite.any() else 1e300
            es.tell(list(candidates), np.where(finite, values, 10 * abs(worst) + 1e3).tolist())
            history[generation] = best_loss
    weights = [w[0].astype(dtype) for w in unflatten(best_x[None], shapes)]
    return WeightSearch(weights, best_loss, initial, history, used,
                        time.perf_counter() - started)


@dataclass
class WeightSweep(Sweep):
    """The search as the reports read a baseline (a :class:`gradient.Sweep` with one "rate",
    nan): the same test accuracy at every budget, flat curve, validation accuracy of the
    found weights; plus what each seed's search spent and reached."""

    searches: list[WeightSearch] = field(default_factory=list, repr=False)


def weight_sweep(
    mlp: Mlp,
    draws: list[SeedDraw],
    seeds: list[int],
    budgets: tuple[int, ...],
    *,
    evaluations: int,
    popsize: int,
    sigma0: float,
) -> WeightSweep:
    """One search per seed (draw r with seed r), scored on the draw's validation and test
    examples, the test examples BLUR is scored on."""
    budgets = tuple(int(b) for b in budgets)
    steps = len(draws[0].x_train)
    searches, validation, test = [], [], []
    for draw, seed in zip(draws, seeds, strict=True):
        net = draw.network(mlp)
        found = search_weights(net, draw.start, draw.x_train, draw.y_train,
                               evaluations=evaluations, popsize=popsize, sigma0=sigma0,
                               seed=seed)
        searches.append(found)
        validation.append(accuracy_of(net, found.weights, np.asarray(
            draw.x_validation, dtype=net.dtype).reshape(-1, net.layer_sizes[0]),
            np.asarray(draw.y_validation).reshape(-1)))
        test.append(accuracy_of(net, found.weights, np.asarray(
            draw.x_test, dtype=net.dtype).reshape(-1, net.layer_sizes[0]),
            np.asarray(draw.y_test).reshape(-1)))
    n = len(draws)
    test_table = np.repeat(np.asarray(test)[:, None], len(budgets), axis=1)
    return WeightSweep(
        optimizer=SEARCH_NAME,
        rates=np.array([math.nan]),
        budgets=budgets,
        validation=np.repeat(np.asarray(validation)[:, None, None], len(budgets), axis=2),
        chosen=np.zeros(len(budgets), dtype=np.int64),
        test=test_table,
        curve=np.repeat(np.asarray(test)[:, None], steps, axis=1),
        diverged=np.array([sum(not math.isfinite(s.loss) for s in searches)], dtype=np.int64)
        if n else np.zeros(1, dtype=np.int64),
        searches=searches,
    )
