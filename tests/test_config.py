"""Config parsing and validation: typed values, defaults, and exit-2 errors naming the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from blgnn_es.cli import cli
from blgnn_es.config.settings import SCHEMA, load_config, load_config_text, reference_markdown
from blgnn_es.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
MINIMAL = '[tasks]\ntrain = ["xor"]\n'


def test_defaults_and_types():
    cfg = load_config_text(MINIMAL, default_name="mini")
    assert cfg.run.name == "mini" and cfg.run.seed == 0
    assert cfg.network.hidden == (20,) and cfg.network.states == 2
    assert cfg.unroll.eval_batches == 10 and cfg.cmaes.popsize is None
    assert cfg.genome.evolve[0] == "nu" and len(cfg.genome.evolve) == 11
    assert cfg.network.spec(2, 1).layer_sizes == (2, 20, 1)


def test_round_trip_through_resolved_toml():
    cfg = load_config_text(MINIMAL + '[unroll]\neval_batches = "all"\n[cmaes]\n'
                           'time_budget = "2h"\ntarget_fitness = 0.1\n'
                           '[network]\nhidden_activation = ["relu_tanh", "tanh"]\n')
    again = load_config_text(cfg.to_toml())
    assert again == cfg
    assert again.cmaes.time_budget == 7200.0 and again.unroll.eval_batches is None


def test_overrides():
    cfg = load_config_text(MINIMAL, overrides=["unroll.steps=20", "run.name=other",
                                               "tasks.train=[\"and\", \"mnist:resolution=14\"]"])
    assert cfg.unroll.steps == 20 and cfg.run.name == "other"
    assert [str(t) for t in cfg.tasks.train] == ["and", "mnist:resolution=14"]


@pytest.mark.parametrize("text, pieces", [
    ("[unroll]\nstepz = 3\n", ["unroll.stepz", "allowed in [unroll]", "steps"]),
    ("[unrol]\nsteps = 3\n", ["[unrol]", "allowed"]),
    ("[unroll]\nsteps = \"ten\"\n", ["unroll.steps", "'ten'", "an integer >= 1"]),
    ("[unroll]\nsteps = 0\n", ["unroll.steps", "0", "an integer >= 1"]),
    ("[cmaes]\nsigma0 = -1.0\n", ["cmaes.sigma0", "-1.0", "> 0"]),
    ("[fitness]\nmetric = \"acc\"\n", ["fitness.metric", "accuracy, l2, ce"]),
    ("[network]\nhidden = [0]\n", ["network.hidden", ">= 1"]),
    ("[network]\nhidden_activation = [\"tanh\"]\n", ["[network]", "2 names"]),
    ("[genome]\nevolve = [\"nu\", \"lr\"]\n", ["genome.evolve", "slot names"]),
    ("[genome]\ninitial = \"nope.npy\"\n", ["genome.initial", "no such file"]),
    ("[genome]\nbounds = [1, -1]\n", ["genome.bounds", "low"]),
    ("[cmaes]\ntime_budget = \"soon\"\n", ["cmaes.time_budget", "\"2h\""]),
])
def test_errors_name_file_key_value_allowed(text, pieces):
    with pytest.raises(ConfigError) as err:
        load_config_text(MINIMAL + text, source="my.toml")
    message = str(err.value)
    assert message.startswith("my.toml")
    for piece in pieces:
        assert piece in message, message


def test_missing_train_tasks_and_unknown_task():
    with pytest.raises(ConfigError, match="tasks.train is required"):
        load_config_text("[run]\nseed = 1\n")
    with pytest.raises(ConfigError, match="tasks.train.*unknown task 'xorr'"):
        load_config_text('[tasks]\ntrain = ["xorr"]\n')


@pytest.mark.parametrize("line, key", [
    ("[unroll]\nbogus = 1", "unroll.bogus"),
    ("[unroll]\nsteps = true", "unroll.steps"),
    ("[unroll]\nbatch = -5", "unroll.batch"),
])
def test_cli_exits_2_naming_the_key(tmp_path, line, key):
    path = tmp_path / "bad.toml"
    path.write_text(MINIMAL + line + "\n")
    result = CliRunner().invoke(cli, ["evolve", "--config", str(path), "--out-dir",
                                      str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert key in result.output and "bad.toml" in result.output


def test_cli_set_errors_exit_2(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text(MINIMAL)
    result = CliRunner().invoke(cli, ["evolve", "-c", str(path), "--set", "unroll.steps",
                                      "--out-dir", str(tmp_path)])
    assert result.exit_code == 2 and "section.key=value" in result.output


EVOLVE_CONFIGS = sorted(p for p in CONFIGS.glob("*.toml") if not p.name.startswith("study-"))


@pytest.mark.parametrize("path", EVOLVE_CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    """Evolution configs (study-*.toml are `blgnn-es study` configs, tested in test_study)."""
    cfg = load_config(path)
    assert cfg.run.name == path.stem
    assert "takes" in path.read_text().lower()  # each says how long it takes here


def test_reference_lists_every_key():
    text = reference_markdown()
    for section, keys in SCHEMA.items():
        assert f"[{section}]" in text
        for key in keys:
            assert re.search(rf"\| `{key.name}` \|", text)


def test_docs_carry_the_current_key_reference():
    docs = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert reference_markdown() in docs


def test_override_errors_say_they_come_from_set():
    with pytest.raises(ConfigError, match=r"^--set unroll.steps = 0 is not allowed"):
        load_config_text(MINIMAL, source="my.toml", overrides=["unroll.steps=0"])
    with pytest.raises(ConfigError, match=r"^--set: unknown key unroll.stepz"):
        load_config_text(MINIMAL, source="my.toml", overrides=["unroll.stepz=3"])
