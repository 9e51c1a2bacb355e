"""Plain-NumPy BLUR learner, written to be read next to SPEC.md §3–§6. The oracle.

Slow and literal on purpose: every tensor is in SPEC layout (activations (B, n, k), W
(n+1, n', k), V (n', n, k)) and every formula is one ``einsum`` that names the SPEC
indices. The numba kernel (blgnn_es/kernel.py) must agree with it; the tests hold them
equal. Nothing here is tuned for speed.
"""

from __future__ import annotations

import numpy as np

from blgnn_es.model.genome import Genome
from blgnn_es.model.network import ACTIVATIONS, NetworkSpec
from blgnn_es.model.results import TrainResult

NORM_EPS = 1e-5  # SPEC §5


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


ACTIVATION_FUNCTIONS = {
    "identity": lambda x: x,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "relu_tanh": lambda x: np.maximum(np.tanh(x), 0.0),
    "sigmoid": _sigmoid,
    "dsigmoid": lambda x: _sigmoid(x) * (1.0 - _sigmoid(x)),
}
assert set(ACTIVATION_FUNCTIONS) == set(ACTIVATIONS)


def apply_activation(codes: np.ndarray, x: np.ndarray) -> np.ndarray:
    """φ per state (SPEC §3): state c of ``x`` (..., k) goes through activation ``codes[c]``."""
    out = np.empty_like(x)
    for c, code in enumerate(codes):
        out[..., c] = ACTIVATION_FUNCTIONS[ACTIVATIONS[code]](x[..., c])
    return out


def normalize(u: np.ndarray, genome: Genome, on: bool) -> np.ndarray:
    """N of SPEC §5: per neuron and channel over the batch, then gain g and shift h."""
    if not on:
        return u
    mean = u.mean(axis=0, keepdims=True)
    var = ((u - mean) ** 2).mean(axis=0, keepdims=True)
    return genome["g"] * (u - mean) / np.sqrt(var + NORM_EPS) + genome["h"]


def read_forward(net: NetworkSpec, w: np.ndarray) -> np.ndarray:
    """W as the forward pass reads it: W[:, j, c] / ‖W[:, j, c]‖ when read-normalization is on."""
    if not net.read_normalization:
        return w
    return w / np.sqrt((w * w).sum(axis=0, keepdims=True))


def read_backward(net: NetworkSpec, v: np.ndarray) -> np.ndarray:
    """V as the backward pass reads it: V[:, i, c] / ‖V[:, i, c]‖ (norm over its inputs j)."""
    if not net.read_normalization:
        return v
    return v / np.sqrt((v * v).sum(axis=0, keepdims=True))


def with_bias(a: np.ndarray) -> np.ndarray:
    """ã = [a, 1]: append the bias neuron, whose k states are all 1."""
    ones = np.ones(a.shape[:1] + (1,) + a.shape[2:], dtype=a.dtype)
    return np.concatenate([a, ones], axis=1)


def forward_layer(
    net: NetworkSpec,
    genome: Genome,
    w: np.ndarray,
    a_in: np.ndarray,
    a_out: np.ndarray,
    codes: np.ndarray,
) -> np.ndarray:
    """SPEC §3.2: u = Σ_{i,d} ã[b,i,d] ν[d,c] W[i,j,c]; a' = φ(f·a' + η·N(u))."""
    u = np.einsum(
        "bid,dc,ijc->bjc", with_bias(a_in), genome["nu"], read_forward(net, w), optimize=True
    )
    pre = genome["f"] * a_out + genome["eta"] * normalize(u, genome, net.normalization)
    return apply_activation(codes, pre)


def backward_layer(
    net: NetworkSpec,
    genome: Genome,
    v: np.ndarray,
    a_above: np.ndarray,
    a_here: np.ndarray,
    codes: np.ndarray,
) -> np.ndarray:
    """SPEC §3.4: v = Σ_{j,d} a_{ℓ+1}[b,j,d] μ[d,c] V[j,i,c], then additive or multiplicative."""
    v_in = np.einsum("bjd,dc,jic->bic", a_above, genome["mu"], read_backward(net, v), optimize=True)
    if net.backward == "additive":
        pre = genome["f"] * a_here + genome["eta"] * normalize(v_in, genome, net.normalization)
        return apply_activation(codes, pre)
    # multiplicative_second: state 0 unchanged, states >= 1 <- f · a · v, then φ^back on them
    out = a_here.copy()
    out[..., 1:] = apply_activation(codes[1:], genome["f"] * a_here[..., 1:] * v_in[..., 1:])
    return out


def write_feedback(net: NetworkSpec, output: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """SPEC §3.3: write the target (label mode) or the error (error mode) into the output."""
    out = output.copy()
    if net.feedback == "label":
        out[..., 1] = targets
        out[..., 2:] = 0.0
    else:
        out[..., 1] = output[..., 1] * (output[..., 0] - targets)
    return out


def hebbian_update(
    net: NetworkSpec,
    genome: Genome,
    w: np.ndarray,
    v: np.ndarray | None,
    pre: np.ndarray,
    post: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None]:
    """SPEC §3.5 for one layer: ΔW (and ΔV when untied), Oja term, gates, constraints."""
    p = with_bias(pre)  # (B, n+1, k), bias states all 1
    q = post  # (B, n', k)
    nu_pre, mu_post = genome["nu_pre"], genome["mu_post"]
    batch = p.shape[0]
    p_pre = np.einsum("bid,dc->bic", p, nu_pre)  # Σ_d p[b,i,d] ν̃[d,c]
    q_post = np.einsum("ce,bje->bjc", mu_post, q)  # Σ_e μ̃[c,e] q[b,j,e]
    delta_w = np.einsum("bic,bjc->ijc", p_pre, q_post, optimize=True) / batch
    oja = net.oja
    decay = np.sign(genome["eta_syn"]) * abs(genome["omega"])
    if oja:
        # Oja term: the batch mean of the square of the post-synaptic factor
        delta_w = delta_w - decay * w * (q_post**2).mean(axis=0)[None, :, :]
    new_w = genome["f_syn"] * w + genome["eta_syn"] * delta_w
    new_v = None
    if v is not None:
        n = pre.shape[1]
        q_pre = np.einsum("bjd,dc->bjc", q, nu_pre)  # Σ_d q[b,j,d] ν̃[d,c]
        p_post = np.einsum("ce,bie->bic", mu_post, p[:, :n])  # Σ_e μ̃[c,e] p[b,i,e]
        delta_v = np.einsum("bjc,bic->jic", q_pre, p_post, optimize=True) / batch
        if oja:
            delta_v = delta_v - decay * v * (p_post**2).mean(axis=0)[None, :, :]
        new_v = genome["f_syn"] * v + genome["eta_syn"] * delta_v
    if net.shared_states:
        new_w[...] = new_w[:, :, :1]
        if new_v is not None:
            new_v[...] = new_v[:, :, :1]
    return new_w, new_v


def forward_pass(
    net: NetworkSpec, genome: Genome, forward: list[np.ndarray], x: np.ndarray
) -> list[np.ndarray]:
    """SPEC §3.1–3.2: reset states, input into state 0 of layer 0, forward through all layers."""
    fwd_codes, _ = net.activation_codes()
    batch, k = x.shape[0], net.states
    acts = [np.zeros((batch, n, k), dtype=x.dtype) for n in net.layer_sizes]
    acts[0][:, :, 0] = x
    for layer in range(net.n_layers):
        acts[layer + 1] = forward_layer(
            net, genome, forward[layer], acts[layer], acts[layer + 1], fwd_codes[layer]
        )
    return acts


def learning_step(
    net: NetworkSpec,
    genome: Genome,
    forward: list[np.ndarray],
    backward: list[np.ndarray] | None,
    x: np.ndarray,
    targets: np.ndarray,
) -> tuple[list[np.ndarray], list[np.ndarray] | None, list[np.ndarray]]:
    """One learning step of SPEC §3 on a batch. Returns new W list, new V list, activations."""
    _, bwd_codes = net.activation_codes()
    acts = forward_pass(net, genome, forward, x)
    acts[-1] = write_feedback(net, acts[-1], targets)
    # V as it was before this step's update; tied: V = W[:n]ᵀ
    reads = [np.transpose(w[:-1], (1, 0, 2)) for w in forward] if net.tied else backward
    for layer in range(net.n_layers - 1, 0, -1):
        acts[layer] = backward_layer(
            net, genome, reads[layer], acts[layer + 1], acts[layer], bwd_codes[layer - 1]
        )
    new_forward, new_backward = [], []
    for layer in range(net.n_layers):
        v = None if net.tied else backward[layer]
        w_new, v_new = hebbian_update(net, genome, forward[layer], v, acts[layer], acts[layer + 1])
        new_forward.append(w_new)
        new_backward.append(v_new)
    return new_forward, (None if net.tied else new_backward), acts


def evaluate(
    net: NetworkSpec,
    genome: Genome,
    forward: list[np.ndarray],
    x_eval: np.ndarray,
    y_eval: np.ndarray,
) -> tuple[float, float, float]:
    """SPEC §6.3–6.4 on batches x_eval (E, B, n0), labels y_eval (E, B): accuracy, L2, CE.

    L2 is the mean over examples of ½ Σ_j (ŷ_j − t_j)² with ±1 targets; CE is the softmax
    cross-entropy of state 0 (with one output: the logistic loss log(1 + e^{−t·ŷ})).
    """
    correct, l2, ce, count = 0.0, 0.0, 0.0, 0
    n_out = net.n_outputs
    for xb, yb in zip(x_eval, y_eval, strict=True):
        out = forward_pass(net, genome, forward, xb)[-1][:, :, 0]
        if n_out == 1:
            pred = (out[:, 0] > 0).astype(np.int64)
            t = np.where(yb == 1, 1.0, -1.0)
            l2 += 0.5 * ((out[:, 0] - t) ** 2).sum()
            ce += np.logaddexp(0.0, -t * out[:, 0]).sum()
        else:
            pred = out.argmax(axis=1)
            t = np.where(yb[:, None] == np.arange(n_out), 1.0, -1.0)
            l2 += 0.5 * ((out - t) ** 2).sum()
            top = out.max(axis=1)
            lse = top + np.log(np.exp(out - top[:, None]).sum(axis=1))
            ce += (lse - out[np.arange(len(yb)), yb]).sum()
        correct += (pred == yb).sum()
        count += len(yb)
    return correct / count, l2 / count, ce / count


def unroll(
    net: NetworkSpec,
    genome: np.ndarray | Genome,
    forward: list[np.ndarray],
    backward: list[np.ndarray] | None,
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_eval: np.ndarray | None = None,
    y_eval: np.ndarray | None = None,
    record_curve: bool = False,
) -> TrainResult:
    """SPEC §6: T learning steps on x_train (T, B, n0) with targets t_train (T, B, nL),
    then evaluation. Stops early, flagged diverged, when a synapse turns NaN or infinite."""
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    forward = [w.copy() for w in forward]
    backward = None if backward is None else [v.copy() for v in backward]
    steps = x_train.shape[0]
    curve = np.full(steps, np.nan) if record_curve else None
    diverged, done = False, 0
    for step in range(steps):
        forward, backward, _ = learning_step(
            net, genome, forward, backward, x_train[step], t_train[step]
        )
        done = step + 1
        if not all(np.isfinite(w).all() for w in forward + (backward or [])):
            diverged = True
            break
        if record_curve and x_eval is not None:
            curve[step] = evaluate(net, genome, forward, x_eval, y_eval)[0]
    acc = l2 = ce = float("nan")
    if x_eval is not None and not diverged:
        acc, l2, ce = evaluate(net, genome, forward, x_eval, y_eval)
        if not np.isfinite(l2):
            diverged, acc = True, float("nan")
    return TrainResult(acc, l2, ce, diverged, done, curve, forward=forward, backward=backward)
