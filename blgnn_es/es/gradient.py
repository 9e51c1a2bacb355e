"""Gradient meta-training: Adam (optax) on the genome, through the unrolled network in JAX.

The paper's other meta-optimizer (its Fig. 7; the authors' released code trains this way).
Each step draws a meta-batch of fitness samples (the train tasks, ``gradient.meta_batch``
replicas each, from the run seed and the step, as CMA-ES draws a generation), unrolls the
network on each from its initial synapses (jax_learner.meta_gradient), and takes one Adam
step on the evolved genome entries along the gradient of the mean meta-loss, clipped to
``gradient.clip`` in global norm. A step whose loss or gradient is not finite changes
nothing and is counted (``skipped``). Everything else is the CMA-ES run's: the run
directory, metrics.jsonl (one line per step, records.MetricsLine), validation of the
current genome and final_genome.npy (final.py) on the same draws with the numba learner,
and checkpoints written atomically after every step with Adam's state inside, so that a
resumed run repeats the uninterrupted one exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from blgnn_es import jax_learner
from blgnn_es.config.settings import Config
from blgnn_es.errors import ConfigError
from blgnn_es.es.driver import (
    Plans,
    begin_records,
    expand,
    finish_run,
    finite_or_none,
    initial_state,
    make_plans,
    open_session,
    run_loop,
    save_genomes,
    validate,
)
from blgnn_es.es.history import History, write_history
from blgnn_es.es.records import MetricsLine, RunState, Validation
from blgnn_es.es.rundir import Checkpoint, RunDir
from blgnn_es.evaluation import draw_samples
from blgnn_es.fitness import combine, sample_fitness, sample_weights
from blgnn_es.parallel.backends import Backend

OPTAX_HINT = "gradient meta-training needs optax: pip install -e '.[jax]' (or pip install optax)"


def require_gradient() -> None:
    """JAX and optax, or the one-line install hint (ConfigError: the CLI exits with 2)."""
    jax_learner.require_jax()
    try:
        import optax  # noqa: F401
    except ImportError:
        raise jax_learner.JaxUnavailableError(OPTAX_HINT) from None


@functools.lru_cache(maxsize=4)
def optimizer(config: Config):
    """optax: clipping to the global norm (when set), then Adam (or SGD, with momentum);
    built once per config (every step of a run uses it)."""
    import optax

    settings = config.gradient
    rate = settings.learning_rate
    step = {"adam": lambda: optax.adam(rate), "sgd": lambda: optax.sgd(rate),
            "momentum": lambda: optax.sgd(rate, momentum=0.9)}[settings.optimizer]()
    if settings.clip is None:
        return step
    return optax.chain(optax.clip_by_global_norm(settings.clip), step)


def gradient_plans(config: Config, data_dir: str | None = None) -> Plans:
    """The CMA-ES run's plans with a meta-batch of replicas per train task."""
    plans = make_plans(config, data_dir)
    return dataclasses.replace(
        plans, train=dataclasses.replace(plans.train, replicas=config.gradient.meta_batch))


def _checkpoint(run: RunDir, params: np.ndarray, opt_state: Any, state: RunState) -> None:
    adam = {"params": params, "opt_state": jax_learner.to_numpy(opt_state)}
    run.write_checkpoint(Checkpoint(es=adam, numpy_random=np.random.get_state(), state=state,
                                    base_popsize=1))


def _budget_reason(config: Config, state: RunState) -> str | None:
    settings = config.gradient
    if state.generation >= settings.max_steps:
        return "max_steps"
    if settings.time_budget is not None and state.elapsed >= settings.time_budget:
        return "time_budget"
    return None


def _start(config: Config, run: RunDir, backend: Backend, plans: Plans):
    """A fresh run: the initial genome's scores, the optimizer's initial state."""
    settings = config.gradient
    state = initial_state(config, backend, plans, 1, settings.learning_rate)
    state.mean_genome = state.initial_genome.copy()
    params = state.initial_genome[state.mask].astype(np.float64)
    run.log(f"initial genome ({config.genome.initial}): fitness {state.initial.fitness:.4f} "
            f"on step 0's draws; gradient meta-training of {int(state.mask.sum())} of "
            f"{state.initial_genome.size} entries ({', '.join(config.genome.evolve)}): "
            f"{settings.optimizer}, learning rate {settings.learning_rate:g}, clip "
            f"{settings.clip}, meta-batch {len(plans.train.tasks) * settings.meta_batch}, "
            f"loss {settings.loss}, truncation {settings.truncation or 'none'}")
    return params, jax_learner.to_numpy(optimizer(config).init(params)), state


def train(config: Config, run: RunDir, backend: Backend, *, resume: bool = False,
          data_dir: str | None = None,
          on_generation: Callable[[MetricsLine, RunState], None] | None = None,
          preempted: Callable[[], str | None] | None = None,
          warn: Callable[[str], None] | None = None,
          note: Callable[[str], None] | None = None) -> RunState:
    """Run (or continue) gradient meta-training until a stop rule fires (driver.evolve's
    contract: the same resume checks, preemption, callbacks and files)."""
    require_gradient()
    if config.meta.method != "gradient":
        raise ConfigError(f"{config.source}: meta.method is {config.meta.method!r}; "
                          "es.gradient.train runs meta.method = \"gradient\"")
    plans = gradient_plans(config, data_dir)
    checkpoint, inputs = open_session(config, run, backend, plans, resume, warn, note)
    if checkpoint is None:
        params, opt_state, state = _start(config, run, backend, plans)
        history = begin_records(run, state, fresh=True)
        _checkpoint(run, params, opt_state, state)
    else:
        state = checkpoint.state
        params, opt_state = checkpoint.es["params"], checkpoint.es["opt_state"]
        history = begin_records(run, state, fresh=False)
        run.log(f"resumed at step {state.generation}")

    if note is not None and state.generation < config.gradient.max_steps:
        note("compiling the JAX meta-gradient (the first step takes longer)")

    def step() -> MetricsLine:
        nonlocal params, opt_state
        record, params, opt_state = _step(config, run, backend, plans, params, opt_state,
                                          state, inputs, history)
        return record

    run_loop(config, run, state, lambda: _budget_reason(config, state), step, on_generation,
             preempted, unit="step")
    finish_run(config, run, backend, plans, state, inputs,
               lambda: _checkpoint(run, params, opt_state, state),
               f"{state.generation} steps ({state.skipped} skipped)")
    return state


def _step(config: Config, run: RunDir, backend: Backend, plans: Plans, params: np.ndarray,
          opt_state: Any, state: RunState, inputs: dict[str, str] | None,
          history: History) -> tuple[MetricsLine, np.ndarray, Any]:
    """One Adam step on this step's draws; record and checkpoint it."""
    import optax

    began = time.perf_counter()
    step = state.generation
    settings = config.gradient
    genome = expand(state, [params])[0]
    samples = draw_samples(plans.train, step)
    weights = sample_weights(plans.train.weights, samples)
    result = jax_learner.meta_gradient(genome, samples, loss=settings.loss,
                                       truncation=settings.truncation, weights=weights)
    diverged = ~np.isfinite(result.losses)
    per_sample = [sample_fitness(a, l2, ce, bool(d), config.fitness)
                  for a, l2, ce, d in zip(result.accuracy, result.l2, result.ce, diverged,
                                          strict=True)]
    fitness = combine(per_sample, config.fitness.average, weights)
    gradient = result.gradient[state.mask]
    grad_norm = float(np.sqrt(np.sum(gradient * gradient)))
    finite = math.isfinite(result.loss) and math.isfinite(grad_norm)
    if finite:
        updates, opt_state = optimizer(config).update(gradient, opt_state, params)
        params = np.asarray(optax.apply_updates(params, updates), dtype=np.float64)
        opt_state = jax_learner.to_numpy(opt_state)
    else:
        state.skipped += 1
        run.log(f"step {step + 1}: meta-loss or gradient not finite; step skipped "
                f"({state.skipped} so far)")

    if fitness < state.best_fitness:
        state.best_fitness, state.best_genome, state.best_generation = fitness, genome, step
    state.generation += 1
    state.evaluations += 1
    state.mean_genome = expand(state, [params])[0]
    if settings.time_budget is not None and \
            state.elapsed + time.perf_counter() - began >= settings.time_budget:
        state.stop_reason = "time_budget"
    last = state.stop_reason is not None or _budget_reason(config, state) is not None
    every = config.report.validate_every
    validation: Validation | None = None
    if plans.validate is not None and (last or (every and state.generation % every == 0)):
        validation = validate(backend, state, state.mean_genome, state.generation,
                              plans.validate, config)
    seconds = time.perf_counter() - began
    state.elapsed += seconds
    accuracies = [a for a in result.accuracy if math.isfinite(a)]
    record = MetricsLine(
        generation=step, restart=0, popsize=1, evaluations=state.evaluations,
        best=fitness, median=fitness, worst=fitness, best_so_far=state.best_fitness,
        accuracy_median=float(np.median(accuracies)) if accuracies else None,
        diverged=int(diverged.sum()), diverged_genomes=int(diverged.any()),
        initial=state.initial if step == 0 else None, validation=validation,
        loss=finite_or_none(result.loss), grad_norm=finite_or_none(grad_norm),
        skipped=state.skipped, unrolls=state.generation * len(samples),
        seconds=round(seconds, 4), elapsed=round(state.elapsed, 3))
    save_genomes(run, config, state, inputs)
    run.append_metrics(record)
    history.append(step, state.mean_genome, genome, fitness, math.nan)
    write_history(run.path, history)
    _checkpoint(run, params, opt_state, state)
    run.log(progress_line(record, config))
    return record, params, opt_state


def progress_line(record: MetricsLine, config: Config) -> str:
    """The plain one-line summary of a step (log.txt and non-terminal output)."""
    loss = "nan" if record.loss is None else f"{record.loss:.4f}"
    norm = "nan" if record.grad_norm is None else f"{record.grad_norm:.3g}"
    line = (f"step {record.generation + 1}/{config.gradient.max_steps}  "
            f"unrolls {record.unrolls}  loss {loss}  fitness {record.best:.4f}  "
            f"best so far {record.best_so_far:.4f}  grad norm {norm}  "
            f"skipped {record.skipped}  {record.seconds:.2f}s")
    if record.validation is not None and record.validation.accuracy is not None:
        line += f"  val-acc {record.validation.accuracy:.4f}"
    return line
