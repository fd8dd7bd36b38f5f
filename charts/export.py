"""A figure as a self-contained web page."""

import plotly.graph_objects as go

__all__ = ["standalone_html"]


def standalone_html(figure: go.Figure, *, title: str = "Loss Landscape Lab") -> str:
    """Return a complete HTML page with plotly.js inlined, so it plays offline.

    The animation waits for the Play button instead of starting on load.
    """
    html = figure.to_html(
        include_plotlyjs=True,
        full_html=True,
        auto_play=False,
        config={"displaylogo": False, "responsive": True},
    )
    return html.replace("<head>", f"<head><title>{_escape(title)}</title>", 1)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
