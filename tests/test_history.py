"""Genome history: every generation's mean, sigma and best sample in history.npz, cut back
on resume like metrics.jsonl, and read back by generation (1-based, as people count)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import tiny_toml

from blgnn_es.cli import cli
from blgnn_es.errors import ConfigError
from blgnn_es.es.history import genome_at, read_history, write_history
from blgnn_es.model.genome import load_genome

TINY = tiny_toml("hist", seed=1, max_generations="MAXGEN")


def _evolve(tmp_path, generations: int, *args: str):
    config = tmp_path / f"c{generations}.toml"
    config.write_text(TINY.replace("MAXGEN", str(generations)))
    result = CliRunner().invoke(cli, ["evolve", "-c", str(config), "--out-dir",
                                      str(tmp_path / f"runs{generations}"), *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return tmp_path / f"runs{generations}" / "hist"


def test_genome_at_is_the_mean_recorded_at_that_generation(tmp_path):
    run = _evolve(tmp_path, 5)
    history = read_history(run)
    assert history.generation.tolist() == list(range(5))
    assert history.mean.shape == history.best.shape == (5, history.mean.shape[1])
    mean, _ = load_genome(run / "mean_genome.npy")
    last = genome_at(run, 5)
    np.testing.assert_array_equal(last.values, mean)
    assert last.tasks == ["xor"] and last.hidden == [6] and last.unroll.steps == 4
    assert last.network["layer_sizes"] and last.provenance.generation == 4
    best, _ = load_genome(run / "best_genome.npy")
    found = int(np.argmin(history.best_fitness))
    np.testing.assert_array_equal(genome_at(run, found + 1, kind="best").values, best)
    # a run stopped at 3 wrote, as its last mean, the mean the 5-generation run kept at 3
    short = _evolve(tmp_path, 3)
    np.testing.assert_array_equal(genome_at(run, 3).values,
                                  load_genome(short / "mean_genome.npy")[0])
    with pytest.raises(ConfigError, match="no generation 6.*1-5"):
        genome_at(run, 6)
    with pytest.raises(ConfigError, match="no generation 0"):
        genome_at(run, 0)


def test_resume_drops_rows_after_the_checkpoint(tmp_path):
    run = _evolve(tmp_path, 4)
    torn = read_history(run)  # a row written after the checkpoint, before a kill
    torn.append(4, np.zeros(torn.mean.shape[1]), np.zeros(torn.mean.shape[1]), 0.0, 1.0)
    write_history(run, torn)
    again = CliRunner().invoke(cli, ["evolve", "--resume", str(run), "--max-generations", "6"],
                               catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert read_history(run).generation.tolist() == list(range(6))
    whole = _evolve(tmp_path, 6)
    np.testing.assert_array_equal(read_history(run).mean, read_history(whole).mean)
    np.testing.assert_array_equal(read_history(run).sigma, read_history(whole).sigma)
