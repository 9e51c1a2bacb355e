"""Task options: how a value written in a spec string or a TOML table becomes a typed value.

Each option knows its default, how to read a value (from text or from a native TOML value)
and how to write it back, so that a spec has one canonical text form.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

__all__ = ["Option", "format_classes", "parse_classes"]

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass(frozen=True)
class Option:
    """One key of a task spec: its kind ("float", "int", "bool", "classes", "path"), range
    and default; `help` is shown by `tasks list`."""

    key: str
    kind: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None

    def parse(self, value: Any) -> Any:
        """The typed value of `value`, or ConfigError saying what is allowed."""
        reader = {
            "float": self._parse_number,
            "int": self._parse_number,
            "bool": self._parse_bool,
            "classes": self._parse_classes,
            "path": self._parse_path,
            "sha256": self._parse_sha256,
        }[self.kind]
        return reader(value)

    def format(self, value: Any) -> str:
        """The canonical text of a typed value (parse(format(v)) == v)."""
        if self.kind == "bool":
            return "true" if value else "false"
        if self.kind == "classes":
            return format_classes(value)
        if self.kind == "float":
            return repr(float(value))
        return str(value)

    def describe_default(self) -> str:
        """The default as a user would write it ('all' for every class, '-' when required)."""
        if self.default is None:
            return "all" if self.kind == "classes" else "-"
        return self.format(self.default)

    def _fail(self, value: Any, wanted: str) -> ConfigError:
        return ConfigError(f"task option {self.key}={value!r}: expected {wanted}")

    def _parse_number(self, value: Any) -> int | float:
        wanted = "an integer" if self.kind == "int" else "a number"
        if self.low is not None or self.high is not None:
            wanted += f" in [{_bound(self.low)}, {_bound(self.high)}]"
        if isinstance(value, bool):
            raise self._fail(value, wanted)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self._fail(value, wanted) from None
        if self.kind == "int":
            if not number.is_integer():
                raise self._fail(value, wanted)
            number = int(number)
        if number != number or (self.low is not None and number < self.low):
            raise self._fail(value, wanted)
        if self.high is not None and number > self.high:
            raise self._fail(value, wanted)
        return number

    def _parse_bool(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise self._fail(value, "true or false")

    def _parse_classes(self, value: Any) -> tuple[int, ...] | None:
        try:
            return parse_classes(value)
        except ValueError as err:
            raise ConfigError(f"task option {self.key}={value!r}: {err}") from None

    def _parse_sha256(self, value: Any) -> str | None:
        if value is None:
            return None
        text = str(value).strip().lower()
        if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
            raise self._fail(value, "64 hexadecimal digits (a sha256)")
        return text

    def _parse_path(self, value: Any) -> str:
        text = str(value).strip()
        if not text:
            raise self._fail(value, "a file path")
        return text


def _bound(value: float | None) -> str:
    if value is None:
        return "..."
    return str(int(value)) if float(value).is_integer() else str(value)


def parse_classes(value: Any) -> tuple[int, ...] | None:
    """A class subset: 'all' (None), '0-4', '0,3,7', '0-2,5', an int list; sorted, distinct.

    >>> parse_classes("0-2,5")
    (0, 1, 2, 5)
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "all":
            return None
        classes: list[int] = []
        for part in text.split(","):
            first, dash, last = part.strip().partition("-")
            if not (first.isdigit() and (not dash or last.strip().isdigit())):
                raise ValueError("expected 'all', a range like 0-4 or a list like 0,3,7")
            low, high = int(first), int(last) if dash else int(first)
            if high < low:
                raise ValueError(f"empty range {part.strip()}")
            classes.extend(range(low, high + 1))
    elif isinstance(value, Sequence) and not isinstance(value, bytes):
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in value):
            raise ValueError("expected non-negative integer class labels")
        classes = list(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        classes = [value]
    else:
        raise ValueError("expected 'all', a range like 0-4 or a list like 0,3,7")
    subset = tuple(sorted(set(classes)))
    if len(subset) < 2:
        raise ValueError("a task needs at least 2 classes")
    return subset


def format_classes(classes: tuple[int, ...] | None) -> str:
    """The shortest text of a class subset: runs of 3 or more become ranges ('0-2,5')."""
    if classes is None:
        return "all"
    parts: list[str] = []
    start = previous = classes[0]
    for label in (*classes[1:], None):
        if label is not None and label == previous + 1:
            previous = label
            continue
        if previous - start >= 2:
            parts.append(f"{start}-{previous}")
        else:
            parts.extend(str(c) for c in range(start, previous + 1))
        if label is not None:
            start = previous = label
    return ",".join(parts)
