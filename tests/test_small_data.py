"""Small datasets handled in the open (issue 12 item 5): a split smaller than the batch, or
too few held-out examples for the baselines' rate choice, gives one warning line and a
``warnings`` field in the JSON; --batch and --validation-fraction make them go away."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from blgnn_es.cli import cli
from blgnn_es.evaluation import sizes_label
from blgnn_es.model.genome import hebbian_genome, save_genome
from blgnn_es.model.sidecar import Provenance
from tests.conftest import tiny_toml


def _dataset(tmp_path, n: int) -> str:
    """A three-class npz of ``n`` examples (the loader holds out 20 % as the test split)."""
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    path = tmp_path / f"small{n}.npz"
    np.savez(path, X=rng.normal(size=(n, 4)) + y[:, None], y=y)
    return f"file:{path}"


def _genome(tmp_path):
    path = tmp_path / "rule.npy"
    save_genome(path, hebbian_genome(2, 0.5), network={"states": 2},
                provenance=Provenance(tasks=["digits"], hidden=[8]))
    return path


def _evaluate(*args):
    result = CliRunner().invoke(cli, ["evaluate", *map(str, args), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    return json.loads(result.stdout), warned


def test_splits_smaller_than_the_batch_are_said_once_and_recorded(tmp_path):
    task, genome = _dataset(tmp_path, 60), _genome(tmp_path)  # 48 train, 12 test examples
    record, warned = _evaluate(genome, "--task", task, "--batch", "64", "--eval-batches", "2",
                               "--steps", "2", "--seeds", "2", "--out", tmp_path / "a")
    notes = record["tasks"][0]["warnings"]
    assert len(notes) == 2 and [f"warning: {note}" for note in notes] == warned
    assert "48 training examples, fewer than a batch of 64" in notes[0]
    assert "lower --batch" in notes[0]
    assert "12 test examples" in notes[1] and "--eval-batches all" in notes[1]
    record, warned = _evaluate(genome, "--task", task, "--batch", "8", "--eval-batches", "2",
                               "--steps", "2", "--seeds", "2", "--out", tmp_path / "b")
    assert record["tasks"][0]["warnings"] == [] and warned == []


def test_a_toy_task_never_warns(tmp_path):
    record, warned = _evaluate(_genome(tmp_path), "--task", "xor", "--batch", "512",
                               "--steps", "1", "--seeds", "1", "--out", tmp_path / "t")
    assert record["tasks"][0]["warnings"] == [] and warned == []


def test_too_few_held_out_examples_for_the_rate_choice_are_said(tmp_path):
    task, genome = _dataset(tmp_path, 300), _genome(tmp_path)  # 240 train: 24 held out
    common = ("--task", task, "--batch", "16", "--eval-batches", "1", "--steps", "2",
              "--seeds", "2", "--baselines", "sgd", "--rates", "0.01,0.1")
    record, warned = _evaluate(genome, *common, "--out", tmp_path / "a")
    (note,) = record["tasks"][0]["warnings"]
    assert warned == [f"warning: {note}"]
    assert "chosen on 24 held-out examples (fewer than 50)" in note
    assert "--validation-fraction (now 0.1)" in note
    assert record["tasks"][0]["validation_examples"] == 16  # a batch of the 24
    more = [a if a != "1" else "3" for a in common]  # 3 batches of 16: drawn with replacement
    record, _ = _evaluate(genome, *more, "--out", tmp_path / "c")
    assert record["tasks"][0]["validation_examples"] == 24  # the distinct ones, not 48
    record, warned = _evaluate(genome, *common, "--validation-fraction", "0.25",
                               "--out", tmp_path / "b")
    assert record["tasks"][0]["warnings"] == [] and warned == []


def test_evolve_check_names_the_config_key(tmp_path):
    task = _dataset(tmp_path, 60)
    config = tmp_path / "small.toml"
    config.write_text(tiny_toml("small", 0).replace('train = ["xor"]', f'train = ["{task}"]')
                      .replace("batch = 16", "batch = 64"))
    result = CliRunner().invoke(cli, ["evolve", "--config", str(config), "--check"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "48 training examples, fewer than a batch of 64" in result.stdout
    assert "lower unroll.batch" in result.stdout


def test_baselines_run_on_a_family_that_draws_its_shape_per_seed(tmp_path):
    """tabular draws its features and classes from each seed: every seed's baseline trains
    its own network (it once stopped with 'baseline start weights ..., expected ...')."""
    record, _ = _evaluate(_genome(tmp_path), "--task", "tabular", "--two-class", "argmax",
                          "--steps", "3", "--seeds", "4", "--batch", "16", "--eval-batches",
                          "2", "--baselines", "sgd,adam", "--rates", "1e-2:1:3",
                          "--out", tmp_path / "t")
    (task,) = record["tasks"]
    for name in ("sgd", "adam"):
        accuracies = task["baselines"][name]["at_steps"]["3"]
        assert 0.0 < accuracies["mean"] <= 1.0
    assert task["ahead"]["3"]["versus"]["adam"]["n"] == 4
    shapes = task["layer_sizes_per_seed"]
    assert len(shapes) == 4 and len({tuple(s) for s in shapes}) > 1
    assert task["layer_sizes"] == shapes[0]


def test_a_size_that_differs_over_seeds_is_shown_as_its_range():
    assert sizes_label([(9, 32, 2), (23, 32, 4), (12, 32, 4)]) == "9..23-32-2..4"
    assert sizes_label([(4, 32, 3), (4, 32, 3)]) == "4-32-3"
    assert sizes_label([(4, 8, 3), (4, 8, 8, 3)]) == "4-8-3 | 4-8-8-3"
