"""Task specs: `NAME` or `NAME:key=value,...`, or a TOML table, parsed once into a TaskSpec.

One syntax everywhere (CLI, config files, run directories). Values may contain commas
(`classes=0,3,7`): a comma-separated token without `=` continues the previous value, so
`mnist:classes=0,3,7,resolution=14` reads as classes=0,3,7 and resolution=14. For `file`,
the first token is the path: `file:data/my.npz,standardize=true`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError
from .catalog import FAMILIES, Family

__all__ = ["TaskSpec", "parse_task_spec"]


@dataclass(frozen=True, eq=True)
class TaskSpec:
    """A task family and its options, validated, with every default filled in.

    `str(spec)` is the canonical form (only non-default options, in the family's order) and
    parses back to an equal spec; `spec.options` is a read-only mapping of typed values.

    >>> spec = parse_task_spec("mnist:classes=0,3,7,resolution=14")
    >>> str(spec), spec.options["classes"]
    ('mnist:resolution=14,classes=0,3,7', (0, 3, 7))
    """

    name: str
    options: Mapping[str, Any]

    def __post_init__(self) -> None:
        family = _family(self.name)
        object.__setattr__(self, "name", family.name)
        object.__setattr__(self, "options", MappingProxyType(_typed_options(family, self.options)))

    @property
    def family(self) -> Family:
        return FAMILIES[self.name]

    @property
    def n_classes(self) -> int | None:
        """Classes of the task, known without loading it (None: a file task with no class
        subset, whose labels only the file says)."""
        subset = self.options.get("classes") or self.options.get("n_classes")
        if isinstance(subset, int):  # tabular: 0 means drawn from the task seed
            return subset or None
        if subset:
            return len(subset)
        return self.family.n_classes

    @property
    def kind(self) -> str:
        """"toy", "image", "file" or "tabular"."""
        return self.family.kind

    def __str__(self) -> str:
        family = self.family
        parts = []
        for option in family.options:
            value = self.options[option.key]
            if option.key == "path":
                parts.append(option.format(value))
            elif value != option.default:
                parts.append(f"{option.key}={option.format(value)}")
        return f"{self.name}:{','.join(parts)}" if parts else self.name

    def __hash__(self) -> int:
        return hash(str(self))

    def __reduce__(self) -> tuple[Any, ...]:
        # MappingProxyType does not pickle; specs travel to worker processes.
        return (TaskSpec, (self.name, dict(self.options)))

    def to_dict(self) -> dict[str, Any]:
        """The TOML-table form: name plus the non-default options."""
        table: dict[str, Any] = {"name": self.name}
        for option in self.family.options:
            value = self.options[option.key]
            if value != option.default:
                table[option.key] = option.format(value) if option.kind == "classes" else value
        return table


def parse_task_spec(spec: "str | Mapping[str, Any] | TaskSpec") -> TaskSpec:
    """A TaskSpec from a spec string, a TOML table ({name = "mnist", resolution = 14}) or a
    TaskSpec; ConfigError names the valid families or keys when one is unknown."""
    if isinstance(spec, TaskSpec):
        return spec
    if isinstance(spec, str):
        name, options = _split_string(spec)
        return TaskSpec(name, options)
    if isinstance(spec, Mapping):
        table = dict(spec)
        if "name" not in table:
            raise ConfigError(f"task table {spec!r} has no 'name' key")
        name, options = _split_string(str(table.pop("name")))
        for key, value in table.items():
            if key in options:
                raise ConfigError(f"task option {key!r} given twice in {spec!r}")
            options[key] = value
        return TaskSpec(name, options)
    raise ConfigError(f"a task spec is a string or a table, not {type(spec).__name__}")


def _family(name: str) -> Family:
    family = FAMILIES.get(str(name).strip().lower())
    if family is None:
        raise ConfigError(f"unknown task {name!r}; valid tasks: {', '.join(FAMILIES)}")
    return family


def _split_string(text: str) -> tuple[str, dict[str, str]]:
    name, _, rest = text.strip().partition(":")
    family = _family(name)
    items: list[list[str]] = []
    tokens = rest.split(",") if rest.strip() else []
    if family.kind == "file" and tokens:
        items.append(["path", tokens.pop(0)])
    for token in tokens:
        key, equals, value = token.partition("=")
        if equals:
            items.append([key.strip(), value])
        elif items:
            items[-1][1] += "," + token
        else:
            raise ConfigError(f"task spec {text!r}: {token!r} is not key=value")
    options: dict[str, str] = {}
    for key, value in items:
        if key in options:
            raise ConfigError(f"task spec {text!r}: option {key!r} given twice")
        options[key] = value.strip()
    return family.name, options


def _typed_options(family: Family, given: Mapping[str, Any]) -> dict[str, Any]:
    unknown = [key for key in given if family.option(key) is None]
    if unknown:
        raise ConfigError(
            f"unknown option {unknown[0]!r} for task {family.name!r}; "
            f"valid options: {', '.join(family.option_keys)}"
        )
    typed = {}
    for option in family.options:
        if option.key in given:
            typed[option.key] = option.parse(given[option.key])
        elif option.kind == "path":
            raise ConfigError(f"task {family.name!r} needs a path: {family.name}:PATH")
        else:
            typed[option.key] = option.default
    return typed
