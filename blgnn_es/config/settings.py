"""Run configuration: a TOML file parsed once, at the edge, into frozen typed settings.

Every key is declared in :data:`SCHEMA` with its kind, default, allowed values and a
one-line meaning; validation, the resolved ``config.toml`` of a run directory and the key
reference in README.md all come from that one table. Errors name the file, the key,
the value and what is allowed, and are :class:`ConfigError` (the CLI exits with code 2).

>>> cfg = load_config_text('[tasks]\\ntrain = ["xor"]\\n[unroll]\\nsteps = 5\\n')
>>> cfg.unroll.steps, cfg.cmaes.sigma0, [str(t) for t in cfg.tasks.train]
(5, 0.2, ['xor'])
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blgnn_es.errors import ConfigError, NetworkError
from blgnn_es.model.genome import SLOT_NAMES
from blgnn_es.model.network import ACTIVATIONS, BACKWARD_MODES, DTYPES, FEEDBACK_MODES, NetworkSpec

GENOME_PRESETS = ("random", "backprop", "hebbian")
METRICS = ("accuracy", "l2", "ce")
AVERAGES = ("mean", "median", "worst")
RESTARTS = ("none", "ipop", "bipop")
BACKENDS = ("loky", "serial", "dask")
CLUSTERS = ("local", "slurm")


@dataclass(frozen=True)
class Key:
    """One config key: how to check it, its default (None: absent) and what it means."""

    name: str
    kind: str
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    required: bool = False


SCHEMA: dict[str, tuple[Key, ...]] = {
    "run": (
        Key("name", "name", None, "run name: the run directory is <out_dir>/<name> "
            "(default: the config file's stem)"),
        Key("seed", "int", 0, "run seed: every task, synapse and batch draw and pycma's "
            "sampling derive from it", low=0, high=2**31 - 1),
        Key("out_dir", "str", "runs", "folder that holds run directories"),
    ),
    "network": (
        Key("hidden", "int_list", [20], "hidden layer sizes; inputs and outputs come from the "
            "train tasks", low=1),
        Key("states", "int", 2, "k, states per neuron (SPEC §1)", low=2, high=16),
        Key("hidden_activation", "activation", "relu_tanh",
            "hidden activation: one name, or a list of k names (one per state)",
            choices=ACTIVATIONS),
        Key("output_activation", "activation", "tanh", "output activation (name or list of k)",
            choices=ACTIVATIONS),
        Key("backward_activation", "activation", None,
            "backward-pass activation (default: the hidden activation)", choices=ACTIVATIONS),
        Key("tied", "bool", False, "V = Wᵀ at all times (symmetric synapses)"),
        Key("shared_states", "bool", False, "all k channels of a synapse hold one matrix"),
        Key("feedback", "choice", "label", "how the target enters the output layer (SPEC §3.3)",
            choices=FEEDBACK_MODES),
        Key("backward", "choice", "additive", "backward update mode (SPEC §3.4)",
            choices=BACKWARD_MODES),
        Key("normalization", "bool", True, "activation normalization (SPEC §5)"),
        Key("oja", "bool", False, "Oja decay term in the synapse update"),
        Key("read_normalization", "bool", False, "normalize synapse columns when read"),
        Key("init_scale", "float", 1.0, "scale of the initial synapses", low=0.0),
        Key("dtype", "choice", "float32", "floating point type of the unroll", choices=DTYPES),
    ),
    "genome": (
        Key("initial", "initial", "random", "CMA-ES start (and values of fixed slots): "
            "random, backprop, hebbian, or a path to a .npy genome"),
        Key("evolve", "slot_list", list(SLOT_NAMES), "slots that CMA-ES changes; the others "
            "keep their initial values", choices=SLOT_NAMES),
        Key("bounds", "bounds", None, "[low, high] box for every evolved entry (default: none)"),
        Key("rate", "float", None, "hebbian: its rate (default 0.003); backprop: its learning "
            "rate (default 0.1)"),
        Key("random_seed", "int", 0, "seed of the random initial genome", low=0),
        Key("random_scale", "float", 0.5, "standard deviation of the random initial genome",
            low=0.0),
    ),
    "tasks": (
        Key("train", "task_list", None, "task specs the fitness is averaged over "
            "(all must have the same input and output sizes)", required=True),
        Key("validate", "task_list", [], "held-out task specs, validated every "
            "report.validate_every generations (sizes may differ)"),
        Key("data_dir", "str", None, "where MNIST-like data lives (else --data-dir, "
            "$BLGNN_ES_DATA, ~/.cache/blgnn-es, /usr/share/datasets)"),
    ),
    "unroll": (
        Key("steps", "int", 10, "T, learning steps per unroll", low=1),
        Key("batch", "int", 128, "B, examples per learning step and evaluation batch", low=1),
        Key("eval_batches", "int_or_all", 10, "E, held-out batches after training, or \"all\" "
                                              "for the whole test split", low=1),
        Key("replicas", "int", 1, "fitness samples per task (each its own task, synapse and "
            "batch seeds)", low=1),
    ),
    "fitness": (
        Key("metric", "choice", "accuracy", "accuracy (fitness 1 - accuracy, the paper's), l2 "
            "or ce (the loss itself)", choices=METRICS),
        Key("average", "choice", "mean", "how samples over tasks and replicas are combined",
            choices=AVERAGES),
        Key("loss_cap", "float", 100.0, "fitness of a diverged sample for l2/ce, and the "
            "largest loss counted (accuracy: 1.0)", low=0.0),
    ),
    "cmaes": (
        Key("popsize", "int", None, "population size (default: pycma's 4 + 3 ln n)", low=2),
        Key("sigma0", "float", 0.2, "initial step size", low=0.0),
        Key("max_generations", "int", 100, "stop after this many generations (all restarts)",
            low=1),
        Key("max_evaluations", "int", None, "stop after this many genome evaluations", low=1),
        Key("time_budget", "duration", None, "stop after this much wall time: seconds, or "
            "\"90s\", \"30m\", \"2h\""),
        Key("target_fitness", "float", None, "stop once a genome's fitness is <= this"),
        Key("restarts", "choice", "none", "restart when pycma's own criteria stop a run",
            choices=RESTARTS),
        Key("max_restarts", "int", 9, "restarts allowed (ipop / bipop)", low=0),
        Key("incpopsize", "float", 2.0, "population factor per large restart", low=1.0),
    ),
    "parallel": (
        Key("backend", "choice", "loky", "loky (processes on this machine), serial, or dask "
            "(a dask cluster: see scheduler and cluster; docs/cluster.md)", choices=BACKENDS),
        Key("workers", "int", 0, "worker processes (0: all cores; dask with scheduler: the "
            "workers it has; dask with slurm: jobs x cores)", low=0),
        Key("chunks_per_worker", "int", 2, "jobs per worker and generation", low=1),
        Key("scheduler", "address", None, "dask: address of a running scheduler, "
            "\"tcp://host:port\" (then cluster is not used)"),
        Key("cluster", "choice", "local", "dask without scheduler: local (a LocalCluster of "
            "workers processes on this machine) or slurm (dask-jobqueue submits worker jobs)",
            choices=CLUSTERS),
        Key("queue", "str", None, "slurm: partition of the worker jobs (default: the site's)"),
        Key("account", "str", None, "slurm: account charged for the worker jobs"),
        Key("cores", "int", 1, "slurm: cores per worker job (one single-threaded dask worker "
            "per core)", low=1),
        Key("memory", "str", "4GB", "slurm: memory per worker job, e.g. \"16GB\""),
        Key("walltime", "str", "01:00:00", "slurm: time limit per worker job, HH:MM:SS"),
        Key("jobs", "int", 1, "slurm: worker jobs kept running (a job that ends is replaced)",
            low=1),
        Key("job_extra_directives", "str_list", [], "slurm: extra #SBATCH lines of a worker "
            "job, e.g. [\"--qos=long\", \"--constraint=intel\"]"),
        Key("job_script_prologue", "str_list", [], "slurm: shell lines a worker job runs "
            "first, e.g. [\"source ~/venv/bin/activate\"]"),
        Key("interface", "str", None, "slurm: network interface of the scheduler and workers, "
            "e.g. \"ib0\" (default: the host name's address)"),
    ),
    "report": (
        Key("validate_every", "int", 10, "validate the distribution mean every N generations "
            "and at the end (0: only at the end)", low=0),
        Key("validate_seeds", "int", 3, "replicas per validation task", low=1),
    ),
}


@dataclass(frozen=True)
class RunSettings:
    name: str
    seed: int
    out_dir: str


@dataclass(frozen=True)
class NetworkSettings:
    """Everything of a NetworkSpec but the input and output sizes (those come from a task)."""

    hidden: tuple[int, ...]
    states: int
    hidden_activation: Any
    output_activation: Any
    backward_activation: Any
    tied: bool
    shared_states: bool
    feedback: str
    backward: str
    normalization: bool
    oja: bool
    read_normalization: bool
    init_scale: float
    dtype: str

    def spec(self, n_inputs: int, n_outputs: int) -> NetworkSpec:
        """The network for a task with these input and output sizes."""
        return NetworkSpec(
            layer_sizes=(n_inputs, *self.hidden, n_outputs), states=self.states,
            tied=self.tied, shared_states=self.shared_states, feedback=self.feedback,
            backward=self.backward, normalization=self.normalization, oja=self.oja,
            read_normalization=self.read_normalization,
            hidden_activation=_tuple_if_list(self.hidden_activation),
            output_activation=_tuple_if_list(self.output_activation),
            backward_activation=_tuple_if_list(self.backward_activation),
            init_scale=self.init_scale, dtype=self.dtype,
        )


@dataclass(frozen=True)
class GenomeSettings:
    initial: str
    evolve: tuple[str, ...]
    bounds: tuple[float, float] | None
    rate: float | None
    random_seed: int
    random_scale: float


@dataclass(frozen=True)
class TaskSettings:
    train: tuple[Any, ...]  # TaskSpec
    validate: tuple[Any, ...]
    data_dir: str | None


@dataclass(frozen=True)
class UnrollSettings:
    steps: int
    batch: int
    eval_batches: int | None  # None: the whole test split
    replicas: int


@dataclass(frozen=True)
class FitnessSettings:
    metric: str
    average: str
    loss_cap: float


@dataclass(frozen=True)
class CmaesSettings:
    popsize: int | None
    sigma0: float
    max_generations: int
    max_evaluations: int | None
    time_budget: float | None
    target_fitness: float | None
    restarts: str
    max_restarts: int
    incpopsize: float


@dataclass(frozen=True)
class ParallelSettings:
    backend: str
    workers: int
    chunks_per_worker: int
    scheduler: str | None = None
    cluster: str = "local"
    queue: str | None = None
    account: str | None = None
    cores: int = 1
    memory: str = "4GB"
    walltime: str = "01:00:00"
    jobs: int = 1
    job_extra_directives: tuple[str, ...] = ()
    job_script_prologue: tuple[str, ...] = ()
    interface: str | None = None

    @property
    def n_workers(self) -> int:
        """Workers actually used (0 means all cores; serial means 1; slurm: jobs x cores)."""
        if self.backend == "serial":
            return 1
        if self.workers:
            return self.workers
        if self.backend == "dask" and self.scheduler is None and self.cluster == "slurm":
            return self.jobs * self.cores
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ReportSettings:
    validate_every: int
    validate_seeds: int


@dataclass(frozen=True)
class Config:
    """A validated run configuration; ``source`` is where it came from (for messages)."""

    run: RunSettings
    network: NetworkSettings
    genome: GenomeSettings
    tasks: TaskSettings
    unroll: UnrollSettings
    fitness: FitnessSettings
    cmaes: CmaesSettings
    parallel: ParallelSettings
    report: ReportSettings
    source: str = field(default="<config>", compare=False)

    def to_toml(self) -> str:
        """The resolved config as TOML text (every key, defaults included)."""
        return dump_toml(self.to_dict())

    def to_dict(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for section, keys in SCHEMA.items():
            settings = getattr(self, section)
            table = {}
            for key in keys:
                value = _to_plain(getattr(settings, key.name), key)
                if value is not None:
                    table[key.name] = value
            out[section] = table
        return out


_SECTION_TYPES = {
    "run": RunSettings, "network": NetworkSettings, "genome": GenomeSettings,
    "tasks": TaskSettings, "unroll": UnrollSettings, "fitness": FitnessSettings,
    "cmaes": CmaesSettings, "parallel": ParallelSettings, "report": ReportSettings,
}


# ---- loading ---------------------------------------------------------------------------

def load_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, override (``section.key=value`` strings) and validate a config file."""
    path = Path(path)
    try:
        text = path.read_text()
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
    if section not in SCHEMA:
        raise ConfigError(f"--set {override!r}: unknown section [{section}]; "
                          f"allowed: {', '.join(SCHEMA)}")
    table = raw.setdefault(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{section}] must be a table")
    table[key] = value
    return f"{section}.{key}"


def validate(raw: dict[str, Any], source: str = "<config>", default_name: str = "run",
             overridden: set[str] | frozenset[str] = frozenset()) -> Config:
    """Check every section and key of a parsed TOML dict and build a :class:`Config`."""
    unknown = sorted(set(raw) - set(SCHEMA))
    if unknown:
        raise ConfigError(f"{source}: unknown section [{unknown[0]}]; "
                          f"allowed: {', '.join(SCHEMA)}")
    sections = {}
    for section, keys in SCHEMA.items():
        table = raw.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: {section} must be a table [{section}], "
                              f"got {table!r}")
        names = {key.name for key in keys}
        extra = sorted(set(table) - names)
        if extra:
            origin = "--set" if f"{section}.{extra[0]}" in overridden else source
            raise ConfigError(f"{origin}: unknown key {section}.{extra[0]} = "
                              f"{table[extra[0]]!r}; allowed in [{section}]: "
                              f"{', '.join(sorted(names))}")
        values = {}
        for key in keys:
            dotted = f"{section}.{key.name}"
            where = f"--set {dotted}" if dotted in overridden else f"{source}: {dotted}"
            if key.name in table:
                values[key.name] = _check(key, table[key.name], where)
            elif key.required:
                raise ConfigError(f"{where} is required ({key.doc})")
            else:
                values[key.name] = _check(key, key.default, where) if key.default is not None \
                    else None
        sections[section] = values
    if sections["run"]["name"] is None:
        sections["run"]["name"] = _check(SCHEMA["run"][0], default_name, f"{source}: run.name")
    config = Config(**{name: _SECTION_TYPES[name](**values)
                       for name, values in sections.items()}, source=source)
    _cross_checks(config, source)
    return config


def _cross_checks(config: Config, source: str) -> None:
    try:
        config.network.spec(1, 1)
    except NetworkError as err:
        raise ConfigError(f"{source}: [network] {err}") from None
    genome = config.genome
    if genome.initial == "backprop" and config.network.states != 2:
        raise ConfigError(f"{source}: genome.initial = \"backprop\" needs network.states = 2, "
                          f"got {config.network.states}")
    if genome.bounds is not None and genome.bounds[0] >= genome.bounds[1]:
        raise ConfigError(f"{source}: genome.bounds = {list(genome.bounds)}: low must be "
                          "below high")
    if not genome.evolve:
        raise ConfigError(f"{source}: genome.evolve = []: evolve at least one slot; allowed: "
                          f"{', '.join(SLOT_NAMES)}")
    parallel = config.parallel
    if parallel.scheduler is not None and parallel.cluster == "slurm":
        raise ConfigError(f"{source}: parallel.scheduler = {parallel.scheduler!r} and "
                          "parallel.cluster = \"slurm\": give one (a running scheduler, or "
                          "a cluster for blgnn-es to start)")


# ---- value checks ----------------------------------------------------------------------

def _problem(where: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"{where} = {value!r} is not allowed; allowed: {allowed}")


def _range_text(key: Key, noun: str) -> str:
    if key.low is not None and key.high is not None:
        return f"{noun} from {_num(key.low)} to {_num(key.high)}"
    if key.low is not None:
        strict = key.kind in ("float", "duration") and key.low == 0.0
        return f"{noun} {'>' if strict else '>='} {_num(key.low)}"
    return noun


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _check_int(key: Key, value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _problem(where, value, _range_text(key, "an integer"))
    if (key.low is not None and value < key.low) or (key.high is not None and value > key.high):
        raise _problem(where, value, _range_text(key, "an integer"))
    return value


def _check_float(key: Key, value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _problem(where, value, _range_text(key, "a finite number"))
    value = float(value)
    too_low = key.low is not None and (value <= key.low if key.low == 0.0 and key.kind in
                                       ("float", "duration") else value < key.low)
    if too_low or (key.high is not None and value > key.high):
        raise _problem(where, value, _range_text(key, "a number"))
    return value


def _check(key: Key, value: Any, where: str) -> Any:
    kind = key.kind
    if kind == "int":
        return _check_int(key, value, where)
    if kind == "float":
        return _check_float(key, value, where)
    if kind == "bool":
        if not isinstance(value, bool):
            raise _problem(where, value, "true or false")
        return value
    if kind in ("str", "name"):
        if not isinstance(value, str) or not value.strip():
            raise _problem(where, value, "a non-empty string")
        if kind == "name" and not re.fullmatch(r"[A-Za-z0-9._-]+", value):
            raise _problem(where, value, "letters, digits, '.', '_' and '-' (it names a folder)")
        return value
    if kind == "choice":
        if value not in key.choices:
            raise _problem(where, value, ", ".join(key.choices))
        return value
    if kind == "int_list":
        if not isinstance(value, list):
            raise _problem(where, value, "a list of integers >= 1, for example [512]")
        return tuple(_check_int(key, item, where) for item in value)
    if kind == "str_list":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise _problem(where, value, "a list of strings")
        return tuple(value)
    if kind == "address":
        if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
            raise _problem(where, value, "a dask scheduler address such as "
                                         "\"tcp://10.0.0.5:8786\"")
        return value
    if kind == "slot_list":
        if not isinstance(value, list) or any(item not in key.choices for item in value):
            raise _problem(where, value, "a list of slot names from " + ", ".join(key.choices))
        return tuple(dict.fromkeys(value))
    if kind == "activation":
        return _check_activation(key, value, where)
    if kind == "initial":
        return _check_initial(value, where)
    if kind == "bounds":
        ok = (isinstance(value, list) and len(value) == 2
              and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value))
        if not ok:
            raise _problem(where, value, "[low, high], two numbers")
        return (float(value[0]), float(value[1]))
    if kind == "int_or_all":
        if value == "all":
            return None
        return _check_int(key, value, where)
    if kind == "duration":
        return _check_duration(key, value, where)
    if kind == "task_list":
        return _check_tasks(value, where)
    raise AssertionError(f"unknown key kind {kind}")


def _check_activation(key: Key, value: Any, where: str) -> Any:
    allowed = f"one of {', '.join(key.choices)}, or a list of them (one per state)"
    if isinstance(value, str) and value in key.choices:
        return value
    if isinstance(value, list) and value and all(item in key.choices for item in value):
        return tuple(value)
    raise _problem(where, value, allowed)


def _check_initial(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _problem(where, value, f"{', '.join(GENOME_PRESETS)}, or a path to a .npy file")
    if value in GENOME_PRESETS:
        return value
    path = Path(value).expanduser()
    if path.suffix != ".npy":
        raise _problem(where, value, f"{', '.join(GENOME_PRESETS)}, or a path to a .npy file")
    if not path.is_file():
        raise ConfigError(f"{where} = {value!r}: no such file (relative paths are read from "
                          f"the current directory, {Path.cwd()})")
    return str(path.resolve())


_ADDRESS = re.compile(r"(tcp|tls)://[^\s/:]+:[0-9]{1,5}")
_DURATION = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*(s|m|h|d)?\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def _check_duration(key: Key, value: Any, where: str) -> float:
    allowed = "seconds > 0, or a string such as \"90s\", \"30m\", \"2h\""
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if not match:
            raise _problem(where, value, allowed)
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise _problem(where, value, allowed)
    if not math.isfinite(seconds) or seconds <= 0:
        raise _problem(where, value, allowed)
    return seconds


def _check_tasks(value: Any, where: str) -> tuple[Any, ...]:
    from blgnn_es.tasks.spec import parse_task_spec

    if not isinstance(value, list):
        raise _problem(where, value, "a list of task specs, for example [\"xor\", "
                                     "\"mnist:resolution=14\"]")
    specs = []
    for item in value:
        try:
            specs.append(parse_task_spec(item))
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
    return tuple(specs)


# ---- writing ---------------------------------------------------------------------------

def _tuple_if_list(value: Any) -> Any:
    return tuple(value) if isinstance(value, list | tuple) else value


def _to_plain(value: Any, key: Key) -> Any:
    if value is None:
        return "all" if key.kind == "int_or_all" else None
    if key.kind == "task_list":
        return [str(spec) for spec in value]
    if isinstance(value, tuple):
        return list(value)
    return value


def dump_toml(data: dict[str, dict[str, Any]]) -> str:
    """Tables of scalars and flat lists as TOML (all this config ever holds)."""
    lines = []
    for section, table in data.items():
        lines.append(f"[{section}]")
        for key, value in table.items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def reference_markdown() -> str:
    """The key reference (section, key, default, meaning) as a Markdown table per section."""
    out = []
    for section, keys in SCHEMA.items():
        out.append(f"### [{section}]\n")
        out.append("| key | default | meaning |")
        out.append("|---|---|---|")
        for key in keys:
            if key.required:
                default = "*required*"
            elif key.default is None:
                default = "—"
            else:
                default = "`" + _toml_value(key.default) + "`"
            allowed = f" Allowed: {', '.join(key.choices)}." if key.kind in (
                "choice", "activation") else ""
            if key.kind == "slot_list":
                default = "all slots"
            out.append(f"| `{key.name}` | {default} | {key.doc}.{allowed} |")
        out.append("")
    return "\n".join(out)
