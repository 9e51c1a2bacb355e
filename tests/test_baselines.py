"""Baselines: gradient descent and feedback alignment equal to independent NumPy, SGD equal
to BLUR's exact backprop case (SPEC §4), all tuned on validation data only."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from blgnn_es.baselines.gradient import (
    Mlp,
    Probe,
    SeedDraw,
    default_rates,
    feedback_weights,
    initial_weights,
    mlp_for,
    sweep,
    train_rates,
)
from blgnn_es.errors import ConfigError
from blgnn_es.evaluation import split_training
from blgnn_es.learner import run_unroll, train
from blgnn_es.model.genome import backprop_genome
from blgnn_es.model.network import NetworkSpec, backprop_network


def reference_descent(weights, x_batches, labels, lr, optimizer):
    """Textbook minibatch descent on the mean softmax cross-entropy, relu∘tanh hidden units;
    weights (n + 1, n') with the bias row last. Shares no code with the package."""
    weights = [w.copy() for w in weights]
    first = [np.zeros_like(w) for w in weights]
    second = [np.zeros_like(w) for w in weights]
    for step, (x, y) in enumerate(zip(x_batches, labels, strict=True), start=1):
        inputs, pres = [], []
        a = x
        for layer, w in enumerate(weights):
            inputs.append(np.hstack([a, np.ones((len(a), 1))]))
            z = inputs[-1] @ w
            pres.append(z)
            a = np.maximum(np.tanh(z), 0.0) if layer < len(weights) - 1 else z
        p = np.exp(a - a.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        delta = (p - np.eye(a.shape[1])[y]) / len(x)
        grads = [None] * len(weights)
        for layer in range(len(weights) - 1, -1, -1):
            grads[layer] = inputs[layer].T @ delta
            if layer:
                z = pres[layer - 1]
                delta = (delta @ weights[layer][:-1].T) * (z > 0) * (1 - np.tanh(z) ** 2)
        for layer, g in enumerate(grads):
            if optimizer == "sgd":
                weights[layer] -= lr * g
            elif optimizer == "momentum":
                first[layer] = 0.9 * first[layer] + g
                weights[layer] -= lr * first[layer]
            else:
                first[layer] = 0.9 * first[layer] + 0.1 * g
                second[layer] = 0.999 * second[layer] + 0.001 * g**2
                m = first[layer] / (1 - 0.9**step)
                v = second[layer] / (1 - 0.999**step)
                weights[layer] -= lr * m / (np.sqrt(v) + 1e-8)
    return weights


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_optimizers_equal_independent_numpy(optimizer):
    sizes, rates = (5, 7, 6, 4), [0.003, 0.1, 0.7]
    rng = np.random.default_rng(11)
    x = rng.normal(size=(12, 9, sizes[0]))
    y = rng.integers(0, sizes[-1], (12, 9))
    net = NetworkSpec(sizes, dtype="float64")
    start = initial_weights(net, 4)
    run = train_rates(mlp_for(net), optimizer, rates, start, x, y)
    for index, lr in enumerate(rates):
        expected = reference_descent(start, x, y, lr, optimizer)
        for got, want in zip(run.final_weights(index), expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert max(np.abs(w - s).max() for w, s in zip(run.final_weights(2), start, strict=True)) > 1e-2


def test_inputs_with_zero_columns_equal_independent_numpy():
    """MNIST-like inputs: whole columns of a batch are 0, and probes at 0 and later steps."""
    sizes, rates = (12, 7, 4), [0.01, 0.2, 0.9]
    rng = np.random.default_rng(13)
    x = rng.uniform(0, 1, (10, 9, sizes[0]))
    x[x < 0.5] = 0
    x[:, :, :5] = 0  # blank border pixels
    x[3, :, 5:9] = 0  # and some only in one batch
    y = rng.integers(0, sizes[-1], (10, 9))
    net = NetworkSpec(sizes, dtype="float64")
    start = initial_weights(net, 2)
    x_val, y_val = x.reshape(-1, sizes[0]), y.reshape(-1)
    for optimizer in ("sgd", "momentum", "adam"):
        run = train_rates(
            mlp_for(net), optimizer, rates, start, x, y, [Probe(x_val, y_val, (0, 4, 10))]
        )
        for index, lr in enumerate(rates):
            expected = reference_descent(start, x, y, lr, optimizer)
            for got, want in zip(run.final_weights(index), expected, strict=True):
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
            z = np.maximum(np.tanh(np.hstack([x_val, np.ones((len(x_val), 1))]) @ expected[0]), 0)
            guess = (np.hstack([z, np.ones((len(z), 1))]) @ expected[1]).argmax(axis=1)
            assert run.accuracy[0][index, 2] == np.mean(guess == y_val)
        assert np.all(run.accuracy[0][:, 0] == run.accuracy[0][0, 0])  # one start


def test_probe_columns_measure_the_same_networks_and_diverged_rates_stay_frozen():
    net, draws = _draws(seeds=1)
    mlp, d = Mlp(net.layer_sizes, "relu", "identity", "mse", "float64"), draws[0]
    rates = [0.01, 1e6, 0.3]
    steps = (0, 1, 7, 20)
    full = train_rates(mlp, "momentum", rates, d.start, d.x_train, d.y_train,
                       [Probe(d.x_test, d.y_test, steps)])
    some = train_rates(mlp, "momentum", rates, d.start, d.x_train, d.y_train,
                       [Probe(d.x_test, d.y_test, steps, (2, 0))])
    np.testing.assert_array_equal(some.accuracy[0], full.accuracy[0][[2, 0]])
    assert full.diverged.tolist() == [False, True, False]
    assert all(not w.any() for w in full.final_weights(1))  # frozen at 0
    assert full.accuracy[0][1, 2:].tolist() == [0.0, 0.0]  # diverged by step 7
    assert len(set(full.accuracy[0][:, 0])) == 1 and full.accuracy[0][0, -1] > 0.8


def reference_feedback_alignment(weights, feedback, x_batches, labels, lr):
    """Lillicrap et al. (2016): SGD on the mean softmax cross-entropy whose hidden errors come
    back through fixed matrices B (one per hidden layer, (n_out, n_in)) instead of Wᵀ; one
    network, plain loops. Shares no code with the package."""
    weights = [w.copy() for w in weights]
    for x, y in zip(x_batches, labels, strict=True):
        inputs, pres, a = [], [], x
        for layer, w in enumerate(weights):
            inputs.append(np.hstack([a, np.ones((len(a), 1))]))
            pres.append(inputs[-1] @ w)
            a = np.maximum(np.tanh(pres[-1]), 0.0) if layer < len(weights) - 1 else pres[-1]
        p = np.exp(a - a.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        delta = (p - np.eye(a.shape[1])[y]) / len(x)
        updates = []
        for layer in range(len(weights) - 1, -1, -1):
            updates.append((layer, inputs[layer].T @ delta))
            if layer:
                z = pres[layer - 1]
                delta = (delta @ feedback[layer - 1]) * (z > 0) * (1 - np.tanh(z) ** 2)
        for layer, g in updates:
            weights[layer] -= lr * g
    return weights


def test_feedback_alignment_equals_independent_numpy_and_is_not_backprop():
    sizes, rates = (5, 7, 6, 4), [0.01, 0.3]
    rng = np.random.default_rng(12)
    x = rng.normal(size=(15, 9, sizes[0]))
    y = rng.integers(0, sizes[-1], (15, 9))
    net = NetworkSpec(sizes, dtype="float64", tied=True)
    start, feedback = initial_weights(net, 4), feedback_weights(net, 4)
    assert [b.shape for b in feedback] == [(6, 7), (4, 6)]
    run = train_rates(mlp_for(net), "fa", rates, start, x, y, feedback=feedback)
    for index, lr in enumerate(rates):
        expected = reference_feedback_alignment(start, feedback, x, y, lr)
        for got, want in zip(run.final_weights(index), expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    sgd = train_rates(mlp_for(net), "sgd", rates, start, x, y)  # fa is not backprop
    assert np.abs(run.final_weights(1)[0] - sgd.final_weights(1)[0]).max() > 1e-3
    with pytest.raises(ConfigError, match="feedback alignment needs"):
        train_rates(mlp_for(net), "fa", rates, start, x, y)


def test_feedback_is_the_untied_networks_initial_backward_synapses():
    untied = NetworkSpec((3, 5, 4, 2), states=2, tied=False)
    tied = NetworkSpec((3, 5, 4, 2), states=2, tied=True)
    forward, backward = untied.init_weights(9)
    for mine, theirs in zip(feedback_weights(tied, 9), backward[1:], strict=True):
        np.testing.assert_array_equal(mine, theirs[:, :, 0])
    for w_tied, w_untied in zip(tied.init_weights(9)[0], forward, strict=True):
        np.testing.assert_array_equal(w_tied, w_untied)  # same start for every baseline
    start = initial_weights(tied, 9)
    assert not np.allclose(feedback_weights(tied, 9)[0], start[1][:-1].T)  # not Wᵀ


def test_blur_cannot_hold_backward_synapses_fixed_under_the_backprop_genome():
    """Why fa is its own baseline: untied, the backprop genome moves V as well as W (its
    ν̃, μ̃, f̃, η̃ update both), so no genome is feedback alignment."""
    sizes, steps, batch = (6, 9, 7, 3), 5, 16
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (steps, batch, sizes[0]))
    targets = np.eye(sizes[-1])[rng.integers(0, sizes[-1], (steps, batch))]
    net = NetworkSpec.from_dict({**backprop_network(sizes).to_dict(), "tied": False,
                                 "shared_states": False})
    forward, backward = net.init_weights(5)
    result = train(backprop_genome(0.5), net, x, targets, weights=(forward, backward))
    moved = max(np.abs(new - old).max() for new, old in zip(result.backward[1:], backward[1:],
                                                             strict=True))
    assert moved > 1e-3


def test_start_is_channel_zero_of_blur_synapses():
    net = NetworkSpec((3, 4, 2), states=3)
    forward, _ = net.init_weights(9)
    for mine, theirs in zip(initial_weights(net, 9), forward, strict=True):
        np.testing.assert_array_equal(mine, theirs[:, :, 0])


def test_backprop_genome_curve_and_weights_equal_sgd():
    """SPEC §4's exact setting: BLUR with the backprop genome is SGD on the MSE with sigmoid
    units and 0/1 targets, so the baseline at the same rate has the same weights and the
    same test curve."""
    sizes, steps, batch, lr = (6, 9, 7, 3), 40, 16, 0.5
    rng = np.random.default_rng(2021)
    x = rng.uniform(0, 1, (steps, batch, sizes[0]))
    labels = rng.integers(0, sizes[-1], (steps, batch))
    x_test, y_test = rng.uniform(0, 1, (300, sizes[0])), rng.integers(0, sizes[-1], 300)
    net = backprop_network(sizes, dtype="float64")
    forward, _ = net.init_weights(5)
    targets = np.eye(sizes[-1])[labels]
    blur = train(
        backprop_genome(lr),
        net,
        x,
        targets,
        weights=(forward, None),
        x_eval=x_test,
        y_eval=y_test,
        record_curve=True,
    )
    curve = run_unroll(
        backprop_genome(lr),
        net,
        x,
        targets,
        x_test,
        y_test,
        weights=(forward, None),
        record_curve=True,
    ).curve

    mlp = mlp_for(net, loss="mse")
    assert (mlp.hidden_activation, mlp.output_activation) == ("sigmoid", "sigmoid")
    run = train_rates(
        mlp,
        "sgd",
        [lr],
        initial_weights(net, 5),
        x,
        labels,
        [Probe(x_test, y_test, tuple(range(1, steps + 1)))],
    )
    for got, want in zip(run.final_weights(0), blur.forward, strict=True):
        np.testing.assert_allclose(got, want[:, :, 0], rtol=0, atol=1e-10)
    np.testing.assert_array_equal(run.accuracy[0][0], blur.curve)
    np.testing.assert_array_equal(run.accuracy[0][0], curve)
    assert blur.curve.max() - blur.curve.min() > 0.02  # the curve moves: not vacuous


def _draws(seeds=3, flip_validation=False):
    """Binary toy draws whose validation set is the test set with labels flipped (when
    asked): validation and test then disagree about every rate."""
    rng = np.random.default_rng(7)
    net = NetworkSpec((2, 8, 1), dtype="float64")
    draws = []
    for seed in range(seeds):
        x = rng.uniform(-1, 1, (20, 16, 2))
        y = (x[..., 0] > 0).astype(np.int64)
        x_test = rng.uniform(-1, 1, (200, 2))
        y_test = (x_test[:, 0] > 0).astype(np.int64)
        y_val = 1 - y_test if flip_validation else y_test
        draws.append(SeedDraw(initial_weights(net, seed), x, y, x_test, y_val, x_test, y_test))
    return net, draws


def test_rate_is_chosen_on_validation_never_on_test():
    net, draws = _draws(flip_validation=True)
    mlp, rates, budgets = mlp_for(net), default_rates(7, 1e-3, 1.0), (5, 20)
    result = sweep(mlp, "sgd", rates, draws, budgets)
    # the test split's own favourite at the last budget
    test_by_rate = np.mean(
        [
            train_rates(
                mlp, "sgd", rates, d.start, d.x_train, d.y_train, [Probe(d.x_test, d.y_test, (20,))]
            ).accuracy[0][:, 0]
            for d in draws
        ],
        axis=0,
    )
    # the two splits disagree, and validation wins
    assert test_by_rate.argmax() != result.chosen[-1]
    assert result.chosen[-1] == result.validation.mean(axis=0)[:, -1].argmax()
    np.testing.assert_allclose(result.test[:, -1].mean(), test_by_rate[result.chosen[-1]])
    # and the test labels cannot move the choice: scramble them, the choice stays
    scrambled = [
        SeedDraw(
            d.start,
            d.x_train,
            d.y_train,
            d.x_validation,
            d.y_validation,
            d.x_test,
            np.random.default_rng(1).integers(0, 2, len(d.y_test)),
        )
        for d in draws
    ]
    np.testing.assert_array_equal(
        sweep(mlp, "sgd", rates, scrambled, budgets).chosen, result.chosen
    )


def test_sweep_reports_each_budget_at_its_own_rate():
    net, draws = _draws()
    result = sweep(mlp_for(net), "adam", default_rates(5, 1e-3, 1.0), draws, (1, 5, 20))
    assert result.test.shape == (3, 3) and result.validation.shape == (3, 5, 3)
    for k, budget in enumerate(result.budgets):
        if result.chosen[k] == result.chosen[-1]:
            np.testing.assert_array_equal(result.test[:, k], result.curve[:, budget - 1])
    assert result.test[:, -1].mean() > 0.85  # a linear rule is learnt


def test_each_seed_trains_its_own_network_when_shapes_differ():
    """A family that draws its shape per seed (tabular): every seed's rates run on its own
    network, exactly as that seed trained alone, and the rate is chosen over all seeds."""
    rng = np.random.default_rng(3)
    draws, alone = [], []
    for seed, (n_in, n_out) in enumerate([(2, 2), (5, 3)]):
        net = NetworkSpec((n_in, 6, n_out), dtype="float64")
        x = rng.normal(size=(8, 16, n_in))
        y = (x[..., 0] > 0).astype(np.int64) + (n_out == 3) * (x[..., 1] > 1)
        x_val = rng.normal(size=(64, n_in))
        y_val = (x_val[:, 0] > 0).astype(np.int64)
        draw = SeedDraw(initial_weights(net, seed), x, y, x_val, y_val, x_val, y_val,
                        mlp=None if seed == 0 else mlp_for(net))
        draws.append(draw)
        alone.append(train_rates(mlp_for(net), "sgd", [0.1, 1.0], draw.start, x, y,
                                 [Probe(x_val, y_val, (4, 8))]).accuracy[0])
    first = mlp_for(NetworkSpec((2, 6, 2), dtype="float64"))
    result = sweep(first, "sgd", [0.1, 1.0], draws, (4, 8))
    np.testing.assert_array_equal(result.validation, np.array(alone))
    assert result.chosen.tolist() == np.array(alone).mean(axis=0).argmax(axis=0).tolist()
    with pytest.raises(ConfigError, match="expected"):  # without its own network it fails
        sweep(first, "sgd", [0.1], [replace(draws[1], mlp=None)], (4,))


def test_divergence_is_counted_and_scored_zero():
    net, draws = _draws(seeds=1)
    mlp = Mlp(net.layer_sizes, "relu", "identity", "mse", "float64")
    d = draws[0]
    run = train_rates(
        mlp, "sgd", [0.01, 1e6], d.start, d.x_train, d.y_train, [Probe(d.x_test, d.y_test, (20,))]
    )
    assert run.diverged.tolist() == [False, True]
    assert run.accuracy[0][1, 0] == 0.0 and run.accuracy[0][0, 0] > 0.5


def test_validation_examples_are_held_out_of_training(tmp_path):
    from blgnn_es.tasks import draw_unroll, load_task

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3)).astype(np.float32)
    x[:, 0] = np.arange(400)  # an id per example
    path = tmp_path / "data.npz"
    np.savez(path, X=x, y=(np.arange(400) % 3))
    task = load_task(f"file:{path}", seed=0)
    trained_on, validation = split_training(task, 0.1, seed=5)
    x_val, y_val = validation(np.random.default_rng(1), None)
    batches = draw_unroll(trained_on, 3, steps=50, batch=32, eval_batches=2)
    seen = set(batches.x_train[..., 0].ravel().tolist())
    held = set(x_val[:, 0].tolist())
    assert len(held) == len(y_val) >= 28 and not seen & held
    test_ids = set(task.test_split()[0][:, 0].tolist())
    assert not held & test_ids  # validation comes from the training split, not the test split
