"""BLUR beside its baselines on the same networks, batches and test examples (SPEC R4).

For task i and replica r the draws are those of ``blgnn-es evaluate``
(``derive_seed(seed, 0, i, r, "evaluate-task" | "evaluate-batches" | "evaluate-synapses")``)
plus ``"evaluate-validation"`` for the baselines' validation examples. Those come from the
training distribution, never the test split: a stored dataset gives up
``validation_fraction`` of its training split (chosen by ``"evaluate-holdout"``, one split
per task) and BLUR and the baselines train on batches from the rest; a toy task draws fresh
training samples.

Seed r is one draw for every learner, so BLUR and a baseline are compared by a paired test
over seeds (:func:`standings`, baselines/stats.py). ``cmaes-weights`` (CMA-ES on the
weights, baselines/weight_search.py) searches from the same initial synapses on the same
training examples, seeded by ``"evaluate-weight-search"``; its accuracy does not depend on
the step budget. ``hebbian`` (a one-state ABCD rule, baselines/hebbian.py) is meta-trained
once per genome on the genome's own training tasks, then trains the same networks on the same
batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from blgnn_es.baselines.gradient import (
    SeedDraw,
    Sweep,
    feedback_weights,
    initial_weights,
    mlp_for,
    sweep,
)
from blgnn_es.baselines.hebbian import hebbian_sweep, rule_for
from blgnn_es.baselines.stats import Interval, Paired, mean_intervals, paired_test
from blgnn_es.baselines.weight_search import SEED_PURPOSE, weight_sweep
from blgnn_es.config.baselines import META_TRAINED, SEARCHES, BaselineSettings
from blgnn_es.evaluation import (
    EVALUATE_PREFIX,
    EvaluationRequest,
    TaskEvaluation,
    evaluate_task,
)
from blgnn_es.tasks import derive_seed

DEFAULT_BUDGETS = (1, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


def default_budgets(steps: int) -> tuple[int, ...]:
    """1, 5, 10, 20, 50, 100, ... below ``steps``, and ``steps`` itself."""
    return tuple(b for b in DEFAULT_BUDGETS if b < steps) + (steps,)


@dataclass
class TaskComparison:
    """One task: BLUR's curves and each baseline's sweep on the same draws."""

    task: str
    layer_sizes: tuple[int, ...]  # the first seed's network
    budgets: tuple[int, ...]
    blur: TaskEvaluation
    sweeps: dict[str, Sweep]
    validation_examples: int

    @property
    def network_label(self) -> str:
        """The sizes as tables show them (a size that differs over seeds as its range)."""
        return self.blur.network_label

    def learners(self) -> dict[str, np.ndarray]:
        """(seeds, budgets) test accuracy of every learner, BLUR first."""
        blur = np.stack([self.blur.curves[:, b - 1] for b in self.budgets], axis=1)
        return {"blur": blur, **{name: s.test for name, s in self.sweeps.items()}}


@dataclass(frozen=True)
class Standing:
    """BLUR against the baselines at one budget, paired by seed (baselines/stats.py).

    ``versus``: BLUR − baseline for every baseline (mean paired difference, its 95% t
    interval, the paired t-test's p-value, BLUR's verdict). ``rival``: the baseline with the
    best mean at this budget; ``verdict`` is BLUR's against it (ahead / behind / level).
    ``leader``: the best mean of all learners, BLUR included (by mean only).
    """

    budget: int
    leader: str
    rival: str
    verdict: str
    versus: dict[str, Paired]
    intervals: dict[str, Interval]

    @property
    def against_rival(self) -> Paired:
        return self.versus[self.rival]


def standings(item: TaskComparison) -> list[Standing]:
    """BLUR against each baseline (each at the rate chosen for that budget), per budget."""
    learners = item.learners()
    if len(learners) < 2:
        return []
    columns = {name: mean_intervals(table) for name, table in learners.items()}
    out = []
    for column, budget in enumerate(item.budgets):
        intervals = {name: columns[name][column] for name in learners}
        blur = learners["blur"][:, column]
        versus = {name: paired_test(blur, table[:, column])
                  for name, table in learners.items() if name != "blur"}
        leader = max(intervals, key=lambda name: intervals[name].mean)
        rival = max(versus, key=lambda name: intervals[name].mean)
        out.append(Standing(budget, leader, rival, versus[rival].verdict, versus, intervals))
    return out


# ---- running ---------------------------------------------------------------------------


def compare_task(
    request: EvaluationRequest, settings: BaselineSettings, index: int, budgets: tuple[int, ...],
    progress: Callable[[str], None] = lambda line: None,
) -> TaskComparison:
    """BLUR and every baseline on task ``index`` of the request, over its seeds: the
    baselines start from BLUR's initial synapses and train on BLUR's batches."""
    holdout_seed = derive_seed(request.seed, 0, index, 0, EVALUATE_PREFIX + "holdout")
    blur, samples = evaluate_task(
        request, index, holdout=(settings.validation_fraction, holdout_seed)
    )
    wanted = None if request.eval_batches is None else request.eval_batches * request.batch
    net = samples[-1].net
    mlp = mlp_for(net, settings.loss, settings.hidden_activation, settings.output_activation)
    draws, validation_examples = [], 0
    for sample in samples:
        data = sample.data
        rng = np.random.default_rng(sample.seeds("validation"))
        x_val, y_val = sample.validation(rng, wanted)
        # distinct examples: a small split is drawn with replacement up to the wanted count
        validation_examples = min(len(y_val), sample.held_out or len(y_val))
        draws.append(
            SeedDraw(
                initial_weights(sample.net, sample.synapse_seed),
                data.x_train,
                data.y_train,
                x_val,
                y_val,
                data.x_eval,
                data.y_eval,
                feedback_weights(sample.net, sample.synapse_seed)
                if "fa" in settings.optimizers else None,
                None if sample.net.layer_sizes == net.layer_sizes else mlp_for(
                    sample.net, settings.loss, settings.hidden_activation,
                    settings.output_activation),
            )
        )
    sweeps = {}
    for name in settings.optimizers:
        if name in META_TRAINED:
            sweeps[name] = hebbian_sweep(mlp, draws, budgets,
                                         rule_for(request, settings, progress))
        elif name in SEARCHES:
            sweeps[name] = weight_sweep(
                mlp, draws, [sample.seeds(SEED_PURPOSE) for sample in samples], budgets,
                evaluations=settings.weights_evaluations, popsize=settings.weights_popsize,
                sigma0=settings.weights_sigma0)
        else:
            sweeps[name] = sweep(mlp, name, settings.rates, draws, budgets)
    return TaskComparison(str(blur.task), blur.layer_sizes, budgets, blur, sweeps,
                          validation_examples)


def run_comparison(request: EvaluationRequest, settings: BaselineSettings,
                   progress: Callable[[str], None] = lambda line: None
                   ) -> list[TaskComparison]:
    """Every task of the request; budgets are its ``at_steps`` and its last step."""
    budgets = tuple(sorted({*request.at_steps, request.steps}))
    return [compare_task(request, settings, index, budgets, progress)
            for index in range(len(request.tasks))]
