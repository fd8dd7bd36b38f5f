"""Time what one page rerun costs the server, and measure what it sends.

Usage: ``python benchmarks/page.py [--repeats N]``

For the default scene and every lesson it prints the median time to simulate
the scene and to build its figures (after one warm-up call), and the size of
the figures' JSON, which is what the browser downloads. Then it times the
50 × 50 sweep map of 300 steps.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import charts  # noqa: E402
from lab.lessons import LESSONS  # noqa: E402
from lab.results import run_scene, surface_of  # noqa: E402
from lab.scene import Scene  # noqa: E402
from lab.sweep import sweep_racer  # noqa: E402


def median_ms(function, repeats: int, *args) -> float:
    function(*args)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def figures(scene: Scene, surface, results):
    params = dict(scene.surface_params)
    trajectories = [
        charts.Trajectory(r.label, charts.PALETTE[i % len(charts.PALETTE)], r.run)
        for i, r in enumerate(results)
    ]
    return [
        charts.surface_figure(surface, params, trajectories),
        charts.loss_figure(trajectories),
        charts.learning_rate_figure(trajectories),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    scenes = {"default scene": Scene(), "default, 500 steps": Scene(steps=500)}
    scenes.update({f"lesson {key}": lesson.scene for key, lesson in LESSONS.items()})
    print(f"{'scene':<24} {'simulate':>10} {'figures':>10} {'total':>10} {'JSON':>10}")
    for name, scene in scenes.items():
        surface = surface_of(scene)
        results = run_scene(scene, surface)
        simulate_ms = median_ms(run_scene, args.repeats, scene, surface)
        figures_ms = median_ms(figures, args.repeats, scene, surface, results)
        size = sum(len(f.to_json()) for f in figures(scene, surface, results))
        print(
            f"{name:<24} {simulate_ms:>8.1f} ms {figures_ms:>8.1f} ms "
            f"{simulate_ms + figures_ms:>8.1f} ms {size / 1e6:>7.2f} MB"
        )
    scene = Scene()
    surface = surface_of(scene)
    racer = scene.racers[1]
    sweep_ms = median_ms(
        sweep_racer, max(1, args.repeats // 3), scene, racer, surface, 50, 300
    )
    print(f"\nSweep map, 50 x 50 runs of 300 steps ({racer.optimizer} on the ravine): "
          f"{sweep_ms:.0f} ms")


if __name__ == "__main__":
    main()
