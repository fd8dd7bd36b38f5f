"""Learning-rate schedules against their closed forms, step by step.

The expected values are computed here in plain Python, one step at a time;
SGDR's cycles are walked with integer counters the way torch's
``CosineAnnealingWarmRestarts.step()`` does, so no logarithm is involved.
"""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from optimizers import SCHEDULES, learning_rates, simulate

RTOL = 1e-12


def cosine_between(high, low, fraction):
    return low + (high - low) * (1.0 + math.cos(math.pi * fraction)) / 2.0


def expected_rates(schedule, lr, steps, **kw):
    """η(t) for t = 0 … steps − 1 from each schedule's definition, no warm-up."""
    if schedule == "constant":
        return [lr] * steps
    if schedule == "step":
        return [lr * kw["step_factor"] ** (t // kw["step_size"]) for t in range(steps)]
    if schedule == "exponential":
        return [lr * kw["decay_rate"] ** t for t in range(steps)]
    if schedule == "cosine":
        return [cosine_between(lr, kw["lr_min"], t / steps) for t in range(steps)]
    if schedule == "cosine_restarts":
        rates = []
        period, position = kw["restart_period"], 0
        for _ in range(steps):
            rates.append(cosine_between(lr, kw["lr_min"], position / period))
            position += 1
            if position >= period:
                position -= period
                period *= kw["restart_mult"]
        return rates
    if schedule == "one_cycle":
        initial = lr / kw["div_factor"]
        final = initial / kw["final_div_factor"]
        peak = kw["pct_start"] * steps - 1.0
        end = steps - 1.0
        rates = []
        for t in range(steps):
            if t <= peak:
                rates.append(cosine_between(initial, lr, t / peak if peak else 1.0))
            else:
                rates.append(cosine_between(lr, final, (t - peak) / (end - peak)))
        return rates
    raise AssertionError(schedule)


CASES = [
    ("constant", {}),
    ("step", {"step_size": 37, "step_factor": 0.5}),
    ("step", {"step_size": 1, "step_factor": 0.9}),
    ("exponential", {"decay_rate": 0.99}),
    ("exponential", {"decay_rate": 0.5}),
    ("cosine", {"lr_min": 0.0}),
    ("cosine", {"lr_min": 0.01}),
    ("cosine_restarts", {"lr_min": 0.0, "restart_period": 50, "restart_mult": 1}),
    ("cosine_restarts", {"lr_min": 0.02, "restart_period": 7, "restart_mult": 2}),
    ("cosine_restarts", {"lr_min": 0.0, "restart_period": 1, "restart_mult": 3}),
    ("cosine_restarts", {"lr_min": 0.0, "restart_period": 4, "restart_mult": 3}),
    ("cosine_restarts", {"lr_min": 0.0, "restart_period": 1, "restart_mult": 10}),
    ("cosine_restarts", {"lr_min": 0.0, "restart_period": 3, "restart_mult": 10}),
    (
        "one_cycle",
        {"pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4},
    ),
    (
        "one_cycle",
        {"pct_start": 0.01, "div_factor": 5.0, "final_div_factor": 10.0},
    ),
]


def case_id(case):
    schedule, kw = case
    return schedule + "-" + "-".join(f"{v:g}" for v in kw.values())


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("steps", [1, 2, 100, 1000, 3001])
def test_schedule_closed_form(case, steps):
    schedule, kw = case
    rates = learning_rates(schedule, 0.3, steps, **kw)
    assert rates.shape == (steps,)
    assert rates.dtype == np.float64
    assert_allclose(rates, expected_rates(schedule, 0.3, steps, **kw), rtol=RTOL)


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("warmup", [1, 10, 250])
def test_warmup_then_schedule(case, warmup):
    schedule, kw = case
    lr, steps, start = 0.3, 1000, 0.05
    rates = learning_rates(schedule, lr, steps, warmup, start, **kw)
    after = expected_rates(schedule, lr, steps - warmup, **kw)
    # The schedule runs on the remaining steps as if they were the whole run,
    # and the warm-up rises linearly to the rate at which the schedule starts.
    ramp = [after[0] * (start + (1.0 - start) * t / warmup) for t in range(warmup)]
    assert_allclose(rates[:warmup], ramp, rtol=RTOL)
    assert_allclose(rates[warmup:], after, rtol=RTOL)


def test_warmup_reaches_lr_for_constant():
    rates = learning_rates("constant", 0.2, 100, warmup_steps=40, warmup_start=0.0)
    assert rates[0] == 0.0
    assert_allclose(rates[20], 0.1, rtol=RTOL)
    assert_allclose(rates[40:], 0.2, rtol=RTOL)


def test_warmup_over_whole_run():
    rates = learning_rates("cosine", 0.2, 50, warmup_steps=50, warmup_start=0.1)
    expected = [0.2 * (0.1 + 0.9 * t / 50) for t in range(50)]
    assert_allclose(rates, expected, rtol=RTOL)


def test_simulate_reports_schedule_rates():
    run = simulate(
        "ravine",
        "sgd",
        steps=300,
        lr=0.05,
        schedule="cosine_restarts",
        restart_period=13,
        restart_mult=2,
        lr_min=0.001,
        warmup_steps=20,
        warmup_start=0.1,
    )
    after = expected_rates(
        "cosine_restarts", 0.05, 280, lr_min=0.001, restart_period=13, restart_mult=2
    )
    ramp = [0.05 * (0.1 + 0.9 * t / 20) for t in range(20)]
    assert_allclose(run.learning_rates, ramp + after, rtol=RTOL)


def test_simulate_uses_the_schedule():
    # SGD on the ravine's x axis: x ← x − η_t x, so x_T = x_0 Π(1 − η_t).
    run = simulate(
        "ravine",
        "sgd",
        starts=[(4.0, 0.0)],
        steps=120,
        lr=0.05,
        schedule="step",
        step_size=30,
        step_factor=0.5,
    )
    expected = 4.0
    for t in range(120):
        expected -= 0.05 * 0.5 ** (t // 30) * expected
    assert_allclose(run.final_positions[0, 0], expected, rtol=1e-12)


def test_defaults_match_registry():
    for key, spec in SCHEDULES.items():
        rates = learning_rates(key, 0.1, 500)
        assert_allclose(rates, expected_rates(key, 0.1, 500, **spec.defaults))


def test_random_settings_stay_finite_and_bounded():
    rng = np.random.default_rng(7)
    for _ in range(300):
        steps = int(rng.integers(1, 2000))
        lr = float(10.0 ** rng.uniform(-5, 0))
        kw = {
            "step": {
                "step_size": int(rng.integers(1, steps + 1)),
                "step_factor": float(rng.uniform(0.01, 1.0)),
            },
            "exponential": {"decay_rate": float(rng.uniform(0.01, 1.0))},
            "cosine": {"lr_min": float(rng.uniform(0.0, lr))},
            "cosine_restarts": {
                "lr_min": float(rng.uniform(0.0, lr)),
                "restart_period": int(rng.integers(1, steps + 1)),
                "restart_mult": int(rng.integers(1, 11)),
            },
            "one_cycle": {
                "pct_start": float(rng.uniform(0.001, 0.999)),
                "div_factor": float(rng.uniform(1.0, 100.0)),
                "final_div_factor": float(rng.uniform(1.0, 1e4)),
            },
        }
        for schedule, params in kw.items():
            warmup = int(rng.integers(0, steps + 1))
            rates = learning_rates(schedule, lr, steps, warmup, 0.01, **params)
            assert np.all(np.isfinite(rates)), (schedule, steps, warmup, params)
            assert np.all(rates >= 0.0), (schedule, steps, warmup, params)
            assert np.all(rates <= lr * (1 + 1e-12)), (schedule, steps, params)
            if schedule != "one_cycle" and warmup < steps:
                assert_allclose(rates[warmup], lr, rtol=RTOL)
