"""A static 3D view of the surface with each path lifted onto it."""

import numpy as np
import plotly.graph_objects as go

from charts.background import colour_ticks, sample_grid
from charts.style import SURFACE_COLOURSCALE, style_for
from charts.trajectory import check_trajectories, evenly_spaced, last_record
from landscapes import Surface

__all__ = ["surface_3d_figure"]

LIFT = 0.01
"""Height of a path above the surface, as a fraction of the surface's height range."""
MAX_3D_PATHS = 20
MAX_3D_POINTS = 1000


def surface_3d_figure(
    surface: Surface,
    params,
    trajectories,
    *,
    resolution: int = 80,
    presentation: bool = False,
    height: int | None = None,
) -> go.Figure:
    """Draw J as a 3D surface with each path on it, without animation.

    The height is J itself; the colour follows the same scale as the top view
    (log colour where the surface uses it). Paths are cut where they leave the
    window, because the surface is only drawn inside it. ``uirevision`` keeps
    the camera where the user left it when the figure is sent again.
    """
    trajectories = check_trajectories(trajectories)
    grid = sample_grid(surface, params, resolution)
    style = style_for(presentation)
    p = surface.pack(params)
    low = float(grid.values.min())
    high = float(grid.values.max())
    lift = LIFT * (high - low if high > low else 1.0)
    positions, labels = colour_ticks(grid)

    figure = go.Figure()
    figure.add_trace(
        go.Surface(
            x=grid.xs.astype(np.float32),
            y=grid.ys.astype(np.float32),
            z=grid.values.astype(np.float32),
            surfacecolor=grid.colour.astype(np.float32),
            cmin=grid.colour_range[0],
            cmax=grid.colour_range[1],
            colorscale=SURFACE_COLOURSCALE,
            colorbar={
                "title": {"text": "J (log colour)" if grid.log_colour else "J"},
                "tickvals": positions,
                "ticktext": labels,
                "len": 0.7,
            },
            name=surface.title,
            hovertemplate="x=%{x:.3f}<br>y=%{y:.3f}<br>J=%{z:.4g}<extra></extra>",
            opacity=0.95,
        )
    )
    x0, x1, y0, y1 = surface.window
    for trajectory in trajectories:
        run = trajectory.run
        particles = evenly_spaced(trajectory.particles, MAX_3D_PATHS)
        first = True
        for particle in particles.tolist():
            records = evenly_spaced(last_record(run, particle) + 1, MAX_3D_POINTS)
            xy = run.positions[particle, records]
            inside = (
                (xy[:, 0] >= x0)
                & (xy[:, 0] <= x1)
                & (xy[:, 1] >= y0)
                & (xy[:, 1] <= y1)
            )
            # Keep the path up to where it first leaves the window.
            end = int(np.argmin(inside)) if not inside.all() else inside.size
            if end == 0:
                continue
            xy = xy[:end]
            z = np.array([surface.value(a, b, p) for a, b in xy.tolist()]) + lift
            figure.add_trace(
                go.Scatter3d(
                    x=xy[:, 0].astype(np.float32),
                    y=xy[:, 1].astype(np.float32),
                    z=z.astype(np.float32),
                    mode="lines",
                    line={"color": trajectory.colour, "width": style.path_width * 2},
                    name=trajectory.legend_name(),
                    legendgroup=trajectory.label,
                    showlegend=first,
                    hovertemplate=f"{trajectory.label}<br>J=%{{z:.4g}}<extra></extra>",
                )
            )
            first = False

    minima = surface.minima(params)
    figure.add_trace(
        go.Scatter3d(
            x=[m.x for m in minima],
            y=[m.y for m in minima],
            z=[m.value + lift for m in minima],
            mode="markers",
            marker={
                "symbol": "diamond",
                "size": style.marker // 2 + 2,
                "color": "#222",
            },
            text=[f"{m.label}: J = {m.value:.4g}" for m in minima],
            hovertemplate="%{text}<extra></extra>",
            name="minimum" if len(minima) == 1 else "minima",
        )
    )
    figure.update_layout(
        scene={
            "xaxis": {"title": {"text": "x"}, "range": [x0, x1]},
            "yaxis": {"title": {"text": "y"}, "range": [y0, y1]},
            "zaxis": {"title": {"text": "J"}},
            "aspectmode": "manual",
            "aspectratio": {"x": 1.0, "y": (y1 - y0) / (x1 - x0), "z": 0.6},
            "uirevision": surface.key,
        },
        uirevision=surface.key,
        font={"size": style.font},
        legend={"orientation": "h", "x": 0.0, "y": 1.0, "yanchor": "bottom"},
        margin={"l": 0, "r": 0, "t": 40 + 2 * style.font, "b": 0},
        height=height or (620 if style.font < 20 else 820),
        paper_bgcolor="white",
    )
    return figure
