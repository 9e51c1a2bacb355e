"""The CMA-ES driver: pycma's ask/tell loop, stop rules, IPOP/BIPOP restarts, checkpoints.

CMA-ES works in the subspace of evolved genome entries; fixed slots keep their initial
values. Each generation: ask, expand to full genomes, score them in parallel on common
draws (fitness.py), tell, then write genomes, the metrics line, the genome history
(history.py) and the checkpoint, in that order. Every ``report.validate_every``
generations and at the end the mean and the samples of best training fitness since the last
validation are validated; when the run stops, the best of them on validation is scored on
test draws and written as final_genome.npy and final.json (final.py). The
checkpoint holds the pickled ``CMAEvolutionStrategy``, numpy's global RNG state (pycma
samples from it) and the :class:`RunState`; restoring all three makes a resumed run repeat
the uninterrupted one exactly. What is written is declared in records.py; a resume under a
config that differs from the run's config.toml outside the resumable keys is refused
(resume.py). A preemption request (preemption.py) is honoured at the next
generation boundary: stop reason ``preempted``, which a resume clears like a budget.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from blgnn_es.config.settings import Config, GenomeSettings
from blgnn_es.errors import ConfigError
from blgnn_es.es import final
from blgnn_es.es.history import History, genome_provenance, load_for_resume, write_history
from blgnn_es.es.records import (
    FinalChoice,
    InitialScores,
    MetricsLine,
    RunResult,
    RunState,
    Validation,
)
from blgnn_es.es.resume import check_same_run, check_unedited
from blgnn_es.es.rundir import Checkpoint, RunDir
from blgnn_es.es.sizes import default_popsize
from blgnn_es.es.tensorboard import open_writer, require_tensorboardx
from blgnn_es.evaluation import DrawPlan
from blgnn_es.fitness import GenomeScore, score_chunk
from blgnn_es.model.genome import (
    GenomeLayout,
    backprop_genome,
    genome_length,
    hebbian_genome,
    load_genome,
    random_genome,
    save_genome,
)
from blgnn_es.model.sidecar import Provenance
from blgnn_es.parallel.backends import Backend, chunk_bounds
from blgnn_es.parallel.warmup import warm_up
from blgnn_es.tasks import derive_seed, load_task, small_split_notes

BUDGET_REASONS = ("max_generations", "max_evaluations", "time_budget")
PREEMPTED = "preempted"


@dataclass(frozen=True)
class Plans:
    train: DrawPlan
    validate: DrawPlan | None
    test: DrawPlan | None = None  # the final genome's test draws (final.py)


# ---- set-up ----------------------------------------------------------------------------

def initial_genome(settings: GenomeSettings, states: int) -> np.ndarray:
    """The configured start genome (also the values of the fixed slots)."""
    if settings.initial == "random":
        return random_genome(states, settings.random_seed, settings.random_scale)
    if settings.initial == "backprop":
        return backprop_genome(0.1 if settings.rate is None else settings.rate)
    if settings.initial == "hebbian":
        return hebbian_genome(states, 0.003 if settings.rate is None else settings.rate)
    values, _ = load_genome(settings.initial)
    if values.size != genome_length(states):
        raise ConfigError(f"genome.initial = {settings.initial!r} has {values.size} numbers; "
                          f"network.states = {states} needs {genome_length(states)}")
    return values


def make_plans(config: Config, data_dir: str | None = None) -> Plans:
    data_dir = data_dir or config.tasks.data_dir
    train = DrawPlan(config.tasks.train, config.network, config.unroll, config.unroll.replicas,
                     config.run.seed, data_dir, weights=config.tasks.weights)
    validate = None
    if config.tasks.validate:  # on the first architecture, as evaluate
        validate = DrawPlan(config.tasks.validate, final.first_architecture(config),
                            config.unroll,
                            config.report.validate_seeds, config.run.seed, data_dir,
                            purpose="validate-")
    return Plans(train, validate, final.final_test_plan(config, data_dir))


def check_tasks(config: Config, plans: Plans, warn: Callable[[str], None] | None = None
                ) -> list:
    """Load every task once (a missing dataset or a bad spec fails here, before any work).
    Returns the networks in use, one per task (for the kernel warm-up and the estimates):
    train tasks of different shapes each get their own network from the [network] settings.
    A stored task too small for the batch gets one ``warn`` line (its batches repeat).
    """
    nets, notes = [], []
    for plan in (plans.train, plans.validate):
        if plan is None:
            continue
        for spec in plan.tasks:
            task = load_task(spec, 0, data_dir=plan.data_dir)
            for hidden in plan.network.architectures:
                nets.append(plan.network.with_hidden(hidden).spec(
                    task.n_inputs, plan.network.outputs(task.n_classes)))
            notes += small_split_notes(task, config.unroll.batch, config.unroll.eval_batches)
    for note in dict.fromkeys(notes):  # the remedies as config keys, not flags
        note = note.replace("--batch", "unroll.batch").replace(
            "--eval-batches all", 'unroll.eval_batches = "all"')
        (warn or _stderr)(f"warning: {note}")
    return nets


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _cma_seed(run_seed: int, restart: int) -> int:
    return derive_seed(run_seed, restart, 0, 0, "cmaes") % (2**31 - 2) + 1


def new_strategy(config: Config, state: RunState):
    """A fresh pycma strategy for the current restart, writing no files of its own."""
    import cma

    x0 = state.initial_genome[state.mask]
    options = {
        "seed": _cma_seed(config.run.seed, state.restart),
        "popsize": state.popsize,
        "maxiter": np.inf,
        "maxfevals": np.inf,
        "verbose": -9,
        "verb_log": 0,
        "verb_disp": 0,
        "signals_filename": "",  # no signals file (None would fall back to the default)
    }
    if config.genome.bounds is not None:
        options["bounds"] = list(config.genome.bounds)
    return cma.CMAEvolutionStrategy(x0, state.sigma0, options)


# ---- one generation --------------------------------------------------------------------

def expand(state: RunState, points: list[np.ndarray]) -> np.ndarray:
    """CMA-ES points (evolved entries) -> full genomes with the fixed slots filled in."""
    genomes = np.tile(state.initial_genome, (len(points), 1))
    genomes[:, state.mask] = np.asarray(points)
    return genomes


def score_population(backend: Backend, genomes: np.ndarray, plan: DrawPlan, config: Config,
                     generation: int) -> list[GenomeScore]:
    """Score genomes in about chunks_per_worker × workers jobs; results in genome order."""
    chunks = chunk_bounds(len(genomes), backend.workers * config.parallel.chunks_per_worker)
    jobs = [(genomes[a:b], plan, config.fitness, generation, a) for a, b in chunks]
    return [score for part in backend.map(score_chunk, jobs) for score in part]


def validate(backend: Backend, state: RunState, mean: np.ndarray, generation: int,
             plan: DrawPlan, config: Config) -> Validation:
    """Validate the mean and the samples waiting in the pool (fixed draws: generation 0),
    record them as final-genome candidates; returns the mean's Validation. One job: the
    draws are made once, and a few genomes cost little more than one."""
    genomes = np.stack([mean, *final.waiting(state)])
    (scores,) = backend.map(score_chunk, [(genomes, plan, config.fitness, 0, 0)])
    final.add_candidates(state, mean, generation, scores, plan)
    return final.validation_record(scores[0], plan)


def finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _budget_reason(config: Config, state: RunState) -> str | None:
    cm = config.cmaes
    if state.generation >= cm.max_generations:
        return "max_generations"
    if cm.max_evaluations is not None and state.evaluations >= cm.max_evaluations:
        return "max_evaluations"
    if cm.time_budget is not None and state.elapsed >= cm.time_budget:
        return "time_budget"
    return None


# ---- restarts --------------------------------------------------------------------------

def plan_restart(config: Config, state: RunState, base_popsize: int) -> str:
    """Set popsize and sigma0 of the next restart (IPOP or BIPOP); returns a log line."""
    cm = config.cmaes
    state.restart += 1
    if cm.restarts == "ipop":
        state.popsize = int(round(state.popsize * cm.incpopsize))
        state.sigma0 = cm.sigma0
        return f"restart {state.restart} (ipop): popsize {state.popsize}"
    # BIPOP: run the regime that has used fewer evaluations so far.
    if state.small_evaluations < state.large_evaluations:
        rng = np.random.default_rng(derive_seed(config.run.seed, state.restart, 0, 0, "bipop"))
        large = base_popsize * cm.incpopsize ** state.large_restarts
        u_pop, u_sigma = rng.random(2)
        state.popsize = max(2, int(base_popsize * (0.5 * large / base_popsize) ** (u_pop**2)))
        state.sigma0 = cm.sigma0 * 10 ** (-2 * u_sigma)
        state.regime = "small"
    else:
        state.large_restarts += 1
        state.popsize = int(round(base_popsize * cm.incpopsize ** state.large_restarts))
        state.sigma0 = cm.sigma0
        state.regime = "large"
    return (f"restart {state.restart} (bipop, {state.regime}): popsize {state.popsize}, "
            f"sigma0 {state.sigma0:.3g}")


# ---- the loop --------------------------------------------------------------------------

def save_genomes(run: RunDir, config: Config, state: RunState,
                  inputs: dict[str, str] | None = None) -> None:
    """best_genome.npy and mean_genome.npy; ``generation`` in their provenance is the
    0-based generation of the last one done (as metrics.jsonl counts)."""
    network = config.network.spec(1, 1).to_dict()
    common = genome_provenance(config, state.generation - 1, inputs)
    save_genome(run.best_genome, state.best_genome, network=network,
                provenance=Provenance(**common, kind="best", fitness=state.best_fitness,
                                      found_at_generation=state.best_generation))
    save_genome(run.mean_genome, state.mean_genome, network=network,
                provenance=Provenance(**common, kind="distribution mean"))


def save_final(run: RunDir, config: Config, backend: Backend, plans: Plans, state: RunState,
                inputs: dict[str, str] | None = None) -> FinalChoice:
    """Score the chosen candidate on the test draws; write final_genome.npy and final.json."""
    genome = final.final_genome(state)
    test = None
    if state.candidates and plans.test is not None:
        (test,) = score_population(backend, genome[None], plans.test, config, 0)
    choice = final.final_choice(state, test, plans.test)
    network = config.network.spec(1, 1).to_dict()
    common = genome_provenance(config, state.generation - 1, inputs)
    save_genome(run.final_genome, genome, network=network,
                provenance=Provenance(**common, kind=final.sidecar_kind(choice),
                                      found_at_generation=choice.chosen.generation - 1
                                      if choice.chosen.generation > 0 else None))
    run.write_final(choice)
    line = f"final genome: {final.label(choice.chosen)}"
    if choice.test is not None:
        line += (f", validation {choice.chosen.validation:.4f}, test {choice.test.accuracy:.4f} "
                 f"[{choice.test.low:.4f}, {choice.test.high:.4f}] over {choice.test.seeds} "
                 "seeds")
    else:
        line += f" ({choice.reason})"
    run.log(line)
    return choice


def _checkpoint(run: RunDir, es, state: RunState, base_popsize: int) -> None:
    run.write_checkpoint(Checkpoint(es=es, numpy_random=np.random.get_state(), state=state,
                                    base_popsize=base_popsize))


def initial_state(config: Config, backend: Backend, plans: Plans, popsize: int | None,
                  sigma0: float) -> RunState:
    """The run state of a fresh run: the initial genome, the evolved entries, and the
    initial genome's scores on the first draws and the validation draws. ``popsize``
    None: pycma's default for the number of evolved entries."""
    states = config.network.states
    values = initial_genome(config.genome, states)
    mask = GenomeLayout(states).mask(config.genome.evolve)
    state = RunState(initial_genome=values, mask=mask,
                     popsize=popsize or default_popsize(int(mask.sum())), sigma0=sigma0)
    (score,) = score_population(backend, values[None], plans.train, config, 0)
    validation = None
    if plans.validate is not None:
        validation = validate(backend, state, values, 0, plans.validate, config)
    state.initial = InitialScores(fitness=score.fitness, accuracy=finite_or_none(score.accuracy),
                                  validation=validation)
    return state


def start(config: Config, run: RunDir, backend: Backend, plans: Plans):
    """A fresh run: the initial genome's scores, the first strategy, checkpoint 0."""
    state = initial_state(config, backend, plans, config.cmaes.popsize, config.cmaes.sigma0)
    run.log(f"initial genome ({config.genome.initial}): fitness {state.initial.fitness:.4f} "
            f"on generation 0's draws; evolving {int(state.mask.sum())} of "
            f"{state.initial_genome.size} entries ({', '.join(config.genome.evolve)}), "
            f"popsize {state.popsize}")
    return new_strategy(config, state), state, state.popsize


def resume_checkpoint(config: Config, run: RunDir,
                      warn: Callable[[str], None] | None = None) -> Checkpoint | None:
    """The checkpoint a resumed run continues from (None: it never reached one), after
    checking that ``config`` is the run's own and the run directory is whole."""
    check_unedited(run)
    check_same_run(config, run)
    point = run.resume_point()
    if point.checkpoint is not None:
        run.check_metrics(point.checkpoint.state.generation)
    if point.fallback:
        run.log(f"warning: {point.fallback}")
        (warn or _stderr)(f"warning: {point.fallback}")
    return point.checkpoint


def open_session(config: Config, run: RunDir, backend: Backend, plans: Plans, resume: bool,
                 warn: Callable[[str], None] | None, note: Callable[[str], None] | None
                 ) -> tuple[Checkpoint | None, dict[str, str] | None]:
    """What a meta-training session does before its first generation (CMA-ES or gradient):
    the resume checks, the tasks loaded once, the kernel compiled, the workers prepared.
    Returns the checkpoint to continue from (None: a fresh run) and the run's input files."""
    checkpoint = resume_checkpoint(config, run, warn) if resume else None
    info = run.read_info()
    if config.report.tensorboard is not None:
        require_tensorboardx()  # before checkpoint 0: a failed start leaves nothing
    nets = check_tasks(config, plans, warn)
    warm_up(nets, note=note)
    backend.prepare(nets)
    return checkpoint, info.inputs if info is not None else None


def begin_records(run: RunDir, state: RunState, fresh: bool) -> History:
    """metrics.jsonl cut to the state's generation and the genome history to go on with
    (empty for a fresh run); a resumed run's budget stop is cleared (limits may be raised)."""
    run.truncate_metrics(0 if fresh else state.generation)
    size = state.initial_genome.size
    history = History.empty(size) if fresh else load_for_resume(run.path, state.generation,
                                                                size)
    write_history(run.path, history)
    if state.stop_reason in (*BUDGET_REASONS, "max_steps", PREEMPTED):
        state.stop_reason = None
    return history


def evolve(config: Config, run: RunDir, backend: Backend, *, resume: bool = False,
           data_dir: str | None = None,
           on_generation: Callable[[MetricsLine, RunState], None] | None = None,
           preempted: Callable[[], str | None] | None = None,
           warn: Callable[[str], None] | None = None,
           note: Callable[[str], None] | None = None) -> RunState:
    """Run (or continue) CMA-ES until a stop rule fires; returns the final run state.

    With ``resume``, ``config`` must be the run's own (its config.toml) up to the resumable
    keys (resume.RESUMABLE_KEYS), else ConfigError: a checkpoint only continues the run
    that wrote it; and the run directory is checked first (es/rundir.py: a missing or
    damaged checkpoint, gaps in metrics.jsonl, an edited config.toml are RunDirError; a
    damaged checkpoint with a good checkpoint.prev falls back to it, logged and passed to
    ``warn``, default stderr). ``preempted`` is asked before every generation; when it names
    a reason (a signal), the run stops with ``stop_reason = "preempted"`` and its
    checkpoint written. ``note`` gets progress lines that are not generations (the kernel
    being compiled on a first run); default: none.
    """
    plans = make_plans(config, data_dir)
    checkpoint, inputs = open_session(config, run, backend, plans, resume, warn, note)
    if checkpoint is None:
        es, state, base_popsize = start(config, run, backend, plans)
        history = begin_records(run, state, fresh=True)
        _checkpoint(run, es, state, base_popsize)
    else:
        es, state, base_popsize = checkpoint.es, checkpoint.state, checkpoint.base_popsize
        np.random.set_state(checkpoint.numpy_random)
        history = begin_records(run, state, fresh=False)
        run.log(f"resumed at generation {state.generation}")

    def generation() -> MetricsLine:
        nonlocal es
        record, es = _generation(config, run, backend, plans, es, state, base_popsize, inputs,
                                 history)
        return record

    run_loop(config, run, state, lambda: _budget_reason(config, state), generation,
             on_generation, preempted)
    finish_run(config, run, backend, plans, state, inputs,
               lambda: _checkpoint(run, es, state, base_popsize),
               f"{state.generation} generations, {state.evaluations} evaluations")
    return state


def finish_run(config: Config, run: RunDir, backend: Backend, plans: Plans, state: RunState,
               inputs: dict[str, str] | None, checkpoint: Callable[[], None], done: str
               ) -> None:
    """The end of a session: the genomes, the final genome (unless preempted: a resume goes
    on), the last checkpoint, result.json and the log line saying ``done``."""
    if state.best_genome is not None:
        save_genomes(run, config, state, inputs)
    if state.stop_reason != PREEMPTED and state.mean_genome is not None:
        save_final(run, config, backend, plans, state, inputs)
    checkpoint()
    run.write_result(run_result(state))
    run.log(f"stopped: {state.stop_reason} after {done}; best fitness "
            f"{state.best_fitness:.4f}")


def run_loop(config: Config, run: RunDir, state: RunState, budget: Callable[[], str | None],
             step: Callable[[], MetricsLine],
             on_generation: Callable[[MetricsLine, RunState], None] | None,
             preempted: Callable[[], str | None] | None, unit: str = "generation") -> None:
    """Generations (gradient runs: steps) until a stop rule fires: ``budget`` names a limit
    reached, ``preempted`` a signal received; each ``step`` returns its metrics line, which
    goes to TensorBoard (report.tensorboard) and ``on_generation``."""
    board = open_writer(config, state.generation)
    try:
        while state.stop_reason is None:
            state.stop_reason = budget()
            if state.stop_reason:
                break
            signal_name = preempted() if preempted is not None else None
            if signal_name:
                state.stop_reason = PREEMPTED
                run.log(f"{signal_name} received: stopping at {unit} {state.generation}")
                break
            record = step()
            if board is not None:
                board.generation(record, state)
            if on_generation is not None:
                on_generation(record, state)
    finally:
        if board is not None:
            board.close()


def _generation(config: Config, run: RunDir, backend: Backend, plans: Plans, es,
                state: RunState, base_popsize: int, inputs: dict[str, str] | None = None,
                history: History | None = None) -> tuple[MetricsLine, Any]:
    """Ask, score, tell, record; returns the metrics line and the strategy to go on with
    (a new one after a restart)."""
    began = time.perf_counter()
    generation = state.generation
    points = es.ask()
    genomes = expand(state, points)
    scores = score_population(backend, genomes, plans.train, config, generation)
    fitnesses = [score.fitness for score in scores]
    es.tell(points, fitnesses)
    if plans.validate is not None:
        final.offer(state, genomes, fitnesses, generation + 1, config.report.final_candidates)

    best = int(np.argmin(fitnesses))
    if fitnesses[best] < state.best_fitness:
        state.best_fitness = float(fitnesses[best])
        state.best_genome = genomes[best].copy()
        state.best_generation = generation
    state.generation += 1
    state.evaluations += len(genomes)
    if state.regime == "large":
        state.large_evaluations += len(genomes)
    else:
        state.small_evaluations += len(genomes)

    accuracies = [s.accuracy for s in scores]
    sigma = float(es.sigma)

    cm = config.cmaes
    event = None
    if cm.target_fitness is not None and state.best_fitness <= cm.target_fitness:
        state.stop_reason = "target_fitness"
    elif cm.time_budget is not None and \
            state.elapsed + time.perf_counter() - began >= cm.time_budget:
        state.stop_reason = "time_budget"
    else:
        event = _stop_or_restart(config, state, es)
    mean = state.mean_genome = expand(state, [es.result.xfavorite])[0]
    last = state.stop_reason is not None or _budget_reason(config, state) is not None
    every = config.report.validate_every
    validation = None
    if plans.validate is not None and (last or (every and state.generation % every == 0)):
        validation = validate(backend, state, mean, state.generation, plans.validate, config)
    if event:
        run.log(event)
        if state.stop_reason is None:  # a restart: a new strategy from the initial mean
            es = new_strategy(config, state)
    seconds = time.perf_counter() - began
    state.elapsed += seconds
    record = MetricsLine(
        generation=generation, restart=state.restart, popsize=len(genomes),
        evaluations=state.evaluations,
        best=float(np.min(fitnesses)), median=float(np.median(fitnesses)),
        worst=float(np.max(fitnesses)), best_so_far=state.best_fitness,
        accuracy_median=finite_or_none(float(np.nanmedian(accuracies))
                                if any(math.isfinite(a) for a in accuracies) else math.nan),
        sigma=sigma,
        diverged=int(sum(score.diverged for score in scores)),
        diverged_genomes=int(sum(score.diverged > 0 for score in scores)),
        initial=state.initial if generation == 0 else None,
        validation=validation, event=event,
        seconds=round(seconds, 4), elapsed=round(state.elapsed, 3))

    save_genomes(run, config, state, inputs)
    run.append_metrics(record)
    if history is not None:
        history.append(generation, mean, genomes[best], fitnesses[best], sigma)
        write_history(run.path, history)
    _checkpoint(run, es, state, base_popsize)
    run.log(progress_line(record, config))
    return record, es


def _stop_or_restart(config: Config, state: RunState, es) -> str | None:
    """pycma's own stop criteria: restart if configured and allowed, else stop the run."""
    criteria = {key: value for key, value in es.stop().items()
                if key not in ("maxiter", "maxfevals")}
    if not criteria:
        return None
    names = ", ".join(sorted(criteria))
    if config.cmaes.restarts == "none" or state.restart >= config.cmaes.max_restarts:
        state.stop_reason = f"cma:{names}"
        return f"pycma stopped ({names})"
    return f"pycma stopped ({names}); " + plan_restart(
        config, state, config.cmaes.popsize or default_popsize(int(state.mask.sum())))


def progress_line(record: MetricsLine, config: Config) -> str:
    """The plain one-line summary of a generation (log.txt and non-terminal output).

    "gen best" is this generation's best fitness, "best so far" the best over the run: the
    terminal's progress bar uses the same words for the same numbers.
    """
    line = (f"gen {record.generation + 1}/{config.cmaes.max_generations}  "
            f"evals {record.evaluations}  gen best {record.best:.4f}  "
            f"median {record.median:.4f}  best so far {record.best_so_far:.4f}  "
            f"sigma {record.sigma:.4g}  diverged {record.diverged}  "
            f"{record.seconds:.2f}s")
    if record.validation is not None and record.validation.accuracy is not None:
        line += f"  val-acc {record.validation.accuracy:.4f}"
    return line


def run_result(state: RunState) -> RunResult:
    """result.json of a run in this state."""
    return RunResult(stop_reason=state.stop_reason, generations=state.generation,
                     evaluations=state.evaluations, restarts=state.restart,
                     best_fitness=finite_or_none(state.best_fitness),
                     best_generation=state.best_generation,
                     elapsed_seconds=round(state.elapsed, 3), initial=state.initial)
