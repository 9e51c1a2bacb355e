"""report.html and study.html: self-contained (only data: URIs and anchors), every section
there, text escaped, figures that decode as PNG, the final genome and the validation
intervals shown when the run has them and a sentence when it has not, study cells coloured
by the paired verdict; and (slow) a real run's page rendered by headless Chromium."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_toml
from PIL import Image

from blgnn_es.es.records import (
    Candidate,
    FinalChoice,
    InitialScores,
    MetricsLine,
    RunResult,
    TestScore,
    Validation,
)
from blgnn_es.es.rundir import RunDir
from blgnn_es.model.genome import hebbian_genome, random_genome, save_genome
from blgnn_es.reports.html import RUN_PAGE, VERDICT_COLOURS, markdown_html, run_page, study_page

RUN_SECTIONS = {"run", "fitness", "validation", "genome", "final", "summary"}
VALIDATED = tiny_toml("tiny", seed=1, extra='[report]\nvalidate_every = 1\n').replace(
    '[tasks]\ntrain = ["xor"]', '[tasks]\ntrain = ["xor"]\nvalidate = ["xor", "circles"]')


class Page(HTMLParser):
    """Every tag with its attributes, and the text, of an HTML document."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def ids(self) -> set[str]:
        return {attrs["id"] for _, attrs in self.tags if "id" in attrs}


def check_self_contained(text: str) -> Page:
    """The document parses, fetches nothing, and every image is a PNG that decodes."""
    parsed = Page(text)
    assert not parsed.all("script") and not parsed.all("link") and not parsed.all("iframe")
    for _, attrs in parsed.tags:
        for key in ("src", "href", "srcset", "data"):
            if key in attrs:
                assert attrs[key].startswith(("data:image/png;base64,", "#")), attrs[key][:60]
    assert "url(" not in text and "@import" not in text
    images = parsed.all("img")
    assert images
    for attrs in images:
        data = base64.b64decode(attrs["src"].split(",", 1)[1], validate=True)
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        assert attrs["alt"]
    return parsed


def fake_run(path: Path, *, final: bool, intervals: bool, validate: bool = True) -> RunDir:
    """A finished three-generation run directory written through its records (no numba)."""
    run = RunDir.create(path, VALIDATED if validate else tiny_toml("tiny", seed=1))
    rng = np.random.default_rng(0)
    for generation in range(3):
        validation = None
        if validate:
            tasks = {"xor": 0.5 + 0.1 * generation, "circles": 0.6}
            validation = Validation(
                accuracy=float(np.mean(list(tasks.values()))), fitness=0.4, diverged=0,
                tasks=tasks, intervals={t: (a - 0.05, a + 0.07) for t, a in tasks.items()}
                if intervals else None)
        initial = (InitialScores(fitness=0.7, accuracy=0.5, validation=validation)
                   if generation == 0 else None)
        best = 0.6 - 0.1 * generation
        run.append_metrics(MetricsLine(
            generation=generation, restart=0, popsize=6, evaluations=6 * (generation + 1),
            best=best, median=best + 0.1, worst=best + 0.2, best_so_far=best,
            accuracy_median=0.5, sigma=0.3 * 0.9 ** generation, diverged=0, diverged_genomes=0,
            initial=initial, validation=validation, seconds=0.1, elapsed=0.1 * (generation + 1)))
    mean = hebbian_genome(2, 0.01) + rng.normal(0, 0.1, hebbian_genome(2, 0.01).shape)
    save_genome(run.mean_genome, mean)
    save_genome(run.best_genome, random_genome(2, seed=1))
    run.write_result(RunResult(stop_reason="max_generations", generations=3, evaluations=18,
                               restarts=0, best_fitness=0.4, best_generation=2,
                               elapsed_seconds=0.3))
    if final:
        save_genome(run.final_genome, random_genome(2, seed=2))
        chosen = Candidate(kind="sample", generation=2, validation=0.6875, low=0.61, high=0.76)
        others = [Candidate(kind="mean", generation=g, validation=0.5 + 0.05 * g, low=0.4,
                            high=0.7) for g in (0, 1, 2, 3)]
        run.write_final(FinalChoice(
            chosen=chosen, test=TestScore(accuracy=0.6432, low=0.5911, high=0.6953, seeds=10),
            candidates=[*others, chosen], interval="95% Student t over validation seeds",
            reason="best validation accuracy of 5 candidates"))
    return run


def test_run_page_is_self_contained_with_every_section_the_final_genome_and_intervals(
        tmp_path):
    text = run_page(fake_run(tmp_path / "tiny", final=True, intervals=True))
    parsed = check_self_contained(text)
    assert RUN_SECTIONS <= parsed.ids()
    assert len(parsed.all("img")) == 4  # fitness, validation, final and mean genome heat maps
    words = " ".join(parsed.text)
    assert "max_generations" in words and "Configuration" in words
    # validation per task with its interval (last generation: xor 0.7 [0.65, 0.77])
    assert "0.7000 [0.6500, 0.7700]" in words and "0.6000 [0.5500, 0.6700]" in words
    # the final genome: which candidate, its validation interval, the test score, the table
    assert "a sample of generation 2" in words
    assert "0.6875 [0.6100, 0.7600]" in words
    assert "Test accuracy 0.6432 [0.5911, 0.6953] over 10 fresh seeds" in words
    chosen_rows = [attrs for attrs in parsed.all("tr") if attrs.get("class") == "chosen"]
    assert len(chosen_rows) == 1
    section = text.split('id="final"')[1].split("</section>")[0]
    rows = section.split("<tr")[2:]  # the header row first
    assert len(rows) == 5 and 'class="chosen"' in rows[0] and ">sample<" in rows[0]
    # summary.md, rendered: its facts table and the final genome's lines
    summary = text.split('id="summary"')[1]
    assert "<table>" in summary and "<code>final_genome.npy</code>" in summary


def test_run_page_without_final_json_or_intervals_says_so(tmp_path):
    text = run_page(fake_run(tmp_path / "old", final=False, intervals=False))
    parsed = check_self_contained(text)
    assert RUN_SECTIONS <= parsed.ids()
    words = " ".join(parsed.text)
    assert "has no final.json" in words and "no intervals recorded" in words
    assert "0.7000 [" not in words and "0.7000" in words
    assert len(parsed.all("img")) == 3  # no final genome: fitness, validation, mean genome
    assert not [a for a in parsed.all("tr") if a.get("class") == "chosen"]


def test_run_page_of_a_run_without_validation(tmp_path):
    text = run_page(fake_run(tmp_path / "plain", final=False, intervals=False,
                             validate=False))
    parsed = check_self_contained(text)
    assert RUN_SECTIONS <= parsed.ids()
    assert "has no validation tasks" in " ".join(parsed.text)
    assert len(parsed.all("img")) == 2


def test_run_page_of_a_run_of_the_previous_release():
    text = run_page(RunDir.open(Path(__file__).parent / "fixtures" / "legacy-v1"))
    parsed = check_self_contained(text)
    assert RUN_SECTIONS <= parsed.ids() and "has no final.json" in " ".join(parsed.text)


def test_text_from_files_is_escaped(tmp_path):
    text = run_page(fake_run(tmp_path / "r<b>&x", final=False, intervals=False))
    parsed = check_self_contained(text)
    assert not parsed.all("b") and "Run r<b>&x" in " ".join(parsed.text)
    assert "r&lt;b&gt;&amp;x" in text


def test_markdown_html_renders_what_the_reports_write():
    out = markdown_html("# T <1>\n\n| a | b |\n|---|---|\n| `x` | <y> |\n\n- one & `two`\n"
                        "- three\n\n    blgnn-es evaluate run/final_genome.npy\n\nsome\ntext\n")
    assert "<h3>T &lt;1&gt;</h3>" in out
    assert ("<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td><code>x"
            "</code></td><td>&lt;y&gt;</td></tr></tbody></table>") in out
    assert "<ul><li>one &amp; <code>two</code></li><li>three</li></ul>" in out
    assert "<pre>blgnn-es evaluate run/final_genome.npy</pre>" in out
    assert "<p>some text</p>" in out
    # a table whose header row is empty (markdown_table(["", ""], ...)) keeps its rows
    empty = markdown_html("|   |   |\n|---|---|\n| status | done |\n")
    assert "<td>status</td><td>done</td>" in empty


def test_report_command_writes_the_page_and_keeps_an_earlier_one(tmp_path, invoke):
    run = fake_run(tmp_path / "tiny", final=True, intervals=True)
    result = invoke("report", run.path)
    assert result.exit_code == 0, result.output
    page = run.path / RUN_PAGE
    assert f"wrote {page}" in result.output
    check_self_contained(page.read_text())
    for name in ("fitness.png", "validation.png", "genome.png", "summary.md"):
        (run.path / name).unlink()
    again = invoke("report", run.path)  # only report.html is left: still an earlier report
    assert again.exit_code == 2 and "report.html exists" in again.output


def _study_folder(folder: Path) -> Path:
    """A study folder as write_study leaves it: study.json, <task>.md and <task>.png."""
    folder.mkdir()
    rows = {}
    for task, verdicts in (("xor", ("ahead", "behind")), ("circles", ("level", "ahead"))):
        rows[task] = [{"genome": "evo<1>", "layer_sizes": "2-8-1", "step": step,
                       "beyond_evolved": step > 4, "blur_mean": 0.8, "blur_low": 0.7,
                       "blur_high": 0.9, "rival": "adam", "verdict": verdict,
                       "ahead": f"{verdict} adam"} for step, verdict in zip((1, 8), verdicts,
                                                                           strict=True)]
        (folder / f"{task}.md").write_text(f"# {task}\n\n| genome | blur |\n|---|---|\n"
                                           "| evo<1> | 0.8000 |\n")
        buffer = io.BytesIO()
        Image.new("RGB", (40, 30), (10, 120, 200)).save(buffer, format="PNG")
        (folder / f"{task}.png").write_bytes(buffer.getvalue())
    (folder / "study.json").write_text(json.dumps({
        "name": "tiny", "seeds": 3, "seed": 0, "genomes": {"evo<1>": "evo.npy"},
        "budgets": [1, 8], "interval": "95% t", "paired_test": "paired t", "tasks": rows}))
    return folder


def test_study_page_colours_each_genome_task_cell_by_its_paired_verdict(tmp_path):
    text = study_page(_study_folder(tmp_path / "tiny"))
    parsed = check_self_contained(text)
    assert {"study", "grid", "task-xor", "task-circles"} <= parsed.ids()
    grid = text.split('id="grid"')[1].split("</section>")[0]
    cells = [attrs for attrs in Page(grid).all("td") if "class" in attrs
             and attrs["class"].startswith("verdict-")]
    # rows: (genome, layers, step) 1 then 8; columns: xor then circles
    assert [c["class"] for c in cells] == ["verdict-ahead", "verdict-level", "verdict-behind",
                                           "verdict-ahead"]
    for attrs in cells:
        assert VERDICT_COLOURS[attrs["class"].removeprefix("verdict-")] in attrs["style"]
    assert "evo&lt;1&gt;" in grid and "8*" in grid and "0.8000 [0.7000, 0.9000]" in grid
    assert len(parsed.all("img")) == 2


@pytest.mark.slow
def test_study_command_writes_the_page_from_its_own_verdicts(tmp_path, invoke):
    save_genome(tmp_path / "heb.npy", hebbian_genome(2, 0.01),
                network={"states": 2, "normalization": True},
                provenance={"hidden": [8], "unroll": {"steps": 4, "batch": 16}})
    config = tmp_path / "s.toml"
    config.write_text('[study]\nname = "s"\nseeds = 2\n[genomes]\nheb = "heb.npy"\n[grid]\n'
                      'tasks = ["xor", "circles"]\nsteps = [1, 6]\nbatch = 16\n'
                      'eval_batches = 2\n[baselines]\noptimizers = ["sgd"]\n'
                      'rates = {low = 0.01, high = 1.0, count = 2}\n')
    result = invoke("study", config, "--out-dir", tmp_path / "out")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "out" / "s"
    text = (folder / "study.html").read_text()
    check_self_contained(text)
    grid = text.split('id="grid"')[1].split("</section>")[0]
    shown = [a["class"].removeprefix("verdict-") for a in Page(grid).all("td")
             if a.get("class", "").startswith("verdict-")]
    written = {task: [row["verdict"] for row in csv.DictReader(open(folder / f"{task}.csv"))]
               for task in ("xor", "circles")}
    assert shown == [verdict for pair in zip(written["xor"], written["circles"], strict=True)
                     for verdict in pair]


def browser() -> str | None:
    """A Chromium-like binary: $BLGNN_ES_BROWSER, else the first on PATH."""
    names = [os.environ.get("BLGNN_ES_BROWSER", ""), "chromium", "chromium-browser",
             "google-chrome", "google-chrome-stable"]
    return next((found for name in names if name and (found := shutil.which(name))), None)


@pytest.mark.slow
def test_a_real_run_page_renders_in_headless_chromium(tmp_path, invoke):
    binary = browser()
    if binary is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium; or set "
                    "BLGNN_ES_BROWSER): the page is checked without a browser above")
    config = tmp_path / "tiny.toml"
    config.write_text(VALIDATED.replace("[report]", "[report]\nvalidate_seeds = 2\n"
                                        "test_seeds = 2"))
    assert invoke("evolve", "-c", config, "--out-dir", tmp_path).exit_code == 0
    assert invoke("report", tmp_path / "tiny").exit_code == 0
    page, shot = tmp_path / "tiny" / RUN_PAGE, tmp_path / "shot.png"
    check_self_contained(page.read_text())
    subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    "--window-size=1200,4000", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    assert pixels.shape[:2] == (4000, 1200)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100  # not one colour
    assert (pixels.min(axis=2) < 200).mean() > 0.02  # text and lines, not a blank page
    # the embedded figures drew: saturated pixels (curves, heat maps), not broken images
    assert ((pixels.max(axis=2) - pixels.min(axis=2)) > 100).sum() > 20000
