"""The versioned records: they round-trip, refuse unknown versions in one line, and read
what the previous release wrote (tests/fixtures/, see its README): report, collect,
evaluate and a resume of its checkpoint for one more generation."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from blgnn_es.cli import cli
from blgnn_es.config.settings import load_config, load_config_text
from blgnn_es.errors import BlgnnError, ConfigError
from blgnn_es.es.driver import evolve
from blgnn_es.es.records import (
    InitialScores,
    MetricsLine,
    RecordError,
    RunResult,
    RunState,
    Validation,
)
from blgnn_es.es.rundir import RunDir, strip_timings
from blgnn_es.model.genome import load_genome, load_sidecar, read_genome, save_genome
from blgnn_es.model.sidecar import GenomeSidecar, Provenance, UnrollProvenance
from blgnn_es.parallel.backends import SerialBackend

FIXTURES = Path(__file__).parent / "fixtures"
LEGACY_RUN = FIXTURES / "legacy-v1"


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _legacy_copy(tmp_path: Path) -> Path:
    run = tmp_path / "legacy-v1"
    shutil.copytree(LEGACY_RUN, run)
    return run


# ---- round trips ----------------------------------------------------------------------

VALIDATION = Validation(accuracy=0.75, fitness=0.25, diverged=0, tasks={"circles": 0.75})


def test_metrics_line_round_trips_and_keeps_the_file_order():
    line = MetricsLine(generation=0, restart=0, popsize=6, evaluations=6, best=0.25,
                       median=0.5, worst=0.75, best_so_far=0.25, accuracy_median=None,
                       sigma=0.2, diverged=0, diverged_genomes=0,
                       initial=InitialScores(fitness=0.5, accuracy=0.5, validation=VALIDATION),
                       validation=VALIDATION, event="pycma stopped (tolfun)", seconds=0.1,
                       elapsed=0.1)
    data = json.loads(json.dumps(line.to_dict()))
    assert list(data)[-5:] == ["initial", "validation", "event", "seconds", "elapsed"]
    assert "schema_version" not in data  # version 1 lines are the previous release's lines
    assert MetricsLine.from_dict(data) == line
    bare = line.model_copy(update={"initial": None, "validation": None, "event": None})
    assert not {"initial", "validation", "event"} & set(bare.to_dict())
    assert bare.to_dict()["accuracy_median"] is None  # a required null stays


def test_result_state_and_sidecar_round_trip(tmp_path):
    result = RunResult(stop_reason="max_generations", generations=3, evaluations=18,
                       restarts=0, best_fitness=0.3, best_generation=1, elapsed_seconds=0.5,
                       initial=InitialScores(fitness=0.6, accuracy=None))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["schema_version"] == 1 and RunResult.from_dict(data) == result

    state = RunState(initial_genome=np.arange(23.0), mask=np.ones(23, bool), popsize=6,
                     sigma0=0.2, best_genome=np.ones(23), initial=result.initial)
    back = RunState.from_dict(state.to_dict())
    assert np.array_equal(back.initial_genome, state.initial_genome)
    assert back.initial == state.initial and back.best_fitness == np.inf

    provenance = Provenance(run="r", generation=3, tasks=["xor"],
                            unroll=UnrollProvenance(steps=3, batch=16, eval_batches=1),
                            hidden=[4], kind="best", fitness=0.3, found_at_generation=1,
                            note="hand-made")  # further keys are kept
    path = save_genome(tmp_path / "g.npy", np.arange(23.0) / 10, network={"states": 2},
                       provenance=provenance)
    values, sidecar = read_genome(path)
    assert sidecar.provenance == provenance and sidecar.hidden == [4]
    assert json.loads(path.with_suffix(".json").read_text())["schema_version"] == 1
    assert load_genome(path)[1]["provenance"]["unroll"] == {"steps": 3, "batch": 16,
                                                            "eval_batches": 1}


@pytest.mark.parametrize("record", [MetricsLine, RunResult, GenomeSidecar])
def test_unknown_schema_version_is_one_clear_line(record):
    with pytest.raises(RecordError) as err:
        record.from_dict({"schema_version": 99}, "some/file.json")
    message = str(err.value)
    assert "\n" not in message and "some/file.json" in message
    assert "schema_version 99" in message and "(1)" in message


def test_unknown_versions_through_the_readers(tmp_path):
    run = _legacy_copy(tmp_path)
    (run / "result.json").write_text(json.dumps({"schema_version": 7}))
    with pytest.raises(BlgnnError, match=r"result\.json: schema_version 7 .* reads \(1\)"):
        RunDir(run).read_result()
    collected = _invoke("collect", str(run))
    assert collected.exit_code == 0 and "schema_version 7" in collected.output  # as a row
    assert "unreadable: " in collected.output
    side = run / "mean_genome.json"
    side.write_text(json.dumps({**json.loads(side.read_text()), "schema_version": 3}))
    with pytest.raises(BlgnnError, match="mean_genome.json: schema_version 3"):
        load_sidecar(run / "mean_genome.npy")


# ---- the previous release's files -----------------------------------------------------

def test_legacy_files_load():
    run = RunDir.open(LEGACY_RUN)
    lines = run.read_metrics()
    assert [r.generation for r in lines] == [0, 1, 2]
    assert lines[0].initial.validation.tasks == {"circles": 0.6875}
    raw = [json.loads(t) for t in (LEGACY_RUN / "metrics.jsonl").read_text().splitlines()]
    assert [r.to_dict() for r in lines] == raw  # read and written back unchanged
    assert run.read_result().stop_reason == "max_generations"
    checkpoint = run.read_checkpoint()  # pickles the old blgnn_es.evolve.RunState
    assert checkpoint.state.generation == 3 and checkpoint.base_popsize == 6
    assert checkpoint.state.initial == lines[0].initial
    sidecar = load_sidecar(LEGACY_RUN / "best_genome.npy")
    assert sidecar.provenance.kind == "best" and sidecar.provenance.unroll.steps == 3
    values, preset = read_genome(FIXTURES / "legacy-random-k2.npy")
    assert values.size == 23 and preset.provenance.preset == "random"
    assert preset.provenance.seed == 7


def test_legacy_run_reports_collects_and_evaluates(tmp_path):
    run = _legacy_copy(tmp_path)
    reported = _invoke("report", str(run))
    assert reported.exit_code == 0, reported.output
    assert "max_generations" in (run / "summary.md").read_text()
    table = _invoke("collect", str(run))
    assert table.exit_code == 0, table.output
    row = re.sub(r" +", " ", table.output.splitlines()[2])  # tabulate pads the cells
    assert row.startswith("| legacy-v1 | 5 | max_generations | 3 | 18 |")
    evaluated = _invoke("evaluate", str(run / "mean_genome.npy"), "--seeds", "1", "--json",
                        "--out", str(tmp_path / "eval"))
    assert evaluated.exit_code == 0, evaluated.output
    summary = json.loads(evaluated.output)
    assert summary["hidden"] == [4] and [t["task"] for t in summary["tasks"]] == ["xor"]


def test_legacy_checkpoint_resumes_like_the_previous_release(tmp_path):
    run = _legacy_copy(tmp_path)
    resumed = _invoke("evolve", "--resume", str(run), "--max-generations", "4")
    assert resumed.exit_code == 0, resumed.output
    lines = [json.loads(t) for t in (run / "metrics.jsonl").read_text().splitlines()]
    expected = json.loads((FIXTURES / "legacy-v1-generation4.jsonl").read_text())
    # pycma's step size is the one number of the line that depends on the versions of
    # numpy and pycma in the last bits (cma 4.5 / numpy 2.4 differ from the release that
    # wrote the fixture at 1e-15); the fitnesses, counts and accuracies must match exactly.
    got, want = strip_timings(lines[3]), strip_timings(expected)
    assert got.pop("sigma") == pytest.approx(want.pop("sigma"), rel=1e-12)
    assert len(lines) == 4 and got == want
    assert RunDir(run).read_checkpoint().state.generation == 4  # now format 2


# ---- resume from Python ---------------------------------------------------------------

def test_python_resume_refuses_an_edited_config(tmp_path):
    run = _legacy_copy(tmp_path)
    config = load_config(run / "config.toml")
    edited = load_config(run / "config.toml", ["unroll.steps=9"])
    with pytest.raises(ConfigError, match=r"unroll\.steps = 3, this config asks for 9"):
        evolve(edited, RunDir(run), SerialBackend(), resume=True)
    assert len(RunDir(run).read_metrics()) == 3  # nothing touched
    more = load_config(run / "config.toml", ["cmaes.max_generations=4"])
    state = evolve(more, RunDir(run), SerialBackend(), resume=True)
    assert state.generation == 4 and config.unroll.steps == 3
    other = load_config_text((run / "config.toml").read_text().replace("seed = 5", "seed = 6"))
    with pytest.raises(ConfigError, match="run.seed"):
        evolve(other, RunDir(run), SerialBackend(), resume=True)
