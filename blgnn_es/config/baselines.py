"""Settings of the evaluation protocol and of the baselines beside BLUR.

:class:`EvaluationSettings` holds the paper's protocol defaults (``blgnn-es evaluate`` and
the study grid use them); :class:`BaselineSettings` says which baselines run and how they
are tuned (a study's ``[baselines]`` section, ``evaluate --baselines``). Both validate on
construction and raise :class:`ConfigError` (the CLI exits with code 2).

>>> BaselineSettings(optimizers=("adam",), rates={"low": 0.01, "high": 1.0, "count": 3}).rates
(0.01, 0.1, 1.0)
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from blgnn_es.config.schema import EVAL_BATCHES_EXTRA, EvalBatches, Finite, StrictInt, first_problem

OPTIMIZERS = ("sgd", "momentum", "adam", "fa")
"""Baselines: three gradient-descent optimizers and feedback alignment (SGD on errors sent
back through fixed random matrices; docs/baselines.md)."""
SEARCHES = ("cmaes-weights",)
"""Baselines without a learning rule: CMA-ES on the network's weights
(baselines/weight_search.py)."""
META_TRAINED = ("hebbian",)
"""Baselines that are learning rules meta-trained at the genome's budget: a one-state ABCD
Hebbian rule (baselines/hebbian.py)."""
BASELINES = OPTIMIZERS + SEARCHES + META_TRAINED
LOSSES = ("ce", "mse")
ACTIVATIONS = ("identity", "tanh", "relu", "relu_tanh", "sigmoid")
"""Activations a one-state baseline network can use (BLUR's dsigmoid has no counterpart)."""

_FROZEN = ConfigDict(extra="forbid", frozen=True)


def default_rates(count: int = 13, low: float = 1e-4, high: float = 1.0) -> tuple[float, ...]:
    """``count`` log-spaced learning rates from ``low`` to ``high`` (default: 13, 1e-4..1)."""
    return tuple(float(r) for r in np.logspace(np.log10(low), np.log10(high), count))


_SPACING = {"low": 1e-4, "high": 1.0, "count": 13}


def _rates(value: Any) -> Any:
    """``{low, high, count}`` (any of them; the others default) -> log-spaced rates."""
    if not isinstance(value, dict):
        return value
    if set(value) - set(_SPACING):
        raise ValueError(f"a rate table has the keys {', '.join(_SPACING)}")
    spacing = _SPACING | value
    try:
        return default_rates(int(spacing["count"]), float(spacing["low"]), float(spacing["high"]))
    except (TypeError, ValueError):
        raise ValueError("{low, high, count}: two numbers > 0 and an integer >= 1") from None


Rates = Annotated[tuple[Annotated[Finite, Field(gt=0.0)], ...], BeforeValidator(_rates),
                  Field(min_length=1)]


class _ConfigErrors(BaseModel):
    """Built from keywords in code (the CLI): a bad value is a ConfigError, not a traceback.

    Only leaf classes carry this: pydantic calls a custom ``__init__`` for nested models
    too, so the sections of a config file nest the plain ``*Options`` models instead.
    """

    model_config = _FROZEN
    _what: ClassVar[str] = "settings"

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise first_problem(err, type(self), data, self._what, depth=1) from None


class BaselineOptions(BaseModel):
    """Which baselines run beside BLUR and how they are tuned (documented defaults)."""

    model_config = _FROZEN

    optimizers: tuple[Literal[BASELINES], ...] = Field(
        OPTIMIZERS, min_length=1, description="baselines beside BLUR: gradient descent (sgd, "
        "momentum, adam), feedback alignment (fa), CMA-ES on the weights (cmaes-weights) and "
        "a one-state ABCD Hebbian rule meta-trained by CMA-ES (hebbian); the last two are not "
        "in the default: they cost weights_evaluations forward passes per seed and "
        "hebbian_evaluations unrolls per genome",
        json_schema_extra={"allowed": "a non-empty list of " + ", ".join(BASELINES),
                           "default": "`[" + ", ".join(f'"{n}"' for n in OPTIMIZERS) + "]`"})
    rates: Rates = Field(
        default_factory=default_rates, description="learning rates swept (each step budget "
        "picks its best on validation data)",
        json_schema_extra={"allowed": "a list of rates > 0, or {low, high, count} log-spaced",
                           "default": "`{low = 0.0001, high = 1.0, count = 13}`",
                           "type": "list or table"})
    loss: Literal[LOSSES] = Field("ce", description="ce (softmax cross-entropy) or mse")
    hidden_activation: Literal[ACTIVATIONS] | None = Field(
        None, description="baselines' hidden activation (default: the BLUR network's state 0)")
    output_activation: Literal[ACTIVATIONS] | None = Field(
        None, description="mse only: output activation (default: the network's state 0)")
    validation_fraction: Finite = Field(
        0.1, gt=0.0, lt=1.0, description="share of a stored dataset's training split held out "
        "to choose learning rates")
    weights_evaluations: StrictInt = Field(
        44800, ge=2, le=10_000_000, description="cmaes-weights: candidate networks CMA-ES "
        "evaluates per seed, a multiple of weights_popsize (default 64 x 700: the R3 toy "
        "genomes' meta-training, population 64 for 553-810 generations)")
    weights_popsize: StrictInt = Field(64, ge=2, le=100_000, description="cmaes-weights: "
                                       "CMA-ES population size")
    weights_sigma0: Finite = Field(0.3, gt=0.0, le=100.0, description="cmaes-weights: initial "
                                   "step size around BLUR's initial synapses")

    hebbian_evaluations: StrictInt = Field(
        44800, ge=2, le=10_000_000, description="hebbian: candidate rules CMA-ES meta-trains, "
        "a multiple of hebbian_popsize (default 64 x 700, as weights_evaluations)")
    hebbian_popsize: StrictInt = Field(64, ge=2, le=100_000, description="hebbian: CMA-ES "
                                       "population size")
    hebbian_sigma0: Finite = Field(0.3, gt=0.0, le=100.0, description="hebbian: initial step "
                                   "size around the start rule (A = 0.1, alpha = 1)")
    hebbian_replicas: StrictInt = Field(4, ge=1, le=1000, description="hebbian: draws of each "
                                        "training task per candidate (as unroll.replicas)")
    hebbian_tasks: tuple[str, ...] | None = Field(
        None, description="hebbian: tasks the rule is meta-trained on (default: the genome's "
        "own training tasks, from its sidecar)",
        json_schema_extra={"allowed": "a list of task specs", "default": "the genome's"})

    @model_validator(mode="after")
    def _whole_generations(self) -> BaselineOptions:
        for what in ("weights", "hebbian"):
            evaluations = getattr(self, f"{what}_evaluations")
            popsize = getattr(self, f"{what}_popsize")
            if evaluations % popsize:
                raise ValueError(
                    f"{what}_evaluations = {evaluations} must be a multiple of "
                    f"{what}_popsize = {popsize} (whole generations)")
        return self


class BaselineSettings(_ConfigErrors, BaselineOptions):
    """:class:`BaselineOptions` that raise ConfigError (``BaselineSettings(loss="x")``)."""

    _what: ClassVar[str] = "baselines"


class DrawOptions(BaseModel):
    """How big the learning and test batches are (the protocol's and a study grid's)."""

    model_config = _FROZEN

    batch: StrictInt = Field(128, ge=1, description="B, examples per learning step and per "
                             "evaluation batch")
    eval_batches: EvalBatches = Field(20, description='test batches per evaluation, or "all" '
                                      "for the whole test split",
                                      json_schema_extra=EVAL_BATCHES_EXTRA)


class SeedOptions(BaseModel):
    """How many fresh networks, from which base seed (the protocol's and a study's)."""

    model_config = _FROZEN

    seeds: StrictInt = Field(10, ge=1, description="fresh networks (task, synapse and batch "
                             "seeds) per task; results are the mean and its 95% t interval "
                             "over them, baselines compared by a paired t-test (10: the "
                             "interval's t factor is 2.26, against 2.78 at 5 seeds)")
    seed: StrictInt = Field(0, ge=0, description="base seed of every task, synapse, batch and "
                            "validation draw")


class EvaluationSettings(_ConfigErrors, DrawOptions, SeedOptions):
    """The paper's evaluation protocol: fresh networks trained with a genome, then tested."""

    steps: StrictInt = Field(15, ge=1, description="T, learning steps per network")

    _what: ClassVar[str] = "evaluation"


EVALUATION = EvaluationSettings()
"""The protocol's defaults: 15 steps, batch 128, 20 test batches, 10 seeds from seed 0."""

