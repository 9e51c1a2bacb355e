"""The genome sidecar (``name.json`` next to ``name.npy``) and the base of every record.

:class:`Record` is the one way a file blgnn-es writes is declared: a pydantic model with a
schema version, written by ``to_dict`` and read by ``from_dict``. Files of the previous
release carry no ``schema_version`` and read as version 1; a version this release does not
know is refused in one line. It lives here, at the bottom of the package, because the
genome layer writes sidecars and the CMA-ES layer (es/records.py) builds on it.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    model_serializer,
    model_validator,
)

from blgnn_es.errors import BlgnnError
from blgnn_es.tasks.task import TWO_CLASS_CODINGS

SIDECAR_FORMAT = "blgnn-es genome"

Count = Annotated[StrictInt, Field(ge=1)]  # steps, batches: a whole number >= 1


class RecordError(BlgnnError):
    """A run or genome file this release cannot read (unknown version, wrong fields)."""


def check_version(version: Any, reads: tuple[int, ...], source: str) -> None:
    """Refuse a schema version this release cannot read, naming the file and the known ones."""
    if version not in reads:
        known = ", ".join(str(v) for v in reads)
        raise RecordError(f"{source}: schema_version {version!r} is not one this release of "
                          f"blgnn-es reads ({known}); use the release that wrote it")


class Record(BaseModel):
    """Base of the records: versioned, strict about keys, dumped as plain JSON-ready dicts.

    ``OMIT_IF_NONE`` names optional parts left out of the file when absent (as the previous
    release did) rather than written as null.
    """

    model_config = ConfigDict(extra="forbid")

    SCHEMA_VERSION: ClassVar[int] = 1
    READS: ClassVar[tuple[int, ...]] = (1,)
    VERSION_IN_FILE: ClassVar[bool] = True
    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for key in self.OMIT_IF_NONE:
            if key in data and data[key] is None:
                del data[key]
        return data

    def to_dict(self) -> dict[str, Any]:
        """The record as written to its file (schema_version first where it is written)."""
        data = self.model_dump()
        if self.VERSION_IN_FILE:
            data = {"schema_version": self.SCHEMA_VERSION, **data}
        return data

    @classmethod
    def from_dict(cls, data: Any, source: str = "<record>") -> Any:
        """Validate a record read from ``source``; unversioned (legacy) files are version 1."""
        if not isinstance(data, dict):
            raise RecordError(f"{source}: expected a JSON object for a {cls.__name__}, got "
                              f"{type(data).__name__}")
        data = dict(data)
        version = data.pop("schema_version", 1)
        check_version(version, cls.READS, source)
        try:
            return cls.model_validate(cls.upgrade(data, version))
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}"
                                 for e in err.errors()[:3])
            raise RecordError(f"{source}: not a valid {cls.__name__} ({problems})") from None

    @classmethod
    def upgrade(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        """Bring an older version's fields up to date (version 1 is the current one)."""
        return data


class SlotPlace(Record):
    """Where one named slot sits in the flat vector."""

    VERSION_IN_FILE: ClassVar[bool] = False

    name: str
    offset: int
    shape: list[int]


class UnrollProvenance(Record):
    """The unroll a genome was evolved with (evaluate's defaults)."""

    model_config = ConfigDict(extra="allow")
    VERSION_IN_FILE: ClassVar[bool] = False
    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ("steps", "batch", "eval_batches")

    steps: Count | None = None
    batch: Count | None = None
    eval_batches: Count | Literal["all"] | None = None  # None: not recorded

    @model_validator(mode="before")
    @classmethod
    def _null_means_all(cls, data: Any) -> Any:
        """The previous release wrote the whole test split as ``null``, not ``"all"``."""
        if isinstance(data, dict) and "eval_batches" in data and data["eval_batches"] is None:
            return {**data, "eval_batches": "all"}
        return data


class Provenance(Record):
    """Where a genome came from: an evolution run (run ... found_at_generation) or a preset
    (preset and its settings). Open to further keys: users write sidecars by hand."""

    model_config = ConfigDict(extra="allow")
    VERSION_IN_FILE: ClassVar[bool] = False
    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = (
        "run", "generation", "tasks", "unroll", "hidden", "kind", "fitness",
        "found_at_generation", "preset", "learning_rate", "states", "seed", "scale", "rate",
        "inputs", "two_class", "train_classes", "architectures")

    run: str | None = None
    generation: int | None = None
    tasks: list[str] | None = None
    unroll: UnrollProvenance | None = None
    hidden: list[Count] | None = None  # the first (evaluate's default) of ``architectures``
    architectures: list[list[Count]] | None = None  # every architecture, when several
    kind: str | None = None  # "best" or "distribution mean"
    fitness: float | None = None
    found_at_generation: int | None = None
    preset: str | None = None
    learning_rate: float | None = None
    states: int | None = None
    seed: int | None = None
    scale: float | None = None
    rate: float | None = None
    inputs: dict[str, str] | None = None  # absolute path -> sha256 of the files a run read
    two_class: Literal[TWO_CLASS_CODINGS] | None = None  # the run's two-class output coding
    train_classes: list[int | None] | None = None  # classes of each train task (None: unknown)


class GenomeSidecar(Record):
    """The JSON next to a genome: k, the layout, the network and where the genome came from."""

    format: Literal["blgnn-es genome"] = SIDECAR_FORMAT
    states: int
    length: int
    layout: list[SlotPlace]
    network: dict[str, Any] = {}  # NetworkSpec.to_dict() of the evolved network
    provenance: Provenance = Provenance()
    slots: dict[str, float | list[list[float]]]

    @property
    def hidden(self) -> list[int] | None:
        """Hidden layer sizes: the provenance's, else the network's inner layer sizes."""
        if self.provenance.hidden:
            return list(self.provenance.hidden)
        sizes = self.network.get("layer_sizes")
        return list(sizes[1:-1]) if sizes and len(sizes) > 2 else None
