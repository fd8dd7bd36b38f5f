"""Analytic 2D loss surfaces: compiled value and gradient, window, minima, formula.

A :class:`Surface` describes one surface for the engine, the charts and the page.
``SURFACES`` maps each built-in key to its surface, in the order the page lists
them. User formulas become surfaces through :mod:`landscapes.formula`.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from landscapes import _cache  # noqa: F401  (sets NUMBA_CACHE_DIR first)
from landscapes import functions as fn

__all__ = ["Minimum", "Parameter", "SURFACES", "Surface", "get_surface"]

PARAMETER_SLOTS = 4
"""Length of the float64 parameter array that every compiled surface receives."""


@dataclass(frozen=True)
class Parameter:
    """A numeric parameter of a surface, with its allowed range."""

    name: str
    symbol: str
    default: float
    low: float
    high: float
    help: str = ""


@dataclass(frozen=True)
class Minimum:
    """A known minimum: position, loss value there and a short label."""

    x: float
    y: float
    value: float
    label: str = "minimum"


def _rates(**rates: float) -> Mapping[str, float]:
    return MappingProxyType(rates)


def _fixed(*minima: Minimum) -> Callable[[dict[str, float]], tuple[Minimum, ...]]:
    return lambda params: minima


@dataclass(frozen=True)
class Surface:
    """One loss surface J(x, y) and what the engine and the page need to show it.

    ``value`` and ``grad`` are Numba-compiled scalar functions of
    ``(x, y, p)``, where ``p`` is the array built by :meth:`pack`. A surface
    made from a typed formula also carries ``source``, the Python code that
    defines them, so that its kernel can be cached on disk.
    """

    key: str
    title: str
    description: str
    latex: str
    window: tuple[float, float, float, float]
    default_start: tuple[float, float]
    value: Callable
    grad: Callable
    minima_for: Callable[[dict[str, float]], tuple[Minimum, ...]]
    parameters: tuple[Parameter, ...] = ()
    constants: tuple[float, ...] = ()
    log_colour: bool = True
    source: str = field(default="", repr=False)
    suggested_lr: Mapping[str, float] = field(
        default_factory=dict, repr=False, compare=False
    )
    """A learning rate per optimizer key that is stable from the default start
    and shows the surface's behaviour within a few hundred steps."""

    def defaults(self) -> dict[str, float]:
        return {q.name: q.default for q in self.parameters}

    def resolve(self, params: dict[str, float] | None = None) -> dict[str, float]:
        """Fill missing parameters with defaults and check each against its range."""
        values = self.defaults()
        for name, raw in (params or {}).items():
            known = {q.name: q for q in self.parameters}
            if name not in known:
                valid = ", ".join(known) or "none"
                raise ValueError(
                    f"unknown parameter {name!r} for surface {self.key!r}; "
                    f"valid parameters: {valid}"
                )
            q = known[name]
            value = float(raw)
            if not (q.low <= value <= q.high):
                raise ValueError(
                    f"surface parameter {name}={raw!r} is out of range; "
                    f"it must be between {q.low:g} and {q.high:g}"
                )
            values[name] = value
        return values

    def pack(self, params: dict[str, float] | None = None) -> np.ndarray:
        """Return the float64 parameter array that the compiled functions read."""
        values = self.resolve(params)
        packed = np.zeros(PARAMETER_SLOTS, dtype=np.float64)
        entries = [values[q.name] for q in self.parameters] + list(self.constants)
        packed[: len(entries)] = entries
        return packed

    def minima(self, params: dict[str, float] | None = None) -> tuple[Minimum, ...]:
        return self.minima_for(self.resolve(params))

    @property
    def span(self) -> float:
        """Length of the window's longer side."""
        x0, x1, y0, y1 = self.window
        return max(x1 - x0, y1 - y0)


RAVINE = Surface(
    key="ravine",
    title="Ravine",
    description="A long narrow valley, κ times steeper across than along.",
    latex=r"J(x, y) = \tfrac{1}{2}\left(x^2 + \kappa\, y^2\right)",
    window=(-6.0, 6.0, -2.5, 2.5),
    default_start=(-5.0, 1.5),
    value=fn.ravine_value,
    grad=fn.ravine_grad,
    minima_for=_fixed(Minimum(0.0, 0.0, 0.0)),
    parameters=(
        Parameter(
            "kappa",
            "κ",
            50.0,
            1.0,
            1000.0,
            "Condition number: curvature across the valley over curvature along it.",
        ),
    ),
    suggested_lr=_rates(
        sgd=0.03, momentum=0.004, nesterov=0.004, adagrad=0.5,
        rmsprop=0.05, adam=0.1, adamw=0.1,
    ),
)

ROSENBROCK = Surface(
    key="rosenbrock",
    title="Rosenbrock",
    description="A curved banana-shaped valley with a flat floor; the minimum is "
    "easy to reach and hard to finish.",
    latex=r"J(x, y) = (1 - x)^2 + 100\,(y - x^2)^2",
    window=(-2.0, 2.0, -1.0, 3.0),
    default_start=(-1.5, 2.0),
    value=fn.rosenbrock_value,
    grad=fn.rosenbrock_grad,
    minima_for=_fixed(Minimum(1.0, 1.0, 0.0)),
    constants=(1.0, 100.0),
    suggested_lr=_rates(
        sgd=0.001, momentum=0.0005, nesterov=0.0005, adagrad=0.5,
        rmsprop=0.01, adam=0.05, adamw=0.05,
    ),
)

# Found by gradient descent to a gradient below 1e-13; the tests check it.
SHARP_FLAT_MINIMA = (
    Minimum(-1.4941473679997956, 0.0, -0.9663820599059414, "sharp"),
    Minimum(1.4422150051824032, 0.0, -0.9567321576915006, "flat"),
)

SHARP_FLAT = Surface(
    key="sharp_flat",
    title="Sharp vs flat",
    description="Two wells of nearly equal depth on a gentle bowl: a narrow one on "
    "the left, a wide one on the right.",
    latex=(
        r"J = 0.02\,(x^2 + y^2) - e^{-\frac{(x+1.5)^2 + y^2}{2\cdot 0.25^2}}"
        r" - e^{-\frac{(x-1.5)^2 + y^2}{2\cdot 1^2}}"
    ),
    window=(-4.0, 4.0, -3.0, 3.0),
    default_start=(-0.3, 0.0),
    value=fn.sharp_flat_value,
    grad=fn.sharp_flat_grad,
    minima_for=_fixed(*SHARP_FLAT_MINIMA),
    constants=(0.02, 0.25, 1.0, 1.5),
    log_colour=False,
    suggested_lr=_rates(
        sgd=0.3, momentum=0.05, nesterov=0.05, adagrad=0.5,
        rmsprop=0.02, adam=0.05, adamw=0.05,
    ),
)

SADDLE = Surface(
    key="saddle",
    title="Saddle",
    description="A saddle point at the origin between two minima: plain gradient "
    "descent crawls away from it, momentum escapes.",
    latex=r"J(x, y) = \tfrac{1}{2}(x^2 - y^2) + \tfrac{1}{4}y^4",
    window=(-2.5, 2.5, -2.0, 2.0),
    default_start=(-2.0, 0.001),
    value=fn.saddle_value,
    grad=fn.saddle_grad,
    minima_for=_fixed(Minimum(0.0, 1.0, -0.25), Minimum(0.0, -1.0, -0.25)),
    log_colour=False,
    suggested_lr=_rates(
        sgd=0.05, momentum=0.01, nesterov=0.01, adagrad=0.3,
        rmsprop=0.01, adam=0.05, adamw=0.05,
    ),
)

HIMMELBLAU = Surface(
    key="himmelblau",
    title="Himmelblau",
    description="Four minima of equal depth: where a particle starts decides where "
    "it ends.",
    latex=r"J(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2",
    window=(-5.0, 5.0, -5.0, 5.0),
    default_start=(-0.3, -0.9),
    value=fn.himmelblau_value,
    grad=fn.himmelblau_grad,
    minima_for=_fixed(
        Minimum(3.0, 2.0, 0.0),
        Minimum(-2.805118086952745, 3.131312518250573, 0.0),
        Minimum(-3.779310253377747, -3.283185991286170, 0.0),
        Minimum(3.584428340330492, -1.848126526964404, 0.0),
    ),
    suggested_lr=_rates(
        sgd=0.005, momentum=0.002, nesterov=0.002, adagrad=0.5,
        rmsprop=0.02, adam=0.05, adamw=0.05,
    ),
)

RASTRIGIN = Surface(
    key="rastrigin",
    title="Rastrigin",
    description="A bowl covered in local minima: small steps get stuck, noise and "
    "a large η help.",
    latex=r"J(x, y) = 2A + x^2 - A\cos 2\pi x + y^2 - A\cos 2\pi y",
    window=(-5.12, 5.12, -5.12, 5.12),
    default_start=(3.3, -2.7),
    value=fn.rastrigin_value,
    grad=fn.rastrigin_grad,
    minima_for=_fixed(Minimum(0.0, 0.0, 0.0, "global minimum")),
    parameters=(
        Parameter("amplitude", "A", 10.0, 0.0, 40.0, "Height of the ripples."),
    ),
    log_colour=False,
    suggested_lr=_rates(
        sgd=0.002, momentum=0.001, nesterov=0.001, adagrad=0.3,
        rmsprop=0.01, adam=0.05, adamw=0.05,
    ),
)

SURFACES = MappingProxyType(
    {s.key: s for s in (RAVINE, ROSENBROCK, SHARP_FLAT, SADDLE, HIMMELBLAU, RASTRIGIN)}
)


def get_surface(key: str) -> Surface:
    """Return the built-in surface called ``key``."""
    try:
        return SURFACES[key]
    except KeyError:
        valid = ", ".join(SURFACES)
        raise ValueError(f"unknown surface {key!r}; valid surfaces: {valid}") from None
