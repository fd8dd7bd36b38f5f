"""The public entry point: validate a request, run the compiled kernel, return a Run."""

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from landscapes import Surface, get_surface
from optimizers import updates
from optimizers.compiled import entry_point
from optimizers.registry import OPTIMIZERS
from optimizers.schedules import SCHEDULES, WARMUP_START, learning_rates

__all__ = ["LIMITS", "Run", "cloud", "grid", "simulate"]

LIMITS = {
    "steps": 100_000,
    "particles": 1_000_000,
    "recorded_values": 20_000_000,
    "samples": 10_000,
    "gradient_evaluations": 20_000_000_000,
}
"""Ceilings that keep one call within memory and a shared server responsive.

``recorded_values`` bounds particles × recorded steps (16 bytes each for the
positions); raise ``record_every`` to record fewer steps of a large cloud.
``gradient_evaluations`` bounds particles × steps × mini-batch size, which is
about a minute of one core for the cheapest surfaces.
"""

PRECHECKED_STARTS = 16
"""Starts whose loss is checked in Python before the kernel runs."""

BOUND_FACTOR = 5.0
"""A particle diverges on leaving its window scaled this many times about the centre."""


@dataclass(frozen=True)
class Run:
    """The result of :func:`simulate`.

    Arrays are float64 and never contain NaN or infinity: a diverged particle
    stays at its last good position.
    """

    surface: str
    optimizer: str
    positions: np.ndarray
    """(particles, records, 2): θ at each recorded step."""
    losses: np.ndarray
    """(particles, records): J(θ), or the training loss when the noise model is on."""
    test_losses: np.ndarray
    """(particles, records): the test loss; equal to ``losses`` without noise."""
    learning_rates: np.ndarray
    """(steps,): η(t) of each step after schedule and warm-up."""
    record_steps: np.ndarray
    """(records,): the step number of each record; 0 is the start."""
    diverged_at: np.ndarray
    """(particles,): the step at which each particle diverged, or −1."""
    settings: dict = field(default_factory=dict)
    """Every argument that produced this run, defaults filled in."""

    @property
    def final_positions(self) -> np.ndarray:
        return self.positions[:, -1, :]


def cloud(center, count: int, spread: float, seed: int = 0) -> np.ndarray:
    """Return ``count`` starts drawn from N(``center``, ``spread``² I)."""
    _check_count("count", count, LIMITS["particles"])
    _check_real("spread", spread, low=0.0)
    rng = np.random.default_rng(seed)
    return np.asarray(center, dtype=np.float64) + spread * rng.standard_normal(
        (count, 2)
    )


def grid(window, count: int) -> np.ndarray:
    """Return about ``count`` starts on an even grid over ``window`` (x0, x1, y0, y1).

    The grid has ⌈√count⌉ points a side, at cell centres, so it may hold a few
    more than ``count`` points.
    """
    _check_count("count", count, LIMITS["particles"])
    side = math.isqrt(count - 1) + 1
    x0, x1, y0, y1 = window
    xs = x0 + (np.arange(side) + 0.5) * (x1 - x0) / side
    ys = y0 + (np.arange(side) + 0.5) * (y1 - y0) / side
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()])


def _check_real(
    name, value, *, low=-math.inf, high=math.inf, low_open=False, high_open=False
):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    above = number > low if low_open else number >= low
    below = number < high if high_open else number <= high
    if not (math.isfinite(number) and above and below):
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ValueError(
            f"{name}={value!r} is out of range; "
            f"it must be in {left}{low:g}, {high:g}{right}"
        )
    return number


def _check_count(name, value, high, low=1):
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(
            f"{name}={value} is out of range; it must be from {low} to {high}"
        )
    return int(value)


def _check_starts(starts, surface: Surface, params) -> np.ndarray:
    if starts is None:
        starts = surface.default_start
    try:
        array = np.array(starts, dtype=np.float64, ndmin=2)
    except (TypeError, ValueError):
        raise ValueError(
            f"starts must be a point (x, y) or an (n, 2) array, got {starts!r}"
        ) from None
    if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] == 0:
        raise ValueError(
            f"starts must be a point (x, y) or an (n, 2) array, got shape {array.shape}"
        )
    _check_count("number of starts", array.shape[0], LIMITS["particles"])
    if not np.all(np.isfinite(array)):
        raise ValueError("starts must be finite numbers; some are NaN or infinite")
    return np.ascontiguousarray(array)


def _schedule_arguments(schedule, options, steps):
    if schedule not in SCHEDULES:
        raise ValueError(
            f"unknown schedule {schedule!r}; valid schedules: {', '.join(SCHEDULES)}"
        )
    checked = {}
    for name in SCHEDULES[schedule].defaults:
        value = options.get(name)
        if value is None:
            continue
        if name in ("step_size", "restart_period"):
            checked[name] = _check_count(name, value, steps)
        elif name == "restart_mult":
            checked[name] = _check_count(name, value, 10)
        elif name == "lr_min":
            checked[name] = _check_real(name, value, low=0.0)
        elif name in ("step_factor", "decay_rate"):
            checked[name] = _check_real(name, value, low=0.0, high=1.0, low_open=True)
        elif name == "pct_start":
            checked[name] = _check_real(
                name, value, low=0.0, high=1.0, low_open=True, high_open=True
            )
        else:
            checked[name] = _check_real(name, value, low=1.0)
    return checked


def simulate(
    surface,
    optimizer: str,
    *,
    starts=None,
    steps: int = 500,
    lr: float | None = None,
    momentum: float | None = None,
    beta1: float = 0.9,
    beta2: float | None = None,
    eps: float = 1e-8,
    weight_decay: float | None = None,
    bias_correction: bool | None = None,
    schedule: str = "constant",
    warmup_steps: int = 0,
    warmup_start: float = WARMUP_START,
    lr_min: float | None = None,
    step_size: int | None = None,
    step_factor: float | None = None,
    decay_rate: float | None = None,
    restart_period: int | None = None,
    restart_mult: int | None = None,
    pct_start: float | None = None,
    div_factor: float | None = None,
    final_div_factor: float | None = None,
    noise: float = 0.0,
    samples: int = 64,
    batch_size: int | None = None,
    test_samples: int = 256,
    seed: int = 0,
    record_every: int = 1,
    surface_params: dict | None = None,
) -> Run:
    """Run ``optimizer`` on ``surface`` from each start for ``steps`` steps.

    ``surface`` is a key of :data:`landscapes.SURFACES` or a :class:`Surface`.
    ``starts`` is one point, an (n, 2) array (see :func:`cloud` and
    :func:`grid`), or None for the surface's default start. Hyperparameters
    left as None take the optimizer's defaults from :data:`OPTIMIZERS`.
    ``bias_correction`` defaults to on for Adam and AdamW and off for RMSProp.

    The noise model: with ``noise`` = s > 0 the training set is ``samples``
    shifts δᵢ ~ N(0, s²I), drawn once from ``seed``, and the sample loss is
    J(θ; i) = f(θ − δᵢ). Every step averages the sample gradients over a
    mini-batch of ``batch_size`` samples drawn with replacement (all samples,
    once each, when it equals ``samples``: full-batch descent on the training
    loss). ``losses`` then contains the training loss and ``test_losses`` the mean
    over ``test_samples`` further shifts. ``noise`` = 0 turns the model off.

    Steps are recorded at 0, ``record_every``, 2·``record_every``, … and at the
    last step. Raises ``ValueError`` naming the argument, its value and the
    allowed range before the simulation kernel runs, except for a start whose
    loss (or, with noise, a shifted copy of it) is undefined beyond the first
    PRECHECKED_STARTS starts, which the kernel finds at step 0.
    """
    if not isinstance(surface, Surface):
        surface = get_surface(surface)
    if optimizer not in OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {optimizer!r}; "
            f"valid optimizers: {', '.join(OPTIMIZERS)}"
        )
    spec = OPTIMIZERS[optimizer]
    defaults = {"lr": 1e-3, "momentum": 0.9, "beta2": 0.999, "weight_decay": 0.0}
    defaults.update(spec.defaults)

    steps = _check_count("steps", steps, LIMITS["steps"])
    lr = _check_real("lr", defaults["lr"] if lr is None else lr, low=0.0, low_open=True)
    momentum = _check_real(
        "momentum",
        defaults["momentum"] if momentum is None else momentum,
        low=0.0,
        high=1.0,
        high_open=True,
    )
    beta1 = _check_real("beta1", beta1, low=0.0, high=1.0, high_open=True)
    beta2 = _check_real(
        "beta2",
        defaults["beta2"] if beta2 is None else beta2,
        low=0.0,
        high=1.0,
        high_open=True,
    )
    eps = _check_real("eps", eps, low=0.0, low_open=True)
    weight_decay = _check_real(
        "weight_decay",
        defaults["weight_decay"] if weight_decay is None else weight_decay,
        low=0.0,
    )
    if bias_correction is None:
        bias_correction = optimizer in ("adam", "adamw")
    warmup_steps = _check_count("warmup_steps", warmup_steps, steps, low=0)
    warmup_start = _check_real("warmup_start", warmup_start, low=0.0, high=1.0)
    schedule_options = _schedule_arguments(
        schedule,
        {
            "lr_min": lr_min,
            "step_size": step_size,
            "step_factor": step_factor,
            "decay_rate": decay_rate,
            "restart_period": restart_period,
            "restart_mult": restart_mult,
            "pct_start": pct_start,
            "div_factor": div_factor,
            "final_div_factor": final_div_factor,
        },
        steps,
    )
    if schedule_options.get("lr_min", 0.0) > lr:
        raise ValueError(
            f"lr_min={lr_min!r} is out of range; it must be at most lr={lr:g}"
        )
    noise = _check_real("noise", noise, low=0.0, high=surface.span)
    samples = _check_count("samples", samples, LIMITS["samples"])
    batch_size = (
        samples
        if batch_size is None
        else _check_count("batch_size", batch_size, samples)
    )
    test_samples = _check_count("test_samples", test_samples, LIMITS["samples"])
    seed = _check_count("seed", seed, 2**63 - 1, low=0)
    record_every = _check_count("record_every", record_every, steps)
    p = surface.pack(surface_params)
    x0 = _check_starts(starts, surface, surface_params)

    record_steps = np.arange(0, steps + 1, record_every, dtype=np.int64)
    if record_steps[-1] != steps:
        record_steps = np.append(record_steps, np.int64(steps))
    particles = x0.shape[0]
    work = particles * steps * (batch_size if noise > 0.0 else 1)
    if work > LIMITS["gradient_evaluations"]:
        raise ValueError(
            f"{particles} particles × {steps} steps"
            + (f" × batch size {batch_size}" if noise > 0.0 else "")
            + f" exceeds {LIMITS['gradient_evaluations']:,} gradient evaluations; "
            "use fewer particles or steps"
        )
    if particles * record_steps.size > LIMITS["recorded_values"]:
        raise ValueError(
            f"{particles} particles × {record_steps.size} recorded steps exceeds "
            f"{LIMITS['recorded_values']:,} recorded positions; raise record_every"
        )
    if noise > 0.0:
        rng = np.random.default_rng(seed)
        shifts = noise * rng.standard_normal((samples, 2))
        test_shifts = noise * rng.standard_normal((test_samples, 2))
    else:
        shifts = np.zeros((0, 2))
        test_shifts = np.zeros((0, 2))
    _check_start_losses(surface, p, x0, shifts)

    rates = learning_rates(
        schedule, lr, steps, warmup_steps, warmup_start, **schedule_options
    )
    hp = np.zeros(updates.HP_SIZE)
    hp[updates.HP_MOMENTUM] = momentum
    hp[updates.HP_BETA1] = beta1
    hp[updates.HP_BETA2] = beta2
    hp[updates.HP_EPS] = eps
    hp[updates.HP_WEIGHT_DECAY] = weight_decay
    bounds = _bounds(surface)
    outside = np.flatnonzero(
        (np.abs(x0[:, 0] - bounds[0]) > bounds[2])
        | (np.abs(x0[:, 1] - bounds[1]) > bounds[3])
    )
    if outside.size:
        a, b = x0[outside[0]]
        raise ValueError(
            f"the start ({a:g}, {b:g}) is too far from the surface's window "
            f"{surface.window}; starts must lie within {BOUND_FACTOR:g} times the "
            "window about its centre"
        )

    positions = np.empty((particles, record_steps.size, 2))
    losses = np.empty((particles, record_steps.size))
    test_losses = np.empty((particles, record_steps.size if noise > 0.0 else 0))
    dead = np.full(particles, -1, dtype=np.int64)
    x = x0[:, 0].copy()
    y = x0[:, 1].copy()
    run = entry_point(surface, spec.update)
    look = momentum if spec.look_ahead else 0.0
    run(
        look,
        p,
        hp,
        _bias_corrections(beta1, beta2, steps, bool(bias_correction)),
        rates,
        record_steps,
        bounds,
        x,
        y,
        shifts,
        batch_size,
        seed,
        test_shifts,
        positions,
        losses,
        test_losses,
        dead,
    )
    # _check_start_losses evaluates only the first few starts in Python. The
    # kernel marks any later start whose loss is not finite as diverged at
    # step 0, and its record 0 then contains no real position, so reject the run.
    undefined = np.flatnonzero(dead == 0)
    if undefined.size:
        _raise_undefined_start(x0[undefined[0]])

    settings = {
        "lr": lr,
        "momentum": momentum,
        "beta1": beta1,
        "beta2": beta2,
        "eps": eps,
        "weight_decay": weight_decay,
        "bias_correction": bool(bias_correction),
        "schedule": schedule,
        "warmup_steps": warmup_steps,
        "warmup_start": warmup_start,
        **schedule_options,
        "noise": noise,
        "samples": samples,
        "batch_size": batch_size,
        "test_samples": test_samples,
        "seed": seed,
        "record_every": record_every,
        "steps": steps,
        "surface_params": surface.resolve(surface_params),
    }
    return Run(
        surface=surface.key,
        optimizer=optimizer,
        positions=positions,
        losses=losses,
        test_losses=test_losses if noise > 0.0 else losses,
        learning_rates=rates,
        record_steps=record_steps,
        diverged_at=dead,
        settings=settings,
    )


def _bounds(surface: Surface) -> np.ndarray:
    """Return (centre x, centre y, half-width, half-height) of the divergence box."""
    x0, x1, y0, y1 = surface.window
    return np.array(
        [
            (x0 + x1) / 2,
            (y0 + y1) / 2,
            BOUND_FACTOR * (x1 - x0) / 2,
            BOUND_FACTOR * (y1 - y0) / 2,
        ]
    )


@functools.lru_cache(maxsize=64)
def _bias_corrections(beta1, beta2, steps, enabled) -> np.ndarray:
    """Return (steps, 2) denominators 1 − β1ᵗ and 1 − β2ᵗ, or an empty array if off.

    Cached, because sliders rerun the same settings. The kernels only read it.
    """
    if not enabled:
        corrections = np.empty((0, 2))
    else:
        t = np.arange(1, steps + 1, dtype=np.float64)
        corrections = np.column_stack([1.0 - beta1**t, 1.0 - beta2**t])
    return corrections


def _check_start_losses(surface, p, starts, shifts):
    """Reject early a start among the first few whose loss is not finite.

    The kernel finds any other such start at step 0, after compiling; checking
    every start here would cost seconds for a million of them.
    """
    for a, b in starts[:PRECHECKED_STARTS].tolist():
        if not math.isfinite(surface.value(a, b, p)):
            _raise_undefined_start((a, b))


def _raise_undefined_start(start):
    a, b = start
    raise ValueError(
        f"the loss, or with noise one of its shifted copies, is not defined at the "
        f"start ({a:g}, {b:g}); choose another start"
    )
