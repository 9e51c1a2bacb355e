"""SPEC.md §4: with the backprop genome, BLUR is exactly plain SGD on the MSE."""

from __future__ import annotations

import numpy as np

from blgnn_es.learner import train
from blgnn_es.model.genome import backprop_genome
from blgnn_es.model.network import backprop_network


def sgd_reference(weights, biases, x_batches, y_batches, lr):
    """Plain gradient descent on L = 1/(2B) Σ_b Σ_j (ŷ - y)², sigmoid on every layer.

    Written from the textbook chain rule; shares no code with the package.
    """
    weights = [w.copy() for w in weights]
    biases = [b.copy() for b in biases]
    losses = []
    for x, y in zip(x_batches, y_batches, strict=True):
        activations = [x]
        for w, b in zip(weights, biases, strict=True):
            activations.append(1.0 / (1.0 + np.exp(-(activations[-1] @ w + b))))
        out = activations[-1]
        losses.append(0.5 * np.sum((out - y) ** 2) / len(x))
        delta = (out - y) * out * (1.0 - out) / len(x)
        grads = []
        for layer in range(len(weights) - 1, -1, -1):
            grads.append((activations[layer].T @ delta, delta.sum(axis=0)))
            if layer > 0:
                a = activations[layer]
                delta = (delta @ weights[layer].T) * a * (1.0 - a)
        for layer, (gw, gb) in zip(range(len(weights) - 1, -1, -1), grads, strict=True):
            weights[layer] -= lr * gw
            biases[layer] -= lr * gb
    return weights, biases, losses


def test_backprop_genome_is_sgd_to_1e10():
    sizes, steps, batch, lr = (6, 9, 7, 3), 50, 16, 0.5
    rng = np.random.default_rng(2021)
    x = rng.uniform(0, 1, (steps, batch, sizes[0]))
    labels = rng.integers(0, sizes[-1], (steps, batch))
    targets = np.eye(sizes[-1])[labels]  # 0/1 targets, as the MSE on sigmoids expects

    net = backprop_network(sizes, dtype="float64")
    forward, _ = net.init_weights(5)
    result = train(backprop_genome(lr), net, x, targets, weights=(forward, None))
    assert not result.diverged and result.steps_done == steps

    # the independent run starts from the same numbers: W[:n, :, 0] and the bias row W[n]
    w0 = [w[:-1, :, 0] for w in forward]
    b0 = [w[-1, :, 0] for w in forward]
    w_sgd, b_sgd, losses = sgd_reference(w0, b0, x, targets, lr)

    for layer, w in enumerate(result.forward):
        for channel in range(2):  # shared states: both channels hold the same matrix
            np.testing.assert_allclose(w[:-1, :, channel], w_sgd[layer], rtol=0, atol=1e-10)
            np.testing.assert_allclose(w[-1, :, channel], b_sgd[layer], rtol=0, atol=1e-10)
    # not vacuous: the weights moved far more than the tolerance, and the loss went down
    moved = max(np.abs(a[:-1, :, 0] - b).max() for a, b in zip(result.forward, w0, strict=True))
    assert moved > 1e-2
    assert np.mean(losses[-10:]) < np.mean(losses[:10])


def test_backprop_genome_tracks_sgd_in_float32():
    sizes, steps, batch, lr = (4, 5, 2), 20, 8, 1.0
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (steps, batch, sizes[0]))
    targets = np.eye(2)[rng.integers(0, 2, (steps, batch))]
    net = backprop_network(sizes, dtype="float32")
    forward, _ = net.init_weights(1)
    result = train(backprop_genome(lr), net, x, targets, weights=(forward, None))
    w_sgd, b_sgd, _ = sgd_reference(
        [w[:-1, :, 0].astype(np.float64) for w in forward],
        [w[-1, :, 0].astype(np.float64) for w in forward],
        x,
        targets,
        lr,
    )
    for layer, w in enumerate(result.forward):
        np.testing.assert_allclose(w[:-1, :, 0], w_sgd[layer], atol=1e-4)
        np.testing.assert_allclose(w[-1, :, 0], b_sgd[layer], atol=1e-4)
