"""Image tasks: idx loading from the shared data folder, the decoded cache, resolution,
class subsets, relabelling, standardization, and the missing-data error."""

import gzip
import shutil
import time

import numpy as np
import pytest
from conftest import DATA, NO_DATA, have_data

from blgnn_es.errors import ConfigError, DataError
from blgnn_es.tasks import draw_unroll, images, load_task, store

pytestmark = [pytest.mark.skipif(not have_data(), reason=NO_DATA), pytest.mark.slow]


def _forget_loaded_arrays() -> None:
    store.clear_memo()
    images.clear_memo()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private decoded cache and HOME, so the tests never write into the real home."""
    root = tmp_path_factory.mktemp("blgnn-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(store.CACHE_ENV, str(root / "cache"))
        patch.setenv("HOME", str(root / "home"))
        patch.delenv(store.DATA_ENV, raising=False)
        _forget_loaded_arrays()
        yield root / "cache"
        _forget_loaded_arrays()
    shutil.rmtree(root, ignore_errors=True)  # 440 MB of decoded arrays


@pytest.fixture(scope="module")
def mnist(cache):
    return load_task("mnist", seed=0, data_dir=DATA)


def _raw_split(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The images (n, 28, 28) in [0, 1] and labels, decoded independently of blgnn_es."""
    prefix = "train" if split == "train" else "t10k"
    with gzip.open(DATA / name / f"{prefix}-images-idx3-ubyte.gz") as handle:
        pixels = np.frombuffer(handle.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(DATA / name / f"{prefix}-labels-idx1-ubyte.gz") as handle:
        labels = np.frombuffer(handle.read(), np.uint8, offset=8)
    return pixels / np.float32(255), labels


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_sets_load_with_the_canonical_sizes(cache, name):
    task = load_task(name, seed=0, data_dir=DATA)
    x_train, y_train = task.train_split()
    x_test, y_test = task.test_split()
    assert x_train.shape == (60_000, 784) and x_test.shape == (10_000, 784)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int32
    assert (task.n_inputs, task.n_classes, task.n_outputs) == (784, 10, 10)
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert np.bincount(y_train).sum() == 60_000 and set(np.unique(y_test)) == set(range(10))
    if name == "fashion-mnist":
        assert np.all(np.bincount(y_train) == 6000)
    raw_test, raw_labels = _raw_split(name, "test")
    assert np.allclose(x_test[:50], raw_test[:50].reshape(50, -1))
    assert np.array_equal(y_test, raw_labels)


def test_decoded_cache_makes_the_second_load_fast_and_stays_private(cache, mnist):
    decoded = sorted(path.name for path in (cache / "decoded").glob("*.npy"))
    assert any(name.startswith("mnist-train-images") for name in decoded)
    assert not (cache.parent / "home" / ".cache").exists()

    _forget_loaded_arrays()
    start = time.perf_counter()
    task = load_task("mnist", seed=0, data_dir=DATA)
    x_train, y_train = task.train_split()
    checksum = float(x_train.sum(dtype=np.float64))
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0
    assert checksum > 0 and len(y_train) == 60_000
    assert load_task("mnist", seed=1, data_dir=DATA).arrays is task.arrays  # shared, not copied


def test_resolution_14_is_the_2x2_mean(cache, mnist):
    task = load_task("mnist:resolution=14", seed=0, data_dir=DATA)
    assert task.n_inputs == 196 and task.image_side == 14
    raw = np.asarray(mnist.train_split()[0][:20]).reshape(20, 28, 28)
    expected = raw.reshape(20, 14, 2, 14, 2).mean(axis=(2, 4))
    assert np.allclose(task.train_split()[0][:20].reshape(20, 14, 14), expected, atol=1e-6)


def test_resolution_10_is_the_central_crop_then_2x2_mean(cache, mnist):
    task = load_task("mnist:resolution=10", seed=0, data_dir=DATA)
    assert task.n_inputs == 100
    raw = np.asarray(mnist.test_split()[0][:20]).reshape(20, 28, 28)
    expected = raw[:, 4:24, 4:24].reshape(20, 10, 2, 10, 2).mean(axis=(2, 4))
    assert np.allclose(task.test_split()[0][:20].reshape(20, 10, 10), expected, atol=1e-6)


def test_other_resolutions_resample_by_area(cache, mnist):
    task = load_task("mnist:resolution=9", seed=0, data_dir=DATA)
    x = task.train_split()[0][:10]
    raw = np.asarray(mnist.train_split()[0][:10])
    assert x.shape == (10, 81)
    # Area resampling keeps the mean brightness.
    assert np.allclose(x.mean(axis=1), raw.mean(axis=1), atol=1e-5)


def test_class_subsets_keep_exactly_those_images_relabelled(cache, mnist):
    task = load_task("mnist:classes=5-9", seed=0, data_dir=DATA)
    assert (task.n_classes, task.n_outputs) == (5, 5)
    x_all, y_all = mnist.train_split()
    keep = y_all >= 5
    x, y = task.train_split()
    assert np.array_equal(x, x_all[keep]) and np.array_equal(y, y_all[keep] - 5)

    pair = load_task("mnist:classes=3,7", seed=0, data_dir=DATA)
    assert pair.n_outputs == 1
    _, y_test_all = mnist.test_split()
    assert np.array_equal(pair.test_split()[1], (y_test_all[np.isin(y_test_all, [3, 7])] == 7))
    with pytest.raises(ConfigError, match="do not exist"):
        load_task("mnist:classes=8-11", seed=0, data_dir=DATA)


def test_permute_labels_is_a_seeded_permutation_of_shared_data(cache, mnist):
    x_all, y_all = mnist.train_split()
    maps = []
    for seed in (0, 1, 2):
        task = load_task("mnist:permute_labels=true", seed=seed, data_dir=DATA)
        x, y = task.train_split()
        assert task.arrays is load_task("mnist", seed=5, data_dir=DATA).arrays  # shared
        assert sorted(task.label_map) == list(range(10))
        assert np.array_equal(y, task.label_map[y_all])
        maps.append(tuple(task.label_map))
    assert len(set(maps)) == 3
    again = load_task("mnist:permute_labels=true", seed=1, data_dir=DATA)
    assert tuple(again.label_map) == maps[1]


def test_standardize_uses_train_statistics(cache):
    task = load_task("mnist:resolution=14,standardize=true", seed=0, data_dir=DATA)
    x_train, _ = task.train_split()
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    varying = std > 0.01
    assert np.allclose(mean, 0, atol=1e-4) and np.allclose(std[varying], 1, atol=1e-3)
    assert np.isfinite(task.test_split()[0]).all()


def test_image_unrolls_draw_train_and_test_splits(cache, mnist):
    task = load_task("mnist:resolution=14", seed=0, data_dir=DATA)
    data = draw_unroll(task, seed=4, steps=15, batch=128, eval_batches=20)
    assert data.x_train.shape == (15, 128, 196) and data.x_eval.shape == (20, 128, 196)
    assert data.x_train.dtype == np.float32 and data.y_eval.dtype == np.int32
    assert data.x_train.flags.c_contiguous and data.x_eval.flags.c_contiguous
    for batch in data.x_train[:3]:  # without replacement within a batch: no repeated image
        assert len({row.tobytes() for row in batch}) == 128
    x_test = task.test_split()[0]
    test_rows = {row.tobytes() for row in x_test}
    assert all(row.tobytes() in test_rows for row in data.x_eval[0])
    again = draw_unroll(task, seed=4, steps=15, batch=128, eval_batches=20)
    assert np.array_equal(again.x_train, data.x_train)
    whole = draw_unroll(task, seed=4, steps=2, batch=8, eval_batches=None)
    assert whole.x_eval.shape == (1, 10_000, 196) and whole.y_eval.shape == (1, 10_000)
    assert whole.x_eval.flags.writeable and not task.test_split()[0].flags.writeable


def test_digits_are_scaled_and_split(cache):
    task = load_task("digits", seed=0)
    x_train, y_train = task.train_split()
    x_test, y_test = task.test_split()
    assert task.n_inputs == 64 and len(y_train) + len(y_test) == 1797
    assert abs(len(y_test) / 1797 - 0.2) < 0.01
    assert 0 <= x_train.min() and x_train.max() == 1.0
    assert load_task("digits:resolution=4", seed=0).n_inputs == 16


def test_missing_data_names_every_place_searched(tmp_path, monkeypatch):
    monkeypatch.setenv(store.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(store.DATA_ENV, str(tmp_path / "env-data"))
    monkeypatch.setattr(store, "SYSTEM_DATA_DIR", tmp_path / "system")
    (tmp_path / "given" / "fashion-mnist").mkdir(parents=True)
    with pytest.raises(DataError) as caught:
        load_task("fashion-mnist", seed=0, data_dir=tmp_path / "given")
    message = str(caught.value)
    for place in ("given", "env-data", "cache", "system"):
        assert str(tmp_path / place / "fashion-mnist") in message
    assert "missing train-images-idx3-ubyte.gz" in message
    assert "dataset-fashion-mnist" in message and "data download fashion-mnist" in message


def test_damaged_idx_files_are_reported_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv(store.CACHE_ENV, str(tmp_path / "cache"))
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for stem in store.SPLIT_FILES:
        (folder / (stem + ".gz")).symlink_to(DATA / "mnist" / (stem + ".gz"))
    bad = folder / "train-images-idx3-ubyte.gz"  # decoded first: the test stays fast
    bad.unlink()
    with gzip.open(bad, "wb") as handle:
        handle.write((2049).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(3))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: IDX magic 2049, "
                                        r"expected 2051"):
        load_task("mnist", seed=0, data_dir=tmp_path / "data")
    with gzip.open(bad, "wb") as handle:
        handle.write((2051).to_bytes(4, "big") + bytes(8) + (28).to_bytes(4, "big") + bytes(9))
    with pytest.raises(DataError, match="truncated"):
        load_task("mnist", seed=0, data_dir=tmp_path / "data")
    bad.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: cannot read"):
        load_task("mnist", seed=0, data_dir=tmp_path / "data")
