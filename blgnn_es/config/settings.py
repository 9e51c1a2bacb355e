"""Run configuration: a TOML file parsed once, at the edge, into frozen pydantic models.

One model per TOML section, one field per key: its type, default, allowed range and a
one-line meaning are declared there and nowhere else. Validation, the resolved
``config.toml`` of a run directory and docs/config.md all come from those declarations.
Errors name the file, the key, the value and what is allowed, and are :class:`ConfigError`
(the CLI exits with code 2).

>>> cfg = load_config_text('[tasks]\\ntrain = ["xor"]\\n[unroll]\\nsteps = 5\\n')
>>> cfg.unroll.steps, cfg.cmaes.sigma0, [str(t) for t in cfg.tasks.train]
(5, 0.2, ['xor'])
"""

from __future__ import annotations

import os
import re
import tomllib
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from blgnn_es.config.schema import (
    ADDRESS_ALLOWED,
    EVAL_BATCHES_EXTRA,
    NAME_ALLOWED,
    Address,
    EvalBatches,
    Finite,
    Name,
    NonEmpty,
    StrictInt,
    StrictStr,
    first_problem,
    not_allowed,
)
from blgnn_es.errors import ConfigError
from blgnn_es.model.genome import SLOT_NAMES
from blgnn_es.model.network import NetworkOptions, NetworkSpec
from blgnn_es.tasks.spec import TaskSpec, parse_task_spec
from blgnn_es.tasks.task import TWO_CLASS_CODINGS, output_size

GENOME_PRESETS = ("random", "backprop", "hebbian")
METRICS = ("accuracy", "l2", "ce")
AVERAGES = ("mean", "median", "worst")
RESTARTS = ("none", "ipop", "bipop")
BACKENDS = ("loky", "serial", "dask", "jax")
META_METHODS = ("cmaes", "gradient")
META_LOSSES = ("l2", "ce")
META_OPTIMIZERS = ("adam", "sgd", "momentum")
CLUSTERS = ("local", "slurm")

_FROZEN = ConfigDict(extra="forbid", frozen=True)


# ---- value types whose rule is more than a type and a range ------------------------------

def _initial(value: str) -> str:
    """A preset, or an existing .npy file (stored resolved, so the run can move folders)."""
    if value in GENOME_PRESETS:
        return value
    path = Path(value).expanduser()
    if path.suffix != ".npy":
        raise not_allowed()
    if not path.is_file():
        raise ValueError(f"no such file (relative paths are read from the current "
                         f"directory, {Path.cwd()})")
    return str(path.resolve())


def _low_below_high(bounds: tuple[float, float]) -> tuple[float, float]:
    if bounds[0] >= bounds[1]:
        raise ValueError("low must be below high")
    return bounds


def _slots(slots: tuple[str, ...]) -> tuple[str, ...]:
    if not slots:
        raise ValueError(f"evolve at least one slot; allowed: {', '.join(SLOT_NAMES)}")
    return tuple(dict.fromkeys(slots))


def _tasks(value: Any) -> tuple[TaskSpec, ...]:
    if not isinstance(value, list | tuple):
        raise not_allowed()
    if not all(isinstance(item, str | dict | TaskSpec) for item in value):
        raise not_allowed()
    try:
        return tuple(parse_task_spec(item) for item in value)
    except ConfigError as err:
        raise ValueError(str(err)) from None


_DURATION = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*(s|m|h|d)?\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def _seconds(value: Any) -> Any:
    """``"90s"``, ``"30m"``, ``"2h"``, ``"1d"`` -> seconds; numbers pass through."""
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if not match:
            raise not_allowed()
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return value


Initial = Annotated[StrictStr, AfterValidator(_initial)]
Bounds = Annotated[tuple[Finite, Finite], AfterValidator(_low_below_high)]
Slots = Annotated[tuple[Literal[SLOT_NAMES], ...], AfterValidator(_slots)]
Tasks = Annotated[tuple[TaskSpec, ...], PlainValidator(_tasks),
                  PlainSerializer(lambda specs: [str(spec) for spec in specs], when_used="json")]
Duration = Annotated[Finite, BeforeValidator(_seconds), Field(gt=0.0)]


def _time_budget() -> Any:
    """The field of a wall-time budget ([cmaes] and [gradient] time_budget)."""
    return Field(None, description='stop after this much wall time: seconds, or "90s", '
                 '"30m", "2h"', json_schema_extra={
                     "allowed": 'seconds > 0, or a string such as "90s", "30m", "2h"',
                     "type": "number or string"})


def _some_tasks(specs: tuple[TaskSpec, ...]) -> tuple[TaskSpec, ...]:
    if not specs:
        raise ValueError("give at least one task spec, for example [\"xor\"]")
    return specs


NonEmptyTasks = Annotated[Tasks, AfterValidator(_some_tasks)]

# Upper bounds of the sizes: far above the paper's settings, low enough that a typo (an extra
# zero or three) is refused before a generation that would never finish is started.
MAX_POPSIZE = 10_000
MAX_REPLICAS = 1_000
MAX_STEPS = 100_000
MAX_BATCH = 65_536
MAX_HIDDEN = 65_536
MAX_LAYERS = 16


# ---- the sections --------------------------------------------------------------------------

class RunSettings(BaseModel):
    """[run]: what the run is called, where it goes, its seed."""

    model_config = _FROZEN

    name: Name | None = Field(None, description="run name: the run directory is "
                              "<out_dir>/<name> (default: the config file's stem)",
                              json_schema_extra={"allowed": NAME_ALLOWED, "type": "string"})
    seed: StrictInt = Field(0, ge=0, le=2**31 - 1, description="run seed: every task, synapse "
                            "and batch draw and pycma's sampling derive from it")
    out_dir: NonEmpty = Field("runs", description="folder that holds run directories")


def _architectures(value: Any) -> Any:
    """[512] (one architecture) or [[256], [256, 128]] (several); checked here so that the
    error says what an architecture is, not which branch of a union failed."""
    one = f"a list of at most {MAX_LAYERS} integers from 1 to {MAX_HIDDEN}"
    if not isinstance(value, list | tuple):
        raise ValueError(f"give {one} such as [512], or a list of such lists such as "
                         "[[256], [256, 128]]")
    nested = [isinstance(item, list | tuple) for item in value]
    if any(nested) and not all(nested):
        raise ValueError("mixes sizes and lists: give one architecture such as [512] or "
                         "several such as [[256], [256, 128]]")
    architectures = [tuple(arch) for arch in value] if any(nested) else [tuple(value)]
    for arch in architectures:
        if len(arch) > MAX_LAYERS or not all(
                type(size) is int and 1 <= size <= MAX_HIDDEN for size in arch):
            raise ValueError(f"architecture {list(arch)!r} is not {one}")
    return tuple(architectures) if any(nested) else architectures[0]


Sizes = tuple[StrictInt, ...]


class NetworkSettings(NetworkOptions):
    """[network]: every NetworkSpec option, plus hidden sizes (inputs and outputs come from
    the train tasks)."""

    hidden: Annotated[Sizes | tuple[Sizes, ...], BeforeValidator(_architectures)] = Field(
        (20,), description="hidden layer sizes, for example [512]; or several architectures, "
        "for example [[256], [256, 128]], all of them (or network.sample of them) in every "
        "generation; inputs and outputs come from the train tasks",
        json_schema_extra={"allowed": f"a list of at most {MAX_LAYERS} integers from 1 to "
                           f"{MAX_HIDDEN}, or a list of such lists", "type": "list"})
    sample: StrictInt | None = Field(
        None, ge=1, description="architectures drawn (seeded, without replacement) for each "
        "generation from a list of several (default: all of them)",
        json_schema_extra={"allowed": "1 to the number of architectures"})
    two_class: Literal[TWO_CLASS_CODINGS] = Field(
        "sign", description="outputs of a two-class task: sign (one output read by its sign, "
        "SPEC §3) or argmax (two outputs, read as every other task)")

    @model_validator(mode="after")
    def _sample_fits(self) -> NetworkSettings:
        if self.sample is not None and self.sample > len(self.architectures):
            raise ValueError(f"network.sample = {self.sample} exceeds the "
                             f"{len(self.architectures)} architectures of network.hidden")
        return self

    @property
    def architectures(self) -> tuple[tuple[int, ...], ...]:
        """Every architecture of the run; the first is the one validation and evaluate use."""
        if self.hidden and isinstance(self.hidden[0], tuple):
            return self.hidden  # type: ignore[return-value]
        return (self.hidden,)  # type: ignore[return-value]

    def with_hidden(self, hidden: tuple[int, ...]) -> NetworkSettings:
        """These settings with one architecture."""
        return self.model_copy(update={"hidden": tuple(hidden), "sample": None})

    def spec(self, n_inputs: int, n_outputs: int) -> NetworkSpec:
        """The network for a task with these input and output sizes (the first architecture
        when there are several)."""
        options = self.model_dump(exclude={"hidden", "sample", "two_class"})
        hidden = self.architectures[0]
        return NetworkSpec(layer_sizes=(n_inputs, *hidden, n_outputs), **options)

    def outputs(self, n_classes: int) -> int:
        """Output neurons for a task of ``n_classes`` under this run's two-class coding."""
        return output_size(n_classes, self.two_class)


class GenomeSettings(BaseModel):
    """[genome]: where CMA-ES starts and which slots it changes."""

    model_config = _FROZEN

    initial: Initial = Field("random", description="CMA-ES start (and values of fixed slots): "
                             "random, backprop, hebbian, or a path to a .npy genome",
                             json_schema_extra={"allowed": f"{', '.join(GENOME_PRESETS)}, or a "
                                                "path to a .npy file", "type": "string"})
    evolve: Slots = Field(SLOT_NAMES, description="slots that CMA-ES changes; the others keep "
                          "their initial values",
                          json_schema_extra={"allowed": "a list of slot names from "
                                             + ", ".join(SLOT_NAMES), "default": "all slots"})
    bounds: Bounds | None = Field(None, description="[low, high] box for every evolved entry "
                                  "(default: none)",
                                  json_schema_extra={"allowed": "[low, high], two numbers"})
    rate: Finite | None = Field(None, description="hebbian: its rate (default 0.003); "
                                "backprop: its learning rate (default 0.1)")
    random_seed: StrictInt = Field(0, ge=0, description="seed of the random initial genome")
    random_scale: Finite = Field(0.5, gt=0.0, description="standard deviation of the random "
                                 "initial genome")


_TASKS_ALLOWED = 'a list of task specs, for example ["xor", "mnist:resolution=14"]'


with warnings.catch_warnings():
    # "validate" is the TOML key; it shadows BaseModel.validate, a deprecated classmethod.
    warnings.filterwarnings("ignore", message='Field name "validate"', category=UserWarning)

    class TaskSettings(BaseModel):
        """[tasks]: what the fitness is measured on."""

        model_config = _FROZEN

        train: NonEmptyTasks = Field(description="task specs the fitness is averaged over; "
                                     "their input and output sizes may differ (each sample "
                                     "builds its network from its task's shape)",
                             json_schema_extra={"allowed": _TASKS_ALLOWED})
        weights: tuple[Annotated[Finite, Field(gt=0.0)], ...] | None = Field(
            None, description="one weight per train task in the fitness average (absent: "
            "equal; needs fitness.average = \"mean\")",
            json_schema_extra={"allowed": "a list of numbers > 0, one per tasks.train entry",
                               "type": "list"})
        validate: Tasks = Field((), description="held-out task specs, validated every "
                                "report.validate_every generations (sizes may differ)",
                                json_schema_extra={"allowed": _TASKS_ALLOWED})
        data_dir: NonEmpty | None = Field(None, description="where MNIST-like data lives (else "
                                          "--data-dir, $BLGNN_ES_DATA, ~/.cache/blgnn-es, "
                                          "/usr/share/datasets)")

        @model_validator(mode="after")
        def _one_weight_per_task(self) -> TaskSettings:
            if self.weights is not None and len(self.weights) != len(self.train):
                raise ValueError(f"tasks.weights has {len(self.weights)} entries; tasks.train "
                                 f"has {len(self.train)} tasks: give one weight per task")
            return self


class UnrollSettings(BaseModel):
    """[unroll]: one fitness sample's inner loop."""

    model_config = _FROZEN

    steps: StrictInt = Field(10, ge=1, le=MAX_STEPS, description="T, learning steps per unroll")
    batch: StrictInt = Field(128, ge=1, le=MAX_BATCH, description="B, examples per learning "
                             "step and evaluation batch")
    eval_batches: EvalBatches = Field(10, description='E, held-out batches after training, or '
                                      '"all" for the whole test split',
                                      json_schema_extra=EVAL_BATCHES_EXTRA)
    replicas: StrictInt = Field(1, ge=1, le=MAX_REPLICAS, description="fitness samples per "
                                "task (each its own task, synapse and batch seeds)")


class FitnessSettings(BaseModel):
    """[fitness]: how samples become one number to minimize."""

    model_config = _FROZEN

    metric: Literal[METRICS] = Field("accuracy", description="accuracy (fitness 1 - accuracy, "
                                     "the paper's), l2 or ce (the loss itself)")
    average: Literal[AVERAGES] = Field("mean", description="how samples over tasks and "
                                       "replicas are combined")
    loss_cap: Finite = Field(100.0, gt=0.0, description="fitness of a diverged sample for "
                             "l2/ce, and the largest loss counted (accuracy: 1.0)")


class CmaesSettings(BaseModel):
    """[cmaes]: the outer loop and when it stops."""

    model_config = _FROZEN

    popsize: StrictInt | None = Field(None, ge=2, le=MAX_POPSIZE, description="population "
                                      "size (default: pycma's 4 + 3 ln n)")
    sigma0: Finite = Field(0.2, gt=0.0, description="initial step size")
    max_generations: StrictInt = Field(100, ge=1, description="stop after this many "
                                       "generations (all restarts)")
    max_evaluations: StrictInt | None = Field(None, ge=1, description="stop after this many "
                                              "genome evaluations")
    time_budget: Duration | None = _time_budget()
    target_fitness: Finite | None = Field(None, description="stop once a genome's fitness is "
                                          "<= this")
    restarts: Literal[RESTARTS] = Field("none", description="restart when pycma's own "
                                        "criteria stop a run")
    max_restarts: StrictInt = Field(9, ge=0, description="restarts allowed (ipop / bipop)")
    incpopsize: Finite = Field(2.0, ge=1.0, description="population factor per large restart")


class MetaSettings(BaseModel):
    """[meta]: which meta-optimizer trains the genome."""

    model_config = _FROZEN

    method: Literal[META_METHODS] = Field(
        "cmaes", description="cmaes (pycma, [cmaes]) or gradient (optax Adam on the genome "
        "through the unrolled network, [gradient]; needs the jax extra)")


class GradientSettings(BaseModel):
    """[gradient]: gradient meta-training (meta.method = "gradient"). Each step draws a
    meta-batch of fitness samples, unrolls the network in JAX and takes one optimizer step
    (Adam by default) on the evolved genome entries along the gradient of the meta-loss."""

    model_config = _FROZEN

    optimizer: Literal[META_OPTIMIZERS] = Field(
        "adam", description="optax optimizer of the genome: adam, sgd, or momentum (sgd with "
        "momentum 0.9)")
    learning_rate: Finite = Field(1e-3, gt=0.0, description="the optimizer's step size")
    clip: Finite | None = Field(1.0, gt=0.0, description="clip the meta-gradient to this "
                                "global norm before the optimizer (absent: no clipping)")
    meta_batch: StrictInt = Field(8, ge=1, le=MAX_REPLICAS, description="fitness samples "
                                  "per train task and step, drawn afresh every step")
    loss: Literal[META_LOSSES] = Field("ce", description="meta-loss of state 0 on the "
                                       "held-out batches after the unroll: l2 or ce "
                                       "(accuracy is reported beside it)")
    truncation: StrictInt | None = Field(None, ge=1, description="backpropagate through the "
                                         "last N learning steps only (absent: the whole "
                                         "unroll)")
    max_steps: StrictInt = Field(400, ge=1, description="stop after this many optimizer steps")
    time_budget: Duration | None = _time_budget()


class ParallelSettings(BaseModel):
    """[parallel]: where fitness samples are computed."""

    model_config = _FROZEN

    backend: Literal[BACKENDS] = Field("loky", description="loky (processes on this machine), "
                                       "serial, dask (a dask cluster: see scheduler and "
                                       "cluster; docs/cluster.md), or jax (the JAX learner in "
                                       "this process, one vmapped call per sample; GPU if JAX "
                                       "sees one; pip install -e '.[jax]')")
    workers: StrictInt = Field(0, ge=0, description="worker processes (0: all cores; dask with "
                               "scheduler: the workers it has; dask with slurm: jobs x cores)")
    chunks_per_worker: StrictInt = Field(2, ge=1, description="jobs per worker and generation")
    scheduler: Address | None = Field(None, description='dask: address of a running scheduler, '
                                      '"tcp://host:port" (then cluster is not used)',
                                      json_schema_extra={"allowed": ADDRESS_ALLOWED})
    cluster: Literal[CLUSTERS] = Field("local", description="dask without scheduler: local (a "
                                       "LocalCluster of workers processes on this machine) or "
                                       "slurm (dask-jobqueue submits worker jobs)")
    queue: NonEmpty | None = Field(None, description="slurm: partition of the worker jobs "
                                   "(default: the site's)")
    account: NonEmpty | None = Field(None, description="slurm: account charged for the worker "
                                     "jobs")
    cores: StrictInt = Field(1, ge=1, description="slurm: cores per worker job (one "
                             "single-threaded dask worker per core)")
    memory: NonEmpty = Field("4GB", description='slurm: memory per worker job, e.g. "16GB"')
    walltime: NonEmpty = Field("01:00:00", description="slurm: time limit per worker job, "
                               "HH:MM:SS")
    jobs: StrictInt = Field(1, ge=1, description="slurm: worker jobs kept running (a job that "
                            "ends is replaced)")
    job_extra_directives: tuple[StrictStr, ...] = Field(
        (), description='slurm: extra #SBATCH lines of a worker job, e.g. ["--qos=long", '
        '"--constraint=intel"]', json_schema_extra={"allowed": "a list of strings"})
    job_script_prologue: tuple[StrictStr, ...] = Field(
        (), description='slurm: shell lines a worker job runs first, e.g. ["source '
        '~/venv/bin/activate"]', json_schema_extra={"allowed": "a list of strings"})
    interface: NonEmpty | None = Field(None, description='slurm: network interface of the '
                                       'scheduler and workers, e.g. "ib0" (default: the host '
                                       "name's address)")

    @model_validator(mode="after")
    def _one_way_to_reach_workers(self) -> ParallelSettings:
        if self.scheduler is not None and self.cluster == "slurm":
            raise ValueError(f"parallel.scheduler = {self.scheduler!r} and parallel.cluster = "
                             "\"slurm\": give one (a running scheduler, or a cluster for "
                             "blgnn-es to start)")
        return self

    @property
    def n_workers(self) -> int:
        """Workers actually used (0 means all cores; serial means 1; slurm: jobs x cores)."""
        if self.backend in ("serial", "jax"):
            return 1
        if self.workers:
            return self.workers
        if self.backend == "dask" and self.scheduler is None and self.cluster == "slurm":
            return self.jobs * self.cores
        return os.cpu_count() or 1


class ReportSettings(BaseModel):
    """[report]: validation during the run, the choice of the final genome, and an optional
    TensorBoard copy of the metrics."""

    model_config = _FROZEN

    validate_every: StrictInt = Field(10, ge=0, description="validate the distribution mean "
                                      "every N generations and at the end (0: only at the end)")
    validate_seeds: StrictInt = Field(3, ge=1, description="replicas per validation task")
    final_candidates: StrictInt = Field(
        3, ge=0, description="at every validation also re-validate the N samples with the "
        "best training fitness since the last one; final_genome.npy is the candidate (mean "
        "or sample) with the best validation accuracy (0: means only)")
    test_seeds: StrictInt = Field(
        10, ge=2, description="replicas per validation task of the test draws that score "
        "final_genome.npy (seeds apart from every train and validation seed; they take no "
        "part in the choice)")
    tensorboard: NonEmpty | None = Field(
        None, description="also write TensorBoard event files to <tensorboard>/<run name>/ "
        "(needs the tensorboard extra: pip install 'blgnn-es[tensorboard]'); the run "
        "directory stays the record", json_schema_extra={"type": "string"})


class Config(BaseModel):
    """A validated run configuration, one field per TOML section; ``source`` is where it came
    from (for messages; not part of equality)."""

    model_config = _FROZEN

    run: RunSettings = Field(default_factory=RunSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    genome: GenomeSettings = Field(default_factory=GenomeSettings)
    tasks: TaskSettings
    unroll: UnrollSettings = Field(default_factory=UnrollSettings)
    fitness: FitnessSettings = Field(default_factory=FitnessSettings)
    cmaes: CmaesSettings = Field(default_factory=CmaesSettings)
    meta: MetaSettings = Field(default_factory=MetaSettings)
    gradient: GradientSettings = Field(default_factory=GradientSettings)
    parallel: ParallelSettings = Field(default_factory=ParallelSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    _source: str = PrivateAttr("<config>")

    @model_validator(mode="after")
    def _weights_need_the_mean(self) -> Config:
        if self.tasks.weights is not None and self.fitness.average != "mean":
            raise ValueError(f"tasks.weights weigh the mean of the samples; fitness.average is "
                             f"\"{self.fitness.average}\": set it to \"mean\" or drop the "
                             "weights")
        return self

    @model_validator(mode="after")
    def _backprop_needs_two_states(self) -> Config:
        if self.genome.initial == "backprop" and self.network.states != 2:
            raise ValueError(f"genome.initial = \"backprop\" needs network.states = 2, got "
                             f"{self.network.states}")
        return self

    @property
    def source(self) -> str:
        return self._source

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(tuple(self.__dict__.values()))

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Section -> key -> TOML value, every key (absent optional ones left out)."""
        out = {}
        for section in type(self).model_fields:
            table = getattr(self, section).model_dump(mode="json")
            out[section] = {key: value for key, value in table.items() if value is not None}
        return out

    def to_toml(self) -> str:
        """The resolved config as TOML text (every key, defaults included)."""
        return tomli_w.dumps(self.to_dict())


SECTIONS = tuple(Config.model_fields)


# ---- loading ---------------------------------------------------------------------------

def load_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, override (``section.key=value`` strings) and validate a config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: the config file is not UTF-8 text (byte {err.start})"
                          ) from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config file ({err.strerror})") from None
    return load_config_text(text, source=str(path), overrides=overrides,
                            default_name=path.stem)


def load_config_text(text: str, source: str = "<config>",
                     overrides: list[str] | tuple[str, ...] = (),
                     default_name: str = "run") -> Config:
    """Validate TOML text; see :func:`load_config`."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source}: not valid TOML ({err})") from None
    overridden = {apply_override(raw, override, source) for override in overrides}
    return validate(raw, source, default_name, overridden)


def apply_override(raw: dict[str, Any], override: str, source: str = "--set") -> str:
    """Set ``section.key=value`` in a raw config dict (the value is read as TOML, else as
    text); returns ``section.key``."""
    dotted, equals, text = override.partition("=")
    section, dot, key = dotted.strip().partition(".")
    if not equals or not dot or not key:
        raise ConfigError(f"--set {override!r}: expected section.key=value, "
                          "for example unroll.steps=20")
    try:
        value = tomllib.loads(f"value = {text.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    if section not in SECTIONS:
        raise ConfigError(f"--set {override!r}: unknown section [{section}]; "
                          f"allowed: {', '.join(SECTIONS)}")
    table = raw.setdefault(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{section}] must be a table")
    table[key] = value
    return f"{section}.{key}"


def validate(raw: dict[str, Any], source: str = "<config>", default_name: str = "run",
             overridden: set[str] | frozenset[str] = frozenset()) -> Config:
    """Check every section and key of a parsed TOML dict and build a :class:`Config`."""
    data = {section: raw.get(section, {}) for section in SECTIONS} | raw
    if isinstance(data["run"], dict) and "name" not in data["run"]:
        data["run"] = {**data["run"], "name": default_name}
    try:
        config = Config.model_validate(data)
    except ValidationError as err:
        raise first_problem(err, Config, data, source, overridden) from None
    config._source = source
    return config
