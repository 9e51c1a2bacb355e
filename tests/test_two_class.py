"""Output coding of two-class tasks (issue 12 item 3): one output read by its sign, or two
read by argmax; the run's choice is recorded in the sidecar, and `evaluate`, the baselines
and the study follow it, with two outputs for a genome evolved only on 3+ classes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blgnn_es.config.settings import load_config_text
from blgnn_es.errors import ConfigError
from blgnn_es.es.driver import evolve, make_plans
from blgnn_es.es.rundir import RunDir
from blgnn_es.evaluation import (
    EvaluationRequest,
    default_two_class,
    draw_samples,
    evaluate_task,
)
from blgnn_es.model.genome import hebbian_genome, read_genome, save_genome
from blgnn_es.model.sidecar import Provenance
from blgnn_es.parallel.backends import SerialBackend
from blgnn_es.tasks import output_size, parse_task_spec
from tests.conftest import tiny_toml


def test_output_size_follows_the_coding():
    assert output_size(2) == 1
    assert output_size(2, "sign") == 1
    assert output_size(2, "argmax") == 2
    assert output_size(5, "sign") == output_size(5, "argmax") == 5
    with pytest.raises(ValueError, match="sign, argmax"):
        output_size(2, "onehot")


def test_specs_know_their_classes_without_loading():
    assert parse_task_spec("xor").n_classes == 2
    assert parse_task_spec("blobs5").n_classes == 5
    assert parse_task_spec("mnist:resolution=14").n_classes == 10
    assert parse_task_spec("fashion-mnist:classes=0,3,7").n_classes == 3
    assert parse_task_spec("file:/nowhere/data.csv").n_classes is None


def test_an_argmax_run_gives_two_class_tasks_two_outputs():
    config = load_config_text(tiny_toml("argmax", 0).replace(
        "hidden = [6]\n", 'hidden = [6]\ntwo_class = "argmax"\n', 1))
    (sample,) = draw_samples(make_plans(config).train, 0)
    assert sample.net.layer_sizes == (2, 6, 2)
    sign = load_config_text(tiny_toml("sign", 0))
    (sample,) = draw_samples(make_plans(sign).train, 0)
    assert sample.net.layer_sizes == (2, 6, 1)


def test_an_unknown_coding_names_the_key():
    text = tiny_toml("bad", 0).replace("hidden = [6]\n", 'hidden = [6]\ntwo_class = "onehot"\n')
    with pytest.raises(ConfigError, match=r"network\.two_class.*sign.*argmax"):
        load_config_text(text, source="bad.toml")


@pytest.mark.parametrize("provenance, expected", [
    (Provenance(tasks=["mnist:resolution=14"], train_classes=[10], two_class="sign"), "argmax"),
    (Provenance(tasks=["mnist:resolution=14"]), "argmax"),  # an older sidecar: from the specs
    (Provenance(tasks=["xor", "digits"], train_classes=[2, 10], two_class="sign"), "sign"),
    (Provenance(tasks=["xor"], train_classes=[2], two_class="argmax"), "argmax"),
    (Provenance(tasks=["xor"]), "sign"),
    (Provenance(tasks=["file:/nowhere/data.csv"]), "sign"),  # classes unknown: the default
    (Provenance(), "sign"),
])
def test_evaluate_defaults_to_the_coding_the_genome_can_use(provenance, expected):
    assert default_two_class(provenance) == expected


def test_the_sidecar_records_the_coding_and_evaluate_follows_it(tmp_path):
    text = tiny_toml("coded", 1, max_generations=2).replace(
        "hidden = [6]\n", 'hidden = [6]\ntwo_class = "argmax"\n')
    config = load_config_text(text)
    run = RunDir.create(tmp_path / "coded", config.to_toml())
    evolve(config, run, SerialBackend())
    sidecar = json.loads(run.mean_genome.with_suffix(".json").read_text())
    assert sidecar["provenance"]["two_class"] == "argmax"
    assert sidecar["provenance"]["train_classes"] == [2]
    request = EvaluationRequest.build(run.mean_genome, tasks=("two-moons",), seeds=2, steps=2)
    assert request.two_class == "argmax"
    assert evaluate_task(request, 0)[0].layer_sizes == (2, 6, 2)
    told = EvaluationRequest.build(run.mean_genome, tasks=("two-moons",), seeds=2, steps=2,
                                   two_class="sign")
    assert evaluate_task(told, 0)[0].layer_sizes == (2, 6, 1)
    with pytest.raises(ConfigError, match="--two-class 'both'"):
        EvaluationRequest.build(run.mean_genome, tasks=("xor",), two_class="both")


def test_evaluate_gives_a_ten_class_genome_two_outputs_unless_told(tmp_path, invoke):
    """evaluate on a two-class task: two outputs for a genome evolved on 10 classes unless
    --two-class sign; the JSON says which."""
    path = tmp_path / "ten.npy"
    save_genome(path, hebbian_genome(2, 0.5), network={"states": 2},
                provenance=Provenance(tasks=["digits"], train_classes=[10], hidden=[32]))
    assert read_genome(path)[1].provenance.train_classes == [10]
    results = {}
    for flag in ([], ["--two-class", "sign"]):
        out = invoke("evaluate", path, "--task", "two-moons", "--seeds", "3", "--steps", "5",
                     "--json", "--out", tmp_path / ("e" + "".join(flag)), *flag)
        record = json.loads(out.output)
        results[record["two_class"]] = record["tasks"][0]
    assert results["argmax"]["layer_sizes"] == [2, 32, 2]
    assert results["sign"]["layer_sizes"] == [2, 32, 1]
    assert np.isfinite(results["argmax"]["accuracy_mean"])
