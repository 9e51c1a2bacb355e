"""The CMA-ES driver end to end on tiny toy configs: evolve, resume after kill -9, backends,
evaluate, report, refusal to overwrite, and divergence counted rather than raised."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from blgnn_es.cli import cli
from blgnn_es.config.settings import NetworkSettings, load_config_text
from blgnn_es.errors import ConfigError
from blgnn_es.es.driver import evolve
from blgnn_es.es.rundir import RunDir, strip_timings
from blgnn_es.evaluation import DrawPlan
from blgnn_es.fitness import EvaluationError, score_chunk
from blgnn_es.parallel.backends import SerialBackend, chunk_bounds
from blgnn_es.parallel.warmup import COMPILING, warm_up

TINY = """
[run]
name = "tiny"
seed = 3
[network]
hidden = [8]
[tasks]
train = ["xor", "and"]
validate = ["circles"]
[unroll]
steps = 5
batch = 16
eval_batches = 2
[cmaes]
popsize = 6
max_generations = 6
[parallel]
backend = "serial"
[report]
validate_every = 2
validate_seeds = 2
"""


def _write(tmp_path: Path, text: str = TINY, name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _metrics(run_dir: Path) -> list[dict]:
    return [strip_timings(json.loads(line)) for line in (run_dir / "metrics.jsonl").open()]


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_evolve_evaluate_report(tmp_path):
    config = _write(tmp_path)
    out = tmp_path / "runs"
    result = _invoke("evolve", "-c", str(config), "--out-dir", str(out))
    assert result.exit_code == 0, result.output
    run = out / "tiny"
    for name in ("config.toml", "metrics.jsonl", "best_genome.npy", "best_genome.json",
                 "mean_genome.npy", "mean_genome.json", "checkpoint", "log.txt", "result.json"):
        assert (run / name).exists(), name
    assert "blgnn-es evaluate" in result.output and str(run) in result.output
    lines = _metrics(run)
    assert [r["generation"] for r in lines] == list(range(6))
    assert {"best", "median", "worst", "sigma", "evaluations", "diverged"} <= set(lines[0])
    assert "validation" in lines[1] and "validation" in lines[-1] and "initial" in lines[0]
    assert json.loads((run / "result.json").read_text())["stop_reason"] == "max_generations"

    evaluated = _invoke("evaluate", str(run / "mean_genome.npy"), "--task", "xor",
                        "--task", "blobs5", "--seeds", "2", "--steps", "4", "--json",
                        "--out", str(tmp_path / "eval"))
    assert evaluated.exit_code == 0, evaluated.output
    summary = json.loads(evaluated.output)
    assert [t["task"] for t in summary["tasks"]] == ["xor", "blobs5"]
    assert summary["tasks"][1]["layer_sizes"] == [2, 8, 5]  # network per task shape
    assert len(summary["tasks"][0]["curve_mean"]) == 4 and summary["hidden"] == [8]
    assert (tmp_path / "eval" / "curve.csv").exists() and (tmp_path / "eval" / "curve.png").exists()
    deeper = _invoke("evaluate", str(run / "mean_genome.npy"), "--layers", "6,4", "--seeds",
                     "1", "--json", "--out", str(tmp_path / "eval3"))
    assert json.loads(deeper.output)["tasks"][0]["layer_sizes"] == [2, 6, 4, 1]
    table = _invoke("evaluate", str(run / "best_genome.npy"), "--seeds", "2",
                    "--out", str(tmp_path / "eval2"))
    assert table.exit_code == 0 and "xor" in table.output and "accuracy mean" in table.output

    reported = _invoke("report", str(run))
    assert reported.exit_code == 0, reported.output
    for name in ("fitness.png", "validation.png", "genome.png", "summary.md"):
        assert (run / name).stat().st_size > 0
    assert "best fitness" in (run / "summary.md").read_text()


def test_existing_run_dir_is_refused_without_force(tmp_path):
    config = _write(tmp_path, TINY.replace("max_generations = 6", "max_generations = 1"))
    out = str(tmp_path / "runs")
    assert _invoke("evolve", "-c", str(config), "--out-dir", out).exit_code == 0
    again = _invoke("evolve", "-c", str(config), "--out-dir", out)
    assert again.exit_code == 2 and "--force" in again.output and "--resume" in again.output
    assert _invoke("evolve", "-c", str(config), "--out-dir", out, "--force").exit_code == 0


def test_train_tasks_of_different_sizes_run_in_one_fitness(tmp_path):
    config = _write(tmp_path, TINY.replace('train = ["xor", "and"]', 'train = ["xor", "blobs5"]'))
    result = _invoke("evolve", "-c", str(config), "--out-dir", str(tmp_path / "runs"),
                     "--max-generations", "2")
    assert result.exit_code == 0, result.output
    lines = _metrics(tmp_path / "runs" / "tiny")
    assert len(lines) == 2 and lines[0]["initial"]["fitness"] < 1.0


def test_resume_finished_run_with_more_generations(tmp_path):
    config = _write(tmp_path)
    out = tmp_path / "runs"
    _invoke("evolve", "-c", str(config), "--out-dir", str(out), "--max-generations", "3")
    resumed = _invoke("evolve", "--resume", str(out / "tiny"), "--max-generations", "6")
    assert resumed.exit_code == 0, resumed.output
    _invoke("evolve", "-c", str(config), "--out-dir", str(out), "--name", "straight")

    def drop_validation(records):  # the first run also validated at its last generation
        return [{k: v for k, v in r.items() if k != "validation"} for r in records]

    assert drop_validation(_metrics(out / "tiny")) == drop_validation(_metrics(out / "straight"))
    refused = _invoke("evolve", "--resume", str(out / "tiny"), "--set", "unroll.steps=9")
    assert refused.exit_code == 2 and "unroll.steps" in refused.output


@pytest.mark.slow
def test_kill_9_then_resume_gives_identical_metrics(tmp_path):
    slow = TINY.replace("max_generations = 6", "max_generations = 14").replace(
        "popsize = 6", "popsize = 8").replace("steps = 5", "steps = 12")
    config = _write(tmp_path, slow)
    out = tmp_path / "runs"
    base = [sys.executable, "-m", "blgnn_es.cli", "evolve"]
    root = str(Path(__file__).resolve().parents[1])  # run this checkout's package
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    subprocess.run(base + ["-c", str(config), "--out-dir", str(out), "--name", "straight"],
                   check=True, capture_output=True, env=env, cwd=root)
    process = subprocess.Popen(base + ["-c", str(config), "--out-dir", str(out)], cwd=root,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    metrics = out / "tiny" / "metrics.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 4:
            break
        time.sleep(0.005)
    assert process.poll() is None, "the run finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = len(_metrics(out / "tiny"))
    assert 4 <= done < 14
    subprocess.run(base + ["--resume", str(out / "tiny")], check=True, capture_output=True,
                   env=env, cwd=root)
    assert _metrics(out / "tiny") == _metrics(out / "straight")
    assert "resumed at generation" in (out / "tiny" / "log.txt").read_text()


@pytest.mark.slow
def test_serial_and_loky_give_identical_metrics(tmp_path):
    config = _write(tmp_path, TINY.replace("max_generations = 6", "max_generations = 3"))
    out = str(tmp_path / "runs")
    assert _invoke("evolve", "-c", str(config), "--out-dir", out, "--name", "s").exit_code == 0
    loky = _invoke("evolve", "-c", str(config), "--out-dir", out, "--name", "l",
                   "--set", "parallel.backend=\"loky\"", "--workers", "2")
    assert loky.exit_code == 0, loky.output
    assert _metrics(tmp_path / "runs" / "s") == _metrics(tmp_path / "runs" / "l")


def test_diverging_genomes_are_counted_not_raised(tmp_path):
    # A synapse keep gate of 1e10 multiplies the synapses past float32's range in 5 steps.
    from blgnn_es.model.genome import GenomeLayout, hebbian_genome, save_genome

    values = hebbian_genome(2)
    values[GenomeLayout(2).slot("f_syn")] = 1e10
    start = save_genome(tmp_path / "exploding.npy", values)
    text = TINY + f'[genome]\ninitial = "{start}"\nevolve = ["nu", "mu"]\n'
    cfg = load_config_text(text)
    run = RunDir.create(tmp_path / "run", cfg.to_toml())
    state = evolve(cfg, run, SerialBackend())
    lines = run.read_metrics()
    assert state.stop_reason.startswith("cma:")  # a flat landscape: pycma's tolfun fires
    assert all(r.diverged == 12 and r.best == 1.0 for r in lines)  # 6 genomes x 2 tasks
    assert lines[0].diverged_genomes == 6
    assert lines[-1].validation.diverged == 2


def test_worker_exception_names_genome_generation_and_task(tmp_path):
    cfg = load_config_text(TINY)
    plan = DrawPlan(cfg.tasks.train, cfg.network, cfg.unroll, 1, 0)
    bad = np.zeros((2, 11))  # not a valid genome length
    with pytest.raises(EvaluationError, match=r"generation 5, genome 7, task xor"):
        score_chunk(bad, plan, cfg.fitness, 5, 6 + 1)


def test_exception_leaves_last_checkpoint_intact(tmp_path, monkeypatch):
    cfg = load_config_text(TINY)
    run = RunDir.create(tmp_path / "run", cfg.to_toml())
    evolve(cfg, run, SerialBackend())
    before = run.checkpoint.read_bytes()
    import blgnn_es.es.driver as driver

    def broken(*args, **kwargs):
        raise EvaluationError("generation 6, genome 0, task xor: boom")

    monkeypatch.setattr(driver, "score_chunk", broken)
    more = load_config_text(TINY.replace("max_generations = 6", "max_generations = 9"))
    with pytest.raises(EvaluationError):
        evolve(more, run, SerialBackend(), resume=True)
    assert run.checkpoint.read_bytes() == before


def test_fixed_slots_keep_their_initial_values(tmp_path):
    text = TINY + "[genome]\ninitial = \"hebbian\"\nevolve = [\"eta_syn\", \"g\", \"h\"]\n"
    cfg = load_config_text(text)
    run = RunDir.create(tmp_path / "run", cfg.to_toml())
    state = evolve(cfg, run, SerialBackend())
    from blgnn_es.model.genome import GenomeLayout, hebbian_genome, load_genome

    mean, _ = load_genome(run.mean_genome)
    fixed = ~GenomeLayout(2).mask(["eta_syn", "g", "h"])
    assert np.array_equal(mean[fixed], hebbian_genome(2)[fixed])
    assert not np.array_equal(mean, hebbian_genome(2))
    assert state.generation == 6


def test_ipop_restarts_grow_the_population(tmp_path):
    # Every genome diverges: the landscape is flat, pycma stops at once and IPOP restarts.
    from blgnn_es.model.genome import GenomeLayout, hebbian_genome, save_genome

    values = hebbian_genome(2)
    values[GenomeLayout(2).slot("f_syn")] = 1e10
    start = save_genome(tmp_path / "exploding.npy", values)
    text = TINY.replace("max_generations = 6", "max_generations = 40").replace(
        "[cmaes]\n", "[cmaes]\nrestarts = \"ipop\"\nmax_restarts = 2\n")
    text += f'[genome]\ninitial = "{start}"\nevolve = ["nu", "mu"]\n'
    cfg = load_config_text(text)
    run = RunDir.create(tmp_path / "run", cfg.to_toml())
    state = evolve(cfg, run, SerialBackend())
    lines = run.read_metrics()
    assert state.restart == 2 and state.stop_reason.startswith("cma:")
    assert sorted({r.popsize for r in lines}) == [6, 12, 24]
    assert sum("restart" in (r.event or "") for r in lines) == 2


def test_bipop_alternates_small_and_large_regimes(tmp_path):
    from blgnn_es.model.genome import GenomeLayout, hebbian_genome, save_genome

    values = hebbian_genome(2)
    values[GenomeLayout(2).slot("f_syn")] = 1e10
    start = save_genome(tmp_path / "exploding.npy", values)
    text = TINY.replace("max_generations = 6", "max_generations = 60").replace(
        "[cmaes]\n", "[cmaes]\nrestarts = \"bipop\"\nmax_restarts = 3\n")
    text += f'[genome]\ninitial = "{start}"\nevolve = ["nu", "mu"]\n'
    cfg = load_config_text(text)
    run = RunDir.create(tmp_path / "run", cfg.to_toml())
    state = evolve(cfg, run, SerialBackend())
    events = " ".join(r.event or "" for r in run.read_metrics())
    assert state.restart == 3
    assert "(bipop, small)" in events and "(bipop, large)" in events


@pytest.mark.parametrize("setting, reason, generations", [
    ("target_fitness = 0.99", "target_fitness", 1),
    ("max_evaluations = 12", "max_evaluations", 2),
    ("time_budget = 0.001", "time_budget", 1),
])
def test_stop_rules_say_which(tmp_path, setting, reason, generations):
    cfg = load_config_text(TINY.replace("[cmaes]\n", f"[cmaes]\n{setting}\n"))
    run = RunDir.create(tmp_path / "run", cfg.to_toml())
    state = evolve(cfg, run, SerialBackend())
    assert (state.stop_reason, state.generation) == (reason, generations)
    assert run.read_result().stop_reason == reason
    assert run.read_metrics()[-1].validation is not None  # the last generation is validated


def test_chunks_cover_the_population():
    assert chunk_bounds(10, 4) == [(0, 2), (2, 5), (5, 8), (8, 10)]
    assert chunk_bounds(3, 8) == [(0, 1), (1, 2), (2, 3)]


IMPROVE = """
[run]
name = "improve"
seed = 4
[network]
hidden = [8]
[tasks]
train = ["xor", "and"]
[unroll]
steps = 5
batch = 32
eval_batches = 4
[cmaes]
popsize = 10
sigma0 = 0.3
max_generations = 25
[parallel]
backend = "serial"
"""


def test_cmaes_improves_fitness_from_a_random_genome(tmp_path):
    # Tuned so that telling pycma negated fitnesses (a sign error) fails: then the median
    # of the last generations is above that of the first ones (checked by hand).
    cfg = load_config_text(IMPROVE)
    run = RunDir.create(tmp_path / "run", cfg.to_toml())
    evolve(cfg, run, SerialBackend())
    lines = run.read_metrics()
    first = np.mean([r.median for r in lines[:5]])
    last = np.mean([r.median for r in lines[-5:]])
    assert last < first - 0.1, (first, last)
    assert lines[-1].best_so_far < 0.5 * lines[0].initial.fitness


# ---- a run directory that checks itself (issue 11) --------------------------------------

SMALL = TINY.replace("max_generations = 6", "max_generations = 3").replace(
    'validate = ["circles"]', "validate = []").replace("popsize = 6", "popsize = 4")


def test_damaged_checkpoint_falls_back_to_the_previous_one_loudly(tmp_path):
    config = _write(tmp_path, SMALL)
    out = tmp_path / "runs"
    assert _invoke("evolve", "-c", str(config), "--out-dir", str(out), "--name", "straight",
                   "--max-generations", "4").exit_code == 0
    assert _invoke("evolve", "-c", str(config), "--out-dir", str(out)).exit_code == 0
    run = out / "tiny"
    assert (run / "checkpoint.prev").is_file()
    data = (run / "checkpoint").read_bytes()
    (run / "checkpoint").write_bytes(data[: len(data) // 2])  # one damaged write
    resumed = _invoke("evolve", "--resume", str(run), "--max-generations", "4")
    assert resumed.exit_code == 0, resumed.output
    assert "falling back to checkpoint.prev" in resumed.output
    assert "warning: " in (run / "log.txt").read_text()
    assert _metrics(run) == _metrics(out / "straight")


def test_resume_refuses_a_missing_checkpoint_and_force_starts_again(tmp_path):
    config = _write(tmp_path, SMALL)
    out = tmp_path / "runs"
    assert _invoke("evolve", "-c", str(config), "--out-dir", str(out)).exit_code == 0
    run = out / "tiny"
    before = (run / "metrics.jsonl").read_text()
    (run / "checkpoint").unlink()
    refused = _invoke("evolve", "--resume", str(run))
    assert refused.exit_code == 1 and "checkpoint: missing" in refused.output
    assert (run / "metrics.jsonl").read_text() == before
    again = _invoke("evolve", "--resume", str(run), "--force")
    assert again.exit_code == 0, again.output
    assert [r["generation"] for r in _metrics(run)] == [0, 1, 2]


def test_edited_config_and_damaged_metrics_are_refused(tmp_path):
    config = _write(tmp_path, SMALL)
    out = tmp_path / "runs"
    assert _invoke("evolve", "-c", str(config), "--out-dir", str(out)).exit_code == 0
    run = out / "tiny"
    original = (run / "config.toml").read_text()
    (run / "config.toml").write_text(original.replace("steps = 5", "steps = 7"))
    edited = _invoke("evolve", "--resume", str(run), "--max-generations", "4")
    assert edited.exit_code == 1 and "unroll.steps = 7" in edited.output
    # a resumable key edited by hand is fine
    (run / "config.toml").write_text(original.replace("max_generations = 3",
                                                      "max_generations = 4"))
    lines = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text("\n".join(["{bad", *lines[1:]]) + "\n")
    damaged = _invoke("evolve", "--resume", str(run))
    assert damaged.exit_code == 1 and "metrics.jsonl, line 1: damaged" in damaged.output
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    assert _invoke("evolve", "--resume", str(run)).exit_code == 0
    assert [r["generation"] for r in _metrics(run)] == [0, 1, 2, 3]


def test_relative_file_task_resumes_and_evaluates_from_another_folder(tmp_path, monkeypatch):
    start, elsewhere = tmp_path / "start", tmp_path / "elsewhere"
    start.mkdir(), elsewhere.mkdir()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 2))
    np.savez(start / "d.npz", X=x, y=(x[:, 0] > 0).astype(int))
    (start / "c.toml").write_text(SMALL.replace('train = ["xor", "and"]',
                                                'train = ["file:d.npz"]'))
    monkeypatch.chdir(start)
    assert _invoke("evolve", "-c", "c.toml", "--out-dir", "runs",
                   "--max-generations", "2").exit_code == 0
    resolved = (start / "runs/tiny/config.toml").read_text()
    assert str(start / "d.npz") in resolved and "sha256=" in resolved
    info = json.loads((start / "runs/tiny/run.json").read_text())
    assert list(info["inputs"]) == [str(start / "d.npz")]
    monkeypatch.chdir(elsewhere)
    run = start / "runs/tiny"
    assert _invoke("evolve", "--resume", str(run), "--max-generations", "3").exit_code == 0
    evaluated = _invoke("evaluate", str(run / "mean_genome.npy"), "--seeds", "1", "--out",
                        "ev")
    assert evaluated.exit_code == 0, evaluated.output
    np.savez(start / "d.npz", X=x, y=(x[:, 1] > 0).astype(int))  # the file changes
    changed = _invoke("evolve", "--resume", str(run), "--max-generations", "4")
    assert changed.exit_code == 1 and str(start / "d.npz") in changed.output
    assert "changed since it was recorded" in changed.output


def test_failed_start_leaves_nothing_and_a_killed_start_is_started_again(tmp_path,
                                                                        monkeypatch):
    evolve_command = sys.modules["blgnn_es.cli.evolve"]  # the module, not the command

    config = _write(tmp_path, SMALL)
    out = tmp_path / "runs"

    def unreachable(*args, **kwargs):
        raise ConfigError("parallel.scheduler = 'tcp://10.0.0.1:1': no scheduler there")

    monkeypatch.setattr(evolve_command, "make_backend", unreachable)
    failed = _invoke("evolve", "-c", str(config), "--out-dir", str(out))
    assert failed.exit_code == 2 and "no scheduler there" in failed.output
    assert not (out / "tiny").exists()
    monkeypatch.undo()
    (out / "tiny").mkdir(parents=True)  # what a kill -9 during the start leaves
    (out / "tiny" / "config.toml").write_text("stub")
    (out / "tiny" / "metrics.jsonl").write_text("")
    again = _invoke("evolve", "-c", str(config), "--out-dir", str(out))
    assert again.exit_code == 0, again.output


def test_run_json_records_provenance_and_summary_shows_it(tmp_path):
    config = _write(tmp_path, SMALL)
    out = tmp_path / "runs"
    assert _invoke("evolve", "-c", str(config), "--out-dir", str(out)).exit_code == 0
    info = json.loads((out / "tiny" / "run.json").read_text())
    session = info["sessions"][0]
    assert session["action"] == "start" and session["environment"]["numpy"] == np.__version__
    assert {"package", "git_commit", "python", "numba", "cma", "cpu"} <= set(
        session["environment"])
    assert _invoke("evolve", "--resume", str(out / "tiny"),
                   "--max-generations", "4").exit_code == 0
    info = json.loads((out / "tiny" / "run.json").read_text())
    assert [s["action"] for s in info["sessions"]] == ["start", "resume"]
    assert _invoke("report", str(out / "tiny")).exit_code == 0
    summary = (out / "tiny" / "summary.md").read_text()
    assert "Provenance" in summary and "numba" in summary and "CPU" in summary
    again = _invoke("report", str(out / "tiny"))
    assert again.exit_code == 2 and "--force" in again.output
    assert _invoke("report", str(out / "tiny"), "--out", str(tmp_path / "rep")).exit_code == 0


def test_check_prints_the_config_and_estimates_and_writes_nothing(tmp_path):
    config = _write(tmp_path, SMALL)
    out = tmp_path / "runs"
    checked = _invoke("evolve", "-c", str(config), "--out-dir", str(out), "--check")
    assert checked.exit_code == 0, checked.output
    assert "[unroll]" in checked.output and "checkpoint: about" in checked.output
    assert "generation: about" in checked.output and not out.exists()
    big = _invoke("evolve", "-c", str(config), "--check", "--set", "cmaes.popsize=10000",
                  "--set", "unroll.replicas=1000", "--set", "unroll.steps=5000")
    assert big.exit_code == 0 and "warning: a generation will take about" in big.output


@pytest.mark.slow
def test_loky_workers_die_with_a_killed_driver(tmp_path):
    psutil = pytest.importorskip("psutil")
    slow = SMALL.replace('backend = "serial"', 'backend = "loky"\nworkers = 2').replace(
        "max_generations = 3", "max_generations = 500").replace("steps = 5", "steps = 40")
    config = _write(tmp_path, slow)
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get(
        "PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable, "-m", "blgnn_es.cli", "evolve", "-c",
                                str(config), "--out-dir", str(tmp_path / "runs")], cwd=root,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    metrics = tmp_path / "runs" / "tiny" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    workers = []
    while time.monotonic() < deadline and process.poll() is None:
        if metrics.exists() and metrics.read_text().count("\n") >= 1:
            workers = [child for child in psutil.Process(process.pid).children(recursive=True)
                       if child.is_running()]
            if len(workers) >= 2:
                break
        time.sleep(0.05)
    assert process.poll() is None and workers, "no loky workers seen"
    process.kill()
    process.wait()
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"workers outlived the driver: {[p.pid for p in alive]}"


def test_a_slow_warm_up_says_it_is_compiling_and_how_long():
    lines = []
    net = NetworkSettings().spec(2, 2)
    warm_up([net], note=lines.append, notice_after=0.0)
    assert lines[0] == COMPILING and "first run only" in lines[0]
    assert lines[1].startswith("kernel compiled in ")
    quiet = []
    warm_up([net], note=quiet.append)  # the cache is warm now: nothing to say
    assert quiet == []
