"""The chart form of one optimizer's run, and the thinning of its records."""

import base64
import math
from dataclasses import dataclass

import numpy as np

from optimizers import Run

__all__ = [
    "Trajectory",
    "check_trajectories",
    "evenly_spaced",
    "rounding_decimals",
    "typed_array",
]

LINE_DASHES = ("solid", "dot", "dash", "longdash", "dashdot", "longdashdot")


@dataclass(frozen=True)
class Trajectory:
    """One run drawn on the charts: legend label, line colour and dash style."""

    label: str
    colour: str
    run: Run
    dash: str = "solid"

    @property
    def particles(self) -> int:
        return self.run.positions.shape[0]

    def diverged(self) -> np.ndarray:
        """Return the indices of the particles that diverged."""
        return np.flatnonzero(self.run.diverged_at >= 0)

    def legend_name(self) -> str:
        """Return the label, followed by how many particles diverged, if any."""
        dead = self.run.diverged_at[self.run.diverged_at >= 0]
        if dead.size == 0:
            return self.label
        if self.particles == 1:
            return f"{self.label} (diverged at step {int(dead[0])})"
        return f"{self.label} ({dead.size} of {self.particles} diverged)"


def check_trajectories(trajectories) -> tuple[Trajectory, ...]:
    """Return ``trajectories`` as a tuple, or raise ValueError naming a bad entry."""
    checked = tuple(trajectories)
    for i, item in enumerate(checked):
        if not isinstance(item, Trajectory):
            raise ValueError(
                f"trajectory {i} must be a charts.Trajectory, got {type(item).__name__}"
            )
        if item.dash not in LINE_DASHES:
            raise ValueError(
                f"trajectory {item.label!r} has an invalid dash {item.dash!r}; "
                f"valid dashes: {', '.join(LINE_DASHES)}"
            )
    return checked


def check_limit(name: str, value, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < low:
        raise ValueError(f"{name}={value} is out of range; it must be at least {low}")
    return int(value)


def evenly_spaced(count: int, limit: int) -> np.ndarray:
    """Return at most ``limit`` indices spread evenly over 0 … count − 1, ends kept."""
    if count <= limit:
        return np.arange(count)
    if limit == 1:
        return np.zeros(1, dtype=np.int64)
    return np.unique(np.round(np.linspace(0, count - 1, limit)).astype(np.int64))


def rounding_decimals(span: float) -> int:
    """Return the decimals that keep coordinates to about 1e-5 of ``span``."""
    return max(0, 5 - math.floor(math.log10(span)))


def last_record(run: Run, particle: int) -> int:
    """Return the index of the last record worth drawing for ``particle``.

    After a particle diverges the engine repeats its last good position, so the
    records after the first one at or past the divergence step add nothing.
    """
    step = run.diverged_at[particle]
    if step < 0:
        return run.record_steps.size - 1
    return int(min(np.searchsorted(run.record_steps, step), run.record_steps.size - 1))


def typed_array(values, dtype: str = "f4") -> dict:
    """Return ``values`` as a typed-array spec (float32 by default) for Plotly.

    This is the form plotly.py gives a NumPy array in the figure JSON, built
    directly because Plotly's own conversion costs about 80 µs per array.
    """
    data = np.ascontiguousarray(values, dtype="<" + dtype)
    return {"dtype": dtype, "bdata": base64.b64encode(data.tobytes()).decode("ascii")}
