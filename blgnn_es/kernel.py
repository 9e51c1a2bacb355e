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
_TP0, _TP1, _TP2, _TP3, _TP4 = (9.99999921e-01, 1.33840828e-01, 3.49946478e-03,
                                2.06821829e-05, 1.34728133e-08)
_TQ1, _TQ2, _TQ3, _TQ4 = 4.67173852e-01, 2.58911043e-02, 3.29238137e-04, 7.82137877e-07
_TANH_CLAMP = 9.0


@njit(cache=True, error_model="numpy")
def tanh_fast(x):
    """Branch-free rational tanh: vectorizes, unlike libm's tanh (about 25 ns a call)."""
    v = min(max(x, -_TANH_CLAMP), _TANH_CLAMP)
    z = v * v
    p = _TP0 + z * (_TP1 + z * (_TP2 + z * (_TP3 + z * _TP4)))
    q = 1.0 + z * (_TQ1 + z * (_TQ2 + z * (_TQ3 + z * _TQ4)))
    return v * p / q


@njit(cache=True, error_model="numpy")
def _activate(code, fast, x):
    """φ of SPEC §3 applied in place to one state's (B, n) block."""
    if code == ACT_IDENTITY:
        return
    flat = x.reshape(x.size)
    n = flat.size
    if code == ACT_RELU:
        for i in range(n):
            flat[i] = max(flat[i], 0.0)
    elif fast:
        if code == ACT_TANH:
            for i in range(n):
                flat[i] = tanh_fast(flat[i])
        elif code == ACT_RELU_TANH:
            for i in range(n):
                flat[i] = max(tanh_fast(flat[i]), 0.0)
        elif code == ACT_SIGMOID:
            for i in range(n):  # σ(x) = (1 + tanh(x/2)) / 2
                flat[i] = 0.5 + 0.5 * tanh_fast(0.5 * flat[i])
        elif code == ACT_DSIGMOID:
            for i in range(n):
                s = 0.5 + 0.5 * tanh_fast(0.5 * flat[i])
                flat[i] = s * (1.0 - s)
    else:
        if code == ACT_TANH:
            for i in range(n):
                flat[i] = np.tanh(flat[i])
        elif code == ACT_RELU_TANH:
            for i in range(n):
                flat[i] = max(np.tanh(flat[i]), 0.0)
        elif code == ACT_SIGMOID:
            for i in range(n):
                flat[i] = 1.0 / (1.0 + np.exp(-flat[i]))
        elif code == ACT_DSIGMOID:
            for i in range(n):
                s = 1.0 / (1.0 + np.exp(-flat[i]))
                flat[i] = s * (1.0 - s)


@njit(cache=True, error_model="numpy")
def _normalize(u, g, h):
    """N of SPEC §5 in place on one channel's (B, n): per neuron over the batch."""
    batch, n = u.shape
    mean = np.zeros(n, dtype=np.float64)
    var = np.zeros(n, dtype=np.float64)
    for b in range(batch):
        for j in range(n):
            mean[j] += u[b, j]
    for j in range(n):
        mean[j] /= batch
    for b in range(batch):
        for j in range(n):
            d = u[b, j] - mean[j]
            var[j] += d * d
    for j in range(n):
        var[j] = g / np.sqrt(var[j] / batch + NORM_EPS)
    for b in range(batch):
        for j in range(n):
            u[b, j] = (u[b, j] - mean[j]) * var[j] + h


@njit(cache=True, error_model="numpy")
def _mix_states(acts, transform, c, out, bias):
    """out[:, :n] = Σ_d acts[d] · transform[d, c]; out[:, n] = bias · Σ_d transform[d, c].

    With ``bias`` = 1 the extra column is the bias neuron ã = [a, 1] of SPEC §3.2; with
    ``bias`` = 0 and ``out`` of width n it is skipped.
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
            src = acts[d, b]
            dst = out[b]
            for i in range(n):
                dst[i] += t * src[i]
    if bias != 0.0 and out.shape[1] > n:
        total = 0.0
        for d in range(k):
            total += transform[d, c]
        for b in range(batch):
            out[b, n] = total


@njit(cache=True, error_model="numpy")
def _mix_post(acts, transform, c, out):
    """out = Σ_e transform[c, e] · acts[e]  (the μ̃ side of SPEC §3.5)."""
    k, batch, n = acts.shape
    for b in range(batch):
        for i in range(n):
            out[b, i] = 0.0
    for e in range(k):
        t = transform[c, e]
        if t == 0.0:
            continue
        for b in range(batch):
            src = acts[e, b]
            dst = out[b]
            for i in range(n):
                dst[i] += t * src[i]


@njit(cache=True, error_model="numpy")
def _scale_columns_by_inverse_norm(u, mat, over_rows, limit):
    """Synapse read-normalization (SPEC §5) without touching the stored matrix.

    Dividing column j of the matrix by its norm equals dividing column j of the product.
    ``over_rows``: norm of mat[:, j] (forward W, backward V); else norm of mat[j, :limit]
    rows (tied V = W[:n]ᵀ, whose column i is row i of W).
    """
    n = u.shape[1]
    norms = np.zeros(n, dtype=np.float64)
    if over_rows:
        for r in range(mat.shape[0]):
            for j in range(n):
                norms[j] += mat[r, j] * mat[r, j]
    else:
        for j in range(n):
            for r in range(limit):
                norms[j] += mat[j, r] * mat[j, r]
    for j in range(n):
        norms[j] = 1.0 / np.sqrt(norms[j])
    for b in range(u.shape[0]):
        for j in range(n):
            u[b, j] *= norms[j]


@njit(cache=True, error_model="numpy")
def _forward_layer(a_in, a_out, w, nu, eta, g, h, codes, options, mix, n_channels):
    """SPEC §3.2 for one layer: u_c = ([a, 1] ν[:, c]) W_c ; a' = φ(η·N(u)).

    The states of ``a_out`` are 0 at this point (step 1 resets them), so f·a' vanishes.
    ``n_channels`` < k computes only the first channels (evaluation needs state 0 only).
    """
    fast = options[OPT_FAST_ACTIVATIONS] != 0
    for c in range(n_channels):
        _mix_states(a_in, nu, c, mix, 1.0)
        u = a_out[c]
        np.dot(mix, w[c], u)
        if options[OPT_READ_NORM] != 0:
            _scale_columns_by_inverse_norm(u, w[c], True, 0)
        if options[OPT_NORMALIZE] != 0:
            _normalize(u, g, h)
        flat = u.reshape(u.size)
        for i in range(flat.size):
            flat[i] = eta * flat[i]
        _activate(codes[c], fast, u)


@njit(cache=True, error_model="numpy")
def _backward_layer(a_above, a_here, w, v, mu, f, eta, g, h, codes, options, mix, wide,
                    narrow):
    """SPEC §3.4 for one layer: v_c = (a_{ℓ+1} μ[:, c]) V_c, then additive or multiplicative."""
    k = a_here.shape[0]
    n = a_here.shape[2]
    fast = options[OPT_FAST_ACTIVATIONS] != 0
    tied = options[OPT_TIED] != 0
    multiplicative = options[OPT_BACKWARD_MULT] != 0
    first = 1 if multiplicative else 0
    for c in range(first, k):
        _mix_post_columns(a_above, mu, c, mix)
        if tied:
            # V_c = W_c[:n]ᵀ: multiply by W_cᵀ, then drop the bias column
            np.dot(mix, w[c].T, wide)
            for b in range(narrow.shape[0]):
                for i in range(n):
                    narrow[b, i] = wide[b, i]
        else:
            np.dot(mix, v[c], narrow)
        vin = narrow
        if options[OPT_READ_NORM] != 0:
            if tied:
                _scale_columns_by_inverse_norm(vin, w[c], False, w.shape[2])
            else:
                _scale_columns_by_inverse_norm(vin, v[c], True, 0)
        target = a_here[c]
        batch = target.shape[0]
        if multiplicative:
            for b in range(batch):
                for i in range(n):
                    target[b, i] = f * target[b, i] * vin[b, i]
        else:
            if options[OPT_NORMALIZE] != 0:
                _normalize(vin, g, h)
            for b in range(batch):
                for i in range(n):
                    target[b, i] = f * target[b, i] + eta * vin[b, i]
        _activate(codes[c], fast, target)


@njit(cache=True, error_model="numpy")
def _mix_post_columns(acts, transform, c, out):
    """out = Σ_d acts[d] · transform[d, c] (the μ side of the backward pass, no bias)."""
    _mix_states(acts, transform, c, out, 0.0)


@njit(cache=True, error_model="numpy")
def _hebbian_update(pre, post, w, v, nu_pre, mu_post, f_syn, eta_syn, omega, options,
                    p_buf, q_buf, dw, qt_buf, pt_buf, dv, update_v):
    """SPEC §3.5 for one layer, in place on w (and v when ``update_v``).

    ΔW_c = P_cᵀ Q_c / B with P_c = [a, 1] ν̃[:, c] and Q_c = μ̃[c, :] q; with shared states
    only channel 0 is computed and then copied (the other channels are never read).
    """
    k, batch, n = pre.shape
    n_out = post.shape[2]
    channels = 1 if options[OPT_SHARED] != 0 else k
    oja = options[OPT_OJA] != 0
    decay = 0.0
    if oja:
        decay = abs(omega) * (1.0 if eta_syn > 0 else (-1.0 if eta_syn < 0 else 0.0))
    inv_batch = 1.0 / batch
    for c in range(channels):
        _mix_states(pre, nu_pre, c, p_buf, 1.0)
        _mix_post(post, mu_post, c, q_buf)
        np.dot(p_buf.T, q_buf, dw)
        wc = w[c]
        if oja:
            sq = np.zeros(n_out, dtype=np.float64)
            for b in range(batch):
                for j in range(n_out):
                    sq[j] += q_buf[b, j] * q_buf[b, j]
            for j in range(n_out):
                sq[j] *= decay * inv_batch
            for i in range(n + 1):
                for j in range(n_out):
                    wc[i, j] = f_syn * wc[i, j] + eta_syn * (dw[i, j] * inv_batch - sq[j] * wc[i, j])
        else:
            for i in range(n + 1):
                for j in range(n_out):
                    wc[i, j] = f_syn * wc[i, j] + eta_syn * (dw[i, j] * inv_batch)
        if update_v:
            _mix_post_columns(post, nu_pre, c, qt_buf)   # Σ_d q[b,j,d] ν̃[d,c]
            _mix_post(pre, mu_post, c, pt_buf)           # Σ_e μ̃[c,e] p[b,i,e]
            np.dot(qt_buf.T, pt_buf, dv)
            vc = v[c]
            if oja:
                sq = np.zeros(n, dtype=np.float64)
                for b in range(batch):
                    for i in range(n):
                        sq[i] += pt_buf[b, i] * pt_buf[b, i]
                for i in range(n):
                    sq[i] *= decay * inv_batch
                for j in range(n_out):
                    for i in range(n):
                        vc[j, i] = f_syn * vc[j, i] + eta_syn * (dv[j, i] * inv_batch - sq[i] * vc[j, i])
            else:
                for j in range(n_out):
                    for i in range(n):
                        vc[j, i] = f_syn * vc[j, i] + eta_syn * (dv[j, i] * inv_batch)
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
    n_out = sizes[n_layers]
    correct = 0.0
    l2 = 0.0
    ce = 0.0
    for e in range(n_batches):
        for layer in range(1, n_layers + 1):
            acts[layer][:] = 0.0
        acts[0][:] = 0.0
        acts[0][0] = x_eval[e]
        for layer in range(n_layers):
            channels = 1 if layer == n_layers - 1 else k
            _forward_layer(acts[layer], acts[layer + 1], ws[layer], nu, eta, g, h,
                           act_fwd[layer], options, mixes[layer], channels)
        out = acts[n_layers][0]
        for b in range(batch):
            label = y_eval[e, b]
            if n_out == 1:
                y = out[b, 0]
                t = 1.0 if label == 1 else -1.0
                pred = 1 if y > 0 else 0
                l2 += 0.5 * (y - t) * (y - t)
                z = -t * y  # log(1 + e^z), stable
                ce += max(z, 0.0) + np.log1p(np.exp(-abs(z)))
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

    diverged = False
    done = 0
    for step in range(steps):
        # §3.1 reset, input into state 0 of layer 0
        for layer in range(n_layers + 1):
            acts[layer][:] = 0.0
        acts[0][0] = x_train[step]
        # §3.2 forward
        for layer in range(n_layers):
            _forward_layer(acts[layer], acts[layer + 1], ws[layer], nu, eta, g, h,
                           act_fwd[layer], options, mixes[layer], k)
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
                            p_t[layer])
        # §3.5 Hebbian synapse update, every layer
        for layer in range(n_layers):
            update_v = (not tied) and (layer > 0 or options[OPT_UPDATE_UNREAD] != 0)
            _hebbian_update(acts[layer], acts[layer + 1], ws[layer], vs[layer], nu_pre, mu_post,
                            f_syn, eta_syn, omega, options, mixes[layer], q_bufs[layer],
                            dws[layer], back_mix[layer], p_t[layer], dvs[layer], update_v)
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
