"""Step length over η for the first steps of each racer."""

import numpy as np
import plotly.graph_objects as go

from charts.style import style_for


def step_ratio_figure(ratios: dict[str, np.ndarray], colours: dict[str, str], *,
                      presentation: bool = False) -> go.Figure:
    """Plot |Δθᵢ|max / η against step, one line per racer, with a guide at 1."""
    style = style_for(presentation)
    figure = go.Figure()
    for label, values in ratios.items():
        finite = np.where(np.isfinite(values), values, None)
        figure.add_scatter(
            x=np.arange(1, len(values) + 1), y=finite, name=label, mode="lines+markers",
            line={"color": colours.get(label), "width": style.curve_width},
        )
    figure.add_hline(y=1.0, line_dash="dot", line_color="#555555",
                     annotation_text="a step of exactly η")
    figure.update_layout(
        height=300,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        xaxis_title="step",
        yaxis_title="largest coordinate step ÷ η",
        font={"size": style.font},
        legend={"orientation": "h", "y": 1.15},
        template="plotly_white",
    )
    return figure
