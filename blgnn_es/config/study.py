"""Study configs (SPEC R4, R5): genomes x tasks x architectures x step budgets.

One pydantic model per section (``[study]``, ``[genomes]``, ``[grid]``, ``[baselines]``)
declares each key once; :func:`parse_study` validates a file against them and resolves it
into :class:`StudySettings` (genome paths found, budgets sorted, "genome" and "all" turned
into None), the flat record the study runner reads.

>>> settings = parse_study('[genomes]\\nbp = "bp.npy"\\n[grid]\\ntasks = ["xor"]\\n'
...                        'layers = [[8]]\\nsteps = [1, 5]\\n', source="s.toml")
>>> settings.budgets, settings.genomes[0].label, settings.baselines.optimizers
((1, 5), 'bp', ('sgd', 'momentum', 'adam', 'fa'))
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from blgnn_es.config.baselines import BaselineOptions, BaselineSettings, DrawOptions, SeedOptions
from blgnn_es.config.schema import NonEmpty, StrictInt, StrictStr, first_problem, not_allowed
from blgnn_es.errors import ConfigError
from blgnn_es.tasks.spec import parse_task_spec
from blgnn_es.tasks.task import TWO_CLASS_CODINGS

_FROZEN = ConfigDict(extra="forbid", frozen=True)
_STUDY_NAME = re.compile(r"[\w.+-]+")


def _study_name(value: str) -> str:
    if not _STUDY_NAME.fullmatch(value):
        raise not_allowed()
    return value


def _task_specs(tasks: tuple[str, ...]) -> tuple[str, ...]:
    for task in tasks:
        try:
            parse_task_spec(task)
        except ConfigError as err:
            raise ValueError(f"task specs ({err})") from None
    return tasks


def _architectures(value: Any) -> Any:
    """ "genome" (the sizes the genome was evolved with) -> None."""
    if isinstance(value, list | tuple):
        return tuple(None if entry == "genome" else entry for entry in value)
    return value


def _genome_entries(value: Any) -> Any:
    """A list of paths -> a table labelled by file stem."""
    if isinstance(value, list | tuple) and all(isinstance(p, str) for p in value):
        return {Path(p).stem: p for p in value}
    return value


Sizes = Annotated[tuple[Annotated[StrictInt, Field(ge=1)], ...], Field(min_length=1)]


class StudyOptions(SeedOptions):
    """[study]: the output's name and place, and the seeds of every cell."""

    name: Annotated[StrictStr, AfterValidator(_study_name)] | None = Field(
        None, description="output folder name: <out_dir>/<name> (default: the config file's "
        "stem)", json_schema_extra={"allowed": "letters, digits, '_', '-', '.', '+'",
                                    "type": "string"})
    out_dir: NonEmpty = Field("runs/studies", description="folder that holds study outputs")


class GridOptions(DrawOptions):
    """[grid]: the tasks, architectures and step budgets every genome is run on."""

    tasks: Annotated[tuple[StrictStr, ...], Field(min_length=1),
                     AfterValidator(_task_specs)] = Field(
        description="task specs", json_schema_extra={"allowed": "a non-empty list of task specs"})
    layers: Annotated[tuple[Sizes | None, ...], BeforeValidator(_architectures),
                      Field(min_length=1)] = Field(
        (None,), description="hidden sizes per architecture: lists such as [512] or "
        '[256, 128], or "genome" for the sizes the genome was evolved with',
        json_schema_extra={"allowed": 'lists of sizes >= 1 such as [512], or "genome"',
                           "default": '`["genome"]`'})
    steps: Annotated[tuple[Annotated[StrictInt, Field(ge=1)], ...], Field(min_length=1)] = Field(
        (1, 5, 10, 20, 50, 100), description="step budgets reported; the unroll runs to the "
        "largest", json_schema_extra={"allowed": "a list of step counts >= 1"})
    data_dir: NonEmpty | None = Field(None, description="where MNIST-like data lives (else "
                                      "$BLGNN_ES_DATA, ~/.cache/blgnn-es, /usr/share/datasets)")
    two_class: Literal[TWO_CLASS_CODINGS] | None = Field(
        None, description="outputs of a two-class task: sign (one) or argmax (two); default: "
        "each genome's own coding, argmax for a genome evolved only on tasks of 3+ classes",
        json_schema_extra={"allowed": "sign or argmax", "default": "per genome"})


GENOMES_DESCRIPTION = ('genomes to study: label = "path.npy" (a table), or a list of paths '
                       "(labelled by file stem); relative paths are read from the current "
                       "directory, else from the config file's")


class StudyFile(BaseModel):
    """A whole study config file, section by section."""

    model_config = _FROZEN

    study: StudyOptions = Field(default_factory=StudyOptions)
    genomes: Annotated[dict[str, StrictStr], BeforeValidator(_genome_entries),
                       Field(min_length=1)] = Field(
        description=GENOMES_DESCRIPTION,
        json_schema_extra={"allowed": 'a table label = "path.npy" or a list of paths'})
    grid: GridOptions
    baselines: BaselineOptions = Field(default_factory=BaselineOptions)


@dataclass(frozen=True)
class StudyGenome:
    label: str
    path: Path


@dataclass(frozen=True)
class StudySettings:
    """A validated study, resolved for the runner (a dataclass: the CLI replaces fields)."""

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
    two_class: str | None = None  # None: each genome's default (evaluation.default_two_class)


STUDY_SECTIONS = tuple(StudyFile.model_fields)


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
    data = dict(raw)
    study = data.get("study", {})
    if isinstance(study, dict) and "name" not in study:
        data["study"] = {**study, "name": re.sub(r"[^\w.+-]+", "", Path(source).stem) or "study"}
    data.setdefault("grid", {})
    try:
        parsed = StudyFile.model_validate(data)
    except ValidationError as err:
        raise first_problem(err, StudyFile, data, source) from None
    grid = parsed.grid
    return StudySettings(
        name=str(parsed.study.name),
        out_dir=Path(parsed.study.out_dir),
        seed=parsed.study.seed,
        seeds=parsed.study.seeds,
        genomes=tuple(_resolve(label, path, base) for label, path in parsed.genomes.items()),
        tasks=grid.tasks,
        layers=grid.layers,
        budgets=tuple(sorted(set(grid.steps))),
        batch=grid.batch,
        eval_batches=grid.eval_batches,
        data_dir=grid.data_dir,
        baselines=BaselineSettings(**parsed.baselines.model_dump()),
        two_class=grid.two_class,
    )


def _resolve(label: str, path: str, base: Path | None) -> StudyGenome:
    """Relative to the current directory, else to the config file's (when that exists)."""
    resolved = Path(path)
    if not resolved.is_absolute() and not resolved.exists() and base is not None:
        resolved = base / path
    return StudyGenome(label, resolved if resolved.exists() else Path(path))
