"""The public Python API of the inner learner: train and evaluate BLUR networks.

Validates inputs, converts synapses between the SPEC layout (W: (n+1, n', k),
V: (n', n, k)) and the kernel's channel-major flat buffers, and calls the numba kernel
(blgnn_es/kernel/unroll.py) once per unroll, with one argument record.

>>> import numpy as np
>>> from blgnn_es import NetworkSpec, backprop_genome, train
>>> net = NetworkSpec(layer_sizes=(4, 8, 3), states=2)
>>> x = np.random.default_rng(0).uniform(size=(5, 16, 4))   # 5 steps, batch 16
>>> labels = np.random.default_rng(1).integers(0, 3, size=(5, 16))
>>> result = train(np.zeros(23), net, x, labels, seed=0)
>>> result.forward[0].shape, result.steps_done
((5, 8, 2), 5)
"""

from __future__ import annotations

import functools
import itertools
import os
from dataclasses import dataclass

import numpy as np

from blgnn_es.errors import NetworkError
from blgnn_es.kernel import unroll as kernel
from blgnn_es.model.genome import Genome, GenomeLayout, validate_genome_array
from blgnn_es.model.network import ACTIVATIONS, NetworkSpec, encode_targets
from blgnn_es.model.results import TrainResult, UnrollResult


@functools.cache
def limit_kernel_blas_threads() -> tuple[str, ...]:
    """Run the BLAS that the kernel's matrix products call (SciPy's) on one thread.

    Parallelism in blgnn-es is across processes. A multi-threaded BLAS inside each
    process changes the summation order with the thread count (so results would depend on
    the machine) and, on a busy machine, spin-waiting threads make an unroll up to 50x
    slower. NumPy's own BLAS, which a user's code calls, is left alone. Called before every
    kernel call and done once per process (not at import: importing this module loads no
    BLAS and compiles nothing). Returns the paths of the libraries limited.
    """
    import scipy.linalg.cython_blas  # noqa: F401  (loads the library numba calls)
    from threadpoolctl import ThreadpoolController

    limited = []
    for lib in ThreadpoolController().lib_controllers:
        if lib.user_api == "blas" and "scipy" in os.path.basename(os.path.dirname(lib.filepath)):
            lib.set_num_threads(1)
            limited.append(lib.filepath)
    return tuple(limited)


def kernel_options(
    net: NetworkSpec,
    *,
    record_curve: bool = False,
    update_unread: bool = True,
    fast_activations: bool | None = None,
) -> kernel.Options:
    """The kernel's switches for ``net``; fast (rational) tanh by default in float32 only."""
    if fast_activations is None:
        fast_activations = net.dtype == "float32"
    return kernel.Options(
        tied=bool(net.tied),
        shared_states=bool(net.shared_states),
        feedback_error=net.feedback == "error",
        backward_multiplicative=net.backward == "multiplicative_second",
        normalization=bool(net.normalization),
        oja=bool(net.oja),
        read_normalization=bool(net.read_normalization),
        fast_activations=bool(fast_activations),
        update_unread=bool(update_unread),
        record_curve=bool(record_curve),
    )


@functools.cache
def genome_slots(states: int) -> kernel.GenomeSlots:
    """The kernel's genome offsets for k states, read from GenomeLayout by slot name
    (cached: the toy workload's unroll takes a few hundred microseconds)."""
    layout = GenomeLayout(states)
    return kernel.GenomeSlots(*(layout.slot(name).start for name in kernel.GenomeSlots._fields))


@functools.cache
def _kernel_code_of() -> np.ndarray:
    """Kernel activation code of each entry of ACTIVATIONS, matched by name."""
    table = np.array([kernel.ACTIVATION_CODES[name] for name in ACTIVATIONS], dtype=np.int64)
    table.setflags(write=False)
    return table


_ACTIVATION_CODES_SEEN: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def kernel_activation_codes(net: NetworkSpec) -> tuple[np.ndarray, np.ndarray]:
    """NetworkSpec's per-layer activation codes (indices into ACTIVATIONS) translated by
    name into the kernel's codes: (forward, backward), int64 (L, k).

    Kept per activation setting: they cost more than the argument typing the kernel call
    adds, and a toy unroll takes a few hundred microseconds. Callers do not write to them.
    """
    key = (net.states, net.n_layers) + tuple(
        value if value is None or isinstance(value, str) else tuple(value)
        for value in (net.hidden_activation, net.output_activation, net.backward_activation)
    )
    codes = _ACTIVATION_CODES_SEEN.get(key)
    if codes is None:
        fwd, bwd = net.activation_codes()
        codes = (_kernel_code_of()[fwd], _kernel_code_of()[bwd])
        _ACTIVATION_CODES_SEEN[key] = codes
    return codes


def _channel_major(net: NetworkSpec, synapses, shape: tuple[int, int, int], name: str,
                   layout: str) -> np.ndarray:
    """One SPEC-layout synapse tensor, checked, as the kernel's flat channel-major part
    (shared_states: every channel is channel 0)."""
    synapses = np.asarray(synapses)
    if synapses.shape != shape:
        raise NetworkError(f"{name} has shape {synapses.shape}, expected {shape} {layout}")
    if net.shared_states:
        synapses = np.broadcast_to(synapses[:, :, :1], synapses.shape)
    return np.transpose(synapses, (2, 0, 1)).reshape(-1)


def pack_weights(
    net: NetworkSpec, forward: list[np.ndarray], backward: list[np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """SPEC-layout synapse lists -> the kernel's flat channel-major buffers and offsets.

    Applies the network's constraints: shared_states copies channel 0; tied ignores V.
    """
    dtype = net.numpy_dtype
    if len(forward) != net.n_layers:
        raise NetworkError(f"expected {net.n_layers} forward synapse tensors, got {len(forward)}")
    w_parts, v_parts = [], []
    for layer in range(net.n_layers):
        w_parts.append(_channel_major(net, forward[layer], net.forward_shape(layer),
                                      f"W_{layer}", "(n+1, n', k)"))
        if net.tied:
            continue
        if backward is None:
            raise NetworkError("untied network: backward synapses V are required")
        v_parts.append(_channel_major(net, backward[layer], net.backward_shape(layer),
                                      f"V_{layer}", "(n', n, k)"))
    w_off = np.array([0, *itertools.accumulate(p.size for p in w_parts)], dtype=np.int64)
    if net.tied:
        v_off = np.zeros(net.n_layers + 1, dtype=np.int64)
    else:
        v_off = np.array([0, *itertools.accumulate(p.size for p in v_parts)], dtype=np.int64)
    w_buf = np.ascontiguousarray(np.concatenate(w_parts), dtype=dtype)
    v_buf = np.ascontiguousarray(np.concatenate(v_parts) if v_parts else np.zeros(0), dtype=dtype)
    return w_buf, w_off, v_buf, v_off


def unpack_weights(
    net: NetworkSpec, w_buf: np.ndarray, w_off: np.ndarray, v_buf: np.ndarray, v_off: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """The inverse of :func:`pack_weights` (tied: V is None)."""
    k = net.states
    forward, backward = [], []
    for layer in range(net.n_layers):
        n_in, n_out = net.layer_sizes[layer], net.layer_sizes[layer + 1]
        w = w_buf[w_off[layer] : w_off[layer + 1]].reshape(k, n_in + 1, n_out)
        forward.append(np.ascontiguousarray(np.transpose(w, (1, 2, 0))))
        if not net.tied:
            v = v_buf[v_off[layer] : v_off[layer + 1]].reshape(k, n_out, n_in)
            backward.append(np.ascontiguousarray(np.transpose(v, (1, 2, 0))))
    return forward, (None if net.tied else backward)


def _batches(net: NetworkSpec, x: np.ndarray, name: str, ndim: int = 3) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != ndim or x.shape[-1] != net.n_inputs:
        raise NetworkError(f"{name} must have shape (T, B, {net.n_inputs}), got {x.shape}")
    return np.ascontiguousarray(x, dtype=net.numpy_dtype)


def _targets(net: NetworkSpec, y: np.ndarray, steps: int, batch: int) -> np.ndarray:
    """Labels (T, B) -> ±1 targets, or float targets (T, B, n_out) passed through."""
    y = np.asarray(y)
    if y.shape == (steps, batch) and y.dtype.kind in "iu":
        _check_labels(net, y, "labels")
        return encode_targets(y, net.n_outputs, dtype=net.numpy_dtype)
    if y.shape == (steps, batch, net.n_outputs):
        return np.ascontiguousarray(y, dtype=net.numpy_dtype)
    raise NetworkError(
        f"training targets must be int labels ({steps}, {batch}) or float targets "
        f"({steps}, {batch}, {net.n_outputs}), got {y.dtype} {y.shape}"
    )


def _check_labels(net: NetworkSpec, y: np.ndarray, name: str) -> None:
    classes = 2 if net.n_outputs == 1 else net.n_outputs
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise NetworkError(f"{name} must lie in 0..{classes - 1} for {net.n_outputs} outputs")


def _eval_arrays(net: NetworkSpec, x_eval, y_eval) -> tuple[np.ndarray, np.ndarray]:
    if x_eval is None:
        return (
            np.zeros((0, 1, net.n_inputs), dtype=net.numpy_dtype),
            np.zeros((0, 1), dtype=np.int64),
        )
    x_eval = np.asarray(x_eval)
    if x_eval.ndim == 2:  # one batch holding the whole set
        x_eval = x_eval[None]
    x_eval = _batches(net, x_eval, "x_eval")
    y_eval = np.asarray(y_eval)
    if y_eval.shape != x_eval.shape[:2] and y_eval.size == x_eval.shape[0] * x_eval.shape[1]:
        y_eval = y_eval.reshape(x_eval.shape[:2])
    if y_eval.shape != x_eval.shape[:2] or y_eval.dtype.kind not in "iu":
        raise NetworkError(
            f"y_eval must be int labels of shape {x_eval.shape[:2]}, got "
            f"{y_eval.dtype} {y_eval.shape}"
        )
    _check_labels(net, y_eval, "y_eval")
    return x_eval, np.ascontiguousarray(y_eval, dtype=np.int64)


def _check_genome(genome, net: NetworkSpec) -> np.ndarray:
    genome = validate_genome_array(genome.values if isinstance(genome, Genome) else genome)
    if genome.size != net.genome_length:
        raise NetworkError(
            f"genome has {genome.size} numbers; a k={net.states} network needs {net.genome_length}"
        )
    return genome


def _kernel_args(net: NetworkSpec, forward, backward, x_train, y_train, x_eval, y_eval, *,
                 record_curve: bool, update_unread: bool) -> kernel.UnrollArgs:
    """The kernel's argument record: validated arrays in its batch-minor layout.

    The one place the record is built; its synapse buffers are fresh copies, so the kernel
    may update them in place.
    """
    x_train = _batches(net, x_train, "x_train")
    steps, batch = x_train.shape[:2]
    t_train = _targets(net, y_train, steps, batch)
    x_eval, y_eval = _eval_arrays(net, x_eval, y_eval)
    # the kernel runs batch-minor: (T, n, B)
    x_train, t_train, x_eval = (
        np.ascontiguousarray(np.swapaxes(a, 1, 2)) for a in (x_train, t_train, x_eval)
    )
    w_buf, w_off, v_buf, v_off = pack_weights(net, forward, backward)
    act_fwd, act_bwd = kernel_activation_codes(net)
    return kernel.UnrollArgs(
        options=kernel_options(net, record_curve=record_curve, update_unread=update_unread),
        slots=genome_slots(net.states),
        sizes=np.asarray(net.layer_sizes, dtype=np.int64),
        act_fwd=act_fwd,
        act_bwd=act_bwd,
        w_buf=w_buf,
        w_off=w_off,
        v_buf=v_buf,
        v_off=v_off,
        x_train=x_train,
        t_train=t_train,
        x_eval=x_eval,
        y_eval=y_eval,
    )


def _run(genome, net: NetworkSpec, args: kernel.UnrollArgs
         ) -> tuple[np.void, np.ndarray | None]:
    """One kernel unroll on a fresh argument record: its RESULT record and the curve (if
    recorded); the record's synapse buffers then hold the trained synapses."""
    genome = _check_genome(genome, net)
    steps = args.x_train.shape[0]
    curve = np.full(max(steps, 1), np.nan, dtype=np.float64)
    results = np.zeros(1, dtype=kernel.RESULT)
    limit_kernel_blas_threads()
    kernel.run_unroll(args, genome.astype(net.numpy_dtype), curve, results)
    return results[0], (curve[:steps] if args.options.record_curve else None)


def _metrics(result: np.void) -> tuple[float, float, float, bool, int]:
    """A RESULT record as Python numbers: accuracy, L2, CE, diverged, steps completed
    (RESULT's field order, which is TrainResult's and UnrollResult's; a test checks it)."""
    return result.item()


def _initial(net: NetworkSpec, weights, seed):
    if weights is not None:
        return weights
    if seed is None:
        raise NetworkError("give initial synapses (weights=(W list, V list or None)) or a seed")
    return net.init_weights(seed)


def train(
    genome,
    net: NetworkSpec,
    x_train,
    y_train,
    *,
    weights=None,
    seed: int | None = None,
    x_eval=None,
    y_eval=None,
    record_curve: bool = False,
) -> TrainResult:
    """Train a BLUR network for T steps with ``genome`` and return its synapses and metrics.

    x_train: (T, B, n_inputs) batches; y_train: int labels (T, B) (encoded as ±1 targets,
    SPEC §3.3) or float targets (T, B, n_outputs) used as given (for example 0/1 for the
    exact backprop case). Initial synapses: ``weights=(W list, V list or None)`` in SPEC
    layout, or ``seed`` for :meth:`NetworkSpec.init_weights`. With x_eval (E, B, n) or
    (N, n) and int y_eval, the final metrics (and with record_curve, the accuracy after
    every step) are computed on them.
    """
    forward, backward = _initial(net, weights, seed)
    args = _kernel_args(net, forward, backward, x_train, y_train, x_eval, y_eval,
                        record_curve=record_curve, update_unread=True)
    result, curve = _run(genome, net, args)
    new_forward, new_backward = unpack_weights(net, args.w_buf, args.w_off, args.v_buf, args.v_off)
    return TrainResult(*_metrics(result), curve, forward=new_forward, backward=new_backward)


def run_unroll(genome, net: NetworkSpec, x_train, y_train, x_eval, y_eval, *,
               seed: int | None = None, weights=None, record_curve: bool = False
               ) -> UnrollResult:
    """One fitness sample (SPEC §6): train T steps, then evaluate; synapses are not returned,
    so the never-read V_0 is not updated."""
    forward, backward = _initial(net, weights, seed)
    args = _kernel_args(net, forward, backward, x_train, y_train, x_eval, y_eval,
                        record_curve=record_curve, update_unread=False)
    result, curve = _run(genome, net, args)
    return UnrollResult(*_metrics(result), curve)


def evaluate(
    genome, net: NetworkSpec, forward: list[np.ndarray], x, labels, batch_size: int | None = None
) -> dict[str, float]:
    """Forward-only evaluation (SPEC §6.3–6.4) of given synapses on data x (N, n_inputs).

    With normalization on, statistics are per evaluation batch: the whole set at once by
    default, or batches of ``batch_size`` (a remainder that does not fill a batch is dropped).
    """
    x = np.asarray(x)
    labels = np.asarray(labels)
    if batch_size is not None:
        n_batches = x.shape[0] // batch_size
        x = x[: n_batches * batch_size].reshape(n_batches, batch_size, -1)
        labels = labels[: n_batches * batch_size].reshape(n_batches, batch_size)
    backward = (
        None
        if net.tied
        else [np.zeros(net.backward_shape(i), net.numpy_dtype) for i in range(net.n_layers)]
    )
    empty = np.zeros((0, 1, net.n_inputs))
    args = _kernel_args(net, forward, backward, empty, np.zeros((0, 1), np.int64), x, labels,
                        record_curve=False, update_unread=False)
    result, _ = _run(genome, net, args)
    accuracy, l2, ce, diverged, _ = _metrics(result)
    return {"accuracy": accuracy, "l2": l2, "ce": ce, "diverged": diverged}


@dataclass
class PopulationResult:
    """Metrics of one unroll per genome, as arrays of length P (NaN where diverged)."""

    accuracy: np.ndarray
    l2: np.ndarray
    ce: np.ndarray
    diverged: np.ndarray
    steps_done: np.ndarray


def run_population(genomes, net: NetworkSpec, x_train, y_train, x_eval, y_eval, *,
                   seed: int | None = None, weights=None) -> PopulationResult:
    """:func:`run_unroll` for each row of ``genomes`` (P, G), all from the same initial
    synapses and batches, in one kernel call (the fitness path of CMA-ES)."""
    genomes = np.atleast_2d(np.asarray(genomes, dtype=np.float64))
    checked = (
        np.stack([_check_genome(row, net) for row in genomes])
        if len(genomes)
        else np.zeros((0, net.genome_length))
    )
    forward, backward = _initial(net, weights, seed)
    args = _kernel_args(net, forward, backward, x_train, y_train, x_eval, y_eval,
                        record_curve=False, update_unread=False)
    results = np.zeros(len(checked), dtype=kernel.RESULT)
    genomes = np.ascontiguousarray(checked, dtype=net.numpy_dtype)
    limit_kernel_blas_threads()
    curves = np.empty((1, max(args.x_train.shape[0], 1)), dtype=np.float64)  # not recorded
    kernel.run_population(args, genomes, curves, results, False)
    return PopulationResult(
        results["accuracy"].copy(),
        results["l2"].copy(),
        results["ce"].copy(),
        results["diverged"].copy(),
        results["steps"].copy(),
    )
