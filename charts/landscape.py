"""The animated top view: the surface, each optimizer's path and moving particles.

The static traces come first: colour bar, contour lines, each trajectory's
path and start points, then the minima. The traces that frames move follow.
Per trajectory these are its markers, its diverged markers if any particle
diverged, and with ``arrows`` its −∇J and update arrows. Every frame updates
exactly those moving traces, so the trace count is the same in every frame.
"""

import math

import numpy as np
import plotly.graph_objects as go

from charts.background import Background, colour_ticks, sample_grid
from charts.style import (
    CONTOUR_COLOUR,
    DIVERGED_COLOUR,
    GRADIENT_COLOUR,
    MINIMUM_COLOUR,
    SURFACE_COLOURSCALE,
    Style,
    base_layout,
    style_for,
)
from charts.trajectory import (
    Trajectory,
    check_limit,
    check_trajectories,
    evenly_spaced,
    last_record,
    rounding_decimals,
    typed_array,
)
from landscapes import Surface

__all__ = ["surface_figure"]

MAX_FRAME_POINTS = 80_000
"""Particle positions that all frames may carry together (about 0.85 MB as float32)."""
MAX_PATH_POINTS = 24_000
"""Points that all static paths may carry together (about 0.35 MB)."""
LIST_POINTS = 16
"""Traces with at most this many points are sent as short lists, not binary arrays.

A list of one rounded point is shorter in JSON than its base64 typed array.
"""
MAX_ARROW_FRAMES = 4000
"""Arrows that all frames may carry together (about 0.3 MB)."""
EDGE_INSET = 0.015
"""How far inside the window edge a particle that left it is marked, per window side."""
MAX_START_MARKERS = 5
"""Start points are drawn only for trajectories with at most this many paths."""
GRADIENT_ARROW = 0.08
"""Longest −∇J arrow, as a fraction of the window's longer side."""
GRADIENT_SATURATION = 0.02
"""Arrows shorter than full length only where |∇J| is below about this fraction of
its median over the window, which is close to a minimum or a saddle point."""
ARROW_HEAD = 0.022
"""Largest arrowhead, as a fraction of the window's longer side."""


def surface_figure(
    surface: Surface,
    params,
    trajectories,
    *,
    frame_budget: int = 150,
    max_paths: int = 40,
    max_markers: int = 400,
    max_arrows: int = 12,
    arrows: bool = False,
    presentation: bool = False,
    resolution: int = 160,
    frame_duration: int = 60,
    height: int | None = None,
) -> go.Figure:
    """Build the animated top view of ``surface`` with the particles of each run.

    Each path is sent once as a static line, and frames only move the markers
    (and the arrows when ``arrows`` is on). Runs with many records are thinned
    to at most ``frame_budget`` frames. Clouds show paths for at most
    ``max_paths`` and markers for at most ``max_markers`` particles per
    trajectory, chosen evenly over the particle index. Large clouds get fewer
    frames so that the frames hold at most ``MAX_FRAME_POINTS`` positions.
    With ``arrows``, up to ``max_arrows`` particles per trajectory carry the
    direction of −∇J (fixed length) and their next update (true length).
    """
    trajectories = check_trajectories(trajectories)
    frame_budget = check_limit("frame_budget", frame_budget, low=2)
    max_paths = check_limit("max_paths", max_paths, low=0)
    max_markers = check_limit("max_markers", max_markers)
    max_arrows = check_limit("max_arrows", max_arrows, low=0)
    frame_duration = check_limit("frame_duration", frame_duration)
    grid = sample_grid(surface, params, resolution)
    style = style_for(presentation)
    decimals = rounding_decimals(surface.span)

    views = [
        _View(t, max_markers, max_paths, max_arrows if arrows else 0)
        for t in trajectories
    ]
    # A diverged particle appears twice in every frame: marker and ✕.
    markers_total = sum(v.markers.size + v.dead.size for v in views)
    arrows_total = 2 * sum(v.arrows.size for v in views)
    budget = min(
        frame_budget,
        max(2, MAX_FRAME_POINTS // max(1, markers_total)),
        max(2, MAX_ARROW_FRAMES // max(1, arrows_total)),
    )
    frame_steps = _frame_steps(trajectories, budget)

    data = [_colour_bar(surface, grid, style), _contours(grid, style)]
    paths_total = sum(v.paths.size for v in views)
    points_per_path = max(budget, MAX_PATH_POINTS // max(1, paths_total))
    for view in views:
        data.append(_path(view, points_per_path, decimals, style))
        if view.paths.size <= MAX_START_MARKERS:
            data.append(_starts(view, decimals, style))
    data.append(_minima(surface, params, style))

    moving = []
    p = surface.pack(params)
    for view in views:
        view.gradient_scale = GRADIENT_SATURATION * grid.gradient_median
    first = frame_steps[0] if frame_steps.size else 0
    for view in views:
        for trace in view.moving_traces(first, surface, p, decimals, style):
            moving.append(len(data))
            data.append(trace)

    frames = []
    for step in frame_steps:
        frame_data = []
        for view in views:
            frame_data.extend(view.frame_updates(step, surface, p, decimals))
        # Plain dicts: go.Frame objects would be validated once here and again
        # inside go.Figure, which doubles the build time.
        frames.append({"name": str(step), "data": frame_data, "traces": moving})

    layout = _layout(surface, grid, style, height)
    if frames:
        layout.update(_controls(frame_steps, frame_duration, style))
    # The traces and layout are built here in a fixed shape that the tests
    # check against Plotly's validators, so validating them again on every
    # slider move would only cost time (about 20 ms for 3 runs × 500 steps).
    # NOTE: `_validate` is a private plotly.py flag (checked in 7.1); frames are
    # validated even so.
    return go.Figure(data=data, layout=layout, frames=frames, _validate=False)


def _scatter(**properties) -> dict:
    return {"type": "scatter", **properties}


class _View:
    """The drawn subset of one trajectory's particles, and its traces."""

    def __init__(self, trajectory: Trajectory, max_markers, max_paths, max_arrows):
        self.trajectory = trajectory
        run = trajectory.run
        self.markers = evenly_spaced(trajectory.particles, max_markers)
        self.paths = self.markers[evenly_spaced(self.markers.size, max_paths)]
        if max_paths == 0:
            self.paths = self.paths[:0]
        self.arrows = self.paths[:max_arrows]
        dead = run.diverged_at[self.markers]
        self.dead = self.markers[dead >= 0]
        self.show_dead = self.dead.size > 0
        self.show_arrows = max_arrows > 0
        # |∇J| at which a −∇J arrow reaches 76 % (tanh 1) of its longest length.
        self.gradient_scale = 1.0

    def record_at(self, step) -> int:
        steps = self.trajectory.run.record_steps
        return max(0, int(np.searchsorted(steps, step, side="right")) - 1)

    def moving_traces(self, step, surface, p, decimals, style: Style):
        trajectory = self.trajectory
        common = {
            "legendgroup": trajectory.label,
            "showlegend": False,
            "mode": "markers",
        }
        updates = self.frame_updates(step, surface, p, decimals)
        traces = [
            _scatter(
                **updates[0],
                **common,
                name=trajectory.label,
                marker={
                    "color": trajectory.colour,
                    "size": style.marker,
                    "line": {"color": "white", "width": 1.5},
                },
                hovertemplate=f"{trajectory.label}<br>x=%{{x:.3f}}<br>"
                "y=%{y:.3f}<extra></extra>",
            )
        ]
        if self.show_dead:
            traces.append(
                _scatter(
                    **updates[1],
                    **common,
                    name=f"{trajectory.label}: diverged",
                    marker={
                        "symbol": "x",
                        "color": DIVERGED_COLOUR,
                        "size": style.marker + 4,
                        "line": {"color": "white", "width": 1},
                    },
                    hovertemplate=f"{trajectory.label}<br>diverged at step "
                    "%{customdata}<extra></extra>",
                )
            )
        if self.show_arrows:
            gradient, update = updates[-2:]
            line = {"width": style.arrow_width}
            traces.append(
                _scatter(
                    **gradient,
                    legendgroup=trajectory.label,
                    showlegend=False,
                    mode="lines",
                    name=f"{trajectory.label}: −∇J direction",
                    line={**line, "color": GRADIENT_COLOUR},
                    hoverinfo="skip",
                )
            )
            traces.append(
                _scatter(
                    **update,
                    legendgroup=trajectory.label,
                    showlegend=False,
                    mode="lines",
                    name=f"{trajectory.label}: next update",
                    line={**line, "color": trajectory.colour},
                    hoverinfo="skip",
                )
            )
        return traces

    def frame_updates(self, step, surface, p, decimals) -> list[dict]:
        """Return the data of this view's moving traces at ``step``."""
        run = self.trajectory.run
        r = self.record_at(step)
        xy = run.positions[self.markers, r]
        updates = [_points(xy[:, 0], xy[:, 1], decimals)]
        if self.show_dead:
            updates.append(self._diverged_at(step, r, surface, decimals))
        if self.show_arrows:
            updates.extend(self._arrows(r, surface, p, decimals))
        return updates

    def _diverged_at(self, step, r, surface, decimals) -> dict:
        run = self.trajectory.run
        when = run.diverged_at[self.dead]
        gone = self.dead[when <= step]
        # A particle leaves the window before the engine stops it; its mark
        # stays just inside the window's edge so that it remains visible.
        inset = EDGE_INSET * surface.span
        x0, x1, y0, y1 = surface.window
        xy = run.positions[gone, r]
        x = np.clip(xy[:, 0], x0 + inset, x1 - inset)
        y = np.clip(xy[:, 1], y0 + inset, y1 - inset)
        update = _points(x, y, decimals)
        steps = run.diverged_at[gone]
        if steps.size <= LIST_POINTS:
            update["customdata"] = steps.tolist()
        else:
            update["customdata"] = typed_array(steps, "i4")
        return update

    def _arrows(self, r, surface, p, decimals) -> list[dict]:
        run = self.trajectory.run
        span = surface.span
        gradient_x: list = []
        gradient_y: list = []
        update_x: list = []
        update_y: list = []
        last = run.record_steps.size - 1
        for particle in self.arrows.tolist():
            if r >= last_record(run, particle) and run.diverged_at[particle] >= 0:
                continue
            x, y = run.positions[particle, r].tolist()
            gx, gy = surface.grad(x, y, p)
            norm = math.hypot(gx, gy)
            if math.isfinite(norm) and norm > 0.0:
                # Full length almost everywhere: the arrow shows the direction,
                # and only shrinks where the gradient vanishes.
                length = GRADIENT_ARROW * span * math.tanh(norm / self.gradient_scale)
                scale = length / norm
                _arrow(gradient_x, gradient_y, x, y, -gx * scale, -gy * scale, span)
            if r < last:
                nx, ny = run.positions[particle, r + 1].tolist()
                _arrow(update_x, update_y, x, y, nx - x, ny - y, span)
        # Arrows are drawn to about 1e-4 of the window, one decimal fewer
        # than positions, which shortens their JSON.
        coarse = max(0, decimals - 1)
        return [
            {"x": _rounded(gradient_x, coarse), "y": _rounded(gradient_y, coarse)},
            {"x": _rounded(update_x, coarse), "y": _rounded(update_y, coarse)},
        ]


def _arrow(xs: list, ys: list, x, y, dx, dy, span) -> None:
    """Append one arrow from (x, y) along (dx, dy): shaft and head, then a break."""
    length = math.hypot(dx, dy)
    if not (math.isfinite(length) and length > 1e-9 * span):
        return
    head = min(0.35 * length, ARROW_HEAD * span)
    tip_x = x + dx
    tip_y = y + dy
    ux = dx / length
    uy = dy / length
    # The two barbs point back from the tip at ±25°.
    cos_a = math.cos(math.radians(25.0))
    sin_a = math.sin(math.radians(25.0))
    left_x = tip_x - head * (ux * cos_a - uy * sin_a)
    left_y = tip_y - head * (uy * cos_a + ux * sin_a)
    right_x = tip_x - head * (ux * cos_a + uy * sin_a)
    right_y = tip_y - head * (uy * cos_a - ux * sin_a)
    xs.extend((x, tip_x, left_x, tip_x, right_x, None))
    ys.extend((y, tip_y, left_y, tip_y, right_y, None))


def _rounded(values: list, decimals: int) -> list:
    return [None if v is None else round(v, decimals) for v in values]


def _points(x: np.ndarray, y: np.ndarray, decimals) -> dict:
    if x.size <= LIST_POINTS:
        return {
            "x": np.round(x, decimals).tolist(),
            "y": np.round(y, decimals).tolist(),
        }
    return {"x": typed_array(x), "y": typed_array(y)}


def _frame_steps(trajectories, budget: int) -> np.ndarray:
    if not trajectories:
        return np.zeros(0, dtype=np.int64)
    steps = np.unique(np.concatenate([t.run.record_steps for t in trajectories]))
    if steps.size <= budget:
        return steps
    # An odd stride: with an even one, an optimizer that flips sign every step
    # (SGD near its stability limit) would be shown on the same side in every
    # frame, and its zigzag would vanish from the animation.
    stride = -(-(steps.size - 1) // max(1, budget - 2))
    stride += 1 - stride % 2
    picked = np.arange(0, steps.size, stride)
    if picked[-1] != steps.size - 1:
        picked = np.append(picked, steps.size - 1)
    return steps[picked]


def _colour_bar(surface: Surface, grid: Background, style: Style) -> dict:
    """Return an invisible trace whose only purpose is the surface's colour bar."""
    low, high = grid.colour_range
    positions, labels = colour_ticks(grid)
    x0, _, y0, _ = surface.window
    title = "J (log colour)" if grid.log_colour else "J"
    return _scatter(
        x=[x0, x0],
        y=[y0, y0],
        mode="markers",
        marker={
            "color": [low, high],
            "cmin": low,
            "cmax": high,
            "colorscale": SURFACE_COLOURSCALE,
            "opacity": 0,
            "size": 1,
            "showscale": True,
            "colorbar": {
                "title": {"text": title},
                "tickvals": positions,
                "ticktext": labels,
                "thickness": 14 if style.font < 20 else 24,
                "len": 0.8,
            },
        },
        hoverinfo="skip",
        showlegend=False,
        name="colour scale",
    )


def _contours(grid: Background, style: Style) -> dict:
    return _scatter(
        x=grid.contour_x,
        y=grid.contour_y,
        mode="lines",
        line={"color": CONTOUR_COLOUR, "width": style.contour_width},
        hoverinfo="skip",
        showlegend=False,
        name="contour lines",
    )


def _minima(surface: Surface, params, style: Style) -> dict:
    minima = surface.minima(params)
    return _scatter(
        x=[m.x for m in minima],
        y=[m.y for m in minima],
        text=[f"{m.label}: J = {m.value:.4g}" for m in minima],
        mode="markers",
        marker={
            "symbol": "star",
            "size": style.star,
            "color": MINIMUM_COLOUR,
            "line": {"color": "#333333", "width": 1.5},
        },
        hovertemplate="%{text}<br>(%{x:.3f}, %{y:.3f})<extra></extra>",
        name="minimum" if len(minima) == 1 else "minima",
    )


def _path(view: _View, points_per_path: int, decimals, style: Style) -> dict:
    trajectory = view.trajectory
    run = trajectory.run
    xs: list = []
    ys: list = []
    for particle in view.paths.tolist():
        end = last_record(run, particle)
        records = evenly_spaced(end + 1, points_per_path)
        xy = np.round(run.positions[particle, records], decimals)
        xs.extend(xy[:, 0].tolist())
        ys.extend(xy[:, 1].tolist())
        xs.append(None)
        ys.append(None)
    if view.paths.size == 1:
        # One path needs no separator and travels smaller as a binary array.
        xs = typed_array(np.array(xs[:-1]))
        ys = typed_array(np.array(ys[:-1]))
    return _scatter(
        x=xs,
        y=ys,
        mode="lines",
        line={
            "color": trajectory.colour,
            "width": style.path_width,
            "dash": trajectory.dash,
        },
        opacity=1.0 if view.paths.size <= 5 else 0.55,
        name=trajectory.legend_name(),
        legendgroup=trajectory.label,
        hovertemplate=f"{trajectory.label}<br>x=%{{x:.3f}}<br>y=%{{y:.3f}}"
        "<extra></extra>",
    )


def _starts(view: _View, decimals, style: Style) -> dict:
    trajectory = view.trajectory
    starts = np.round(trajectory.run.positions[view.paths, 0], decimals)
    return _scatter(
        x=starts[:, 0].tolist(),
        y=starts[:, 1].tolist(),
        mode="markers",
        marker={
            "symbol": "circle-open",
            "size": style.start_marker,
            "color": trajectory.colour,
            "line": {"width": 2},
        },
        legendgroup=trajectory.label,
        showlegend=False,
        name=f"{trajectory.label}: start",
        hovertemplate=f"{trajectory.label} start<br>(%{{x:.3f}}, %{{y:.3f}})"
        "<extra></extra>",
    )


def _layout(surface: Surface, grid: Background, style: Style, height) -> dict:
    x0, x1, y0, y1 = surface.window
    aspect = (y1 - y0) / (x1 - x0)
    equal = 0.25 <= aspect <= 4.0
    # Room below the plot for the axis title, the buttons, and the slider on
    # its own row.
    margin = {"l": 60, "r": 20, "t": 40 + 2 * style.font, "b": 60 + 8 * style.font}
    axis = {
        "showgrid": False,
        "zeroline": False,
        "constrain": "domain",
        "ticks": "outside",
    }
    return dict(
        images=[
            {
                "source": grid.png,
                "xref": "x",
                "yref": "y",
                "x": x0,
                "y": y1,
                "sizex": x1 - x0,
                "sizey": y1 - y0,
                "sizing": "stretch",
                "xanchor": "left",
                "yanchor": "top",
                "layer": "below",
                "opacity": 1.0,
            }
        ],
        xaxis={**axis, "range": [x0, x1], "title": {"text": "x"}},
        yaxis={
            **axis,
            "range": [y0, y1],
            "title": {"text": "y"},
            **({"scaleanchor": "x", "scaleratio": 1.0} if equal else {}),
        },
        **base_layout(style),
        margin=margin,
        height=height or _height(aspect if equal else 0.75, margin, style),
        hovermode="closest",
        uirevision=surface.key,
    )


PLOT_WIDTH = 640
"""Expected width in pixels of the plot area on a page's main column."""


def _height(aspect: float, margin: dict, style: Style) -> int:
    """Return a figure height whose plot area has the window's aspect ratio.

    The plot area is clamped to a readable range, so a long, flat window
    (the ravine) leaves no wide empty band between the plot and its controls.
    """
    low, high = (260, 640) if style.font < 20 else (360, 760)
    plot = min(max(PLOT_WIDTH * aspect, low), high)
    return int(plot + margin["t"] + margin["b"])


def _controls(frame_steps, frame_duration: int, style: Style) -> dict:

    def play(duration):
        return [
            None,
            {
                "frame": {"duration": duration, "redraw": False},
                "fromcurrent": True,
                "transition": {"duration": 0},
                "mode": "immediate",
            },
        ]

    jump = {
        "mode": "immediate",
        "frame": {"duration": 0, "redraw": False},
        "transition": {"duration": 0},
    }
    return dict(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "showactive": False,
                "x": 0.0,
                "y": 0.0,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"t": 30 + 2 * style.font, "r": 10},
                "buttons": [
                    {
                        "label": "▶ Play",
                        "method": "animate",
                        "args": play(frame_duration),
                    },
                    {
                        "label": "▶ Slow",
                        "method": "animate",
                        "args": play(4 * frame_duration),
                    },
                    {
                        "label": "❚❚ Pause",
                        "method": "animate",
                        "args": [[None], {"mode": "immediate"}],
                    },
                ],
            }
        ],
        sliders=[
            {
                "active": 0,
                # On a row below the buttons, as wide as the plot: beside them
                # it was too short to scrub on a narrow plot.
                "x": 0.0,
                "len": 1.0,
                "y": 0.0,
                "yanchor": "top",
                "pad": {"t": 30 + 4 * style.font},
                "currentvalue": {
                    "prefix": "step ",
                    "visible": True,
                    "xanchor": "left",
                    "font": {"size": style.font, "color": "#222222"},
                },
                # Hundreds of step labels would overlap, so the tick labels are
                # transparent and the current step shows above the slider.
                "font": {"color": "rgba(0,0,0,0)"},
                "ticklen": 0,
                "minorticklen": 0,
                "transition": {"duration": 0},
                "steps": [
                    {
                        "label": str(step),
                        "method": "animate",
                        "args": [[str(step)], jump],
                    }
                    for step in frame_steps.tolist()
                ],
            }
        ],
    )
