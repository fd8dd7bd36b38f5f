"""Loss and learning rate against step."""

import numpy as np
import plotly.graph_objects as go

from charts.style import Style, base_layout, style_for
from charts.trajectory import check_trajectories, evenly_spaced, last_record

__all__ = ["learning_rate_figure", "loss_figure"]

MAX_CURVE_POINTS = 2000
"""Points per curve; longer runs are thinned evenly, the last step kept."""
BAND = (10.0, 90.0)
"""Percentiles of the band drawn around a cloud's median loss."""


def loss_figure(
    trajectories,
    *,
    minimum: float | None = None,
    log_y: bool = True,
    presentation: bool = False,
    height: int | None = None,
) -> go.Figure:
    """Plot the loss of each trajectory against the step number.

    With ``minimum`` (the lowest known J of the surface) the y axis shows
    J − J_min on a log scale, so that the approach to the minimum stays
    visible over many decades. Without it the log scale shows J itself when
    every loss is positive; otherwise the axis is linear. Values at or below
    zero on a log axis are raised to the smallest positive value plotted, so
    the curve of a particle that reached the minimum exactly ends flat. The
    axis title names the choice.

    A trajectory of one particle is one line, cut where it diverged. A cloud
    shows the median over its particles with a band from the 10th to the 90th
    percentile. When the run has a noise model, its test loss is dashed.
    """
    trajectories = check_trajectories(trajectories)
    style = style_for(presentation)
    shift = 0.0 if minimum is None else float(minimum)
    if not np.isfinite(shift):
        raise ValueError(f"minimum must be a finite number, got {minimum!r}")

    curves = []
    for trajectory in trajectories:
        run = trajectory.run
        curves.append((trajectory, "train", run.losses - shift))
        if run.test_losses is not run.losses:
            curves.append((trajectory, "test", run.test_losses - shift))

    if log_y and minimum is None and any(np.any(c[2] <= 0.0) for c in curves):
        log_y = False
    floor = _log_floor(curves) if log_y else 0.0

    figure = go.Figure()
    for trajectory, kind, values in curves:
        name = trajectory.legend_name()
        if trajectory.run.test_losses is not trajectory.run.losses:
            name = f"{name}, {'training' if kind == 'train' else 'test'} loss"
        dash = "dash" if kind == "test" else trajectory.dash
        if log_y:
            values = np.maximum(values, floor)
        for trace in _loss_traces(trajectory, values, name, dash, style):
            figure.add_trace(trace)

    if minimum is None:
        y_title = "loss J (log scale)" if log_y else "loss J"
    else:
        y_title = "J − J_min (log scale)" if log_y else "J − J_min"
        y_title += f", J_min = {shift:.4g}"
    _curve_layout(figure, style, y_title, log_y, height)
    return figure


def _log_floor(curves) -> float:
    positive = [c[2][c[2] > 0.0] for c in curves]
    smallest = [float(p.min()) for p in positive if p.size]
    return min(smallest) if smallest else 1e-16


def _loss_traces(trajectory, values, name, dash, style: Style):
    run = trajectory.run
    steps = run.record_steps
    width = style.curve_width
    if values.shape[0] == 1:
        end = last_record(run, 0)
        keep = evenly_spaced(end + 1, MAX_CURVE_POINTS)
        yield go.Scatter(
            x=steps[keep].astype(np.int32),
            y=values[0, keep],
            mode="lines",
            name=name,
            legendgroup=trajectory.label,
            line={"color": trajectory.colour, "width": width, "dash": dash},
            hovertemplate="step %{x}<br>%{y:.4g}<extra>"
            + trajectory.label
            + "</extra>",
        )
        return

    keep = evenly_spaced(steps.size, MAX_CURVE_POINTS)
    x = steps[keep].astype(np.int32)
    low, median, high = np.percentile(values[:, keep], [BAND[0], 50.0, BAND[1]], axis=0)
    yield go.Scatter(
        x=np.concatenate([x, x[::-1]]),
        y=np.concatenate([high, low[::-1]]),
        fill="toself",
        fillcolor=_transparent(trajectory.colour, 0.18),
        line={"width": 0},
        mode="lines",
        name=f"{name}: 10–90 % of particles",
        legendgroup=trajectory.label,
        showlegend=False,
        hoverinfo="skip",
    )
    yield go.Scatter(
        x=x,
        y=median,
        mode="lines",
        name=f"{name} (median of {values.shape[0]})",
        legendgroup=trajectory.label,
        line={"color": trajectory.colour, "width": width, "dash": dash},
        hovertemplate="step %{x}<br>median %{y:.4g}<extra>"
        + trajectory.label
        + "</extra>",
    )


def _transparent(colour: str, alpha: float) -> str:
    """Return ``colour`` (``#rrggbb``) as an rgba() string with ``alpha``."""
    text = colour.lstrip("#")
    if len(text) != 6:
        return colour
    r, g, b = (int(text[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def learning_rate_figure(
    trajectories,
    *,
    log_y: bool | None = None,
    presentation: bool = False,
    height: int | None = None,
) -> go.Figure:
    """Plot η(t), the learning rate after schedule and warm-up, against step t.

    Step t counts from 1: the update that moves the particle from record
    t − 1 to record t uses η(t). By default the y axis is logarithmic when the
    positive rates span more than a factor of 30, so that a warm-up to 0.003
    stays visible next to a rate of 0.3, and it always starts at 0 otherwise.
    """
    trajectories = check_trajectories(trajectories)
    rates_all = np.concatenate([t.run.learning_rates for t in trajectories] or [[]])
    positive = rates_all[rates_all > 0]
    if log_y is None:
        log_y = positive.size > 0 and positive.max() > 30 * positive.min()
    style = style_for(presentation)
    figure = go.Figure()
    for trajectory in trajectories:
        rates = trajectory.run.learning_rates
        keep = evenly_spaced(rates.size, MAX_CURVE_POINTS)
        figure.add_trace(
            go.Scatter(
                x=(keep + 1).astype(np.int32),
                y=rates[keep],
                mode="lines",
                name=trajectory.label,
                legendgroup=trajectory.label,
                line={
                    "color": trajectory.colour,
                    "width": style.curve_width,
                    "dash": trajectory.dash,
                },
                hovertemplate="step %{x}<br>η = %{y:.4g}<extra>"
                + trajectory.label
                + "</extra>",
            )
        )
    title = "learning rate η (log scale)" if log_y else "learning rate η"
    _curve_layout(figure, style, title, log_y, height)
    if not log_y and rates_all.size:
        # A constant η would otherwise get an axis from −1 to 1.
        figure.update_yaxes(range=[0.0, 1.1 * float(rates_all.max()) or 1.0])
    return figure


def _curve_layout(figure, style: Style, y_title: str, log_y: bool, height) -> None:
    # The legend sits above the plot, one row per entry in a narrow column.
    # The figure grows with it, so the plot keeps its height.
    entries = sum(1 for trace in figure.data if trace.showlegend is not False)
    legend_height = entries * (style.font + 10)
    plot_height = 260 if style.font < 20 else 380
    figure.update_layout(
        xaxis={"title": {"text": "step"}, "showgrid": True, "zeroline": False},
        yaxis={
            "title": {"text": y_title},
            "type": "log" if log_y else "linear",
            "exponentformat": "power",
            "showgrid": True,
        },
        **base_layout(style),
        margin={
            "l": 50 + 3 * style.font,
            "r": 20,
            "t": 30 + legend_height,
            "b": 50 + style.font,
        },
        height=height or plot_height + 80 + legend_height + 2 * style.font,
        hovermode="x unified",
    )
    figure.update_xaxes(gridcolor="#e5e5e5")
    figure.update_yaxes(gridcolor="#e5e5e5")
