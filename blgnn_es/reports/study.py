"""What a study writes: per task a markdown table, a CSV and a figure; study.json."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from blgnn_es.baselines.comparison import standings
from blgnn_es.baselines.stats import INTERVAL_METHOD, PAIRED_METHOD
from blgnn_es.baselines.study import Cell
from blgnn_es.config.study import StudySettings
from blgnn_es.fileio import atomic_write, atomic_write_text
from blgnn_es.reports.comparison import plot_panel, verdict_text
from blgnn_es.reports.figures import plural, pyplot, save_figure
from blgnn_es.tables import markdown_table


def slug(task: str) -> str:
    return re.sub(r"[^\w.+-]+", "_", task).strip("_") or "task"


def table_rows(cells: list[Cell], optimizers: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per genome, architecture and budget: every learner's mean, std, 95% t
    interval (and rate); BLUR minus each baseline paired by seed (difference, interval,
    p-value, verdict); BLUR's verdict against the strongest baseline (``rival``)."""
    rows = []
    for cell in cells:
        item = cell.comparison
        learners = item.learners()
        lead = {s.budget: s for s in standings(item)}
        for k, budget in enumerate(item.budgets):
            row: dict[str, Any] = {
                "genome": cell.genome,
                "layer_sizes": item.network_label,
                "step": budget,
                "beyond_evolved": bool(cell.evolved_steps and budget > cell.evolved_steps),
            }
            standing = lead.get(budget)
            for name, table in learners.items():
                row[f"{name}_mean"] = float(table[:, k].mean())
                row[f"{name}_std"] = float(table[:, k].std())
                if standing:
                    row[f"{name}_low"] = standing.intervals[name].low
                    row[f"{name}_high"] = standing.intervals[name].high
                if name in item.sweeps:
                    row[f"{name}_rate"] = item.sweeps[name].rate_at(budget)
                if standing and name in standing.versus:
                    paired = standing.versus[name]
                    row[f"blur_minus_{name}"] = paired.difference
                    row[f"blur_minus_{name}_low"] = paired.low
                    row[f"blur_minus_{name}_high"] = paired.high
                    row[f"blur_vs_{name}_p"] = paired.p_value
                    row[f"blur_vs_{name}"] = paired.verdict
            row["rival"] = standing.rival if standing else ""
            row["verdict"] = standing.verdict if standing else ""
            row["ahead"] = verdict_text(standing) if standing else ""
            rows.append(row)
    return rows


def study_markdown(task: str, rows: list[dict[str, Any]], settings: StudySettings) -> str:
    """One task's study table with the note that says how to read it."""
    names = ["blur", *settings.baselines.optimizers]
    rates = settings.baselines.rates
    edges = {min(rates), max(rates)} if len(rates) > 1 else set()
    header = ["genome", "layers", "step", *names, "blur is"]
    lines = [
        f"# {task}",
        "",
        f"Test accuracy over {plural(settings.seeds, 'seed')}: mean [{INTERVAL_METHOD}]. Baselines "
        "at the learning rate with the best validation accuracy for that step, chosen on "
        "examples held out from the training data (never the test split); the rate is "
        "in brackets, '!' when it is the edge of the swept range, then BLUR's verdict "
        f"against that baseline ({PAIRED_METHOD}). 'blur is': against the baseline with the "
        "best mean. Steps marked * lie beyond the genome's evolved unroll.",
        "",
    ]
    table = []
    for row in rows:
        cells = [
            row["genome"],
            row["layer_sizes"],
            f"{row['step']}{'*' if row['beyond_evolved'] else ''}",
        ]
        for name in names:
            cell = f"{row[f'{name}_mean']:.4f}"
            if f"{name}_low" in row:
                cell += f" [{row[f'{name}_low']:.4f}, {row[f'{name}_high']:.4f}]"
            if f"{name}_rate" in row:
                rate = row[f"{name}_rate"]
                cell += f" ({rate:.3g}{'!' if rate in edges else ''})"
            if f"blur_vs_{name}" in row:
                cell += (f" blur {row[f'blur_minus_{name}']:+.3f}, p={row[f'blur_vs_{name}_p']:.2g}"
                         f" {row[f'blur_vs_{name}']}")
            cells.append(cell)
        cells.append(row["ahead"])
        table.append(cells)
    return "\n".join([*lines, markdown_table(header, table)]) + "\n"


def write_study(settings: StudySettings, cells: dict[str, list[Cell]], out_dir: Path) -> list[Path]:
    """Per task <slug>.md, <slug>.csv and <slug>.png; study.json with every row."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written, everything = [], {}
    for task, task_cells in cells.items():
        rows = table_rows(task_cells, settings.baselines.optimizers)
        everything[task] = rows
        base = out_dir / slug(task)
        md, table, png = (base.with_suffix(s) for s in (".md", ".csv", ".png"))
        atomic_write_text(md, study_markdown(task, rows, settings))

        def write_csv(fh, rows=rows) -> None:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

        atomic_write(table, write_csv)
        plot_task(task, task_cells, settings, png)
        written += [md, table, png]
    study_json = out_dir / "study.json"
    atomic_write_text(
        study_json,
        json.dumps(
            {
                "name": settings.name,
                "seeds": settings.seeds,
                "seed": settings.seed,
                "genomes": {g.label: str(g.path) for g in settings.genomes},
                "budgets": list(settings.budgets),
                "interval": INTERVAL_METHOD,
                "paired_test": PAIRED_METHOD,
                "tasks": everything,
            },
            indent=1,
        ),
    )
    return [*written, study_json]


def plot_task(task: str, cells: list[Cell], settings: StudySettings, path: Path) -> Path:
    """Rows: genomes; columns: architectures; each panel BLUR and the baselines."""
    plt = pyplot()
    genomes = list(dict.fromkeys(cell.genome for cell in cells))
    columns = max(sum(cell.genome == g for cell in cells) for g in genomes)
    fig, axes = plt.subplots(
        len(genomes), columns, figsize=(5 * columns, 3.8 * len(genomes)), squeeze=False,
        layout="constrained",  # keeps each row's axis labels clear of the next row's titles
    )
    for row, genome in enumerate(genomes):
        mine = [cell for cell in cells if cell.genome == genome]
        for column in range(columns):
            ax = axes[row][column]
            if column >= len(mine):
                ax.axis("off")
                continue
            cell = mine[column]
            plot_panel(ax, cell.comparison, cell.evolved_steps)
            sizes = cell.comparison.network_label
            ax.set_title(f"{genome}: {sizes}", fontsize=9)
    fig.suptitle(f"{task}: test accuracy per learning step, {plural(settings.seeds, 'seed')}; "
                 "bands: 95% t interval; dots: each step's own best rate", fontsize=10)
    return save_figure(fig, path)
