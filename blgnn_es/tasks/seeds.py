"""Seeds: every random draw of a run is a pure function of a few integers and a purpose.

A run is reproducible, and any piece of it can be recomputed in any worker, when each stream
(task geometry, initial synapses, batches) is named by ints plus a purpose string instead of
being carried along as generator state.
"""

import hashlib

import numpy as np

__all__ = ["derive_seed", "purpose_code", "seed_sequence"]


def purpose_code(purpose: str) -> int:
    """A stable 64-bit code of a name (Python's hash() changes between processes)."""
    if not isinstance(purpose, str) or not purpose:
        raise ValueError(f"a seed purpose must be a non-empty string, not {purpose!r}")
    digest = hashlib.sha256(purpose.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def seed_sequence(*words: int | str) -> np.random.SeedSequence:
    """A SeedSequence from non-negative ints and names (names enter by their stable code)."""
    entropy = []
    for word in words:
        if isinstance(word, str):
            entropy.append(purpose_code(word))
        elif isinstance(word, int | np.integer) and not isinstance(word, bool) and word >= 0:
            entropy.append(int(word))
        else:
            raise ValueError(f"seed words must be non-negative ints or names, not {word!r}")
    return np.random.SeedSequence(entropy)


def derive_seed(
    run_seed: int,
    generation: int,
    task_index: int,
    replica: int = 0,
    purpose: str = "batches",
) -> int:
    """The seed of one stream of a run, as a non-negative int below 2**63.

    Distinct purposes ("task", "synapses", "batches") give independent streams for the same
    (run_seed, generation, task_index, replica); the result fits an int64 for numba.

    >>> derive_seed(1, 0, 0) == derive_seed(1, 0, 0)
    True
    >>> derive_seed(1, 0, 0, purpose="task") != derive_seed(1, 0, 0, purpose="batches")
    True
    """
    high, low = seed_sequence(run_seed, generation, task_index, replica, purpose).generate_state(
        2, np.uint32
    )
    return (int(high) << 31) | (int(low) >> 1)
