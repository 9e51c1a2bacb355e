"""The user's own data: file:PATH for .npz and .csv, with every check naming the file."""

import numpy as np
import pytest

from blgnn_es.errors import ConfigError, DataError
from blgnn_es.tasks import draw_unroll, load_task, parse_task_spec


def _blobs(n: int = 200, n_classes: int = 3, features: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    x = rng.normal(size=(n, features)) + y[:, None]
    return x, y


def _npz(tmp_path, name: str = "data.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_npz_without_test_split_is_split_by_class(tmp_path):
    x, y = _blobs()
    path = _npz(tmp_path, X=x, y=y)
    task = load_task(f"file:{path}", seed=0)
    assert task.name == f"file:{path}" and task.kind == "file"
    assert (task.n_inputs, task.n_classes, task.n_outputs) == (4, 3, 3)
    x_train, y_train = task.train_split()
    x_test, y_test = task.test_split()
    assert len(y_train) + len(y_test) == 200
    assert np.array_equal(np.bincount(y_test), [13, 13, 13])  # 20 % of each class
    assert x_train.dtype == np.float32 and y_train.dtype == np.int32
    rows = {row.tobytes() for row in x.astype(np.float32)}
    assert all(row.tobytes() in rows for row in np.concatenate([x_train, x_test]))
    # The split does not depend on the task seed; a wider test_fraction holds out more.
    assert np.array_equal(load_task(f"file:{path}", seed=7).test_split()[1], y_test)
    assert abs(len(load_task(f"file:{path},test_fraction=0.5", seed=0).test_split()[1]) - 100) <= 2


def test_npz_with_test_split_and_square_images(tmp_path):
    x, y = _blobs(features=9)
    x_test, y_test = _blobs(n=30, features=9, seed=1)
    path = _npz(tmp_path, X=x.reshape(-1, 3, 3), y=y, X_test=x_test.reshape(-1, 3, 3),
                y_test=y_test)
    task = load_task(parse_task_spec({"name": "file", "path": str(path)}), seed=0)
    assert task.n_inputs == 9 and task.image_side == 3
    assert np.allclose(task.test_split()[0], x_test) and len(task.train_split()[1]) == 200
    data = draw_unroll(task, seed=3, steps=5, batch=16, eval_batches=None)
    assert data.x_train.shape == (5, 16, 9) and data.x_eval.shape == (1, 30, 9)


def test_file_options_subset_permute_standardize(tmp_path):
    x, y = _blobs(n_classes=4)
    path = _npz(tmp_path, X=x, y=y)
    subset = load_task(f"file:{path},classes=1,3", seed=0)
    assert subset.n_classes == 2 and subset.n_outputs == 1
    assert set(np.unique(subset.train_split()[1])) == {0, 1}
    permuted = load_task(f"file:{path},permute_labels=true", seed=4)
    assert sorted(permuted.label_map) == [0, 1, 2, 3]
    standardized = load_task(f"file:{path},standardize=true", seed=0)
    assert np.allclose(standardized.train_split()[0].mean(axis=0), 0, atol=1e-5)
    with pytest.raises(ConfigError, match="do not exist"):
        load_task(f"file:{path},classes=2-5", seed=0)


def test_csv_with_header_and_label_last(tmp_path):
    x, y = _blobs(n=50, n_classes=2, features=2)
    path = tmp_path / "points.csv"
    lines = ["a,b,label"] + [f"{a},{b},{label}" for (a, b), label in zip(x, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    task = load_task(f"file:{path}", seed=0)
    assert (task.n_inputs, task.n_classes, task.n_outputs) == (2, 2, 1)
    assert len(task.train_split()[1]) + len(task.test_split()[1]) == 50
    headless = tmp_path / "plain.csv"
    headless.write_text("\n".join(lines[1:]))
    assert load_task(f"file:{headless}", seed=0).n_inputs == 2


@pytest.mark.parametrize(
    "arrays, problem",
    [
        ({"X": np.zeros((4, 2))}, r"missing array 'y'.*holds \['X'\]"),
        ({"y": np.zeros(4)}, "missing array 'X'"),
        ({"X": np.array([[0.0, np.nan]] * 4), "y": [0, 1, 0, 1]}, "NaN or infinite.*row 0"),
        ({"X": np.zeros((4, 2)), "y": [0, 1, 2, 5]}, "no example of class 3"),
        ({"X": np.zeros((4, 2)), "y": [0, 1, -1, 1]}, "label -1"),
        ({"X": np.zeros((4, 2)), "y": [0, 1, 0.5, 1]}, "non-integer labels"),
        ({"X": np.zeros((4, 2)), "y": [0, 0, 0, 0]}, "single class"),
        ({"X": np.zeros((5, 2)), "y": [0, 1, 0, 1]}, "X has 5 examples but y has 4"),
        ({"X": np.zeros(4), "y": [0, 1, 0, 1]}, r"X has shape \(4,\)"),
        ({"X": np.array([["a", "b"]] * 4), "y": [0, 1, 0, 1]}, "dtype <U1; expected numbers"),
        ({"X": np.zeros((4, 2)), "y": [0, 1, 0, 1], "X_test": np.zeros((2, 2))},
         "only one of X_test and y_test"),
        ({"X": np.zeros((4, 2)), "y": [0, 1, 0, 1], "X_test": np.zeros((2, 3)),
          "y_test": [0, 1]}, "X_test has 3 features per example, X has 2"),
        ({"X": np.zeros((4, 2)), "y": [0, 1, 0, 1], "X_test": np.zeros((2, 2)),
          "y_test": [0, 2]}, "y_test holds label 2"),
    ],
)
def test_malformed_npz_files_are_reported_by_name(tmp_path, arrays, problem):
    path = _npz(tmp_path, "bad.npz", **arrays)
    with pytest.raises(DataError, match=problem) as caught:
        load_task(f"file:{path}", seed=0)
    assert str(caught.value).startswith(str(path))


@pytest.mark.parametrize(
    "text, problem",
    [
        ("a,b,label\n1,2,0\n3,x,1\n", "not a numeric CSV"),
        ("1,2,0\n3,nan,1\n", "NaN or infinite"),
        ("1,2,0\n3,4\n", "not a numeric CSV"),
        ("0\n1\n", "at least one input column"),
        ("1,2,0\n3,4,1.5\n", "non-integer labels"),
    ],
)
def test_malformed_csv_files_are_reported_by_name(tmp_path, text, problem):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=problem) as caught:
        load_task(f"file:{path}", seed=0)
    assert str(caught.value).startswith(str(path))


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_task(f"file:{tmp_path / 'nothing.npz'}", seed=0)
    other = tmp_path / "data.json"
    other.write_text("{}")
    with pytest.raises(DataError, match="expected .npz or .csv"):
        load_task(f"file:{other}", seed=0)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_task(f"file:{broken}", seed=0)
