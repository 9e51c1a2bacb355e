"""The genome: the flat vector of SPEC.md section 2, its named slots, presets and files.

A genome is a 1-D float array of ``4k² + 7`` numbers shared by every neuron and synapse.
On disk it is a ``.npy`` file (loaded with ``allow_pickle=False``) plus a JSON sidecar that
records k, the layout, the network settings it was evolved for, and where it came from.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blgnn_es.errors import GenomeError
from blgnn_es.fileio import atomic_write
from blgnn_es.model.sidecar import GenomeSidecar, Provenance

MATRIX_SLOTS = ("nu", "mu", "nu_pre", "mu_post")
SCALAR_SLOTS = ("f", "eta", "f_syn", "eta_syn", "g", "h", "omega")
SLOT_NAMES = MATRIX_SLOTS + SCALAR_SLOTS

SLOT_MEANINGS = {
    "nu": "forward neuron transform (input state d -> output state c)",
    "mu": "backward neuron transform",
    "nu_pre": "pre-synaptic Hebbian transform",
    "mu_post": "post-synaptic Hebbian transform",
    "f": "neuron keep (forget) gate",
    "eta": "neuron update gate",
    "f_syn": "synapse keep gate",
    "eta_syn": "synapse update gate (plays the role of -learning rate)",
    "g": "gain of the activation normalization",
    "h": "shift of the activation normalization",
    "omega": "Oja decay multiplier",
}


def genome_length(states: int) -> int:
    """Number of entries of a genome for k states (SPEC §2: 4k² + 7)."""
    return 4 * states * states + len(SCALAR_SLOTS)


def states_from_length(length: int) -> int:
    """Invert :func:`genome_length`; raise GenomeError when no k >= 2 fits."""
    k = math.isqrt(max(length - len(SCALAR_SLOTS), 0) // 4)
    if k < 2 or genome_length(k) != length:
        valid = ", ".join(f"{genome_length(s)} (k={s})" for s in range(2, 7))
        raise GenomeError(
            f"a genome of {length} numbers fits no k >= 2; valid lengths are 4k²+7: {valid}, ..."
        )
    return k


@dataclass(frozen=True)
class GenomeLayout:
    """Where each named slot of SPEC §2 sits in the flat vector for k states (row-major)."""

    states: int

    @property
    def length(self) -> int:
        return genome_length(self.states)

    def slot(self, name: str) -> slice:
        k2 = self.states * self.states
        if name in MATRIX_SLOTS:
            start = MATRIX_SLOTS.index(name) * k2
            return slice(start, start + k2)
        if name in SCALAR_SLOTS:
            start = 4 * k2 + SCALAR_SLOTS.index(name)
            return slice(start, start + 1)
        raise GenomeError(f"unknown genome slot {name!r}; slots are {', '.join(SLOT_NAMES)}")

    def describe(self) -> list[dict[str, Any]]:
        """The layout as data, for the sidecar: name, offset, shape of every slot."""
        rows = []
        for name in SLOT_NAMES:
            s = self.slot(name)
            shape = [self.states, self.states] if name in MATRIX_SLOTS else []
            rows.append({"name": name, "offset": s.start, "shape": shape})
        return rows

    def mask(self, names: list[str] | tuple[str, ...]) -> np.ndarray:
        """Boolean mask over the flat vector selecting the given slots."""
        mask = np.zeros(self.length, dtype=bool)
        for name in names:
            mask[self.slot(name)] = True
        return mask


@dataclass(frozen=True)
class Genome:
    """Named view of a flat genome vector (float64, read-only copy)."""

    values: np.ndarray

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.float64).reshape(-1)
        states_from_length(values.size)
        values.setflags(write=False)
        object.__setattr__(self, "values", values)

    @property
    def states(self) -> int:
        return states_from_length(self.values.size)

    @property
    def layout(self) -> GenomeLayout:
        return GenomeLayout(self.states)

    def __getitem__(self, name: str) -> np.ndarray | float:
        part = self.values[self.layout.slot(name)]
        if name in MATRIX_SLOTS:
            return part.reshape(self.states, self.states)
        return float(part[0])

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in SLOT_NAMES:
            value = self[name]
            out[name] = value.tolist() if isinstance(value, np.ndarray) else value
        return out


def assemble_genome(states: int, **slots: Any) -> np.ndarray:
    """Build a flat genome from named slots; missing matrices are 0, missing scalars default.

    Defaults: f = 1, eta = 1, f_syn = 1, eta_syn = 0, g = 1, h = 0, omega = 0.
    """
    layout = GenomeLayout(states)
    flat = np.zeros(layout.length)
    defaults = {
        "f": 1.0,
        "eta": 1.0,
        "f_syn": 1.0,
        "eta_syn": 0.0,
        "g": 1.0,
        "h": 0.0,
        "omega": 0.0,
    }
    for name in SLOT_NAMES:
        if name in slots:
            value = np.asarray(slots.pop(name), dtype=np.float64)
        elif name in defaults:
            value = np.asarray(defaults[name])
        else:
            continue
        target = layout.slot(name)
        expected = (states, states) if name in MATRIX_SLOTS else ()
        if value.shape != expected:
            raise GenomeError(f"slot {name!r} must have shape {expected}, got {value.shape}")
        flat[target] = value.reshape(-1)
    if slots:
        raise GenomeError(
            f"unknown genome slots {sorted(slots)}; slots are {', '.join(SLOT_NAMES)}"
        )
    return flat


def backprop_genome(learning_rate: float) -> np.ndarray:
    """The k = 2 genome with which BLUR does exactly SGD (SPEC §4).

    Use it with :func:`blgnn_es.model.network.backprop_network` (tied, shared states, error
    feedback, multiplicative backward, (sigmoid, dsigmoid) forward, identity backward).
    """
    return assemble_genome(
        2,
        nu=[[1.0, 1.0], [0.0, 0.0]],
        mu=np.eye(2),
        nu_pre=np.eye(2),
        mu_post=[[0.0, 1.0], [1.0, 0.0]],
        f=1.0,
        eta=1.0,
        f_syn=1.0,
        eta_syn=-float(learning_rate),
    )


def hebbian_genome(states: int = 2, rate: float = 0.003) -> np.ndarray:
    """A hand-made start for evolution: output weights learn input x label, no backward pass.

    nu as in backprop (state 0 drives every channel), mu = 0, nu_pre = I,
    mu_post routes the label state (1) into every post-synaptic channel; f_syn = 1.
    Found useful as a CMA-ES starting mean on MNIST (issue 7's prototype).
    """
    nu = np.zeros((states, states))
    nu[0, :] = 1.0
    mu_post = np.zeros((states, states))
    mu_post[:, 1] = 1.0
    return assemble_genome(
        states,
        nu=nu,
        mu=np.zeros((states, states)),
        nu_pre=np.eye(states),
        mu_post=mu_post,
        f=1.0,
        eta=1.0,
        f_syn=1.0,
        eta_syn=float(rate),
    )


def random_genome(states: int, seed: int, scale: float = 0.5) -> np.ndarray:
    """Entries drawn N(0, scale²) from ``seed``; gates and gain around sensible values.

    The matrices are pure noise; f, f_syn and g are centred at 1 so a network neither
    forgets everything nor explodes at the first step.
    """
    if states < 2:
        raise GenomeError(f"states must be >= 2, got {states}")
    rng = np.random.default_rng(seed)
    flat = rng.normal(0.0, scale, size=genome_length(states))
    layout = GenomeLayout(states)
    for name in ("f", "f_syn", "g"):
        flat[layout.slot(name)] += 1.0
    return flat


def validate_genome_array(values: Any, source: str = "genome") -> np.ndarray:
    """Return ``values`` as a float64 1-D finite genome or raise a one-line GenomeError."""
    arr = np.asarray(values)
    if arr.dtype.kind != "f" or arr.ndim != 1:
        raise GenomeError(
            f"{source}: expected a 1-D float array of length 4k²+7 (23 for k=2, 43 for k=3, "
            f"71 for k=4), got dtype {arr.dtype} with shape {arr.shape}"
        )
    try:
        states_from_length(arr.size)
    except GenomeError as err:
        raise GenomeError(f"{source}: {err}") from None
    if not np.all(np.isfinite(arr)):
        raise GenomeError(f"{source}: the genome holds NaN or infinite entries")
    return arr.astype(np.float64)


def sidecar_path(path: Path) -> Path:
    """``name.npy`` -> ``name.json`` (``genome.npy`` -> ``genome.json``)."""
    return Path(path).with_suffix(".json")


def save_genome(
    path: str | os.PathLike,
    values: np.ndarray,
    *,
    network: dict | None = None,
    provenance: Provenance | dict | None = None,
) -> Path:
    """Write ``values`` as ``.npy`` and the JSON sidecar next to it, each atomically."""
    path = Path(path)
    if path.suffix != ".npy":
        path = path.with_suffix(".npy")
    values = validate_genome_array(values)
    k = states_from_length(values.size)
    if not isinstance(provenance, Provenance):
        provenance = Provenance.model_validate(provenance or {})
    sidecar = GenomeSidecar(
        states=k,
        length=int(values.size),
        layout=GenomeLayout(k).describe(),
        network=network or {},
        provenance=provenance,
        slots=Genome(values).as_dict(),
    )
    text = json.dumps(sidecar.to_dict(), indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda fh: np.save(fh, values, allow_pickle=False), binary=True)
    atomic_write(sidecar_path(path), lambda fh: fh.write(text))
    return path


def read_genome(path: str | os.PathLike) -> tuple[np.ndarray, GenomeSidecar | None]:
    """Load a genome file and its typed sidecar (None when there is none).

    Raises GenomeError with one line saying what was expected when the file is not a
    1-D finite float array of a valid length, or disagrees with its sidecar. A sidecar of
    the previous release (no schema_version) reads as version 1; what it lacks is filled
    in from the values.
    """
    path = Path(path)
    if not path.exists():
        raise GenomeError(f"{path}: no such genome file")
    if path.is_dir():
        raise GenomeError(f"{path}: is a folder, not a genome file (.npy)")
    try:
        values = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        reason = getattr(err, "strerror", None) or str(err) or "empty file"
        raise GenomeError(f"{path}: not a .npy array file ({reason})") from None
    if not isinstance(values, np.ndarray):  # an .npz archive read under a .npy name
        values.close()
        raise GenomeError(f"{path}: is an .npz archive, not a .npy genome array")
    values = validate_genome_array(values, source=str(path))
    side = sidecar_path(path)
    if not side.exists():
        return values, None
    if side.is_dir():
        raise GenomeError(f"{side}: the sidecar is a folder, not a JSON file")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise GenomeError(f"{side}: the sidecar is not UTF-8 JSON text (byte {err.start})"
                          ) from None
    except OSError as err:
        raise GenomeError(f"{side}: cannot read the sidecar ({err.strerror})") from None
    except json.JSONDecodeError as err:
        raise GenomeError(f"{side}: sidecar is not valid JSON ({err})") from None
    k = states_from_length(values.size)
    if isinstance(meta, dict):
        if meta.get("states") not in (None, k):
            raise GenomeError(
                f"{side}: says k={meta['states']} but {path} has {values.size} numbers (k={k})"
            )
        meta = {"states": k, "length": int(values.size),
                "layout": GenomeLayout(k).describe(), "slots": Genome(values).as_dict(), **meta}
    return values, GenomeSidecar.from_dict(meta, str(side))


def load_sidecar(path: str | os.PathLike) -> GenomeSidecar | None:
    """The typed sidecar of a genome file (None when there is none)."""
    return read_genome(path)[1]


def load_genome(path: str | os.PathLike) -> tuple[np.ndarray, dict]:
    """Load a genome file and its sidecar as a dict (``{}`` when there is none).

    The dict form of :func:`read_genome`, kept for callers that read the sidecar by key.
    """
    values, sidecar = read_genome(path)
    return values, {} if sidecar is None else sidecar.to_dict()
