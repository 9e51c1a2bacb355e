"""blgnn-es: meta-learn bidirectional learning rules (BLUR) with CMA-ES.

The public API in one place, loaded on first use: ``import blgnn_es`` loads neither numba
nor matplotlib, so the command line and the task layer start fast. See README.md for a
tour and docs/ for the reference.

The package is laid out by the path a run takes, each stage importing only earlier ones:
tasks -> model (genome, network, NumPy reference) -> config -> kernel -> learner ->
evaluation -> fitness -> baselines -> parallel -> es (CMA-ES, run directory) -> reports ->
cli.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC = {
    "Genome": "blgnn_es.model.genome",
    "GenomeLayout": "blgnn_es.model.genome",
    "backprop_genome": "blgnn_es.model.genome",
    "hebbian_genome": "blgnn_es.model.genome",
    "load_genome": "blgnn_es.model.genome",
    "random_genome": "blgnn_es.model.genome",
    "save_genome": "blgnn_es.model.genome",
    "NetworkSpec": "blgnn_es.model.network",
    "backprop_network": "blgnn_es.model.network",
    "encode_targets": "blgnn_es.model.network",
    "PopulationResult": "blgnn_es.learner",
    "TrainResult": "blgnn_es.model.results",
    "UnrollResult": "blgnn_es.model.results",
    "evaluate": "blgnn_es.learner",
    "run_population": "blgnn_es.learner",
    "run_unroll": "blgnn_es.learner",
    "train": "blgnn_es.learner",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (PEP 562)."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'blgnn_es' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
