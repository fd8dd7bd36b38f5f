"""Sweep two hyperparameters of one racer over a grid and measure each run.

The engine runs one hyperparameter setting per call, so a sweep is one call
per grid cell, each a single particle from the scene's start with recording
every step. BENCHMARKS.md records how long a 50 × 50 grid of 300 steps takes.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from landscapes import Surface
from optimizers import OPTIMIZERS, simulate

SWEEP_AXES = {
    "lr": ("learning rate η", 1e-4, 1.0, True),
    "momentum": ("momentum γ", 0.0, 0.99, False),
    "beta1": ("β1", 0.0, 0.99, False),
    "beta2": ("β2", 0.5, 0.9999, False),
}
"""Sweepable racer fields: label, grid range, and whether the grid is log-spaced."""

CONVERGED_FRACTION = 1e-4
"""A run has converged once J − J_min is this fraction of its value at the start."""


@dataclass(frozen=True)
class Sweep:
    """The result of :func:`sweep_racer`: values[i, j] belongs to (xs[j], ys[i])."""

    x_name: str
    y_name: str
    xs: np.ndarray
    ys: np.ndarray
    final_loss: np.ndarray
    """J at the last step, NaN where the run diverged."""
    steps_to_converge: np.ndarray
    """First step with J − J_min ≤ CONVERGED_FRACTION·(J₀ − J_min); NaN if never."""


def second_axis(optimizer: str) -> str | None:
    """Return the hyperparameter swept against η for ``optimizer``, if it has one."""
    uses = OPTIMIZERS[optimizer].uses
    for name in ("momentum", "beta1", "beta2"):
        if name in uses:
            return name
    return None


def axis_values(name: str, count: int) -> np.ndarray:
    _, low, high, log = SWEEP_AXES[name]
    if log:
        return np.geomspace(low, high, count)
    return np.linspace(low, high, count)


def sweep_racer(scene, racer, surface: Surface, count: int = 50,
                steps: int | None = None) -> Sweep:
    """Run ``racer`` on a count × count grid of η and its second hyperparameter.

    Uses one particle, no noise, from the scene's start (the first point of a
    cloud), and ``steps`` steps, by default the scene's. Raises ValueError for
    an optimizer with only η.
    """
    y_name = second_axis(racer.optimizer)
    if y_name is None:
        raise ValueError(
            f"{OPTIMIZERS[racer.optimizer].title} has no hyperparameter besides η "
            "to sweep; pick momentum, Nesterov, RMSProp, Adam or AdamW."
        )
    xs = axis_values("lr", count)
    ys = axis_values(y_name, count)
    kwargs = scene.simulate_kwargs(racer)
    kwargs.update(starts=kwargs["starts"][:1], noise=0.0)
    if steps is not None:
        kwargs["steps"] = steps
    lowest = min(m.value for m in surface.minima(kwargs.get("surface_params")))
    final_loss = np.full((count, count), np.nan)
    converged = np.full((count, count), np.nan)
    lr_min = kwargs.get("lr_min")
    for i, y_value in enumerate(ys):
        for j, x_value in enumerate(xs):
            cell = {**kwargs, "lr": float(x_value), y_name: float(y_value)}
            if lr_min is not None:
                # A schedule's final rate may not exceed the cell's η.
                cell["lr_min"] = min(lr_min, float(x_value))
            try:
                run = simulate(surface, racer.optimizer, **cell)
            except ValueError:
                # A cell the engine rejects is left blank, like a divergence.
                continue
            if run.diverged_at[0] >= 0:
                continue
            losses = run.losses[0] - lowest
            final_loss[i, j] = losses[-1] + lowest
            reached = np.flatnonzero(losses <= CONVERGED_FRACTION * losses[0])
            if reached.size:
                converged[i, j] = run.record_steps[reached[0]]
    return Sweep("lr", y_name, xs, ys, final_loss, converged)


def racer_with(racer, sweep: Sweep, x_value: float, y_value: float):
    """Return ``racer`` with the swept hyperparameters set to a picked cell."""
    # Four significant digits keep the link short; the grid is not finer.
    return dataclasses.replace(
        racer,
        **{
            sweep.x_name: float(f"{x_value:.4g}"),
            sweep.y_name: float(f"{y_value:.4g}"),
        },
    )
