"""The one-state ABCD Hebbian baseline (baselines/hebbian.py): its learning step equals a
plain per-synapse loop, the delta-rule setting equals SGD on the squared error, its
meta-training spends exactly its budget and is reproducible from the seed, and it shows up
in ``evaluate --baselines`` paired by seed; bad settings exit 2 naming the key."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest
from click.testing import CliRunner

from blgnn_es.baselines import hebbian
from blgnn_es.baselines.gradient import Mlp, train_rates
from blgnn_es.baselines.hebbian import Probe, evolve_rule, rule_size, start_rule, train_rules
from blgnn_es.cli import cli
from blgnn_es.config.baselines import BaselineSettings
from blgnn_es.config.study import parse_study
from blgnn_es.errors import ConfigError
from blgnn_es.evaluation import EvaluationRequest
from blgnn_es.model.genome import hebbian_genome, save_genome


def _invoke(command: str):
    return CliRunner().invoke(cli, shlex.split(command), catch_exceptions=False)


def _reference(rule, start, x_train, y_train, hidden="tanh", output="tanh"):
    """One network, example by example and synapse by synapse: SPEC-free plain Python."""
    phi = {"tanh": np.tanh, "identity": lambda z: z}
    weights = [w.copy() for w in start]
    layers = len(weights)
    for x, labels in zip(x_train, y_train, strict=True):
        batch = len(x)
        deltas = [np.zeros_like(w) for w in weights]
        for example in range(batch):
            values = [x[example]]
            for layer, w in enumerate(weights):
                n, m = w.shape[0] - 1, w.shape[1]
                z = [sum(values[-1][i] * w[i, j] for i in range(n)) + w[n, j] for j in range(m)]
                values.append(phi[output if layer == layers - 1 else hidden](np.array(z)))
            n_out = len(values[-1])
            target = [1.0 if labels[example] == j else -1.0 for j in range(n_out)]
            alpha, beta = rule[4 * layers], rule[4 * layers + 1]
            values[-1] = np.array([alpha * target[j] + beta * values[-1][j]
                                   for j in range(n_out)])
            for layer, w in enumerate(weights):
                a, b, c, d = rule[4 * layer:4 * layer + 4]
                pre = list(values[layer]) + [1.0]
                post = values[layer + 1]
                for i in range(w.shape[0]):
                    for j in range(w.shape[1]):
                        deltas[layer][i, j] += (a * pre[i] * post[j] + b * pre[i]
                                                + c * post[j] + d) / batch
        weights = [w + dw for w, dw in zip(weights, deltas, strict=True)]
    return weights


def _problem(seed=0, sizes=(3, 4, 2), steps=3, batch=5):
    rng = np.random.default_rng(seed)
    start = [rng.uniform(-0.5, 0.5, (a + 1, b)) for a, b in zip(sizes, sizes[1:], strict=False)]
    x = rng.uniform(-1, 1, (steps, batch, sizes[0]))
    y = rng.integers(0, sizes[-1], (steps, batch))
    return start, x, y


def test_learning_step_equals_a_plain_loop():
    start, x, y = _problem()
    mlp = Mlp((3, 4, 2), hidden_activation="tanh", output_activation="tanh", dtype="float64")
    rules = np.random.default_rng(5).normal(0, 0.3, (3, rule_size(2)))
    run = train_rules(mlp, rules, start, x, y, [])
    for p, rule in enumerate(rules):
        expected = _reference(rule, start, x, y)
        for got, want in zip(run.weights, expected, strict=True):
            np.testing.assert_allclose(got[p], want, rtol=1e-12, atol=1e-12)
    assert not np.allclose(run.weights[0][0], run.weights[0][1])  # rules differ


def test_delta_rule_at_the_output_is_sgd_on_the_squared_error():
    """One layer, identity output, A = rate, alpha = 1, beta = -1: ΔW = rate · aᵀ(t − o)/B,
    exactly SGD on L = 1/(2B) Σ (o − t)² as the gradient baseline computes it."""
    start, x, y = _problem(1, sizes=(3, 2), steps=6, batch=8)
    mlp = Mlp((3, 2), output_activation="identity", loss="mse", dtype="float64")
    rate = 0.3
    rule = np.array([rate, 0.0, 0.0, 0.0, 1.0, -1.0])
    run = train_rules(mlp, rule[None], start, x, y, [])
    sgd = train_rates(mlp, "sgd", [rate], start, x, y)
    np.testing.assert_allclose(run.weights[0][0], sgd.final_weights(0)[0], rtol=1e-10)
    moved = train_rules(mlp, start_rule(1)[None], start, x, y, []).weights[0][0]
    assert not np.allclose(moved, sgd.final_weights(0)[0])


def test_probes_measure_accuracy_after_their_steps():
    start, x, y = _problem(2, sizes=(3, 2), steps=4, batch=6)
    mlp = Mlp((3, 2), output_activation="identity", dtype="float64")
    rule = np.array([0.5, 0.0, 0.0, 0.0, 1.0, -1.0])
    probe_x, probe_y = x.reshape(-1, 3), y.reshape(-1)
    run = train_rules(mlp, rule[None], start, x, y, [Probe(probe_x, probe_y, (2, 4))])
    for column, steps in enumerate((2, 4)):
        w = train_rules(mlp, rule[None], start, x[:steps], y[:steps], []).weights[0][0]
        guess = (probe_x @ w[:3] + w[3]).argmax(axis=1)
        assert run.accuracy[0][0, column] == pytest.approx((guess == probe_y).mean())


def test_a_diverging_rule_is_wrong_everywhere_not_an_error():
    start, x, y = _problem(3, sizes=(3, 2), steps=3, batch=4)
    mlp = Mlp((3, 2), output_activation="identity", dtype="float32")
    rule = np.array([1e30, 1e30, 1e30, 1e30, 1e30, 1e30])
    with np.errstate(all="ignore"):
        run = train_rules(mlp, rule[None], start, x, y, [Probe(x[0], y[0], (3,))])
    assert not run.finite[0] and run.accuracy[0][0, 0] == 0.0


@pytest.fixture()
def genome(tmp_path):
    return save_genome(tmp_path / "heb.npy", hebbian_genome(2, 0.01),
                       network={"states": 2, "normalization": True},
                       provenance={"hidden": [6], "tasks": ["and"],
                                   "unroll": {"steps": 4, "batch": 16, "eval_batches": 2}})


def test_meta_training_spends_its_budget_and_is_reproducible(genome, monkeypatch):
    calls = []
    real = hebbian._score

    def counting(rules, samples, settings):
        calls.append((len(rules), tuple(s.seeds("batches") for s in samples)))
        return real(rules, samples, settings)

    monkeypatch.setattr(hebbian, "_score", counting)
    request = EvaluationRequest.build(genome, tasks=("circles",), steps=3)
    settings = BaselineSettings(optimizers=("hebbian",), hebbian_evaluations=8 * 5,
                                hebbian_popsize=8, hebbian_replicas=2)
    rule = evolve_rule(request, settings)
    assert sum(n for n, _ in calls) == 40 == rule.evaluations and len(rule.history) == 5
    assert rule.tasks == ("and",) and rule.rule.shape == (rule_size(2),)
    assert len({seeds for _, seeds in calls}) == 5  # fresh draws every generation
    assert all(len(seeds) == 2 for _, seeds in calls)  # one task x 2 replicas
    again = evolve_rule(request, settings)
    np.testing.assert_array_equal(rule.rule, again.rule)
    other = evolve_rule(EvaluationRequest.build(genome, tasks=("circles",), steps=3, seed=1),
                        settings)
    assert not np.array_equal(rule.rule, other.rule)
    # the genome's unroll (4 steps of 16), not the request's 3 steps
    sample = hebbian.training_plan(request, settings)
    assert sample[0] == ("and",) and sample[2] == (4, 16, 2)


def test_meta_training_beats_its_start(genome):
    request = EvaluationRequest.build(genome, tasks=("circles",), steps=4)
    settings = BaselineSettings(optimizers=("hebbian",), hebbian_evaluations=16 * 30,
                                hebbian_popsize=16, hebbian_replicas=2, hebbian_sigma0=0.5)
    rule = evolve_rule(request, settings)
    draws = [hebbian.draw_sample(hebbian.parse_task_spec("and"),
                                 hebbian.SampleSeeds(99, g, 0, 0, "check-"), request, steps=4,
                                 batch=16, eval_batches=4) for g in range(12)]
    found, start = hebbian._score(np.stack([rule.rule, start_rule(2)]), draws, settings)
    assert found < start - 0.05, (found, start)


def test_evaluate_baselines_reports_the_rule_paired_by_seed(genome, tmp_path):
    result = _invoke(
        f"evaluate {genome} --task circles --steps 4 --batch 16 --eval-batches 2 --seeds 3 "
        f"--baselines hebbian --hebbian-evaluations 128 --out {tmp_path / 'eval'} --json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["baselines"]["hebbian_evaluations"] == 128
    (task,) = report["tasks"]
    rule = task["baselines"]["hebbian"]
    assert len(rule["curve_mean"]) == 4 and 0.0 <= rule["at_steps"]["4"]["mean"] <= 1.0
    versus = task["ahead"]["4"]["versus"]["hebbian"]
    means = task["ahead"]["4"]["means"]
    assert versus["n"] == 3
    assert versus["difference"] == pytest.approx(means["blur"] - means["hebbian"])
    assert "hebbian rule: generation 2/2" in result.stderr


@pytest.mark.parametrize("flags, message", [
    ("--hebbian-evaluations 100", "hebbian_evaluations = 100 must be a multiple of "
                                  "hebbian_popsize = 64"),
    ("--hebbian-tasks nonsense", "nonsense"),
])
def test_bad_hebbian_settings_exit_2_naming_the_key(genome, tmp_path, flags, message):
    result = CliRunner().invoke(cli, shlex.split(
        f"evaluate {genome} --task circles --steps 4 --baselines hebbian {flags} "
        f"--out {tmp_path / 'e'}"))
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_genome_without_training_tasks_needs_hebbian_tasks(tmp_path):
    bare = save_genome(tmp_path / "bare.npy", hebbian_genome(2, 0.01),
                       network={"states": 2}, provenance={"hidden": [6]})
    result = CliRunner().invoke(cli, shlex.split(
        f"evaluate {bare} --task circles --steps 4 --baselines hebbian "
        f"--hebbian-evaluations 64 --out {tmp_path / 'e'}"))
    assert result.exit_code == 2
    assert "names none; give baselines.hebbian_tasks" in result.output


def test_study_hebbian_settings_name_the_key():
    grid = ('[genomes]\na = "a.npy"\n[grid]\ntasks = ["xor"]\n[baselines]\n'
            'optimizers = ["hebbian"]\n')
    settings = parse_study(grid + 'hebbian_tasks = ["and", "xor"]\nhebbian_replicas = 2\n',
                           source="s.toml")
    assert settings.baselines.hebbian_tasks == ("and", "xor")
    assert settings.baselines.hebbian_replicas == 2
    with pytest.raises(ConfigError, match=r"^s.toml: .*hebbian_evaluations = 650 must be a "
                                          r"multiple of hebbian_popsize = 64"):
        parse_study(grid + "hebbian_evaluations = 650\n", source="s.toml")
    with pytest.raises(ConfigError, match=r"baselines.hebbian_replicas = 0 is not allowed"):
        parse_study(grid + "hebbian_replicas = 0\n", source="s.toml")
