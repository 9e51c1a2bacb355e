"""A one-state Hebbian rule (ABCD) meta-trained by CMA-ES at the genome's budget.

Issue 15 item 4(b): "is the multi-state genome worth it?" needs a simpler plasticity rule
given the same meta-training. SPEC's BLUR needs k >= 2 states, so this is a learner of its
own: the one-state network of the gradient baselines (:func:`gradient.mlp_for`: BLUR's
layer sizes, state-0 activations, float type, starting from channel 0 of BLUR's initial
forward synapses), with no backward pass at all.

One learning step on a batch (x, labels), for every layer ℓ with inputs a_ℓ (B, n_ℓ) and
outputs y_ℓ (B, n_ℓ₊₁):

- forward: y_ℓ = φ(a_ℓ W_ℓ + b_ℓ) (φ the hidden activation; at the output φ_out);
- the output layer's post-synaptic value is the label written into it, blended with its
  forward value: y_L = α t + β y_L (t the ±1 targets of SPEC §3.3, 0/1 for a sigmoid output);
- every synapse, bias row included (its presynaptic value is 1), changes by the batch mean of
  ΔW_ij = A_ℓ a_i y_j + B_ℓ a_i + C_ℓ y_j + D_ℓ, all layers from the same forward pass.

The rule is 4L + 2 numbers (A, B, C, D per layer, then α, β). α = 1, β = −1 at the output is
the delta rule there; the hidden layers only ever see their own activity.

Meta-training, at equal budget: CMA-ES (pycma, every stopping test off) for ``evaluations``
candidate rules (default 64 × 700, the R3 genomes' meta-training), each scored like a genome:
1 − accuracy on the held-out batches after T steps, averaged over the genome's training tasks
× ``replicas`` draws; every candidate of a generation sees the same draws (common random
numbers), ``derive_seed(seed, generation, task, replica, "hebbian-" + purpose)``. The rule
handed to the comparison is pycma's final distribution mean. A candidate that overflows
scores as wrong on every example (fitness 1), never an error.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cma
import numpy as np
from threadpoolctl import threadpool_limits

from blgnn_es.baselines.gradient import Mlp, SeedDraw, Sweep, activate, initial_weights, mlp_for
from blgnn_es.baselines.weight_search import whole_budget_options
from blgnn_es.config.baselines import BaselineSettings
from blgnn_es.errors import ConfigError
from blgnn_es.evaluation import EvaluationRequest, Sample, SampleSeeds, draw_sample
from blgnn_es.tasks import derive_seed, parse_task_spec

HEBBIAN_NAME = "hebbian"
SEED_PREFIX = "hebbian-"
START_A = 0.1
"""The search's start: A = 0.1 in every layer, B = C = D = 0, α = 1, β = 0 (a correlational
rule with the label written into the output)."""


def rule_size(layers: int) -> int:
    """Numbers in a rule for a network of ``layers`` synapse layers."""
    return 4 * layers + 2


def start_rule(layers: int) -> np.ndarray:
    rule = np.zeros(rule_size(layers))
    rule[0:4 * layers:4] = START_A
    rule[4 * layers] = 1.0
    return rule


def _targets(mlp: Mlp, labels: np.ndarray, n_out: int, dtype) -> np.ndarray:
    low = 0.0 if mlp.output_activation == "sigmoid" else -1.0
    if n_out == 1:
        return np.where(labels == 1, 1.0, low).astype(dtype)[:, None]
    return np.where(labels[:, None] == np.arange(n_out), 1.0, low).astype(dtype)


def _forward(mlp: Mlp, weights: list[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """Every layer's input and the output, each (P, B, n), for P networks on one batch."""
    values = [np.broadcast_to(x, (weights[0].shape[0], *x.shape))]
    last = len(weights) - 1
    for layer, w in enumerate(weights):
        n = w.shape[1] - 1
        z = np.matmul(values[-1], w[:, :n]) + w[:, n:n + 1]
        values.append(activate(mlp.output_activation if layer == last
                               else mlp.hidden_activation, z))
    return values


def _predictions(weights: list[np.ndarray], mlp: Mlp, x: np.ndarray) -> np.ndarray:
    """(P, N) class guesses: argmax of the output pre-activations (one output: z > 0); a
    non-finite output guesses -1, wrong for every label."""
    a = np.broadcast_to(x, (weights[0].shape[0], *x.shape))
    for layer, w in enumerate(weights):
        if layer:
            a = activate(mlp.hidden_activation, a)
        n = w.shape[1] - 1
        a = np.matmul(a, w[:, :n]) + w[:, n:n + 1]
    guess = (a[..., 0] > 0).astype(np.int64) if a.shape[-1] == 1 else a.argmax(axis=-1)
    return np.where(np.isfinite(a).all(axis=-1), guess, -1)


@dataclass(frozen=True)
class Probe:
    """Examples to score the networks on after the given learning steps (1-based)."""

    x: np.ndarray
    labels: np.ndarray
    steps: tuple[int, ...]


@dataclass
class RuleRun:
    """What :func:`train_rules` measured: accuracy per probe, (P, steps of the probe), and
    the final weights, (P, n + 1, n') per layer."""

    accuracy: list[np.ndarray]
    weights: list[np.ndarray]

    @property
    def finite(self) -> np.ndarray:
        """(P,) which networks ended with finite weights."""
        return np.logical_and.reduce([np.isfinite(w).all(axis=(1, 2)) for w in self.weights])


def train_rules(mlp: Mlp, rules: np.ndarray, start: list[np.ndarray], x_train: np.ndarray,
                y_train: np.ndarray, probes: list[Probe]) -> RuleRun:
    """P networks from ``start`` ((n + 1, n') per layer, bias row last), each learning with
    its own rule (``rules`` (P, 4L + 2)) on the same T batches ``x_train`` (T, B, n_0).
    Returns, per probe, the (P, len(probe.steps)) accuracy after each of its steps, and the
    final weights."""
    rules = np.atleast_2d(np.asarray(rules, dtype=np.float64))
    count, layers = len(rules), len(start)
    if rules.shape[1] != rule_size(layers):
        raise ConfigError(f"a Hebbian rule for {layers} layers has {rule_size(layers)} "
                          f"numbers, not {rules.shape[1]}")
    dtype = np.dtype(mlp.dtype)
    coefficient = rules[:, :4 * layers].reshape(count, layers, 4).astype(dtype)
    alpha, beta = (rules[:, 4 * layers + i].astype(dtype)[:, None, None] for i in (0, 1))
    weights = [np.repeat(np.asarray(w, dtype=dtype)[None], count, axis=0) for w in start]
    out = [np.zeros((count, len(p.steps))) for p in probes]
    wanted = {step for p in probes for step in p.steps}
    for step in range(len(x_train)):
        x = np.asarray(x_train[step], dtype=dtype)
        values = _forward(mlp, weights, x)
        target = _targets(mlp, np.asarray(y_train[step]), values[-1].shape[-1], dtype)
        values[-1] = alpha * target[None] + beta * values[-1]
        batch = x.shape[0]
        for layer, w in enumerate(weights):
            pre, post = values[layer], values[layer + 1]
            a, b, c, d = (coefficient[:, layer, i][:, None, None] for i in range(4))
            mean_pre = pre.mean(axis=1)[:, :, None]
            mean_post = post.mean(axis=1)[:, None, :]
            n = w.shape[1] - 1
            w[:, :n] += a * (np.matmul(pre.transpose(0, 2, 1), post) / batch) + b * mean_pre \
                + c * mean_post + d
            w[:, n:] += (a + c) * mean_post + b + d
        if step + 1 in wanted:
            for probe, table in zip(probes, out, strict=True):
                if step + 1 in probe.steps:
                    guess = _predictions(weights, mlp, np.asarray(probe.x, dtype=dtype))
                    column = probe.steps.index(step + 1)
                    table[:, column] = (guess == np.asarray(probe.labels)[None]).mean(axis=1)
    return RuleRun(out, weights)


# ---- meta-training -------------------------------------------------------------------


@dataclass
class HebbianRule:
    """A meta-trained rule: its numbers, what it was trained on and what it cost; the best
    fitness in each generation (1 − mean accuracy over the generation's draws)."""

    rule: np.ndarray
    tasks: tuple[str, ...]
    hidden: tuple[int, ...]
    evaluations: int
    history: np.ndarray
    seconds: float


def _score(rules: np.ndarray, samples: list[Sample], settings: BaselineSettings) -> np.ndarray:
    """Fitness of every rule: 1 − accuracy after T steps, averaged over the samples."""
    total = np.zeros(len(rules))
    for sample in samples:
        mlp = mlp_for(sample.net, settings.loss, settings.hidden_activation,
                      settings.output_activation)
        data = sample.data
        probe = Probe(data.x_eval.reshape(-1, data.x_eval.shape[-1]), data.y_eval.reshape(-1),
                      (len(data.x_train),))
        start = initial_weights(sample.net, sample.synapse_seed)
        run = train_rules(mlp, rules, start, data.x_train, data.y_train, [probe])
        total += run.accuracy[0][:, 0]
    return 1.0 - total / len(samples)


def training_plan(request: EvaluationRequest, settings: BaselineSettings
                  ) -> tuple[tuple[str, ...], EvaluationRequest, tuple[int, int, int | None]]:
    """(training tasks, the network builder, (steps, batch, eval_batches)) the rule is
    meta-trained with: ``hebbian_tasks`` or the genome's own training tasks and unroll (the
    request's where the sidecar is silent), on the hidden layers under evaluation (a rule has
    numbers per layer; where they differ from the genome's, the simpler rule has the
    advantage of being meta-trained for them)."""
    provenance = request.provenance
    tasks = settings.hebbian_tasks or (tuple(provenance.tasks) if provenance and
                                       provenance.tasks else ())
    if not tasks:
        raise ConfigError(f"{request.genome_path}: the hebbian baseline meta-trains on the "
                          "genome's training tasks and its sidecar names none; give "
                          "baselines.hebbian_tasks (evaluate --hebbian-tasks)")
    for spec in tasks:
        parse_task_spec(spec)
    unroll = provenance.unroll if provenance else None
    steps = (unroll and unroll.steps) or request.steps
    batch = (unroll and unroll.batch) or request.batch
    eval_batches = request.eval_batches
    if unroll is not None and unroll.eval_batches is not None:
        eval_batches = None if unroll.eval_batches == "all" else int(unroll.eval_batches)
    builder = request  # the network under evaluation: a rule has numbers per layer
    return tuple(str(t) for t in tasks), builder, (int(steps), int(batch), eval_batches)


def evolve_rule(request: EvaluationRequest, settings: BaselineSettings,
                progress: Callable[[str], None] = lambda line: None) -> HebbianRule:
    """CMA-ES on the rule for exactly ``settings.hebbian_evaluations`` candidates."""
    tasks, builder, (steps, batch, eval_batches) = training_plan(request, settings)
    specs = [parse_task_spec(t) for t in tasks]
    popsize, evaluations = settings.hebbian_popsize, settings.hebbian_evaluations
    started = time.perf_counter()

    def draws(generation: int) -> list[Sample]:
        return [draw_sample(spec, SampleSeeds(request.seed, generation, index, replica,
                                              SEED_PREFIX), builder, steps=steps,
                            batch=batch, eval_batches=eval_batches,
                            data_dir=request.data_dir)
                for index, spec in enumerate(specs) for replica in range(settings.hebbian_replicas)]

    layers = len(builder.hidden) + 1
    seed = derive_seed(request.seed, 0, 0, 0, SEED_PREFIX + "cmaes")
    es = cma.CMAEvolutionStrategy(start_rule(layers), settings.hebbian_sigma0,
                                  whole_budget_options(seed, popsize))
    generations = evaluations // popsize
    history = np.empty(generations)
    with (
        threadpool_limits(limits=1, user_api="blas"),
        np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"),
    ):
        for generation in range(generations):
            candidates = np.asarray(es.ask())
            values = _score(candidates, draws(generation), settings)
            es.tell(list(candidates), values.tolist())
            history[generation] = values.min()
            if (generation + 1) % 50 == 0 or generation + 1 == generations:
                progress(f"hebbian rule: generation {generation + 1}/{generations}, best "
                         f"accuracy {1 - values.min():.3f}")
    return HebbianRule(np.asarray(es.result.xfavorite, dtype=np.float64), tasks,
                       builder.hidden, generations * popsize, history,
                       time.perf_counter() - started)


_RULES: dict[str, HebbianRule] = {}


def rule_for(request: EvaluationRequest, settings: BaselineSettings,
             progress: Callable[[str], None] = lambda line: None) -> HebbianRule:
    """The rule meta-trained for this genome's training setting, once per process (a study
    compares it on every task and architecture)."""
    tasks, builder, unroll = training_plan(request, settings)
    key = repr((tasks, builder.hidden, unroll, sorted(request.network.items()), request.seed,
                request.two_class, request.data_dir, settings.loss, settings.hidden_activation,
                settings.output_activation, settings.hebbian_evaluations,
                settings.hebbian_popsize, settings.hebbian_sigma0, settings.hebbian_replicas))
    if key not in _RULES:
        _RULES[key] = evolve_rule(request, settings, progress)
    return _RULES[key]


@dataclass
class HebbianSweep(Sweep):
    """The rule as the reports read a baseline (one "rate", nan); plus the rule."""

    rule: HebbianRule | None = field(default=None, repr=False)


def hebbian_sweep(mlp: Mlp, draws: list[SeedDraw], budgets: tuple[int, ...],
                  rule: HebbianRule) -> HebbianSweep:
    """The meta-trained rule on every seed's draw: validation and test accuracy at each
    budget and test accuracy after every step, from BLUR's initial synapses and batches."""
    budgets = tuple(int(b) for b in budgets)
    steps = len(draws[0].x_train)
    validation, curve, diverged = [], [], 0
    every = tuple(range(1, steps + 1))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for draw in draws:
            net = draw.network(mlp)
            run = train_rules(
                net, rule.rule[None], draw.start, draw.x_train, draw.y_train,
                [Probe(np.asarray(draw.x_validation).reshape(-1, net.layer_sizes[0]),
                       np.asarray(draw.y_validation).reshape(-1), budgets),
                 Probe(np.asarray(draw.x_test).reshape(-1, net.layer_sizes[0]),
                       np.asarray(draw.y_test).reshape(-1), every)])
            validation.append(run.accuracy[0][0])
            curve.append(run.accuracy[1][0])
            diverged += int(not run.finite[0])
    curve = np.asarray(curve)
    return HebbianSweep(
        optimizer=HEBBIAN_NAME,
        rates=np.array([math.nan]),
        budgets=budgets,
        validation=np.asarray(validation)[:, None, :],
        chosen=np.zeros(len(budgets), dtype=np.int64),
        test=curve[:, [b - 1 for b in budgets]],
        curve=curve,
        diverged=np.array([diverged], dtype=np.int64),
        rule=rule,
    )
