"""Study configs (SPEC R4, R5): genomes x tasks x architectures x step budgets.

>>> settings = parse_study('[genomes]\\nbp = "bp.npy"\\n[grid]\\ntasks = ["xor"]\\n'
...                        'layers = [[8]]\\nsteps = [1, 5]\\n', source="s.toml")
>>> settings.budgets, settings.genomes[0].label, settings.baselines.optimizers
((1, 5), 'bp', ('sgd', 'momentum', 'adam'))
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blgnn_es.baselines.comparison import BaselineSettings
from blgnn_es.baselines.gradient import default_rates
from blgnn_es.errors import ConfigError

# section -> key -> (default, meaning); None: absent (the meaning says what absent does)
STUDY_KEYS: dict[str, dict[str, tuple[Any, str]]] = {
    "study": {
        "name": (None, "output folder name: <out_dir>/<name> (default: the config file's stem)"),
        "out_dir": ("runs/studies", "folder that holds study outputs"),
        "seed": (0, "base seed of every task, synapse, batch and validation draw"),
        "seeds": (5, "fresh networks per cell (mean ± std over them)"),
    },
    "genomes": {},  # label = "path.npy" (a table), or a list of paths (label: file stem)
    "grid": {
        "tasks": (None, "task specs (required)"),
        "layers": (
            ["genome"],
            "hidden sizes per architecture: lists such as [512] or "
            '[256, 128], or "genome" for the sizes the genome was evolved with',
        ),
        "steps": ([1, 5, 10, 20, 50, 100], "step budgets reported; the unroll runs to the largest"),
        "batch": (128, "examples per learning step and per evaluation batch"),
        "eval_batches": (20, 'test batches per evaluation, or "all" for the test split'),
        "data_dir": (None, "where MNIST-like data lives (else $BLGNN_ES_DATA, ...)"),
    },
    "baselines": {
        "optimizers": (["sgd", "momentum", "adam"], "baselines: sgd, momentum, adam"),
        "rates": (
            {"low": 1e-4, "high": 1.0, "count": 13},
            "learning rates: a list, or {low, high, count} log-spaced",
        ),
        "loss": ("ce", "ce (softmax cross-entropy) or mse"),
        "hidden_activation": (
            None,
            "baselines' hidden activation (default: the genome network's state 0)",
        ),
        "output_activation": (None, "mse only: output activation (default: the network's state 0)"),
        "validation_fraction": (
            0.1,
            "share of a stored dataset's training split held out to choose learning rates",
        ),
    },
}


@dataclass(frozen=True)
class StudyGenome:
    label: str
    path: Path


@dataclass(frozen=True)
class StudySettings:
    name: str
    out_dir: Path
    seed: int
    seeds: int
    genomes: tuple[StudyGenome, ...]
    tasks: tuple[str, ...]
    layers: tuple[tuple[int, ...] | None, ...]  # None: the genome's own hidden sizes
    budgets: tuple[int, ...]
    batch: int
    eval_batches: int | None
    data_dir: str | None
    baselines: BaselineSettings


def load_study(path: str | Path) -> StudySettings:
    """Read and validate a study config file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read ({err.strerror})") from None
    return parse_study(text, source=str(path), base=path.parent)


def parse_study(text: str, source: str = "<study>", base: Path | None = None) -> StudySettings:
    """TOML text -> StudySettings; errors name the source, the key and what is allowed."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source}: not valid TOML: {err}") from None

    def fail(key: str, value: Any, allowed: str) -> ConfigError:
        return ConfigError(f"{source}: {key} = {value!r} is not allowed; allowed: {allowed}")

    for section, table in raw.items():
        if section not in STUDY_KEYS:
            raise fail(section, "...", "sections " + ", ".join(STUDY_KEYS))
        if section != "genomes" and isinstance(table, dict):
            for key in table:
                if key not in STUDY_KEYS[section]:
                    raise fail(
                        f"{section}.{key}",
                        table[key],
                        f"keys in [{section}]: {', '.join(STUDY_KEYS[section])}",
                    )

    def get(section: str, key: str) -> Any:
        return raw.get(section, {}).get(key, STUDY_KEYS[section][key][0])

    def positive_int(section: str, key: str, low: int = 1) -> int:
        value = get(section, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise fail(f"{section}.{key}", value, f"an integer >= {low}")
        return value

    genomes = _genomes(raw.get("genomes"), fail, base)
    tasks = get("grid", "tasks")
    if not tasks or not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
        raise fail("grid.tasks", tasks, "a non-empty list of task specs")
    from blgnn_es.tasks import parse_task_spec

    for task in tasks:
        try:
            parse_task_spec(task)
        except Exception as err:
            raise fail("grid.tasks", task, f"task specs ({err})") from None
    layers = []
    for entry in get("grid", "layers") or []:
        if entry == "genome":
            layers.append(None)
        elif (
            isinstance(entry, list)
            and entry
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in entry)
        ):
            layers.append(tuple(entry))
        else:
            raise fail("grid.layers", entry, 'lists of sizes >= 1 such as [512], or "genome"')
    if not layers:
        raise fail("grid.layers", [], "at least one architecture")
    budgets = get("grid", "steps")
    if (
        not isinstance(budgets, list)
        or not budgets
        or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in budgets)
    ):
        raise fail("grid.steps", budgets, "a list of step counts >= 1")
    eval_batches = get("grid", "eval_batches")
    if eval_batches != "all":
        eval_batches = positive_int("grid", "eval_batches")
    data_dir = get("grid", "data_dir")
    name = get("study", "name") or re.sub(r"[^\w.+-]+", "", Path(source).stem) or "study"
    if not re.fullmatch(r"[\w.+-]+", str(name)):
        raise fail("study.name", name, "letters, digits, '_', '-', '.', '+'")
    out_dir = Path(get("study", "out_dir"))
    try:
        baselines = BaselineSettings(
            optimizers=tuple(get("baselines", "optimizers")),
            rates=_rates(get("baselines", "rates"), fail),
            loss=get("baselines", "loss"),
            hidden_activation=get("baselines", "hidden_activation"),
            output_activation=get("baselines", "output_activation"),
            validation_fraction=float(get("baselines", "validation_fraction")),
        )
    except ConfigError as err:
        raise ConfigError(f"{source}: [baselines] {err}") from None
    return StudySettings(
        str(name),
        out_dir,
        positive_int("study", "seed", 0),
        positive_int("study", "seeds"),
        genomes,
        tuple(tasks),
        tuple(layers),
        tuple(sorted(set(budgets))),
        positive_int("grid", "batch"),
        None if eval_batches == "all" else eval_batches,
        None if data_dir is None else str(data_dir),
        baselines,
    )


def _genomes(table: Any, fail, base: Path | None) -> tuple[StudyGenome, ...]:
    if isinstance(table, dict):
        entries = list(table.items())
    elif isinstance(table, list):
        entries = [(Path(str(p)).stem, p) for p in table]
    else:
        raise fail("genomes", table, 'a table label = "path.npy" or a list of paths')
    if not entries or not all(isinstance(p, str) for _, p in entries):
        raise fail("genomes", table, 'at least one genome: label = "path.npy"')
    out = []
    for label, path in entries:
        resolved = Path(path)
        if not resolved.is_absolute() and not resolved.exists() and base is not None:
            resolved = base / path  # relative to the config file when not to the cwd
        out.append(StudyGenome(str(label), resolved if resolved.exists() else Path(path)))
    return tuple(out)


def _rates(value: Any, fail) -> tuple[float, ...]:
    if isinstance(value, dict):
        try:
            return default_rates(
                int(value.get("count", 13)),
                float(value.get("low", 1e-4)),
                float(value.get("high", 1.0)),
            )
        except (TypeError, ValueError):
            raise fail("baselines.rates", value, "{low, high, count}") from None
    if isinstance(value, list) and value and all(isinstance(r, int | float) for r in value):
        return tuple(float(r) for r in value)
    raise fail("baselines.rates", value, "a list of rates or {low, high, count}")
