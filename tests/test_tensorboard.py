"""The optional TensorBoard writer: event files that parse back, with one step per
generation (metrics.jsonl's 0-based generation), and a clear exit without tensorboardX."""

from __future__ import annotations

import importlib.util
import json
import struct

import pytest
from click.testing import CliRunner
from conftest import tiny_toml

from blgnn_es.cli import cli

pytest.importorskip("tensorboardX")
from tensorboardX.proto.event_pb2 import Event  # noqa: E402

TINY = tiny_toml("board", seed=2, max_generations=4,
                 extra="[report]\nvalidate_every = 2\nvalidate_seeds = 1\n").replace(
    'train = ["xor"]\n', 'train = ["xor"]\nvalidate = ["circles"]\n')


def _events(folder) -> list[Event]:
    """Every event of the TFRecord files in ``folder`` (length, crc, payload, crc)."""
    events = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        at = 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            events.append(Event.FromString(data[at + 12:at + 12 + length]))
            at += 12 + length + 4
    return events


def test_event_files_parse_back(tmp_path):
    config = tmp_path / "board.toml"
    config.write_text(TINY)
    board = tmp_path / "tb"
    result = CliRunner().invoke(cli, ["evolve", "-c", str(config), "--out-dir",
                                      str(tmp_path / "runs"), "--tensorboard", str(board)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    scalars: dict[str, dict[int, float]] = {}
    images = []
    for event in _events(board / "board"):
        for value in event.summary.value:
            if value.HasField("image"):
                images.append(event.step)
            elif value.HasField("simple_value") or value.tag:
                scalars.setdefault(value.tag, {})[event.step] = value.simple_value
    metrics = [json.loads(line) for line in (tmp_path / "runs/board/metrics.jsonl").open()]
    assert sorted(scalars["fitness/gen_best"]) == [0, 1, 2, 3]
    for record in metrics:
        step = record["generation"]
        assert scalars["fitness/gen_best"][step] == pytest.approx(record["best"], rel=1e-6)
        assert scalars["fitness/best_so_far"][step] == pytest.approx(record["best_so_far"],
                                                                     rel=1e-6)
        assert scalars["cmaes/sigma"][step] == pytest.approx(record["sigma"], rel=1e-6)
    assert set(scalars["validation/circles"]) == {1, 3}
    assert images == [0, 1, 2, 3]
    config_toml = (tmp_path / "runs/board/config.toml").read_text()
    assert "tensorboard =" in config_toml


def test_without_tensorboardx_it_exits_2_with_the_install_line(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboardX" else real(name, *a))
    config = tmp_path / "board.toml"
    config.write_text(TINY)
    for args in (["--tensorboard", str(tmp_path / "tb")],
                 ["--set", 'report.tensorboard="tb"']):
        result = CliRunner().invoke(cli, ["evolve", "-c", str(config), "--out-dir",
                                          str(tmp_path / "runs"), *args])
        assert result.exit_code == 2, result.output
        assert "pip install" in result.output and "tensorboard" in result.output
        assert not (tmp_path / "runs/board").exists()
