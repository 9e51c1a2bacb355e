"""Batch jobs: seeds from the environment, SIGTERM then ``--resume auto``, and ``collect``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from blgnn_es.cli import cli
from blgnn_es.es.preemption import PREEMPTED_EXIT_CODE
from blgnn_es.es.rundir import strip_timings

ROOT = Path(__file__).resolve().parents[1]

TINY = """
[run]
name = "tiny"
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
max_generations = 3
[parallel]
backend = "serial"
[report]
validate_every = 2
validate_seeds = 2
"""


def _metrics(run_dir: Path) -> list[dict]:
    return [strip_timings(json.loads(line)) for line in (run_dir / "metrics.jsonl").open()]


def _invoke(*args: str, env: dict | None = None):
    return CliRunner(env=env).invoke(cli, list(args), catch_exceptions=False)


def _command(config: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "blgnn_es.cli",
        "evolve",
        "-c",
        str(config),
        "--out-dir",
        str(out),
        "--seed-from-env",
        "TASK_ID",
        "--resume",
        "auto",
    ]


@pytest.mark.slow
def test_sigterm_then_resume_auto_gives_identical_metrics(tmp_path):
    slow = TINY.replace("max_generations = 3", "max_generations = 12").replace(
        "steps = 5", "steps = 12"
    )
    config = tmp_path / "tiny.toml"
    config.write_text(slow)
    env = {
        **os.environ,
        "TASK_ID": "4",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    subprocess.run(_command(config, straight), check=True, capture_output=True, env=env, cwd=ROOT)

    process = subprocess.Popen(
        _command(config, interrupted),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    metrics = interrupted / "tiny-seed4" / "metrics.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:
            break
        time.sleep(0.005)
    assert process.poll() is None, "the run finished before the signal"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == PREEMPTED_EXIT_CODE, stderr
    run = interrupted / "tiny-seed4"
    done = len(_metrics(run))
    assert 3 <= done < 12
    assert json.loads((run / "result.json").read_text())["stop_reason"] == "preempted"

    again = subprocess.run(_command(config, interrupted), capture_output=True, env=env, cwd=ROOT)
    assert again.returncode == 0, again.stderr
    assert _metrics(run) == _metrics(straight / "tiny-seed4")
    log = (run / "log.txt").read_text()
    assert "SIGTERM received" in log and f"resumed at generation {done}" in log
    config_text = (run / "config.toml").read_text()
    assert "seed = 4" in config_text and 'name = "tiny-seed4"' in config_text


def test_resume_auto_refuses_another_run_in_the_same_directory(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY.replace("max_generations = 3", "max_generations = 1"))
    out = str(tmp_path / "runs")
    env = {"TASK_ID": "2"}
    first = _invoke(
        "evolve",
        "-c",
        str(config),
        "--out-dir",
        out,
        "--seed-from-env",
        "TASK_ID",
        "--resume",
        "auto",
        env=env,
    )
    assert first.exit_code == 0, first.output
    same = _invoke(
        "evolve",
        "-c",
        str(config),
        "--out-dir",
        out,
        "--seed-from-env",
        "TASK_ID",
        "--resume",
        "auto",
        env=env,
    )
    assert (
        same.exit_code == 0
        and "resumed at generation 1" in (tmp_path / "runs" / "tiny-seed2" / "log.txt").read_text()
    )
    other = _invoke(
        "evolve",
        "-c",
        str(config),
        "--out-dir",
        out,
        "--seed-from-env",
        "TASK_ID",
        "--resume",
        "auto",
        "--set",
        "unroll.steps=7",
        env=env,
    )
    assert other.exit_code == 2 and "unroll.steps" in other.output
    unset = _invoke("evolve", "-c", str(config), "--seed-from-env", "NO_SUCH_VARIABLE_HERE")
    assert unset.exit_code == 2 and "$NO_SUCH_VARIABLE_HERE is not set" in unset.output


def test_collect_two_runs(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "runs"
    for seed in ("1", "2"):
        result = _invoke(
            "evolve",
            "-c",
            str(config),
            "--out-dir",
            str(out),
            "--seed-from-env",
            "TASK_ID",
            env={"TASK_ID": seed},
        )
        assert result.exit_code == 0, result.output
    table = _invoke("collect", str(out / "tiny-seed1"), str(out / "tiny-seed2"))
    assert table.exit_code == 0, table.output
    lines = [re.sub(r" +", " ", line) for line in table.output.splitlines()]  # unpadded
    assert lines[0].startswith("| run | seed | status")
    assert lines[2].startswith("| tiny-seed1 | 1 | max_generations | 3 | 18 |")
    assert lines[3].startswith("| tiny-seed2 | 2 |") and "mean ± std (2 runs)" in lines[4]

    written = _invoke("collect", str(out), "-o", str(tmp_path / "seeds.csv"))
    assert written.exit_code == 0, written.output
    rows = (tmp_path / "seeds.csv").read_text().splitlines()
    assert rows[0].startswith("run,seed,status,generations") and len(rows) == 3
    best = json.loads((out / "tiny-seed2" / "result.json").read_text())["best_fitness"]
    assert rows[2].split(",")[5] == repr(best)
    assert rows[2].endswith("best_genome.npy")
