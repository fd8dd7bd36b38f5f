"""Compiled value and gradient functions of the built-in loss surfaces.

Every surface is a pair of scalar functions of ``(x, y, p)``, where ``p`` is a
float64 array of the surface's parameters (unused entries are ignored). The
gradient returns ``(dJ/dx, dJ/dy)``. They are small enough for Numba to inline
into the optimizer kernels, which is what lets those kernels vectorise.
"""

import math

from numba import njit

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(**_JIT)
def ravine_value(x, y, p):
    """(x² + κy²)/2 with κ = p[0]."""
    return 0.5 * (x * x + p[0] * y * y)


@njit(**_JIT)
def ravine_grad(x, y, p):
    return x, p[0] * y


@njit(**_JIT)
def rosenbrock_value(x, y, p):
    """(a − x)² + b(y − x²)² with a = p[0], b = p[1]."""
    u = p[0] - x
    w = y - x * x
    return u * u + p[1] * w * w


@njit(**_JIT)
def rosenbrock_grad(x, y, p):
    w = y - x * x
    return -2.0 * (p[0] - x) - 4.0 * p[1] * x * w, 2.0 * p[1] * w


@njit(**_JIT)
def sharp_flat_value(x, y, p):
    """c(x² + y²) − d·exp(−r_s²/2σ_s²) − d·exp(−r_f²/2σ_f²).

    The sharp well sits at (−p[3], 0) with width σ_s = p[1], the flat one at
    (p[3], 0) with width σ_f = p[2]; both have depth d = 1 and c = p[0].
    """
    xs = x + p[3]
    xf = x - p[3]
    es = math.exp(-(xs * xs + y * y) / (2.0 * p[1] * p[1]))
    ef = math.exp(-(xf * xf + y * y) / (2.0 * p[2] * p[2]))
    return p[0] * (x * x + y * y) - es - ef


@njit(**_JIT)
def sharp_flat_grad(x, y, p):
    xs = x + p[3]
    xf = x - p[3]
    ks = 1.0 / (p[1] * p[1])
    kf = 1.0 / (p[2] * p[2])
    es = math.exp(-0.5 * ks * (xs * xs + y * y)) * ks
    ef = math.exp(-0.5 * kf * (xf * xf + y * y)) * kf
    gx = 2.0 * p[0] * x + es * xs + ef * xf
    gy = 2.0 * p[0] * y + es * y + ef * y
    return gx, gy


@njit(**_JIT)
def saddle_value(x, y, p):
    """(x² − y²)/2 + y⁴/4: a saddle at the origin, minima at (0, ±1)."""
    return 0.5 * (x * x - y * y) + 0.25 * y * y * y * y


@njit(**_JIT)
def saddle_grad(x, y, p):
    return x, y * y * y - y


@njit(**_JIT)
def himmelblau_value(x, y, p):
    """(x² + y − 11)² + (x + y² − 7)²."""
    u = x * x + y - 11.0
    w = x + y * y - 7.0
    return u * u + w * w


@njit(**_JIT)
def himmelblau_grad(x, y, p):
    u = x * x + y - 11.0
    w = x + y * y - 7.0
    return 4.0 * x * u + 2.0 * w, 2.0 * u + 4.0 * y * w


@njit(**_JIT)
def rastrigin_value(x, y, p):
    """2A + x² − A·cos(2πx) + y² − A·cos(2πy) with A = p[0]."""
    tau = 2.0 * math.pi
    a = p[0]
    return 2.0 * a + x * x - a * math.cos(tau * x) + y * y - a * math.cos(tau * y)


@njit(**_JIT)
def rastrigin_grad(x, y, p):
    tau = 2.0 * math.pi
    a = p[0]
    return 2.0 * x + a * tau * math.sin(tau * x), 2.0 * y + a * tau * math.sin(tau * y)
