"""Reports a reader understands: several runs side by side, several genomes at once,
`genome diff`, titles, integer ticks and plurals (issue 13, items 3, 4 and 7)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import tiny_toml

from blgnn_es.cli import cli
from blgnn_es.errors import ConfigError
from blgnn_es.es.history import genome_at
from blgnn_es.model.genome import Genome, backprop_genome, random_genome, save_genome
from blgnn_es.reports.figures import plural
from blgnn_es.reports.overlay import (
    default_out,
    group_runs,
    plot_overlay,
    read_curves,
    same_config,
)
from blgnn_es.reports.run import genome_scales, plot_genome
from blgnn_es.reports.several import SeveralRecord

LEGACY_RUN = Path(__file__).parent / "fixtures" / "legacy-v1"
PNG = b"\x89PNG\r\n\x1a\n"


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _seed_runs(tmp_path: Path, count: int = 3) -> list[Path]:
    """Copies of the fixture run as seeds 0..count-1 of one config, fitness shifted per seed."""
    runs = []
    for seed in range(count):
        run = tmp_path / "runs" / f"legacy-seed{seed}"
        shutil.copytree(LEGACY_RUN, run)
        config = (run / "config.toml").read_text()
        config = config.replace('name = "legacy-v1"', f'name = "legacy-seed{seed}"')
        (run / "config.toml").write_text(config.replace("seed = 5", f"seed = {seed}"))
        lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        for line in lines:
            line["best_so_far"] += 0.01 * seed
        (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        runs.append(run)
    return runs


# ---- item 3: runs side by side ---------------------------------------------------------

def test_overlay_of_three_runs_has_one_line_per_run_and_the_seed_band(tmp_path):
    runs = _seed_runs(tmp_path)
    assert same_config(runs)
    curves = [read_curves(run) for run in runs]
    shown = plot_overlay(curves, tmp_path / "o.png", "three seeds", seeds_of_one=True)
    assert set(shown) == {"best_so_far", "median", "sigma", "validation"}
    for labels in shown.values():
        assert [label for label in labels if label.startswith("legacy-seed")] == [
            "legacy-seed0", "legacy-seed1", "legacy-seed2"]
        assert "median over seeds" in labels
    assert (tmp_path / "o.png").read_bytes().startswith(PNG)
    shown = plot_overlay(curves, tmp_path / "p.png", "three runs", seeds_of_one=False)
    assert all("median over seeds" not in labels for labels in shown.values())


def test_report_of_several_runs_writes_an_overlay_into_a_new_folder(tmp_path):
    runs = _seed_runs(tmp_path)
    assert default_out(runs) == tmp_path / "runs" / "report-legacy-seed"
    result = _invoke("report", *map(str, runs))
    assert result.exit_code == 0, result.output
    out = tmp_path / "runs" / "report-legacy-seed"
    assert (out / "overlay.png").read_bytes().startswith(PNG)
    summary = (out / "overlay.md").read_text()
    assert "3 runs side by side" in summary and "yes" in summary
    assert _invoke("report", *map(str, runs)).exit_code == 2  # an earlier report is kept
    assert _invoke("report", *map(str, runs), "--force").exit_code == 0
    assert not (runs[0] / "overlay.png").exists()


def test_runs_of_different_configs_are_not_seeds_of_one(tmp_path):
    runs = _seed_runs(tmp_path, 2)
    text = (runs[1] / "config.toml").read_text()
    (runs[1] / "config.toml").write_text(text.replace("popsize = 6", "popsize = 8"))
    assert not same_config(runs)


def test_collect_writes_the_overlay_beside_its_table(tmp_path):
    runs = _seed_runs(tmp_path)
    table = tmp_path / "seeds.csv"
    result = _invoke("collect", *map(str, runs), "-o", str(table))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "seeds.png").read_bytes().startswith(PNG)
    assert _invoke("collect", *map(str, runs), "-o", str(tmp_path / "other.md")).exit_code == 0
    (tmp_path / "third.png").write_text("x")
    assert _invoke("collect", *map(str, runs), "-o", str(tmp_path / "third.md")).exit_code == 2


# ---- item 7: figures -------------------------------------------------------------------

def test_plural():
    assert plural(1, "seed") == "1 seed" and plural(3, "seed") == "3 seeds"


def test_genome_heat_map_shares_one_scale_with_backprop(tmp_path):
    values = random_genome(2, 0, 3.0)
    matrices, scalars = genome_scales([Genome(values), Genome(backprop_genome(0.1))])
    assert matrices == np.abs(values[:16]).max() and scalars == max(1.0, np.abs(values[16:]).max())
    figure = plot_genome(values, tmp_path / "g.png", title="run: mean")
    assert figure.read_bytes().startswith(PNG)


def test_single_evaluate_says_one_seed(tmp_path):
    a = tmp_path / "a.npy"
    save_genome(a, random_genome(2, 0, 0.5))
    result = _invoke("evaluate", str(a), "--task", "circles", "--layers", "4", "--seeds", "1",
                     "--steps", "3", "--batch", "8", "--eval-batches", "1")
    assert result.exit_code == 0, result.output
    assert "1 fresh network per task" in result.output


# ---- item 4: several genomes at once ---------------------------------------------------

def _genomes(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / "a.npy", tmp_path / "b.npy"]
    for seed, path in enumerate(paths):
        save_genome(path, random_genome(2, seed, 0.5))
    return paths


EVAL = ("--task", "circles", "--layers", "6", "--seeds", "3", "--steps", "4", "--batch", "16",
        "--eval-batches", "1")


def test_several_genomes_pair_by_seed_with_the_single_genome_numbers(tmp_path):
    a, b = _genomes(tmp_path)
    result = _invoke("evaluate", str(a), str(b), *EVAL, "--json", "--out", str(tmp_path / "ab"))
    assert result.exit_code == 0, result.output
    record = SeveralRecord.model_validate_json(result.output)
    assert [g.genome for g in record.genomes] == [str(a), str(b)]
    assert {(p.task, p.step) for p in record.pairings} == {("circles", 1), ("circles", 2),
                                                          ("circles", 3), ("circles", 4)}
    alone = []
    for path in (a, b):
        single = _invoke("evaluate", str(path), *EVAL, "--json", "--out",
                         str(tmp_path / path.stem))
        alone.append(json.loads(single.output)["tasks"][0]["accuracies"])
    assert [g.tasks[0].accuracies for g in record.genomes] == alone  # the same draws
    last = next(p for p in record.pairings if p.step == 4).paired
    assert np.isclose(last.difference, np.mean(alone[1]) - np.mean(alone[0]))
    assert (tmp_path / "ab" / "genomes.png").read_bytes().startswith(PNG)
    assert json.loads((tmp_path / "ab" / "genomes.json").read_text())["pairings"]
    table = _invoke("evaluate", str(a), str(b), *EVAL, "--out", str(tmp_path / "ab"), "--force")
    assert "2 genomes, 3 seeds per task" in table.output and "  b.npy −" in table.output


def test_several_genomes_beside_baselines(tmp_path):
    a, b = _genomes(tmp_path)
    result = _invoke("evaluate", str(a), str(b), *EVAL, "--baselines", "sgd", "--rates",
                     "0.1", "--json", "--out", str(tmp_path / "ab"))
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert "baselines" in record["genomes"][0] and "baselines" not in record["genomes"][1]
    assert (tmp_path / "ab" / "baselines.png").exists()


def test_genome_diff(tmp_path):
    a = tmp_path / "a.npy"
    save_genome(a, random_genome(2, 0, 0.5))
    bp = tmp_path / "bp.npy"
    assert _invoke("genome", "backprop", "-o", str(bp)).exit_code == 0
    result = _invoke("genome", "diff", str(a), str(bp))
    assert result.exit_code == 0, result.output
    assert "nu_pre" in result.output and "eta_syn" in result.output and "B − A" in result.output
    assert "11 of 11 slots differ" in result.output and "feedback: A=—  B=error" in result.output
    same = _invoke("genome", "diff", str(bp), str(bp))
    assert "0 of 11 slots differ" in same.output
    np.testing.assert_array_equal(backprop_genome(0.1), np.load(bp))


TINY_RUN = tiny_toml("hist", seed=1)


def test_evaluate_a_run_at_a_generation_is_its_recorded_mean(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(TINY_RUN)
    assert _invoke("evolve", "-c", str(config), "--out-dir", str(tmp_path / "runs")
                   ).exit_code == 0
    run = tmp_path / "runs" / "hist"
    flags = ("--seeds", "3", "--json")
    at_last = json.loads(_invoke("evaluate", str(run), "--generation", "3", *flags).output)
    mean = json.loads(_invoke("evaluate", str(run / "mean_genome.npy"), *flags).output)
    assert at_last["tasks"][0]["accuracies"] == mean["tasks"][0]["accuracies"]
    assert at_last["genome"] == str(run / "generation-3-mean")
    assert (run / "generation-3-mean-eval" / "curve.png").exists()
    second = tmp_path / "second.npy"
    save_genome(second, genome_at(run, 2).values)
    alone = json.loads(_invoke("evaluate", str(second), "--layers", "6", "--task", "xor",
                               "--steps", "4", "--batch", "16", "--eval-batches", "1",
                               *flags).output)
    both = SeveralRecord.model_validate_json(_invoke(
        "evaluate", str(run), str(second), "--generation", "2", "--layers", "6", *flags,
        "--out", str(tmp_path / "two")).output)
    assert both.genomes[0].tasks[0].accuracies == alone["tasks"][0]["accuracies"]
    assert both.genomes[1].tasks[0].accuracies == alone["tasks"][0]["accuracies"]
    assert {p.paired.verdict for p in both.pairings} == {"level"}
    refused = _invoke("evaluate", str(run), "--seeds", "2")
    assert refused.exit_code != 0 and "--generation" in refused.output


def test_overlay_groups_the_seeds_of_each_config_and_plots_by_unrolls(tmp_path):
    runs = _seed_runs(tmp_path, 4)
    for run in runs[2:]:  # seeds 2 and 3: another config, named apart
        text = (run / "config.toml").read_text().replace("popsize = 6", "popsize = 8")
        (run / "config.toml").write_text(text.replace("legacy-seed", "other-seed"))
        run.rename(run.with_name(run.name.replace("legacy", "other")))
    runs = runs[:2] + [run.with_name(run.name.replace("legacy", "other")) for run in runs[2:]]
    assert group_runs(runs) == [[0, 1], [2, 3]] and not same_config(runs)
    limits = (runs[1] / "config.toml").read_text().replace("max_generations = 3",
                                                           "max_generations = 30")
    (runs[1] / "config.toml").write_text(limits)  # a limit a resume may change: same group
    assert group_runs(runs) == [[0, 1], [2, 3]]
    curves = [read_curves(run) for run in runs]
    lines = [json.loads(t) for t in (runs[0] / "metrics.jsonl").read_text().splitlines()]
    np.testing.assert_array_equal(curves[0].x("unrolls"),
                                  [line["evaluations"] for line in lines])  # 1 task, 1 replica
    shown = plot_overlay(curves, tmp_path / "g.png", "two configs", groups=group_runs(runs),
                         x="unrolls")
    assert "legacy: median over seeds" in shown["best_so_far"]
    assert "other: median over seeds" in shown["best_so_far"]
    with pytest.raises(ConfigError, match="--x"):
        plot_overlay(curves, tmp_path / "h.png", "bad", x="minutes")
    result = _invoke("report", *map(str, runs), "--x", "seconds", "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    summary = (tmp_path / "o" / "overlay.md").read_text()
    assert "`legacy` (2 seeds)" in summary and "`other` (2 seeds)" in summary
