"""The 2-D toy families: inputs uniform in [-1, 1]^2, labels from a geometric rule.

A seed draws one task of a family (rotation, position, size). Every rule is balanced on the
square, because a learner that predicts the majority class should not look good: the free
size of each shape (a radius, a band width, a sector angle, a threshold) is solved on a
calibration sample of the task's own uniform inputs so that each class gets an equal share.

- xor / xnor: the quadrant rule about a seed-drawn point; one threshold is solved so the
  classes are equal (a quadrant rule about an off-centre point is not balanced by itself).
- and / or / nand: naturally 1:3; the first threshold is drawn, the second solved for 1:1,
  so `and` labels a corner region of half the square (nand, its complement).
- two-moons: the nearer of two interleaved half circles (random rotation, scale, position),
  the tie line shifted to the median of the distance difference.
- circles (inside = 1): random centre; the radius is the median distance, so the disc
  covers half the square; with rotate=true the circle becomes a rotated ellipse.
- cross: |z1| < w or |z2| < w about a random centre, w the median of min(|z1|, |z2|).
- triangle: an equilateral triangle about a random centre, sized to half the area.
- pie-slice: a sector opening away from an apex near one side, its angle solved for 1:1.
- blobs5: the most likely of five Gaussian blobs (random centres and spreads) with class
  priors solved so that all five classes get a fifth of the square.

Options: `noise` flips training labels (to another class) with that probability; test
labels stay clean, so accuracy measures how well the rule itself was learned. `rotate=false`
keeps each rule axis-aligned: the seed still picks a quarter turn, the position and the size.

The `paper-*` families are the BLUR authors' own 2-D tasks, as their `func2d` generators
define them (Sandler et al. 2021, code: google-research/blur/data/func2d.py): fixed rules,
not rotated, not balanced (labels fall as the uniform inputs do), see :data:`PAPER_TASKS`.
"""

from collections.abc import Callable

import numpy as np

from .seeds import seed_sequence
from .spec import TaskSpec
from .task import Task

__all__ = ["PAPER_TASKS", "TOY_RULES", "ToyTask", "build_toy_task", "uniform_inputs"]

CALIBRATION_POINTS = 20_000
TEST_POINTS = 2_000

LabelRule = Callable[[np.ndarray], np.ndarray]
RuleBuilder = Callable[[np.random.Generator, bool, np.ndarray], LabelRule]
Sampler = Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]


def uniform_inputs(rng: np.random.Generator, n: int) -> np.ndarray:
    """n points uniform in [-1, 1]^2, float32 C-contiguous."""
    return rng.uniform(-1.0, 1.0, size=(n, 2)).astype(np.float32)


class ToyTask(Task):
    """One task of a toy family: unlimited fresh samples, a fixed test sample."""

    def __init__(self, name: str, rule: LabelRule | None, n_classes: int, noise: float,
                 test_seed: np.random.SeedSequence, sampler: Sampler | None = None) -> None:
        self.name = name
        self.kind = "toy"
        self.n_inputs = 2
        self.n_classes = n_classes
        self.rule = rule  # None when the inputs are not uniform (``sampler`` draws both)
        self.noise = noise
        self._sampler = sampler or self._uniform
        self._test_seed = test_seed
        self._test: tuple[np.ndarray, np.ndarray] | None = None

    def _uniform(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        x = uniform_inputs(rng, n)
        return x, self.rule(x)

    def sample_train(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = self._sampler(rng, n)
        if self.noise > 0:
            flip = rng.random(n) < self.noise
            shift = rng.integers(1, self.n_classes, size=n, dtype=np.int32)
            y = np.where(flip, (y + shift) % self.n_classes, y).astype(np.int32)
        return x, y

    def sample_test(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._sampler(rng, n)

    def test_split(self) -> tuple[np.ndarray, np.ndarray]:
        """TEST_POINTS clean samples fixed by the task seed."""
        if self._test is None:
            x, y = self.sample_test(np.random.default_rng(self._test_seed), TEST_POINTS)
            x.flags.writeable = y.flags.writeable = False  # cached: callers must not edit it
            self._test = (x, y)
        return self._test


def build_toy_task(spec: TaskSpec, seed: int) -> ToyTask:
    """Task `seed` of a toy family; the family name is part of the seed, so xor and and of
    the same seed are unrelated draws."""
    geometry_seed, test_seed = seed_sequence(seed, spec.name).spawn(2)
    rng = np.random.default_rng(geometry_seed)
    noise = float(spec.options["noise"])
    if spec.name in PAPER_TASKS:
        rule, sampler, n_classes = PAPER_TASKS[spec.name](rng)
        return ToyTask(str(spec), rule, n_classes, noise, test_seed, sampler)
    calibration = uniform_inputs(rng, CALIBRATION_POINTS)
    rule = TOY_RULES[spec.name](rng, bool(spec.options["rotate"]), calibration)
    n_classes = 5 if spec.name == "blobs5" else 2
    return ToyTask(str(spec), rule, n_classes, noise, test_seed)


# --- geometry helpers -------------------------------------------------------------------


def _draw_angle(rng: np.random.Generator, rotate: bool) -> float:
    """Any angle, or with rotate=false a quarter turn (the rule stays axis-aligned)."""
    angle = rng.uniform(0.0, 2.0 * np.pi)  # drawn either way: the other draws stay the same
    return angle if rotate else np.floor(angle / (0.5 * np.pi)) * 0.5 * np.pi


def _rotation(angle: float) -> np.ndarray:
    """Right-multiplying row vectors by this matrix rotates them by -angle (into the frame
    of a rule drawn at +angle)."""
    cos, sin = np.cos(angle), np.sin(angle)
    return np.array([[cos, -sin], [sin, cos]])


def _balancing_knob(share: Callable[[float], float], low: float, high: float) -> float:
    """A knob value where share(knob) = 1/2, by bisection; share(low) and share(high) must
    lie on either side of 1/2 (share need not be monotone)."""
    low_above = share(low) > 0.5
    for _ in range(40):
        middle = 0.5 * (low + high)
        if (share(middle) > 0.5) == low_above:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def _below_median(score: Callable[[np.ndarray], np.ndarray], calibration: np.ndarray
                  ) -> LabelRule:
    """Label 1 where the score is below its median on the square: exactly balanced."""
    level = float(np.median(score(calibration)))

    def rule(x: np.ndarray) -> np.ndarray:
        return (score(x) < level).astype(np.int32)

    return rule


# --- the families ---------------------------------------------------------------------------


def _threshold_rule(combine: Callable[[np.ndarray, np.ndarray], np.ndarray],
                    first_threshold: tuple[float, float], complement: bool) -> RuleBuilder:
    """xor / and / or (and complements) on two thresholds in a rotated frame."""

    def build(rng: np.random.Generator, rotate: bool, calibration: np.ndarray) -> LabelRule:
        rotation = _rotation(_draw_angle(rng, rotate))
        t1 = rng.uniform(*first_threshold)
        z = calibration @ rotation
        t2 = _balancing_knob(lambda t: float(combine(z[:, 0] > t1, z[:, 1] > t).mean()),
                             -3.0, 3.0)

        def rule(x: np.ndarray) -> np.ndarray:
            frame = x @ rotation
            positive = combine(frame[:, 0] > t1, frame[:, 1] > t2)
            return (positive != complement).astype(np.int32)

        return rule

    return build


def _two_moons(rng: np.random.Generator, rotate: bool, calibration: np.ndarray) -> LabelRule:
    rotation = _rotation(_draw_angle(rng, rotate))
    scale = rng.uniform(0.5, 0.7)
    centre = rng.uniform(-0.15, 0.15, size=2)
    # The classic layout: upper half circle at (0, 0), lower one at (1, 0.5), both radius 1.
    layout_centre = np.array([0.5, 0.25])

    def score(x: np.ndarray) -> np.ndarray:
        z = (x - centre) @ rotation / scale + layout_centre
        return _arc_distance(z, np.array([1.0, 0.5]), upper=False) - _arc_distance(
            z, np.array([0.0, 0.0]), upper=True)

    return _below_median(score, calibration)


def _arc_distance(z: np.ndarray, centre: np.ndarray, upper: bool) -> np.ndarray:
    """Distance from points to the upper (lower) half of the unit circle about `centre`."""
    offset = z - centre
    on_side = offset[:, 1] >= 0 if upper else offset[:, 1] <= 0
    to_circle = np.abs(np.hypot(offset[:, 0], offset[:, 1]) - 1.0)
    to_ends = np.minimum(np.hypot(offset[:, 0] - 1.0, offset[:, 1]),
                         np.hypot(offset[:, 0] + 1.0, offset[:, 1]))
    return np.where(on_side, to_circle, to_ends)


def _circles(rng: np.random.Generator, rotate: bool, calibration: np.ndarray) -> LabelRule:
    rotation = _rotation(_draw_angle(rng, rotate))
    centre = rng.uniform(-0.35, 0.35, size=2)
    aspect = rng.uniform(0.6, 1.0) if rotate else 1.0

    def score(x: np.ndarray) -> np.ndarray:
        z = (x - centre) @ rotation
        return np.hypot(z[:, 0], z[:, 1] / aspect)

    return _below_median(score, calibration)


def _cross(rng: np.random.Generator, rotate: bool, calibration: np.ndarray) -> LabelRule:
    rotation = _rotation(_draw_angle(rng, rotate))
    centre = rng.uniform(-0.25, 0.25, size=2)

    def score(x: np.ndarray) -> np.ndarray:
        z = np.abs((x - centre) @ rotation)
        return np.minimum(z[:, 0], z[:, 1])

    return _below_median(score, calibration)


def _triangle(rng: np.random.Generator, rotate: bool, calibration: np.ndarray) -> LabelRule:
    rotation = _rotation(_draw_angle(rng, rotate))
    centre = rng.uniform(-0.2, 0.2, size=2)
    # Outward normals of an upright equilateral triangle; inside = max projection small.
    angles = np.array([-0.5, 1.0 / 6.0, 5.0 / 6.0]) * np.pi
    normals = np.stack([np.cos(angles), np.sin(angles)])

    def score(x: np.ndarray) -> np.ndarray:
        return ((x - centre) @ rotation @ normals).max(axis=1)

    return _below_median(score, calibration)


def _pie_slice(rng: np.random.Generator, rotate: bool, calibration: np.ndarray) -> LabelRule:
    direction = _draw_angle(rng, rotate)
    along = np.array([np.cos(direction), np.sin(direction)])
    across = np.array([-along[1], along[0]])
    # An apex near the side behind the opening keeps the half-area sector narrower than a
    # half plane (a sector about the centre would need 180 degrees).
    apex = -rng.uniform(0.3, 0.8) * along + rng.uniform(-0.2, 0.2) * across

    def score(x: np.ndarray) -> np.ndarray:
        z = x - apex
        turn = np.arctan2(z[:, 1], z[:, 0]) - direction
        return np.abs(np.angle(np.exp(1j * turn)))

    return _below_median(score, calibration)


def _blobs5(rng: np.random.Generator, rotate: bool, calibration: np.ndarray) -> LabelRule:
    n_blobs = 5
    rotation = _rotation(_draw_angle(rng, rotate))
    centres = _spread_points(rng, n_blobs, half_width=0.65, min_distance=0.4) @ rotation
    spreads = rng.uniform(0.2, 0.4, size=n_blobs)

    def log_density(x: np.ndarray) -> np.ndarray:
        squared = ((x[:, None, :] - centres[None]) ** 2).sum(axis=2)
        return -squared / (2 * spreads**2) - 2 * np.log(spreads)

    # Class priors (log biases) by gradient ascent on the concave dual of the balanced
    # assignment problem: raise the bias of a class while it gets less than its share; the
    # step shrinks whenever the worst share gets worse (plain steps oscillate).
    calibration_density = log_density(calibration)
    bias = np.zeros(n_blobs)
    step, best_error = 5.0, np.inf
    for _ in range(500):
        labels = np.argmax(calibration_density + bias, axis=1)
        share = np.bincount(labels, minlength=n_blobs) / len(labels)
        error = np.abs(share - 1 / n_blobs).max()
        if error < 0.004:
            break
        if error > best_error:
            step *= 0.7
        best_error = min(best_error, error)
        bias += step * (1 / n_blobs - share)

    def rule(x: np.ndarray) -> np.ndarray:
        return np.argmax(log_density(x) + bias, axis=1).astype(np.int32)

    return rule


def _spread_points(rng: np.random.Generator, n: int, half_width: float,
                   min_distance: float) -> np.ndarray:
    """n points in a square, redrawn (a bounded number of times) until none are too close."""
    for _ in range(1000):
        points = rng.uniform(-half_width, half_width, size=(n, 2))
        gaps = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
        if gaps[np.triu_indices(n, 1)].min() >= min_distance:
            break
    return points


TOY_RULES: dict[str, RuleBuilder] = {
    "xor": _threshold_rule(np.logical_xor, (-0.5, 0.5), complement=False),
    "xnor": _threshold_rule(np.logical_xor, (-0.5, 0.5), complement=True),
    "and": _threshold_rule(np.logical_and, (-0.8, -0.05), complement=False),
    "nand": _threshold_rule(np.logical_and, (-0.8, -0.05), complement=True),
    "or": _threshold_rule(np.logical_or, (0.05, 0.8), complement=False),
    "two-moons": _two_moons,
    "circles": _circles,
    "cross": _cross,
    "triangle": _triangle,
    "pie-slice": _pie_slice,
    "blobs5": _blobs5,
}


# --- the authors' own tasks (func2d) ---------------------------------------------------------
# Each builder takes the task's geometry Generator and returns (rule on uniform inputs or
# None, sampler of (x, y) or None, classes). Binary labels: the paper's +1 is class 1.

PaperTask = tuple[LabelRule | None, Sampler | None, int]
PAPER_MOON_NOISE = 0.1  # func2d.two_moon: make_moons(noise=0.1)
PAPER_BLOB_STD = 0.1  # func2d.blobs: make_blobs(cluster_std=0.1, center_box=[-1, 1])
PAPER_BLOBS = 5
PAPER_CROSS_WIDTH = 0.3  # func2d.cross: |x_i| < 0.3
PAPER_SLICE = (-0.78, 0.78)  # func2d.angular_slice: atan2(x1, x0) in [-0.78, 0.78]


def _fixed(rule: Callable[[np.ndarray, np.ndarray], np.ndarray]
           ) -> Callable[[np.random.Generator], PaperTask]:
    """A rule of (x0, x1) with nothing drawn from the task seed."""

    def build(rng: np.random.Generator) -> PaperTask:
        return (lambda x: rule(x[:, 0], x[:, 1]).astype(np.int32)), None, 2

    return build


def _paper_circle(rng: np.random.Generator) -> PaperTask:
    """func2d.circ: inside a circle, centre uniform in [-1, 1]^2, radius uniform in
    [0.2, 0.7], both from the task seed."""
    centre = rng.uniform(-1.0, 1.0, size=2)
    radius = rng.uniform(0.2, 0.7)

    def rule(x: np.ndarray) -> np.ndarray:
        return (np.hypot(x[:, 0] - centre[0], x[:, 1] - centre[1]) < radius).astype(np.int32)

    return rule, None, 2


def _paper_moons(rng: np.random.Generator) -> PaperTask:
    """func2d.two_moon: scikit-learn's make_moons (outer half circle (cos t, sin t) is class
    0, inner (1 - cos t, 0.5 - sin t) class 1, t in [0, pi], Gaussian noise 0.1), each class
    half the draws, mapped by x0 -> (x0 + 1) 2/3 - 1, x1 -> (x1 + 0.5) 2/1.5 - 1. make_moons
    spaces t evenly and func2d keeps a random third of 3n points; t uniform is that limit."""

    def sample(draw: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = draw.integers(0, 2, size=n).astype(np.int32)
        t = draw.uniform(0.0, np.pi, size=n)
        x = np.where(labels[:, None] == 0,
                     np.stack([np.cos(t), np.sin(t)], axis=1),
                     np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1))
        x = x + draw.normal(0.0, PAPER_MOON_NOISE, size=(n, 2))
        x = np.stack([(x[:, 0] + 1.0) * 2.0 / 3.0 - 1.0, (x[:, 1] + 0.5) * 2.0 / 1.5 - 1.0],
                     axis=1)
        return np.ascontiguousarray(x, dtype=np.float32), labels

    return None, sample, 2


def _paper_blobs(rng: np.random.Generator) -> PaperTask:
    """func2d.blobs: make_blobs with 5 centres uniform in [-1, 1]^2 (from the task seed; the
    paper's code draws them from its seed argument) and standard deviation 0.1; as in
    make_blobs, each draw splits its points evenly over the classes (the first n mod 5
    classes get one more), in random order."""
    centres = rng.uniform(-1.0, 1.0, size=(PAPER_BLOBS, 2))

    def sample(draw: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = draw.permutation(np.arange(n) % PAPER_BLOBS).astype(np.int32)
        x = centres[labels] + draw.normal(0.0, PAPER_BLOB_STD, size=(n, 2))
        return np.ascontiguousarray(x, dtype=np.float32), labels

    return None, sample, PAPER_BLOBS


PAPER_TASKS: dict[str, Callable[[np.random.Generator], PaperTask]] = {
    "paper-xor": _fixed(lambda a, b: a * b > 0),  # sign(x0 x1) = +1
    "paper-nxor": _fixed(lambda a, b: a * b < 0),
    "paper-and": _fixed(lambda a, b: (a > 0) & (b > 0)),
    "paper-or": _fixed(lambda a, b: (a > 0) | (b > 0)),
    "paper-qand": _fixed(lambda a, b: (a < 0) & (b > 0)),
    "paper-two-moons": _paper_moons,
    "paper-circles": _paper_circle,
    "paper-cross": _fixed(lambda a, b: (np.abs(a) < PAPER_CROSS_WIDTH)
                          | (np.abs(b) < PAPER_CROSS_WIDTH)),
    "paper-triangle": _fixed(lambda a, b: (a + b < 1) & (b - a < 1) & (b > -0.5)),
    "paper-pie-slice": _fixed(lambda a, b: (np.arctan2(b, a) >= PAPER_SLICE[0])
                              & (np.arctan2(b, a) <= PAPER_SLICE[1])),
    "paper-blobs5": _paper_blobs,
}
"""The authors' func2d tasks: inputs uniform in [-1, 1]^2 (two-moons and blobs5: drawn
around their shapes), unbalanced as they fall."""
