"""The dask backend on this machine (loopback only): a running scheduler gives the same
metrics as loky, a LocalCluster worker killed mid-generation changes nothing but the log, and
the SLURM job script dask-jobqueue would submit carries our settings."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # clusters and worker processes: seconds per test

import cloudpickle  # noqa: E402  (comes with distributed)

from blgnn_es.cli import cli  # noqa: E402
from blgnn_es.config.settings import load_config_text  # noqa: E402
from blgnn_es.errors import ConfigError  # noqa: E402
from blgnn_es.es.driver import evolve  # noqa: E402
from blgnn_es.es.rundir import RunDir, strip_timings  # noqa: E402
from blgnn_es.fitness import score_chunk  # noqa: E402
from blgnn_es.parallel.backends import SerialBackend, make_backend  # noqa: E402

TINY = """
[run]
name = "tiny"
seed = 5
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
workers = 2
[report]
validate_every = 2
validate_seeds = 2
"""

DASK = TINY.replace('backend = "serial"', 'backend = "dask"\ncluster = "local"')


def _metrics(run_dir: Path) -> list[dict]:
    return [strip_timings(json.loads(line)) for line in (run_dir / "metrics.jsonl").open()]


def test_dask_scheduler_matches_loky(tmp_path):
    from distributed import LocalCluster

    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = str(tmp_path / "runs")
    runner = CliRunner()
    loky = runner.invoke(
        cli,
        ["evolve", "-c", str(config), "--out-dir", out, "--name", "loky", "--backend", "loky"],
        catch_exceptions=False,
    )
    assert loky.exit_code == 0, loky.output
    with LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        dask = runner.invoke(
            cli,
            [
                "evolve",
                "-c",
                str(config),
                "--out-dir",
                out,
                "--name",
                "dask",
                "--scheduler",
                cluster.scheduler_address,
                "--workers",
                "0",
            ],
            catch_exceptions=False,
        )
    assert dask.exit_code == 0, dask.output
    assert "(dask, 2 worker(s))" in dask.output
    assert _metrics(tmp_path / "runs" / "dask") == _metrics(tmp_path / "runs" / "loky")
    assert 'backend = "dask"' in (tmp_path / "runs" / "dask" / "config.toml").read_text()


def _die_once(marker: str, genomes, plan, fitness, generation, first_index):
    """score_chunk, but the first job of generation 1 ends its worker process (once)."""
    if generation == 1:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            os._exit(1)
    return score_chunk(genomes, plan, fitness, generation, first_index)


def test_worker_killed_mid_generation_changes_nothing_but_the_log(tmp_path, monkeypatch):
    import functools

    import blgnn_es.es.driver as driver

    serial_config = load_config_text(TINY)
    serial = RunDir.create(tmp_path / "serial", serial_config.to_toml())
    evolve(serial_config, serial, SerialBackend())

    # This module is not importable in the worker processes: send the hook by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    marker = str(tmp_path / "killed")
    monkeypatch.setattr(driver, "score_chunk", functools.partial(_die_once, marker))
    config = load_config_text(DASK)
    run = RunDir.create(tmp_path / "dask", config.to_toml())
    backend = make_backend(config.parallel, log=run.log)
    try:
        evolve(config, run, backend)
        lost = backend.lost_workers
    finally:
        backend.close()
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert Path(marker).exists() and lost == 1
    assert "dask: 1 worker(s) lost" in run.log_file.read_text()
    assert _metrics(run.path) == _metrics(serial.path)


def test_slurm_job_script_carries_the_settings():
    from blgnn_es.parallel.dask_cluster import slurm_cluster

    text = DASK.replace(
        'cluster = "local"',
        """cluster = "slurm"
queue = "compute"
account = "bio123"
cores = 4
memory = "8GB"
walltime = "02:30:00"
jobs = 3
job_extra_directives = ["--qos=long", "--constraint=intel"]
job_script_prologue = ["source ~/venv/bin/activate"]""",
    ).replace("workers = 2\n", "")
    settings = load_config_text(text).parallel
    assert settings.n_workers == 12  # jobs x cores
    cluster = slurm_cluster(settings, scheduler_options={"host": "127.0.0.1", "dashboard": False})
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in (
        "#SBATCH -p compute",
        "#SBATCH -A bio123",
        "#SBATCH -n 1",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH -t 02:30:00",
        "#SBATCH --qos=long",
        "#SBATCH --constraint=intel",
        "#SBATCH -J blgnn-es-worker",
        "source ~/venv/bin/activate",
    ):
        assert line in script, line
    assert "--nworkers 4" in script and "--nthreads 1" in script
    assert "tcp://127.0.0.1:" in script
    assert "--mem=" in script


def test_slurm_without_sbatch_is_a_config_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    settings = load_config_text(DASK.replace('"local"', '"slurm"')).parallel
    with pytest.raises(ConfigError, match="no sbatch on PATH"):
        make_backend(settings)


def test_slurm_cluster_submits_and_cancels_its_jobs(tmp_path, monkeypatch):
    """Stand-in sbatch/scancel/squeue record what dask-jobqueue runs (no SLURM here)."""
    import time

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stubs = {
        "sbatch": f'cp "$1" "{tmp_path}/job-$$.sh"\necho "Submitted batch job $$"\n',
        "scancel": f'echo "$@" >> "{tmp_path}/cancelled"\n',
        "squeue": "exit 0\n",
    }
    for name, body in stubs.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    text = DASK.replace(
        'cluster = "local"', 'cluster = "slurm"\njobs = 2\ncores = 3\ninterface = "lo"'
    ).replace("workers = 2\n", "")
    backend = make_backend(load_config_text(text).parallel)
    try:
        deadline = time.monotonic() + 20
        while len(list(tmp_path.glob("job-*.sh"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert backend.workers == 6
    finally:
        backend.close()
    scripts = [path.read_text() for path in tmp_path.glob("job-*.sh")]
    assert len(scripts) == 2
    assert all("--nworkers 3" in s and "tcp://127.0.0.1:" in s for s in scripts)
    assert len((tmp_path / "cancelled").read_text().split()) == 2
