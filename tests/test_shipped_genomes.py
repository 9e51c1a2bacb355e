"""Each genome in genomes/ still reaches the accuracy docs/results.md reports for it.

genomes/manifest.json lists, per genome, the evaluate command's settings (hidden sizes under
"layers" when they differ from the sidecar's) and the accuracy
(mean and std over seeds) measured when it was shipped. The evaluation is deterministic,
so the tolerance only absorbs BLAS builds that round differently: two standard errors of the
seed spread plus half a point.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from blgnn_es.tasks import parse_task_spec

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = json.loads((ROOT / "genomes" / "manifest.json").read_text())


def _entry_id(entry: dict) -> str:
    layers = f":{entry['layers']}" if "layers" in entry else ""
    return f"{entry['genome']}:{entry['task']}{layers}"


def _param(entry: dict):
    """Image-task entries take seconds each: marked slow (toy entries stay in the quick run)."""
    image_task = parse_task_spec(entry["task"]).kind == "image"
    return pytest.param(entry, id=_entry_id(entry), marks=[pytest.mark.slow] if image_task else [])


@pytest.mark.parametrize("entry", [_param(entry) for entry in MANIFEST])
def test_shipped_genome_reaches_documented_accuracy(entry, tmp_path, invoke, request):
    image_task = parse_task_spec(entry["task"]).kind == "image"
    data = request.getfixturevalue("data_dir") if image_task else tmp_path / "no-data-needed"
    args = [
        "evaluate",
        str(ROOT / "genomes" / entry["genome"]),
        "--task",
        entry["task"],
        "--steps",
        str(entry["steps"]),
        "--batch",
        str(entry["batch"]),
        "--eval-batches",
        str(entry["eval_batches"]),
        "--seeds",
        str(entry["seeds"]),
        "--data-dir",
        str(data),
        "--out",
        str(tmp_path),
        "--json",
    ]
    if "layers" in entry:
        args += ["--layers", entry["layers"]]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    measured = json.loads(result.stdout)["tasks"][0]["accuracy_mean"]  # stderr: warnings
    tolerance = 2 * entry["accuracy_std"] / math.sqrt(entry["seeds"]) + 0.005
    assert abs(measured - entry["accuracy_mean"]) <= tolerance
