"""simulate(): divergence handling, argument checks, threads and seeds."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from landscapes import SURFACES, get_surface
from optimizers import LIMITS, OPTIMIZERS, SCHEDULES, cloud, engine, simulate


def bounds_of(surface_key):
    """Return the centre and half-widths of the box a particle must stay in."""
    x0, x1, y0, y1 = get_surface(surface_key).window
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    half = engine.BOUND_FACTOR * np.array([(x1 - x0) / 2, (y1 - y0) / 2])
    return centre, half


def assert_run_finite(run):
    assert np.all(np.isfinite(run.positions))
    assert np.all(np.isfinite(run.losses))
    assert np.all(np.isfinite(run.test_losses))
    assert np.all(np.isfinite(run.learning_rates))


def assert_frozen_after_divergence(run):
    """Check each diverged particle stays at one point inside the bounds."""
    centre, half = bounds_of(run.surface)
    for i, step in enumerate(run.diverged_at):
        if step < 0:
            continue
        after = run.record_steps >= step
        frozen = run.positions[i, after]
        assert_array_equal(frozen, np.broadcast_to(frozen[-1], frozen.shape))
        assert np.all(np.abs(frozen - centre) <= half)
        # The last record before divergence may be a few steps earlier, but
        # with record_every = 1 it is the frozen point itself.
        if run.settings["record_every"] == 1 and step > 0:
            assert_array_equal(run.positions[i, step - 1], frozen[-1])


# Divergence.


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_huge_lr_diverges_cleanly(optimizer):
    starts = cloud((-1.0, 1.0), 30, 0.5, seed=2)
    run = simulate("rosenbrock", optimizer, starts=starts, steps=50, lr=1e4)
    assert np.all(run.diverged_at >= 1)
    assert np.all(run.diverged_at <= 50)
    assert_run_finite(run)
    assert_frozen_after_divergence(run)


@pytest.mark.parametrize("surface", list(SURFACES))
def test_huge_lr_diverges_on_every_surface(surface):
    spec = get_surface(surface)
    starts = cloud(spec.default_start, 10, 0.1, seed=4)
    for lr in (1e6, 1e300):
        run = simulate(surface, "sgd", starts=starts, steps=20, lr=lr)
        assert np.all(run.diverged_at >= 1), (surface, lr)
        assert_run_finite(run)
        assert_frozen_after_divergence(run)


def test_some_particles_diverge_others_do_not():
    # SGD with η = 2e-3 on Rosenbrock is stable near the valley floor and
    # unstable where the curvature 1200x² − 400y + 2 exceeds 2/η = 1000.
    starts = np.array([(0.5, 0.25), (0.9, 0.8), (-1.9, 2.9), (1.95, -0.9)])
    run = simulate(
        "rosenbrock", "sgd", starts=starts, steps=300, lr=2e-3, record_every=7
    )
    assert list(run.diverged_at[:2]) == [-1, -1]
    assert np.all(run.diverged_at[2:] >= 1)
    assert_run_finite(run)
    assert_frozen_after_divergence(run)
    # The stable particles really moved towards the minimum.
    assert np.all(run.losses[:2, -1] < run.losses[:2, 0])


def test_divergence_with_noise_and_schedule():
    run = simulate(
        "himmelblau",
        "momentum",
        starts=cloud((0.0, 0.0), 40, 1.0, seed=1),
        steps=200,
        lr=0.5,
        schedule="one_cycle",
        noise=0.5,
        samples=16,
        batch_size=4,
        seed=3,
        record_every=3,
    )
    assert np.any(run.diverged_at > 0)
    assert_run_finite(run)
    assert_frozen_after_divergence(run)


def test_no_divergence_reports_minus_one():
    run = simulate("ravine", "adam", starts=cloud((0, 0), 5, 1.0), steps=50, lr=0.01)
    assert_array_equal(run.diverged_at, -1)


def test_record_steps_and_shapes():
    run = simulate(
        "ravine", "sgd", starts=cloud((0, 0), 3, 1.0), steps=10, lr=0.1, record_every=4
    )
    assert_array_equal(run.record_steps, [0, 4, 8, 10])
    assert run.positions.shape == (3, 4, 2)
    assert run.losses.shape == (3, 4)
    assert run.learning_rates.shape == (10,)
    assert run.test_losses.shape == (3, 4)


# Argument checks: each raises ValueError naming the argument before any
# compiled code runs.


@pytest.fixture
def no_kernel(monkeypatch):
    """Make any call into compiled code fail the test."""

    def fail_on_call(*args, **kwargs):
        raise AssertionError("compiled code was reached with invalid arguments")

    monkeypatch.setattr(engine, "entry_point", fail_on_call)


NAN, INF = float("nan"), float("inf")

INVALID = [
    ({"beta1": 1.0}, "beta1"),
    ({"beta1": -0.1}, "beta1"),
    ({"beta1": NAN}, "beta1"),
    ({"beta2": 1.0}, "beta2"),
    ({"beta2": 1.5}, "beta2"),
    ({"momentum": 1.0}, "momentum"),
    ({"momentum": -0.5}, "momentum"),
    ({"lr": 0.0}, "lr"),
    ({"lr": -0.1}, "lr"),
    ({"lr": NAN}, "lr"),
    ({"lr": INF}, "lr"),
    ({"lr": "fast"}, "lr"),
    ({"eps": 0.0}, "eps"),
    ({"eps": -1e-8}, "eps"),
    ({"eps": INF}, "eps"),
    ({"weight_decay": -0.1}, "weight_decay"),
    ({"weight_decay": NAN}, "weight_decay"),
    ({"noise": -1.0}, "noise"),
    ({"noise": NAN}, "noise"),
    ({"noise": INF}, "noise"),
    ({"steps": 0}, "steps"),
    ({"steps": LIMITS["steps"] + 1}, "steps"),
    ({"steps": 10.5}, "steps"),
    ({"steps": True}, "steps"),
    ({"starts": [(NAN, 0.0)]}, "starts"),
    ({"starts": [(0.0, INF)]}, "starts"),
    ({"starts": [(0.0, 1.0, 2.0)]}, "starts"),
    ({"starts": np.zeros((0, 2))}, "starts"),
    ({"samples": 0}, "samples"),
    ({"samples": LIMITS["samples"] + 1}, "samples"),
    ({"noise": 0.1, "samples": 8, "batch_size": 9}, "batch_size"),
    ({"batch_size": 0}, "batch_size"),
    ({"seed": -1}, "seed"),
    ({"record_every": 0}, "record_every"),
    ({"warmup_steps": 501}, "warmup_steps"),
    ({"warmup_start": 1.5}, "warmup_start"),
    ({"schedule": "step", "step_size": 0}, "step_size"),
    ({"schedule": "step", "step_factor": 0.0}, "step_factor"),
    ({"schedule": "exponential", "decay_rate": 1.5}, "decay_rate"),
    ({"schedule": "cosine", "lr_min": 1.0}, "lr_min"),
    ({"schedule": "cosine_restarts", "restart_mult": 0}, "restart_mult"),
    ({"schedule": "one_cycle", "pct_start": 1.0}, "pct_start"),
    ({"schedule": "one_cycle", "div_factor": 0.5}, "div_factor"),
    ({"surface_params": {"kappa": 0.0}}, "kappa"),
    ({"surface_params": {"kappa": NAN}}, "kappa"),
]


@pytest.mark.parametrize(
    ("arguments", "name"), INVALID, ids=[f"{n}-{a}" for a, n in INVALID]
)
def test_invalid_argument_names_it(no_kernel, arguments, name):
    kw = {"steps": 500, "lr": 0.01}
    kw.update(arguments)
    with pytest.raises(ValueError, match=name):
        simulate("ravine", "adam", **kw)


def test_too_many_particles(no_kernel):
    starts = np.zeros((LIMITS["particles"] + 1, 2))
    with pytest.raises(ValueError, match="starts"):
        simulate("ravine", "sgd", starts=starts, steps=1)


def test_too_many_recorded_values(no_kernel):
    starts = np.zeros((LIMITS["recorded_values"] // 1000, 2))
    with pytest.raises(ValueError, match="record_every"):
        simulate("ravine", "sgd", starts=starts, steps=1000)


def test_start_far_outside_window(no_kernel):
    with pytest.raises(ValueError, match="too far"):
        simulate("ravine", "sgd", starts=[(100.0, 0.0)], steps=1)


def test_too_much_work(no_kernel):
    starts = np.zeros((LIMITS["particles"], 2))
    with pytest.raises(ValueError, match="gradient evaluations"):
        simulate(
            "ravine", "sgd", starts=starts, steps=1000, noise=0.1, samples=100,
            batch_size=100, record_every=1000,
        )


def test_start_with_undefined_loss(no_kernel):
    # (1e200)² overflows to infinity in the ravine's value.
    with pytest.raises(ValueError, match="start"):
        simulate("ravine", "sgd", starts=[(1e200, 0.0)], steps=1)


def test_undefined_start_beyond_prechecked():
    # Only the first few starts are checked before the kernel runs. A later
    # start with an undefined loss (log of a negative number) must still
    # raise instead of returning a made-up record.
    from landscapes.formula import parse_formula

    surface = parse_formula("log(x) + y**2", (0.01, 3.0, -1.0, 1.0))
    starts = np.full((1500, 2), (1.0, 0.0))
    starts[1234] = (-0.5, 0.0)
    with pytest.raises(ValueError, match=r"start \(-0.5, 0\)"):
        simulate(surface, "sgd", starts=starts, steps=3, lr=0.1)


@pytest.mark.parametrize(
    ("arguments", "valid"),
    [
        ({"optimizer": "lion"}, list(OPTIMIZERS)),
        ({"surface": "bowl"}, list(SURFACES)),
        ({"schedule": "linear"}, list(SCHEDULES)),
    ],
    ids=["optimizer", "surface", "schedule"],
)
def test_unknown_name_lists_valid(no_kernel, arguments, valid):
    kw = {"surface": "ravine", "optimizer": "sgd", "steps": 10}
    kw.update(arguments)
    surface = kw.pop("surface")
    optimizer = kw.pop("optimizer")
    with pytest.raises(ValueError) as caught:
        simulate(surface, optimizer, **kw)
    message = str(caught.value)
    assert repr(next(iter(arguments.values()))) in message
    for name in valid:
        assert name in message


def test_limits_themselves_are_accepted():
    run = simulate("ravine", "sgd", steps=LIMITS["steps"], lr=0.01, record_every=1000)
    assert run.record_steps[-1] == LIMITS["steps"]
    run = simulate("ravine", "adam", beta1=0.0, beta2=0.0, momentum=0.0, steps=5)
    assert_run_finite(run)


# Threads and seeds.

THREAD_CASES = [
    ("rosenbrock", "adam", {"lr": 0.01}),
    ("rosenbrock", "sgd", {"lr": 1e-3, "noise": 0.3, "samples": 32, "batch_size": 4}),
    ("ravine", "momentum", {"lr": 0.01, "schedule": "cosine"}),
    ("himmelblau", "nesterov", {"lr": 1e-3, "noise": 0.5, "seed": 9}),
    ("ravine", "rmsprop", {"lr": 0.01, "bias_correction": True}),
    ("himmelblau", "adagrad", {"lr": 0.1}),
    ("rosenbrock", "adamw", {"lr": 1e-2, "weight_decay": 0.1}),
    ("rosenbrock", "adam", {"lr": 0.01, "noise": 0.2, "batch_size": 8, "seed": 1}),
]


def run_case(case):
    surface, optimizer, kw = case
    return simulate(
        surface,
        optimizer,
        starts=cloud(get_surface(surface).default_start, 200, 0.5, seed=6),
        steps=400,
        record_every=10,
        **kw,
    )


def test_threads_match_sequential_runs():
    sequential = [run_case(case) for case in THREAD_CASES]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            parallel = list(pool.map(run_case, THREAD_CASES * 2))
            for i, run in enumerate(parallel):
                expected = sequential[i % len(THREAD_CASES)]
                assert_array_equal(run.positions, expected.positions)
                assert_array_equal(run.losses, expected.losses)
                assert_array_equal(run.test_losses, expected.test_losses)
                assert_array_equal(run.diverged_at, expected.diverged_at)


NOISY = {
    "starts": cloud((-1.0, 1.5), 10, 0.3, seed=0),
    "steps": 300,
    "lr": 1e-3,
    "noise": 0.3,
    "samples": 64,
    "batch_size": 8,
}


def test_seeded_noisy_runs_repeat():
    first = simulate("rosenbrock", "adam", seed=42, **NOISY)
    second = simulate("rosenbrock", "adam", seed=42, **NOISY)
    assert_array_equal(first.positions, second.positions)
    assert_array_equal(first.test_losses, second.test_losses)


def test_seeds_give_different_runs():
    finals = [
        simulate("rosenbrock", "adam", seed=seed, **NOISY).final_positions
        for seed in (0, 1, 2)
    ]
    for a in range(3):
        for b in range(a + 1, 3):
            assert not np.allclose(finals[a], finals[b], rtol=1e-6, atol=1e-9)


def test_mini_batches_differ_between_particles():
    # Two particles from one start see different mini-batches.
    kw = dict(NOISY, starts=[(-1.0, 1.5), (-1.0, 1.5)])
    run = simulate("rosenbrock", "sgd", seed=5, **kw)
    assert not np.allclose(run.positions[0, -1], run.positions[1, -1], rtol=1e-9)


def test_full_batch_particles_from_one_start_agree():
    kw = dict(NOISY, starts=[(-1.0, 1.5), (-1.0, 1.5)], batch_size=64)
    run = simulate("rosenbrock", "sgd", seed=5, **kw)
    assert_array_equal(run.positions[0], run.positions[1])


def test_settings_record_the_request():
    run = simulate("ravine", "adamw", steps=20, seed=3, surface_params={"kappa": 5})
    assert run.settings["weight_decay"] == OPTIMIZERS["adamw"].defaults["weight_decay"]
    assert run.settings["bias_correction"] is True
    assert run.settings["seed"] == 3
    assert run.settings["surface_params"] == {"kappa": 5.0}
    assert_allclose(run.learning_rates, OPTIMIZERS["adamw"].defaults["lr"])


FRESH_CACHE_SCRIPT = """
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from optimizers import cloud, simulate

starts = cloud((-2.0, 0.5), 50, 0.2, seed=1)


def run(index):
    return simulate("saddle", "adagrad", starts=starts, steps=100, lr=0.05)


with ThreadPoolExecutor(max_workers=8) as pool:
    runs = list(pool.map(run, range(8)))
for other in runs[1:]:
    assert np.array_equal(other.positions, runs[0].positions)
print("ok", runs[0].final_positions.sum())
"""


def test_threads_compile_one_kernel_together(tmp_path):
    # Eight threads ask for a kernel that is not compiled yet, in a fresh
    # process with an empty cache, so writing and compiling it overlap.
    env = dict(os.environ)
    env["LOSS_LAB_CACHE_DIR"] = str(tmp_path / "cache")
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "cache" / "numba")
    result = subprocess.run(
        [sys.executable, "-c", FRESH_CACHE_SCRIPT],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
    expected = simulate(
        "saddle",
        "adagrad",
        starts=cloud((-2.0, 0.5), 50, 0.2, seed=1),
        steps=100,
        lr=0.05,
    )
    assert float(result.stdout.split()[1]) == pytest.approx(
        expected.final_positions.sum(), rel=1e-12
    )


def test_noisy_run_keeps_test_losses_finite():
    # log(x) falls towards x = 0, where shifted copies of the surface stop
    # being defined, so particles there must freeze with finite test losses.
    from landscapes.formula import parse_formula

    surface = parse_formula("log(x) + y**2", (0.01, 3.0, -1.0, 1.0))
    run = simulate(
        surface, "sgd", starts=[(2.5, 0.5)], steps=300, lr=0.05, noise=0.3,
        samples=4, test_samples=16,
    )
    assert np.all(np.isfinite(run.test_losses))
    assert np.all(np.isfinite(run.losses))
    assert run.diverged_at[0] > 0


def test_formula_kernels_are_forgotten_oldest_first(monkeypatch):
    import sys

    from landscapes.formula import parse_formula
    from optimizers import OPTIMIZERS, compiled

    monkeypatch.setattr(compiled, "FORMULA_KERNELS", 1)
    simulate("ravine", "sgd", steps=1)
    update = OPTIMIZERS["sgd"].update
    first = parse_formula("x**2 + 2*y**2")
    second = parse_formula("x**2 + 3*y**2")
    compiled.entry_point(first, update)
    first_key = next(k for k in compiled._loaded if k[0] == first.key)
    first_module = compiled._loaded[first_key].__name__
    compiled.entry_point(second, update)
    assert first_key not in compiled._loaded
    assert first_module not in sys.modules
    assert any(k[0] == second.key for k in compiled._loaded)
    assert any(not k[1] for k in compiled._loaded), "built-in kernels stay loaded"
