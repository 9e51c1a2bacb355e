"""The numba kernel: a whole BLUR unroll (SPEC.md §3 steps, then §6 evaluation) in one call.

The only hot code of blgnn-es. An unroll takes one argument record (:class:`UnrollArgs`:
contiguous arrays, named :class:`Options` and the genome's :class:`GenomeSlots`) and
writes a named :data:`RESULT` record. It raises on nothing (inputs are validated in
blgnn_es/learner.py, the one place the record is built) and is compiled once per dtype
(``cache=True``). ``error_model="numpy"`` keeps division free of Python's zero-division
checks, so the element loops vectorize. This module imports only numpy and numba.

Layout inside the kernel is channel-major, so each channel's matrix is one contiguous
BLAS operand, and batch-minor, so every element loop runs over the batch (long and
contiguous) rather than over a layer that may hold 1 or 2 neurons:
- activations of layer ℓ: (k, n_ℓ, B); inputs (T, n_0, B); targets (T, n_L, B)
- forward synapses W_ℓ: (k, n_ℓ + 1, n_{ℓ+1}), row n_ℓ is the bias neuron
- backward synapses V_ℓ: (k, n_{ℓ+1}, n_ℓ)
All layers' W live in one flat buffer (``w_buf``, layer ℓ starting at ``w_off[ℓ]``), and
likewise V. blgnn_es/learner.py converts from and to the SPEC layout.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

# The kernel's own activation codes, by name. learner.py maps NetworkSpec's activation names
# through this table, so nothing depends on the order of blgnn_es.model.network.ACTIVATIONS;
# the codes live here because numba's cache tracks this file only, not constants imported
# from another module (a reordered table elsewhere would leave stale machine code).
ACTIVATION_CODES = {
    name: code
    for code, name in enumerate(("identity", "tanh", "relu", "relu_tanh", "sigmoid", "dsigmoid"))
}
ACT_IDENTITY = ACTIVATION_CODES["identity"]
ACT_TANH = ACTIVATION_CODES["tanh"]
ACT_RELU = ACTIVATION_CODES["relu"]
ACT_RELU_TANH = ACTIVATION_CODES["relu_tanh"]
ACT_SIGMOID = ACTIVATION_CODES["sigmoid"]
ACT_DSIGMOID = ACTIVATION_CODES["dsigmoid"]


class Options(NamedTuple):
    """The switches of one unroll: NetworkSpec's settings plus how the call is used."""

    tied: bool  # V = W[:n]ᵀ, no V tensors (SPEC §1)
    shared_states: bool  # one synapse matrix for all channels (SPEC §1)
    feedback_error: bool  # §3.3 error feedback (else label feedback)
    backward_multiplicative: bool  # §3.4 multiplicative_second (else additive)
    normalization: bool  # N of SPEC §5 on the pre-activations
    oja: bool  # the Oja term of §3.5
    read_normalization: bool  # synapse read-normalization of §5
    fast_activations: bool  # rational tanh (the float32 path); False: libm tanh/exp
    update_unread: bool  # also update V_0, which no pass reads (only to return it)
    record_curve: bool  # evaluate after every step into ``curve``


class GenomeSlots(NamedTuple):
    """Where each slot of SPEC §2 starts in the flat genome (matrices k×k, row-major).

    learner.py fills it from GenomeLayout by field name, so the kernel hard-codes no offset.
    """

    nu: int
    mu: int
    nu_pre: int
    mu_post: int
    f: int
    eta: int
    f_syn: int
    eta_syn: int
    g: int
    h: int
    omega: int


class UnrollArgs(NamedTuple):
    """Everything an unroll reads besides the genome, as one numba argument.

    Built in one place (blgnn_es/learner.py ``_kernel_args``); layouts as in the module
    docstring. ``run_unroll`` updates ``w_buf`` / ``v_buf`` in place; ``run_population``
    reads them as every genome's initial synapses (or, ``in_place``, trains them).
    """

    options: Options
    slots: GenomeSlots
    sizes: np.ndarray  # int64 (L + 1,): n_0 … n_L
    act_fwd: np.ndarray  # int64 (L, k): activation code of state c of layer ℓ+1
    act_bwd: np.ndarray  # int64 (L, k): row ℓ-1 for hidden layer ℓ (backward pass)
    w_buf: np.ndarray  # all W_ℓ, channel-major, flat
    w_off: np.ndarray  # int64 (L + 1,): W_ℓ is w_buf[w_off[ℓ]:w_off[ℓ+1]]
    v_buf: np.ndarray  # all V_ℓ likewise (empty when tied)
    v_off: np.ndarray
    x_train: np.ndarray  # (T, n_0, B)
    t_train: np.ndarray  # (T, n_L, B) targets
    x_eval: np.ndarray  # (E, n_0, Be)
    y_eval: np.ndarray  # int64 (E, Be) labels


# One unroll's outcome (a record: numba writes the fields by name).
RESULT = np.dtype(
    [
        ("accuracy", np.float64),  # SPEC §6.3; NaN without eval data or when diverged
        ("l2", np.float64),  # SPEC §6.4
        ("ce", np.float64),  # SPEC §6.4
        ("diverged", np.bool_),  # a synapse or the eval loss turned NaN or infinite
        ("steps", np.int64),  # learning steps completed
    ]
)

NORM_EPS = 1e-5  # SPEC §5

# tanh(x) ≈ x·P(x²)/Q(x²) on |x| <= 9 (beyond it tanh is ±1 in float32); coefficients fitted
# here by weighted least squares; max abs error 5e-8 in float64, 3.3e-7 evaluated in float32.
TANH_CLAMP = 9.0
TANH_P = (9.99999921e-01, 1.33840828e-01, 3.49946478e-03, 2.06821829e-05, 1.34728133e-08)
TANH_Q = (1.0, 4.67173852e-01, 2.58911043e-02, 3.29238137e-04, 7.82137877e-07)


@njit(cache=True, error_model="numpy")
def _tanh_coefficients(like):
    """The rational tanh's constants in the dtype of ``like``: mixed float32/float64
    arithmetic would promote every element to float64 and halve the vector width."""
    t = like.dtype.type
    p, q = TANH_P, TANH_Q
    return (
        t(TANH_CLAMP),
        t(p[0]),
        t(p[1]),
        t(p[2]),
        t(p[3]),
        t(p[4]),
        t(q[0]),
        t(q[1]),
        t(q[2]),
        t(q[3]),
        t(q[4]),
    )


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _tanh_fast(x, tc):
    """Branch-free rational tanh: it vectorizes, unlike libm's tanh (about 25 ns a call).
    Contracting the polynomials into fused multiply-adds makes it about 15% faster."""
    v = x if x < tc[0] else tc[0]
    v = v if v > -tc[0] else -tc[0]
    z = v * v
    p = tc[1] + z * (tc[2] + z * (tc[3] + z * (tc[4] + z * tc[5])))
    q = tc[6] + z * (tc[7] + z * (tc[8] + z * (tc[9] + z * tc[10])))
    return v * p / q


def tanh_fast(x: np.ndarray) -> np.ndarray:
    """The kernel's float32 tanh applied to an array (for tests and benchmarks)."""
    out = np.array(x, copy=True)
    _activate(ACT_TANH, True, out.reshape(1, -1), out.dtype.type(1.0))
    return out


@njit(cache=True, error_model="numpy")
def _activate(code, fast, x, scale):
    """x ← φ(scale·x) in place on one state's block (C-contiguous); φ of SPEC §3.

    The gate multiplies in the same pass as the activation: one sweep over memory.
    """
    flat = x.reshape(x.size)
    n = flat.size
    tc = _tanh_coefficients(flat)
    one = tc[6]
    zero = one - one
    half = one / (one + one)
    if code == ACT_IDENTITY:
        if scale != one:
            for i in range(n):
                flat[i] = scale * flat[i]
    elif code == ACT_RELU:
        for i in range(n):
            v = scale * flat[i]
            flat[i] = v if v > zero else zero
    elif fast:
        if code == ACT_TANH:
            for i in range(n):
                flat[i] = _tanh_fast(scale * flat[i], tc)
        elif code == ACT_RELU_TANH:
            for i in range(n):
                v = _tanh_fast(scale * flat[i], tc)
                flat[i] = v if v > zero else zero
        elif code == ACT_SIGMOID:
            for i in range(n):  # σ(x) = (1 + tanh(x/2)) / 2
                flat[i] = half + half * _tanh_fast(half * (scale * flat[i]), tc)
        elif code == ACT_DSIGMOID:
            for i in range(n):
                s = half + half * _tanh_fast(half * (scale * flat[i]), tc)
                flat[i] = s * (one - s)
    else:
        if code == ACT_TANH:
            for i in range(n):
                flat[i] = np.tanh(scale * flat[i])
        elif code == ACT_RELU_TANH:
            for i in range(n):
                v = np.tanh(scale * flat[i])
                flat[i] = v if v > zero else zero
        elif code == ACT_SIGMOID:
            for i in range(n):
                flat[i] = one / (one + np.exp(-(scale * flat[i])))
        elif code == ACT_DSIGMOID:
            for i in range(n):
                s = one / (one + np.exp(-(scale * flat[i])))
                flat[i] = s * (one - s)


@njit(cache=True, error_model="numpy")
def _copy(dst, src):
    """dst[...] = src for C-contiguous arrays of one size: a plain loop compiles in a
    fraction of the time numba's broadcasting slice assignment takes (issue 14 item 5)."""
    flat_dst = dst.reshape(dst.size)
    flat_src = src.reshape(src.size)
    for i in range(flat_dst.size):
        flat_dst[i] = flat_src[i]


@njit(cache=True, error_model="numpy")
def _fill(dst, value):
    """dst[...] = value, as :func:`_copy`."""
    flat = dst.reshape(dst.size)
    for i in range(flat.size):
        flat[i] = value


# Below this many multiply-adds a plain loop beats the fixed cost of a BLAS call (toy tasks).
SMALL_PRODUCT = 1 << 14
# Batch reductions may be reassociated so they vectorize; results move by rounding only.
REDUCE = {"reassoc"}


@njit(cache=True, error_model="numpy")
def _product_tn(a, x, out):
    """out = aᵀ @ x for a (m, n), x (m, B): a layer's synapses applied to a batch."""
    m, n = a.shape
    batch = x.shape[1]
    if m * n * batch >= SMALL_PRODUCT:
        np.dot(a.T, x, out)
        return
    for j in range(n):
        for b in range(batch):
            out[j, b] = 0.0
    for i in range(m):
        for j in range(n):
            s = a[i, j]
            for b in range(batch):
                out[j, b] += s * x[i, b]


@njit(cache=True, error_model="numpy")
def _product_nn(a, x, out):
    """out = a @ x for a (n, m), x (m, B): the tied backward pass reads W untransposed."""
    n, m = a.shape
    batch = x.shape[1]
    if m * n * batch >= SMALL_PRODUCT:
        np.dot(a, x, out)
        return
    for j in range(n):
        for b in range(batch):
            out[j, b] = 0.0
        for i in range(m):
            s = a[j, i]
            for b in range(batch):
                out[j, b] += s * x[i, b]


@njit(cache=True, error_model="numpy", fastmath=REDUCE)
def _product_nt(x, y, out):
    """out = x @ yᵀ for x (m, B), y (n, B): the batch sums of the Hebbian products."""
    m, batch = x.shape
    n = y.shape[0]
    if m * n * batch >= SMALL_PRODUCT:
        np.dot(x, y.T, out)
        return
    for i in range(m):
        for j in range(n):
            s = x[i, 0] * y[j, 0]
            for b in range(1, batch):
                s += x[i, b] * y[j, b]
            out[i, j] = s


@njit(cache=True, error_model="numpy", fastmath=REDUCE)
def _normalize(u, g, h):
    """N of SPEC §5 in place on one channel's (n, B): per neuron over the batch."""
    n, batch = u.shape
    typed = u.dtype.type  # keep float32 arithmetic in float32: no silent promotion
    inv_batch = typed(1.0 / batch)
    eps = typed(NORM_EPS)
    for j in range(n):
        mean = typed(0.0)
        for b in range(batch):
            mean += u[j, b]
        mean *= inv_batch
        var = typed(0.0)
        for b in range(batch):
            var += (u[j, b] - mean) * (u[j, b] - mean)
        scale = g / np.sqrt(var * inv_batch + eps)
        for b in range(batch):
            u[j, b] = (u[j, b] - mean) * scale + h


@njit(cache=True, error_model="numpy")
def _mix_pre(acts, transform, c, out, with_bias):
    """out[:n] = Σ_d acts[d] · transform[d, c]: the states mixed by column c.

    With ``with_bias`` the extra row n is the bias neuron of ã = [a, 1] (SPEC §3.2),
    whose states are all 1: Σ_d transform[d, c].
    """
    k, n, batch = acts.shape
    flat_out = out.reshape(out.size)
    size = n * batch
    first = True
    for d in range(k):
        t = transform[d, c]
        if t == 0.0:
            continue
        src = acts[d].reshape(size)
        if first:
            for i in range(size):
                flat_out[i] = t * src[i]
            first = False
        else:
            for i in range(size):
                flat_out[i] += t * src[i]
    if first:
        for i in range(size):
            flat_out[i] = 0.0
    if with_bias:
        total = transform[0, c]
        for d in range(1, k):
            total += transform[d, c]
        for b in range(batch):
            out[n, b] = total


@njit(cache=True, error_model="numpy")
def _mix_post(acts, transform, c, out):
    """out = Σ_e transform[c, e] · acts[e]: the states mixed by row c (μ̃ of SPEC §3.5)."""
    k, n, batch = acts.shape
    flat_out = out.reshape(out.size)
    size = n * batch
    for i in range(size):
        flat_out[i] = 0.0
    for e in range(k):
        t = transform[c, e]
        if t == 0.0:
            continue
        src = acts[e].reshape(size)
        for i in range(size):
            flat_out[i] += t * src[i]


@njit(cache=True, error_model="numpy")
def _scale_by_inverse_norms(u, mat, by_columns, width):
    """Synapse read-normalization (SPEC §5) without touching the stored matrix.

    Dividing column j of the matrix by its norm equals dividing row j of the product
    (n, B). ``by_columns``: norms of mat[:, j] (W forward, V backward); otherwise norms
    of rows mat[j, :width] (tied V = W[:n]ᵀ, whose column j is row j of W).
    """
    n, batch = u.shape
    typed = u.dtype.type
    for j in range(n):
        total = typed(0.0)
        if by_columns:
            for r in range(mat.shape[0]):
                total += mat[r, j] * mat[r, j]
        else:
            for r in range(width):
                total += mat[j, r] * mat[j, r]
        inv = typed(1.0) / np.sqrt(total)
        for b in range(batch):
            u[j, b] *= inv


@njit(cache=True, error_model="numpy")
def _forward_layer(a_in, a_out, w, nu, eta, g, h, codes, options, mix, n_channels):
    """SPEC §3.2 for one layer: u_c = ([a, 1] ν[:, c]) W_c ; a' = φ(η·N(u)).

    The states of ``a_out`` are 0 at this point (step 1 resets them), so f·a' vanishes and
    u is written straight into a'. ``n_channels`` < k computes only the first channels
    (the evaluation reads state 0 of the output only).
    """
    fast = options.fast_activations
    for c in range(n_channels):
        _mix_pre(a_in, nu, c, mix, True)
        u = a_out[c]
        _product_tn(w[c], mix, u)
        if options.read_normalization:
            _scale_by_inverse_norms(u, w[c], True, 0)
        if options.normalization:
            _normalize(u, g, h)
        _activate(codes[c], fast, u, eta)


@njit(cache=True, error_model="numpy")
def _backward_layer(a_above, a_here, w, v, mu, f, eta, g, h, codes, options, mix, wide):
    """SPEC §3.4 for one layer: v_c = (a_{ℓ+1} μ[:, c]) V_c, then additive or multiplicative."""
    k, n, batch = a_here.shape
    fast = options.fast_activations
    tied = options.tied
    multiplicative = options.backward_multiplicative
    first = 1 if multiplicative else 0  # multiplicative: state 0 is left as it is
    narrow = wide[:n]
    for c in range(first, k):
        _mix_pre(a_above, mu, c, mix, False)
        if tied:  # V_c = W_c[:n]ᵀ, so v = W_c[:n] @ m
            _product_nn(w[c][:n], mix, narrow)
        else:
            _product_tn(v[c], mix, narrow)
        if options.read_normalization:
            if tied:
                _scale_by_inverse_norms(narrow, w[c], False, w.shape[2])
            else:
                _scale_by_inverse_norms(narrow, v[c], True, 0)
        target = a_here[c].reshape(n * batch)
        vin = narrow.reshape(n * batch)
        if multiplicative:
            for i in range(n * batch):
                target[i] = f * target[i] * vin[i]
        else:
            if options.normalization:
                _normalize(narrow, g, h)
            for i in range(n * batch):
                target[i] = f * target[i] + eta * vin[i]
        _activate(codes[c], fast, a_here[c], a_here.dtype.type(1.0))


@njit(cache=True, error_model="numpy", fastmath=REDUCE)
def _row_sums_of_squares(x, out):
    for j in range(x.shape[0]):
        s = x[j, 0] * x[j, 0]
        for b in range(1, x.shape[1]):
            s += x[j, b] * x[j, b]
        out[j] = s


@njit(cache=True, error_model="numpy")
def _gated_update(mat, delta, f_syn, eta_syn, inv_batch, decay, factor_sq, oja):
    """mat ← f̃·mat + η̃·(Δ/B − decay·mat·mean_b(post factor²)) (SPEC §3.5), in place.

    ``factor_sq[j]`` holds the batch sum of the squared post-synaptic factor of column j.
    """
    rows, cols = mat.shape
    if oja:
        for j in range(cols):
            factor_sq[j] *= decay * inv_batch
        for i in range(rows):
            for j in range(cols):
                mat[i, j] = f_syn * mat[i, j] + eta_syn * (
                    delta[i, j] * inv_batch - factor_sq[j] * mat[i, j]
                )
    else:
        flat = mat.reshape(mat.size)
        flat_delta = delta.reshape(delta.size)
        for i in range(flat.size):
            flat[i] = f_syn * flat[i] + eta_syn * (flat_delta[i] * inv_batch)


@njit(cache=True, error_model="numpy")
def _hebbian_update(
    pre,
    post,
    w,
    v,
    nu_pre,
    mu_post,
    f_syn,
    eta_syn,
    omega,
    options,
    p_buf,
    q_buf,
    dw,
    qt_buf,
    pt_buf,
    dv,
    sq,
    update_v,
):
    """SPEC §3.5 for one layer, in place on w (and v when ``update_v``).

    ΔW_c = P_cᵀ Q_c / B with P_c = [a, 1] ν̃[:, c] and Q_c = μ̃[c, :] q; ΔV_c likewise
    with the roles of pre and post swapped. With shared states only channel 0 is
    computed, then copied to the others.
    """
    k, n, batch = pre.shape
    channels = 1 if options.shared_states else k
    oja = options.oja
    # sign(η̃)·|ω|: the Oja term always decays, whatever the sign of η̃
    decay = abs(omega) if eta_syn > 0 else (-abs(omega) if eta_syn < 0 else omega - omega)
    inv_batch = pre.dtype.type(1.0 / batch)
    for c in range(channels):
        _mix_pre(pre, nu_pre, c, p_buf, True)
        _mix_post(post, mu_post, c, q_buf)
        _product_nt(p_buf, q_buf, dw)
        if oja:
            _row_sums_of_squares(q_buf, sq)
        _gated_update(w[c], dw, f_syn, eta_syn, inv_batch, decay, sq, oja)
        if update_v:
            _mix_pre(post, nu_pre, c, qt_buf, False)  # Σ_d q[b,j,d] ν̃[d,c]
            _mix_post(pre, mu_post, c, pt_buf)  # Σ_e μ̃[c,e] p[b,i,e]
            _product_nt(qt_buf, pt_buf, dv)
            if oja:
                _row_sums_of_squares(pt_buf, sq)
            _gated_update(v[c], dv, f_syn, eta_syn, inv_batch, decay, sq, oja)
    if channels == 1:
        for c in range(1, k):
            _copy(w[c], w[0])
            if update_v:
                _copy(v[c], v[0])


@njit(cache=True, error_model="numpy", fastmath=REDUCE)
def _all_finite(buf):
    """False when any entry is NaN or ±inf (x·0 is NaN exactly then). The sum may be
    reassociated (a NaN survives any order), so it vectorizes: 8× faster than in order."""
    zero = buf.dtype.type(0.0)
    acc = zero
    for i in range(buf.size):
        acc += buf[i] * zero
    return acc == zero


@njit(cache=True, error_model="numpy")
def _evaluate_scratch(sizes, k, x_eval):
    """_evaluate's activations and mixes for x_eval's batch size: allocated once per kernel
    call, not per evaluation (inputs' states >= 1 are 0 and stay 0)."""
    n_layers = sizes.shape[0] - 1
    batch = x_eval.shape[2]
    dtype = x_eval.dtype
    acts = [np.zeros((k, sizes[layer], batch), dtype=dtype) for layer in range(n_layers + 1)]
    mixes = [np.empty((sizes[layer] + 1, batch), dtype=dtype) for layer in range(n_layers)]
    return acts, mixes


@njit(cache=True, error_model="numpy")
def _evaluate(args, ws, nu, eta, g, h, result, scratch):
    """SPEC §6.3–6.4: forward-only passes over the eval batches; accuracy, L2, CE into result.

    L2 is the mean over examples of ½ Σ_j (ŷ_j − t_j)² with ±1 targets; CE the softmax
    cross-entropy of state 0 (one output: the logistic loss log(1 + e^{−t·ŷ})).
    """
    sizes, x_eval, y_eval = args.sizes, args.x_eval, args.y_eval
    n_layers = sizes.shape[0] - 1
    k = nu.shape[0]
    n_batches, _, batch = x_eval.shape
    acts, mixes = scratch
    n_out = sizes[n_layers]
    correct = 0.0
    l2 = 0.0
    ce = 0.0
    for e in range(n_batches):
        _copy(acts[0][0], x_eval[e])  # states >= 1 of the input layer stay 0
        for layer in range(n_layers):
            channels = 1 if layer == n_layers - 1 else k
            _forward_layer(
                acts[layer],
                acts[layer + 1],
                ws[layer],
                nu,
                eta,
                g,
                h,
                args.act_fwd[layer],
                args.options,
                mixes[layer],
                channels,
            )
        out = acts[n_layers][0]
        for b in range(batch):
            label = y_eval[e, b]
            if n_out == 1:
                y = out[0, b]
                t = 1.0 if label == 1 else -1.0
                pred = 1 if y > 0 else 0
                l2 += 0.5 * (y - t) * (y - t)
                z = -t * y  # log(1 + e^z), stable
                ce += (z if z > 0.0 else 0.0) + np.log1p(np.exp(-abs(z)))
            else:
                pred = 0
                top = out[0, b]
                for j in range(n_out):
                    y = out[j, b]
                    t = 1.0 if j == label else -1.0
                    l2 += 0.5 * (y - t) * (y - t)
                    if y > top:
                        top = y
                        pred = j
                total = 0.0
                for j in range(n_out):
                    total += np.exp(out[j, b] - top)
                ce += top + np.log(total) - out[label, b]
            if pred == label:
                correct += 1.0
    count = n_batches * batch
    result.accuracy = correct / count
    result.l2 = l2 / count
    result.ce = ce / count


@njit(cache=True, error_model="numpy")
def _scratch(sizes, k, x_train):
    """An unroll's work arrays, allocated once per kernel call and reused by every genome:
    every step overwrites what it reads, except the input's states >= 1 (0, never written)."""
    n_layers = sizes.shape[0] - 1
    batch = x_train.shape[2]
    dtype = x_train.dtype
    acts = [np.zeros((k, sizes[layer], batch), dtype=dtype) for layer in range(n_layers + 1)]
    pre_mix = [np.empty((sizes[layer] + 1, batch), dtype=dtype) for layer in range(n_layers)]
    post_mix = [np.empty((sizes[layer + 1], batch), dtype=dtype) for layer in range(n_layers)]
    back_in = [np.empty((sizes[layer] + 1, batch), dtype=dtype) for layer in range(n_layers)]
    pre_post = [np.empty((sizes[layer], batch), dtype=dtype) for layer in range(n_layers)]
    post_pre = [np.empty((sizes[layer + 1], batch), dtype=dtype) for layer in range(n_layers)]
    dws = [np.empty((sizes[layer] + 1, sizes[layer + 1]), dtype=dtype) for layer in range(n_layers)]
    dvs = [np.empty((sizes[layer + 1], sizes[layer]), dtype=dtype) for layer in range(n_layers)]
    widest = 0  # a loop, not sizes.max(): numba's max costs 1.6 s of compile time
    for layer in range(n_layers + 1):
        widest = max(widest, sizes[layer])
    sq = np.empty(widest + 1, dtype=dtype)
    return acts, pre_mix, post_mix, back_in, pre_post, post_pre, dws, dvs, sq


@njit(cache=True, error_model="numpy")
def _unroll(args, genome, w_buf, v_buf, curve, result, scratch, eval_scratch):
    """One unroll from the synapses in ``w_buf`` / ``v_buf``, updated in place."""
    options, slots, sizes = args.options, args.slots, args.sizes
    act_fwd, act_bwd, x_train, t_train = args.act_fwd, args.act_bwd, args.x_train, args.t_train
    k = act_fwd.shape[1]
    n_layers = sizes.shape[0] - 1
    steps, _, batch = x_train.shape
    dtype = x_train.dtype
    tied = options.tied

    # genome slots (SPEC §2): k×k row-major matrices and scalars, offsets from GenomeLayout
    kk = k * k
    nu = genome[slots.nu : slots.nu + kk].reshape((k, k))
    mu = genome[slots.mu : slots.mu + kk].reshape((k, k))
    nu_pre = genome[slots.nu_pre : slots.nu_pre + kk].reshape((k, k))
    mu_post = genome[slots.mu_post : slots.mu_post + kk].reshape((k, k))
    f = genome[slots.f]
    eta = genome[slots.eta]
    f_syn = genome[slots.f_syn]
    eta_syn = genome[slots.eta_syn]
    g = genome[slots.g]
    h = genome[slots.h]
    omega = genome[slots.omega]

    w_off, v_off = args.w_off, args.v_off
    ws = [
        w_buf[w_off[layer] : w_off[layer + 1]].reshape((k, sizes[layer] + 1, sizes[layer + 1]))
        for layer in range(n_layers)
    ]
    if tied:  # no V tensors: the backward pass reads W
        vs = [np.empty((k, 0, 0), dtype=dtype) for layer in range(n_layers)]
    else:
        vs = [
            v_buf[v_off[layer] : v_off[layer + 1]].reshape((k, sizes[layer + 1], sizes[layer]))
            for layer in range(n_layers)
        ]

    acts, pre_mix, post_mix, back_in, pre_post, post_pre, dws, dvs, sq = scratch

    diverged = False
    done = 0
    for step in range(steps):
        # §3.1 reset, input into state 0 of layer 0 (its other states stay 0 from the
        # allocation; the forward pass overwrites every state of the other layers)
        _copy(acts[0][0], x_train[step])
        # §3.2 forward
        for layer in range(n_layers):
            # label feedback overwrites the output's states >= 1: compute state 0 only
            channels = 1 if layer == n_layers - 1 and not options.feedback_error else k
            _forward_layer(
                acts[layer],
                acts[layer + 1],
                ws[layer],
                nu,
                eta,
                g,
                h,
                act_fwd[layer],
                options,
                pre_mix[layer],
                channels,
            )
        # §3.3 feedback into the output layer
        out = acts[n_layers]
        if options.feedback_error:
            err = out[1].reshape(out[1].size)
            pred = out[0].reshape(out[0].size)
            target = t_train[step].reshape(out[0].size)
            for i in range(err.size):
                err[i] = err[i] * (pred[i] - target[i])
        else:
            _copy(out[1], t_train[step])
            for c in range(2, k):
                _fill(out[c], dtype.type(0.0))
        # §3.4 backward, ℓ = L-1 … 1, with the synapses from before this step's update
        for layer in range(n_layers - 1, 0, -1):
            _backward_layer(
                acts[layer + 1],
                acts[layer],
                ws[layer],
                vs[layer],
                mu,
                f,
                eta,
                g,
                h,
                act_bwd[layer - 1],
                options,
                post_mix[layer],
                back_in[layer],
            )
        # §3.5 Hebbian synapse update, every layer
        for layer in range(n_layers):
            update_v = (not tied) and (layer > 0 or options.update_unread)
            _hebbian_update(
                acts[layer],
                acts[layer + 1],
                ws[layer],
                vs[layer],
                nu_pre,
                mu_post,
                f_syn,
                eta_syn,
                omega,
                options,
                pre_mix[layer],
                post_mix[layer],
                dws[layer],
                post_pre[layer],
                pre_post[layer],
                dvs[layer],
                sq,
                update_v,
            )
        done = step + 1
        if not (_all_finite(w_buf) and (tied or _all_finite(v_buf))):
            diverged = True
            break
        if options.record_curve:
            _evaluate(args, ws, nu, eta, g, h, result, eval_scratch)
            curve[step] = result.accuracy

    result.accuracy = np.nan
    result.l2 = np.nan
    result.ce = np.nan
    if not diverged and args.x_eval.shape[0] > 0:
        _evaluate(args, ws, nu, eta, g, h, result, eval_scratch)
        if not np.isfinite(result.l2):
            diverged = True
            result.accuracy = np.nan
    result.diverged = diverged
    result.steps = done


def run_unroll(args, genome, curve, results):
    """T learning steps (SPEC §3) on ``args.x_train``, then the evaluation of §6 on
    ``args.x_eval``: the synapses ``args.w_buf`` / ``args.v_buf`` are updated in place.

    ``results`` is a (1,) :data:`RESULT` array; ``curve[t]`` receives the eval accuracy
    after step t when ``args.options.record_curve``. A synapse that turns NaN or infinite
    stops the unroll with ``diverged`` set; nothing is raised. The population entry with
    one genome, trained in place: one compiled entry point, not two (issue 14 item 5).
    """
    run_population(args, genome.reshape(1, -1), curve.reshape(1, -1), results, True)


@njit(cache=True, error_model="numpy")
def run_population(args, genomes, curves, results, in_place):
    """:func:`run_unroll` for every row of ``genomes`` (P, G), each from the initial synapses
    in ``args`` (left as they are unless ``in_place``, which trains ``args.w_buf`` /
    ``args.v_buf`` themselves, P = 1) and on the same batches (common random numbers);
    ``results`` is a (P,) :data:`RESULT` array, ``curves`` (P or 1, T) the accuracy curves
    when recorded (one row is shared when they are not).

    One call per population and task draw: the Python-side cost is paid once, not P times.
    """
    k = args.act_fwd.shape[1]
    scratch = _scratch(args.sizes, k, args.x_train)
    eval_scratch = _evaluate_scratch(args.sizes, k, args.x_eval)
    # one call site of _unroll: LLVM inlines the whole unroll at every call site, and each
    # copy costs seconds of compile time (issue 14 item 5)
    if in_place:
        w_buf, v_buf = args.w_buf, args.v_buf
    else:
        w_buf = np.empty_like(args.w_buf)
        v_buf = np.empty_like(args.v_buf)
    last = curves.shape[0] - 1
    for p in range(genomes.shape[0]):
        if not in_place:
            _copy(w_buf, args.w_buf)
            _copy(v_buf, args.v_buf)
        _unroll(args, genomes[p], w_buf, v_buf, curves[min(p, last)], results[p], scratch,
                eval_scratch)
