"""The lessons: one named scene per claim of the course.

A lesson sets a whole scene in one click, so it also has its own link: its
scene's query, which ends in ``lesson=KEY``. ``tests/test_lessons.py`` runs
every lesson through the engine and checks, with numbers, what its summary
promises.
"""

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from lab.scene import Racer, Scene, scene_to_query
from landscapes import SURFACES, Surface

__all__ = ["LESSONS", "Lesson", "basin_counts"]


@dataclass(frozen=True)
class Lesson:
    """A named scene with what to watch for in it."""

    key: str
    title: str
    summary: str
    """Two or three sentences on what the scene shows and why."""
    scene: Scene
    """The whole scene; its ``lesson`` field is ``key``."""
    watch_for: tuple[str, ...]
    """Short cues, one per thing to look at while the scene plays."""

    def query(self) -> dict[str, str]:
        """Return the query string of the lesson's link."""
        return scene_to_query(self.scene)


def nearest_minima(
    surface: Surface | str, params, points: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """Return the distinct labels of the surface's minima and, for each point,
    the index of the minimum nearest to it in Euclidean distance.

    Labels that two minima share get the minimum's coordinates appended.
    """
    if isinstance(surface, str):
        surface = SURFACES[surface]
    minima = surface.minima(dict(params or ()))
    labels = [m.label for m in minima]
    for index, minimum in enumerate(minima):
        if labels.count(minimum.label) > 1:
            labels[index] = f"{minimum.label} at ({minimum.x:.3g}, {minimum.y:.3g})"
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    centres = np.array([(m.x, m.y) for m in minima])
    distances = np.hypot(
        points[:, None, 0] - centres[None, :, 0],
        points[:, None, 1] - centres[None, :, 1],
    )
    return labels, np.argmin(distances, axis=1)


def basin_counts(
    surface: Surface | str,
    params,
    final_positions: np.ndarray,
    diverged: np.ndarray | None = None,
) -> dict[str, int]:
    """Count the particles that end nearest each listed minimum of ``surface``.

    Each final position goes to the minimum of ``surface.minima(params)`` that is
    closest in Euclidean distance. On ``sharp_flat`` the two minima lie on the
    x-axis, so this splits at x ≈ −0.026, halfway between them. A particle that
    has not converged is counted by where it stopped, and particles flagged in
    ``diverged`` (a step index ≥ 0, as in ``Run.diverged_at``) are counted as
    ``"diverged"`` instead. Labels that two minima share get the minimum's
    coordinates appended, so every key is distinct. ``params`` is a dict, a
    tuple of (name, value) pairs or None.
    """
    labels, nearest = nearest_minima(surface, params, final_positions)
    points = np.asarray(final_positions, dtype=np.float64).reshape(-1, 2)
    diverged_mask = np.zeros(len(points), dtype=bool)
    if diverged is not None:
        diverged_mask = np.asarray(diverged) >= 0
    counts = {
        label: int(np.sum((nearest == i) & ~diverged_mask))
        for i, label in enumerate(labels)
    }
    if diverged is not None:
        counts["diverged"] = int(diverged_mask.sum())
    return counts


def _lesson(key, title, summary, watch_for, **scene) -> Lesson:
    return Lesson(key, title, summary, Scene(lesson=key, **scene), tuple(watch_for))


_RAVINE = _lesson(
    "ravine",
    "Momentum in a ravine",
    "On the ravine J = (x² + κy²)/2 with κ = 50, plain gradient descent is stable "
    "only for η < 2/κ = 0.04. At η = 0.038 SGD crosses the steep y-direction on "
    "every step, zigzagging from wall to wall, while it creeps along the gentle "
    "x-direction. Momentum with γ = 0.9 and a ten times smaller η averages the "
    "zigzags away and builds up speed along the valley, so it reaches the minimum "
    "first.",
    (
        "SGD's y changes sign on every step.",
        "Momentum's path is smooth and curves into the valley.",
        "In the loss plot, momentum's curve drops faster.",
    ),
    surface="ravine",
    steps=200,
    racers=(
        Racer("sgd", lr=0.038),
        Racer("momentum", lr=0.004, momentum=0.9),
    ),
)

_ADAM_RESCALES = _lesson(
    "adam_rescales",
    "Adam rescales each coordinate",
    "On Rosenbrock's curved valley the gradient is steep across the valley and "
    "nearly flat along it. SGD's step is η times the gradient, so a η small enough "
    "for the walls leaves it crawling along the floor; momentum speeds this up. "
    "Adam divides each coordinate of the step by that coordinate's running gradient "
    "size, so its first step is η in x and in y alike, and later steps stay near or "
    "below η in each coordinate, whatever the gradient's size there.",
    (
        "Adam's first step goes diagonally: the same distance in x and in y.",
        "SGD's steps shrink to almost nothing once it reaches the valley floor.",
        "Compare the final losses in the loss plot.",
    ),
    surface="rosenbrock",
    steps=500,
    racers=(
        Racer("sgd", lr=0.001),
        Racer("momentum", lr=0.0005, momentum=0.9),
        Racer("adam", lr=0.1),
    ),
)

_BIAS_CORRECTION = _lesson(
    "bias_correction",
    "Adam's bias correction",
    "Adam's averages m and v start at zero. Without correction, the first step is "
    "(1 − β1)/√(1 − β2) ≈ 3.2 times η in each coordinate with β1 = 0.9 and "
    "β2 = 0.999, and along the gentle slope of the ravine the steps grow to about "
    "6η by step 10 and stay above 3η for the first 20 steps. Dividing m by 1 − β1ᵗ "
    "and v by 1 − β2ᵗ removes that start-up bias, so the corrected steps are about "
    "η from the first one. On this gentle valley the larger uncorrected steps happen "
    "to reach a lower loss sooner: the correction is about predictable step sizes, "
    "which matter where large early steps would overshoot.",
    (
        "Watch the first steps: the uncorrected line runs ahead with much longer "
        "strides.",
        "The learning rate you set is the same for both lines.",
    ),
    surface="ravine",
    steps=300,
    racers=(
        Racer("adam", lr=0.02),
        Racer("adam", lr=0.02, bias_correction=False),
    ),
)

_DECAY = _lesson(
    "decay",
    "Learning-rate decay",
    "With mini-batch noise, each step follows a noisy gradient, so a constant large "
    "η keeps the particle bouncing around the minimum at a distance that scales "
    "with η. Step decay (η × 0.3 every 100 steps) and cosine annealing shrink η "
    "towards the end, and the particle settles close to the minimum.",
    (
        "The constant-η line keeps jittering near the minimum until the end.",
        "The decayed lines calm down as η falls; see the learning-rate plot.",
    ),
    surface="ravine",
    steps=400,
    noise=0.3,
    samples=64,
    racers=(
        Racer("sgd", lr=0.035, batch_size=1),
        Racer("sgd", lr=0.035, batch_size=1, schedule="step", step_factor=0.3),
        Racer("sgd", lr=0.035, batch_size=1, schedule="cosine"),
    ),
)

_WARMUP = _lesson(
    "warmup",
    "Learning-rate warm-up",
    "Started high on Rosenbrock's wall at (−1.5, 2.1), the surface is about twice "
    "as sharp as at the minimum (largest curvature about 2060 against 1000). With "
    "γ = 0.9, momentum at η = 0.003 is stable only where the curvature is below "
    "2(1 + γ)/η ≈ 1270, so from step 0 it blows up, while a 50-step linear warm-up "
    "to the same η reaches the valley first and converges. Adam's steps are about "
    "η in every coordinate from the first step, so at η = 0.3 it leaps across the "
    "narrow valley and its loss jumps to about 11 times its start; warmed up, its "
    "loss never rises above the start. Warm-up makes no difference on the ravine "
    "for SGD or momentum: its curvature is the same everywhere, so an η is either "
    "stable from the first step or never.",
    (
        "Momentum without warm-up leaves the surface within a few steps.",
        "Adam without warm-up jumps across the valley on its first step.",
        "Both warmed-up lines start slowly, then follow the valley to (1, 1).",
    ),
    surface="rosenbrock",
    start=(-1.5, 2.1),
    steps=500,
    racers=(
        Racer("momentum", lr=0.003, momentum=0.9),
        Racer("momentum", lr=0.003, momentum=0.9, warmup_steps=50),
        Racer("adam", lr=0.3),
        Racer("adam", lr=0.3, warmup_steps=50),
    ),
)

_SHARP_FLAT = _lesson(
    "sharp_flat",
    "Sharp and flat minima",
    "A cloud of 100 particles starts between a sharp well (left) and a flat well "
    "(right) of similar depth. The mini-batch gradients of SGD with batch 2 are "
    "noisy, and in the narrow well that noise is strong enough to kick particles "
    "out, so most end in the flat well; full-batch descent from the same starts "
    "stays wherever it first rolled. The flat well also has the lower test loss: "
    "shifting the data moves a narrow well out from under the particle. Adam at "
    "η = 0.05 with the same batches ends much like full-batch descent: its steps "
    "stay below about 1.5η, too short for the noise to kick it out. Raised to "
    "η = 0.3, Adam too ends mostly in the flat well.",
    (
        "Count the particles in each well at the end.",
        "Compare the test losses of the two wells in the loss plot.",
    ),
    surface="sharp_flat",
    start=(-1.0, 0.0),
    particles=100,
    spread=0.4,
    steps=200,
    noise=0.3,
    samples=32,
    racers=(
        Racer("sgd", lr=0.3, batch_size=2),
        Racer("sgd", lr=0.3, batch_size=32),
        Racer("adam", lr=0.05, batch_size=2),
    ),
)

LESSONS = MappingProxyType(
    {
        lesson.key: lesson
        for lesson in (
            _RAVINE,
            _ADAM_RESCALES,
            _BIAS_CORRECTION,
            _DECAY,
            _WARMUP,
            _SHARP_FLAT,
        )
    }
)
"""Every lesson by key, in course order."""
