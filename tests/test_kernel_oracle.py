"""The numba kernel against the plain-NumPy oracle (SPEC.md §3–§6) over the option grid."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from blgnn_es.kernel import unroll as kernel
from blgnn_es.kernel.unroll import tanh_fast
from blgnn_es.learner import TrainResult, UnrollResult, genome_slots, train
from blgnn_es.model import reference
from blgnn_es.model.genome import SLOT_NAMES, GenomeLayout, random_genome
from blgnn_es.model.network import ACTIVATIONS, NetworkSpec, encode_targets

FLAGS = ("tied", "shared_states", "normalization", "oja", "read_normalization")
MODES = {"feedback": ("label", "error"), "backward": ("additive", "multiplicative_second")}


def flag_grid():
    """Each flag and mode on its own, all on, all off, plus seeded random combinations."""
    base = {flag: False for flag in FLAGS} | {"feedback": "label", "backward": "additive"}
    combos = [
        dict(base),
        {flag: True for flag in FLAGS} | {"feedback": "error", "backward": "multiplicative_second"},
    ]
    for flag in FLAGS:
        combos.append(base | {flag: True})
    for mode, values in MODES.items():
        combos.append(base | {mode: values[1]})
    rng = np.random.default_rng(7)
    for _ in range(4):
        combo = {flag: bool(rng.integers(2)) for flag in FLAGS}
        combo |= {mode: values[rng.integers(2)] for mode, values in MODES.items()}
        combos.append(combo)
    return combos


ACTIVATION_SETS = [
    {},  # defaults: relu_tanh hidden, tanh output
    {
        "hidden_activation": "sigmoid",
        "output_activation": "identity",
        "backward_activation": "tanh",
    },
    {
        "hidden_activation": ("tanh", "relu", "dsigmoid", "sigmoid"),
        "output_activation": ("tanh", "identity", "relu_tanh", "sigmoid"),
    },
]

CASES = [
    (k, hidden, combo, ACTIVATION_SETS[i % len(ACTIVATION_SETS)])
    for (k, hidden) in itertools.product((2, 3, 4), ((), (6,), (5, 4)))
    for i, combo in enumerate(flag_grid())
]


def _activations_for(k: int, acts: dict) -> dict:
    """Per-state lists of length 4 are cut to k (the grid spans k = 2, 3, 4)."""
    return {key: (value[:k] if isinstance(value, tuple) else value) for key, value in acts.items()}


def _problem(k, hidden, combo, acts, dtype, seed):
    rng = np.random.default_rng(seed)
    n_in, n_out = 3, 4
    net = NetworkSpec(
        layer_sizes=(n_in, *hidden, n_out),
        states=k,
        dtype=dtype,
        init_scale=1.0,
        **combo,
        **_activations_for(k, acts),
    )
    genome = random_genome(k, seed, scale=0.35)
    steps, batch = 4, 8
    x = rng.uniform(-1, 1, (steps, batch, n_in))
    y = rng.integers(0, n_out, (steps, batch))
    x_eval = rng.uniform(-1, 1, (2, batch, n_in))
    y_eval = rng.integers(0, n_out, (2, batch))
    return net, genome, x, y, x_eval, y_eval


def _run_both(net, genome, x, y, x_eval, y_eval):
    forward, backward = net.init_weights(11)
    ours = train(
        genome,
        net,
        x,
        y,
        weights=(forward, backward),
        x_eval=x_eval,
        y_eval=y_eval,
        record_curve=True,
    )
    net64 = NetworkSpec.from_dict(net.to_dict() | {"dtype": "float64"})
    f64 = [w.astype(np.float64) for w in forward]
    b64 = None if backward is None else [v.astype(np.float64) for v in backward]
    oracle = reference.unroll(
        net64,
        genome,
        f64,
        b64,
        x,
        encode_targets(y, net.n_outputs, dtype=np.float64),
        x_eval,
        y_eval,
        record_curve=True,
    )
    return ours, oracle


def _max_error(ours, oracle):
    pairs = list(zip(ours.forward, oracle.forward, strict=True))
    if oracle.backward is not None:
        pairs += list(zip(ours.backward, oracle.backward, strict=True))
    scale = max(float(np.abs(b).max()) for _, b in pairs)
    return max(float(np.abs(a - b).max()) for a, b in pairs), scale


@pytest.mark.parametrize("k,hidden,combo,acts", CASES)
def test_kernel_equals_oracle_float64(k, hidden, combo, acts):
    problem = _problem(k, hidden, combo, acts, "float64", seed=k * 10 + len(hidden))
    ours, oracle = _run_both(*problem)
    assert ours.diverged == oracle.diverged
    assert ours.steps_done == oracle.steps_done
    if oracle.diverged:
        return
    error, scale = _max_error(ours, oracle)
    assert error <= 1e-12 * max(scale, 1.0)
    assert ours.accuracy == oracle.accuracy
    assert ours.l2 == pytest.approx(oracle.l2, rel=1e-12, abs=1e-12)
    assert ours.ce == pytest.approx(oracle.ce, rel=1e-12, abs=1e-12)
    np.testing.assert_array_equal(ours.curve, oracle.curve)


# float32: rounding (eps 6e-8) through products of a few hundred terms, the rational tanh
# (abs error 3.3e-7) and the batch normalization's division by a standard deviation give
# relative errors of 1e-6 to 1e-5 after a few steps; 1e-4 leaves a margin of ten without
# hiding a wrong formula (those show up as errors of order 1).
FLOAT32_RTOL = 1e-4


@pytest.mark.parametrize("k,hidden,combo,acts", CASES[::3])
def test_kernel_float32_close_to_float64_oracle(k, hidden, combo, acts):
    problem = _problem(k, hidden, combo, acts, "float32", seed=k * 10 + len(hidden))
    ours, oracle = _run_both(*problem)
    if oracle.diverged:
        assert ours.diverged
        return
    error, scale = _max_error(ours, oracle)
    assert error <= FLOAT32_RTOL * max(scale, 1.0)
    assert ours.forward[0].dtype == np.float32


# R2's shapes (SPEC §7: 196-512-10, k = 2, batch 128), a few steps: every matrix product is
# above the kernel's small-product threshold, so these cases run its BLAS branch, which the
# grid above (products of at most 7·6·8 multiply-adds) never reaches.
BLAS_SIZES, BLAS_BATCH, BLAS_STEPS = (196, 512, 10), 128, 3
BLAS_COMBOS = {
    "label-additive": {},
    "tied-error-multiplicative": {
        "tied": True,
        "feedback": "error",
        "backward": "multiplicative_second",
    },
    "shared-oja-read-normalization": {
        "shared_states": True,
        "oja": True,
        "read_normalization": True,
    },
}


def test_blas_shapes_are_above_the_small_product_threshold():
    """The smallest product the kernel forms on a layer pair is n_ℓ · n_{ℓ+1} · B (the
    backward pass and ΔV); the rest add the bias row. If the threshold moves above these
    shapes, the BLAS cases below would silently test the plain loops: fail instead."""
    smallest = min(a * b for a, b in zip(BLAS_SIZES[:-1], BLAS_SIZES[1:], strict=True)) * BLAS_BATCH
    assert smallest >= kernel.SMALL_PRODUCT


@pytest.mark.parametrize("combo", BLAS_COMBOS.values(), ids=BLAS_COMBOS)
def test_kernel_blas_branch_equals_oracle_float64(combo):
    rng = np.random.default_rng(5)
    net = NetworkSpec(layer_sizes=BLAS_SIZES, states=2, dtype="float64", **combo)
    x = rng.uniform(0, 1, (BLAS_STEPS, BLAS_BATCH, BLAS_SIZES[0]))
    y = rng.integers(0, BLAS_SIZES[-1], (BLAS_STEPS, BLAS_BATCH))
    x_eval = rng.uniform(0, 1, (1, BLAS_BATCH, BLAS_SIZES[0]))
    y_eval = rng.integers(0, BLAS_SIZES[-1], (1, BLAS_BATCH))
    ours, oracle = _run_both(net, random_genome(2, 3, scale=0.3), x, y, x_eval, y_eval)
    assert not oracle.diverged and not ours.diverged
    assert ours.steps_done == oracle.steps_done == BLAS_STEPS
    error, scale = _max_error(ours, oracle)
    assert error <= 1e-11 * max(scale, 1.0)  # rounding alone gives about 1e-16 here
    initial, _ = net.init_weights(11)
    assert np.abs(ours.forward[0] - initial[0]).max() > 1e3 * error  # the synapses moved
    assert ours.accuracy == oracle.accuracy
    assert ours.l2 == pytest.approx(oracle.l2, rel=1e-10)
    assert ours.ce == pytest.approx(oracle.ce, rel=1e-10)


def test_learning_changes_the_synapses():
    """Guard against a vacuous comparison: the grid's genomes really move the weights."""
    net, genome, x, y, x_eval, y_eval = _problem(2, (6,), flag_grid()[0], {}, "float64", 1)
    ours, _ = _run_both(net, genome, x, y, x_eval, y_eval)
    initial, _ = net.init_weights(11)
    assert np.abs(ours.forward[0] - initial[0]).max() > 1e-3


def test_kernel_tables_cover_the_model_tables():
    """A slot or activation added to the model must reach the kernel by name, or fail here."""
    assert set(kernel.ACTIVATION_CODES) == set(ACTIVATIONS)
    assert len(set(kernel.ACTIVATION_CODES.values())) == len(ACTIVATIONS)
    assert set(kernel.GenomeSlots._fields) == set(SLOT_NAMES)
    for k in (2, 3, 4):
        slots, layout = genome_slots(k), GenomeLayout(k)
        assert all(getattr(slots, name) == layout.slot(name).start for name in SLOT_NAMES)
    # the learner reads a RESULT record in one call, in the result classes' field order
    metrics = ("accuracy", "l2", "ce", "diverged", "steps")
    assert kernel.RESULT.names == metrics
    for result_class in (TrainResult, UnrollResult):
        names = [field.name for field in dataclasses.fields(result_class)]
        assert names[names.index("accuracy") :][:5] == [*metrics[:4], "steps_done"]


def test_fast_tanh_is_accurate():
    x = np.linspace(-20, 20, 400_001, dtype=np.float32)
    error = np.abs(tanh_fast(x).astype(np.float64) - np.tanh(x.astype(np.float64)))
    assert error.max() < 5e-7
    assert tanh_fast(np.float32([0.0]))[0] == 0.0
