"""Gradient meta-training (es/gradient.py, jax_learner.meta_gradient): the meta-gradient
against finite differences (smooth activations: relu_tanh's kink would spoil them),
truncation, the run directory, resume after kill -9, skipped non-finite steps, and a clear
exit without JAX."""

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

pytest.importorskip("jax")
pytest.importorskip("optax")

from blgnn_es import jax_learner  # noqa: E402
from blgnn_es.config.settings import load_config_text  # noqa: E402
from blgnn_es.errors import ConfigError  # noqa: E402
from blgnn_es.es import gradient  # noqa: E402
from blgnn_es.es.rundir import RunDir, strip_timings  # noqa: E402
from blgnn_es.evaluation import DrawPlan, draw_samples  # noqa: E402
from blgnn_es.learner import run_unroll, train  # noqa: E402
from blgnn_es.model.genome import GenomeLayout, hebbian_genome, save_genome  # noqa: E402
from blgnn_es.parallel.backends import SerialBackend  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

TINY = """
[run]
name = "grad"
[network]
hidden = [4]
dtype = "float64"
[genome]
initial = "hebbian"
rate = 0.05
[tasks]
train = ["xor"]
validate = ["xor"]
[unroll]
steps = 4
batch = 16
eval_batches = 2
[meta]
method = "gradient"
[gradient]
learning_rate = 0.01
meta_batch = 3
max_steps = 6
[report]
validate_every = 3
validate_seeds = 2
test_seeds = 2
[parallel]
backend = "serial"
"""


SMOOTH = TINY.replace('dtype = "float64"',
                      'dtype = "float64"\nhidden_activation = ["tanh", "tanh"]')


def _samples(text: str = SMOOTH, generation: int = 0):
    config = load_config_text(text)
    plan = DrawPlan(config.tasks.train, config.network, config.unroll, 3, 0)
    return draw_samples(plan, generation)


def _metrics(run_dir: Path) -> list[dict]:
    return [strip_timings(json.loads(line)) for line in (run_dir / "metrics.jsonl").open()]


@pytest.mark.parametrize("loss", ["l2", "ce"])
def test_meta_gradient_equals_central_finite_differences(loss):
    samples = _samples()
    genome = hebbian_genome(2, 0.05)
    genome[GenomeLayout(2).slot("f_syn")] = 0.97  # a gate away from 1: every slot is live
    result = jax_learner.meta_gradient(genome, samples, loss=loss)
    eps = 1e-6
    checked = 0
    for index in range(genome.size):
        up, down = genome.copy(), genome.copy()
        up[index] += eps
        down[index] -= eps
        numeric = (jax_learner.meta_gradient(up, samples, loss=loss).loss
                   - jax_learner.meta_gradient(down, samples, loss=loss).loss) / (2 * eps)
        assert result.gradient[index] == pytest.approx(numeric, rel=1e-5, abs=1e-8), index
        checked += abs(numeric) > 1e-6
    assert checked >= 10  # the comparison is not between zeros


def test_meta_loss_is_the_unrolls_loss_from_the_numba_kernel():
    samples = _samples()
    genome = hebbian_genome(2, 0.05)
    result = jax_learner.meta_gradient(genome, samples, loss="l2")
    for i, sample in enumerate(samples):
        data = sample.data
        kernel = run_unroll(genome, sample.net, data.x_train, data.y_train, data.x_eval,
                            data.y_eval, seed=sample.synapse_seed)
        assert result.l2[i] == pytest.approx(kernel.l2, rel=1e-10)
        assert result.ce[i] == pytest.approx(kernel.ce, rel=1e-10)
        assert result.accuracy[i] == kernel.accuracy
    assert result.loss == pytest.approx(np.mean(result.l2), rel=1e-12)


def test_truncation_is_the_gradient_through_the_last_steps_only():
    samples = _samples()
    genome = hebbian_genome(2, 0.05)
    full = jax_learner.meta_gradient(genome, samples, loss="ce")
    same = jax_learner.meta_gradient(genome, samples, loss="ce", truncation=4)
    np.testing.assert_array_equal(full.gradient, same.gradient)
    cut = jax_learner.meta_gradient(genome, samples, loss="ce", truncation=1)
    assert cut.loss == full.loss and not np.allclose(cut.gradient, full.gradient)
    # The truncated gradient is the derivative of the last step's loss from the synapses
    # the first three steps left, which are held fixed.
    starts = []
    for sample in samples:
        data = sample.data
        before = train(genome, sample.net, data.x_train[:3], data.y_train[:3],
                       seed=sample.synapse_seed)
        starts.append((before.forward, before.backward))

    def last_step_loss(values):
        return np.mean([run_unroll(values, s.net, s.data.x_train[3:], s.data.y_train[3:],
                                   s.data.x_eval, s.data.y_eval, weights=w).ce
                        for s, w in zip(samples, starts, strict=True)])

    eps = 1e-6
    for index in (0, 4, 9, 16, 20):
        up, down = genome.copy(), genome.copy()
        up[index] += eps
        down[index] -= eps
        numeric = (last_step_loss(up) - last_step_loss(down)) / (2 * eps)
        assert cut.gradient[index] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_a_gradient_run_writes_the_run_directory(tmp_path, invoke):
    (tmp_path / "g.toml").write_text(TINY)
    result = invoke("evolve", "-c", tmp_path / "g.toml", "--out-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "grad"
    lines = [json.loads(line) for line in (run / "metrics.jsonl").open()]
    assert [line["generation"] for line in lines] == list(range(6))
    for line in lines:
        assert "sigma" not in line and line["popsize"] == 1
        assert line["loss"] > 0 and line["grad_norm"] > 0 and line["skipped"] == 0
        assert line["best"] == line["median"] == line["worst"]
    assert [line["unrolls"] for line in lines] == [3 * (i + 1) for i in range(6)]
    assert [i for i, line in enumerate(lines) if "validation" in line] == [2, 5]
    for name in ("final_genome.npy", "final.json", "mean_genome.npy", "result.json"):
        assert (run / name).is_file(), name
    assert json.loads((run / "result.json").read_text())["stop_reason"] == "max_steps"
    mean = np.load(run / "mean_genome.npy")
    assert not np.array_equal(mean, hebbian_genome(2, 0.05))  # Adam moved it
    report = invoke("report", run)
    assert report.exit_code == 0, report.output
    assert "meta-loss" in (run / "summary.md").read_text()


def test_resume_with_more_steps_repeats_the_straight_run(tmp_path, invoke):
    (tmp_path / "g.toml").write_text(TINY)
    out = tmp_path / "runs"
    invoke("evolve", "-c", tmp_path / "g.toml", "--out-dir", out, "--name", "straight")
    first = invoke("evolve", "-c", tmp_path / "g.toml", "--out-dir", out,
                   "--set", "gradient.max_steps=2")
    assert first.exit_code == 0, first.output
    resumed = invoke("evolve", "--resume", out / "grad", "--set", "gradient.max_steps=6")
    assert resumed.exit_code == 0, resumed.output

    def drop_validation(records):  # the short run also validated at its last step
        return [{k: v for k, v in r.items() if k != "validation"} for r in records]

    assert drop_validation(_metrics(out / "grad")) == drop_validation(_metrics(out / "straight"))
    np.testing.assert_array_equal(np.load(out / "grad" / "final_genome.npy"),
                                  np.load(out / "straight" / "final_genome.npy"))
    refused = invoke("evolve", "--resume", out / "grad", "--set", "gradient.learning_rate=0.1")
    assert refused.exit_code == 2 and "gradient.learning_rate" in refused.output


@pytest.mark.slow
def test_kill_9_then_resume_gives_identical_metrics(tmp_path):
    text = TINY.replace("max_steps = 6", "max_steps = 40").replace("validate_every = 3",
                                                                   "validate_every = 5")
    (tmp_path / "g.toml").write_text(text)
    out = tmp_path / "runs"
    base = [sys.executable, "-m", "blgnn_es.cli", "evolve"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    config = load_config_text(text)
    gradient.train(config, RunDir.create(out / "straight", config.to_toml()), SerialBackend())
    process = subprocess.Popen(base + ["-c", str(tmp_path / "g.toml"), "--out-dir", str(out)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=env)
    metrics = out / "grad" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:
            break
        time.sleep(0.002)
    assert process.poll() is None, "the run finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 3 <= len(_metrics(out / "grad")) < 40
    subprocess.run(base + ["--resume", str(out / "grad")], check=True, capture_output=True,
                   env=env, cwd=ROOT)
    assert _metrics(out / "grad") == _metrics(out / "straight")
    assert "resumed at step" in (out / "grad" / "log.txt").read_text()


def test_non_finite_steps_are_skipped_and_counted(tmp_path):
    values = hebbian_genome(2, 0.05)
    values[GenomeLayout(2).slot("f_syn")] = 1e200  # the synapses overflow in the first step
    save_genome(tmp_path / "wild.npy", values)
    text = TINY.replace('initial = "hebbian"', f'initial = "{tmp_path / "wild.npy"}"')
    config = load_config_text(text.replace("max_steps = 6", "max_steps = 3"))
    run = RunDir.create(tmp_path / "run", config.to_toml())
    state = gradient.train(config, run, SerialBackend())
    lines = run.read_metrics()
    assert state.skipped == 3 and [r.skipped for r in lines] == [1, 2, 3]
    assert all(r.loss is None and r.best == 1.0 and r.diverged == 3 for r in lines)
    np.testing.assert_array_equal(state.mean_genome, values)  # nothing was applied


def test_gradient_settings_are_checked(tmp_path):
    with pytest.raises(ConfigError, match=r"gradient\.loss"):
        load_config_text(TINY.replace('max_steps = 6', 'max_steps = 6\nloss = "mse"'))
    with pytest.raises(ConfigError, match=r"meta\.method"):
        load_config_text(TINY.replace('method = "gradient"', 'method = "adam"'))


def test_without_jax_the_cli_says_how_to_install_it(tmp_path, invoke, monkeypatch):
    monkeypatch.setattr(jax_learner, "jax", None)
    (tmp_path / "g.toml").write_text(TINY)
    result = invoke("evolve", "-c", tmp_path / "g.toml", "--out-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert "pip install" in result.output and "jax" in result.output
    assert not (tmp_path / "runs" / "grad").exists()  # nothing is left behind


def test_an_sgd_step_is_the_clipped_gradient_times_the_rate(tmp_path):
    text = TINY.replace("max_steps = 6", 'max_steps = 1\noptimizer = "sgd"\nclip = 0.5')
    config = load_config_text(text.replace("[report]", "[report]\nfinal_candidates = 0"))
    run = RunDir.create(tmp_path / "run", config.to_toml())
    state = gradient.train(config, run, SerialBackend())
    start = hebbian_genome(2, 0.05)
    plan = gradient.gradient_plans(config).train
    grad = jax_learner.meta_gradient(start, draw_samples(plan, 0), loss="ce").gradient
    norm = np.linalg.norm(grad)
    assert norm > 0.5  # the clip is active
    np.testing.assert_allclose(state.mean_genome, start - 0.01 * grad * 0.5 / norm,
                               rtol=1e-12, atol=1e-15)
    assert run.read_metrics()[0].grad_norm == pytest.approx(norm, rel=1e-12)
