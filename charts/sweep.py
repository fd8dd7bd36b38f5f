"""A heatmap of a result over two swept hyperparameters."""

import math

import numpy as np
import plotly.graph_objects as go

from charts.style import DIVERGED_COLOUR, SURFACE_COLOURSCALE, style_for

__all__ = ["sweep_figure"]


def sweep_figure(
    values,
    xs,
    ys,
    *,
    x_label: str,
    y_label: str,
    current: tuple[float, float] | None = None,
    value_label: str = "final loss",
    log_x: bool = True,
    log_y: bool = False,
    log_colour: bool = True,
    presentation: bool = False,
    height: int | None = None,
) -> go.Figure:
    """Draw ``values[i, j]``, the result at (``xs[j]``, ``ys[i]``), as a heatmap.

    Cells whose value is NaN or infinite (a diverged run) are left blank and
    marked with ✕. With ``log_colour`` the colour follows log10 of the value,
    shifted first by the smallest value when some values are ≤ 0; the colour
    bar is labelled in the values themselves. ``current`` marks the setting
    that is on screen.
    """
    grid = np.asarray(values, dtype=np.float64)
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    if grid.ndim != 2 or grid.shape != (y.size, x.size):
        raise ValueError(
            f"values must have shape (len(ys), len(xs)) = ({y.size}, {x.size}), "
            f"got {grid.shape}"
        )
    for name, axis, log in (("xs", x, log_x), ("ys", y, log_y)):
        if not np.all(np.isfinite(axis)):
            raise ValueError(f"{name} must be finite numbers")
        if log and np.any(axis <= 0.0):
            raise ValueError(f"{name} must be positive on a log axis")
    style = style_for(presentation)

    finite = np.isfinite(grid)
    colour, ticks, shift = _colour_values(grid, finite, log_colour)
    z = [
        [float(c) if ok else None for c, ok in zip(row_c, row_ok, strict=True)]
        for row_c, row_ok in zip(colour, finite, strict=True)
    ]
    shown = [
        [f"{v:.4g}" if ok else "diverged" for v, ok in zip(row_v, row_ok, strict=True)]
        for row_v, row_ok in zip(grid, finite, strict=True)
    ]

    figure = go.Figure()
    colour_bar = {"title": {"text": value_label}}
    if ticks is not None:
        colour_bar.update(tickvals=ticks[0], ticktext=ticks[1])
    figure.add_trace(
        go.Heatmap(
            x=x.tolist(),
            y=y.tolist(),
            z=z,
            text=shown,
            colorscale=SURFACE_COLOURSCALE,
            colorbar=colour_bar,
            hovertemplate=f"{x_label} = %{{x:.3g}}<br>{y_label} = %{{y:.3g}}<br>"
            f"{value_label}: %{{text}}<extra></extra>",
            name=value_label,
        )
    )
    bad_rows, bad_columns = np.nonzero(~finite)
    if bad_rows.size:
        figure.add_trace(
            go.Scatter(
                x=x[bad_columns].tolist(),
                y=y[bad_rows].tolist(),
                mode="markers",
                marker={"symbol": "x", "size": style.marker, "color": DIVERGED_COLOUR},
                name="diverged",
                hovertemplate="diverged<extra></extra>",
            )
        )
    if current is not None:
        cx, cy = (float(v) for v in current)
        if math.isfinite(cx) and math.isfinite(cy):
            figure.add_trace(
                go.Scatter(
                    x=[cx],
                    y=[cy],
                    mode="markers",
                    marker={
                        "symbol": "star",
                        "size": style.star,
                        "color": "white",
                        "line": {"color": "black", "width": 2},
                    },
                    name="current setting",
                    hovertemplate=f"current setting<br>{x_label} = %{{x:.3g}}<br>"
                    f"{y_label} = %{{y:.3g}}<extra></extra>",
                )
            )
    figure.update_layout(
        xaxis={
            "title": {"text": x_label},
            "type": "log" if log_x else "linear",
            "exponentformat": "power",
        },
        yaxis={
            "title": {"text": y_label},
            "type": "log" if log_y else "linear",
            "exponentformat": "power",
        },
        font={"size": style.font},
        legend={"orientation": "h", "x": 0.0, "y": 1.02, "yanchor": "bottom"},
        margin={"l": 70, "r": 20, "t": 40 + 2 * style.font, "b": 50 + style.font},
        height=height or (460 if style.font < 20 else 640),
        plot_bgcolor="#dddddd",
        paper_bgcolor="white",
    )
    if shift:
        figure.update_layout(
            annotations=[
                {
                    "text": f"colour: log10(value − {shift:.3g})",
                    "xref": "paper",
                    "yref": "paper",
                    "x": 1.0,
                    "y": -0.12,
                    "showarrow": False,
                    "font": {"size": style.font * 0.8},
                }
            ]
        )
    return figure


def _colour_values(grid, finite, log_colour):
    """Return colour values, colour-bar ticks (or None) and the shift applied."""
    if not finite.any() or not log_colour:
        return np.where(finite, grid, 0.0), None, 0.0
    data = grid[finite]
    shift = 0.0
    if data.min() <= 0.0:
        spread = float(data.max() - data.min())
        shift = float(data.min()) - max(spread * 1e-6, 1e-12)
    logs = np.log10(np.where(finite, grid - shift, 1.0))
    low = float(logs[finite].min())
    high = float(logs[finite].max())
    first, last = math.ceil(low), math.floor(high)
    if last > first:
        stride = max(1, math.ceil((last - first + 1) / 6))
        positions = np.arange(first, last + 1, stride, dtype=np.float64)
    else:
        positions = np.linspace(low, high, 3)
    labels = [f"{10.0**t + shift:.3g}" for t in positions]
    return np.where(finite, logs, 0.0), (positions.tolist(), labels), shift
