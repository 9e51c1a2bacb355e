"""The JAX learner (blgnn_es/jax_learner.py) held to what we trust: the NumPy oracle in
float64, independent SGD for the backprop genome, the numba learner in float32.

Every configuration costs a jit compile of 1–2.5 s on a busy 2-core machine, so the oracle
grid is a representative subset of tests/test_kernel_oracle.py's (its helpers are reused):
every flag and mode on its own, all on together, k = 2 and 3, 0–2 hidden layers and the
three activation sets, each at least once (see ORACLE_CASES).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytestmark = pytest.mark.slow  # each configuration jit-compiles for 1-2.5 s

from test_backprop import sgd_reference  # noqa: E402
from test_kernel_oracle import ACTIVATION_SETS, FLOAT32_RTOL, _max_error, _problem  # noqa: E402

from blgnn_es import evaluation, fitness, jax_learner, learner  # noqa: E402
from blgnn_es.config.settings import FitnessSettings  # noqa: E402
from blgnn_es.errors import NetworkError  # noqa: E402
from blgnn_es.model import reference  # noqa: E402
from blgnn_es.model.genome import backprop_genome, hebbian_genome, random_genome  # noqa: E402
from blgnn_es.model.network import NetworkSpec, backprop_network, encode_targets  # noqa: E402
from blgnn_es.tasks.unroll import UnrollData  # noqa: E402

OFF = {"tied": False, "shared_states": False, "normalization": False, "oja": False,
       "read_normalization": False, "feedback": "label", "backward": "additive"}
ALL_ON = {"tied": True, "shared_states": True, "normalization": True, "oja": True,
          "read_normalization": True, "feedback": "error", "backward": "multiplicative_second"}

# (id, k, hidden layers, options, activation set): each option on its own, all off, all on,
# two mixed combinations; k 2–3; 0, 1 and 2 hidden layers; all three activation sets.
ORACLE_CASES = [
    ("all-off-k2-h0", 2, (), OFF, 0),
    ("all-on-k2-h2", 2, (5, 4), ALL_ON, 2),
    ("tied-k3-h1", 3, (6,), OFF | {"tied": True}, 1),
    ("shared-k3-h2", 3, (5, 4), OFF | {"shared_states": True}, 0),
    ("normalization-k3-h1", 3, (6,), OFF | {"normalization": True}, 2),
    ("oja-k2-h2", 2, (5, 4), OFF | {"oja": True}, 1),
    ("read-normalization-k3-h1", 3, (6,), OFF | {"read_normalization": True}, 0),
    ("error-feedback-k2-h1", 2, (6,), OFF | {"feedback": "error"}, 2),
    ("multiplicative-k3-h2", 3, (5, 4), OFF | {"backward": "multiplicative_second"}, 1),
    ("untied-norm-oja-readnorm-k2-h1", 2, (6,),
     OFF | {"normalization": True, "oja": True, "read_normalization": True}, 0),
]


def _args(case, dtype):
    _, k, hidden, combo, acts = case
    return _problem(k, hidden, combo, ACTIVATION_SETS[acts], dtype, seed=k * 10 + len(hidden))


@pytest.mark.parametrize("case", ORACLE_CASES, ids=[c[0] for c in ORACLE_CASES])
def test_jax_equals_oracle_float64(case):
    net, genome, x, y, x_eval, y_eval = _args(case, "float64")
    forward, backward = net.init_weights(11)
    ours = jax_learner.train(genome, net, x, y, weights=(forward, backward), x_eval=x_eval,
                             y_eval=y_eval, record_curve=True)
    oracle = reference.unroll(net, genome, forward, backward, x,
                              encode_targets(y, net.n_outputs, dtype=np.float64), x_eval, y_eval,
                              record_curve=True)
    assert (ours.diverged, ours.steps_done) == (oracle.diverged, oracle.steps_done) == (False, 4)
    error, scale = _max_error(ours, oracle)
    assert error <= 1e-10 * max(scale, 1.0)  # observed: below 1e-15
    assert np.abs(ours.forward[0] - forward[0]).max() > 1e-3  # not vacuous: synapses moved
    assert ours.forward[0].dtype == np.float64
    assert ours.accuracy == oracle.accuracy
    assert ours.l2 == pytest.approx(oracle.l2, rel=1e-10)
    assert ours.ce == pytest.approx(oracle.ce, rel=1e-10)
    np.testing.assert_array_equal(ours.curve, oracle.curve)


def test_backprop_genome_is_sgd_to_1e10():
    """SPEC §4, as tests/test_backprop.py holds the numba learner to it."""
    sizes, steps, batch, lr = (6, 9, 7, 3), 50, 16, 0.5
    rng = np.random.default_rng(2021)
    x = rng.uniform(0, 1, (steps, batch, sizes[0]))
    targets = np.eye(sizes[-1])[rng.integers(0, sizes[-1], (steps, batch))]
    net = backprop_network(sizes, dtype="float64")
    forward, _ = net.init_weights(5)
    result = jax_learner.train(backprop_genome(lr), net, x, targets, weights=(forward, None))
    assert not result.diverged and result.steps_done == steps and result.backward is None
    w_sgd, b_sgd, losses = sgd_reference([w[:-1, :, 0] for w in forward],
                                         [w[-1, :, 0] for w in forward], x, targets, lr)
    for layer, w in enumerate(result.forward):
        for channel in range(2):
            np.testing.assert_allclose(w[:-1, :, channel], w_sgd[layer], rtol=0, atol=1e-10)
            np.testing.assert_allclose(w[-1, :, channel], b_sgd[layer], rtol=0, atol=1e-10)
    moved = max(np.abs(a[:-1, :, 0] - b[:-1, :, 0]).max()
                for a, b in zip(result.forward, forward, strict=True))
    assert moved > 1e-2 and np.mean(losses[-10:]) < np.mean(losses[:10])


@pytest.mark.parametrize("case", [ORACLE_CASES[1], ORACLE_CASES[3], ORACLE_CASES[9]],
                         ids=[ORACLE_CASES[i][0] for i in (1, 3, 9)])
def test_jax_float32_agrees_with_numba(case):
    net, genome, x, y, x_eval, y_eval = _args(case, "float32")
    ours = jax_learner.train(genome, net, x, y, seed=11, x_eval=x_eval, y_eval=y_eval)
    numba = learner.train(genome, net, x, y, seed=11, x_eval=x_eval, y_eval=y_eval)
    assert ours.forward[0].dtype == np.float32
    assert (ours.diverged, ours.steps_done) == (numba.diverged, numba.steps_done)
    error, scale = _max_error(ours, numba)
    assert error <= FLOAT32_RTOL * max(scale, 1.0)  # observed: below 2e-7
    assert abs(ours.accuracy - numba.accuracy) <= 1.0 / y_eval.size  # at most one example
    assert ours.l2 == pytest.approx(numba.l2, rel=FLOAT32_RTOL)


def _toy(dtype, steps=10, batch=32):
    """The toy workload's shapes (2-20-1, default options: normalization on)."""
    rng = np.random.default_rng(4)
    net = NetworkSpec(layer_sizes=(2, 20, 1), states=2, dtype=dtype)
    x = rng.uniform(-1, 1, (steps, batch, 2))
    y = (x[..., 0] * x[..., 1] > 0).astype(np.int64)
    x_eval = rng.uniform(-1, 1, (1, batch, 2))
    y_eval = (x_eval[..., 0] * x_eval[..., 1] > 0).astype(np.int64)
    return net, x, y, x_eval, y_eval


def _population(k=2):
    """Three random genomes, the Hebbian start and one that diverges (f̃ = 1e30 makes the
    synapses overflow float32 at step 2)."""
    diverging = hebbian_genome(k)
    diverging[-5] = 1e30  # f_syn (SPEC §2: f, eta, f_syn, eta_syn, g, h, omega)
    return np.stack([random_genome(k, s, scale=0.3) for s in range(3)]
                    + [hebbian_genome(k, rate=0.05), diverging])


def test_population_equals_unroll_per_genome_and_numba():
    net, x, y, x_eval, y_eval = _toy("float32")
    genomes = _population()
    pop = jax_learner.run_population(genomes, net, x, y, x_eval, y_eval, seed=3)
    numba = learner.run_population(genomes, net, x, y, x_eval, y_eval, seed=3)
    for p, genome in enumerate(genomes):
        one = jax_learner.run_unroll(genome, net, x, y, x_eval, y_eval, seed=3)
        assert (pop.diverged[p], pop.steps_done[p]) == (one.diverged, one.steps_done)
        for name in ("accuracy", "l2", "ce"):
            np.testing.assert_allclose(getattr(pop, name)[p], getattr(one, name), rtol=1e-6)
    chunked = jax_learner.run_population(genomes, net, x, y, x_eval, y_eval, seed=3, chunk=2)
    np.testing.assert_allclose(chunked.l2, pop.l2, rtol=1e-6)  # 2 + 2 + a remainder of 1
    np.testing.assert_array_equal(chunked.steps_done, pop.steps_done)
    np.testing.assert_array_equal(pop.diverged, [False] * 4 + [True])
    np.testing.assert_array_equal(pop.diverged, numba.diverged)
    np.testing.assert_array_equal(pop.steps_done, numba.steps_done)
    assert pop.steps_done[-1] == 2 and np.isnan(pop.accuracy[-1]) and np.isnan(pop.l2[-1])
    alive = ~pop.diverged
    assert np.abs(pop.accuracy[alive] - numba.accuracy[alive]).max() <= 1.0 / y_eval.size
    np.testing.assert_allclose(pop.l2[alive], numba.l2[alive], rtol=FLOAT32_RTOL)
    np.testing.assert_allclose(pop.ce[alive], numba.ce[alive], rtol=FLOAT32_RTOL)


def test_diverging_genome_is_flagged_not_raised():
    net, x, y, x_eval, y_eval = _toy("float32", steps=6)
    genome = _population()[-1]
    ours = jax_learner.train(genome, net, x, y, seed=3, x_eval=x_eval, y_eval=y_eval,
                             record_curve=True)
    numba = learner.train(genome, net, x, y, seed=3, x_eval=x_eval, y_eval=y_eval,
                          record_curve=True)
    assert ours.diverged and numba.diverged
    assert ours.steps_done == numba.steps_done == 2
    assert np.isnan([ours.accuracy, ours.l2, ours.ce]).all()
    assert not np.isfinite(ours.forward[0]).all()  # the synapses of the step that diverged
    assert not np.isnan(ours.curve[0]) and np.isnan(ours.curve[1:]).all()
    np.testing.assert_array_equal(np.isnan(ours.curve), np.isnan(numba.curve))


def test_evaluate_equals_numba_float64():
    net, x, y, x_eval, y_eval = _toy("float64")
    trained = learner.train(hebbian_genome(2, rate=0.05), net, x, y, seed=1)
    data, labels = x_eval.reshape(-1, 2), y_eval.reshape(-1)
    ours = jax_learner.evaluate(hebbian_genome(2), net, trained.forward, data, labels)
    numba = learner.evaluate(hebbian_genome(2), net, trained.forward, data, labels)
    assert ours["accuracy"] == numba["accuracy"] and not ours["diverged"]
    assert ours["l2"] == pytest.approx(numba["l2"], rel=1e-12)
    assert ours["ce"] == pytest.approx(numba["ce"], rel=1e-12)


def test_bad_inputs_are_network_errors_like_the_numba_learner():
    net, x, y, x_eval, y_eval = _toy("float32")
    with pytest.raises(NetworkError, match="k=2 network needs 23"):
        jax_learner.run_unroll(np.zeros(43), net, x, y, x_eval, y_eval, seed=0)
    with pytest.raises(NetworkError, match="x_train must have shape"):
        jax_learner.run_unroll(np.zeros(23), net, x[..., :1], y, x_eval, y_eval, seed=0)
    with pytest.raises(NetworkError, match="or a seed"):
        jax_learner.run_population(np.zeros((2, 23)), net, x, y, x_eval, y_eval)


def test_only_the_jax_learner_imports_jax():
    package = Path(jax_learner.__file__).parent
    importers = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name == "jax" or name.startswith("jax.") for name in names):
                importers.append(path.name)
    assert sorted(set(importers)) == ["jax_learner.py"]


def test_without_jax_the_module_imports_and_says_how_to_install():
    code = ("import sys; sys.modules['jax'] = None\n"
            "import numpy as np\n"
            "from blgnn_es import jax_learner as jl\n"
            "from blgnn_es.model.network import NetworkSpec\n"
            "assert not jl.have_jax()\n"
            "try:\n"
            "    jl.run_unroll(np.zeros(23), NetworkSpec((2, 1)), np.zeros((1, 1, 2)),\n"
            "                  np.zeros((1, 1), int), None, None, seed=0)\n"
            "except jl.JaxUnavailableError as err:\n"
            "    print(err)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "pip install -e '.[jax]'" in out and len(out.strip().splitlines()) == 1


def test_fitness_on_the_jax_learner_equals_the_numba_fitness(monkeypatch):
    """What a JAX backend would run: fitness.score_genomes with the JAX learner's
    unroll_population (one call per sample) gives the numba path's fitness."""
    samples = []
    for index in range(2):
        net, x, y, x_eval, y_eval = _toy("float32")
        rng = np.random.default_rng(index)
        data = UnrollData(*(np.ascontiguousarray(a[:, rng.permutation(a.shape[1])])
                            for a in (x, y, x_eval, y_eval)))
        seeds = evaluation.SampleSeeds(base=7, generation=0, task_index=index, replica=0)
        samples.append(evaluation.Sample(f"task{index}", net, data, seeds))
    genomes = _population()
    for metric in ("accuracy", "l2"):
        settings = FitnessSettings(metric=metric)
        numba = fitness.score_genomes(genomes, samples, settings)
        monkeypatch.setattr(fitness, "unroll_population", jax_learner.unroll_population)
        monkeypatch.setattr(fitness, "unroll_sample", jax_learner.unroll_sample)
        ours = fitness.score_genomes(genomes, samples, settings)
        monkeypatch.undo()
        for a, b in zip(ours, numba, strict=True):
            assert (a.diverged, a.samples) == (b.diverged, b.samples)
            tol = 1.0 / 32 if metric == "accuracy" else FLOAT32_RTOL * max(b.fitness, 1.0)
            assert abs(a.fitness - b.fitness) <= tol
