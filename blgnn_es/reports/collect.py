"""One table of many run directories (the seeds of an array job).

Each row is read from a run directory's files only (config.toml, result.json, metrics.jsonl),
so runs that are still going, or were preempted, show where they are.
"""

from __future__ import annotations

import csv
import io
import math
import tomllib
from pathlib import Path
from typing import Any

from blgnn_es.errors import BlgnnError, ConfigError, os_error_text
from blgnn_es.es.rundir import RunDir
from blgnn_es.fileio import read_text
from blgnn_es.tables import markdown_table

COLUMNS = (
    "run",
    "seed",
    "status",
    "generations",
    "evaluations",
    "best_fitness",
    "best_generation",
    "last_median",
    "validation_accuracy",
    "elapsed_seconds",
    "best_genome",
)


def run_dirs(paths: list[Path]) -> list[Path]:
    """Run directories named directly, or found one level below a named folder; a named
    folder that is neither is kept too (it becomes an "unreadable" row)."""
    found = []
    for path in paths:
        if (path / "config.toml").exists():
            found.append(path)
            continue
        inside = sorted(child for child in path.glob("*") if (child / "config.toml").exists())
        found.extend(inside or [path])
    return list(dict.fromkeys(found))


def run_row(path: Path) -> dict[str, Any]:
    """What one run directory says about itself: its seed, how far it got, its best fitness
    and the last validation of its distribution mean. A directory that cannot be read is a
    row whose status says why ("unreadable: ..."), so one bad run does not lose the table."""
    try:
        return _read_row(path)
    except (BlgnnError, OSError, ValueError) as err:
        why = str(err) if not isinstance(err, OSError) else os_error_text(err)
        row: dict[str, Any] = dict.fromkeys(COLUMNS)
        row.update(run=path.name, status=f"unreadable: {why}", generations=0)
        return row


def _read_row(path: Path) -> dict[str, Any]:
    run = RunDir(path)
    if not run.config.is_file():
        raise ConfigError(f"{path}: not a run directory (no config.toml)")
    try:
        config = tomllib.loads(read_text(run.config, "config file"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{run.config}: not valid TOML ({err})") from None
    records = run.read_metrics()
    result = run.read_result()
    last = records[-1] if records else None
    validated = [r.validation for r in records if r.validation is not None]
    return {
        "run": path.name,
        "seed": (config.get("run") or {}).get("seed") if isinstance(config.get("run"), dict)
        else None,
        "status": (result and result.stop_reason)
        or ("incomplete" if records else "not started"),
        "generations": len(records),
        "evaluations": last.evaluations if last else 0,
        "best_fitness": result.best_fitness if result else (last and last.best_so_far),
        # files count generations from 0, what people read from 1 (docs/cli.md)
        "best_generation": (result.best_generation + 1
                            if result and result.best_generation is not None
                            and result.best_generation >= 0 else None),
        "last_median": last.median if last else None,
        "validation_accuracy": validated[-1].accuracy if validated else None,
        "elapsed_seconds": last.elapsed if last else None,
        "best_genome": str(run.best_genome) if run.best_genome.exists() else None,
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    return str(value)


def _spread(rows: list[dict[str, Any]], column: str) -> str:
    values = [row[column] for row in rows if isinstance(row[column], int | float)]
    if len(values) < 2:
        return ""
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{mean:.4f} ± {std:.4f}"


def collect_markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, with a mean ± std line when there are several runs."""
    cells = [[_cell(row[c]) for c in COLUMNS] for row in rows]
    if len(rows) > 1:
        summary = {c: "" for c in COLUMNS}
        summary["run"] = f"mean ± std ({len(rows)} runs)"
        for column in ("best_fitness", "last_median", "validation_accuracy"):
            summary[column] = _spread(rows, column)
        cells.append([summary[c] for c in COLUMNS])
    return markdown_table(COLUMNS, cells) + "\n"


def csv_table(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: "" if row[c] is None else row[c] for c in COLUMNS} for row in rows)
    return out.getvalue()
