"""The `tasks` and `data` command groups, run through click's test runner."""

import urllib.error

import click
import pytest
from click.testing import CliRunner

from blgnn_es.cli.tasks import data_group, tasks_group
from blgnn_es.tasks import download, store

CLI = click.Group("blgnn-es", commands=[tasks_group, data_group])


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv(store.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(store.DATA_ENV, raising=False)
    monkeypatch.setattr(store, "SYSTEM_DATA_DIR", tmp_path / "system")

    def invoke(*args: str):
        return CliRunner().invoke(CLI, list(args))

    return invoke


def test_tasks_list_shows_every_family_with_defaults(run):
    result = run("tasks", "list")
    assert result.exit_code == 0, result.output
    for name in ("xor", "nand", "two-moons", "pie-slice", "blobs5", "mnist", "fashion-mnist",
                 "digits", "file"):
        assert f"\n{name} " in result.output
    assert "resolution=28" in result.output and "noise=0.0 rotate=true" in result.output
    assert "784 (28x28) -> 10 classes" in result.output


def test_tasks_show_prints_a_summary(run):
    result = run("tasks", "show", "blobs5:noise=0.1", "--seed", "2")
    assert result.exit_code == 0, result.output
    assert "blobs5:noise=0.1" in result.output and "5 (5 outputs)" in result.output
    assert "test counts" in result.output


def test_tasks_show_draws_points_and_images(run, tmp_path):
    for spec, name in (("two-moons", "moons.png"), ("digits:classes=0-4", "digits.png")):
        target = tmp_path / name
        result = run("tasks", "show", spec, "-o", str(target))
        assert result.exit_code == 0, result.output
        assert target.read_bytes().startswith(b"\x89PNG")


def test_tasks_show_errors_have_the_documented_exit_codes(run, tmp_path):
    result = run("tasks", "show", "xor:colour=red")
    assert result.exit_code == 2 and "valid options: noise, rotate" in result.output
    result = run("tasks", "show", "mnist", "--data-dir", str(tmp_path / "none"))
    assert result.exit_code == 1 and "mnist not found" in result.output
    assert str(tmp_path / "none" / "mnist") in result.output


def test_data_where_lists_the_search_path(run, data_dir):
    result = run("data", "where", "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    assert f"{data_dir}  found: mnist, fashion-mnist" in result.output
    assert "$BLGNN_ES_DATA" in result.output and "(not set)" in result.output


def test_data_download_fails_cleanly_without_network(run, tmp_path, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(download.urllib.request, "urlopen", offline)
    result = run("data", "download", "mnist", "--to", str(tmp_path / "root"))
    assert result.exit_code == 1
    assert "could not download train-images-idx3-ubyte.gz" in result.output
    assert "no network?" in result.output and "Name or service not known" in result.output
    assert not (tmp_path / "root" / "mnist").exists()
