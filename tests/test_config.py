"""Config parsing and validation: typed values, defaults, and exit-2 errors naming the key."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from blgnn_es.cli import cli
from blgnn_es.config.reference import reference_markdown
from blgnn_es.config.settings import Config, load_config, load_config_text
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
                           '[network]\nhidden_activation = ["relu_tanh", "tanh"]\n'
                           '[genome]\nbounds = [-2, 2]\nevolve = ["nu", "mu", "nu"]\n')
    again = load_config_text(cfg.to_toml())
    assert again == cfg and again.to_toml() == cfg.to_toml()
    assert again.cmaes.time_budget == 7200.0 and again.unroll.eval_batches is None
    assert again.genome.bounds == (-2.0, 2.0) and again.genome.evolve == ("nu", "mu")
    assert again.network.hidden_activation == ("relu_tanh", "tanh")


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("[!s]*.toml")), ids=lambda p: p.name)
def test_shipped_configs_round_trip_with_exact_types(path):
    """Same config, same numbers: the resolved TOML loads back to equal values of equal types."""
    cfg = load_config(path)
    again = load_config_text(cfg.to_toml(), default_name=path.stem)
    assert again == cfg
    for section in Config.model_fields:
        for key, value in getattr(cfg, section):
            assert type(getattr(getattr(again, section), key)) is type(value), (section, key)


def test_settings_are_hashable_and_pickle():
    """DrawPlan holds network and unroll settings: a memo key, sent to worker processes."""
    cfg = load_config_text(MINIMAL + '[network]\nhidden_activation = ["relu_tanh", "tanh"]\n')
    for settings in (cfg.network, cfg.unroll, cfg.network.spec(2, 1)):
        assert pickle.loads(pickle.dumps(settings)) == settings
        assert hash(pickle.loads(pickle.dumps(settings))) == hash(settings)
    assert cfg.network.spec(2, 1).hidden_activation == ("relu_tanh", "tanh")
    assert cfg.unroll.steps == 10 and type(cfg.fitness.loss_cap) is float


def test_numbers_keep_their_types():
    cfg = load_config_text(MINIMAL + "[cmaes]\nsigma0 = 1\ntime_budget = 90\n"
                           "[network]\ninit_scale = 2\n")
    assert type(cfg.cmaes.sigma0) is float and cfg.cmaes.sigma0 == 1.0
    assert type(cfg.cmaes.time_budget) is float and cfg.network.spec(2, 1).init_scale == 2.0
    assert load_config_text(MINIMAL + '[cmaes]\ntime_budget = "30m"\n').cmaes.time_budget \
        == 1800.0


def test_overrides():
    cfg = load_config_text(MINIMAL, overrides=["unroll.steps=20", "run.name=other",
                                               "tasks.train=[\"and\", \"mnist:resolution=14\"]"])
    assert cfg.unroll.steps == 20 and cfg.run.name == "other"
    assert [str(t) for t in cfg.tasks.train] == ["and", "mnist:resolution=14"]


@pytest.mark.parametrize("text, pieces", [
    ("[unroll]\nstepz = 3\n", ["unroll.stepz", "allowed in [unroll]", "steps"]),
    ("[unrol]\nsteps = 3\n", ["[unrol]", "allowed"]),
    ("[unroll]\nsteps = \"ten\"\n", ["unroll.steps", "'ten'", "an integer from 1 to 100000"]),
    ("[unroll]\nsteps = 0\n", ["unroll.steps", "0", "an integer from 1 to 100000"]),
    ("[cmaes]\nsigma0 = -1.0\n", ["cmaes.sigma0", "-1.0", "> 0"]),
    ("[fitness]\nmetric = \"acc\"\n", ["fitness.metric", "accuracy, l2, ce"]),
    ("[network]\nhidden = [0]\n", ["network.hidden", "from 1 to 65536"]),
    ("[network]\nhidden_activation = [\"tanh\"]\n", ["network.hidden_activation", "2 names"]),
    ("[network]\nstates = 17\n", ["network.states", "17", "an integer from 2 to 16"]),
    ("[network]\ntied = 1\n", ["network.tied", "true or false"]),
    ("[run]\nseed = 1.5\n", ["run.seed", "1.5", "an integer from 0"]),
    ("[genome]\ninitial = \"backprop\"\n[network]\nstates = 3\n", ["network.states = 2"]),
    ("[parallel]\nbogus = 1\n", ["unknown key parallel.bogus", "allowed in [parallel]",
                                  "workers"]),
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


def test_a_section_must_be_a_table():
    with pytest.raises(ConfigError, match=r"^my.toml: unroll must be a table \[unroll\], got 3"):
        load_config_text("unroll = 3\n" + MINIMAL, source="my.toml")


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
    for section, field in Config.model_fields.items():
        assert f"### [{section}]" in text
        for key in field.annotation.model_fields:
            assert re.search(rf"\| `{key}` +\|", text)
    assert "### [grid]" in text and "### [baselines]" in text and "### [genomes]" in text


def test_docs_carry_the_current_key_reference():
    """docs/config.md is generated: python -m blgnn_es.config.reference > docs/config.md"""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "config.md").read_text()
    assert docs == reference_markdown()


def test_override_errors_say_they_come_from_set():
    with pytest.raises(ConfigError, match=r"^--set unroll.steps = 0 is not allowed"):
        load_config_text(MINIMAL, source="my.toml", overrides=["unroll.steps=0"])
    with pytest.raises(ConfigError,
                       match=r"^--set network.hidden = \[0\]: architecture \[0\] is not a list "
                       r".*from 1 to 65536"):
        load_config_text(MINIMAL, source="my.toml", overrides=["network.hidden=[0]"])
    with pytest.raises(ConfigError, match=r"^--set 'unrol.steps=3': unknown section \[unrol\]"):
        load_config_text(MINIMAL, source="my.toml", overrides=["unrol.steps=3"])
    with pytest.raises(ConfigError, match=r"^--set: unknown key unroll.stepz"):
        load_config_text(MINIMAL, source="my.toml", overrides=["unroll.stepz=3"])
