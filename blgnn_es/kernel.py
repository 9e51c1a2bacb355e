"""The numba kernel: a whole BLUR unroll (SPEC.md §3 steps, then §6 evaluation) in one call.

The only hot code of blgnn-es. Everything here takes plain contiguous arrays and scalars,
raises on nothing (inputs are validated in blgnn_es/learner.py), and is compiled once per
dtype (``cache=True``). ``error_model="numpy"`` keeps division free of Python's
zero-division checks, so the element loops vectorize.

Layout inside the kernel is channel-major so each channel's matrix is one contiguous
BLAS operand:
- activations of layer ℓ: (k, B, n_ℓ)
- forward synapses W_ℓ: (k, n_ℓ + 1, n_{ℓ+1}), row n_ℓ is the bias neuron
- backward synapses V_ℓ: (k, n_{ℓ+1}, n_ℓ)
All layers' W live in one flat buffer (``w_buf``, layer ℓ starting at ``w_off[ℓ]``), and
likewise V. blgnn_es/learner.py converts from and to the SPEC layout.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# activation codes: the order of blgnn_es.network.ACTIVATIONS
ACT_IDENTITY, ACT_TANH, ACT_RELU, ACT_RELU_TANH, ACT_SIGMOID, ACT_DSIGMOID = range(6)

# slots of the int64 ``options`` vector
OPT_TIED = 0
OPT_SHARED = 1
OPT_FEEDBACK_ERROR = 2
OPT_BACKWARD_MULT = 3
OPT_NORMALIZE = 4
OPT_OJA = 5
OPT_READ_NORM = 6
OPT_FAST_ACTIVATIONS = 7  # rational tanh (float32 path); 0 = libm tanh/exp (float64 path)
OPT_UPDATE_UNREAD = 8     # also update V_0, which no pass reads (only to return it)
OPT_RECORD_CURVE = 9
N_OPTIONS = 10

# slots of the float ``result`` vector
RES_ACCURACY, RES_L2, RES_CE, RES_DIVERGED, RES_STEPS = range(5)
N_RESULTS = 5

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
    c = np.empty(11, dtype=like.dtype)
    c[0] = TANH_CLAMP
    for i in range(5):
        c[1 + i] = TANH_P[i]
        c[6 + i] = TANH_Q[i]
    return (c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10])


@njit(cache=True, error_model="numpy")
def _tanh_fast(x, tc):
    """Branch-free rational tanh: it vectorizes, unlike libm's tanh (about 25 ns a call)."""
    v = x if x < tc[0] else tc[0]
    v = v if v > -tc[0] else -tc[0]
    z = v * v
    p = tc[1] + z * (tc[2] + z * (tc[3] + z * (tc[4] + z * tc[5])))
    q = tc[6] + z * (tc[7] + z * (tc[8] + z * (tc[9] + z * tc[10])))
    return v * p / q


def tanh_fast(x: np.ndarray) -> np.ndarray:
    """The kernel's float32 tanh applied to an array (for tests and benchmarks)."""
    out = np.array(x, copy=True)
    _activate(ACT_TANH, True, out.reshape(1, -1))
    return out


@njit(cache=True, error_model="numpy")
def _activate(code, fast, x):
    """φ of SPEC §3 applied in place to one state's (B, n) block (C-contiguous)."""
    if code == ACT_IDENTITY:
        return
    flat = x.reshape(x.size)
    n = flat.size
    tc = _tanh_coefficients(flat)
    one = tc[6]
    zero = one - one
    half = one / (one + one)
    if code == ACT_RELU:
        for i in range(n):
            v = flat[i]
            flat[i] = v if v > zero else zero
    elif fast:
        if code == ACT_TANH:
            for i in range(n):
                flat[i] = _tanh_fast(flat[i], tc)
        elif code == ACT_RELU_TANH:
            for i in range(n):
                v = _tanh_fast(flat[i], tc)
                flat[i] = v if v > zero else zero
        elif code == ACT_SIGMOID:
            for i in range(n):  # σ(x) = (1 + tanh(x/2)) / 2
                flat[i] = half + half * _tanh_fast(half * flat[i], tc)
        elif code == ACT_DSIGMOID:
            for i in range(n):
                s = half + half * _tanh_fast(half * flat[i], tc)
                flat[i] = s * (one - s)
    else:
        if code == ACT_TANH:
            for i in range(n):
                flat[i] = np.tanh(flat[i])
        elif code == ACT_RELU_TANH:
            for i in range(n):
                v = np.tanh(flat[i])
                flat[i] = v if v > zero else zero
        elif code == ACT_SIGMOID:
            for i in range(n):
                flat[i] = one / (one + np.exp(-flat[i]))
        elif code == ACT_DSIGMOID:
            for i in range(n):
                s = one / (one + np.exp(-flat[i]))
                flat[i] = s * (one - s)


# Below this many multiply-adds a plain loop beats the fixed cost of a BLAS call (toy tasks).
SMALL_PRODUCT = 1 << 15


@njit(cache=True, error_model="numpy")
def _matmul(a, b, out):
    """out = a @ b."""
    m, inner = a.shape
    n = b.shape[1]
    if m * inner * n >= SMALL_PRODUCT:
        np.dot(a, b, out)
        return
    for i in range(m):
        for j in range(n):
            out[i, j] = 0.0
        for p in range(inner):
            s = a[i, p]
            for j in range(n):
                out[i, j] += s * b[p, j]


@njit(cache=True, error_model="numpy")
def _matmul_tn(a, b, out):
    """out = aᵀ @ b for a (B, m), b (B, n): the batch sums of the Hebbian products."""
    batch, m = a.shape
    n = b.shape[1]
    if batch * m * n >= SMALL_PRODUCT:
        np.dot(a.T, b, out)
        return
    for i in range(m):
        for j in range(n):
            out[i, j] = 0.0
    for r in range(batch):
        for i in range(m):
            s = a[r, i]
            for j in range(n):
                out[i, j] += s * b[r, j]


@njit(cache=True, error_model="numpy")
def _matmul_nt(a, b, out):
    """out = a @ bᵀ for a (B, p), b (m, p): the tied backward pass reads W transposed."""
    batch, inner = a.shape
    m = b.shape[0]
    if batch * inner * m >= SMALL_PRODUCT:
        np.dot(a, b.T, out)
        return
    for r in range(batch):
        for i in range(m):
            s = a[r, 0] * b[i, 0]
            for p in range(1, inner):
                s += a[r, p] * b[i, p]
            out[r, i] = s


@njit(cache=True, error_model="numpy")
def _normalize(u, g, h, stats):
    """N of SPEC §5 in place on one channel's (B, n): per neuron over the batch.

    ``stats`` (2, n) is scratch space in the dtype of ``u``.
    """
    batch, n = u.shape
    mean = stats[0]
    scale = stats[1]
    for j in range(n):
        mean[j] = 0.0
        scale[j] = 0.0
    for b in range(batch):
        for j in range(n):
            mean[j] += u[b, j]
    for j in range(n):
        mean[j] /= batch
    for b in range(batch):
        for j in range(n):
            d = u[b, j] - mean[j]
            scale[j] += d * d
    for j in range(n):
        scale[j] = g / np.sqrt(scale[j] / batch + NORM_EPS)
    for b in range(batch):
        for j in range(n):
            u[b, j] = (u[b, j] - mean[j]) * scale[j] + h


@njit(cache=True, error_model="numpy")
def _mix_pre(acts, transform, c, out, with_bias):
    """out[:, :n] = Σ_d acts[d] · transform[d, c]: the states mixed by column c.

    With ``with_bias`` the extra column n is the bias neuron of ã = [a, 1] (SPEC §3.2),
    whose states are all 1: Σ_d transform[d, c].
    """
    k, batch, n = acts.shape
    for b in range(batch):
        for i in range(n):
            out[b, i] = 0.0
    for d in range(k):
        t = transform[d, c]
        if t == 0.0:
            continue
        for b in range(batch):
            for i in range(n):
                out[b, i] += t * acts[d, b, i]
    if with_bias:
        total = transform[0, c]
        for d in range(1, k):
            total += transform[d, c]
        for b in range(batch):
            out[b, n] = total


@njit(cache=True, error_model="numpy")
def _mix_post(acts, transform, c, out):
    """out = Σ_e transform[c, e] · acts[e]: the states mixed by row c (μ̃ of SPEC §3.5)."""
    k, batch, n = acts.shape
    for b in range(batch):
        for i in range(n):
            out[b, i] = 0.0
    for e in range(k):
        t = transform[c, e]
        if t == 0.0:
            continue
        for b in range(batch):
            for i in range(n):
                out[b, i] += t * acts[e, b, i]


@njit(cache=True, error_model="numpy")
def _scale_by_inverse_norms(u, mat, by_columns, width, norms):
    """Synapse read-normalization (SPEC §5) without touching the stored matrix.

    Dividing column j of the matrix by its norm equals dividing column j of the product.
    ``by_columns``: norms of mat[:, j] (W forward, V backward); otherwise norms of rows
    mat[i, :width] (tied V = W[:n]ᵀ, whose column i is row i of W).
    """
    n = u.shape[1]
    for j in range(n):
        norms[j] = 0.0
    if by_columns:
        for r in range(mat.shape[0]):
            for j in range(n):
                norms[j] += mat[r, j] * mat[r, j]
    else:
        for j in range(n):
            for r in range(width):
                norms[j] += mat[j, r] * mat[j, r]
    for j in range(n):
        norms[j] = 1.0 / np.sqrt(norms[j])
    for b in range(u.shape[0]):
        for j in range(n):
            u[b, j] *= norms[j]


@njit(cache=True, error_model="numpy")
def _forward_layer(a_in, a_out, w, nu, eta, g, h, codes, options, mix, stats, n_channels):
    """SPEC §3.2 for one layer: u_c = ([a, 1] ν[:, c]) W_c ; a' = φ(η·N(u)).

    The states of ``a_out`` are 0 at this point (step 1 resets them), so f·a' vanishes and
    u is written straight into a'. ``n_channels`` < k computes only the first channels
    (the evaluation reads state 0 of the output only).
    """
    fast = options[OPT_FAST_ACTIVATIONS] != 0
    batch = a_out.shape[1]
    n_out = a_out.shape[2]
    for c in range(n_channels):
        _mix_pre(a_in, nu, c, mix, True)
        u = a_out[c]
        _matmul(mix, w[c], u)
        if options[OPT_READ_NORM] != 0:
            _scale_by_inverse_norms(u, w[c], True, 0, stats[0])
        if options[OPT_NORMALIZE] != 0:
            _normalize(u, g, h, stats)
        for b in range(batch):
            for j in range(n_out):
                u[b, j] = eta * u[b, j]
        _activate(codes[c], fast, u)


@njit(cache=True, error_model="numpy")
def _backward_layer(a_above, a_here, w, v, mu, f, eta, g, h, codes, options, mix, wide,
                    narrow, stats):
    """SPEC §3.4 for one layer: v_c = (a_{ℓ+1} μ[:, c]) V_c, then additive or multiplicative."""
    k, batch, n = a_here.shape
    fast = options[OPT_FAST_ACTIVATIONS] != 0
    tied = options[OPT_TIED] != 0
    multiplicative = options[OPT_BACKWARD_MULT] != 0
    first = 1 if multiplicative else 0  # multiplicative: state 0 is left as it is
    for c in range(first, k):
        _mix_pre(a_above, mu, c, mix, False)
        if tied:  # V_c = W_c[:n]ᵀ: multiply by W_cᵀ, then drop the bias column
            _matmul_nt(mix, w[c], wide)
            for b in range(batch):
                for i in range(n):
                    narrow[b, i] = wide[b, i]
        else:
            _matmul(mix, v[c], narrow)
        if options[OPT_READ_NORM] != 0:
            if tied:
                _scale_by_inverse_norms(narrow, w[c], False, w.shape[2], stats[0])
            else:
                _scale_by_inverse_norms(narrow, v[c], True, 0, stats[0])
        target = a_here[c]
        if multiplicative:
            for b in range(batch):
                for i in range(n):
                    target[b, i] = f * target[b, i] * narrow[b, i]
        else:
            if options[OPT_NORMALIZE] != 0:
                _normalize(narrow, g, h, stats)
            for b in range(batch):
                for i in range(n):
                    target[b, i] = f * target[b, i] + eta * narrow[b, i]
        _activate(codes[c], fast, target)


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
                mat[i, j] = f_syn * mat[i, j] + eta_syn * (delta[i, j] * inv_batch
                                                           - factor_sq[j] * mat[i, j])
    else:
        for i in range(rows):
            for j in range(cols):
                mat[i, j] = f_syn * mat[i, j] + eta_syn * (delta[i, j] * inv_batch)


@njit(cache=True, error_model="numpy")
def _column_sums_of_squares(x, out):
    for j in range(x.shape[1]):
        out[j] = 0.0
    for b in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[j] += x[b, j] * x[b, j]


@njit(cache=True, error_model="numpy")
def _hebbian_update(pre, post, w, v, nu_pre, mu_post, f_syn, eta_syn, omega, options,
                    p_buf, q_buf, dw, qt_buf, pt_buf, dv, stats, update_v):
    """SPEC §3.5 for one layer, in place on w (and v when ``update_v``).

    ΔW_c = P_cᵀ Q_c / B with P_c = [a, 1] ν̃[:, c] and Q_c = μ̃[c, :] q; ΔV_c likewise
    with the roles of pre and post swapped. With shared states only channel 0 is
    computed, then copied to the others.
    """
    k, batch, n = pre.shape
    channels = 1 if options[OPT_SHARED] != 0 else k
    oja = options[OPT_OJA] != 0
    # sign(η̃)·|ω|: the Oja term always decays, whatever the sign of η̃
    decay = abs(omega) if eta_syn > 0 else (-abs(omega) if eta_syn < 0 else omega - omega)
    inv_batch = eta_syn - eta_syn + 1.0 / batch  # in the synapses' dtype
    for c in range(channels):
        _mix_pre(pre, nu_pre, c, p_buf, True)
        _mix_post(post, mu_post, c, q_buf)
        _matmul_tn(p_buf, q_buf, dw)
        if oja:
            _column_sums_of_squares(q_buf, stats[0])
        _gated_update(w[c], dw, f_syn, eta_syn, inv_batch, decay, stats[0], oja)
        if update_v:
            _mix_pre(post, nu_pre, c, qt_buf, False)   # Σ_d q[b,j,d] ν̃[d,c]
            _mix_post(pre, mu_post, c, pt_buf)         # Σ_e μ̃[c,e] p[b,i,e]
            _matmul_tn(qt_buf, pt_buf, dv)
            if oja:
                _column_sums_of_squares(pt_buf, stats[1])
            _gated_update(v[c], dv, f_syn, eta_syn, inv_batch, decay, stats[1], oja)
    if channels == 1:
        for c in range(1, k):
            w[c, :, :] = w[0]
            if update_v:
                v[c, :, :] = v[0]


@njit(cache=True, error_model="numpy")
def _all_finite(buf):
    """False when any entry is NaN or ±inf (x·0 is NaN exactly then); vectorizes."""
    acc = 0.0
    for i in range(buf.size):
        acc += buf[i] * 0.0
    return acc == 0.0


@njit(cache=True, error_model="numpy")
def _evaluate(sizes, ws, nu, eta, g, h, act_fwd, options, x_eval, y_eval, result):
    """SPEC §6.3–6.4: forward-only passes over the eval batches; accuracy, L2, CE into result."""
    n_layers = sizes.shape[0] - 1
    k = nu.shape[0]
    n_batches, batch, _ = x_eval.shape
    dtype = x_eval.dtype
    acts = [np.zeros((k, batch, sizes[layer]), dtype=dtype) for layer in range(n_layers + 1)]
    mixes = [np.empty((batch, sizes[layer] + 1), dtype=dtype) for layer in range(n_layers)]
    stats = np.empty((2, sizes.max() + 1), dtype=dtype)
    n_out = sizes[n_layers]
    correct = 0.0
    l2 = 0.0
    ce = 0.0
    for e in range(n_batches):
        acts[0][0] = x_eval[e]  # states >= 1 of the input layer stay 0
        for layer in range(n_layers):
            channels = 1 if layer == n_layers - 1 else k
            _forward_layer(acts[layer], acts[layer + 1], ws[layer], nu, eta, g, h,
                           act_fwd[layer], options, mixes[layer], stats, channels)
        out = acts[n_layers][0]
        for b in range(batch):
            label = y_eval[e, b]
            if n_out == 1:
                y = out[b, 0]
                t = 1.0 if label == 1 else -1.0
                pred = 1 if y > 0 else 0
                l2 += 0.5 * (y - t) * (y - t)
                z = -t * y  # log(1 + e^z), stable
                ce += (z if z > 0.0 else 0.0) + np.log1p(np.exp(-abs(z)))
            else:
                pred = 0
                top = out[b, 0]
                for j in range(n_out):
                    y = out[b, j]
                    t = 1.0 if j == label else -1.0
                    l2 += 0.5 * (y - t) * (y - t)
                    if y > top:
                        top = y
                        pred = j
                total = 0.0
                for j in range(n_out):
                    total += np.exp(out[b, j] - top)
                ce += top + np.log(total) - out[b, label]
            if pred == label:
                correct += 1.0
    count = n_batches * batch
    result[RES_ACCURACY] = correct / count
    result[RES_L2] = l2 / count
    result[RES_CE] = ce / count


@njit(cache=True, error_model="numpy")
def run_unroll(sizes, genome, options, act_fwd, act_bwd, w_buf, w_off, v_buf, v_off,
               x_train, t_train, x_eval, y_eval, curve, result):
    """T learning steps (SPEC §3) on x_train (T, B, n0) with targets t_train (T, B, nL),
    then the evaluation of §6 on x_eval (E, Be, n0) with labels y_eval (E, Be).

    Synapses are updated in place in ``w_buf`` / ``v_buf``. ``result`` receives accuracy,
    L2, CE, a diverged flag and the steps completed; ``curve[t]`` the eval accuracy after
    step t when OPT_RECORD_CURVE is set. A synapse that turns NaN or infinite stops the
    unroll with the diverged flag set; nothing is raised.
    """
    k = act_fwd.shape[1]
    n_layers = sizes.shape[0] - 1
    steps, batch, _ = x_train.shape
    dtype = x_train.dtype
    tied = options[OPT_TIED] != 0

    # genome slots (SPEC §2), row-major k×k matrices then seven scalars
    kk = k * k
    nu = genome[0:kk].reshape((k, k))
    mu = genome[kk:2 * kk].reshape((k, k))
    nu_pre = genome[2 * kk:3 * kk].reshape((k, k))
    mu_post = genome[3 * kk:4 * kk].reshape((k, k))
    f = genome[4 * kk]
    eta = genome[4 * kk + 1]
    f_syn = genome[4 * kk + 2]
    eta_syn = genome[4 * kk + 3]
    g = genome[4 * kk + 4]
    h = genome[4 * kk + 5]
    omega = genome[4 * kk + 6]

    ws = [w_buf[w_off[layer]:w_off[layer + 1]].reshape((k, sizes[layer] + 1, sizes[layer + 1]))
          for layer in range(n_layers)]
    if tied:  # no V tensors: the backward pass reads W
        vs = [np.empty((k, 0, 0), dtype=dtype) for layer in range(n_layers)]
    else:
        vs = [v_buf[v_off[layer]:v_off[layer + 1]].reshape((k, sizes[layer + 1], sizes[layer]))
              for layer in range(n_layers)]

    acts = [np.zeros((k, batch, sizes[layer]), dtype=dtype) for layer in range(n_layers + 1)]
    mixes = [np.empty((batch, sizes[layer] + 1), dtype=dtype) for layer in range(n_layers)]
    back_mix = [np.empty((batch, sizes[layer + 1]), dtype=dtype) for layer in range(n_layers)]
    wide = [np.empty((batch, sizes[layer] + 1), dtype=dtype) for layer in range(n_layers)]
    q_bufs = [np.empty((batch, sizes[layer + 1]), dtype=dtype) for layer in range(n_layers)]
    p_t = [np.empty((batch, sizes[layer]), dtype=dtype) for layer in range(n_layers)]
    dws = [np.empty((sizes[layer] + 1, sizes[layer + 1]), dtype=dtype) for layer in range(n_layers)]
    dvs = [np.empty((sizes[layer + 1], sizes[layer]), dtype=dtype) for layer in range(n_layers)]
    stats = np.empty((2, sizes.max() + 1), dtype=dtype)

    diverged = False
    done = 0
    for step in range(steps):
        # §3.1 reset, input into state 0 of layer 0 (its other states stay 0 from the
        # allocation; the forward pass overwrites every state of the other layers)
        acts[0][0] = x_train[step]
        # §3.2 forward
        for layer in range(n_layers):
            _forward_layer(acts[layer], acts[layer + 1], ws[layer], nu, eta, g, h,
                           act_fwd[layer], options, mixes[layer], stats, k)
        # §3.3 feedback into the output layer
        out = acts[n_layers]
        targets = t_train[step]
        if options[OPT_FEEDBACK_ERROR] != 0:
            for b in range(batch):
                for j in range(out.shape[2]):
                    out[1, b, j] = out[1, b, j] * (out[0, b, j] - targets[b, j])
        else:
            out[1] = targets
            for c in range(2, k):
                out[c] = 0.0
        # §3.4 backward, ℓ = L-1 … 1, with the synapses from before this step's update
        for layer in range(n_layers - 1, 0, -1):
            _backward_layer(acts[layer + 1], acts[layer], ws[layer], vs[layer], mu, f, eta, g,
                            h, act_bwd[layer - 1], options, back_mix[layer], wide[layer],
                            p_t[layer], stats)
        # §3.5 Hebbian synapse update, every layer
        for layer in range(n_layers):
            update_v = (not tied) and (layer > 0 or options[OPT_UPDATE_UNREAD] != 0)
            _hebbian_update(acts[layer], acts[layer + 1], ws[layer], vs[layer], nu_pre, mu_post,
                            f_syn, eta_syn, omega, options, mixes[layer], q_bufs[layer],
                            dws[layer], back_mix[layer], p_t[layer], dvs[layer], stats,
                            update_v)
        done = step + 1
        if not (_all_finite(w_buf) and (tied or _all_finite(v_buf))):
            diverged = True
            break
        if options[OPT_RECORD_CURVE] != 0:
            _evaluate(sizes, ws, nu, eta, g, h, act_fwd, options, x_eval, y_eval, result)
            curve[step] = result[RES_ACCURACY]

    result[RES_ACCURACY] = np.nan
    result[RES_L2] = np.nan
    result[RES_CE] = np.nan
    if not diverged and x_eval.shape[0] > 0:
        _evaluate(sizes, ws, nu, eta, g, h, act_fwd, options, x_eval, y_eval, result)
        if not np.isfinite(result[RES_L2]):
            diverged = True
            result[RES_ACCURACY] = np.nan
    result[RES_DIVERGED] = 1.0 if diverged else 0.0
    result[RES_STEPS] = done
