"""Figure builders: pure functions from engine results to Plotly figures.

Nothing here imports Streamlit, so every figure can be tested without a
server and exported as a standalone page with :func:`standalone_html`.

>>> from optimizers import simulate
>>> from landscapes import get_surface
>>> run = simulate("rosenbrock", "adam", steps=200, lr=0.05)
>>> figure = surface_figure(
...     get_surface("rosenbrock"), None, [Trajectory("Adam", PALETTE[0], run)]
... )
>>> len(figure.frames) <= 150
True
"""

from charts.curves import learning_rate_figure, loss_figure
from charts.export import standalone_html
from charts.landscape import surface_figure
from charts.style import PALETTE
from charts.surface3d import surface_3d_figure
from charts.sweep import sweep_figure
from charts.trajectory import Trajectory

__all__ = [
    "PALETTE",
    "Trajectory",
    "learning_rate_figure",
    "loss_figure",
    "standalone_html",
    "surface_3d_figure",
    "surface_figure",
    "sweep_figure",
]
