"""blgnn-es: meta-learn bidirectional learning rules (BLUR) with CMA-ES.

The public API in one place; see README.md for a tour.
"""

__version__ = "0.1.0"

from blgnn_es.learner import (  # noqa: E402
    PopulationResult,
    TrainResult,
    UnrollResult,
    evaluate,
    run_population,
    run_unroll,
    train,
)
from blgnn_es.model.genome import (  # noqa: E402
    Genome,
    GenomeLayout,
    backprop_genome,
    hebbian_genome,
    load_genome,
    random_genome,
    save_genome,
)
from blgnn_es.model.network import NetworkSpec, backprop_network, encode_targets  # noqa: E402

__all__ = [
    "Genome",
    "GenomeLayout",
    "NetworkSpec",
    "PopulationResult",
    "TrainResult",
    "UnrollResult",
    "backprop_genome",
    "backprop_network",
    "encode_targets",
    "evaluate",
    "hebbian_genome",
    "load_genome",
    "random_genome",
    "run_population",
    "run_unroll",
    "save_genome",
    "train",
]
