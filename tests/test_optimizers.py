"""Optimizer updates: single steps by hand, reductions, noise model, convergence.

The one- and two-step tests run on the ravine J = (x² + κy²)/2 with κ = 10,
whose gradient (x, κy) is easy to write out, from θ₀ = (2, −0.5) where
g₀ = (2, −5). Expected values are written from the update equations.
"""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from landscapes import get_surface
from optimizers import OPTIMIZERS, cloud, simulate

KAPPA = 10.0
START = (2.0, -0.5)
RTOL = 1e-12


def ravine_gradient(theta):
    return np.array([theta[0], KAPPA * theta[1]])


def run_ravine(optimizer, steps, **kw):
    """Return θ after each of ``steps`` steps from START, shape (steps, 2)."""
    run = simulate(
        "ravine",
        optimizer,
        starts=[START],
        steps=steps,
        surface_params={"kappa": KAPPA},
        **kw,
    )
    assert run.diverged_at[0] == -1
    return run.positions[0, 1:]


# One and two steps by hand.


def test_sgd_one_step():
    # θ₁ = θ₀ − ηg₀ = (2 − 0.1·2, −0.5 + 0.1·5).
    assert_allclose(run_ravine("sgd", 1, lr=0.1)[0], (1.8, 0.0), atol=1e-15)


def test_sgd_weight_decay_one_step():
    # L2: g = g₀ + λθ₀ = (2 + 1, −5 − 0.25); θ₁ = θ₀ − 0.1·g.
    theta = run_ravine("sgd", 1, lr=0.1, weight_decay=0.5)[0]
    assert_allclose(theta, (1.7, 0.025), rtol=RTOL)


def test_momentum_two_steps():
    # v₁ = ηg₀ = (0.2, −0.5), θ₁ = (1.8, 0); g₁ = (1.8, 0);
    # v₂ = 0.9·v₁ + 0.1·g₁ = (0.36, −0.45), θ₂ = θ₁ − v₂ = (1.44, 0.45).
    path = run_ravine("momentum", 2, lr=0.1, momentum=0.9)
    assert_allclose(path[0], (1.8, 0.0), atol=1e-15)
    assert_allclose(path[1], (1.44, 0.45), rtol=RTOL)


def test_momentum_weight_decay_two_steps():
    # λ = 0.5: g₀ = (3, −5.25), v₁ = (0.3, −0.525), θ₁ = (1.7, 0.025);
    # g₁ = (1.7 + 0.85, 0.25 + 0.0125), v₂ = 0.9·v₁ + 0.1·g₁, θ₂ = θ₁ − v₂.
    path = run_ravine("momentum", 2, lr=0.1, momentum=0.9, weight_decay=0.5)
    v2 = (0.9 * 0.3 + 0.1 * 2.55, 0.9 * -0.525 + 0.1 * 0.2625)
    assert_allclose(path[0], (1.7, 0.025), rtol=RTOL)
    assert_allclose(path[1], (1.7 - v2[0], 0.025 - v2[1]), rtol=RTOL)


def test_nesterov_two_steps():
    # Step 1 as momentum (v₀ = 0): v₁ = (0.2, −0.5), θ₁ = (1.8, 0).
    # Look-ahead θ₁ − 0.9·v₁ = (1.62, 0.45), gradient there (1.62, 4.5);
    # v₂ = 0.9·v₁ + 0.1·(1.62, 4.5) = (0.342, 0), θ₂ = (1.458, 0).
    path = run_ravine("nesterov", 2, lr=0.1, momentum=0.9)
    assert_allclose(path[0], (1.8, 0.0), atol=1e-15)
    assert_allclose(path[1], (1.458, 0.0), rtol=RTOL, atol=1e-15)


def test_adagrad_two_steps():
    lr, eps = 0.1, 1e-8
    # G₁ = g₀² = (4, 25); θ₁ = θ₀ − ηg₀/(√G₁ + ε).
    theta1 = (2.0 - lr * 2.0 / (2.0 + eps), -0.5 + lr * 5.0 / (5.0 + eps))
    # g₁ = (x₁, 10·y₁); G₂ = G₁ + g₁².
    g1 = (theta1[0], KAPPA * theta1[1])
    sums = (4.0 + g1[0] ** 2, 25.0 + g1[1] ** 2)
    theta2 = [theta1[k] - lr * g1[k] / (math.sqrt(sums[k]) + eps) for k in (0, 1)]
    path = run_ravine("adagrad", 2, lr=lr, eps=eps)
    assert_allclose(path[0], theta1, rtol=RTOL)
    assert_allclose(path[1], theta2, rtol=RTOL)


def test_adagrad_weight_decay_one_step():
    # λ = 0.2: g = (2 + 0.4, −5 − 0.1); G = g²; θ₁ = θ₀ − ηg/(|g| + ε).
    lr, eps = 0.1, 1e-8
    g = (2.4, -5.1)
    expected = [START[k] - lr * g[k] / (abs(g[k]) + eps) for k in (0, 1)]
    theta = run_ravine("adagrad", 1, lr=lr, eps=eps, weight_decay=0.2)[0]
    assert_allclose(theta, expected, rtol=RTOL)


@pytest.mark.parametrize("bias_correction", [False, True])
def test_rmsprop_two_steps(bias_correction):
    lr, beta2, eps = 0.01, 0.9, 1e-8
    c1 = 1.0 - beta2 if bias_correction else 1.0
    c2 = 1.0 - beta2**2 if bias_correction else 1.0
    g0 = (2.0, -5.0)
    # v₁ = (1 − β2)g₀²; θ₁ = θ₀ − ηg₀/(√(v₁/c) + ε) with c = 1 − β2 or 1.
    v1 = [0.1 * g0[k] ** 2 for k in (0, 1)]
    theta1 = [START[k] - lr * g0[k] / (math.sqrt(v1[k] / c1) + eps) for k in (0, 1)]
    g1 = (theta1[0], KAPPA * theta1[1])
    v2 = [0.9 * v1[k] + 0.1 * g1[k] ** 2 for k in (0, 1)]
    theta2 = [theta1[k] - lr * g1[k] / (math.sqrt(v2[k] / c2) + eps) for k in (0, 1)]
    path = run_ravine(
        "rmsprop", 2, lr=lr, beta2=beta2, eps=eps, bias_correction=bias_correction
    )
    assert_allclose(path[0], theta1, rtol=RTOL)
    assert_allclose(path[1], theta2, rtol=RTOL)


def test_rmsprop_bias_corrected_first_step_is_sign_step():
    # With correction, v̂₁ = g₀², so θ₁ = θ₀ − η·g₀/(|g₀| + ε) ≈ θ₀ − η·sign(g₀).
    theta = run_ravine("rmsprop", 1, lr=0.01, beta2=0.9, bias_correction=True)[0]
    assert_allclose(theta, (2.0 - 0.01, -0.5 + 0.01), rtol=1e-9)


def test_rmsprop_weight_decay_one_step():
    # L2 λ = 0.5: g = (3, −5.25); v₁ = 0.01·g² (β2 = 0.99); no correction.
    lr, eps = 0.01, 1e-8
    g = (3.0, -5.25)
    expected = [
        START[k] - lr * g[k] / (math.sqrt(0.01 * g[k] ** 2) + eps) for k in (0, 1)
    ]
    theta = run_ravine("rmsprop", 1, lr=lr, beta2=0.99, eps=eps, weight_decay=0.5)
    assert_allclose(theta[0], expected, rtol=RTOL)


def adam_by_hand(steps, lr, beta1, beta2, eps, bias, l2=0.0, decoupled=0.0):
    """Adam written out step by step on the κ = 10 ravine, returns every θ."""
    x, y = START
    m = [0.0, 0.0]
    v = [0.0, 0.0]
    path = []
    for t in range(1, steps + 1):
        theta = [x, y]
        g = [x + l2 * x, KAPPA * y + l2 * y]
        c1 = 1.0 - beta1**t if bias else 1.0
        c2 = 1.0 - beta2**t if bias else 1.0
        new = []
        for k in (0, 1):
            m[k] = beta1 * m[k] + (1.0 - beta1) * g[k]
            v[k] = beta2 * v[k] + (1.0 - beta2) * g[k] ** 2
            shrunk = theta[k] * (1.0 - lr * decoupled)
            new.append(shrunk - lr * (m[k] / c1) / (math.sqrt(v[k] / c2) + eps))
        x, y = new
        path.append((x, y))
    return path


def test_adam_first_step_by_hand():
    # m̂₁ = g₀ and v̂₁ = g₀², so θ₁ = θ₀ − η·g₀/(|g₀| + ε).
    lr, eps = 0.01, 1e-8
    expected = (2.0 - lr * 2.0 / (2.0 + eps), -0.5 + lr * 5.0 / (5.0 + eps))
    assert_allclose(run_ravine("adam", 1, lr=lr, eps=eps)[0], expected, rtol=RTOL)


def test_adam_uncorrected_first_step_by_hand():
    # m₁ = 0.1·g₀, v₁ = 0.001·g₀²: the step is η·0.1·g₀/(√0.001·|g₀| + ε).
    lr, eps = 0.01, 1e-8
    step = [lr * 0.1 * g / (math.sqrt(0.001) * abs(g) + eps) for g in (2.0, -5.0)]
    theta = run_ravine("adam", 1, lr=lr, eps=eps, bias_correction=False)[0]
    assert_allclose(theta, (2.0 - step[0], -0.5 - step[1]), rtol=RTOL)


@pytest.mark.parametrize("bias_correction", [False, True])
def test_adam_three_steps(bias_correction):
    kw = {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-8}
    expected = adam_by_hand(3, **kw, bias=bias_correction)
    path = run_ravine("adam", 3, bias_correction=bias_correction, **kw)
    assert_allclose(path, expected, rtol=RTOL)


@pytest.mark.parametrize("bias_correction", [False, True])
def test_adam_weight_decay_is_l2(bias_correction):
    kw = {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    expected = adam_by_hand(3, **kw, bias=bias_correction, l2=0.3)
    path = run_ravine(
        "adam", 3, bias_correction=bias_correction, weight_decay=0.3, **kw
    )
    assert_allclose(path, expected, rtol=RTOL)


@pytest.mark.parametrize("bias_correction", [False, True])
def test_adamw_decay_is_decoupled(bias_correction):
    kw = {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    expected = adam_by_hand(3, **kw, bias=bias_correction, decoupled=0.3)
    path = run_ravine(
        "adamw", 3, bias_correction=bias_correction, weight_decay=0.3, **kw
    )
    assert_allclose(path, expected, rtol=RTOL)


def test_adamw_first_step_by_hand():
    # θ₁ = θ₀(1 − ηλ) − η·g₀/(|g₀| + ε) with η = 0.01, λ = 0.5.
    lr, eps = 0.01, 1e-8
    expected = (
        2.0 * (1.0 - 0.005) - lr * 2.0 / (2.0 + eps),
        -0.5 * (1.0 - 0.005) + lr * 5.0 / (5.0 + eps),
    )
    theta = run_ravine("adamw", 1, lr=lr, eps=eps, weight_decay=0.5)[0]
    assert_allclose(theta, expected, rtol=RTOL)


def test_adamw_default_decay_is_used():
    # OPTIMIZERS["adamw"].defaults sets λ = 0.01, so the default run shrinks θ.
    assert OPTIMIZERS["adamw"].defaults["weight_decay"] == 0.01
    default = run_ravine("adamw", 1, lr=0.01)[0]
    explicit = run_ravine("adamw", 1, lr=0.01, weight_decay=0.01)[0]
    assert_allclose(default, explicit, rtol=RTOL)
    assert not np.allclose(default, run_ravine("adam", 1, lr=0.01)[0], rtol=1e-9)


# Reductions: one optimizer with a setting that turns a feature off is another.


def rosenbrock_cloud(count=20, seed=3):
    return cloud((-1.0, 1.5), count, 0.3, seed=seed)


@pytest.mark.parametrize("surface", ["ravine", "rosenbrock", "himmelblau"])
@pytest.mark.parametrize("variant", ["momentum", "nesterov"])
def test_zero_momentum_is_sgd(surface, variant):
    starts = get_surface(surface).default_start
    kw = {"starts": cloud(starts, 20, 0.3, seed=1), "steps": 400, "lr": 2e-4}
    for extra in ({}, {"weight_decay": 0.1}, {"schedule": "cosine"}):
        sgd = simulate(surface, "sgd", **kw, **extra)
        heavy = simulate(surface, variant, momentum=0.0, **kw, **extra)
        assert_allclose(heavy.positions, sgd.positions, rtol=RTOL, atol=0.0)
        assert_allclose(heavy.losses, sgd.losses, rtol=RTOL, atol=0.0)


@pytest.mark.parametrize("weight_decay", [0.0, 0.2])
def test_adam_without_beta1_is_corrected_rmsprop(weight_decay):
    kw = {
        "starts": rosenbrock_cloud(),
        "steps": 300,
        "lr": 1e-3,
        "beta2": 0.95,
        "eps": 1e-8,
        "weight_decay": weight_decay,
    }
    adam = simulate("rosenbrock", "adam", beta1=0.0, bias_correction=True, **kw)
    rms = simulate("rosenbrock", "rmsprop", bias_correction=True, **kw)
    # m ← m + 1·(g − m) can differ from g by an ulp, so not bit for bit.
    assert_allclose(adam.positions, rms.positions, rtol=1e-10, atol=0.0)


def test_adam_without_beta1_or_correction_is_rmsprop():
    kw = {"starts": rosenbrock_cloud(), "steps": 300, "lr": 1e-3, "beta2": 0.9}
    adam = simulate("rosenbrock", "adam", beta1=0.0, bias_correction=False, **kw)
    rms = simulate("rosenbrock", "rmsprop", bias_correction=False, **kw)
    assert_allclose(adam.positions, rms.positions, rtol=1e-10, atol=0.0)


@pytest.mark.parametrize("bias_correction", [False, True])
def test_adamw_without_decay_is_adam(bias_correction):
    kw = {
        "starts": rosenbrock_cloud(),
        "steps": 500,
        "lr": 2e-3,
        "beta1": 0.85,
        "beta2": 0.99,
        "bias_correction": bias_correction,
        "schedule": "one_cycle",
    }
    adam = simulate("rosenbrock", "adam", **kw)
    adamw = simulate("rosenbrock", "adamw", weight_decay=0.0, **kw)
    assert_allclose(adamw.positions, adam.positions, rtol=RTOL, atol=0.0)


# The noise model.


def rosenbrock_gradients(x, y):
    """∇[(1 − x)² + 100(y − x²)²] at arrays x, y."""
    w = y - x * x
    return -2.0 * (1.0 - x) - 400.0 * x * w, 200.0 * w


def rosenbrock_values(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def test_full_batch_noise_is_descent_on_training_loss():
    noise, samples, test_samples, seed = 0.4, 12, 30, 17
    starts = rosenbrock_cloud(count=5, seed=9)
    run = simulate(
        "rosenbrock",
        "sgd",
        starts=starts,
        steps=200,
        lr=1e-4,
        noise=noise,
        samples=samples,
        batch_size=samples,
        test_samples=test_samples,
        seed=seed,
    )
    rng = np.random.default_rng(seed)
    shifts = noise * rng.standard_normal((samples, 2))
    test_shifts = noise * rng.standard_normal((test_samples, 2))

    # Full-batch gradient descent on the mean of f(θ − δᵢ), every particle at once.
    theta = starts.copy()
    path = [theta]
    for _ in range(200):
        dx = theta[:, None, 0] - shifts[None, :, 0]
        dy = theta[:, None, 1] - shifts[None, :, 1]
        gx, gy = rosenbrock_gradients(dx, dy)
        gradient = np.column_stack([gx.mean(axis=1), gy.mean(axis=1)])
        theta = theta - 1e-4 * gradient
        path.append(theta)
    path = np.stack(path, axis=1)

    assert_allclose(run.positions, path, rtol=1e-10)
    train = rosenbrock_values(
        path[..., None, 0] - shifts[:, 0], path[..., None, 1] - shifts[:, 1]
    ).mean(axis=-1)
    test = rosenbrock_values(
        path[..., None, 0] - test_shifts[:, 0], path[..., None, 1] - test_shifts[:, 1]
    ).mean(axis=-1)
    assert_allclose(run.losses, train, rtol=1e-10)
    assert_allclose(run.test_losses, test, rtol=1e-10)
    assert not np.allclose(run.losses, run.test_losses, rtol=1e-6)


def test_full_batch_noise_with_nesterov():
    # The mini-batch gradient is taken at the look-ahead point too.
    noise, samples, seed, lr, gamma = 0.3, 8, 5, 5e-5, 0.9
    starts = rosenbrock_cloud(count=4, seed=2)
    run = simulate(
        "rosenbrock",
        "nesterov",
        starts=starts,
        steps=150,
        lr=lr,
        momentum=gamma,
        noise=noise,
        samples=samples,
        seed=seed,
    )
    shifts = noise * np.random.default_rng(seed).standard_normal((samples, 2))
    theta = starts.copy()
    velocity = np.zeros_like(theta)
    for _ in range(150):
        ahead = theta - gamma * velocity
        gx, gy = rosenbrock_gradients(
            ahead[:, None, 0] - shifts[:, 0], ahead[:, None, 1] - shifts[:, 1]
        )
        velocity = gamma * velocity + lr * np.column_stack(
            [gx.mean(axis=1), gy.mean(axis=1)]
        )
        theta = theta - velocity
    assert_allclose(run.final_positions, theta, rtol=1e-10)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_zero_noise_is_plain_descent(optimizer):
    kw = {"starts": rosenbrock_cloud(count=6), "steps": 300, "lr": 1e-4}
    plain = simulate("rosenbrock", optimizer, **kw)
    quiet = simulate(
        "rosenbrock", optimizer, noise=0.0, samples=5, batch_size=2, seed=11, **kw
    )
    assert_allclose(quiet.positions, plain.positions, rtol=0.0, atol=0.0)
    assert_allclose(quiet.test_losses, quiet.losses, rtol=0.0, atol=0.0)

    if optimizer == "sgd":
        theta = kw["starts"].copy()
        for _ in range(300):
            gx, gy = rosenbrock_gradients(theta[:, 0], theta[:, 1])
            theta = theta - 1e-4 * np.column_stack([gx, gy])
        assert_allclose(plain.final_positions, theta, rtol=1e-12)
        assert_allclose(
            plain.losses[:, -1], rosenbrock_values(theta[:, 0], theta[:, 1]), rtol=1e-12
        )


def test_mini_batches_differ_from_full_batch():
    kw = {"starts": rosenbrock_cloud(count=4), "steps": 200, "lr": 1e-4}
    kw.update(noise=0.5, samples=32, seed=4)
    full = simulate("rosenbrock", "sgd", **kw)
    mini = simulate("rosenbrock", "sgd", batch_size=4, **kw)
    assert not np.allclose(mini.positions[:, -1], full.positions[:, -1], rtol=1e-6)
    # Both still descend the training loss on average.
    assert mini.losses[:, -1].mean() < mini.losses[:, 0].mean()


# Convergence with the registry's default settings.

# Steps are about twice what each optimizer needed from the default start in
# a measured run. RMSProp's step tends to η·sign(g) near a minimum, so it keeps
# oscillating about η/2 around it, and AdamW's decay moves the fixed point
# slightly towards the origin: both get a looser tolerance.
CONVERGENCE_STEPS = {"ravine": 20_000, "rosenbrock": 40_000, "himmelblau": 20_000}
# (distance to the minimum, loss above its value) allowed at the end.
TOLERANCE = {"rmsprop": (2e-3, 1e-3), "adamw": (2e-3, 1e-3)}


@pytest.mark.parametrize("surface", list(CONVERGENCE_STEPS))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_defaults_reach_a_minimum(surface, optimizer):
    spec = get_surface(surface)
    steps = CONVERGENCE_STEPS[surface]
    run = simulate(surface, optimizer, steps=steps, record_every=100)
    assert run.diverged_at[0] == -1
    assert run.settings["lr"] == OPTIMIZERS[optimizer].defaults["lr"]

    minima = np.array([(m.x, m.y) for m in spec.minima()])
    tail = run.positions[0, -len(run.record_steps) // 10 :]
    distance = np.linalg.norm(tail[:, None, :] - minima[None], axis=2)
    nearest = distance.argmin(axis=1)
    # The particle settles at one minimum and stays within the tolerance.
    assert np.all(nearest == nearest[-1])
    max_distance, max_loss = TOLERANCE.get(optimizer, (1e-3, 1e-4))
    assert distance[:, nearest[-1]].max() < max_distance
    assert run.losses[0, -1] < max_loss
