"""Compare the engine's throughput with NumPy and torch.optim in one run.

Usage: ``python benchmarks/engine.py [--repeats N] [--skip-compile]``

Prints particle-steps per second for Adam on Rosenbrock in two cases, with the
ratios against the alternatives, then the first-call compile time of a kernel
with and without Numba's on-disk cache. Times are medians of ``--repeats``
interleaved runs after one warm-up call each; the machine is shared, so read
ratios, not absolute numbers.
"""

import argparse
import gc
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optimizers import simulate  # noqa: E402

LR, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 1e-8
ROUND_SECONDS = 0.05


def numpy_adam(starts: np.ndarray, steps: int, record: bool) -> np.ndarray:
    """Adam on Rosenbrock, vectorised over particles with NumPy."""
    theta = starts.copy()
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    path = np.empty((steps + 1, *theta.shape)) if record else None
    if record:
        path[0] = theta
    for t in range(1, steps + 1):
        x, y = theta[:, 0], theta[:, 1]
        w = y - x * x
        g = np.column_stack([-2.0 * (1.0 - x) - 400.0 * x * w, 200.0 * w])
        m = BETA1 * m + (1.0 - BETA1) * g
        v = BETA2 * v + (1.0 - BETA2) * g * g
        m_hat = m / (1.0 - BETA1**t)
        v_hat = v / (1.0 - BETA2**t)
        theta = theta - LR * m_hat / (np.sqrt(v_hat) + EPS)
        if record:
            path[t] = theta
    return theta


def torch_adam(starts: np.ndarray, steps: int):
    """Adam on Rosenbrock with torch.optim and autograd, as a user would write it."""
    import torch

    torch.set_num_threads(1)
    theta = torch.tensor(starts, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([theta], lr=LR, betas=(BETA1, BETA2), eps=EPS)
    for _ in range(steps):
        optimizer.zero_grad()
        x, y = theta[:, 0], theta[:, 1]
        loss = ((1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2).sum()
        loss.backward()
        optimizer.step()
    return theta.detach().numpy()


def engine(starts: np.ndarray, steps: int, record: bool):
    return simulate(
        "rosenbrock",
        "adam",
        starts=starts,
        steps=steps,
        lr=LR,
        beta1=BETA1,
        beta2=BETA2,
        eps=EPS,
        record_every=1 if record else steps,
    )


def throughput_case(title, starts, steps, record, repeats, torch_available):
    """Time each implementation, interleaved, and print medians and ratios.

    Rounds go round-robin (engine, NumPy, torch, engine, ...), so a burst of
    load from another process slows every implementation alike instead of
    one of them. Torch is slow, so it runs in every third round only. Within a round an
    implementation runs back to back for at least ROUND_SECONDS and counts
    the mean, so that a 0.1 ms call is timed warm, as a slider rerun is.
    """
    particle_steps = starts.shape[0] * steps
    implementations = {
        "engine (Numba)": lambda: engine(starts, steps, record),
        "NumPy, vectorised": lambda: numpy_adam(starts, steps, record),
    }
    if torch_available:
        implementations["torch.optim.Adam"] = lambda: torch_adam(starts, steps)
    times = {name: [] for name in implementations}
    calls = {}
    for name, function in implementations.items():
        function()  # The first call may load or compile a kernel.
        started = time.perf_counter()
        function()
        calls[name] = max(1, int(ROUND_SECONDS / (time.perf_counter() - started)))
    for repeat in range(repeats):
        for name, function in implementations.items():
            if name.startswith("torch") and repeat % 3:
                continue
            # As timeit does: a garbage collection triggered by another
            # implementation's objects (torch's autograd graphs) would
            # otherwise be charged to whichever call happens to run next.
            gc.collect()
            gc.disable()
            started = time.perf_counter()
            for _ in range(calls[name]):
                function()
            elapsed = time.perf_counter() - started
            gc.enable()
            times[name].append(elapsed / calls[name])
    print(f"\n{title}")
    print(
        f"{'implementation':<20} {'median time':>12} {'M particle-steps/s':>20} "
        f"{'engine is x faster':>20}"
    )
    engine_time = statistics.median(times["engine (Numba)"])
    for name, samples in times.items():
        seconds = statistics.median(samples)
        rate = particle_steps / seconds / 1e6
        print(
            f"{name:<20} {seconds * 1e3:>10.3f} ms {rate:>20.2f} "
            f"{seconds / engine_time:>20.1f}"
        )


COMPILE_PROBE = """
import time, sys
started = time.perf_counter()
from optimizers import simulate
imported = time.perf_counter()
simulate(sys.argv[1], sys.argv[2], steps=10)
done = time.perf_counter()
print(f"{imported - started:.3f} {done - imported:.3f}")
"""


def compile_times(pairs):
    print("\nFirst call in a new process (import, then first simulate call), seconds")
    print(f"{'surface':<12} {'optimizer':<10} {'no disk cache':>14} {'disk cache':>11}")
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "LOSS_LAB_CACHE_DIR": folder}
        env.pop("NUMBA_CACHE_DIR", None)
        for surface, optimizer in pairs:
            cold, warm = (
                subprocess.run(
                    [sys.executable, "-c", COMPILE_PROBE, surface, optimizer],
                    cwd=root,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split()[1]
                for _ in range(2)
            )
            row = f"{surface:<12} {optimizer:<10} {float(cold):>14.2f}"
            print(f"{row} {float(warm):>11.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-compile", action="store_true")
    args = parser.parse_args()
    try:
        import torch  # noqa: F401

        torch_available = True
    except ImportError:
        torch_available = False
    print(
        f"CPU: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} logical cores; Python {platform.python_version()}, "
        f"NumPy {np.__version__}; torch {'present' if torch_available else 'absent'}"
    )
    rng = np.random.default_rng(0)
    one = np.array([[-1.5, 2.0]])
    throughput_case(
        "One particle, 1,000 steps, every step recorded",
        one,
        1000,
        True,
        args.repeats,
        torch_available,
    )
    cloud = np.array([-1.5, 2.0]) + 0.1 * rng.standard_normal((100_000, 2))
    throughput_case(
        "100,000 particles, 200 steps, final positions only",
        cloud,
        200,
        False,
        args.repeats,
        torch_available,
    )
    if not args.skip_compile:
        compile_times(
            [("rosenbrock", "adam"), ("rosenbrock", "sgd"), ("sharp_flat", "momentum")]
        )


if __name__ == "__main__":
    main()
