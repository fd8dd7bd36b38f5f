"""Optimizers, learning-rate schedules and the simulation engine.

>>> from optimizers import simulate
>>> run = simulate("rosenbrock", "adam", starts=[(-1.5, 2.0)], steps=500, lr=0.01)
>>> run.positions.shape
(1, 501, 2)
"""

from optimizers.engine import LIMITS, Run, cloud, grid, simulate
from optimizers.registry import BIAS_CORRECTION_LATEX, OPTIMIZERS, Optimizer
from optimizers.schedules import (
    SCHEDULES,
    WARMUP_LATEX,
    WARMUP_START,
    Schedule,
    learning_rates,
)

__all__ = [
    "BIAS_CORRECTION_LATEX",
    "LIMITS",
    "OPTIMIZERS",
    "Optimizer",
    "Run",
    "SCHEDULES",
    "Schedule",
    "WARMUP_LATEX",
    "WARMUP_START",
    "cloud",
    "grid",
    "learning_rates",
    "simulate",
]
