"""Colours, the surface colour scale and the sizes of normal and presentation mode."""

from dataclasses import dataclass

import numpy as np
from plotly.colors import hex_to_rgb, sequential

__all__ = ["PALETTE", "SURFACE_COLOURSCALE", "Style", "colour_lut", "style_for"]

PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#222222",
)
"""Trajectory colours: the Okabe-Ito colour-blind-safe palette, darkest first.

Okabe-Ito yellow (#F0E442) is left out because it vanishes on the pale yellow
end of the surface colour scale.
"""

# Viridis mixed with white: the paths stay the darkest marks on the plot, and
# mixing with white keeps viridis' lightness rising monotonically from end to end.
_WHITE_FRACTION = 0.45


def _pale_viridis(count: int) -> np.ndarray:
    stops = np.array([hex_to_rgb(c) for c in sequential.Viridis], dtype=np.float64)
    where = np.linspace(0.0, 1.0, len(stops))
    t = np.linspace(0.0, 1.0, count)
    rgb = np.column_stack([np.interp(t, where, stops[:, k]) for k in range(3)])
    return rgb * (1.0 - _WHITE_FRACTION) + 255.0 * _WHITE_FRACTION


def colour_lut(count: int = 256) -> np.ndarray:
    """Return the surface colour scale as a (count, 3) uint8 RGB table."""
    return np.round(_pale_viridis(count)).astype(np.uint8)


SURFACE_COLOURSCALE = [
    [float(t), f"rgb({r:.0f},{g:.0f},{b:.0f})"]
    for t, (r, g, b) in zip(np.linspace(0.0, 1.0, 11), _pale_viridis(11), strict=True)
]
"""The same scale as :func:`colour_lut`, in Plotly's ``colorscale`` form."""

CONTOUR_COLOUR = "rgba(30, 30, 30, 0.35)"
GRADIENT_COLOUR = "#333333"
DIVERGED_COLOUR = "#B00020"
MINIMUM_COLOUR = "#FFD700"


@dataclass(frozen=True)
class Style:
    """Font size, line widths and marker sizes of one display mode, in pixels."""

    font: int
    path_width: float
    marker: int
    start_marker: int
    star: int
    contour_width: float
    arrow_width: float
    curve_width: float


NORMAL = Style(
    font=14,
    path_width=2.0,
    marker=11,
    start_marker=9,
    star=18,
    contour_width=0.8,
    arrow_width=2.0,
    curve_width=2.0,
)
PRESENTATION = Style(
    font=24,
    path_width=4.0,
    marker=20,
    start_marker=15,
    star=30,
    contour_width=1.4,
    arrow_width=3.5,
    curve_width=4.0,
)


def style_for(presentation: bool) -> Style:
    return PRESENTATION if presentation else NORMAL


def base_layout(style: Style) -> dict:
    """Return the layout settings every 2D figure shares: font, legend, colours.

    The legend runs horizontally above the plot, where it covers no data.
    """
    return {
        "font": {"size": style.font},
        "legend": {
            "orientation": "h",
            "x": 0.0,
            "y": 1.02,
            "xanchor": "left",
            "yanchor": "bottom",
        },
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
    }
