"""`evaluate --baselines` and `blgnn-es study` end to end: toy tasks, one MNIST run, a tiny
study grid, and config errors."""

from __future__ import annotations

import csv
import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from blgnn_es.cli import cli
from blgnn_es.config.baselines import BaselineSettings, EvaluationSettings
from blgnn_es.config.study import load_study, parse_study
from blgnn_es.errors import ConfigError
from blgnn_es.model.genome import hebbian_genome, save_genome

ROOT = Path(__file__).resolve().parents[1]


def _invoke(command: str):
    return CliRunner().invoke(cli, shlex.split(command), catch_exceptions=False)


@pytest.fixture()
def genome(tmp_path) -> Path:
    """A k = 2 Hebbian genome whose sidecar names its hidden sizes and unroll (as evolve's)."""
    return save_genome(
        tmp_path / "heb.npy",
        hebbian_genome(2, 0.01),
        network={"states": 2, "normalization": True},
        provenance={"hidden": [8], "unroll": {"steps": 4, "batch": 16}},
    )


def test_evaluate_baselines_json_on_toy_tasks(genome, tmp_path):
    out = tmp_path / "eval"
    result = _invoke(
        f"evaluate {genome} --task xor --task blobs5 --steps 12 --batch 16 --eval-batches 3 "
        f"--seeds 2 --rates 1e-3:1:4 --baselines sgd,adam --out {out} --json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["baselines"]["optimizers"] == ["sgd", "adam"]
    assert len(report["baselines"]["rates"]) == 4
    for task in report["tasks"]:
        assert task["budgets"] == [1, 5, 10, 12]
        assert set(task["baselines"]) == {"sgd", "adam"}
        adam = task["baselines"]["adam"]
        assert set(adam["at_steps"]) == {"1", "5", "10", "12"}
        assert adam["curve_rate"] == adam["at_steps"]["12"]["rate"]
        assert len(adam["curve_mean"]) == 12
        assert len(adam["validation_mean"]) == 4 and len(adam["validation_mean"][0]) == 4
        assert set(task["ahead"]) == {"1", "5", "10", "12"}
        last = task["ahead"]["12"]
        assert set(last["means"]) == {"blur", "sgd", "adam"} and set(last["versus"]) == {"sgd",
                                                                                         "adam"}
        assert last["verdict"] in ("ahead", "behind", "level") and 0 <= last["p_value"] <= 1
        assert last["rival"] == max(("sgd", "adam"), key=lambda n: last["means"][n])
        assert last["versus"][last["rival"]]["p_value"] == last["p_value"]
        adam12 = adam["at_steps"]["12"]
        assert adam12["low"] <= adam12["mean"] <= adam12["high"]
        assert task["accuracy_low"] <= task["accuracy_mean"] <= task["accuracy_high"]
        assert task["validation_examples"] == 48
    for key in ("baselines_csv", "baselines_png", "baselines_json", "csv", "png"):
        assert Path(report["files"][key]).exists()
    rows = list(csv.DictReader(open(report["files"]["baselines_csv"])))
    assert {row["learner"] for row in rows} == {"blur", "sgd", "adam"}


def test_evaluate_baselines_table_and_same_blur_numbers(genome, tmp_path):
    """On a toy task the baselines change nothing for BLUR: same draws, same curve."""
    common = (
        f"evaluate {genome} --task circles --steps 6 --batch 16 --eval-batches 2 --seeds 2 --at 2,4"
    )
    plain = json.loads(_invoke(f"{common} --out {tmp_path / 'a'} --json").output)
    table = _invoke(f"{common} --out {tmp_path / 'b'} --baselines momentum --rates 0.01,0.1")
    assert table.exit_code == 0, table.output
    assert "momentum" in table.output and "  lr" in table.output and "blur is" in table.output
    assert "paired t-test" in table.output and "95% Student t interval" in table.output
    with_baselines = json.loads((tmp_path / "b" / "baselines.json").read_text())
    assert with_baselines["tasks"][0]["curve_mean"] == plain["tasks"][0]["curve_mean"]


def test_evaluate_feedback_alignment_baseline(genome, tmp_path):
    result = _invoke(
        f"evaluate {genome} --task xor --layers 6,4 --steps 8 --batch 16 --eval-batches 2 "
        f"--seeds 3 --rates 0.1,1 --baselines fa,sgd --out {tmp_path / 'fa'} --json"
    )
    assert result.exit_code == 0, result.output
    task = json.loads(result.output)["tasks"][0]
    assert set(task["baselines"]) == {"fa", "sgd"} and set(task["ahead"]["8"]["versus"]) == {
        "fa", "sgd"}
    assert task["baselines"]["fa"]["curve_mean"] != task["baselines"]["sgd"]["curve_mean"]


def test_evaluate_baselines_refuses_unknown_optimizer(genome, tmp_path):
    command = f"evaluate {genome} --task xor --baselines sgd,rmsprop --out {tmp_path / 'x'}"
    result = CliRunner().invoke(cli, shlex.split(command))
    assert result.exit_code == 2 and "rmsprop" in result.output


@pytest.mark.slow
def test_evaluate_baselines_on_mnist(genome, tmp_path, data_dir):
    result = _invoke(
        f"evaluate {genome} --task mnist:resolution=10 --layers 32 --steps 5 --batch 32 "
        f"--eval-batches 2 --seeds 2 --rates 0.01:1:3 --baselines sgd,momentum,adam "
        f"--data-dir {data_dir} --out {tmp_path / 'm'} --json"
    )
    assert result.exit_code == 0, result.output
    task = json.loads(result.output)["tasks"][0]
    assert task["layer_sizes"] == [100, 32, 10]
    assert task["validation_examples"] == 64
    assert task["baselines"]["adam"]["at_steps"]["5"]["mean"] > 0.3  # it learns


STUDY = """
[study]
name = "tiny"
seeds = 2
[genomes]
heb = "heb.npy"
[grid]
tasks = ["xor", "circles"]
layers = ["genome", [6, 4]]
steps = [1, 3, 8]
batch = 16
eval_batches = 2
[baselines]
optimizers = ["sgd", "adam"]
rates = {low = 0.01, high = 1.0, count = 3}
"""


def test_study_end_to_end(genome, tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(STUDY)
    result = _invoke(f"study {config} --out-dir {tmp_path / 'studies'}")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "studies" / "tiny"
    for task in ("xor", "circles"):
        for suffix in (".md", ".csv", ".png"):
            assert (folder / f"{task}{suffix}").exists()
        rows = list(csv.DictReader(open(folder / f"{task}.csv")))
        assert len(rows) == 2 * 3  # two architectures x three budgets
        assert {row["layer_sizes"] for row in rows} == {"2-8-1", "2-6-4-1"}
        assert [row["beyond_evolved"] for row in rows[:3]] == ["False", "False", "True"]
        assert {"blur_mean", "sgd_mean", "sgd_rate", "adam_rate", "ahead", "blur_low",
                "blur_minus_adam", "blur_vs_sgd_p", "blur_vs_sgd", "verdict"} <= set(rows[0])
    markdown = (folder / "xor.md").read_text()
    assert re.search(r"\| heb +\| 2-6-4-1 +\| 8\* +\|", markdown)
    assert "never the test split" in markdown
    assert json.loads((folder / "study.json").read_text())["budgets"] == [1, 3, 8]


GRID = '[genomes]\na = "a.npy"\n[grid]\ntasks = ["xor"]\n'


@pytest.mark.parametrize(
    "text, pattern",
    [
        (GRID + "stepz = [1]\n", r"^s.toml: unknown key grid.stepz .*allowed in \[grid\]: batch"),
        (GRID + "layers = [[0]]\n", r"^s.toml: grid.layers = \[\[0\]\] is not allowed"),
        (GRID + "[baselines]\noptimizers = [\"rmsprop\"]\n", r"baselines.optimizers.*rmsprop"),
        (GRID + "batch = 0\n", r"grid.batch = 0 is not allowed; allowed: an integer >= 1"),
        (GRID + "eval_batches = \"most\"\n", r"grid.eval_batches = 'most'.*\"all\""),
        (GRID + "[study]\nseeds = \"5\"\n", r"study.seeds = '5' is not allowed"),
        (GRID + "[baselines]\nvalidation_fraction = 1.5\n", r"> 0 and < 1"),
        (GRID + "[baselines]\nrates = [0.1, -1.0]\n", r"baselines.rates"),
        (GRID + "[studie]\n", r"unknown section \[studie\]; allowed: study, genomes, grid"),
        ('[grid]\ntasks = ["xor"]\n', r"genomes is required"),
        ('[genomes]\na = "a.npy"\n', r"grid.tasks is required"),
        ('[genomes]\na = "a.npy"\n[grid]\ntasks = ["xorr"]\n', r"grid.tasks.*unknown task"),
    ],
)
def test_study_config_errors_name_the_key(text, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse_study(text, source="s.toml")


def test_study_config_defaults_come_from_the_protocol():
    settings = parse_study(GRID + '[baselines]\nrates = {low = 0.01, high = 1.0, count = 3}\n',
                           source="my-study.toml")
    protocol = EvaluationSettings()
    assert (settings.batch, settings.eval_batches) == (protocol.batch, protocol.eval_batches)
    assert (settings.seeds, settings.seed) == (protocol.seeds, protocol.seed) == (10, 0)
    assert (protocol.steps, protocol.batch, protocol.eval_batches) == (15, 128, 20)
    assert settings.name == "my-study" and settings.layers == (None,)
    assert settings.budgets == (1, 5, 10, 20, 50, 100)
    assert settings.baselines == BaselineSettings(rates=(0.01, 0.1, 1.0))
    assert parse_study(GRID + 'eval_batches = "all"\n').eval_batches is None


def test_baseline_settings_in_code_raise_config_errors():
    with pytest.raises(ConfigError, match=r"^baselines: optimizers .*rmsprop.*sgd, momentum"):
        BaselineSettings(optimizers=("sgd", "rmsprop"))
    with pytest.raises(ConfigError, match=r"^evaluation: steps = 0"):
        EvaluationSettings(steps=0)


def test_shipped_study_config_parses():
    settings = load_study(ROOT / "configs" / "study-transfer.toml")
    assert settings.tasks and settings.genomes and max(settings.budgets) >= 100


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("study-*.toml")),
                         ids=lambda p: p.name)
def test_every_shipped_study_config_names_shipped_genomes(path):
    settings = load_study(path)
    assert settings.tasks and settings.budgets
    for genome in settings.genomes:
        assert (ROOT / genome.path).is_file(), f"{path.name}: {genome.label} -> {genome.path}"
