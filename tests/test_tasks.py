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
from blgnn_es.tasks.toy import TEST_POINTS, TOY_RULES

TOY_FAMILIES = sorted(TOY_RULES)


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
                            "permute_labels": False, "standardize": False}
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
    assert set(TOY_FAMILIES) | {"mnist", "fashion-mnist", "digits", "file"} == set(families)
    name, kind, options, shapes = families["mnist"]
    assert (kind, options["resolution"], options["classes"]) == ("image", 28, None)
    assert "784" in shapes
    assert families["xor"].options == {"noise": 0.0, "rotate": True}
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
