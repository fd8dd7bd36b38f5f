"""The simulation loop, compiled once per surface: every step, every particle.

This file is a template as well as a module. ``value``, ``grad`` and
``update`` are module globals bound between the BINDINGS markers below;
:mod:`optimizers.compiled` copies this file with that block rebound to each
surface and optimizer. Fixed globals make this fast and cacheable. Numba does
not cache a kernel that receives a jitted function as an argument, and an
optimizer chosen by a runtime id inside the particle loop stopped it from
vectorising (measured 75 against 360 M particle-steps/s for Adam).
Imported directly, this module runs SGD on the ravine.

:func:`run_optimizer` runs the time loop outside and a loop over particles
inside. The particle loop has no data-dependent branch, so Numba vectorises it
with SIMD; divergence is tracked with selects.

Kernels are serial and release the GIL (``nogil=True``): several Streamlit
sessions may call them from different threads at once, which ``parallel=True``
does not survive with Numba's default threading layer.
"""

# The BINDINGS block must stay one contiguous block, so imports are not sorted.
# ruff: noqa: I001

import math

import numpy as np
from numba import njit

# BEGIN BINDINGS
from landscapes.functions import ravine_grad as grad
from landscapes.functions import ravine_value as value
from optimizers.updates import sgd_update as update

# END BINDINGS

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
# Helpers that take arrays are inlined in Numba's IR: a real call would update
# the reference counts of every array argument, which dominated the cost of
# short runs that record every step.
_INLINE = {**_JIT, "inline": "always"}


@njit(**_JIT)
def _mix(seed, t, i, b):
    """Hash (seed, step, particle, draw) to a non-negative 31-bit integer.

    SplitMix64's finaliser: a counter-based generator gives the same mini-batches
    on every thread and in every process, whatever ran before.
    """
    u = np.uint64
    z = u(seed) * u(0x9E3779B97F4A7C15) + u(t) * u(0xBF58476D1CE4E5B9)
    z = z + u(i) * u(0x94D049BB133111EB) + u(b) * u(0x632BE59BD9B4E5B)
    z = (z ^ (z >> u(30))) * u(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> u(27))) * u(0x94D049BB133111EB)
    z = z ^ (z >> u(31))
    return np.int64(z >> u(33))


@njit(**_JIT)
def _batch_gradients(p, x, y, s1x, s1y, look, shifts, batch, seed, t, gx, gy):
    """Average the sample gradients ∇f(θ − δᵢ) over a mini-batch of each particle.

    With ``batch`` equal to the number of samples every sample is used once,
    which is full-batch descent on the training loss. Smaller batches draw
    samples uniformly with replacement.
    """
    samples = shifts.shape[0]
    full = batch >= samples
    scale = 1.0 / batch
    for i in range(x.size):
        px = x[i] - look * s1x[i]
        py = y[i] - look * s1y[i]
        sx = 0.0
        sy = 0.0
        for b in range(batch):
            k = b if full else _mix(seed, t, i, b) % samples
            dx, dy = grad(px - shifts[k, 0], py - shifts[k, 1], p)
            sx += dx
            sy += dy
        gx[i] = sx * scale
        gy[i] = sy * scale


@njit(**_JIT)
def _mean_shifted_value(p, x, y, shifts):
    total = 0.0
    for k in range(shifts.shape[0]):
        total += value(x - shifts[k, 0], y - shifts[k, 1], p)
    return total / shifts.shape[0]


@njit(**_JIT)
def _loss(p, x, y, shifts):
    if shifts.shape[0] == 0:
        return value(x, y, p)
    return _mean_shifted_value(p, x, y, shifts)


@njit(**_INLINE)
def _advance(p, hp, look, corrections, lrs, bounds, state, dead, t0, t1,
             shifts, batch, seed, gx, gy):
    """Run steps ``t0`` to ``t1 - 1`` for every particle.

    The particle loop branches only on ``noisy``, which is loop-invariant, and
    combines conditions with ``&`` (``and`` short-circuits into branches), so
    it vectorises. It calls only functions of scalars: passing arrays to a
    callee costs reference counting on every call. Nesterov (``look`` = γ)
    takes the gradient at θ − γv.
    """
    # NOTE: in some processes this loop runs about 4 times slower with the same
    # code and inputs (100 against 430 M particle-steps/s for Adam). The cause
    # is not known; BENCHMARKS.md has the measurements.
    x, y, s1x, s1y, s2x, s2y = state
    cx, cy, rx, ry = bounds
    bias = corrections.shape[0] > 0
    noisy = shifts.shape[0] > 0
    for t in range(t0, t1):
        lr = lrs[t]
        c1 = corrections[t, 0] if bias else 1.0
        c2 = corrections[t, 1] if bias else 1.0
        if noisy:
            _batch_gradients(p, x, y, s1x, s1y, look, shifts, batch, seed, t, gx, gy)
        for i in range(x.size):
            # Gradient: the mini-batch average, or the exact one.
            if noisy:
                g0 = gx[i]
                g1 = gy[i]
            else:
                g0, g1 = grad(x[i] - look * s1x[i], y[i] - look * s1y[i], p)

            # Update each coordinate.
            nx, a1, a2 = update(x[i], g0, s1x[i], s2x[i], lr, c1, c2, hp)
            ny, b1, b2 = update(y[i], g1, s1y[i], s2y[i], lr, c1, c2, hp)

            # A particle that leaves the bounds or stops being finite (NaN fails
            # every comparison) keeps its last good state and records the step.
            inside = (abs(nx - cx) <= rx) & (abs(ny - cy) <= ry)
            alive = dead[i] < 0
            keep = inside & alive
            dead[i] = t + 1 if alive & (not inside) else dead[i]
            x[i] = nx if keep else x[i]
            y[i] = ny if keep else y[i]
            s1x[i] = a1 if keep else s1x[i]
            s2x[i] = a2 if keep else s2x[i]
            s1y[i] = b1 if keep else s1y[i]
            s2y[i] = b2 if keep else s2y[i]


@njit(**_INLINE)
def _record(p, x, y, dead, record_steps, r, shifts, test_shifts,
            positions, losses, test_losses):
    """Store positions and losses at record ``r``.

    A particle whose training or test loss is not finite there is put back
    where it was at the previous record and marked diverged at this record's
    step. At record 0 there is no previous record: the caller rejects a run
    that marks a particle diverged at step 0.
    """
    testing = test_shifts.shape[0] > 0
    for i in range(x.size):
        loss = _loss(p, x[i], y[i], shifts)
        test = _mean_shifted_value(p, x[i], y[i], test_shifts) if testing else 0.0
        if not (math.isfinite(loss) and math.isfinite(test)):
            if dead[i] < 0:
                dead[i] = record_steps[r]
            x[i] = positions[i, r - 1, 0]
            y[i] = positions[i, r - 1, 1]
            loss = losses[i, r - 1]
            test = test_losses[i, r - 1] if testing else 0.0
        positions[i, r, 0] = x[i]
        positions[i, r, 1] = y[i]
        losses[i, r] = loss
        if testing:
            test_losses[i, r] = test


@njit(**_JIT)
def run_optimizer(look, p, hp, corrections, lrs, record_steps, bounds, x, y, shifts,
                  batch, seed, test_shifts, positions, losses, test_losses, dead):
    """Simulate the bound optimizer on the bound surface, in place.

    ``x`` and ``y`` contain the starts and end as the final positions. The
    outputs are ``positions`` (particles, records, 2), ``losses``,
    ``test_losses`` (particles, records, or no columns without noise) and
    ``dead``, the step at which each particle diverged or −1. ``look`` is γ for
    Nesterov's look-ahead gradient and 0 otherwise. ``corrections`` contains
    1 − β1ᵗ and 1 − β2ᵗ for each step (t from 1), or no rows when bias
    correction is off, because NumPy computes them once for all steps.
    The caller validates every argument
    and checks that every start has a finite loss, so record 0 needs no check.
    """
    n = x.size
    # Tuples, not arrays, inside the loops: values cannot alias the arrays the
    # loops write, so LLVM vectorises without runtime overlap checks.
    p = (p[0], p[1], p[2], p[3])
    hp = (hp[0], hp[1], hp[2], hp[3], hp[4])
    bounds = (bounds[0], bounds[1], bounds[2], bounds[3])
    state = (x, y, np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n))
    noisy = shifts.shape[0] > 0
    gx = np.empty(n if noisy else 0)
    gy = np.empty(n if noisy else 0)
    _record(p, x, y, dead, record_steps, 0, shifts, test_shifts, positions, losses,
            test_losses)
    for r in range(1, record_steps.size):
        _advance(p, hp, look, corrections, lrs, bounds, state, dead,
                 record_steps[r - 1], record_steps[r], shifts, batch, seed, gx, gy)
        _record(p, x, y, dead, record_steps, r, shifts, test_shifts, positions,
                losses, test_losses)
