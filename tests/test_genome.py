"""Genome layout, presets, files and the genome CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from blgnn_es.cli import cli
from blgnn_es.errors import GenomeError
from blgnn_es.model.genome import (
    Genome,
    GenomeLayout,
    backprop_genome,
    genome_length,
    load_genome,
    random_genome,
    save_genome,
    states_from_length,
)


def test_layout_is_4k2_plus_7_row_major():
    assert [genome_length(k) for k in (2, 3, 4)] == [23, 43, 71]
    assert states_from_length(71) == 4
    g = Genome(np.arange(23.0))
    np.testing.assert_array_equal(g["nu"], [[0, 1], [2, 3]])
    np.testing.assert_array_equal(g["mu_post"], [[12, 13], [14, 15]])
    assert [g[s] for s in ("f", "eta", "f_syn", "eta_syn", "g", "h", "omega")] == list(
        range(16, 23)
    )
    assert GenomeLayout(3).mask(["f", "nu"]).sum() == 10


def test_backprop_preset():
    g = Genome(backprop_genome(0.25))
    np.testing.assert_array_equal(g["nu"], [[1, 1], [0, 0]])
    np.testing.assert_array_equal(g["mu_post"], [[0, 1], [1, 0]])
    assert (g["f"], g["eta"], g["f_syn"], g["eta_syn"]) == (1, 1, 1, -0.25)


def test_random_preset_is_seeded():
    np.testing.assert_array_equal(random_genome(3, 1), random_genome(3, 1))
    assert not np.array_equal(random_genome(3, 1), random_genome(3, 2))


def test_save_load_round_trip_with_sidecar(tmp_path):
    values = random_genome(2, 0)
    path = save_genome(
        tmp_path / "g.npy", values, network={"layer_sizes": [2, 5, 1]}, provenance={"seed": 0}
    )
    loaded, meta = load_genome(path)
    np.testing.assert_array_equal(loaded, values)
    assert meta["states"] == 2 and meta["network"]["layer_sizes"] == [2, 5, 1]
    assert json.loads((tmp_path / "g.json").read_text())["layout"][0]["name"] == "nu"


def test_genome_without_sidecar_loads_by_length(tmp_path):
    np.save(tmp_path / "bare.npy", np.ones(43))
    values, meta = load_genome(tmp_path / "bare.npy")
    assert values.size == 43 and meta == {}


@pytest.mark.parametrize(
    "array,message",
    [
        (np.ones((2, 23)), "expected a 1-D float array"),
        (np.ones(24), "fits no k >= 2"),
        (np.arange(23), "expected a 1-D float array"),
        (np.array([np.nan] * 23), "NaN or infinite"),
    ],
)
def test_bad_genome_files_get_one_line_errors(tmp_path, array, message):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(GenomeError, match=message) as info:
        load_genome(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_pickled_object_array_is_refused(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(GenomeError, match="not a .npy array file"):
        load_genome(path)


def test_sidecar_disagreeing_with_file(tmp_path):
    path = save_genome(tmp_path / "g.npy", random_genome(2, 0))
    np.save(path, random_genome(3, 0))
    with pytest.raises(GenomeError, match="says k=2"):
        load_genome(path)


def test_cli_genome_commands(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0 and "0.1.0" in result.output
    bp = tmp_path / "bp.npy"
    result = runner.invoke(cli, ["genome", "backprop", "--lr", "0.1", "-o", str(bp)])
    assert result.exit_code == 0, result.output
    assert load_genome(bp)[0][19] == -0.1
    result = runner.invoke(cli, ["genome", "backprop", "--lr", "0.1", "-o", str(bp)])
    assert result.exit_code != 0 and "exists" in result.output
    g = tmp_path / "g.npy"
    result = runner.invoke(cli, ["genome", "random", "--states", "3", "--seed", "1", "-o", str(g)])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(load_genome(g)[0], random_genome(3, 1))
    result = runner.invoke(cli, ["genome", "show", str(g)])
    assert result.exit_code == 0
    assert "nu_pre" in result.output and "eta_syn" in result.output
    np.save(tmp_path / "bad.npy", np.ones(5))
    result = runner.invoke(cli, ["genome", "show", str(tmp_path / "bad.npy")])
    assert result.exit_code == 1 and "fits no k" in result.output
