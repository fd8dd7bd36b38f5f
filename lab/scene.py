"""The scene: every setting that defines what is on screen, and its link format.

A :class:`Scene` is an immutable, hashable value, so it can key a cache. The
page reads it from the URL query string with :func:`scene_from_query` and
writes it back with :func:`scene_to_query`. Both live here, so validation and
clamping happen in one place. A value equal to its default is left out of
the query, so the default scene has an empty query and links stay short.

Query format. Floats are written with ``repr`` so they read back bit for bit;
booleans are ``1`` or ``0``; lists are comma-separated.

==========  ==============================================================
key         meaning
==========  ==============================================================
``s``       surface: a key of ``landscapes.SURFACES`` or ``formula``
``f``       the typed formula J(x, y), used when ``s=formula``
``win``     window of the formula surface: ``x0,x1,y0,y1``
``sp``      surface parameters that differ from their default: ``kappa:100``
``start``   start point ``x,y``; omitted means the surface's default start
``n``       number of particles; more than 1 draws a Gaussian cloud
``spread``  standard deviation of the start cloud
``seed``    seed of the start cloud, the training set and the mini-batches
``steps``   number of steps
``noise``   spread s of the mini-batch noise model; 0 means exact gradients
``samples`` training-set size n of the noise model
``o``       the racers' optimizers, e.g. ``o=sgd,momentum,adam``
``view``    ``contour``, ``3d`` or ``both``
``arrows``  gradient arrows on the contour plot
``present`` presentation mode (large fonts)
``lesson``  key of ``lab.lessons.LESSONS``
==========  ==============================================================

Each racer's own settings use a key followed by the racer's index, counted
from 0: ``lr0=0.038`` sets η of the first racer, ``sch2=cosine`` the schedule
of the third. The keys are listed in :data:`RACER_FIELDS`: ``lr`` (η), ``g``
(momentum γ), ``bm`` (β1), ``bv`` (β2), ``eps`` (ε), ``wd`` (weight decay),
``bc`` (bias correction), ``sch`` (schedule), ``lrmin``, ``ss`` (step size),
``sf`` (step factor), ``dr`` (decay rate), ``rp`` (restart period), ``rm``
(restart multiplier), ``pct`` (one-cycle rising share), ``wu`` (warm-up
steps) and ``bs`` (batch size, 0 = full batch). When ``o`` is present, a
racer's unset keys take the defaults of :class:`Racer`; without ``o`` the
racers are :data:`DEFAULT_RACERS` and index keys change those.

A link with ``lesson=KEY`` and no other key than ``view``, ``arrows`` and
``present`` opens that lesson's whole scene. A link whose other keys make a
scene that differs from the lesson's keeps its own scene without the lesson.

Reading never raises. Each invalid value (not a number, out of range, not
finite, an unknown name, too long, given twice, …) is replaced by a valid
one, and :func:`scene_from_query` returns one plain-language message per
replacement. Quoted values in messages keep only letters, digits and a few
safe punctuation marks, so they cannot inject Markdown or LaTeX into the page.
"""

import logging
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from landscapes import SURFACES
from optimizers import OPTIMIZERS, SCHEDULES, cloud

__all__ = [
    "APP_LIMITS",
    "DEFAULT_RACERS",
    "DEFAULT_WINDOW",
    "FORMULA",
    "FieldSpec",
    "RACER_FIELDS",
    "SCENE_FIELDS",
    "Racer",
    "Scene",
    "TEST_SAMPLES",
    "VIEWS",
    "VIEW_FIELDS",
    "scene_from_query",
    "scene_to_query",
]

logger = logging.getLogger(__name__)

FORMULA = "formula"
"""The ``surface`` value of a scene that shows a typed formula."""

DEFAULT_WINDOW = (-3.0, 3.0, -3.0, 3.0)
"""Window (x0, x1, y0, y1) of a formula surface whose scene sets none."""

VIEWS = ("contour", "3d", "both")

APP_LIMITS = {
    "steps": 2000,
    "particles": 500,
    "racers": 6,
    "samples": 256,
    "formula_length": 300,
    "value_length": 400,
    "window_extent": 1000.0,
}
"""Ceilings that keep a shared server responsive.

The engine's own ``optimizers.LIMITS`` are far larger; these bound what a link
or a control may ask of one page. ``value_length`` is the longest query value
read at all, ``window_extent`` the largest |coordinate| of a formula window.
"""

TEST_SAMPLES = 32
"""Size of the test set that :meth:`Racer.simulate_kwargs` requests from the engine.

The engine evaluates the test loss over every test sample at every recorded
step, which dominates the run time of a noisy scene. One SGD racer with 200
particles × 300 steps on the sharp-flat surface took about 200 ms with the
engine's default of 256 test samples and about 50 ms with 32 (2-core AMD EPYC
server, Numba 0.68). The test losses of the two wells there differ by about
0.5, far more than the error of a 32-sample mean.
"""


@dataclass(frozen=True)
class Racer:
    """One optimizer line in the scene: the optimizer and its own settings."""

    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    bias_correction: bool = True
    schedule: str = "constant"
    lr_min: float = 0.0
    step_size: int = 100
    step_factor: float = 0.5
    decay_rate: float = 0.99
    restart_period: int = 100
    restart_mult: int = 1
    pct_start: float = 0.3
    warmup_steps: int = 0
    batch_size: int = 0
    """Mini-batch size when the scene's noise is on; 0 means the full batch."""

    def label(self, scene: "Scene | None" = None) -> str:
        """Return a short legend label, e.g. ``SGD η=0.038 batch 4``.

        With ``scene``, the batch is named only when the scene's noise is on,
        and a batch as large as the training set reads "full batch".
        """
        spec = OPTIMIZERS.get(self.optimizer)
        parts = [f"{spec.title if spec else self.optimizer} η={_short(self.lr)}"]
        if self.optimizer in ("momentum", "nesterov"):
            parts.append(f"γ={_short(self.momentum)}")
        if self.optimizer in ("adam", "adamw", "rmsprop") and not self.bias_correction:
            parts.append("(no bias correction)")
        if self.schedule != "constant":
            schedule = SCHEDULES.get(self.schedule)
            parts.append(schedule.title.lower() if schedule else self.schedule)
        if self.warmup_steps > 0:
            parts.append(f"warm-up {self.warmup_steps}")
        if scene is None:
            if self.batch_size > 0:
                parts.append(f"batch {self.batch_size}")
        elif scene.noise > 0.0:
            if 0 < self.batch_size < scene.samples:
                parts.append(f"batch {self.batch_size}")
            else:
                parts.append("full batch")
        return " ".join(parts)

    def simulate_kwargs(self, scene: "Scene", record_every: int = 1) -> dict:
        """Return the keyword arguments of ``optimizers.simulate`` for this racer.

        The surface and the optimizer are not included: call
        ``simulate(surface, racer.optimizer, **racer.simulate_kwargs(scene))``.
        Settings that depend on others are fitted here, so a scene built by
        controls always runs. ``lr_min`` is capped at η and step counts at the
        scene's steps. A batch size of 0 or above the training set becomes the
        full batch, and the noise is capped at the window's longer side.
        """
        steps = scene.steps
        samples = scene.samples
        batch = samples if self.batch_size <= 0 else min(self.batch_size, samples)
        x0, x1, y0, y1 = scene.window_bounds()
        return {
            "starts": scene.starts(),
            "steps": steps,
            "lr": self.lr,
            "momentum": self.momentum,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "bias_correction": self.bias_correction,
            "schedule": self.schedule,
            "warmup_steps": min(self.warmup_steps, steps),
            "lr_min": min(self.lr_min, self.lr),
            "step_size": min(self.step_size, steps),
            "step_factor": self.step_factor,
            "decay_rate": self.decay_rate,
            "restart_period": min(self.restart_period, steps),
            "restart_mult": self.restart_mult,
            "pct_start": self.pct_start,
            "noise": min(scene.noise, max(x1 - x0, y1 - y0)),
            "samples": samples,
            "batch_size": batch,
            "test_samples": TEST_SAMPLES,
            "seed": scene.seed,
            "record_every": max(1, min(record_every, steps)),
            "surface_params": dict(scene.surface_params) or None,
        }


DEFAULT_RACERS = (
    Racer("sgd", lr=0.03),
    Racer("momentum", lr=0.004, momentum=0.9),
    Racer("adam", lr=0.1),
)
"""SGD, momentum and Adam, with η suited to the default ravine (κ = 50).

SGD is stable there for η < 2/κ = 0.04, so η = 0.03 zigzags visibly.
"""


@dataclass(frozen=True)
class Scene:
    """Everything that defines what is on screen; parsed from and written to links."""

    surface: str = "ravine"
    surface_params: tuple[tuple[str, float], ...] = ()
    """Surface parameters that differ from their default, sorted by name."""
    formula: str = ""
    """The typed formula J(x, y), used when ``surface`` is ``"formula"``."""
    window: tuple[float, float, float, float] | None = None
    """Window (x0, x1, y0, y1) of a formula surface; None means DEFAULT_WINDOW."""
    start: tuple[float, float] | None = None
    """Start point; None means the surface's default start."""
    particles: int = 1
    spread: float = 0.3
    seed: int = 0
    steps: int = 300
    noise: float = 0.0
    samples: int = 64
    racers: tuple[Racer, ...] = DEFAULT_RACERS
    view: str = "contour"
    arrows: bool = False
    presentation: bool = False
    lesson: str = ""

    def window_bounds(self) -> tuple[float, float, float, float]:
        """Return the window (x0, x1, y0, y1) the scene's surface is shown in."""
        surface = SURFACES.get(self.surface)
        if surface is not None:
            return surface.window
        return self.window or DEFAULT_WINDOW

    def start_point(self) -> tuple[float, float]:
        """Return the start: the scene's own, the surface's default or the centre.

        A formula surface has no default start, so its window's centre is used.
        """
        if self.start is not None:
            return self.start
        surface = SURFACES.get(self.surface)
        if surface is not None:
            return surface.default_start
        x0, x1, y0, y1 = self.window or DEFAULT_WINDOW
        return ((x0 + x1) / 2, (y0 + y1) / 2)

    def starts(self) -> np.ndarray:
        """Return the (n, 2) starts: the single start or a seeded Gaussian cloud.

        Cloud points that fall outside the window are moved to its nearest edge,
        so every particle starts in view and inside the engine's allowed box.
        """
        point = self.start_point()
        if self.particles <= 1:
            return np.array([point], dtype=np.float64)
        points = cloud(point, self.particles, self.spread, self.seed)
        x0, x1, y0, y1 = self.window_bounds()
        return np.column_stack(
            [np.clip(points[:, 0], x0, x1), np.clip(points[:, 1], y0, y1)]
        )

    def simulate_kwargs(self, racer: Racer, record_every: int = 1) -> dict:
        """Return the keyword arguments of ``optimizers.simulate`` for ``racer``."""
        return racer.simulate_kwargs(self, record_every)

    def labels(self) -> list[str]:
        """Return one legend label per racer, numbered where two would be equal."""
        labels = [racer.label(self) for racer in self.racers]
        return [
            f"{label} (racer {index + 1})" if labels.count(label) > 1 else label
            for index, label in enumerate(labels)
        ]


# ---------------------------------------------------------------------------
# Field tables


@dataclass(frozen=True)
class FieldSpec:
    """Query key, message wording, allowed range and widget steps of one setting.

    The link reader clamps into ``low``..``high`` and the page's widgets take
    their range from the same numbers, so every link the reader accepts can be
    shown by the widgets.
    """

    attr: str
    """Attribute of :class:`Scene` or :class:`Racer`."""
    key: str
    """Query key; a racer's key is followed by the racer's index."""
    words: str
    """Plain-language name used in messages."""
    kind: str
    """``float``, ``int``, ``bool`` or ``choice``."""
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    """Slider step; None leaves Streamlit's default (1 for ints, 0.01 for floats)."""
    format: str | None = None
    """printf-style display format of the widget, e.g. ``%.3f``."""
    per_decade: int = 0
    """Options per power of ten of a log-scale slider; 0 means a linear slider."""
    at_most: str = ""
    """Setting that caps this one: an attribute of the same racer, else the scene's.

    ``low`` and ``high`` stay the fixed bounds, and the widget's maximum is the
    cap. The link reader lowers a value that the link sets above its cap, with
    a message. A default above its cap, such as the step size 100 in a 50-step
    run, is kept because :meth:`Racer.simulate_kwargs` runs it as the cap.
    """


_STEPS = APP_LIMITS["steps"]
_SAMPLES = APP_LIMITS["samples"]

RACER_FIELDS = (
    FieldSpec("lr", "lr", "learning rate η", "float", 1e-5, 1.0, format="%.3g",
              per_decade=24),
    FieldSpec("momentum", "g", "momentum γ", "float", 0.0, 0.999, 0.001, "%.3f"),
    FieldSpec("beta1", "bm", "β1", "float", 0.0, 0.999, 0.001, "%.3f"),
    FieldSpec("beta2", "bv", "β2", "float", 0.0, 0.9999, 0.0001, "%.4f"),
    FieldSpec("eps", "eps", "ε", "float", 1e-12, 0.1, format="%.0e", per_decade=1),
    FieldSpec("weight_decay", "wd", "weight decay", "float", 0.0, 0.5, 0.001, "%.3f"),
    FieldSpec("bias_correction", "bc", "bias correction", "bool"),
    FieldSpec("schedule", "sch", "learning-rate schedule", "choice"),
    FieldSpec("lr_min", "lrmin", "minimum learning rate", "float", 0.0, 1.0,
              format="%.3g", per_decade=6, at_most="lr"),
    FieldSpec("step_size", "ss", "steps between decays", "int", 1, _STEPS,
              at_most="steps"),
    FieldSpec("step_factor", "sf", "decay factor", "float", 0.01, 1.0, 0.01),
    FieldSpec("decay_rate", "dr", "decay rate per step", "float", 0.9, 1.0, 0.0005,
              "%.4f"),
    FieldSpec("restart_period", "rp", "restart period", "int", 1, _STEPS,
              at_most="steps"),
    FieldSpec("restart_mult", "rm", "restart period multiplier", "int", 1, 4),
    FieldSpec(
        "pct_start",
        "pct",
        "share of steps the one-cycle schedule spends rising",
        "float",
        0.05,
        0.95,
        0.05,
    ),
    FieldSpec("warmup_steps", "wu", "warm-up steps", "int", 0, _STEPS,
              at_most="steps"),
    FieldSpec("batch_size", "bs", "batch size", "int", 0, _SAMPLES,
              at_most="samples"),
)
"""The racer settings, in the order they are written to the query."""

SCENE_FIELDS = (
    FieldSpec(
        "particles", "n", "number of particles", "int", 1, APP_LIMITS["particles"]
    ),
    FieldSpec("spread", "spread", "spread of the start cloud", "float", 0.0, 2.0, 0.05),
    FieldSpec("seed", "seed", "random seed", "int", 0, 2**31 - 1),
    FieldSpec("steps", "steps", "number of steps", "int", 1, _STEPS),
    FieldSpec("noise", "noise", "mini-batch noise", "float", 0.0, 1.0, 0.01),
    FieldSpec("samples", "samples", "training-set size", "int", 1, _SAMPLES),
    FieldSpec("view", "view", "view", "choice"),
    FieldSpec("arrows", "arrows", "gradient arrows", "bool"),
    FieldSpec("presentation", "present", "presentation mode", "bool"),
    FieldSpec("lesson", "lesson", "lesson", "choice"),
)
"""The scalar scene settings, in the order they are written to the query."""

VIEW_FIELDS = ("view", "arrows", "presentation")
"""Scene attributes that change how a scene is shown but not what is simulated."""

_RACER_BY_KEY = {spec.key: spec for spec in RACER_FIELDS}
_CAP_WORDS = {
    "lr": "its learning rate",
    "steps": "the number of steps",
    "samples": "the training-set size",
}
_RACER_KEY = re.compile(r"([a-z]+)(0|[1-9][0-9]{0,2})")
_MAX_KEY_LENGTH = 40
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _lesson_keys() -> tuple[str, ...]:
    # Imported here because lab.lessons builds its scenes from this module.
    from lab.lessons import LESSONS

    return tuple(LESSONS)


def _choices(spec: FieldSpec) -> tuple[str, ...]:
    if spec.attr == "schedule":
        return tuple(SCHEDULES)
    if spec.attr == "view":
        return VIEWS
    return ("", *_lesson_keys())


# ---------------------------------------------------------------------------
# Writing


def _format(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return str(value)


def _write_changed(query, value, baseline, specs, suffix: str = "") -> None:
    """Write each field of ``value`` that differs from ``baseline`` to ``query``."""
    for spec in specs:
        current = getattr(value, spec.attr)
        if current != getattr(baseline, spec.attr):
            query[f"{spec.key}{suffix}"] = _format(current)


def scene_to_query(scene: Scene) -> dict[str, str]:
    """Return the query-string parameters of ``scene``, defaults left out."""
    default = Scene()
    query: dict[str, str] = {}
    if scene.surface != default.surface:
        query["s"] = scene.surface
    if scene.formula:
        query["f"] = scene.formula
    if scene.window is not None:
        query["win"] = ",".join(_format(float(v)) for v in scene.window)
    if scene.surface_params:
        query["sp"] = ",".join(
            f"{name}:{_format(float(value))}" for name, value in scene.surface_params
        )
    if scene.start is not None:
        query["start"] = ",".join(_format(float(v)) for v in scene.start)

    # Numbers first, then the racers, then the view and the lesson, so that a
    # link reads from what is simulated to how it is shown.
    numbers = [spec for spec in SCENE_FIELDS if spec.kind in ("int", "float")]
    others = [spec for spec in SCENE_FIELDS if spec not in numbers]
    _write_changed(query, scene, default, numbers)
    if scene.racers != DEFAULT_RACERS:
        query["o"] = ",".join(racer.optimizer for racer in scene.racers)
        for index, racer in enumerate(scene.racers):
            baseline = Racer(optimizer=racer.optimizer)
            _write_changed(query, racer, baseline, RACER_FIELDS, str(index))
    _write_changed(query, scene, default, others)
    return query


# ---------------------------------------------------------------------------
# Reading


def _short(value: float) -> str:
    """Format a number for people: 0.038, 2000, 1e-8."""
    text = f"{value:.6g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def _quote(text: str, limit: int = 30) -> str:
    """Quote a value from the link for a message, keeping only safe characters."""
    safe = "".join(
        ch if (ch.isalnum() or ch in " .,+-_:") else "?" for ch in text[:limit]
    )
    if len(text) > limit:
        safe += "…"
    return f"'{safe}'"


def _on_off(value: bool) -> str:
    return "on" if value else "off"


def _describe(spec: FieldSpec, value) -> str:
    """Describe a field's value for a message: a number, on or off, or a name."""
    if spec.kind == "bool":
        return _on_off(value)
    if spec.kind == "choice":
        if spec.attr == "schedule":
            return SCHEDULES[value].title
        return value or "none"
    return _short(value)


class _Reader:
    """Parse values from a normalised query and collect one message per fix."""

    def __init__(self, values: dict[str, str], messages: list[str]):
        self.values = values
        self.messages = messages

    def take(self, key: str, words: str, replacement: str) -> str | None:
        """Remove and return the raw value of ``key``; None when absent or too long.

        ``replacement`` describes what is used instead, for the message about a
        value that is too long to read.
        """
        text = self.values.pop(key, None)
        if text is None:
            return None
        limit = APP_LIMITS["value_length"]
        if len(text) > limit:
            self.messages.append(
                f"The link's value for the {words} is {len(text)} characters long, "
                f"more than the {limit} allowed; using {replacement} instead."
            )
            return None
        return text

    def fix(self, words: str, text: str, reason: str, replacement: str) -> None:
        if text.strip() == "":
            self.messages.append(
                f"The link left the {words} empty; using {replacement} instead."
            )
        else:
            self.messages.append(
                f"The link set the {words} to {_quote(text)}, {reason}; "
                f"using {replacement} instead."
            )

    def number(self, text: str, spec: FieldSpec, words: str, default):
        """Parse ``text`` as the field's number, clamped into its range."""
        integer = spec.kind == "int"
        value, reason = _parse_number(text, integer)
        if value is None:
            self.fix(words, text, reason, _short(default))
            return default
        if value < spec.low or value > spec.high:
            bound = spec.low if value < spec.low else spec.high
            bound = int(bound) if integer else float(bound)
            side = "below the minimum" if value < spec.low else "above the maximum"
            self.messages.append(
                f"The link set the {words} to {_short(value)}, {side} "
                f"{_short(bound)}; using {_short(bound)} instead."
            )
            return bound
        return value

    def flag(self, text: str, words: str, default: bool) -> bool:
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        self.fix(words, text, "which is neither on (1) nor off (0)", _on_off(default))
        return default

    def choice(self, text: str, words: str, choices, default: str, titles=None):
        lowered = text.strip().lower()
        if lowered in choices:
            return lowered
        listed = ", ".join(c for c in choices if c)
        replacement = (titles or {}).get(default, default) or "none"
        self.fix(words, text, f"which is not one of: {listed}", replacement)
        return default

    def read(self, key: str, spec: FieldSpec, words: str, default):
        """Read ``key`` as ``spec`` describes; absent keys keep ``default``."""
        text = self.take(key, words, _describe(spec, default))
        if text is None:
            return default
        if spec.kind in ("int", "float"):
            return self.number(text, spec, words, default)
        if spec.kind == "bool":
            return self.flag(text, words, default)
        titles = None
        if spec.attr == "schedule":
            titles = {k: s.title for k, s in SCHEDULES.items()}
        return self.choice(text, words, _choices(spec), default, titles)


def _parse_number(text: str, integer: bool) -> tuple[float | int | None, str]:
    stripped = text.strip()
    if len(stripped) > 60:
        return None, "which is too long to be a number"
    try:
        value = float(stripped)
    except ValueError:
        return None, "which is not a number"
    if not math.isfinite(value):
        return None, "which is not a finite number"
    if not integer:
        return value, ""
    try:
        whole = int(stripped)
    except ValueError:
        if not value.is_integer():
            return None, "which is not a whole number"
        whole = int(value)
    return whole, ""


def _parse_numbers(text: str, count: int) -> list[float] | None:
    parts = text.split(",")
    if len(parts) != count:
        return None
    numbers = []
    for part in parts:
        value, _ = _parse_number(part, integer=False)
        if value is None:
            return None
        numbers.append(float(value))
    return numbers


def _normalise(query, messages: list[str]) -> tuple[dict[str, str], list[str]]:
    """Map each key to its last value as a string; also return the too-long keys."""
    values: dict[str, str] = {}
    unreadable: list[str] = []
    try:
        items = list(query.items())
    except AttributeError:
        messages.append(
            "The link's settings are in a form the page cannot read; "
            "using the defaults."
        )
        return values, unreadable
    for raw_key, raw_value in items:
        key = raw_key if isinstance(raw_key, str) else str(raw_key)
        if len(key) > _MAX_KEY_LENGTH:
            unreadable.append(key)
            continue
        if isinstance(raw_value, list | tuple):
            if not raw_value:
                continue
            if len(raw_value) > 1:
                messages.append(
                    f"The link gave the setting {_quote(key)} {len(raw_value)} "
                    "times; using the last one."
                )
            raw_value = raw_value[-1]
        if raw_value is None:
            raw_value = ""
        values[key] = raw_value if isinstance(raw_value, str) else str(raw_value)
    return values, unreadable


def scene_from_query(
    query: Mapping[str, str | list[str]],
) -> tuple[Scene, list[str]]:
    """Parse a URL query into a valid scene and messages about what was replaced.

    ``query`` maps keys to a string or a list of strings (the last one counts),
    as ``st.query_params`` gives them. Never raises: every invalid value is
    replaced by its default or clamped into range, with one message each.
    """
    messages: list[str] = []
    try:
        return _scene_from_query(query, messages), messages
    except Exception:  # a last guard: a broken link must never break the page
        logger.exception("reading the scene from the query %.500r failed", query)
        return Scene(), [*messages, "The link could not be read; showing the default."]


def _scene_from_query(query, messages: list[str]) -> Scene:
    values, unknown = _normalise(query, messages)
    link_keys = set(values)
    reader = _Reader(values, messages)
    default = Scene()
    surface, formula, window = _read_surface(reader, default)
    params = _read_surface_params(reader, surface)
    start = _read_start(reader, surface, window)
    scalars = {
        spec.attr: reader.read(spec.key, spec, spec.words, getattr(default, spec.attr))
        for spec in SCENE_FIELDS
    }
    racers = _read_racers(reader, scalars)
    unknown.extend(reader.values)
    if unknown:
        names = ", ".join(_quote(key, 20) for key in sorted(unknown)[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        messages.append(
            f"The link contains settings this page does not know ({names}{more}); "
            "they were ignored."
        )
    scene = Scene(
        surface=surface,
        surface_params=params,
        formula=formula,
        window=window,
        start=start,
        racers=racers,
        **scalars,
    )
    view_keys = {spec.key for spec in SCENE_FIELDS if spec.attr in VIEW_FIELDS}
    scene_keys = link_keys - set(reader.values) - view_keys - {"lesson"}
    view_settings = {
        spec.attr: scalars[spec.attr]
        for spec in SCENE_FIELDS
        if spec.attr in VIEW_FIELDS and spec.key in link_keys
    }
    return _match_lesson(scene, bool(scene_keys), view_settings, messages)


def _match_lesson(
    scene: Scene, has_scene_keys: bool, view_settings: dict, messages: list[str]
) -> Scene:
    """Fit a linked lesson and the linked scene together.

    A link that names a lesson and sets nothing but view settings gets the
    lesson's whole scene with those view settings. A link whose scene differs
    from the lesson's in anything other than the view settings keeps its own
    scene and drops the lesson, because the lesson's text would describe a
    scene that is not shown.
    """
    if not scene.lesson:
        return scene
    from lab.lessons import LESSONS

    lesson = LESSONS[scene.lesson]
    if not has_scene_keys:
        return replace(lesson.scene, **view_settings)
    hidden_view = {attr: getattr(Scene(), attr) for attr in VIEW_FIELDS}
    if replace(scene, **hidden_view) == replace(lesson.scene, **hidden_view):
        return scene
    messages.append(
        f"The link changes the scene of the lesson '{lesson.title}', so the page "
        "shows the link's scene without the lesson."
    )
    return replace(scene, lesson="")


def _read_surface(reader: _Reader, default: Scene):
    titles = {key: s.title for key, s in SURFACES.items()}
    titles[FORMULA] = "a typed formula"
    surface = default.surface
    text = reader.take("s", "surface", "the Ravine")
    if text is not None:
        surface = reader.choice(
            text, "surface", (*SURFACES, FORMULA), default.surface, titles
        )

    formula = ""
    text = reader.take("f", "formula", "no formula")
    if text is not None:
        if len(text) > APP_LIMITS["formula_length"]:
            reader.messages.append(
                f"The link gave a formula of {len(text)} characters, more than the "
                f"{APP_LIMITS['formula_length']} allowed; it was ignored."
            )
        elif any(unicodedata.category(ch) == "Cc" for ch in text):
            reader.messages.append(
                "The link gave a formula with control characters in it; it was ignored."
            )
        else:
            formula = text

    if surface == FORMULA and not formula.strip():
        reader.messages.append(
            "The link chose a typed formula but gave none; showing the "
            f"{titles[default.surface]} surface instead."
        )
        surface = default.surface

    window = None
    text = reader.take("win", "window", "−3 to 3 on both axes")
    if text is not None:
        numbers = _parse_numbers(text, 4)
        extent = APP_LIMITS["window_extent"]
        if numbers is None:
            reason = "which is not four numbers x0,x1,y0,y1"
        elif max(abs(v) for v in numbers) > extent:
            reason = f"which reaches beyond ±{_short(extent)}"
        elif not (numbers[0] < numbers[1] and numbers[2] < numbers[3]):
            reason = "which needs x0 < x1 and y0 < y1"
        else:
            reason = ""
            window = tuple(numbers)
        if reason:
            reader.fix("window", text, reason, "−3 to 3 on both axes")
    return surface, formula, window


def _read_surface_params(reader: _Reader, surface: str):
    text = reader.take("sp", "surface parameters", "their defaults")
    if text is None or text == "":
        return ()
    known = (
        {q.name: q for q in SURFACES[surface].parameters} if surface in SURFACES else {}
    )
    params: dict[str, float] = {}
    for item in text.split(","):
        name, colon, raw = item.partition(":")
        name = name.strip()
        parameter = known.get(name)
        if parameter is None or not colon:
            valid = ", ".join(known) or "none"
            reader.messages.append(
                f"The link set a surface parameter {_quote(item)} that this surface "
                f"does not have (its parameters: {valid}); it was ignored."
            )
            continue
        if name in params:
            reader.messages.append(
                f"The link set the surface parameter {name} more than once; "
                "using the last value."
            )
        spec = FieldSpec(name, name, "", "float", parameter.low, parameter.high)
        words = f"surface parameter {parameter.symbol}"
        params[name] = float(reader.number(raw, spec, words, parameter.default))
    return tuple(
        sorted(
            (name, value)
            for name, value in params.items()
            if value != known[name].default
        )
    )


def _read_start(reader: _Reader, surface: str, window):
    text = reader.take("start", "start", "the surface's default start")
    if text is None:
        return None
    numbers = _parse_numbers(text, 2)
    if numbers is None:
        reader.fix(
            "start", text, "which is not two numbers x,y", "the surface's default start"
        )
        return None
    scene = Scene(surface=surface, window=window)
    x0, x1, y0, y1 = scene.window_bounds()
    x = min(max(numbers[0], x0), x1)
    y = min(max(numbers[1], y0), y1)
    if (x, y) != tuple(numbers):
        reader.messages.append(
            f"The link put the start at ({_short(numbers[0])}, {_short(numbers[1])}), "
            f"outside the surface's window; using ({_short(x)}, {_short(y)}) instead."
        )
    return (x, y)


def _read_racers(reader: _Reader, scalars: dict) -> tuple[Racer, ...]:
    baselines = list(DEFAULT_RACERS)
    text = reader.take("o", "optimizers", "SGD, Momentum and Adam")
    if text is not None:
        names = [name.strip().lower() for name in text.split(",") if name.strip()]
        known = [name for name in names if name in OPTIMIZERS]
        for name in names:
            if name not in OPTIMIZERS:
                reader.messages.append(
                    f"The link listed an optimizer {_quote(name)}, which does not "
                    f"exist (valid: {', '.join(OPTIMIZERS)}); it was left out."
                )
        limit = APP_LIMITS["racers"]
        if len(known) > limit:
            reader.messages.append(
                f"The link listed {len(known)} optimizers; the page shows at most "
                f"{limit}, so the first {limit} are used."
            )
            known = known[:limit]
        if known:
            baselines = [Racer(optimizer=name) for name in known]
        else:
            reader.messages.append(
                "The link listed no optimizer the page knows; using "
                "SGD, Momentum and Adam instead."
            )
    settings: list[dict] = [{} for _ in baselines]
    for key in list(reader.values):
        match = _RACER_KEY.fullmatch(key)
        if not match or match.group(1) not in _RACER_BY_KEY:
            continue
        spec = _RACER_BY_KEY[match.group(1)]
        index = int(match.group(2))
        if index >= len(baselines):
            reader.values.pop(key)
            reader.messages.append(
                f"The link set the {spec.words} of racer {index + 1}, but it lists "
                f"only {len(baselines)} racers; it was ignored."
            )
            continue
        baseline = baselines[index]
        title = OPTIMIZERS[baseline.optimizer].title
        words = f"{spec.words} of racer {index + 1} ({title})"
        settings[index][spec.attr] = reader.read(
            key, spec, words, getattr(baseline, spec.attr)
        )
    racers = []
    for index, (baseline, changes) in enumerate(zip(baselines, settings, strict=True)):
        fields = {spec.attr: getattr(baseline, spec.attr) for spec in RACER_FIELDS}
        fields.update(changes)
        title = OPTIMIZERS[baseline.optimizer].title
        for spec in RACER_FIELDS:
            if not spec.at_most or spec.attr not in changes:
                continue
            cap = fields.get(spec.at_most, scalars.get(spec.at_most))
            if fields[spec.attr] > cap:
                cap_words = _CAP_WORDS[spec.at_most]
                reader.messages.append(
                    f"The link set the {spec.words} of racer {index + 1} ({title}) "
                    f"to {_short(fields[spec.attr])}, more than {cap_words} "
                    f"({_short(cap)}); using {_short(cap)} instead."
                )
                fields[spec.attr] = cap
        racers.append(Racer(optimizer=baseline.optimizer, **fields))
    return tuple(racers)
