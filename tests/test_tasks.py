"""Task specs, seeds, the 2-D toy families and draw_unroll (no data files needed)."""

import pickle

import numpy as np
import pytest

from blgnn_es.errors import ConfigError
from blgnn_es.tasks import (
    TaskSpec,
    derive_seed,
    draw_unroll,
    list_task_families,
    load_task,
    parse_task_spec,
)
from blgnn_es.tasks.toy import PAPER_TASKS, TEST_POINTS, TOY_RULES

TOY_FAMILIES = sorted(TOY_RULES)
PAPER_FAMILIES = sorted(PAPER_TASKS)


# --- spec strings and tables ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("xor", "xor"),
        ("XOR:noise=0,rotate=yes", "xor"),
        ("two-moons:noise=0.10,rotate=false", "two-moons:noise=0.1,rotate=false"),
        ("mnist:resolution=14", "mnist:resolution=14"),
        ("mnist:resolution=10,classes=0-4", "mnist:resolution=10,classes=0-4"),
        ("mnist:classes=0,3,7,resolution=14", "mnist:resolution=14,classes=0,3,7"),
        ("fashion-mnist:classes=7,5,6,8,permute_labels=1", "fashion-mnist:classes=5-8,"
         "permute_labels=true"),
        ("digits:classes=0,1,2,5,standardize=true", "digits:classes=0-2,5,standardize=true"),
        ("PAPER-Circles", "paper-circles"),
        ("paper-blobs5:noise=0.10", "paper-blobs5:noise=0.1"),
        ("file:data/my.npz", "file:data/my.npz"),
        ("file:data/a,b.csv,test_fraction=0.3", "file:data/a,b.csv,test_fraction=0.3"),
    ],
)
def test_spec_strings_have_one_canonical_form_that_round_trips(text, canonical):
    spec = parse_task_spec(text)
    assert str(spec) == canonical
    assert parse_task_spec(str(spec)) == spec
    assert hash(parse_task_spec(canonical)) == hash(spec)
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert parse_task_spec(spec.to_dict()) == spec


def test_commas_inside_a_value_continue_it():
    spec = parse_task_spec("mnist:classes=0,3,7,resolution=14")
    assert spec.options["classes"] == (0, 3, 7)
    assert spec.options["resolution"] == 14
    assert parse_task_spec("file:data/a,b.npz,standardize=true").options["path"] == "data/a,b.npz"


def test_table_form_equals_string_form_and_fills_defaults():
    table = {"name": "mnist", "resolution": 14, "classes": "0-4"}
    spec = parse_task_spec(table)
    assert spec == parse_task_spec("mnist:resolution=14,classes=0-4")
    assert spec.options == {"resolution": 14, "classes": (0, 1, 2, 3, 4),
                            "permute_labels": False, "standardize": False, "project": 0,
                            "permute_features": False, "input_noise": 0.0}
    assert parse_task_spec({"name": "mnist", "classes": [0, 3, 7]}).options["classes"] == (0, 3, 7)
    assert TaskSpec("xor", {}) == parse_task_spec("xor:rotate=true")
    with pytest.raises(TypeError):
        spec.options["resolution"] = 28  # read-only


def test_unknown_names_and_keys_list_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown task 'mnst'.*xor.*two-moons.*mnist.*file"):
        parse_task_spec("mnst")
    with pytest.raises(ConfigError, match="unknown option 'size'.*noise, rotate"):
        parse_task_spec("xor:size=3")
    with pytest.raises(ConfigError, match="resolution, classes, permute_labels, standardize"):
        parse_task_spec({"name": "mnist", "colour": True})
    with pytest.raises(ConfigError, match="no 'name'"):
        parse_task_spec({"resolution": 14})


@pytest.mark.parametrize(
    "text, problem",
    [
        ("xor:noise=0.7", r"noise=.*in \[0, 0.5\]"),
        ("xor:noise=lots", "a number"),
        ("xor:rotate=maybe", "true or false"),
        ("mnist:resolution=14.5", "an integer"),
        ("mnist:resolution=1", "an integer in"),
        ("mnist:classes=3", "at least 2 classes"),
        ("mnist:classes=4-2", "empty range"),
        ("mnist:classes=a-b", "range like 0-4"),
        ("xor:noise=0.1,noise=0.2", "given twice"),
        ("xor:0.1", "not key=value"),
        ("file", "needs a path"),
    ],
)
def test_bad_option_values_are_config_errors(text, problem):
    with pytest.raises(ConfigError, match=problem):
        parse_task_spec(text)


def test_list_task_families_covers_every_family_with_defaults():
    families = {info.name: info for info in list_task_families()}
    assert set(TOY_FAMILIES) | set(PAPER_FAMILIES) | {"mnist", "fashion-mnist", "digits",
                                                      "file", "tabular", "iris", "wine",
                                                      "breast-cancer"} == set(families)
    name, kind, options, shapes = families["mnist"]
    assert (kind, options["resolution"], options["classes"]) == ("image", 28, None)
    assert "784" in shapes
    assert families["xor"].options == {"noise": 0.0, "rotate": True}
    assert families["paper-xor"].options == {"noise": 0.0}  # fixed rules: nothing to rotate
    assert families["digits"].options["resolution"] == 8


# --- seeds ----------------------------------------------------------------------------------


def test_derive_seed_is_pure_and_separates_streams():
    seed = derive_seed(7, 3, 2, replica=1, purpose="synapses")
    assert seed == derive_seed(7, 3, 2, 1, "synapses")
    assert isinstance(seed, int) and 0 <= seed < 2**63
    variants = {
        derive_seed(7, 3, 2, 1, purpose)
        for purpose in ("task", "synapses", "batches")
    } | {derive_seed(8, 3, 2, 1, "synapses"), derive_seed(7, 4, 2, 1, "synapses"),
         derive_seed(7, 3, 3, 1, "synapses"), derive_seed(7, 3, 2, 0, "synapses")}
    assert len(variants) == 7
    assert derive_seed(0, 0, 0) == derive_seed(0, 0, 0, 0, "batches")
    with pytest.raises(ValueError):
        derive_seed(-1, 0, 0)
    with pytest.raises(ValueError):
        derive_seed(0, 0, 0, purpose="")


# --- toy families ---------------------------------------------------------------------------


@pytest.mark.parametrize("family", TOY_FAMILIES)
@pytest.mark.parametrize("rotate", [True, False])
def test_toy_families_are_balanced(family, rotate):
    for seed in range(4):
        task = load_task(f"{family}:rotate={rotate}", seed)
        _, labels = task.sample_train(np.random.default_rng(seed + 100), 4000)
        shares = np.bincount(labels, minlength=task.n_classes) / len(labels)
        assert np.all(np.abs(shares - 1 / task.n_classes) < 0.1), (seed, shares)


@pytest.mark.parametrize("family", TOY_FAMILIES)
def test_toy_tasks_are_seed_determined_and_differ_across_seeds(family):
    task = load_task(family, seed=5)
    again = load_task(family, seed=5)
    x, y = task.sample_train(np.random.default_rng(1), 500)
    x_again, y_again = again.sample_train(np.random.default_rng(1), 500)
    assert np.array_equal(x, x_again) and np.array_equal(y, y_again)
    assert np.array_equal(task.test_split()[1], again.test_split()[1])

    labellings = [load_task(family, seed).sample_test(np.random.default_rng(2), 2000)[1]
                  for seed in range(4)]
    disagreements = [np.mean(labellings[i] != labellings[j])
                     for i in range(4) for j in range(i + 1, 4)]
    assert min(disagreements) > 0.01 and np.mean(disagreements) > 0.1


@pytest.mark.parametrize("family", TOY_FAMILIES)
def test_toy_draws_have_the_documented_types(family):
    task = load_task(family, seed=1)
    assert task.name == family and task.kind == "toy"
    assert task.n_inputs == 2
    assert task.n_classes == (5 if family == "blobs5" else 2)
    assert task.n_outputs == (5 if family == "blobs5" else 1)
    for x, y in (task.sample_train(np.random.default_rng(0), 33),
                 task.sample_test(np.random.default_rng(0), 33), task.test_split()):
        assert x.dtype == np.float32 and x.flags.c_contiguous and x.shape[1] == 2
        assert y.dtype == np.int32 and y.shape == (len(x),)
        assert x.min() >= -1 and x.max() <= 1
        assert 0 <= y.min() and y.max() < task.n_classes
    assert len(task.test_split()[1]) == TEST_POINTS


@pytest.mark.parametrize("family", ["xor", "blobs5"])
def test_noise_flips_training_labels_only(family):
    noisy = load_task(f"{family}:noise=0.2", seed=3)
    clean = load_task(family, seed=3)
    x, y_noisy = noisy.sample_train(np.random.default_rng(9), 20_000)
    x_clean, y_clean = clean.sample_train(np.random.default_rng(9), 20_000)
    assert np.array_equal(x, x_clean)
    assert abs(np.mean(y_noisy != y_clean) - 0.2) < 0.02
    assert np.array_equal(noisy.test_split()[1], clean.test_split()[1])


# --- the authors' func2d tasks -------------------------------------------------------------

PAPER_DEFINITIONS = {  # func2d.py, written out again from the paper's code
    "paper-xor": lambda a, b: np.sign(a * b) == 1,
    "paper-nxor": lambda a, b: -np.sign(a * b) == 1,
    "paper-and": lambda a, b: np.logical_and(a > 0, b > 0),
    "paper-or": lambda a, b: np.logical_or(a > 0, b > 0),
    "paper-qand": lambda a, b: np.logical_and(a < 0, b > 0),
    "paper-cross": lambda a, b: (np.abs(a) < 0.3) | (np.abs(b) < 0.3),
    "paper-triangle": lambda a, b: (a + b < 1) & (-a + b < 1) & (b > -0.5),
    "paper-pie-slice": lambda a, b: (-0.78 <= np.arctan2(b, a)) & (np.arctan2(b, a) <= 0.78),
}


@pytest.mark.parametrize("family", sorted(PAPER_DEFINITIONS))
def test_paper_labels_follow_their_definition_on_uniform_inputs(family):
    for seed in (0, 7):
        task = load_task(family, seed)
        x, y = task.sample_train(np.random.default_rng(seed), 5000)
        assert x.min() >= -1 and x.max() <= 1 and abs(x.mean()) < 0.05  # uniform on the square
        np.testing.assert_array_equal(y, PAPER_DEFINITIONS[family](x[:, 0], x[:, 1]))
    probes = np.array([[0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5], [0.5, -0.5], [0.0, 0.9],
                       [0.8, 0.1], [0.1, -0.7]], dtype=np.float32)
    assert load_task(family).rule(probes).tolist() == {
        "paper-xor": [1, 0, 1, 0, 0, 1, 0], "paper-nxor": [0, 1, 0, 1, 0, 0, 1],
        "paper-and": [1, 0, 0, 0, 0, 1, 0], "paper-or": [1, 1, 0, 1, 1, 1, 1],
        "paper-qand": [0, 1, 0, 0, 0, 0, 0], "paper-cross": [0, 0, 0, 0, 1, 1, 1],
        "paper-triangle": [0, 0, 0, 0, 1, 1, 0], "paper-pie-slice": [0, 0, 0, 0, 0, 1, 0],
    }[family]


def test_paper_tasks_keep_their_imbalance():
    shares = {family: load_task(family).test_split()[1].mean() for family in PAPER_DEFINITIONS}
    assert abs(shares["paper-and"] - 0.25) < 0.03 and abs(shares["paper-or"] - 0.75) < 0.03
    assert abs(shares["paper-pie-slice"] - 0.25) < 0.03  # [-0.78, 0.78] of the square: 0.2495


def test_paper_circle_is_drawn_from_the_task_seed():
    def inside(seed):
        return load_task("paper-circles", seed).sample_test(np.random.default_rng(3), 4000)

    (x, first), (_, again), (_, other) = inside(4), inside(4), inside(5)
    assert np.array_equal(first, again) and np.mean(first != other) > 0.01
    for seed in range(20):  # every circle: a centre in the square and a radius in [0.2, 0.7]
        x, y = load_task("paper-circles", seed).sample_test(np.random.default_rng(0), 20_000)
        area = y.mean() * 4  # an upper bound on pi r^2 (part of the disc may lie outside)
        assert 0 < area <= np.pi * 0.7**2 + 0.05
        inner = x[y == 1]
        centre, reach = inner.mean(axis=0), np.hypot(*(inner - inner.mean(axis=0)).T).max()
        assert np.all(np.abs(centre) <= 1) and reach <= 2 * 0.7 + 0.01


def test_paper_moons_and_blobs_are_drawn_around_their_shapes():
    moons = load_task("paper-two-moons", 0)
    x, y = moons.sample_train(np.random.default_rng(1), 20_000)
    assert abs(y.mean() - 0.5) < 0.02
    # undo func2d's rescaling: the outer moon is the upper unit half circle, noise std 0.1
    raw = np.stack([(x[:, 0] + 1) * 1.5 - 1, (x[:, 1] + 1) * 0.75 - 0.5], axis=1)
    outer = raw[y == 0]
    assert abs(np.hypot(*outer.T).mean() - 1) < 0.02 and outer[:, 1].mean() > 0.5
    inner = raw[y == 1] - [1.0, 0.5]
    assert abs(np.hypot(*inner.T).mean() - 1) < 0.02 and inner[:, 1].mean() < -0.5
    blobs = load_task("paper-blobs5", 2)
    x, y = blobs.sample_train(np.random.default_rng(1), 5000)
    assert blobs.n_classes == 5 and np.bincount(y).tolist() == [1000] * 5
    for label in range(5):
        points = x[y == label]
        assert np.all(np.abs(points.mean(axis=0)) <= 1.01)
        assert np.allclose(points.std(axis=0), 0.1, atol=0.01)
    other = load_task("paper-blobs5", 3).sample_train(np.random.default_rng(1), 5000)[0]
    assert not np.allclose(x, other)


def test_load_task_rejects_bad_seeds():
    with pytest.raises(ValueError):
        load_task("xor", seed=-1)


# --- unroll data ----------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["two-moons", "blobs5", "digits:resolution=6"])
def test_draw_unroll_is_a_pure_function_of_its_seed(spec):
    task = load_task(spec, seed=2)
    data = draw_unroll(task, 11, steps=15, batch=32, eval_batches=4)
    again = draw_unroll(load_task(spec, seed=2), 11, steps=15, batch=32, eval_batches=4)
    other = draw_unroll(task, 12, steps=15, batch=32, eval_batches=4)
    for field in ("x_train", "y_train", "x_eval", "y_eval"):
        assert np.array_equal(getattr(data, field), getattr(again, field))
    assert not np.array_equal(data.x_train, other.x_train)

    n_inputs = task.n_inputs
    assert data.x_train.shape == (15, 32, n_inputs) and data.y_train.shape == (15, 32)
    assert data.x_eval.shape == (4, 32, n_inputs) and data.y_eval.shape == (4, 32)
    assert (data.steps, data.batch) == (15, 32)
    for array, dtype in ((data.x_train, np.float32), (data.y_train, np.int32),
                         (data.x_eval, np.float32), (data.y_eval, np.int32)):
        assert array.dtype == dtype and array.flags.c_contiguous


def test_draw_unroll_whole_test_split():
    task = load_task("circles", seed=0)
    data = draw_unroll(task, 1, steps=3, batch=8, eval_batches=None)
    x_test, y_test = task.test_split()
    assert data.x_eval.shape == (1, TEST_POINTS, 2) and data.y_eval.shape == (1, TEST_POINTS)
    assert np.array_equal(data.x_eval[0], x_test) and np.array_equal(data.y_eval[0], y_test)
    assert data.x_eval.flags.writeable and not x_test.flags.writeable  # a copy of the cache
    with pytest.raises(ValueError):
        draw_unroll(task, 1, steps=3, batch=0)
