"""One self-contained HTML page per run (report.html) and per study (study.html).

A person opens one file, mails it or copies it off a cluster: every figure is embedded as a
base64 PNG data URI, the style is inline, nothing is fetched. Every text that comes from a
file (task names, genome labels, config values, summary.md) goes through ``html.escape``.
The pages read only what a run directory or a study folder holds, through their records.
"""

from __future__ import annotations

import base64
import html
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from blgnn_es.config.settings import load_config
from blgnn_es.errors import ConfigError, FileError, os_error_text
from blgnn_es.es.final import label as final_label
from blgnn_es.es.records import Candidate, FinalChoice, MetricsLine
from blgnn_es.es.rundir import RunDir
from blgnn_es.fileio import atomic_write_text
from blgnn_es.model.genome import read_genome
from blgnn_es.reports.run import plot_fitness, plot_genome, plot_validation, summary_markdown
from blgnn_es.reports.study import slug

RUN_PAGE = "report.html"
STUDY_PAGE = "study.html"
# the paired verdict of BLUR against the strongest baseline -> cell colour (colour-blind
# safe pair: blue ahead, orange behind; grey level)
VERDICT_COLOURS = {"ahead": "#9ecae1", "behind": "#fdae6b", "level": "#e0e0e0"}

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1300px;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.5em; text-align: left;
         vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.chosen td { font-weight: bold; background: #fff3c4; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
figure { margin: 0.8em 0; } figcaption { font-size: 0.85em; color: #555; }
code, pre { background: #f6f6f6; font-size: 0.9em; } pre { padding: 0.5em; overflow-x: auto; }
nav a { margin-right: 1em; } .note { color: #555; }
.legend span { padding: 0.1em 0.6em; margin-right: 0.5em; border: 1px solid #bbb; }
"""


# ---- page pieces -----------------------------------------------------------------------

def esc(value: Any) -> str:
    """Any value as HTML text, quotes included."""
    return html.escape(str(value), quote=True)


def png_figure(data: bytes, caption: str) -> str:
    """A PNG embedded as a data URI, with its caption."""
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return (f'<figure><img src="{uri}" alt="{esc(caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def rendered(plot: Callable[[Path], Path]) -> bytes:
    """The PNG bytes a ``plot(path)`` function writes (into a temporary folder)."""
    with tempfile.TemporaryDirectory() as folder:
        return Path(plot(Path(folder) / "figure.png")).read_bytes()


def table(header: Sequence[str], rows: Iterable[Sequence[Any]],
          row_class: Callable[[int], str] = lambda index: "") -> str:
    """An HTML table; numbers right-aligned, every cell escaped."""
    head = "".join(f"<th>{esc(cell)}</th>" for cell in header)
    body = []
    for index, row in enumerate(rows):
        cells = "".join(f'<td class="num">{esc(cell)}</td>' if _numeric(cell)
                        else f"<td>{esc(cell)}</td>" for cell in row)
        css = row_class(index)
        body.append(f'<tr class="{css}">{cells}</tr>' if css else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def markdown_html(text: str) -> str:
    """The Markdown our reports write (headings, GitHub tables, lists, indented code,
    paragraphs, `code`) as HTML; anything else reads as a paragraph."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("#"):
            level, _, title = line.partition(" ")
            depth = min(len(level) + 2, 6)  # the page's own h1/h2 sit above
            out.append(f"<h{depth}>{_inline(title)}</h{depth}>")
            i += 1
        elif line.startswith("|"):
            block = _take(lines, i, lambda s: s.startswith("|"))
            i += len(block)
            rows = [[cell.strip() for cell in row.strip().strip("|").split("|")]
                    for row in block if not re.fullmatch(r"\|[-|: ]*-[-|: ]*\|", row.strip())]
            head = "".join(f"<th>{_inline(c)}</th>" for c in rows[0])
            body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>"
                           for row in rows[1:])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif line.startswith("- "):
            block = _take(lines, i, lambda s: s.startswith("- "))
            i += len(block)
            out.append("<ul>" + "".join(f"<li>{_inline(s[2:])}</li>" for s in block) + "</ul>")
        elif line.startswith("    "):
            block = _take(lines, i, lambda s: s.startswith("    "))
            i += len(block)
            out.append("<pre>" + esc("\n".join(s[4:] for s in block)) + "</pre>")
        else:
            block = _take(lines, i, lambda s: bool(s.strip()) and not s.startswith(
                ("#", "|", "- ", "    ")))
            i += len(block)
            out.append(f"<p>{_inline(' '.join(block))}</p>")
    return "\n".join(out)


def page(title: str, sections: list[tuple[str, str, str]]) -> str:
    """The whole document: ``sections`` are (id, heading, inner HTML), linked from the top."""
    nav = "".join(f'<a href="#{ident}">{esc(heading)}</a>' for ident, heading, _ in sections)
    body = "\n".join(f'<section id="{ident}"><h2>{esc(heading)}</h2>\n{inner}</section>'
                     for ident, heading, inner in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n<body>"
            f"<h1>{esc(title)}</h1><nav>{nav}</nav>\n{body}\n</body></html>\n")


# ---- the run page ----------------------------------------------------------------------

def write_run_page(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """report.html for a run directory, in ``out`` (default: the run directory). The
    caller (``report``) has checked for an earlier report."""
    run = RunDir.open(run_dir)
    target = (run.path if out is None else Path(out)) / RUN_PAGE
    return _write(target, run_page(run))


def run_page(run: RunDir) -> str:
    """The run page: status and config, fitness and sigma, validation with intervals, the
    genome beside backprop's, the final genome and why, summary.md."""
    metrics = run.read_metrics()
    if not metrics:
        raise ConfigError(f"{run.path}: metrics.jsonl is empty (no generation finished yet)")
    name = run.path.name
    choice = run.read_final()
    sections = [
        ("run", "Run", _run_facts(run, metrics)),
        ("fitness", "Fitness and sigma",
         png_figure(rendered(lambda p: plot_fitness(metrics, p, name)),
                    "fitness of each generation's samples (gen best, median, best so far; "
                    "lower is better) and sigma")),
        ("validation", "Validation per task", _validation(metrics, name)),
        ("genome", "Genome beside the backprop genome", _genomes(run, name)),
        ("final", "Final genome", _final(choice)),
        ("summary", "summary.md", markdown_html(summary_markdown(run, metrics))),
    ]
    return page(f"Run {name}", sections)


def _run_facts(run: RunDir, metrics: list[MetricsLine]) -> str:
    result = run.read_result()
    stop = (result and result.stop_reason) or "running (or killed; resume with --resume)"
    last = metrics[-1]
    facts = table(["", ""], [("run directory", str(run.path)), ("stop reason", stop),
                             ("generations", last.generation + 1),
                             ("evaluations", last.evaluations),
                             ("best fitness so far", f"{last.best_so_far:.4f}")])
    config = load_config(run.config).to_dict()
    parts = [table(["key", "value"], [(k, _value(v)) for k, v in values.items()])
             for values in config.values()]
    sections = "".join(f"<h3>[{esc(section)}]</h3>{part}"
                       for section, part in zip(config, parts, strict=True))
    return (f"{facts}<details><summary>Configuration (config.toml, resolved)</summary>"
            f"{sections}</details>")


def _validation(metrics: list[MetricsLine], name: str) -> str:
    rows = [(r.generation + 1, r.validation) for r in metrics if r.validation is not None]
    if not rows:
        return '<p class="note">This run has no validation tasks (tasks.validate is empty).</p>'
    tasks = list(rows[-1][1].tasks)
    has_bounds = any(v.intervals for _, v in rows)
    figure = png_figure(rendered(lambda p: plot_validation(metrics, p, name)),
                        "validation accuracy of the distribution mean per task"
                        + (" (bars: 95% t interval over the validation seeds)"
                           if has_bounds else ""))
    body = []
    for generation, record in rows:
        bounds = record.intervals or {}
        body.append([generation, _num(record.accuracy),
                     *(_with_interval(record.tasks.get(t), bounds.get(t)) for t in tasks)])
    note = ("Each task: mean accuracy over the validation seeds [95% t interval]."
            if has_bounds else "Each task: mean accuracy over the validation seeds (no "
            "intervals recorded: one seed, or a run of an earlier release).")
    return (figure + f'<p class="note">{esc(note)}</p>'
            + table(["generation", "mean", *tasks], body))


def _genomes(run: RunDir, name: str) -> str:
    shown = []
    if run.final_genome.exists():
        shown.append(("final_genome", run.final_genome))
    if run.mean_genome.exists():
        shown.append(("mean_genome", run.mean_genome))
    elif not shown and run.best_genome.exists():
        shown.append(("best_genome", run.best_genome))
    if not shown:
        return '<p class="note">No genome file in the run directory yet.</p>'
    parts, seen = [], []
    for stem, path in shown:
        values, _ = read_genome(path)
        if any(np.array_equal(values, other) for other in seen):
            parts.append(f'<p class="note">{esc(path.name)} is the same genome as '
                         f"{esc(shown[0][1].name)}.</p>")
            continue
        seen.append(values)
        parts.append(png_figure(
            rendered(lambda p, v=values, s=stem: plot_genome(v, p, title=f"{name}: {s}")),
            f"{path.name} (top) beside the backprop genome (bottom), one colour scale"))
    return "".join(parts)


def _final(choice: FinalChoice | None) -> str:
    if choice is None:
        return ('<p class="note">This run has no final.json (still running, or written by '
                "an earlier release): use mean_genome.npy, the distribution mean.</p>")
    chosen = choice.chosen
    lines = [f"Chosen: {final_label(chosen)}; {choice.reason}."]
    if chosen.validation is not None:
        lines.append(f"Validation accuracy {_with_interval(chosen.validation, _bounds(chosen))}"
                     f" ({choice.interval}).")
    if choice.test is not None:
        test = choice.test
        lines.append(f"Test accuracy {test.accuracy:.4f} [{test.low:.4f}, {test.high:.4f}] "
                     f"over {test.seeds} fresh seeds of the validation tasks (they took no "
                     "part in the choice).")
    else:
        lines.append("No test score: the run has no validation tasks.")
    ranked = sorted(choice.candidates, key=lambda c: -(c.validation or -1.0))
    index = next((i for i, c in enumerate(ranked) if c == chosen), -1)
    rows = [(c.kind, c.generation, _num(c.validation), _num(c.low), _num(c.high))
            for c in ranked]
    return ("".join(f"<p>{esc(line)}</p>" for line in lines)
            + '<p class="note">Candidates, best validation first (the chosen one in bold):</p>'
            + table(["kind", "generation", "validation", "low", "high"], rows,
                    lambda i: "chosen" if i == index else ""))


# ---- the study page --------------------------------------------------------------------

def write_study_page(folder: str | Path) -> Path:
    """study.html in a study's output folder, from its study.json, <task>.png and .md."""
    folder = Path(folder)
    return _write(folder / STUDY_PAGE, study_page(folder))


def study_page(folder: Path) -> str:
    """The genome x task table coloured by BLUR's paired verdict, then each task's figure
    and table."""
    try:
        study = json.loads((folder / "study.json").read_text())
    except (OSError, ValueError) as err:
        raise FileError(f"cannot read {folder / 'study.json'}: {err}") from None
    tasks: dict[str, list[dict[str, Any]]] = study["tasks"]
    intro = (f"<p>{esc(study['seeds'])} seed(s) per cell from seed {esc(study['seed'])}; "
             f"intervals: {esc(study['interval'])}; BLUR against the strongest baseline: "
             f"{esc(study['paired_test'])}.</p>"
             + table(["genome", "file"], list(study["genomes"].items())))
    sections = [("study", "Study", intro),
                ("grid", "Genome x task", _grid(tasks))]
    for task, _ in tasks.items():
        base = folder / slug(task)
        parts = []
        if base.with_suffix(".png").exists():
            parts.append(png_figure(base.with_suffix(".png").read_bytes(),
                                    f"{task}: test accuracy per learning step"))
        if base.with_suffix(".md").exists():
            parts.append(markdown_html(base.with_suffix(".md").read_text()))
        sections.append((f"task-{slug(task)}", task, "".join(parts)))
    return page(f"Study {study['name']}", sections)


def _grid(tasks: dict[str, list[dict[str, Any]]]) -> str:
    keys = list(dict.fromkeys((r["genome"], r["layer_sizes"], r["step"])
                              for rows in tasks.values() for r in rows))
    found = {(task, r["genome"], r["layer_sizes"], r["step"]): r
             for task, rows in tasks.items() for r in rows}
    legend = "".join(f'<span style="background:{colour}">{esc(word)}</span>'
                     for word, colour in VERDICT_COLOURS.items())
    head = "".join(f"<th>{esc(h)}</th>" for h in ("genome", "layers", "step", *tasks))
    body = []
    beyond = {(r["genome"], r["layer_sizes"], r["step"]) for rows in tasks.values()
              for r in rows if r.get("beyond_evolved")}
    for genome, layers, step in keys:
        mark = "*" if (genome, layers, step) in beyond else ""
        cells = [f"<td>{esc(genome)}</td><td>{esc(layers)}</td><td class=\"num\">{esc(step)}"
                 f"{mark}</td>"]
        for task in tasks:
            row = found.get((task, genome, layers, step))
            if row is None:
                cells.append("<td>—</td>")
                continue
            colour = VERDICT_COLOURS.get(row.get("verdict", ""), "#ffffff")
            mean = _with_interval(row["blur_mean"], (row["blur_low"], row["blur_high"])
                                  if "blur_low" in row else None)
            cells.append(f'<td class="verdict-{esc(row.get("verdict") or "none")}" '
                         f'style="background:{colour}">{esc(mean)}<br>'
                         f"{esc(row.get('ahead') or '')}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<p class="legend">BLUR test accuracy [95% t interval], coloured by its paired '
            f"verdict against the baseline with the best mean: {legend}. Steps marked * lie "
            "beyond the genome's evolved unroll.</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


# ---- small helpers ---------------------------------------------------------------------

def _write(target: Path, text: str) -> Path:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FileError(f"cannot make the report folder {os_error_text(err, target.parent)}"
                        ) from None
    atomic_write_text(target, text)
    return target


def _take(lines: list[str], start: int, keep: Callable[[str], bool]) -> list[str]:
    end = start
    while end < len(lines) and keep(lines[end]):
        end += 1
    return lines[start:end]


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(text))


def _numeric(cell: Any) -> bool:
    return isinstance(cell, int | float) or bool(re.fullmatch(r"-?[\d.]+( \[.*\])?", str(cell)))


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _bounds(candidate: Candidate) -> tuple[float, float] | None:
    return None if candidate.low is None or candidate.high is None else (candidate.low,
                                                                         candidate.high)


def _with_interval(value: float | None, bounds: Sequence[float] | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" + (f" [{bounds[0]:.4f}, {bounds[1]:.4f}]" if bounds else "")


def _value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)
