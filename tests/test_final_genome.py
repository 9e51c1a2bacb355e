"""The genome a run hands over (issue 15 item 2): chosen on validation draws among the
means and the re-validated samples, then scored on test draws that took no part in the
choice; the same choice after a resume; the last mean without validation tasks."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from conftest import tiny_toml

import blgnn_es.fitness as fitness_module
from blgnn_es.baselines.stats import mean_intervals
from blgnn_es.config.settings import load_config_text
from blgnn_es.es import final
from blgnn_es.es.driver import evolve, make_plans
from blgnn_es.es.records import Candidate, FinalChoice, RunState
from blgnn_es.es.rundir import RunDir
from blgnn_es.model.genome import load_genome
from blgnn_es.parallel.backends import SerialBackend
from blgnn_es.reports.run import write_report

VALIDATED = ['tasks.validate=["circles", "two-moons"]', "report.validate_every=2",
             "report.validate_seeds=3", "report.final_candidates=2", "report.test_seeds=4"]
PURPOSES = ("task", "synapses", "batches")


def _config(overrides=VALIDATED, generations=5):
    return load_config_text(tiny_toml("final", seed=7, max_generations=generations),
                            overrides=list(overrides))


class Spy:
    """Records every score_genomes call: the seed prefix, the seeds and the genomes scored;
    ``test_accuracy`` (when set) replaces the accuracies the test draws give."""

    def __init__(self, test_accuracy: float | None = None) -> None:
        self.calls: list[tuple[str, set[int], np.ndarray]] = []
        self.test_accuracy = test_accuracy
        self.real = fitness_module.score_genomes

    def __call__(self, genomes, samples, *args, **kwargs):
        prefixes = {sample.seeds.prefix for sample in samples}
        assert len(prefixes) == 1  # one plan per call
        prefix = prefixes.pop()
        seeds = {sample.seeds(purpose) for sample in samples for purpose in PURPOSES}
        self.calls.append((prefix, seeds, np.array(genomes, copy=True)))
        scores = self.real(genomes, samples, *args, **kwargs)
        if prefix == final.TEST_PURPOSE and self.test_accuracy is not None:
            value = self.test_accuracy
            scores = [replace(s, task_accuracy=(value,) * len(s.task_accuracy),
                              sample_accuracy=(value,) * len(s.sample_accuracy))
                      for s in scores]
        return scores

    def seeds(self, prefix: str) -> set[int]:
        return set().union(*(seeds for p, seeds, _ in self.calls if p == prefix))


def _run(tmp_path, name, monkeypatch, spy=None, config=None, **kwargs):
    config = config or _config()
    if spy is not None:
        monkeypatch.setattr(fitness_module, "score_genomes", spy)
    run = RunDir.create(tmp_path / name, config.to_toml())
    state = evolve(config, run, SerialBackend(), **kwargs)
    return run, state


def _final(run: RunDir) -> tuple[dict, np.ndarray]:
    data = json.loads(run.final_json.read_text())
    values, _ = load_genome(run.final_genome)
    return data, values


def test_choice_sees_validation_seeds_only_and_test_seeds_are_apart(tmp_path, monkeypatch):
    spy = Spy()
    run, state = _run(tmp_path, "spied", monkeypatch, spy)
    data, genome = _final(run)
    prefixes = [prefix for prefix, _, _ in spy.calls]
    # the test draws are scored once, last, for the chosen genome alone
    assert prefixes.count(final.TEST_PURPOSE) == 1 and prefixes[-1] == final.TEST_PURPOSE
    assert np.array_equal(spy.calls[-1][2], genome[None])
    assert {"", "validate-"} == set(prefixes[:-1])
    train, validate, test = spy.seeds(""), spy.seeds("validate-"), spy.seeds("test-")
    assert train and validate and test
    assert not (train & validate) and not (train & test) and not (validate & test)
    # the seeds the test call used are exactly those of the test plan (4 seeds x 2 tasks)
    plan = make_plans(_config()).test
    expected = {derive for index in range(2) for replica in range(4)
                for derive in _plan_seeds(plan, index, replica)}
    assert test == expected and plan.replicas == 4
    # the chosen genome was validated, and it is the best candidate on validation
    validated = [g for p, _, block in spy.calls if p == "validate-" for g in block]
    assert any(np.array_equal(g, genome) for g in validated)
    scores = [c["validation"] for c in data["candidates"]]
    assert data["chosen"] == data["candidates"][int(np.argmax(scores))]
    assert data["chosen"]["validation"] == max(scores)
    # means and samples: 1 initial + validations at 2, 4, 5; two samples at each of those
    kinds = [(c["kind"], c["generation"]) for c in data["candidates"]]
    assert [k for k in kinds if k[0] == "mean"] == [("mean", 0), ("mean", 2), ("mean", 4),
                                                     ("mean", 5)]
    assert sum(k[0] == "sample" for k in kinds) == 6
    assert data["test"]["seeds"] == 4 and data["test"]["low"] <= data["test"]["accuracy"]
    assert state.candidates == [Candidate(**c) for c in data["candidates"]]


def _plan_seeds(plan, index, replica):
    from blgnn_es.evaluation import SampleSeeds

    seeds = SampleSeeds(plan.run_seed, 0, index, replica, plan.purpose)
    return [seeds(purpose) for purpose in PURPOSES]


def test_the_test_score_cannot_change_the_choice(tmp_path, monkeypatch):
    """Test draws that say something else entirely leave the choice as it was."""
    first, _ = _run(tmp_path, "honest", monkeypatch, Spy())
    second, _ = _run(tmp_path, "rigged", monkeypatch, Spy(test_accuracy=0.0))
    honest, honest_genome = _final(first)
    rigged, rigged_genome = _final(second)
    assert rigged["test"]["accuracy"] == 0.0 != honest["test"]["accuracy"]
    assert rigged["chosen"] == honest["chosen"] and rigged["candidates"] == honest["candidates"]
    assert np.array_equal(rigged_genome, honest_genome)


def test_final_json_round_trips_and_the_summary_names_the_choice(tmp_path, monkeypatch):
    run, _ = _run(tmp_path, "summary", monkeypatch)
    data = json.loads(run.final_json.read_text())
    choice = FinalChoice.from_dict(data, str(run.final_json))
    assert choice.to_dict() == data and run.read_final() == choice
    assert data["interval"] == final.INTERVAL and data["schema_version"] == 1
    sidecar = json.loads(run.path.joinpath("final_genome.json").read_text())
    assert sidecar["provenance"]["kind"] == final.sidecar_kind(choice)
    write_report(run.path)
    summary = (run.path / "summary.md").read_text()
    assert final.label(choice.chosen) in summary
    assert f"test accuracy {choice.test.accuracy:.4f}" in summary
    assert f"evaluate {run.final_genome}" in summary


def test_validation_intervals_over_the_replicas(tmp_path, monkeypatch):
    spy = Spy()
    run, _ = _run(tmp_path, "intervals", monkeypatch, spy,
                  config=_config([*VALIDATED, "report.final_candidates=0"], generations=2))
    line = run.read_metrics()[-1].validation
    # the last validation scored the mean alone: its accuracies, 3 replicas per task
    prefix, _, _ = spy.calls[-2]
    assert prefix == "validate-"
    assert set(line.intervals) == set(line.tasks) == {"circles", "two-moons"}
    for task, (low, high) in line.intervals.items():
        assert low < line.tasks[task] < high or low == line.tasks[task] == high
    one = _run(tmp_path, "one-seed", monkeypatch,
               config=_config([*VALIDATED, "report.validate_seeds=1"], generations=2))[0]
    raw = json.loads(one.metrics.read_text().splitlines()[-1])
    assert "intervals" not in raw["validation"] and one.read_final().chosen.low is None


def test_validation_record_interval_is_the_t_interval_of_the_replicas():
    config = _config()
    plan = make_plans(config).validate
    accuracies = [0.5, 0.75, 1.0, 0.25, 0.5, 0.5]  # circles x 3, two-moons x 3
    score = fitness_module.GenomeScore(fitness=0.4, accuracy=0.58, diverged=0, samples=6,
                                       task_accuracy=(0.75, 0.41666), sample_accuracy=tuple(
                                           accuracies))
    record = final.validation_record(score, plan)
    expected = mean_intervals(np.array(accuracies).reshape(2, 3).T)
    assert record.intervals["circles"] == (expected[0].low, expected[0].high)
    assert record.intervals["two-moons"] == (expected[1].low, expected[1].high)
    chosen = final.candidate("mean", 3, score, plan)
    assert math.isclose(chosen.validation, np.mean(accuracies))


def test_a_resumed_run_ends_with_the_same_choice(tmp_path, monkeypatch):
    straight, _ = _run(tmp_path, "straight", monkeypatch)
    calls = iter(range(100))
    config = _config()
    run = RunDir.create(tmp_path / "resumed", config.to_toml())
    state = evolve(config, run, SerialBackend(),
                   preempted=lambda: "SIGTERM" if next(calls) == 3 else None)
    assert state.stop_reason == "preempted" and state.generation == 3
    assert not run.final_json.exists()  # a preempted run hands nothing over yet
    assert state.pool  # samples waiting for the validation at generation 4
    evolve(config, run, SerialBackend(), resume=True)
    assert _final(run)[0] == _final(straight)[0]
    assert np.array_equal(_final(run)[1], _final(straight)[1])


def test_without_validation_tasks_the_last_mean_is_handed_over(tmp_path, monkeypatch):
    config = load_config_text(tiny_toml("plain", seed=2, max_generations=2))
    run, state = _run(tmp_path, "plain", monkeypatch, config=config)
    data, genome = _final(run)
    mean, _ = load_genome(run.mean_genome)
    assert np.array_equal(genome, mean)
    assert data["test"] is None and data["candidates"] == []
    assert data["chosen"]["kind"] == "mean" and data["chosen"]["generation"] == 2
    assert data["reason"] == final.NO_VALIDATION
    write_report(run.path)
    assert final.NO_VALIDATION in (run.path / "summary.md").read_text()


def test_offer_keeps_the_best_training_fitness_and_choose_the_best_validation():
    state = RunState(initial_genome=np.zeros(2), mask=np.ones(2, bool), popsize=3, sigma0=1.0)
    final.offer(state, np.array([[1.0, 1], [2, 2], [3, 3]]), [0.5, 0.2, 0.2], 1, keep=2)
    final.offer(state, np.array([[4.0, 4], [5, 5]]), [0.3, 0.1], 2, keep=2)
    assert state.pool_fitness == [0.1, 0.2] and state.pool_generations == [2, 1]
    assert [g.tolist() for g in state.pool] == [[5, 5], [2, 2]]  # ties: the earlier sample
    final.offer(state, np.array([[6.0, 6]]), [0.0], 3, keep=0)
    assert state.pool_fitness == [0.1, 0.2]

    def cand(value):
        return Candidate(kind="mean", generation=0, validation=value, low=None, high=None)

    assert final.choose([cand(None), cand(0.5), cand(0.7), cand(0.7)]) == 2
    assert final.choose([cand(None), cand(None)]) == 0
    with pytest.raises(ValueError):
        final.add_candidates(state, np.zeros(2), 3, [], None)
