"""The records a run writes, each declared once and read back through the same class.

``MetricsLine`` (one line of metrics.jsonl per generation), ``RunResult`` (result.json),
``FinalChoice`` (final.json) and ``RunState`` (the driver's state inside the checkpoint).
Every record carries a schema version; files of the previous release have none and read
as version 1. A metrics line of version 1 is written without the key, so that metrics.jsonl
stays byte-for-byte what the previous release wrote (a later version will write it). An
unknown version is refused with one line naming the file and the versions this release
reads.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import ConfigDict

from blgnn_es.model.sidecar import Record, RecordError, check_version

__all__ = ["Candidate", "FinalChoice", "InitialScores", "MetricsLine", "Record", "RecordError",
           "RunResult", "RunState", "TestScore", "Validation", "check_version"]


# ---- metrics.jsonl ---------------------------------------------------------------------

class Validation(Record):
    """Accuracy of the distribution mean on the validation tasks (fixed draws);
    ``intervals``: per task the 95% t interval over the replicas (absent with one replica,
    and in files of earlier releases)."""

    VERSION_IN_FILE: ClassVar[bool] = False
    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ("intervals",)

    accuracy: float | None
    fitness: float | None
    diverged: int
    tasks: dict[str, float | None]
    intervals: dict[str, tuple[float, float]] | None = None


class InitialScores(Record):
    """The initial genome's scores on generation 0's draws (and on the validation tasks)."""

    VERSION_IN_FILE: ClassVar[bool] = False
    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ("validation",)

    fitness: float
    accuracy: float | None
    validation: Validation | None = None


class MetricsLine(Record):
    """One generation of metrics.jsonl; keys in this order (the order of the file).

    A gradient meta-training run (es/gradient.py) writes one line per Adam step: one genome
    per step (``popsize`` 1, so best = median = worst: its fitness on the step's draws),
    no ``sigma``, and ``loss`` (the meta-loss, null when it was not finite), ``grad_norm``
    (before clipping), ``skipped`` (non-finite steps so far) and ``unrolls`` (so far).
    """

    VERSION_IN_FILE: ClassVar[bool] = False  # version 1 lines carry no key (see module doc)
    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ("initial", "validation", "event", "sigma",
                                               "loss", "grad_norm", "skipped", "unrolls")

    generation: int
    restart: int
    popsize: int
    evaluations: int
    best: float
    median: float
    worst: float
    best_so_far: float
    accuracy_median: float | None
    sigma: float | None = None  # CMA-ES only
    diverged: int
    diverged_genomes: int
    initial: InitialScores | None = None  # generation 0 only
    validation: Validation | None = None  # every report.validate_every and the last
    event: str | None = None  # a pycma stop or a restart
    loss: float | None = None  # gradient meta-training only, from here to unrolls
    grad_norm: float | None = None
    skipped: int | None = None
    unrolls: int | None = None
    seconds: float
    elapsed: float


# ---- result.json -----------------------------------------------------------------------

class RunResult(Record):
    """Why and when a run stopped (result.json)."""

    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ("initial",)

    stop_reason: str | None
    generations: int
    evaluations: int
    restarts: int
    best_fitness: float | None
    best_generation: int
    elapsed_seconds: float
    initial: InitialScores | None = None

    @classmethod
    def upgrade(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        if data.get("initial") == {}:  # a run that never scored its initial genome
            data["initial"] = None
        return data


# ---- final.json ------------------------------------------------------------------------

class Candidate(Record):
    """A genome that may become final_genome.npy: a distribution mean or a re-validated
    sample, with its validation accuracy and the t interval over the validation seeds
    (``low``/``high`` null with one seed). ``generation`` counts from 1 (0: the initial
    genome, the first mean)."""

    VERSION_IN_FILE: ClassVar[bool] = False

    kind: Literal["mean", "sample"]
    generation: int
    validation: float | None
    low: float | None
    high: float | None


class TestScore(Record):
    """The final genome on the test draws: validation tasks, seeds apart from every train
    and validation seed; mean accuracy and its 95% t interval over ``seeds``."""

    VERSION_IN_FILE: ClassVar[bool] = False
    __test__ = False  # not a pytest class

    accuracy: float
    low: float
    high: float
    seeds: int


class FinalChoice(Record):
    """final.json: which candidate final_genome.npy is, why, and its score on test draws
    that took no part in the choice (``test`` null when the run has no validation tasks:
    then the genome is the last mean)."""

    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ()

    chosen: Candidate
    test: TestScore | None
    candidates: list[Candidate]
    interval: str
    reason: str


# ---- the checkpoint's run state --------------------------------------------------------

class RunState(Record):
    """What the driver carries between generations (pycma's own state is pickled apart).

    Stored in the checkpoint as :meth:`to_dict` (plain values and arrays), never as a
    pickled class, so that moving this class does not orphan checkpoints.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    initial_genome: np.ndarray
    mask: np.ndarray
    popsize: int
    sigma0: float
    generation: int = 0  # generations completed, over all restarts
    evaluations: int = 0
    restart: int = 0  # restarts done
    best_fitness: float = math.inf
    best_genome: np.ndarray | None = None
    best_generation: int = -1
    elapsed: float = 0.0  # seconds spent in generations, over all sessions
    stop_reason: str | None = None
    initial: InitialScores | None = None
    # BIPOP bookkeeping (Hansen 2009): evaluations per regime and large restarts so far
    large_evaluations: int = 0
    small_evaluations: int = 0
    large_restarts: int = 0
    regime: Literal["large", "small"] = "large"
    mean_genome: np.ndarray | None = None  # pycma's distribution mean, as a full genome
    # final genome (es/final.py): the candidates validated so far, the best one's genome,
    # and the samples waiting for the next validation (best training fitness first)
    candidates: list[Candidate] = []
    chosen_genome: np.ndarray | None = None
    pool: list[np.ndarray] = []
    pool_fitness: list[float] = []
    pool_generations: list[int] = []
    skipped: int = 0  # gradient meta-training: steps skipped for a non-finite loss or gradient

    @classmethod
    def upgrade(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        if data.get("initial") == {}:  # the previous release kept {} before scoring
            data["initial"] = None
        return data


# ---- run.json --------------------------------------------------------------------------

class Environment(Record):
    """What computed a session of a run: versions, the checkout's commit, the machine."""

    VERSION_IN_FILE: ClassVar[bool] = False

    package: str
    git_commit: str | None = None  # "<sha>" or "<sha>-dirty" when run from a checkout
    python: str
    numpy: str | None = None
    numba: str | None = None
    cma: str | None = None
    platform: str
    cpu: str
    cpu_count: int | None = None


class Session(Record):
    """One start or resume of a run: when, the full command line, from where, on what."""

    VERSION_IN_FILE: ClassVar[bool] = False

    started: str
    action: Literal["start", "resume", "adopt"]
    command: list[str]
    cwd: str
    environment: Environment


class RunInfo(Record):
    """run.json: what a run directory needs to check itself before it is continued (the
    resolved config as it started, and the hash of config.toml now; the input files and
    their hashes) and where its numbers came from (the sessions)."""

    config_sha256: str  # of config.toml as last written by blgnn-es
    config: dict[str, dict[str, Any]]  # the resolved config (Config.to_dict) at the start
    inputs: dict[str, str] = {}  # absolute path -> sha256 of every file the run reads
    sessions: list[Session] = []
