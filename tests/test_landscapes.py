"""Built-in surfaces: gradients against finite differences, and the listed minima."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from landscapes import SURFACES, get_surface

# Each surface with the parameter values to check: the defaults, and for the
# ravine and Rastrigin the ends of each range and a value in between.
PARAMETER_CASES = [
    ("ravine", None),
    ("ravine", {"kappa": 1.0}),
    ("ravine", {"kappa": 7.5}),
    ("ravine", {"kappa": 1000.0}),
    ("rosenbrock", None),
    ("sharp_flat", None),
    ("saddle", None),
    ("himmelblau", None),
    ("rastrigin", None),
    ("rastrigin", {"amplitude": 0.0}),
    ("rastrigin", {"amplitude": 2.5}),
    ("rastrigin", {"amplitude": 40.0}),
]


def case_id(case):
    key, params = case
    return key if params is None else f"{key}-{next(iter(params.values())):g}"


def central_difference(value, x, y, p, h):
    """Return the five-point central-difference gradient of ``value`` at (x, y).

    Its truncation error is h⁴·J⁽⁵⁾/30 and its rounding error about eps·|J|/h.
    """

    def derivative(f):
        return (f(-2) - 8.0 * f(-1) + 8.0 * f(1) - f(2)) / (12.0 * h)

    dx = derivative(lambda k: value(x + k * h, y, p))
    dy = derivative(lambda k: value(x, y + k * h, p))
    return dx, dy


@pytest.mark.parametrize("case", PARAMETER_CASES, ids=case_id)
def test_gradient_matches_finite_differences(case, rng):
    key, params = case
    surface = get_surface(key)
    p = surface.pack(params)
    x0, x1, y0, y1 = surface.window
    h = 1e-4 * surface.span
    points = np.column_stack([rng.uniform(x0, x1, 200), rng.uniform(y0, y1, 200)])
    for x, y in points:
        x, y = float(x), float(y)
        analytic = surface.grad(x, y, p)
        numeric = central_difference(surface.value, x, y, p, h)
        # At this h both error terms stay below 1e-8·(1 + |J|) on every
        # surface: Rastrigin with A = 40 has the largest J⁽⁵⁾, 40·(2π)⁵.
        scale = 1.0 + abs(surface.value(x, y, p))
        assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-8 * scale)


@pytest.mark.parametrize("case", PARAMETER_CASES, ids=case_id)
def test_value_and_gradient_are_finite_in_window(case, rng):
    key, params = case
    surface = get_surface(key)
    p = surface.pack(params)
    x0, x1, y0, y1 = surface.window
    for x, y in zip(rng.uniform(x0, x1, 100), rng.uniform(y0, y1, 100), strict=True):
        assert math.isfinite(surface.value(float(x), float(y), p))
        gx, gy = surface.grad(float(x), float(y), p)
        assert math.isfinite(gx)
        assert math.isfinite(gy)


@pytest.mark.parametrize("case", PARAMETER_CASES, ids=case_id)
def test_minima_are_stationary_and_listed_value(case):
    key, params = case
    surface = get_surface(key)
    p = surface.pack(params)
    minima = surface.minima(params)
    assert minima
    for m in minima:
        gx, gy = surface.grad(m.x, m.y, p)
        assert abs(gx) < 1e-11, (key, m)
        assert abs(gy) < 1e-11, (key, m)
        assert_allclose(surface.value(m.x, m.y, p), m.value, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", PARAMETER_CASES, ids=case_id)
def test_minima_are_local_minima(case):
    key, params = case
    surface = get_surface(key)
    p = surface.pack(params)
    for m in surface.minima(params):
        x0, x1, y0, y1 = surface.window
        assert x0 <= m.x <= x1
        assert y0 <= m.y <= y1
        # Every point on small circles around the minimum lies higher.
        for radius in (1e-4, 1e-3, 1e-2):
            for angle in np.linspace(0.0, 2.0 * np.pi, 16, endpoint=False):
                x = m.x + radius * math.cos(angle)
                y = m.y + radius * math.sin(angle)
                assert surface.value(x, y, p) > m.value, (key, m, radius, angle)


@pytest.mark.parametrize("case", PARAMETER_CASES, ids=case_id)
def test_global_minimum_is_lowest_on_grid(case):
    key, params = case
    surface = get_surface(key)
    p = surface.pack(params)
    lowest = min(m.value for m in surface.minima(params))
    x0, x1, y0, y1 = surface.window
    for x in np.linspace(x0, x1, 61):
        for y in np.linspace(y0, y1, 61):
            assert surface.value(float(x), float(y), p) >= lowest - 1e-12


def test_ravine_values_by_hand():
    surface = get_surface("ravine")
    p = surface.pack({"kappa": 20.0})
    assert surface.value(2.0, -0.5, p) == 0.5 * (4.0 + 20.0 * 0.25)
    assert surface.grad(2.0, -0.5, p) == (2.0, -10.0)


def test_rosenbrock_values_by_hand():
    surface = get_surface("rosenbrock")
    p = surface.pack()
    # (1 − x)² + 100(y − x²)² at (−1.5, 2): 6.25 + 100·0.0625.
    assert_allclose(surface.value(-1.5, 2.0, p), 12.5, rtol=1e-15)
    # ∂x = −2(1 − x) − 400x(y − x²) = −5 − 150, ∂y = 200(y − x²) = −50.
    assert_allclose(surface.grad(-1.5, 2.0, p), (-155.0, -50.0), rtol=1e-15)


def test_himmelblau_minima_by_hand():
    surface = get_surface("himmelblau")
    p = surface.pack()
    assert surface.value(3.0, 2.0, p) == 0.0
    assert len(surface.minima()) == 4
    points = {(round(m.x, 6), round(m.y, 6)) for m in surface.minima()}
    assert len(points) == 4


def test_rastrigin_amplitude_scales_ripples():
    surface = get_surface("rastrigin")
    # At x = y = 0.5 both cosines are −1: J = 2A + 0.5 + 2A.
    for amplitude in (0.0, 1.0, 10.0, 40.0):
        p = surface.pack({"amplitude": amplitude})
        assert_allclose(surface.value(0.5, 0.5, p), 4 * amplitude + 0.5, rtol=1e-14)


def test_saddle_origin_is_not_a_minimum():
    surface = get_surface("saddle")
    p = surface.pack()
    assert surface.grad(0.0, 0.0, p) == (0.0, 0.0)
    assert surface.value(0.0, 0.1, p) < surface.value(0.0, 0.0, p)
    assert surface.value(0.1, 0.0, p) > surface.value(0.0, 0.0, p)


def test_sharp_well_is_narrower_than_flat():
    # Curvature along x at each minimum, by a second difference.
    surface = get_surface("sharp_flat")
    p = surface.pack()
    sharp, flat = surface.minima()
    h = 1e-4

    def curvature(m):
        left = surface.value(m.x - h, m.y, p)
        right = surface.value(m.x + h, m.y, p)
        return (left - 2.0 * m.value + right) / (h * h)

    assert curvature(sharp) > 10.0 * curvature(flat)


def test_default_starts_inside_window():
    for surface in SURFACES.values():
        x0, x1, y0, y1 = surface.window
        x, y = surface.default_start
        assert x0 <= x <= x1, surface.key
        assert y0 <= y <= y1, surface.key


def test_parameter_out_of_range_rejected():
    surface = get_surface("ravine")
    with pytest.raises(ValueError, match="kappa"):
        surface.pack({"kappa": 0.5})
    with pytest.raises(ValueError, match="kappa"):
        surface.pack({"kappa": float("nan")})
    with pytest.raises(ValueError, match="valid parameters: kappa"):
        surface.pack({"gamma": 2.0})


def test_unknown_surface_lists_valid_keys():
    with pytest.raises(ValueError, match="valid surfaces: ravine, rosenbrock"):
        get_surface("bowl")


@pytest.mark.parametrize("key", list(SURFACES))
def test_suggested_rates_are_stable(key):
    from optimizers import OPTIMIZERS, simulate

    surface = SURFACES[key]
    assert set(surface.suggested_lr) == set(OPTIMIZERS)
    for optimizer, lr in surface.suggested_lr.items():
        run = simulate(surface, optimizer, steps=300, lr=lr)
        assert run.diverged_at[0] == -1, f"{optimizer} at η={lr} diverged"
