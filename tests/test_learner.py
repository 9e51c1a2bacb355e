"""The public API: reproducibility, divergence, evaluation, input validation."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from blgnn_es import NetworkSpec, evaluate, hebbian_genome, run_population, run_unroll, train
from blgnn_es.errors import NetworkError
from blgnn_es.learner import limit_kernel_blas_threads
from blgnn_es.model.genome import assemble_genome, random_genome


def _blobs(steps, batch, seed):
    """Two well separated clusters in 4-D: a task any sane rule learns in a few steps."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, (steps, batch))
    centres = np.array([[1.0, -1.0, 0.5, 0.0], [-1.0, 1.0, -0.5, 0.0]])
    x = centres[labels] + 0.3 * rng.normal(size=(steps, batch, 4))
    return x, labels


def test_same_seed_same_numbers():
    net = NetworkSpec(layer_sizes=(4, 16, 2), states=3)
    genome = random_genome(3, seed=4, scale=0.3)
    x, y = _blobs(6, 32, 0)
    xe, ye = _blobs(2, 32, 1)
    first = train(genome, net, x, y, seed=9, x_eval=xe, y_eval=ye, record_curve=True)
    second = train(genome, net, x, y, seed=9, x_eval=xe, y_eval=ye, record_curve=True)
    for a, b in zip(first.forward + first.backward, second.forward + second.backward, strict=True):
        np.testing.assert_array_equal(a, b)
    assert (first.accuracy, first.l2, first.ce) == (second.accuracy, second.l2, second.ce)
    np.testing.assert_array_equal(first.curve, second.curve)
    other = train(genome, net, x, y, seed=10)
    assert not np.array_equal(other.forward[0], first.forward[0])


def test_diverging_genome_is_flagged_not_raised():
    net = NetworkSpec(layer_sizes=(4, 16, 2), states=2, normalization=False)
    genome = assemble_genome(
        2, nu=[[1, 1], [0, 0]], nu_pre=np.eye(2), mu_post=[[0, 1], [0, 1]], f_syn=1e19, eta_syn=1e19
    )
    x, y = _blobs(10, 32, 0)
    xe, ye = _blobs(2, 32, 1)
    result = run_unroll(genome, net, x, y, xe, ye, seed=0)
    assert result.diverged
    assert result.steps_done < 10
    assert np.isnan(result.accuracy)


def test_hebbian_genome_learns_separable_task():
    net = NetworkSpec(layer_sizes=(4, 32, 2), states=2)
    x, y = _blobs(10, 64, 0)
    xe, ye = _blobs(4, 64, 1)
    result = run_unroll(hebbian_genome(2, rate=0.05), net, x, y, xe, ye, seed=3, record_curve=True)
    assert not result.diverged
    assert result.accuracy > 0.9
    assert result.curve.shape == (10,)


def test_evaluate_matches_final_metrics_of_train():
    net = NetworkSpec(layer_sizes=(4, 8, 2), states=2, dtype="float64")
    genome = hebbian_genome(2, rate=0.05)
    x, y = _blobs(5, 32, 0)
    xe, ye = _blobs(1, 32, 1)
    trained = train(genome, net, x, y, seed=1, x_eval=xe, y_eval=ye)
    metrics = evaluate(genome, net, trained.forward, xe[0], ye[0])
    assert metrics["accuracy"] == trained.accuracy
    assert metrics["l2"] == pytest.approx(trained.l2, rel=1e-12)


def test_float_targets_pass_through_and_labels_are_checked():
    net = NetworkSpec(layer_sizes=(4, 8, 3), states=2)
    x = np.zeros((2, 5, 4))
    with pytest.raises(NetworkError, match="lie in 0..2"):
        train(np.zeros(23), net, x, np.full((2, 5), 3), seed=0)
    with pytest.raises(NetworkError, match=r"x_train must have shape"):
        train(np.zeros(23), net, np.zeros((2, 5, 3)), np.zeros((2, 5), int), seed=0)
    with pytest.raises(NetworkError, match="needs 23"):
        train(np.zeros(43), net, x, np.zeros((2, 5), int), seed=0)
    result = train(np.zeros(23), net, x, np.zeros((2, 5, 3)), seed=0)
    assert result.steps_done == 2


def test_network_settings_are_validated():
    with pytest.raises(NetworkError, match="allowed: label, error"):
        NetworkSpec(layer_sizes=(2, 1), feedback="labels")
    with pytest.raises(NetworkError, match="unknown activation 'gelu'"):
        NetworkSpec(layer_sizes=(2, 1), hidden_activation="gelu")
    with pytest.raises(NetworkError, match="needs 2 names"):
        NetworkSpec(layer_sizes=(2, 1), output_activation=["tanh"])
    with pytest.raises(NetworkError, match="states must be >= 2"):
        NetworkSpec(layer_sizes=(2, 1), states=1)
    net = NetworkSpec(
        layer_sizes=(2, 3, 1), states=3, hidden_activation=["tanh", "relu", "identity"]
    )
    assert NetworkSpec.from_dict(net.to_dict()) == net


def test_initial_synapses_follow_the_spec():
    net = NetworkSpec(
        layer_sizes=(50, 40, 3),
        states=3,
        shared_states=True,
        tied=True,
        init_scale=2.0,
        dtype="float64",
    )
    forward, backward = net.init_weights(0)
    assert backward is None
    assert forward[0].shape == (51, 40, 3)
    bound = 2.0 / np.sqrt(51)
    assert np.abs(forward[0]).max() <= bound
    assert np.abs(forward[0]).max() > 0.9 * bound
    np.testing.assert_array_equal(forward[0][:, :, 0], forward[0][:, :, 2])


def test_population_call_equals_one_call_per_genome():
    net = NetworkSpec(layer_sizes=(4, 12, 2), states=2)
    genomes = np.stack([random_genome(2, seed, scale=0.4) for seed in range(5)])
    genomes[2, 19] = 1e19  # eta_syn: this one diverges
    genomes[2, 18] = 1e19
    x, y = _blobs(6, 32, 0)
    xe, ye = _blobs(2, 32, 1)
    population = run_population(genomes, net, x, y, xe, ye, seed=4)
    for p, genome in enumerate(genomes):
        single = run_unroll(genome, net, x, y, xe, ye, seed=4)
        assert population.diverged[p] == single.diverged
        assert population.steps_done[p] == single.steps_done
        if not single.diverged:
            assert population.accuracy[p] == single.accuracy
            assert population.l2[p] == single.l2
    assert population.diverged[2]


def test_kernel_blas_runs_on_one_thread():
    """Thread count changes BLAS summation order: results must not depend on the machine.

    Fails, rather than passing vacuously, when no SciPy BLAS is found to limit.
    """
    net = NetworkSpec(layer_sizes=(2, 3, 1), states=2)
    train(np.zeros(23), net, np.zeros((1, 2, 2)), np.zeros((1, 2), np.int64), seed=0)
    limited = limit_kernel_blas_threads()
    assert limited, "no SciPy BLAS library found: the kernel's BLAS threads are not limited"
    info = {entry["filepath"]: entry for entry in threadpool_info()}
    for path in limited:
        assert info[path]["user_api"] == "blas"
        assert info[path]["num_threads"] == 1


# Run in a fresh interpreter: importing the learner compiles nothing and loads neither the
# kernel's BLAS nor threadpoolctl; the first kernel call then limits the BLAS to one thread.
FIRST_CALL_SCRIPT = """
import os
import sys
import numpy as np
import blgnn_es.learner as learner
from blgnn_es.kernel import unroll as kernel
from blgnn_es.model.network import NetworkSpec

assert "threadpoolctl" not in sys.modules, "threadpoolctl imported by the learner"
assert "scipy.linalg.cython_blas" not in sys.modules, "BLAS loaded by the learner"
assert not kernel.run_population.signatures

import scipy.linalg.cython_blas
from threadpoolctl import ThreadpoolController

def blas_threads():
    # SciPy's BLAS (wheels: in scipy.libs) is the kernel's; any other is the user's
    threads = {True: [], False: []}
    for lib in ThreadpoolController().lib_controllers:
        if lib.user_api == "blas":
            kernels = "scipy" in os.path.basename(os.path.dirname(lib.filepath))
            threads[kernels].append(lib.num_threads)
    return threads

for lib in ThreadpoolController().lib_controllers:
    if lib.user_api == "blas":
        lib.set_num_threads(2)
before = blas_threads()
assert before[True], "no SciPy BLAS found"
net = NetworkSpec(layer_sizes=(2, 3, 1), states=2)
learner.run_unroll(np.zeros(23), net, np.zeros((1, 2, 2)), np.zeros((1, 2), np.int64),
                   None, None, seed=0)
after = blas_threads()
print(min(before[True]), before, after)
assert set(after[True]) == {1}, "the kernel's BLAS still runs several threads"
assert after[False] == before[False], "the user's BLAS was changed"
"""


def test_first_kernel_call_limits_blas_threads_not_the_import():
    done = subprocess.run(
        [sys.executable, "-c", FIRST_CALL_SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    threads_before = int(done.stdout.split()[0])
    if threads_before < 2:  # one core: BLAS could not be set to 2 threads beforehand
        pytest.skip("the BLAS runs one thread here whatever the kernel does")
