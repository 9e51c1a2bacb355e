"""The run directory ``<out_dir>/<name>/``: what a run leaves behind, written so that a
``kill -9`` at any moment leaves a directory that ``--resume`` can continue, and checked
before it is continued, so that a resume never loses or mixes work.

Files: ``config.toml`` (resolved), ``run.json`` (the config as the run started and the hash
of config.toml, the input files' hashes, and every session's command line and software),
``metrics.jsonl`` (one JSON line per generation), ``best_genome.npy`` / ``mean_genome.npy``
(+ JSON sidecars), ``final_genome.npy`` (+ sidecar) and ``final.json`` (the genome the run
hands over: the candidate of best validation accuracy, with its score on test draws;
written when the run stops, es/final.py), ``checkpoint`` (pickled optimizer and run state
behind a sha256 header, replaced atomically every generation) and ``checkpoint.prev`` (the
one before it, so that a damaged checkpoint falls back one generation), ``result.json``
(why and when the run stopped), ``log.txt``. Every file but the two append-only logs is
replaced atomically; metrics.jsonl is cut back to the checkpoint's generation on resume,
after checking that it holds every generation before it.

Everything is written and read through the records of es/records.py. The checkpoint keeps
the run state as a plain dict (format 2); a format 1 checkpoint of the previous release,
which pickled the ``RunState`` class itself (``blgnn_es.evolve.RunState``), is read with an
unpickler that maps that class to a stand-in, so old runs still resume. Checkpoints of the
previous release have no header (and run directories no run.json): they are read as they
are, without the hash check.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blgnn_es.errors import ConfigError, FileError, RunDirError, os_error_text
from blgnn_es.es.records import (
    FinalChoice,
    MetricsLine,
    RecordError,
    RunInfo,
    RunResult,
    RunState,
)
from blgnn_es.fileio import atomic_write, atomic_write_text, read_text, sha256_file

CHECKPOINT_FORMAT = 2  # 2: the run state as RunState.to_dict(); 1: a pickled RunState
CHECKPOINT_READS = (1, 2)
CHECKPOINT_MAGIC = b"blgnn-es checkpoint sha256="  # + 64 hex digits + newline, then the pickle
# where the previous releases' pickles look for RunState
_LEGACY_STATE_CLASSES = {("blgnn_es.evolve", "RunState"), ("blgnn_es.es.driver", "RunState")}
TIMING_FIELDS = ("seconds", "elapsed")  # the only metrics that differ between identical runs
_RUN_FILES = ("config.toml", "metrics.jsonl", "checkpoint", "log.txt")


class RunDir:
    """Paths and safe writes of one run directory."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    config = property(lambda self: self.path / "config.toml")
    info_file = property(lambda self: self.path / "run.json")
    metrics = property(lambda self: self.path / "metrics.jsonl")
    checkpoint = property(lambda self: self.path / "checkpoint")
    previous_checkpoint = property(lambda self: self.path / "checkpoint.prev")
    log_file = property(lambda self: self.path / "log.txt")
    best_genome = property(lambda self: self.path / "best_genome.npy")
    mean_genome = property(lambda self: self.path / "mean_genome.npy")
    result = property(lambda self: self.path / "result.json")
    final_genome = property(lambda self: self.path / "final_genome.npy")
    final_json = property(lambda self: self.path / "final.json")

    # ---- creating and opening -------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, config_text: str, force: bool = False,
               info: RunInfo | None = None) -> RunDir:
        """Make a fresh run directory; an existing one is refused unless ``force``, or
        unless it is the stub of a start that failed before its first checkpoint."""
        run = cls(path)
        if run.path.is_file():
            raise ConfigError(f"{run.path} is a file; a run directory must be a folder")
        try:
            existing = run.path.exists() and any(run.path.iterdir())
        except OSError as err:
            raise FileError(f"cannot open {os_error_text(err, run.path)}") from None
        if existing:
            if not any((run.path / name).exists() for name in _RUN_FILES):
                raise ConfigError(f"{run.path} is not a run directory (no config.toml, "
                                  "metrics.jsonl or checkpoint); refusing to replace it")
            if not force and not run.unstarted():
                raise ConfigError(
                    f"run directory {run.path} exists; continue it with --resume {run.path}, "
                    "or replace it with --force (or pick another --name)")
            try:
                shutil.rmtree(run.path)
            except OSError as err:
                raise FileError(f"cannot replace {os_error_text(err, run.path)}") from None
        try:
            run.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise FileError(f"cannot make the run directory {os_error_text(err, run.path)}"
                            ) from None
        try:
            atomic_write_text(run.config, config_text)
            if info is not None:
                run.write_info(info.model_copy(update={"config_sha256": _sha256(config_text)}))
            atomic_write_text(run.metrics, "")
        except BaseException:
            shutil.rmtree(run.path, ignore_errors=True)  # made above: leave nothing behind
            raise
        return run

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunDir:
        """An existing run directory (for --resume and report)."""
        run = cls(path)
        if not run.path.is_dir():
            what = "is a file" if run.path.exists() else "does not exist"
            raise ConfigError(f"{run.path} {what}; expected a run directory")
        if not run.config.is_file():
            raise ConfigError(f"{run.path} is not a run directory (no config.toml)")
        return run

    def unstarted(self) -> bool:
        """Whether this directory is what a start leaves before its first checkpoint (a
        failed or killed start): nothing in it is lost by starting again."""
        return (not self.checkpoint.exists() and not self.previous_checkpoint.exists()
                and not self.best_genome.exists() and not self.result.exists()
                and (not self.metrics.is_file() or self.metrics.stat().st_size == 0))

    def remove_unstarted(self) -> bool:
        """Delete this directory if it is an unstarted stub; whether it was deleted."""
        if self.path.is_dir() and self.unstarted():
            shutil.rmtree(self.path, ignore_errors=True)
            return not self.path.exists()
        return False

    # ---- run.json -------------------------------------------------------------------
    def write_info(self, info: RunInfo) -> None:
        atomic_write_text(self.info_file, json.dumps(info.to_dict(), indent=2) + "\n")

    def read_info(self) -> RunInfo | None:
        """run.json, or None in a run directory of the previous release."""
        if not self.info_file.exists():
            return None
        text = read_text(self.info_file, "run record")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise RunDirError(f"{self.info_file}: not valid JSON ({err})") from None
        return RunInfo.from_dict(data, str(self.info_file))

    def write_config(self, config_text: str) -> None:
        """Replace config.toml (resumable changes only) and record its new hash."""
        atomic_write_text(self.config, config_text)
        info = self.read_info()
        if info is not None:
            self.write_info(info.model_copy(update={"config_sha256": _sha256(config_text)}))

    # ---- logs -----------------------------------------------------------------------
    def log(self, message: str) -> None:
        """Append a time-stamped line to log.txt."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        try:
            with open(self.log_file, "a") as fh:
                fh.write(f"{stamp}  {message}\n")
        except OSError as err:
            raise FileError(f"cannot write {os_error_text(err, self.log_file)}") from None

    def try_log(self, message: str) -> bool:
        """Append to log.txt if it can be written (when reporting another failure)."""
        try:
            self.log(message)
        except FileError:
            return False
        return True

    def append_metrics(self, record: MetricsLine) -> None:
        """Append one generation's line, flushed to disk before the checkpoint is written."""
        try:
            with open(self.metrics, "a") as fh:
                fh.write(metrics_text(record))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as err:
            raise FileError(f"cannot write {os_error_text(err, self.metrics)}") from None

    def read_metrics(self) -> list[MetricsLine]:
        """The complete lines of metrics.jsonl up to the first that does not parse (a run
        being written, or a torn last line); for reports. Resume uses check_metrics."""
        if not self.metrics.exists():
            return []
        records = []
        for number, line in enumerate(read_text(self.metrics, "metrics file").splitlines(), 1):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                break
            records.append(MetricsLine.from_dict(data, f"{self.metrics}, line {number}"))
        return records

    def check_metrics(self, generations: int) -> list[MetricsLine]:
        """The lines of generations 0 .. generations-1, which must all be there, in order and
        whole; lines after them (written after the last checkpoint) are dropped, and so is a
        torn last line. RunDirError names the line when one is damaged or missing."""
        if not self.metrics.is_file():
            if generations == 0:
                return []
            raise RunDirError(f"{self.metrics}: missing; the checkpoint is at generation "
                              f"{generations}")
        text = read_text(self.metrics, "metrics file")
        lines = text.splitlines()
        kept: list[MetricsLine] = []
        for number, line in enumerate(lines, 1):
            torn_tail = number == len(lines) and not text.endswith("\n")
            try:
                data = json.loads(line)
                record = MetricsLine.from_dict(data, f"{self.metrics}, line {number}")
            except (json.JSONDecodeError, RecordError) as err:
                if torn_tail:
                    break  # the line being written when the run was killed
                raise RunDirError(
                    f"{self.metrics}, line {number}: damaged ({_short(err)}); the checkpoint "
                    f"is at generation {generations} and every line before it is needed. "
                    "Restore the file, or start the run again with --force") from None
            if record.generation >= generations:
                continue  # after the checkpoint: recomputed
            if record.generation != len(kept):
                raise RunDirError(
                    f"{self.metrics}, line {number}: holds generation {record.generation}, "
                    f"expected {len(kept)}; lines are missing or out of order. Restore the "
                    "file, or start the run again with --force")
            kept.append(record)
        if len(kept) != generations:
            raise RunDirError(
                f"{self.metrics}: holds generations 0-{len(kept) - 1} but the checkpoint is at "
                f"generation {generations}: the lines of generations {len(kept)}-"
                f"{generations - 1} are missing. Restore the file, or start the run again "
                "with --force")
        return kept

    def truncate_metrics(self, generations: int) -> None:
        """Keep only the lines of generations already in the checkpoint (resume after kill),
        after checking that they are all there."""
        kept = self.check_metrics(generations)
        text = "".join(metrics_text(r) for r in kept)
        if not self.metrics.is_file() or read_text(self.metrics) != text:
            atomic_write_text(self.metrics, text)

    # ---- checkpoint -----------------------------------------------------------------
    def write_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Replace the checkpoint atomically (a reader sees the old or the new one, whole),
        keeping the one before as checkpoint.prev (also replaced atomically)."""
        payload = {"format": CHECKPOINT_FORMAT, "es": checkpoint.es,
                   "numpy_random": checkpoint.numpy_random, "state": checkpoint.state.to_dict(),
                   "base_popsize": checkpoint.base_popsize}
        body = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        head = CHECKPOINT_MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n"
        if self.checkpoint.is_file():
            self._keep_previous()
        atomic_write(self.checkpoint, lambda fh: (fh.write(head), fh.write(body)), binary=True)

    def _keep_previous(self) -> None:
        """checkpoint -> checkpoint.prev, atomically, while checkpoint stays in place."""
        link = self.path / ".checkpoint.prev.link"
        try:
            if link.exists():
                link.unlink()
            os.link(self.checkpoint, link)
            os.replace(link, self.previous_checkpoint)
        except OSError:  # no hard links here: copy instead
            data = self.checkpoint.read_bytes()
            atomic_write(self.previous_checkpoint, lambda fh: fh.write(data), binary=True)

    def read_checkpoint(self, path: Path | None = None) -> Checkpoint | None:
        """The last checkpoint (or the one at ``path``), None when there is none;
        RunDirError when it is damaged."""
        path = self.checkpoint if path is None else path
        if not path.exists():
            return None
        return load_checkpoint(path)

    def resume_point(self) -> ResumePoint:
        """The checkpoint a resume continues from, after checking it.

        A damaged checkpoint falls back to checkpoint.prev (one generation earlier), saying
        so; a missing one is refused when the run had started (metrics, genomes or
        checkpoint.prev exist), since starting over would overwrite that work.
        """
        if not self.checkpoint.exists():
            if self.unstarted():
                return ResumePoint(None)
            hint = ""
            if self.previous_checkpoint.is_file():
                hint = (f"; {self.previous_checkpoint.name} is there: rename it to checkpoint "
                        "to continue from the generation before")
            raise RunDirError(f"{self.checkpoint}: missing, but the run has started (its "
                              f"metrics and genomes are there){hint}; or start it again with "
                              "--force")
        try:
            return ResumePoint(load_checkpoint(self.checkpoint))
        except RunDirError as damage:
            if not self.previous_checkpoint.is_file():
                raise RunDirError(f"{damage}; no {self.previous_checkpoint.name} to fall back "
                                  "to: start the run again with --force") from None
            try:
                previous = load_checkpoint(self.previous_checkpoint)
            except RunDirError as also:
                raise RunDirError(f"{damage}; and {also}: start the run again with --force"
                                  ) from None
            note = (f"{damage}; falling back to {self.previous_checkpoint.name} (generation "
                    f"{previous.state.generation}): that generation is computed again")
            return ResumePoint(previous, note)

    def write_result(self, result: RunResult) -> None:
        atomic_write_text(self.result, json.dumps(result.to_dict(), indent=2) + "\n")

    def read_result(self) -> RunResult | None:
        if not self.result.exists():
            return None
        text = read_text(self.result, "result file")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise RunDirError(f"{self.result}: not valid JSON ({err})") from None
        return RunResult.from_dict(data, str(self.result))

    def write_final(self, choice: FinalChoice) -> None:
        atomic_write_text(self.final_json, json.dumps(choice.to_dict(), indent=2) + "\n")

    def read_final(self) -> FinalChoice | None:
        """final.json, or None in a run that has not finished (or of an earlier release)."""
        if not self.final_json.exists():
            return None
        text = read_text(self.final_json, "final genome record")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise RunDirError(f"{self.final_json}: not valid JSON ({err})") from None
        return FinalChoice.from_dict(data, str(self.final_json))


def load_checkpoint(path: Path) -> Checkpoint:
    """Read and check one checkpoint file; RunDirError says what is wrong with it."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise RunDirError(f"{path}: damaged (a folder, not a checkpoint file)") from None
    except OSError as err:
        raise RunDirError(f"{path}: cannot read ({err.strerror})") from None
    if not data:
        raise RunDirError(f"{path}: damaged (empty file)")
    if data.startswith(CHECKPOINT_MAGIC):
        head, newline, body = data.partition(b"\n")
        expected = head[len(CHECKPOINT_MAGIC):].decode("ascii", "replace")
        if not newline or hashlib.sha256(body).hexdigest() != expected:
            raise RunDirError(f"{path}: damaged (its sha256 does not match its content: "
                              "truncated or changed)")
    else:
        body = data  # the previous release: a bare pickle
    try:
        payload = _CheckpointUnpickler(io.BytesIO(body)).load()
    except Exception as err:  # noqa: BLE001  (whatever a damaged pickle raises)
        raise RunDirError(f"{path}: damaged (not a checkpoint: {_short(err)})") from None
    version = payload.get("format") if isinstance(payload, dict) else None
    if version not in CHECKPOINT_READS:
        raise RunDirError(f"{path}: checkpoint format {version!r} is not one this release "
                          f"reads ({', '.join(map(str, CHECKPOINT_READS))}); resume it with "
                          "the release that wrote it")
    try:
        state = payload["state"]
        if isinstance(state, _LegacyRunState):
            state = dict(vars(state))
        return Checkpoint(es=payload["es"], numpy_random=payload["numpy_random"],
                          state=RunState.from_dict(state, f"{path} (run state)"),
                          base_popsize=int(payload["base_popsize"]))
    except (KeyError, TypeError, ValueError, RecordError) as err:
        raise RunDirError(f"{path}: damaged (incomplete checkpoint: {_short(err)})") from None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def config_sha256(run: RunDir) -> str:
    """The hash of a run directory's config.toml as it is now."""
    try:
        return sha256_file(run.config)
    except OSError as err:
        raise FileError(f"cannot read {os_error_text(err, run.config)}") from None


def _short(err: BaseException) -> str:
    """An underlying error as one short line (pickle's messages can span lines)."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."


@dataclass(frozen=True)
class ResumePoint:
    """The checkpoint a resume starts from (None: the run never reached one) and, after a
    fallback to checkpoint.prev, the note saying so."""

    checkpoint: Checkpoint | None
    fallback: str | None = None


@dataclass(frozen=True)
class Checkpoint:
    """What a resume needs: pycma's strategy, numpy's global RNG state (pycma samples from
    it), the run state and the first restart's population size."""

    es: Any
    numpy_random: Any
    state: RunState
    base_popsize: int


class _LegacyRunState:
    """Stand-in for the RunState class a format 1 checkpoint pickled: takes its fields."""


class _CheckpointUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _LEGACY_STATE_CLASSES:
            return _LegacyRunState
        return super().find_class(module, name)


def metrics_text(record: MetricsLine) -> str:
    """One metrics.jsonl line (the format of the previous release: ``json.dumps``)."""
    return json.dumps(record.to_dict()) + "\n"


def strip_timings(record: MetricsLine | dict[str, Any]) -> dict[str, Any]:
    """A metrics line without its wall-clock fields (for comparing runs)."""
    if isinstance(record, MetricsLine):
        record = record.to_dict()
    return {key: value for key, value in record.items() if key not in TIMING_FIELDS}
