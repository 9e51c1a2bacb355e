"""Seed sweeps on one machine: --seeds parsing, runs side by side, each seed a plain run
directory (the same metrics as a run made on its own), a refused seed does not stop the
others, and the sweep ends with the collect table."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from conftest import tiny_toml

from blgnn_es.cli import cli
from blgnn_es.config.settings import load_config_text
from blgnn_es.errors import ConfigError
from blgnn_es.es.rundir import strip_timings
from blgnn_es.es.sweep import parse_seeds, runs_at_once

TINY = tiny_toml("sw", seed=0)


def _metrics(run_dir) -> list[dict]:
    return [strip_timings(json.loads(line)) for line in (run_dir / "metrics.jsonl").open()]


def _invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_seeds_parse_ranges_and_lists():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,3,7") == [0, 3, 7]
    assert parse_seeds("0-2, 9,1") == [0, 1, 2, 9]
    for bad in ("", "a", "3-1", "1,-2", "0-99999"):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_seeds(bad)


def test_runs_at_once_share_the_cores():
    config = load_config_text(TINY)
    assert runs_at_once(config, cores=8) == 8
    loky = load_config_text(TINY.replace('"serial"', '"loky"\nworkers = 3'))
    assert runs_at_once(loky, cores=8) == 2 and runs_at_once(loky, cores=2) == 1


def test_sweep_refuses_flags_that_name_one_run(tmp_path):
    config = tmp_path / "sw.toml"
    config.write_text(TINY)
    for flag in (["--seed", "1"], ["--resume", "auto"], ["--force"]):
        result = CliRunner().invoke(cli, ["evolve", "-c", str(config), "--seeds", "0-1", *flag])
        assert result.exit_code == 2 and "--seeds and" in result.output


@pytest.mark.slow
def test_two_seed_sweep_equals_the_runs_made_separately(tmp_path):
    config = tmp_path / "sw.toml"
    config.write_text(TINY)
    alone = tmp_path / "alone"
    for seed in (0, 1):
        assert _invoke("evolve", "-c", config, "--out-dir", alone, "--seed", seed,
                       "--name", f"sw-seed{seed}").exit_code == 0
    swept = tmp_path / "swept"
    # seed 2's folder holds another config: refused, the others go on, the exit code says so
    other = tmp_path / "other.toml"
    other.write_text(TINY.replace("popsize = 6", "popsize = 8").replace('"sw"', '"sw-seed2"'))
    assert _invoke("evolve", "-c", other, "--out-dir", swept,
                   "--max-generations", "1").exit_code == 0
    result = CliRunner().invoke(cli, ["evolve", "-c", str(config), "--out-dir", str(swept),
                                      "--seeds", "0-2"])
    assert result.exit_code == 1, result.output
    for seed in (0, 1):
        assert _metrics(swept / f"sw-seed{seed}") == _metrics(alone / f"sw-seed{seed}")
    assert "[seed 0] " in result.output and "[seed 1] " in result.output
    table = re.sub(r" +", " ", result.output)  # tabulate pads the cells
    assert "| sw-seed0 |" in table and "| sw-seed1 |" in table
    assert "seed 2: refused" in result.output and "holds a run with" in result.output
    # run again: the finished seeds are continued (nothing to do), the same metrics stay
    again = CliRunner().invoke(cli, ["evolve", "-c", str(config), "--out-dir", str(swept),
                                     "--seeds", "0,1"])
    assert again.exit_code == 0, again.output
    assert _metrics(swept / "sw-seed1") == _metrics(alone / "sw-seed1")
