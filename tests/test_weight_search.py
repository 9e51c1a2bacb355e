"""CMA-ES on the network's weights (baselines/weight_search.py): it finds better weights
than the start, is reproducible from its seed, spends exactly its budget, shows up in
``evaluate --baselines`` with a paired comparison, and bad settings exit 2 naming the key."""

from __future__ import annotations

import json
import re
import shlex

import numpy as np
import pytest
from click.testing import CliRunner

from blgnn_es.baselines import weight_search
from blgnn_es.baselines.gradient import Mlp, accuracy_of
from blgnn_es.baselines.weight_search import population_loss, search_weights
from blgnn_es.cli import cli
from blgnn_es.config.study import parse_study
from blgnn_es.errors import ConfigError
from blgnn_es.model.genome import hebbian_genome, save_genome

MLP = Mlp((2, 4, 1), hidden_activation="tanh")


def _invoke(command: str):
    return CliRunner().invoke(cli, shlex.split(command), catch_exceptions=False)


def _separable(seed: int, n: int = 256):
    """Two classes split by the line x0 + x1 = 0.3, inputs uniform in [-1, 1]²."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2))
    return x.reshape(4, n // 4, 2), (x.sum(axis=1) > 0.3).astype(np.int64).reshape(4, n // 4)


def _start(seed: int = 0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-0.5, 0.5, (3, 4)), rng.uniform(-0.5, 0.5, (5, 1))]


def test_population_loss_is_the_textbook_loss():
    x, y = _separable(1)
    x, y = x.reshape(-1, 2), y.reshape(-1)
    start = _start()
    hidden = np.tanh(x @ start[0][:2] + start[0][2])
    z = (hidden @ start[1][:4] + start[1][4])[:, 0]
    logistic = np.mean(np.log1p(np.exp(-np.where(y == 1, 1, -1) * z)))
    layers = [np.stack([w, 2 * w]) for w in start]  # two networks at once
    got = population_loss(MLP, layers, x, y)
    assert got.shape == (2,) and got[0] == pytest.approx(logistic, rel=1e-10)
    assert got[1] != pytest.approx(got[0])
    mse = Mlp((2, 4, 3), hidden_activation="tanh", loss="mse", output_activation="tanh")
    w3 = [start[0], np.random.default_rng(2).uniform(-0.5, 0.5, (5, 3))]
    out = np.tanh(np.tanh(x @ w3[0][:2] + w3[0][2]) @ w3[1][:4] + w3[1][4])
    labels = y + (x[:, 0] > 0.5)
    target = np.where(labels[:, None] == np.arange(3), 1.0, -1.0)
    expected = 0.5 * ((out - target) ** 2).sum(axis=1).mean()
    got = population_loss(mse, [w[None] for w in w3], x, labels)
    assert got[0] == pytest.approx(expected, rel=1e-10)


def test_search_improves_on_the_start_and_is_reproducible():
    x, y = _separable(3)
    kwargs = dict(evaluations=16 * 40, popsize=16, sigma0=0.5)
    found = search_weights(MLP, _start(), x, y, seed=7, **kwargs)
    assert found.loss < 0.7 * found.initial_loss
    assert np.all(np.diff(found.history) <= 0) and found.history[-1] == found.loss
    flat_x, flat_y = x.reshape(-1, 2), y.reshape(-1)
    assert accuracy_of(MLP, found.weights, flat_x, flat_y) > max(
        0.9, accuracy_of(MLP, _start(), flat_x, flat_y))
    again = search_weights(MLP, _start(), x, y, seed=7, **kwargs)
    for a, b in zip(found.weights, again.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    other = search_weights(MLP, _start(), x, y, seed=8, **kwargs)
    assert not np.array_equal(found.weights[0], other.weights[0])


def test_search_spends_exactly_its_budget(monkeypatch):
    x, y = _separable(4)
    rows = []
    real = weight_search.population_loss

    def counting(mlp, layers, xs, ys):
        rows.append(layers[0].shape[0])
        return real(mlp, layers, xs, ys)

    monkeypatch.setattr(weight_search, "population_loss", counting)
    found = search_weights(MLP, _start(), x, y, evaluations=12 * 5, popsize=12, sigma0=0.3,
                           seed=1)
    # one start measurement (reported, never a candidate), then 5 generations of 12
    assert rows[0] == 1 and sum(rows[1:]) == 60 and found.evaluations == 60
    assert len(found.history) == 5
    with pytest.raises(ConfigError, match=r"evaluations \(50\) must be a positive multiple"):
        search_weights(MLP, _start(), x, y, evaluations=50, popsize=12, sigma0=0.3, seed=1)


@pytest.fixture()
def genome(tmp_path):
    return save_genome(tmp_path / "heb.npy", hebbian_genome(2, 0.01),
                       network={"states": 2, "normalization": True},
                       provenance={"hidden": [6], "unroll": {"steps": 4, "batch": 16}})


@pytest.mark.slow
def test_evaluate_baselines_reports_the_search_paired_by_seed(genome, tmp_path):
    result = _invoke(
        f"evaluate {genome} --task circles --steps 4 --batch 16 --eval-batches 2 --seeds 3 "
        f"--rates 1e-2:1:3 --baselines sgd,cmaes-weights --weights-evaluations 320 "
        f"--weights-popsize 16 --out {tmp_path / 'eval'} --json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["baselines"]["weights_evaluations"] == 320
    (task,) = report["tasks"]
    search = task["baselines"]["cmaes-weights"]
    finals = {step: entry["mean"] for step, entry in search["at_steps"].items()}
    assert len(set(finals.values())) == 1 and 0.0 < finals["4"] <= 1.0  # one network
    versus = task["ahead"]["4"]["versus"]["cmaes-weights"]
    blur, found = task["ahead"]["4"]["means"]["blur"], task["ahead"]["4"]["means"]["cmaes-weights"]
    assert versus["n"] == 3 and versus["difference"] == pytest.approx(blur - found)
    assert versus["verdict"] in ("ahead", "behind", "level")
    table = _invoke(
        f"evaluate {genome} --task circles --steps 4 --batch 16 --eval-batches 2 --seeds 3 "
        f"--rates 1e-2:1:3 --baselines cmaes-weights --weights-evaluations 320 "
        f"--weights-popsize 16 --out {tmp_path / 'eval2'}")
    assert table.exit_code == 0 and "cmaes-weights" in table.output
    assert f"{found:.4f}" in table.output  # the same seeds give the same search


@pytest.mark.parametrize("flags, key", [
    ("--weights-evaluations 100", r"weights_evaluations = 100 must be a multiple of "
                                  r"weights_popsize = 64"),
    ("--weights-popsize 1", r"weights_popsize = 1 is not allowed"),
    ("--weights-sigma0 0", r"weights_sigma0 = 0.0 is not allowed"),
])
def test_bad_search_settings_exit_2_naming_the_key(genome, tmp_path, flags, key):
    result = CliRunner().invoke(cli, shlex.split(
        f"evaluate {genome} --task circles --baselines cmaes-weights {flags} "
        f"--out {tmp_path / 'e'}"))
    assert result.exit_code == 2
    assert re.search(key, result.output), result.output


def test_study_search_settings_name_the_key():
    grid = '[genomes]\na = "a.npy"\n[grid]\ntasks = ["xor"]\n[baselines]\n'
    settings = parse_study(grid + 'optimizers = ["cmaes-weights"]\nweights_evaluations = 640\n'
                           "weights_popsize = 32\n", source="s.toml")
    assert settings.baselines.weights_evaluations == 640
    with pytest.raises(ConfigError, match=r"^s.toml: .*weights_evaluations = 650 must be a "
                                          r"multiple of weights_popsize = 64"):
        parse_study(grid + "weights_evaluations = 650\n", source="s.toml")
    with pytest.raises(ConfigError, match=r"baselines.weights_popsize = 0 is not allowed"):
        parse_study(grid + "weights_popsize = 0\n", source="s.toml")
