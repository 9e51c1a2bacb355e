"""The task families blgnn-es knows, with their options and defaults.

This is the one table that the spec parser validates against and `tasks list` prints; the
code that builds each kind of task lives in toy.py, images.py and files.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from .options import Option
from .transforms import TRANSFORM_OPTIONS

__all__ = ["FAMILIES", "Family", "FamilyInfo", "list_task_families"]

_TOY_OPTIONS = (
    Option("noise", "float", 0.0, "label-flip probability of training samples", 0.0, 0.5),
    Option("rotate", "bool", True, "random rotation of the rule, drawn from the task seed"),
)


_LABELLED_OPTIONS = (
    Option("classes", "classes", None, "class subset, relabelled 0..n-1: 0-4, 5-9, 0,3,7"),
    Option("permute_labels", "bool", False, "random relabelling drawn from the task seed"),
    Option("standardize", "bool", False, "per-feature zero mean, unit std (train split)"),
    *TRANSFORM_OPTIONS,
)


def _image_options(resolution: int) -> tuple[Option, ...]:
    return (
        Option("resolution", "int", resolution, "side in pixels (14: 2x2 mean; 10: crop 20, "
               "2x2 mean; other: area resampling)", 2, 64),
        *_LABELLED_OPTIONS,
    )


_TABULAR_OPTIONS = (
    Option("samples", "int", 1000, "examples generated (train and test)", 20, 1_000_000),
    Option("features", "int", 0, "features (0: drawn from the task seed, 4-32)", 0, 4096),
    Option("informative", "int", 0, "informative features (0: drawn)", 0, 4096),
    Option("n_classes", "int", 0, "classes (0: drawn, 2-6)", 0, 64),
    Option("separation", "float", 0.0, "class separation (0: drawn, 0.5-2)", 0.0, 10.0),
    Option("test_fraction", "float", 0.2, "share held out as the test split", 0.01, 0.9),
    *TRANSFORM_OPTIONS,
)


_BUNDLED_OPTIONS = (
    Option("test_fraction", "float", 0.2, "share held out as the test split (seed 0)",
           0.01, 0.9),
    Option("classes", "classes", None, "class subset, relabelled 0..n-1: 0-4, 5-9, 0,3,7"),
    Option("permute_labels", "bool", False, "random relabelling drawn from the task seed"),
    *TRANSFORM_OPTIONS,
)


def _bundled(name: str, summary: str, features: int, n_classes: int) -> Family:
    """A small real table scikit-learn ships: standardized, split once."""
    return Family(name, "tabular", _BUNDLED_OPTIONS, f"{summary}, standardized",
                  f"{features} -> {n_classes} classes", n_classes)


_FILE_OPTIONS = (
    Option("path", "path", None, ".npz with X, y [, X_test, y_test] or .csv (label last)"),
    Option("test_fraction", "float", 0.2, "share held out when the file has no test split",
           0.01, 0.9),
    *_LABELLED_OPTIONS,
    Option("sha256", "sha256", None, "the file's sha256, recorded when a run starts: a file "
           "changed since is refused"),
)


@dataclass(frozen=True)
class Family:
    """A family of tasks: a seed picks one task of it."""

    name: str
    kind: str  # "toy", "image" or "file"
    options: tuple[Option, ...]
    summary: str
    shapes: str
    n_classes: int | None = None  # classes of every task of the family (None: file tasks)

    def option(self, key: str) -> Option | None:
        return next((option for option in self.options if option.key == key), None)

    @property
    def option_keys(self) -> list[str]:
        return [option.key for option in self.options]


def _toy(name: str, summary: str, n_classes: int = 2) -> Family:
    outputs = "1 output" if n_classes == 2 else f"{n_classes} outputs"
    return Family(name, "toy", _TOY_OPTIONS, summary, f"2 -> {n_classes} classes ({outputs})",
                  n_classes)


def _paper(name: str, summary: str, n_classes: int = 2) -> Family:
    """One of the BLUR authors' func2d tasks (toy.py PAPER_TASKS): only `noise` applies."""
    outputs = "1 output" if n_classes == 2 else f"{n_classes} outputs"
    return Family(name, "toy", _TOY_OPTIONS[:1], f"paper's func2d: {summary}",
                  f"2 -> {n_classes} classes ({outputs})", n_classes)


def _images(name: str, side: int, summary: str) -> Family:
    shapes = f"{side * side} ({side}x{side}) -> 10 classes"
    return Family(name, "image", _image_options(side), summary, shapes, 10)


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        _toy("xor", "quadrant rule: label 1 where exactly one coordinate is past its threshold"),
        _toy("and", "corner region: both coordinates past thresholds placed for a 1:1 split"),
        _toy("or", "either coordinate past its threshold (thresholds give a 1:1 split)"),
        _toy("nand", "complement of and"),
        _toy("xnor", "complement of xor"),
        _toy("two-moons", "nearer of two interleaved half circles (random scale, position)"),
        _toy("circles", "inside vs outside a circle (ellipse when rotated) of half the area"),
        _toy("cross", "a band along both axes covering half the square"),
        _toy("triangle", "inside vs outside an equilateral triangle of half the area"),
        _toy("pie-slice", "inside vs outside an angular sector of half the area"),
        _toy("blobs5", "most likely of five Gaussian blobs, priors set for equal shares", 5),
        _paper("paper-xor", "label 1 where sign(x0 x1) = +1 (unbalanced as drawn)"),
        _paper("paper-nxor", "label 1 where x0 x1 < 0"),
        _paper("paper-and", "x0 > 0 and x1 > 0 (1:3)"),
        _paper("paper-or", "x0 > 0 or x1 > 0 (3:1)"),
        _paper("paper-qand", "x0 < 0 and x1 > 0 (1:3)"),
        _paper("paper-two-moons", "make_moons (noise 0.1) rescaled into [-1, 1]^2"),
        _paper("paper-circles", "inside a circle: centre in [-1, 1]^2, radius 0.2-0.7 from "
               "the task seed"),
        _paper("paper-cross", "|x0| < 0.3 or |x1| < 0.3"),
        _paper("paper-triangle", "x0 + x1 < 1, x1 - x0 < 1, x1 > -0.5"),
        _paper("paper-pie-slice", "atan2(x1, x0) in [-0.78, 0.78]"),
        _paper("paper-blobs5", "five Gaussian blobs of std 0.1, centres in [-1, 1]^2 from the "
               "task seed", 5),
        _images("mnist", 28, "MNIST handwritten digits (idx files, 60,000 / 10,000)"),
        _images("fashion-mnist", 28, "Fashion-MNIST clothing (idx files, 60,000 / 10,000)"),
        _images("digits", 8, "scikit-learn's 8x8 digits (1,797 images, 20 % held out)"),
        Family("file", "file", _FILE_OPTIONS, "your own data: file:PATH[,key=value...]",
               "columns of the file -> its labels"),
        _bundled("iris", "scikit-learn's iris flowers (150 examples)", 4, 3),
        _bundled("wine", "scikit-learn's wine cultivars (178 examples)", 13, 3),
        _bundled("breast-cancer", "scikit-learn's Wisconsin breast cancer (569 examples)",
                 30, 2),
        Family("tabular", "tabular", _TABULAR_OPTIONS, "scikit-learn make_classification: "
               "features, informative dimensions, classes and separation drawn from the task "
               "seed (0 = drawn), features standardized", "4-32 -> 2-6 classes"),
    )
}


class FamilyInfo(NamedTuple):
    """One row of `tasks list`."""

    name: str
    kind: str
    options: dict[str, Any]
    shapes: str


def list_task_families() -> list[FamilyInfo]:
    """Every family with its options (defaults as typed values) and example shapes."""
    return [
        FamilyInfo(family.name, family.kind,
                   {option.key: option.default for option in family.options}, family.shapes)
        for family in FAMILIES.values()
    ]
