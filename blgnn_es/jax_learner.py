"""The inner learner in JAX: SPEC.md §1–6 as one jitted ``lax.scan`` per unroll.

The same public functions and results as blgnn_es/learner.py (``train``, ``run_unroll``,
``run_population``, ``evaluate``), driven by the same ``NetworkSpec``, genome slots
(GenomeLayout), initial synapses (``net.init_weights(seed)``), input validation and target
encoding (learner.py's helpers, imported), so callers need not care which learner runs. Why
a second learner: ``jax.vmap`` scores a whole population in one call, on a GPU when JAX sees
one, and the unroll is differentiable (gradient meta-training, issue 16).

JAX is an optional extra (``pip install -e '.[jax]'``): this module imports without it and
says how to install it when a function is called. Nothing else in the package imports it.

Layout inside is channel-major, like the kernel's: activations (k, B, n), W_ℓ
(k, n_ℓ + 1, n_{ℓ+1}) with the bias row last, V_ℓ (k, n_{ℓ+1}, n_ℓ); the SPEC layout
(learner.py's) is used at the boundary. Every option of the numba kernel is supported
(tied, shared_states, label/error feedback, additive/multiplicative_second backward,
normalization, Oja, read-normalization, per-state activations, float32/float64). Unlike the
kernel, float32 uses XLA's own tanh (accurate to a few ulp), not the kernel's rational one.

Importing this module turns on ``jax_enable_x64``: without it JAX silently computes a
float64 network in float32. float32 networks stay float32 (every array is cast to the
network's dtype); only the evaluation metrics are summed in float64, as in the kernel.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from blgnn_es.errors import ConfigError, NetworkError
from blgnn_es.learner import (
    PopulationResult,
    _batches,
    _check_genome,
    _eval_arrays,
    _initial,
    _targets,
    pack_weights,
    unpack_weights,
)
from blgnn_es.model.genome import SLOT_NAMES, GenomeLayout
from blgnn_es.model.network import ACTIVATIONS, NetworkSpec
from blgnn_es.model.results import TrainResult, UnrollResult

try:
    import jax
    import jax.numpy as jnp
    from jax import lax
except ImportError:  # the optional extra is not installed: say so when a function is called
    jax = jnp = lax = None
else:
    jax.config.update("jax_enable_x64", True)  # float64 networks really run in float64

INSTALL_HINT = "the JAX learner needs JAX: pip install -e '.[jax]' (or pip install 'jax[cpu]')"
NORM_EPS = 1e-5  # SPEC §5


class JaxUnavailableError(ConfigError):
    """JAX is not installed; the message says how to install it (the CLI exits with 2)."""


def have_jax() -> bool:
    """Whether JAX can be used (the optional extra is installed)."""
    return jax is not None


def require_jax() -> None:
    """Raise the one-line install hint when JAX is missing."""
    if jax is None:
        raise JaxUnavailableError(INSTALL_HINT)


# ---- static settings of one compiled unroll ---------------------------------------------

class _Config(NamedTuple):
    """Everything about an unroll that is fixed at trace time (hashable: the jit cache key;
    array shapes are keyed by jax.jit itself)."""

    sizes: tuple[int, ...]
    states: int
    tied: bool
    shared_states: bool
    feedback_error: bool
    multiplicative: bool
    normalization: bool
    oja: bool
    read_normalization: bool
    fwd: tuple[tuple[str, ...], ...]  # activation name of state c of layer ℓ+1
    bwd: tuple[tuple[str, ...], ...]  # row ℓ-1 for hidden layer ℓ (backward pass)
    slots: tuple[int, ...]  # start of each slot of SLOT_NAMES in the flat genome
    record_curve: bool
    update_unread: bool  # also update V_0, which no pass reads (only to return it)


def _config(net: NetworkSpec, *, record_curve: bool, update_unread: bool) -> _Config:
    fwd, bwd = net.activation_codes()
    layout = GenomeLayout(net.states)
    return _Config(
        sizes=tuple(int(n) for n in net.layer_sizes),
        states=int(net.states),
        tied=bool(net.tied),
        shared_states=bool(net.shared_states),
        feedback_error=net.feedback == "error",
        multiplicative=net.backward == "multiplicative_second",
        normalization=bool(net.normalization),
        oja=bool(net.oja),
        read_normalization=bool(net.read_normalization),
        fwd=tuple(tuple(ACTIVATIONS[c] for c in row) for row in fwd),
        bwd=tuple(tuple(ACTIVATIONS[c] for c in row) for row in bwd),
        slots=tuple(layout.slot(name).start for name in SLOT_NAMES),
        record_curve=bool(record_curve),
        update_unread=bool(update_unread),
    )


class _Genome(NamedTuple):
    nu: object
    mu: object
    nu_pre: object
    mu_post: object
    f: object
    eta: object
    f_syn: object
    eta_syn: object
    g: object
    h: object
    omega: object


def _slots(cfg: _Config, genome) -> _Genome:
    """The named slots of SPEC §2 (k×k row-major matrices, scalars), offsets from GenomeLayout."""
    k = cfg.states
    parts = {}
    for name, start in zip(SLOT_NAMES, cfg.slots, strict=True):
        if name in ("nu", "mu", "nu_pre", "mu_post"):
            parts[name] = genome[start : start + k * k].reshape(k, k)
        else:
            parts[name] = genome[start]
    return _Genome(**parts)


# ---- SPEC §3 building blocks (channel-major: x[c] is state / channel c) --------------------

HIGHEST = None if lax is None else lax.Precision.HIGHEST  # no TF32 / bf16 products on GPUs


def _einsum(spec: str, *operands):
    return jnp.einsum(spec, *operands, precision=HIGHEST)


def _sigmoid(x):
    return jax.nn.sigmoid(x)


_ACTIVATION = {
    "identity": lambda x: x,
    "tanh": lambda x: jnp.tanh(x),
    "relu": lambda x: jnp.maximum(x, 0),
    "relu_tanh": lambda x: jnp.maximum(jnp.tanh(x), 0),
    "sigmoid": _sigmoid,
    "dsigmoid": lambda x: _sigmoid(x) * (1 - _sigmoid(x)),
}
assert set(_ACTIVATION) == set(ACTIVATIONS)


def _activate(names: tuple[str, ...], x):
    """φ per state (SPEC §3): channel c of x (c, B, n) through activation ``names[c]``."""
    return jnp.stack([_ACTIVATION[names[c]](x[c]) for c in range(x.shape[0])])


def _normalize(u, gen: _Genome, on: bool):
    """N of SPEC §5: per neuron and channel over the batch (axis 1), then gain g, shift h."""
    if not on:
        return u
    mean = u.mean(axis=1, keepdims=True)
    var = ((u - mean) ** 2).mean(axis=1, keepdims=True)
    return gen.g * (u - mean) / jnp.sqrt(var + NORM_EPS) + gen.h


def _mix_pre(a, transform):
    """Σ_d a[d] · transform[d, c] for every column c: (k, B, n) -> (c, B, n).

    Written elementwise, not as a product: XLA fuses it into one loop, where a k-long
    contraction would be a (batched, under vmap) matrix product of tiny operands (the toy
    workload runs 25% faster so).
    """
    return jnp.stack([_weighted_sum(a, transform[:, c]) for c in range(transform.shape[1])])


def _mix_post(a, transform):
    """Σ_e transform[c, e] · a[e] for every row c (μ̃ of SPEC §3.5): (k, B, n) -> (c, B, n)."""
    return jnp.stack([_weighted_sum(a, transform[c]) for c in range(transform.shape[0])])


def _weighted_sum(a, weights):
    """Σ_d weights[d] · a[d], unrolled over the k states."""
    return functools.reduce(jnp.add, [weights[d] * a[d] for d in range(a.shape[0])])


def _with_bias(m, transform):
    """[m, bias]: the bias neuron (states all 1) mixed by column c of ``transform`` is
    Σ_d transform[d, c]; appended as the last neuron of m (c, B, n) -> (c, B, n + 1)."""
    bias = jnp.broadcast_to(transform.sum(axis=0)[:, None, None], m.shape[:2] + (1,))
    return jnp.concatenate([m, bias.astype(m.dtype)], axis=2)


def _forward_layer(cfg: _Config, gen: _Genome, w, a_in, names, channels: int):
    """SPEC §3.2: u_c = ([a, 1] ν[:, c]) W_c ; a' = φ(f·a' + η·N(u)), a' = 0 after the reset.

    Only the first ``channels`` states are computed (label feedback and the evaluation read
    state 0 of the output only).
    """
    nu = gen.nu[:, :channels]
    w = w[:channels]
    u = _einsum("cbi,cij->cbj", _with_bias(_mix_pre(a_in, nu), nu), w)
    if cfg.read_normalization:  # W[:, j, c] / ‖W[:, j, c]‖ scales column j of u
        u = u / jnp.sqrt((w * w).sum(axis=1))[:, None, :]
    return _activate(names[:channels], gen.eta * _normalize(u, gen, cfg.normalization))


def _backward_layer(cfg: _Config, gen: _Genome, w, v, a_above, a_here, names):
    """SPEC §3.4: v_c = (a_{ℓ+1} μ[:, c]) V_c, then additive or multiplicative_second."""
    k, _, n = a_here.shape
    first = 1 if cfg.multiplicative else 0  # multiplicative: state 0 is left as it is
    m = _mix_pre(a_above, gen.mu[:, first:])
    if cfg.tied:  # V_c = W_c[:n]ᵀ: the full product, then the bias neuron's entry dropped
        w_read = w[first:]
        vin = _einsum("cbj,cij->cbi", m, w_read)[:, :, :n]
        if cfg.read_normalization:  # column i of V_c is row i of W_c[:n]
            vin = vin / jnp.sqrt((w_read * w_read).sum(axis=2))[:, None, :n]
    else:
        v_read = v[first:]
        vin = _einsum("cbj,cji->cbi", m, v_read)
        if cfg.read_normalization:
            vin = vin / jnp.sqrt((v_read * v_read).sum(axis=1))[:, None, :]
    if cfg.multiplicative:
        rest = _activate(names[1:], gen.f * a_here[1:] * vin)
        return jnp.concatenate([a_here[:1], rest], axis=0)
    return _activate(names, gen.f * a_here + gen.eta * _normalize(vin, gen, cfg.normalization))


def _oja_decay(gen: _Genome):
    """sign(η̃)·|ω|: the Oja term always decays, whatever the sign of η̃ (SPEC §3.5)."""
    return jnp.sign(gen.eta_syn) * jnp.abs(gen.omega)


def _gated_update(old, delta, post, gen, cfg, ch: int, k: int):
    """SPEC §3.5's gated synapse update of one matrix family (W or V): Oja's decay, then
    f̃ · M + η̃ · ΔM on the channels computed, broadcast to all k when states are shared."""
    old = old[:ch]
    if cfg.oja:
        delta = delta - _oja_decay(gen) * old * (post * post).mean(axis=1)[:, None, :]
    new = gen.f_syn * old + gen.eta_syn * delta
    return jnp.broadcast_to(new, (k,) + new.shape[1:]) if ch < k else new


def _hebbian(cfg: _Config, gen: _Genome, w, v, pre, post, update_v: bool):
    """SPEC §3.5 for one layer: ΔW (and ΔV when ``update_v``), Oja, gates, shared_states.

    ΔW_c = mean_b P_cᵀ Q_c with P_c = [a, 1] ν̃[:, c] and Q_c = μ̃[c, :] q; ΔV_c with the
    roles swapped. Shared states: channel 0 only, then copied to every channel.
    """
    k, batch, n = pre.shape
    ch = 1 if cfg.shared_states else k
    nu_pre, mu_post = gen.nu_pre[:, :ch], gen.mu_post[:ch]
    p = _with_bias(_mix_pre(pre, nu_pre), nu_pre)  # (ch, B, n + 1)
    q = _mix_post(post, mu_post)  # (ch, B, n')
    dw = _einsum("cbi,cbj->cij", p, q) / batch
    w_new = _gated_update(w, dw, q, gen, cfg, ch, k)
    if not update_v:
        return w_new, v
    q_pre = _mix_pre(post, nu_pre)  # Σ_d q[d] ν̃[d, c]
    p_post = _mix_post(pre, mu_post)  # Σ_e μ̃[c, e] p[e] (no bias: nothing flows back into it)
    dv = _einsum("cbj,cbi->cji", q_pre, p_post) / batch
    return w_new, _gated_update(v, dv, p_post, gen, cfg, ch, k)


def _input_layer(cfg: _Config, x):
    """SPEC §3.1: every state 0, the input (B, n_0) into state 0 of layer 0."""
    return jnp.zeros((cfg.states,) + x.shape, x.dtype).at[0].set(x)


def _learning_step(cfg: _Config, gen: _Genome, ws, vs, x, t):
    """One learning step of SPEC §3 on a batch x (B, n_0), targets t (B, n_L)."""
    n_layers, k = len(cfg.sizes) - 1, cfg.states
    acts = [_input_layer(cfg, x)]
    for layer in range(n_layers):  # §3.2
        last = layer == n_layers - 1
        channels = 1 if last and not cfg.feedback_error else k
        acts.append(_forward_layer(cfg, gen, ws[layer], acts[layer], cfg.fwd[layer], channels))
    out = acts[-1]  # §3.3 feedback
    if cfg.feedback_error:
        out = out.at[1].set(out[1] * (out[0] - t))
    else:
        out = jnp.concatenate([out, t[None], jnp.zeros((k - 2,) + t.shape, t.dtype)], axis=0)
    acts[-1] = out
    for layer in range(n_layers - 1, 0, -1):  # §3.4, with the synapses from before the update
        v = None if cfg.tied else vs[layer]
        acts[layer] = _backward_layer(cfg, gen, ws[layer], v, acts[layer + 1], acts[layer],
                                      cfg.bwd[layer - 1])
    new_ws, new_vs = [], []
    for layer in range(n_layers):  # §3.5
        update_v = not cfg.tied and (layer > 0 or cfg.update_unread)
        v = None if cfg.tied else vs[layer]
        w_new, v_new = _hebbian(cfg, gen, ws[layer], v, acts[layer], acts[layer + 1], update_v)
        new_ws.append(w_new)
        if not cfg.tied:
            new_vs.append(v_new)
    return new_ws, new_vs


def _evaluate(cfg: _Config, gen: _Genome, ws, x_eval, y_eval):
    """SPEC §6.3–6.4 on batches x_eval (E, B, n_0), labels (E, B): accuracy, L2, CE.

    Forward-only, per batch (normalization statistics are per evaluation batch); the losses
    are summed in float64 from state 0 of the output, as in the kernel.
    """
    n_layers = len(cfg.sizes) - 1
    n_out = cfg.sizes[-1]

    def outputs(x):
        a = _input_layer(cfg, x)
        for layer in range(n_layers):
            channels = 1 if layer == n_layers - 1 else cfg.states
            a = _forward_layer(cfg, gen, ws[layer], a, cfg.fwd[layer], channels)
        return a[0]

    out = jax.vmap(outputs)(x_eval).astype(jnp.float64)  # (E, B, n_out)
    if n_out == 1:
        y = out[..., 0]
        t = jnp.where(y_eval == 1, 1.0, -1.0)
        pred = (y > 0).astype(y_eval.dtype)
        l2 = 0.5 * ((y - t) ** 2)
        ce = jnp.logaddexp(0.0, -t * y)
    else:
        t = jnp.where(y_eval[..., None] == jnp.arange(n_out), 1.0, -1.0)
        pred = jnp.argmax(out, axis=-1)
        l2 = 0.5 * ((out - t) ** 2).sum(axis=-1)
        top = out.max(axis=-1)
        lse = top + jnp.log(jnp.exp(out - top[..., None]).sum(axis=-1))
        ce = lse - jnp.take_along_axis(out, y_eval[..., None], axis=-1)[..., 0]
    return (pred == y_eval).mean(dtype=jnp.float64), l2.mean(), ce.mean()


def _all_finite(arrays):
    """False when any entry is NaN or ±inf: x·0 is NaN exactly then (one fused reduction
    per tensor, as in the kernel)."""
    total = functools.reduce(jnp.add, [(a * 0).sum() for a in arrays])
    return total == 0


def _unroll(cfg: _Config, genome, ws, vs, x_train, t_train, x_eval, y_eval, freeze: bool):
    """SPEC §6: T learning steps (lax.scan), then the evaluation. A step that leaves a
    synapse NaN or infinite sets ``diverged`` and ends the count of steps done; with
    ``freeze`` (synapses returned) the steps after it change nothing. Without it the NaNs
    run on (their metrics are NaN either way), sparing a select over every synapse."""
    gen = _slots(cfg, genome)
    nan = jnp.array(jnp.nan, jnp.float64)
    has_eval = x_eval.shape[0] > 0

    def step(carry, batch):
        ws, vs, diverged, done = carry
        new_ws, new_vs = _learning_step(cfg, gen, ws, vs, *batch)
        if freeze:
            keep = lambda old, new: jnp.where(diverged, old, new)  # noqa: E731
            ws, vs = jax.tree.map(keep, (ws, vs), (new_ws, new_vs))
        else:
            ws, vs = new_ws, new_vs
        done = done + jnp.where(diverged, 0, 1)
        diverged = diverged | ~_all_finite(new_ws + new_vs)
        curve = nan
        if cfg.record_curve and has_eval:
            curve = jnp.where(diverged, nan, _evaluate(cfg, gen, ws, x_eval, y_eval)[0])
        return (ws, vs, diverged, done), curve

    init = (list(ws), list(vs), jnp.array(False), jnp.array(0, jnp.int64))
    (ws, vs, diverged, done), curve = lax.scan(step, init, (x_train, t_train))
    if has_eval:
        acc, l2, ce = _evaluate(cfg, gen, ws, x_eval, y_eval)
        acc, l2, ce = (jnp.where(diverged, nan, m) for m in (acc, l2, ce))
        bad_eval = ~diverged & ~jnp.isfinite(l2)
        acc = jnp.where(bad_eval, nan, acc)
        diverged = diverged | bad_eval
    else:
        acc = l2 = ce = nan
    return (acc, l2, ce, diverged, done, curve), (ws, vs)


@functools.lru_cache(maxsize=64)
def _compiled(cfg: _Config, population: int | None, keep_synapses: bool):
    """The jitted unroll for one configuration (jax.jit keys the shapes and dtypes).

    ``population``: None for one genome; else genomes are vmapped in chunks of that many
    (lax.map over the chunks; 0: the whole population in one vmap).
    """

    def one(genome, ws, vs, x_train, t_train, x_eval, y_eval):
        metrics, synapses = _unroll(cfg, genome, ws, vs, x_train, t_train, x_eval, y_eval,
                                    keep_synapses)
        return (metrics, synapses) if keep_synapses else metrics

    if population is None:
        return jax.jit(one)

    def many(genomes, *shared):  # every genome from the same synapses and batches
        if population == 0:
            return jax.vmap(lambda g: one(g, *shared))(genomes)
        return lax.map(lambda g: one(g, *shared), genomes, batch_size=population)

    return jax.jit(many)


# ---- the public API (learner.py's) ---------------------------------------------------------

def _prepare(net: NetworkSpec, forward, backward, x_train, y_train, x_eval, y_eval):
    """Validated arrays (learner.py's helpers) as JAX operands: synapses channel-major."""
    x_train = _batches(net, x_train, "x_train")
    steps, batch = x_train.shape[:2]
    t_train = _targets(net, y_train, steps, batch)
    x_eval, y_eval = _eval_arrays(net, x_eval, y_eval)
    w_buf, w_off, v_buf, v_off = pack_weights(net, forward, backward)
    k, sizes = net.states, net.layer_sizes
    ws, vs = [], []
    for layer in range(net.n_layers):
        n_in, n_out = sizes[layer], sizes[layer + 1]
        ws.append(jnp.asarray(w_buf[w_off[layer] : w_off[layer + 1]].reshape(k, n_in + 1, n_out)))
        if not net.tied:
            vs.append(jnp.asarray(v_buf[v_off[layer] : v_off[layer + 1]].reshape(k, n_out, n_in)))
    arrays = (jnp.asarray(x_train), jnp.asarray(t_train), jnp.asarray(x_eval),
              jnp.asarray(y_eval))
    return ws, vs, arrays


# On a CPU a big network's population runs best one genome after another (each unroll's
# products already fill the core; vmapped ones would thrash the cache); a small one's in one
# vmap (per-operation costs dominate). Measured in bench/bench_jax.py; GPUs vmap all.
CPU_SEQUENTIAL_ABOVE = 50_000  # synapse entries per genome


def _chunk(net: NetworkSpec, chunk: int | None) -> int:
    """Genomes per vmap in run_population (0: all at once); see CPU_SEQUENTIAL_ABOVE."""
    if chunk is not None:
        if chunk < 0:
            raise NetworkError(f"chunk must be >= 0 (0: the whole population), got {chunk}")
        return int(chunk)
    if jax.default_backend() != "cpu":
        return 0
    entries = sum(int(np.prod(net.forward_shape(i))) for i in range(net.n_layers))
    return 1 if entries > CPU_SEQUENTIAL_ABOVE else 0


def _genome_operand(genome, net: NetworkSpec):
    return jnp.asarray(_check_genome(genome, net).astype(net.numpy_dtype))


def _result_numbers(metrics, steps: int, record_curve: bool):
    acc, l2, ce, diverged, done, curve = jax.device_get(metrics)
    curve = np.asarray(curve, dtype=np.float64)[:steps] if record_curve else None
    return float(acc), float(l2), float(ce), bool(diverged), int(done), curve


def train(genome, net: NetworkSpec, x_train, y_train, *, weights=None, seed: int | None = None,
          x_eval=None, y_eval=None, record_curve: bool = False) -> TrainResult:
    """:func:`blgnn_es.learner.train` in JAX: T steps, the trained synapses in SPEC layout
    (V_0 updated too, to be returned) and, with eval data, the metrics of SPEC §6."""
    require_jax()
    forward, backward = _initial(net, weights, seed)
    ws, vs, arrays = _prepare(net, forward, backward, x_train, y_train, x_eval, y_eval)
    cfg = _config(net, record_curve=record_curve, update_unread=True)
    metrics, (ws, vs) = _compiled(cfg, None, True)(_genome_operand(genome, net), ws, vs,
                                                    *arrays)
    numbers = _result_numbers(metrics, arrays[0].shape[0], record_curve)
    new_forward, new_backward = _spec_layout(net, ws, vs)
    return TrainResult(*numbers, forward=new_forward, backward=new_backward)


def _spec_layout(net: NetworkSpec, ws, vs):
    """Channel-major JAX synapses -> SPEC-layout NumPy lists (learner.unpack_weights)."""
    ws, vs = jax.device_get((ws, vs))
    w_parts = [np.asarray(w, dtype=net.numpy_dtype).reshape(-1) for w in ws]
    v_parts = [np.asarray(v, dtype=net.numpy_dtype).reshape(-1) for v in vs]
    w_off = np.cumsum([0] + [p.size for p in w_parts])
    v_off = np.cumsum([0] + [p.size for p in v_parts]) if vs else np.zeros(net.n_layers + 1,
                                                                             np.int64)
    v_buf = np.concatenate(v_parts) if v_parts else np.zeros(0, net.numpy_dtype)
    return unpack_weights(net, np.concatenate(w_parts), w_off, v_buf, v_off)


def run_unroll(genome, net: NetworkSpec, x_train, y_train, x_eval, y_eval, *,
               seed: int | None = None, weights=None, record_curve: bool = False
               ) -> UnrollResult:
    """:func:`blgnn_es.learner.run_unroll` in JAX: one fitness sample (SPEC §6); synapses
    are not returned, so the never-read V_0 is not updated."""
    require_jax()
    forward, backward = _initial(net, weights, seed)
    ws, vs, arrays = _prepare(net, forward, backward, x_train, y_train, x_eval, y_eval)
    cfg = _config(net, record_curve=record_curve, update_unread=False)
    metrics = _compiled(cfg, None, False)(_genome_operand(genome, net), ws, vs, *arrays)
    return UnrollResult(*_result_numbers(metrics, arrays[0].shape[0], record_curve))


def evaluate(genome, net: NetworkSpec, forward: list[np.ndarray], x, labels,
             batch_size: int | None = None) -> dict[str, float]:
    """:func:`blgnn_es.learner.evaluate` in JAX: forward-only metrics of given synapses on
    x (N, n_inputs), the whole set as one batch or batches of ``batch_size``."""
    require_jax()
    x, labels = np.asarray(x), np.asarray(labels)
    if batch_size is not None:
        n_batches = x.shape[0] // batch_size
        x = x[: n_batches * batch_size].reshape(n_batches, batch_size, -1)
        labels = labels[: n_batches * batch_size].reshape(n_batches, batch_size)
    backward = None if net.tied else [np.zeros(net.backward_shape(i), net.numpy_dtype)
                                      for i in range(net.n_layers)]
    result = run_unroll(genome, net, np.zeros((0, 1, net.n_inputs)), np.zeros((0, 1), np.int64),
                        x, labels, weights=(forward, backward))
    return {"accuracy": result.accuracy, "l2": result.l2, "ce": result.ce,
            "diverged": result.diverged}


def run_population(genomes, net: NetworkSpec, x_train, y_train, x_eval, y_eval, *,
                   seed: int | None = None, weights=None, chunk: int | None = None
                   ) -> PopulationResult:
    """:func:`blgnn_es.learner.run_population` in JAX: every row of ``genomes`` (P, G) from
    the same initial synapses and batches, in one jitted call: vmapped ``chunk`` genomes at
    a time (0: all at once; default: see :func:`_chunk`)."""
    require_jax()
    genomes = np.atleast_2d(np.asarray(genomes, dtype=np.float64))
    if not len(genomes):
        empty = np.zeros(0)
        return PopulationResult(empty, empty.copy(), empty.copy(), np.zeros(0, bool),
                                np.zeros(0, np.int64))
    checked = np.stack([_check_genome(row, net) for row in genomes]).astype(net.numpy_dtype)
    forward, backward = _initial(net, weights, seed)
    ws, vs, arrays = _prepare(net, forward, backward, x_train, y_train, x_eval, y_eval)
    cfg = _config(net, record_curve=False, update_unread=False)
    acc, l2, ce, diverged, done, _ = jax.device_get(
        _compiled(cfg, _chunk(net, chunk), False)(jnp.asarray(checked), ws, vs, *arrays))
    return PopulationResult(np.asarray(acc, np.float64), np.asarray(l2, np.float64),
                            np.asarray(ce, np.float64), np.asarray(diverged, bool),
                            np.asarray(done, np.int64))


# ---- the fitness path (what a JAX parallel backend plugs in) ------------------------------

def unroll_population(genomes, sample) -> PopulationResult:
    """:func:`blgnn_es.evaluation.unroll_population` on the JAX learner: every genome on one
    fitness sample (an ``evaluation.Sample``: its network, batches and synapse seed) in one
    jitted call. Read by attribute, not imported: evaluation is a later stage."""
    data = sample.data
    return run_population(genomes, sample.net, data.x_train, data.y_train, data.x_eval,
                          data.y_eval, seed=sample.synapse_seed)


def unroll_sample(genome, sample, record_curve: bool = False) -> UnrollResult:
    """:func:`blgnn_es.evaluation.unroll_sample` on the JAX learner."""
    data = sample.data
    return run_unroll(genome, sample.net, data.x_train, data.y_train, data.x_eval, data.y_eval,
                      seed=sample.synapse_seed, record_curve=record_curve)


# ---- gradient meta-training (es/gradient.py): the meta-loss and its gradient --------------

class MetaGradient(NamedTuple):
    """The meta-loss of one genome on a meta-batch of samples and its gradient.

    ``loss`` is the mean (or weighted mean) over the samples of their meta-loss (L2 or CE
    of state 0 on the held-out batches after the unroll); ``gradient`` (G,) its derivative
    by every genome entry. Per sample: ``losses``, ``accuracy``, ``l2``, ``ce`` (NaN where
    it diverged).
    """

    loss: float
    gradient: np.ndarray
    losses: np.ndarray
    accuracy: np.ndarray
    l2: np.ndarray
    ce: np.ndarray


def _meta_loss(cfg: _Config, kind: str, truncation: int | None, genome, ws, vs, x_train,
               t_train, x_eval, y_eval):
    """One sample's meta-loss: T learning steps from the initial synapses, then the loss on
    the held-out batches. With ``truncation`` the synapses are constants before the last
    ``truncation`` steps (truncated backpropagation through the unroll)."""
    gen = _slots(cfg, genome)

    def step(carry, batch):
        return _learning_step(cfg, gen, *carry, *batch), None

    cut = max(x_train.shape[0] - truncation, 0) if truncation else 0
    carry = (list(ws), list(vs))
    if cut:
        carry, _ = lax.scan(step, carry, (x_train[:cut], t_train[:cut]))
        carry = jax.tree.map(lax.stop_gradient, carry)
    carry, _ = lax.scan(step, carry, (x_train[cut:], t_train[cut:]))
    acc, l2, ce = _evaluate(cfg, gen, carry[0], x_eval, y_eval)
    return (l2 if kind == "l2" else ce), (acc, l2, ce)


@functools.lru_cache(maxsize=16)
def _compiled_meta(cfg: _Config, kind: str, truncation: int | None, sequential: bool):
    """The jitted meta-loss and gradient over a stacked meta-batch: samples vmapped, or one
    after another (lax.map) for big networks on a CPU (see CPU_SEQUENTIAL_ABOVE)."""

    def mean_loss(genome, samples, weights):
        one = functools.partial(_meta_loss, cfg, kind, truncation, genome)
        if sequential:
            losses, aux = lax.map(lambda sample: one(*sample), samples)
        else:
            losses, aux = jax.vmap(one)(*samples)
        return (weights * losses).sum(), (losses, aux)

    return jax.jit(jax.value_and_grad(mean_loss, has_aux=True))


def to_numpy(tree):
    """A pytree of JAX arrays (an optax state) with NumPy leaves: picklable, and read back
    without JAX's device state (the gradient run's checkpoint)."""
    require_jax()
    return jax.tree.map(np.asarray, jax.device_get(tree))


def meta_gradient(genome, samples, *, loss: str = "ce", truncation: int | None = None,
                  weights=None) -> MetaGradient:
    """The meta-loss of ``genome`` over fitness samples (``evaluation.Sample``: network,
    batches and synapse seed) and its gradient: the mean over the samples, or the mean
    weighted by ``weights`` (one per sample). Samples of one network go through one jitted
    call; tasks of other shapes (other networks) each through their own.

    The forward computation is :func:`run_unroll`'s (SPEC §3–6); the loss is summed in
    float64, the gradient comes back in the network's dtype as float64 numbers.
    """
    require_jax()
    if loss not in ("l2", "ce"):
        raise ConfigError(f"meta-loss must be l2 or ce, got {loss!r}")
    if not samples:
        raise NetworkError("meta_gradient needs at least one sample")
    share = np.full(len(samples), 1.0 / len(samples)) if weights is None else \
        np.asarray(weights, dtype=np.float64) / np.sum(weights)
    groups: dict[NetworkSpec, list[int]] = {}
    for index, sample in enumerate(samples):
        groups.setdefault(sample.net, []).append(index)
    total, gradient = 0.0, None
    per_sample = np.full((4, len(samples)), np.nan)
    for net, members in groups.items():
        value, grad, numbers = _group_gradient(genome, net, [samples[i] for i in members],
                                               share[members], loss, truncation)
        total += value
        gradient = grad if gradient is None else gradient + grad
        per_sample[:, members] = numbers
    return MetaGradient(float(total), gradient, *per_sample)


def _group_gradient(genome, net: NetworkSpec, samples, share, loss, truncation):
    """One network's samples in one jitted call: weighted loss, gradient, per-sample
    (loss, accuracy, l2, ce)."""
    stacked = []
    for sample in samples:
        data = sample.data
        forward, backward = _initial(net, None, sample.synapse_seed)
        ws, vs, arrays = _prepare(net, forward, backward, data.x_train, data.y_train,
                                  data.x_eval, data.y_eval)
        stacked.append((ws, vs, *arrays))
    batch = jax.tree.map(lambda *leaves: jnp.stack(leaves), *stacked)
    cfg = _config(net, record_curve=False, update_unread=False)
    step = _compiled_meta(cfg, loss, truncation, _chunk(net, None) == 1)
    (value, (losses, (acc, l2, ce))), grad = step(_genome_operand(genome, net), batch,
                                                  jnp.asarray(share, jnp.float64))
    value, grad, numbers = jax.device_get((value, grad, (losses, acc, l2, ce)))
    return (float(value), np.asarray(grad, dtype=np.float64),
            np.asarray(numbers, dtype=np.float64))
