"""The engine against torch.optim trajectories and torch LR schedulers.

``tests/data/torch_reference.npz`` is written by
``scripts/make_torch_reference.py`` with PyTorch in float64; these tests read it
without torch. The kernels follow torch's order of operations, but torch 2.13 on
CPU fuses some multiply-adds (``add_`` with ``alpha``, ``lerp_``) into one
rounding where the engine rounds twice, so values agree to an ulp or so per
step, not bit for bit.

Momentum is compared only under a constant η: the engine keeps η inside the
velocity (v ← γv + ηg, θ ← θ − v) and torch outside it (b ← γb + g,
θ ← θ − ηb). The last test shows that the two differ once η changes.
Nesterov is compared through the look-ahead points θ − γv, which are what
torch's ``nesterov=True`` iterates.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from landscapes import get_surface
from optimizers import learning_rates, simulate

DATA = Path(__file__).parent / "data" / "torch_reference.npz"
RTOL = 1e-9


def _load():
    with np.load(DATA) as data:
        meta = json.loads(str(data["meta"]))
        arrays = {case["key"]: data[case["key"]] for case in meta["cases"]}
    return meta["cases"], arrays


CASES, ARRAYS = _load()
TRAJECTORIES = [
    c for c in CASES if c["kind"] == "trajectory" and c["optimizer"] != "nesterov"
]
NESTEROV = [
    c for c in CASES if c["kind"] == "trajectory" and c["optimizer"] == "nesterov"
]
SCHEDULES = [c for c in CASES if c["kind"] == "schedule"]


def test_reference_covers_required_cases():
    optimizers = {(c["surface"], c["optimizer"]) for c in TRAJECTORIES}
    for surface in ("rosenbrock", "ravine"):
        for optimizer in ("sgd", "momentum", "rmsprop", "adagrad", "adam", "adamw"):
            assert (surface, optimizer) in optimizers
    assert all(c["steps"] >= 500 for c in TRAJECTORIES)
    schedules = {c["key"].removeprefix("schedule/") for c in SCHEDULES}
    assert {
        "step",
        "exponential",
        "cosine",
        "cosine_restarts_mult1",
        "cosine_restarts_mult2",
        "one_cycle",
        "linear_warmup",
    } <= schedules
    assert DATA.stat().st_size < 200_000


@pytest.mark.parametrize("case", TRAJECTORIES, ids=lambda c: c["key"])
def test_trajectory_matches_torch(case):
    expected = ARRAYS[case["key"]]
    run = simulate(
        case["surface"],
        case["optimizer"],
        starts=[case["start"]],
        steps=case["steps"],
        **case["settings"],
    )
    assert run.diverged_at[0] == -1
    assert run.positions.shape == (1, case["steps"] + 1, 2)
    # The ravine's y coordinate decays towards 0 (1e-150 for SGD), so a pure
    # relative check is used there too: values this small still agree to ulps.
    assert_allclose(run.positions[0], expected, rtol=RTOL, atol=0.0)


def test_trajectories_move_away_from_start():
    # A reference that never moved would make the comparison above empty.
    for case in TRAJECTORIES:
        path = ARRAYS[case["key"]]
        distance = np.hypot(*(path[-1] - path[0]))
        assert distance > 0.05, case["key"]


@pytest.mark.parametrize("case", NESTEROV, ids=lambda c: c["key"])
def test_nesterov_look_ahead_matches_torch(case):
    # The engine steps θ and takes the gradient at θ − γv. Torch's
    # nesterov=True steps the look-ahead point φ = θ − γv itself. With a
    # constant η and v_t = θ_{t−1} − θ_t, its iterates are
    # φ_t = θ_t − γ(θ_{t−1} − θ_t).
    expected = ARRAYS[case["key"]]
    gamma = case["settings"]["momentum"]
    run = simulate(
        case["surface"],
        "nesterov",
        starts=[case["start"]],
        steps=case["steps"],
        **case["settings"],
    )
    theta = run.positions[0]
    look_ahead = theta[1:] - gamma * (theta[:-1] - theta[1:])
    assert_allclose(look_ahead, expected[1:], rtol=RTOL, atol=0.0)
    # The points themselves are not the same.
    gap = np.abs(theta[1:] - expected[1:]).max()
    assert gap > 1e-6


@pytest.mark.parametrize("case", SCHEDULES, ids=lambda c: c["key"])
def test_schedule_matches_torch(case):
    expected = ARRAYS[case["key"]]
    rates = learning_rates(lr=case["lr"], steps=case["steps"], **case["arguments"])
    assert rates.shape == expected.shape
    assert_allclose(rates, expected, rtol=RTOL, atol=0.0)


def test_schedule_through_simulate_matches_torch():
    case = next(c for c in SCHEDULES if c["key"] == "schedule/cosine_restarts_mult3")
    arguments = dict(case["arguments"])
    schedule = arguments.pop("schedule")
    run = simulate(
        "ravine",
        "sgd",
        steps=case["steps"],
        lr=case["lr"],
        schedule=schedule,
        **arguments,
    )
    assert_allclose(run.learning_rates, ARRAYS[case["key"]], rtol=RTOL, atol=0.0)


def _torch_style_momentum(start, rates, gamma, gradient, p):
    """Torch's SGD momentum in NumPy: b ← γb + g, θ ← θ − η_t b."""
    theta = np.array(start, dtype=np.float64)
    buffer = np.zeros(2)
    for t, lr in enumerate(rates):
        g = np.array(gradient(theta[0], theta[1], p))
        buffer = g if t == 0 else gamma * buffer + g
        theta = theta - lr * buffer
    return theta


def test_momentum_differs_from_torch_when_lr_changes():
    surface = get_surface("ravine")
    p = surface.pack()
    start, gamma, steps = (-5.0, 1.5), 0.8, 200
    constant = simulate(
        "ravine", "momentum", starts=[start], steps=steps, lr=0.01, momentum=gamma
    )
    stepped = simulate(
        "ravine",
        "momentum",
        starts=[start],
        steps=steps,
        lr=0.01,
        momentum=gamma,
        schedule="step",
        step_size=20,
        step_factor=0.2,
    )
    gradient = surface.grad.py_func
    torch_constant = _torch_style_momentum(
        start, constant.learning_rates, gamma, gradient, p
    )
    torch_stepped = _torch_style_momentum(
        start, stepped.learning_rates, gamma, gradient, p
    )

    # Same iterates under a constant η ...
    assert_allclose(constant.final_positions[0], torch_constant, rtol=1e-9)
    # ... but not once η drops: torch's next step uses the whole buffer at the
    # new η, the engine's velocity still carries the old η.
    gap = abs(stepped.final_positions[0, 0] - torch_stepped[0])
    assert gap > 1e-2 * abs(torch_stepped[0])
