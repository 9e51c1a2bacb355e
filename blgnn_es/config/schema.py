"""What the config models have in common: value types, error messages, reference text.

Each setting is declared once, as a pydantic field (type, default, range, ``description``);
this module reads those declarations back to say what a bad value should have been, and
to write the key reference (docs/config.md). Field metadata it understands: pydantic's
``ge``/``gt``/``le``/``lt`` and ``Literal`` choices, plus two ``json_schema_extra`` keys
for types whose rule a name cannot say: ``allowed`` (the "allowed: ..." text) and
``type`` (the type column of the reference).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Collection, Mapping
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    StrictStr,
)
from pydantic import StrictFloat as _StrictFloat
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError, ValidationError

from blgnn_es.errors import ConfigError
from blgnn_es.tables import markdown_table

__all__ = [
    "Address", "EvalBatches", "Finite", "Name", "NonEmpty", "StrictBool", "StrictInt", "StrictStr",
    "describe", "first_problem", "not_allowed", "reference_table",
]

Finite = Annotated[_StrictFloat, Field(allow_inf_nan=False)]
"""A finite number; ints become floats (as ``float(value)`` did), bools are refused."""


def not_allowed() -> PydanticCustomError:
    """The plain "value is not allowed" error: the message then says what is allowed."""
    return PydanticCustomError("not_allowed", "not allowed")


def _non_empty(value: str) -> str:
    if not value.strip():
        raise not_allowed()
    return value


def _folder_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]+", value):
        raise not_allowed()
    return value


_ADDRESS = re.compile(r"(tcp|tls)://[^\s/:]+:[0-9]{1,5}")


def _address(value: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise not_allowed()
    return value


def _all_is_none(value: Any) -> Any:
    return None if value == "all" else value


NonEmpty = Annotated[StrictStr, AfterValidator(_non_empty)]
EvalBatches = Annotated[Annotated[StrictInt, Field(ge=1)] | None, BeforeValidator(_all_is_none),
                        PlainSerializer(lambda n: "all" if n is None else n, when_used="json")]
"""A count of batches, or "all" (stored as None: the whole test split)."""
EVAL_BATCHES_EXTRA = {"allowed": 'an integer >= 1, or "all"', "type": 'integer or "all"'}
Name = Annotated[StrictStr, AfterValidator(_folder_name)]
Address = Annotated[StrictStr, AfterValidator(_address)]

NAME_ALLOWED = "letters, digits, '.', '_' and '-' (it names a folder)"
ADDRESS_ALLOWED = 'a dask scheduler address such as "tcp://10.0.0.5:8786"'


# ---- reading declarations back ---------------------------------------------------------

def _strip(annotation: Any) -> tuple[Any, bool]:
    """(the annotation without Annotated and None, whether None is allowed)."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        inner, _ = _strip(args[0]) if len(args) == 1 else (annotation, False)
        return inner, len(args) < len(typing.get_args(annotation))
    return annotation, False


def _limits(field: FieldInfo) -> dict[str, float]:
    out = {}
    for item in field.metadata:
        for name in ("ge", "gt", "le", "lt"):
            if isinstance(item, getattr(annotated_types, name.capitalize())):
                out[name] = getattr(item, name)
    return out


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _range(field: FieldInfo) -> str:
    lim = _limits(field)
    if "ge" in lim and "le" in lim:
        return f" from {_num(lim['ge'])} to {_num(lim['le'])}"
    words = [f"{op} {_num(lim[name])}" for name, op in
             (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")) if name in lim]
    return " " + " and ".join(words) if words else ""


def _extra(field: FieldInfo, key: str) -> str | None:
    extra = field.json_schema_extra
    return extra.get(key) if isinstance(extra, Mapping) else None


def describe(field: FieldInfo) -> tuple[str, str]:
    """(type, allowed values) of a declared setting, in words."""
    annotation, _ = _strip(field.annotation)
    origin = typing.get_origin(annotation)
    if origin is Literal:
        kind, allowed = "string", ", ".join(map(str, typing.get_args(annotation)))
    elif annotation is bool:
        kind, allowed = "boolean", "true or false"
    elif annotation is int:
        kind, allowed = "integer", "an integer" + _range(field)
    elif annotation is float:
        kind, allowed = "number", "a number" + _range(field)
    elif annotation is str:
        kind, allowed = "string", "a non-empty string"
    elif origin in (tuple, list):
        kind, allowed = "list", "a list"
    elif origin in (dict, Mapping) or (isinstance(annotation, type)
                                       and issubclass(annotation, BaseModel | Mapping)):
        kind, allowed = "table", "a table"
    else:
        kind, allowed = "value", "see the meaning"
    return _extra(field, "type") or kind, _extra(field, "allowed") or allowed


def default_text(field: FieldInfo) -> str:
    """The default as TOML would spell it ("—" when absent, *required* when it must be given)."""
    if field.is_required():
        return "*required*"
    given = _extra(field, "default")
    if given is not None:
        return given
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "—"
    return "`" + _toml_scalar(value) + "`"


def _toml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_scalar(v) for v in value) + "]"
    if isinstance(value, BaseModel):
        return "{...}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_toml_scalar(v)}" for k, v in value.items()) + "}"
    return str(value)


def reference_table(section: str, model: type[BaseModel]) -> str:
    """One section's keys as a Markdown table: key, type, default, allowed, meaning."""
    rows = []
    for name, field in model.model_fields.items():
        kind, allowed = describe(field)
        rows.append([f"`{name}`", kind, default_text(field), allowed.replace("|", "\\|"),
                     (field.description or "").replace("|", "\\|")])
    table = markdown_table(["key", "type", "default", "allowed", "meaning"], rows)
    return f"### [{section}]\n\n{table}\n"


# ---- turning a ValidationError into one ConfigError line ---------------------------------

def _field_at(model: type[BaseModel], loc: tuple[Any, ...]) -> FieldInfo | None:
    """The declaration a ``(section, key)`` error location points to."""
    field = None
    for part in loc:
        if not isinstance(part, str) or part not in model.model_fields:
            return field
        field = model.model_fields[part]
        inner, _ = _strip(field.annotation)
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return field
        model = inner
    return field


def _value_at(raw: Mapping[str, Any], loc: tuple[Any, ...], fallback: Any) -> Any:
    value: Any = raw
    for part in loc:
        if not isinstance(value, Mapping) or part not in value:
            return fallback
        value = value[part]
    return value


def first_problem(err: ValidationError, model: type[BaseModel], raw: Mapping[str, Any],
                  source: str, overridden: Collection[str] = (), depth: int = 2) -> ConfigError:
    """The first problem of ``err`` as a ConfigError: where (the file and the dotted key, or
    ``--set key`` for an override), the value, and what is allowed there. Unknown sections
    and keys come first (usually a typo that also explains the other errors). ``depth``:
    how many location parts name a key (2: section.key)."""
    problems = err.errors(include_url=False)
    problems.sort(key=lambda p: p["type"] != "extra_forbidden")
    problem = problems[0]
    loc = tuple(part for part in problem["loc"] if isinstance(part, str))[:depth]
    dotted = ".".join(loc)
    origin = "--set" if dotted in overridden else source

    def where(key: str) -> str:
        return f"--set {key}" if key in overridden else f"{source}: {key}"

    cause = problem.get("ctx", {}).get("error")
    reason = str(cause) if isinstance(cause, ValueError) else None
    value = _value_at(raw, loc, problem.get("input"))
    if problem["type"] == "extra_forbidden":
        if len(loc) == 1 and depth > 1:
            return ConfigError(f"{source}: unknown section [{dotted}]; "
                               f"allowed: {', '.join(model.model_fields)}")
        parent = model if len(loc) == 1 else _section_model(model, loc[:-1])
        names = ", ".join(sorted(parent.model_fields)) if parent is not None else ""
        scope = f" in [{loc[0]}]" if len(loc) > 1 else ""
        return ConfigError(f"{origin}: unknown key {dotted} = {value!r}; allowed{scope}: "
                           f"{names}")
    field = _field_at(model, loc)
    if field is None:
        return ConfigError(f"{source}: {reason or problem['msg']}")
    if problem["type"] == "missing":
        return ConfigError(f"{where(dotted)} is required ({field.description})")
    if len(loc) < depth and _section_model(model, loc) is not None:
        if problem["type"] in ("model_type", "dict_type"):
            return ConfigError(f"{source}: {dotted} must be a table [{dotted}], got {value!r}")
        return ConfigError(f"{source}: {reason or problem['msg']}")
    if reason:
        return ConfigError(f"{where(dotted)} = {value!r}: {reason}")
    return ConfigError(f"{where(dotted)} = {value!r} is not allowed; "
                       f"allowed: {describe(field)[1]}")


def _section_model(model: type[BaseModel], loc: tuple[str, ...]) -> type[BaseModel] | None:
    field = _field_at(model, loc)
    if field is None:
        return None
    inner, _ = _strip(field.annotation)
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None
