"""The surface as a picture, contour lines and colour-bar ticks, cached per setting.

Plotly's Contour and Heatmap traces vanish as soon as frame animation starts
(plotly 7.1 with plotly.js 4.1.1 in Chromium). The animated figure therefore
shows the surface as a PNG in ``layout.images``, and its contour lines as a
Scatter trace that no frame touches.
"""

import base64
import functools
import io
import math
from dataclasses import dataclass

import contourpy
import numpy as np
from PIL import Image

from charts.style import colour_lut
from landscapes import Surface

__all__ = ["Background", "colour_ticks", "nice_ticks", "sample_grid"]

MIN_RESOLUTION = 16
MAX_RESOLUTION = 1000
CONTOUR_LEVELS = 14
MAX_CONTOUR_POINTS = 8000
"""Contour points per figure; surfaces with many closed contours get fewer levels.

The contour trace is a Python list (lines are separated by None), which
plotly.py copies point by point on every figure it builds.
"""
SIMPLIFY_TOLERANCE = 5e-4
"""Contour points may move this fraction of the window's longer side when thinned.

On a plot 600 pixels wide that is 0.3 pixel; it removes 75-90 % of the points
of smooth contours.
"""
_LUT = colour_lut(256)


@dataclass(frozen=True)
class Background:
    """The sampled surface and everything drawn from it.

    ``colour`` is the value that the colour scale maps: J itself, or
    log10(J − min J + offset) when the surface uses log colour.
    """

    xs: np.ndarray
    """(n,): x of the sample points, at pixel centres."""
    ys: np.ndarray
    """(n,): y of the sample points, at pixel centres."""
    values: np.ndarray
    """(n, n): J at (xs[j], ys[i]) in row i, column j."""
    colour: np.ndarray
    """(n, n): the colour value of each sample."""
    colour_range: tuple[float, float]
    log_colour: bool
    log_offset: float
    """Amount added to J before the logarithm of log colour: offset − min J."""
    png: str
    """The picture as a ``data:image/png;base64,…`` URI, top row at the window's top."""
    contour_x: list
    """x of all contour lines in one list, lines separated by None."""
    contour_y: list
    gradient_median: float
    """Median of |∇J| over a coarse grid of the window, for scaling arrows."""


def check_resolution(resolution) -> int:
    if isinstance(resolution, bool) or not isinstance(resolution, int | np.integer):
        raise ValueError(f"resolution must be a whole number, got {resolution!r}")
    if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise ValueError(
            f"resolution={resolution} is out of range; it must be from "
            f"{MIN_RESOLUTION} to {MAX_RESOLUTION} samples a side"
        )
    return int(resolution)


VALUE_LIMIT = 1e30
"""Largest |J| drawn; float32 reaches 3e38, and differences must stay finite."""


def sample_grid(surface: Surface, params, resolution: int) -> Background:
    """Return the cached :class:`Background` of ``surface`` with ``params``."""
    resolution = check_resolution(resolution)
    packed = tuple(float(v) for v in surface.pack(params))
    return _sample_grid(surface, packed, resolution)


@functools.lru_cache(maxsize=64)
def _sample_grid(surface: Surface, packed: tuple, resolution: int) -> Background:
    x0, x1, y0, y1 = surface.window
    xs = x0 + (np.arange(resolution) + 0.5) * (x1 - x0) / resolution
    ys = y0 + (np.arange(resolution) + 0.5) * (y1 - y0) / resolution
    p = np.array(packed, dtype=np.float64)
    value = surface.value
    x_list = xs.tolist()
    values = np.array(
        [[value(x, y, p) for x in x_list] for y in ys.tolist()], dtype=np.float64
    )
    finite = np.isfinite(values)
    if not finite.any():
        raise ValueError(
            f"the surface {surface.title!r} has no finite value inside its window"
        )
    # Poles or overflow in a typed formula: paint them at the top of the scale.
    values = np.where(finite, values, np.max(values[finite]))
    # Differences of values near the float64 limit overflow, and 3D views
    # send float32; beyond VALUE_LIMIT the colour saturates.
    values = np.clip(values, -VALUE_LIMIT, VALUE_LIMIT)

    low = float(values.min())
    high = float(values.max())
    if surface.log_colour:
        offset = _log_offset(values - low)
        colour = np.log10(values - low + offset)
        # The lowest percent of samples would stretch the scale over decades
        # that only a few pixels around the minimum reach.
        colour_range = (float(np.percentile(colour, 1.0)), float(colour.max()))
        log_offset = offset - low
    else:
        colour = values
        colour_range = (low, high)
        log_offset = 0.0
    if colour_range[1] <= colour_range[0]:
        colour_range = (colour_range[0], colour_range[0] + 1.0)

    levels = np.linspace(*colour_range, CONTOUR_LEVELS + 2)[1:-1]
    contour_x, contour_y = _contour_lines(xs, ys, colour, levels, surface.span)
    return Background(
        xs=xs,
        ys=ys,
        values=values,
        colour=colour,
        colour_range=colour_range,
        log_colour=surface.log_colour,
        log_offset=log_offset,
        png=_png(colour, colour_range),
        contour_x=contour_x,
        contour_y=contour_y,
        gradient_median=_gradient_median(surface, p, xs, ys),
    )


def _gradient_median(surface: Surface, p: np.ndarray, xs, ys) -> float:
    grad = surface.grad
    norms = [
        math.hypot(*grad(x, y, p)) for x in xs[::4].tolist() for y in ys[::4].tolist()
    ]
    finite = [n for n in norms if math.isfinite(n) and n > 0.0]
    return float(np.median(finite)) if finite else 1.0


def _log_offset(shifted: np.ndarray) -> float:
    """Return a small positive offset that keeps log10(shifted + offset) finite."""
    span = float(shifted.max())
    return max(span * 1e-6, 1e-12)


def _png(colour: np.ndarray, colour_range: tuple[float, float]) -> str:
    low, high = colour_range
    index = np.clip((colour - low) / (high - low) * 255.0, 0.0, 255.0)
    rgb = _LUT[index.astype(np.uint8)]
    # Row 0 of the grid is the lowest y, row 0 of an image is its top.
    image = Image.fromarray(np.ascontiguousarray(rgb[::-1]), mode="RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _contour_lines(xs, ys, colour, levels, span):
    generator = contourpy.contour_generator(
        xs, ys, colour, line_type=contourpy.LineType.Separate
    )
    tolerance = SIMPLIFY_TOLERANCE * span
    lines = [
        [_simplify(line, tolerance) for line in generator.lines(float(level))]
        for level in levels
    ]
    # Every other level goes until the lines fit the point budget.
    while len(lines) > 2 and sum(len(a) + 1 for b in lines for a in b) > (
        MAX_CONTOUR_POINTS
    ):
        lines = lines[1::2]

    decimals = max(0, 4 - math.floor(math.log10(span)))
    line_x: list = []
    line_y: list = []
    for line in (a for b in lines for a in b):
        rounded = np.round(line, decimals)
        line_x.extend(rounded[:, 0].tolist())
        line_y.extend(rounded[:, 1].tolist())
        line_x.append(None)
        line_y.append(None)
    return line_x, line_y


def _simplify(line: np.ndarray, tolerance: float) -> np.ndarray:
    """Drop the points of ``line`` that lie within ``tolerance`` of the kept line.

    This is the Ramer-Douglas-Peucker algorithm: keep the point farthest from
    the chord between two kept points while it is farther than ``tolerance``.
    """
    count = len(line)
    if count < 3:
        return line
    keep = np.zeros(count, dtype=bool)
    keep[0] = keep[-1] = True
    pending = [(0, count - 1)]
    while pending:
        first, last = pending.pop()
        if last - first < 2:
            continue
        start = line[first]
        chord = line[last] - start
        inner = line[first + 1 : last] - start
        length = math.hypot(chord[0], chord[1])
        if length == 0.0:
            distance = np.hypot(inner[:, 0], inner[:, 1])
        else:
            distance = np.abs(chord[0] * inner[:, 1] - chord[1] * inner[:, 0]) / length
        farthest = int(np.argmax(distance))
        if distance[farthest] > tolerance:
            middle = first + 1 + farthest
            keep[middle] = True
            pending.append((first, middle))
            pending.append((middle, last))
    return line[keep]


def colour_ticks(grid: Background, count: int = 6) -> tuple[list, list]:
    """Return colour-bar tick positions and labels that read as values of J."""
    low, high = grid.colour_range
    if not grid.log_colour:
        values = nice_ticks(low, high, count)
        return values.tolist(), [f"{v:.3g}" for v in values]
    # Ticks at J = 1, 10, 100, … (1, 2, 5, 10, … over fewer than 3 decades)
    # where J ≥ 0, and otherwise at min J + 1, min J + 10, ….
    base = 0.0 if grid.values.min() >= 0.0 else float(grid.values.min())
    decades = 10.0 ** np.arange(-12, 13, dtype=np.float64)
    mantissas = (1.0,) if high - low >= 3.0 else (1.0, 2.0, 5.0)
    candidates = base + np.sort(np.outer(decades, mantissas).ravel())
    shifted = candidates + grid.log_offset
    valid = shifted > 0.0
    positions = np.log10(shifted[valid])
    values = candidates[valid]
    inside = (positions >= low) & (positions <= high)
    positions = positions[inside]
    values = values[inside]
    if positions.size < 2:
        positions = np.linspace(low, high, 3)
        values = 10.0**positions - grid.log_offset
    stride = max(1, math.ceil(positions.size / count))
    return positions[::stride].tolist(), [f"{v:.3g}" for v in values[::stride]]


def nice_ticks(low: float, high: float, count: int = 6) -> np.ndarray:
    """Return round tick values (steps of 1, 2 or 5 × 10^k) between low and high."""
    span = high - low
    if not (span > 0.0 and math.isfinite(span)):
        return np.array([low])
    raw = span / max(1, count - 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)
    first = math.ceil(low / step) * step
    values = np.arange(first, high + 1e-9 * span, step)
    # Rounding removes float noise such as 0.30000000000000004 from labels.
    return np.round(values, max(0, 12 - math.floor(math.log10(abs(step)))))
