"""Scalar update rules of the optimizers, one coordinate at a time.

Each rule maps ``(θ, g, s1, s2, lr, c1, c2, hp)`` to ``(θ, s1, s2)``: ``s1``
and ``s2`` are the optimizer's two state slots (velocity, first or second
moment), ``c1`` and ``c2`` the bias-correction denominators 1 − β1ᵗ and
1 − β2ᵗ of the step (1 when correction is off) and ``hp`` the hyperparameter
array indexed by the ``HP_*`` constants.

The arithmetic follows ``torch.optim`` (single-tensor CPU path, PyTorch 2.13)
operation for operation where the update rules agree, so that float64
trajectories can be compared with it to a relative 1e-9. One departure: √v is
multiplied by 1/√c2 instead of divided by √c2. The reciprocal is the same for
every particle, so the compiler hoists it out of the particle loop, which saves
a division per coordinate; the result differs from torch's by at most a
rounding.
"""

import math

from numba import njit

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

# Slots of the hyperparameter array ``hp``.
HP_MOMENTUM, HP_BETA1, HP_BETA2, HP_EPS, HP_WEIGHT_DECAY = range(5)
HP_SIZE = 5


@njit(**_JIT)
def sgd_update(theta, g, s1, s2, lr, c1, c2, hp):
    # L2 weight decay is added to the gradient, as torch.optim.SGD does.
    g = g + hp[HP_WEIGHT_DECAY] * theta
    return theta + -lr * g, s1, s2


@njit(**_JIT)
def momentum_update(theta, g, s1, s2, lr, c1, c2, hp):
    # v ← γv + ηg, θ ← θ − v. Nesterov uses the same rule with g taken at θ − γv.
    g = g + hp[HP_WEIGHT_DECAY] * theta
    v = hp[HP_MOMENTUM] * s1 + lr * g
    return theta - v, v, s2


@njit(**_JIT)
def adagrad_update(theta, g, s1, s2, lr, c1, c2, hp):
    # G ← G + g², θ ← θ − ηg/(√G + ε).
    g = g + hp[HP_WEIGHT_DECAY] * theta
    total = s2 + g * g
    return theta + -lr * g / (math.sqrt(total) + hp[HP_EPS]), s1, total


@njit(**_JIT)
def rmsprop_update(theta, g, s1, s2, lr, c1, c2, hp):
    # v ← β2·v + (1 − β2)g², θ ← θ − ηg/(√(v/c2) + ε); c2 = 1 without correction.
    g = g + hp[HP_WEIGHT_DECAY] * theta
    v = s2 * hp[HP_BETA2] + (1.0 - hp[HP_BETA2]) * g * g
    return theta + -lr * g / (math.sqrt(v) * (1.0 / math.sqrt(c2)) + hp[HP_EPS]), s1, v


@njit(**_JIT)
def _adam_moments(g, s1, s2, hp):
    # m ← β1·m + (1 − β1)g, written as torch's lerp computes it.
    weight = 1.0 - hp[HP_BETA1]
    m = s1 + weight * (g - s1)
    v = s2 * hp[HP_BETA2] + (1.0 - hp[HP_BETA2]) * g * g
    return m, v


@njit(**_JIT)
def adam_update(theta, g, s1, s2, lr, c1, c2, hp):
    # θ ← θ − η·m̂/(√v̂ + ε) with m̂ = m/c1, v̂ = v/c2; L2 decay joins the gradient.
    g = g + hp[HP_WEIGHT_DECAY] * theta
    m, v = _adam_moments(g, s1, s2, hp)
    denom = math.sqrt(v) * (1.0 / math.sqrt(c2)) + hp[HP_EPS]
    return theta + -(lr / c1) * m / denom, m, v


@njit(**_JIT)
def adamw_update(theta, g, s1, s2, lr, c1, c2, hp):
    # Decoupled decay: θ ← θ(1 − ηλ) first, then the Adam step without L2.
    theta = theta * (1.0 - lr * hp[HP_WEIGHT_DECAY])
    m, v = _adam_moments(g, s1, s2, hp)
    denom = math.sqrt(v) * (1.0 / math.sqrt(c2)) + hp[HP_EPS]
    return theta + -(lr / c1) * m / denom, m, v

