"""Task transforms and the procedural tabular family (issue 12 item 4): a fixed random
projection, a fixed feature permutation and input noise on stored tasks, drawn from the
task seed; make_classification tasks whose shape the seed draws."""

from __future__ import annotations

import numpy as np
import pytest

from blgnn_es.config.settings import load_config_text
from blgnn_es.errors import ConfigError
from blgnn_es.es.driver import make_plans
from blgnn_es.evaluation import draw_samples, split_training
from blgnn_es.tasks import load_task, parse_task_spec
from blgnn_es.tasks.seeds import seed_sequence
from blgnn_es.tasks.tabular import TABULAR_RANGES
from tests.conftest import tiny_toml


def _first_draw(spec: str, seed: int, n: int = 50):
    return load_task(spec, seed).sample_train(np.random.default_rng(7), n)


def test_a_projection_is_a_fixed_gaussian_matrix_of_the_task_seed():
    x, y = _first_draw("digits", 3)
    xp, yp = _first_draw("digits:project=16", 3)
    rng = np.random.default_rng(seed_sequence(3, "digits", "project"))
    matrix = (rng.standard_normal((64, 16)) / np.sqrt(64)).astype(np.float32)
    assert xp.shape == (50, 16) and xp.dtype == np.float32 and np.array_equal(y, yp)
    np.testing.assert_allclose(xp, x @ matrix, rtol=1e-5, atol=1e-5)
    assert load_task("digits:project=16", 3).n_inputs == 16
    assert np.array_equal(xp, _first_draw("digits:project=16", 3)[0])
    assert not np.allclose(xp, _first_draw("digits:project=16", 4)[0])


def test_a_permutation_reorders_the_features_and_drops_the_picture():
    x, _ = _first_draw("digits", 2)
    xp, _ = _first_draw("digits:permute_features=true", 2)
    order = np.random.default_rng(seed_sequence(2, "digits", "permute_features")).permutation(64)
    assert np.array_equal(xp, x[:, order]) and not np.array_equal(xp, x)
    assert load_task("digits", 2).image_side == 8
    assert load_task("digits:permute_features=true", 2).image_side is None


def test_input_noise_is_gaussian_with_the_given_std():
    x, y = _first_draw("digits", 0, n=1000)
    xn, yn = _first_draw("digits:input_noise=0.5", 0, n=1000)
    assert np.array_equal(y, yn)
    assert abs(float((xn - x).std()) - 0.5) < 0.01 and abs(float((xn - x).mean())) < 0.01
    task = load_task("digits:input_noise=0.5", 0)
    assert np.array_equal(task.test_split()[0], task.test_split()[0])  # a fixed noise


def test_the_held_out_part_of_a_transformed_task_is_transformed_too():
    task = load_task("digits:project=12,input_noise=0.1", 1)
    rest, validation = split_training(task, 0.2, 0)
    assert rest.n_inputs == 12 and rest.transform is task.transform
    x_val, y_val = validation(np.random.default_rng(0), 30)
    assert x_val.shape == (30, 12) and len(y_val) == 30


def test_tabular_tasks_draw_their_shape_from_the_seed():
    shapes = set()
    for seed in range(12):
        task = load_task("tabular", seed)
        low, high = TABULAR_RANGES["features"]
        assert low <= task.n_inputs <= high
        low, high = TABULAR_RANGES["n_classes"]
        assert low <= task.n_classes <= high
        x_train, y_train = task.train_split()
        assert np.allclose(x_train.mean(axis=0), 0, atol=1e-4)
        assert np.allclose(x_train.std(axis=0), 1, atol=1e-3)
        assert len(y_train) + len(task.test_split()[1]) == 1000
        assert set(np.unique(y_train)) == set(range(task.n_classes))
        shapes.add((task.n_inputs, task.n_classes))
    assert len(shapes) > 3
    fixed = load_task("tabular:features=9,n_classes=3,samples=300,separation=1.5", 5)
    assert (fixed.n_inputs, fixed.n_classes) == (9, 3)
    assert parse_task_spec("tabular:n_classes=3").n_classes == 3
    assert parse_task_spec("tabular").n_classes is None
    again = load_task("tabular", 4).train_split()[0]
    assert np.array_equal(again, load_task("tabular", 4).train_split()[0])
    assert load_task("tabular:project=5", 4).n_inputs == 5


@pytest.mark.parametrize(("name", "features", "classes", "examples"), [
    ("iris", 4, 3, 150), ("wine", 13, 3, 178), ("breast-cancer", 30, 2, 569)])
def test_the_bundled_tables_are_standardized_and_split_once(name, features, classes, examples):
    task = load_task(name, 3)
    (x_train, y_train), (_, y_test) = task.train_split(), task.test_split()
    assert (task.n_inputs, task.n_classes) == (features, classes)
    assert len(y_train) + len(y_test) == examples
    assert abs(len(y_test) - 0.2 * examples) <= classes
    assert np.allclose(x_train.mean(axis=0), 0, atol=1e-4)
    assert np.array_equal(load_task(name, 9).test_split()[1], y_test)  # one split
    assert parse_task_spec(name).n_classes == classes


def test_a_mix_of_transformed_and_tabular_tasks_draws_a_network_per_sample():
    text = tiny_toml("mix", 0).replace('train = ["xor"]',
                                       'train = ["tabular", "digits:project=16"]')
    config = load_config_text(text.replace("eval_batches = 1", "eval_batches = 1\nreplicas = 3"))
    samples = draw_samples(make_plans(config).train, 0)
    inputs = [s.net.layer_sizes[0] for s in samples]
    assert inputs[3:] == [16, 16, 16]
    assert all(s.data.x_train.shape[2] == s.net.layer_sizes[0] for s in samples)


@pytest.mark.parametrize(("spec", "message"), [
    ("digits:project=5000", r"project='5000': expected an integer in \[0, 4096\]"),
    ("mnist:project=-2", r"project='-2'"),
    ("digits:input_noise=20", r"input_noise='20': expected a number in \[0, 10\]"),
    ("digits:rotate_features=true", r"unknown option 'rotate_features' for task 'digits'"),
    ("tabular:samples=5", r"samples='5'"),
])
def test_bad_transforms_are_refused_in_the_config_with_the_key(spec, message):
    text = tiny_toml("bad", 0).replace('train = ["xor"]', f'train = ["{spec}"]')
    with pytest.raises(ConfigError, match=message):
        load_config_text(text, source="bad.toml")
