"""Learning-rate schedules η(t) in closed form, for steps t = 0 … steps − 1.

Each schedule maps the base rate ``lr`` and its own parameters to an array of
one rate per step. A linear warm-up joins onto any of them: during the first
``warmup_steps`` steps η rises linearly from ``warmup_start`` times the
schedule's first rate towards that rate (``lr``, except for ``one_cycle``,
which starts at ``lr / div_factor``), and the schedule then runs over the
remaining steps as if they were the whole run (optax's
``warmup_cosine_decay_schedule`` and PyTorch's ``SequentialLR(LinearLR, …)``
compose the same way).
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["SCHEDULES", "WARMUP_START", "Schedule", "learning_rates"]

WARMUP_START = 0.01
"""Default factor s: a warm-up starts at s times the schedule's first rate."""


def _constant(lr: float, t: np.ndarray, steps: int) -> np.ndarray:
    return np.full(t.shape, lr)


def _step(
    lr: float, t: np.ndarray, steps: int, *, step_size: int, step_factor: float
) -> np.ndarray:
    # torch.optim.lr_scheduler.StepLR: η·factor^⌊t/k⌋.
    return lr * step_factor ** (t // step_size)


def _exponential(
    lr: float, t: np.ndarray, steps: int, *, decay_rate: float
) -> np.ndarray:
    # torch.optim.lr_scheduler.ExponentialLR: η·γᵗ.
    return lr * decay_rate**t


def _cosine(lr: float, t: np.ndarray, steps: int, *, lr_min: float) -> np.ndarray:
    # torch.optim.lr_scheduler.CosineAnnealingLR with T_max = steps.
    return lr_min + (lr - lr_min) * (1.0 + np.cos(np.pi * t / steps)) / 2.0


def _cosine_restarts(
    lr: float,
    t: np.ndarray,
    steps: int,
    *,
    lr_min: float,
    restart_period: int,
    restart_mult: int,
) -> np.ndarray:
    # SGDR (torch's CosineAnnealingWarmRestarts): period T_i grows by T_mult.
    if restart_mult == 1:
        cycle_start = (t // restart_period) * restart_period
        period = np.full(t.shape, restart_period)
    else:
        # Cycle n starts at T_0 (T_mult^n − 1)/(T_mult − 1). The logarithm only
        # estimates n: at a restart it can round below the integer (log 9/log 3
        # for T_mult = 3), so the estimate is corrected in integer arithmetic.
        def start_of(cycle):
            return restart_period * (restart_mult**cycle - 1) // (restart_mult - 1)

        step = t.astype(np.int64)
        n = np.floor(
            np.log(t / restart_period * (restart_mult - 1) + 1) / np.log(restart_mult)
        ).astype(np.int64)
        n = np.where(start_of(n) > step, n - 1, n)
        n = np.where(start_of(n + 1) <= step, n + 1, n)
        cycle_start = start_of(n)
        period = restart_period * restart_mult**n
    phase = (t - cycle_start) / period
    return lr_min + (lr - lr_min) * (1.0 + np.cos(np.pi * phase)) / 2.0


def _one_cycle(
    lr: float,
    t: np.ndarray,
    steps: int,
    *,
    pct_start: float,
    div_factor: float,
    final_div_factor: float,
) -> np.ndarray:
    # torch.optim.lr_scheduler.OneCycleLR (two phases, cosine annealing): from
    # lr/div_factor up to lr, then down to lr/(div_factor·final_div_factor).
    initial = lr / div_factor
    final = initial / final_div_factor
    peak = float(pct_start * steps) - 1.0
    end = float(steps - 1)
    rising = t <= peak

    def anneal(start, stop, fraction):
        return stop + (start - stop) / 2.0 * (np.cos(np.pi * fraction) + 1.0)

    with np.errstate(divide="ignore", invalid="ignore"):
        # When pct_start·steps = 1 the rise is the single step t = 0 = peak,
        # where t/peak is 0/0: that step takes the peak rate lr.
        up = anneal(initial, lr, t / peak if peak > 0.0 else np.ones_like(t))
        down = anneal(lr, final, (t - peak) / (end - peak))
    return np.where(rising, up, down)


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule and the keyword arguments it takes."""

    key: str
    title: str
    latex: str
    rates: Callable[..., np.ndarray]
    defaults: dict[str, float]


SCHEDULES = {
    s.key: s
    for s in (
        Schedule("constant", "Constant", r"\eta_t = \eta", _constant, {}),
        Schedule(
            "step",
            "Step decay",
            r"\eta_t = \eta \cdot f^{\lfloor t / k \rfloor}",
            _step,
            {"step_size": 100, "step_factor": 0.5},
        ),
        Schedule(
            "exponential",
            "Exponential decay",
            r"\eta_t = \eta \cdot \gamma_d^{\,t}",
            _exponential,
            {"decay_rate": 0.99},
        ),
        Schedule(
            "cosine",
            "Cosine annealing",
            r"\eta_t = \eta_{min} + \tfrac{1}{2}(\eta - \eta_{min})"
            r"\left(1 + \cos\tfrac{\pi t}{T}\right)",
            _cosine,
            {"lr_min": 0.0},
        ),
        Schedule(
            "cosine_restarts",
            "Cosine with warm restarts (SGDR)",
            r"\eta_t = \eta_{min} + \tfrac{1}{2}(\eta - \eta_{min})"
            r"\left(1 + \cos\tfrac{\pi T_{cur}}{T_i}\right)",
            _cosine_restarts,
            {"lr_min": 0.0, "restart_period": 100, "restart_mult": 1},
        ),
        Schedule(
            "one_cycle",
            "One cycle",
            r"\eta/d \nearrow \eta \searrow \eta/(d\,d_f)\ \text{(cosine)}",
            _one_cycle,
            {"pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4},
        ),
    )
}

WARMUP_LATEX = r"\eta_t \leftarrow \eta_0\left(s + (1 - s)\tfrac{t}{w}\right),\ t < w"


def learning_rates(
    schedule: str,
    lr: float,
    steps: int,
    warmup_steps: int = 0,
    warmup_start: float = 0.0,
    **params: float,
) -> np.ndarray:
    """Return η(t) for t = 0 … steps − 1, after a linear warm-up of ``warmup_steps``.

    ``params`` are the schedule's own arguments; missing ones take the defaults
    in ``SCHEDULES[schedule].defaults``. Arguments are validated by the caller
    (:func:`optimizers.simulate` checks ranges before calling this).
    """
    spec = SCHEDULES[schedule]
    kwargs = {**spec.defaults, **params}
    for name in ("step_size", "restart_period", "restart_mult"):
        if name in kwargs:
            kwargs[name] = int(kwargs[name])
    warm = min(int(warmup_steps), steps)
    rest = steps - warm
    rates = np.empty(steps, dtype=np.float64)
    if rest > 0:
        rates[warm:] = spec.rates(lr, np.arange(rest, dtype=np.float64), rest, **kwargs)
    if warm > 0:
        # torch's LinearLR: the factor goes from s to 1 in w steps.
        target = rates[warm] if rest > 0 else lr
        t = np.arange(warm, dtype=np.float64)
        rates[:warm] = target * (warmup_start + (1.0 - warmup_start) * t / warm)
    return rates
