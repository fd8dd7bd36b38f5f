"""The page's summaries of runs: CSV export, divergence messages, basins, steps."""

import csv
import io

import numpy as np
import pytest

from lab.results import (
    RacerResult,
    basin_table,
    divergence_messages,
    step_ratios,
    trajectories_csv,
)
from landscapes import SURFACES
from optimizers import cloud, simulate


@pytest.fixture(scope="module")
def ravine_results():
    sgd = simulate("ravine", "sgd", steps=40, lr=0.03)
    adam = simulate("ravine", "adam", starts=cloud((-5, 1.5), 3, 0.2), steps=40, lr=0.1)
    return [RacerResult("SGD", sgd), RacerResult("Adam", adam)]


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_holds_every_record(ravine_results):
    rows = _rows(trajectories_csv(ravine_results))
    assert len(rows) == 1 * 41 + 3 * 41
    adam = ravine_results[1].run
    last = [r for r in rows if r["racer"] == "Adam" and r["particle"] == "2"][-1]
    assert int(last["step"]) == 40
    assert float(last["x"]) == adam.positions[2, -1, 0]
    assert float(last["y"]) == adam.positions[2, -1, 1]
    assert float(last["loss"]) == adam.losses[2, -1]


def test_csv_thins_long_runs(ravine_results):
    rows = _rows(trajectories_csv(ravine_results, max_rows=50))
    assert len(rows) <= 50 + 4
    steps = {int(r["step"]) for r in rows}
    assert 0 in steps
    assert 40 in steps


def test_csv_skips_racers_without_run():
    rows = _rows(trajectories_csv([RacerResult("broken", None, "invalid")]))
    assert rows == []


def test_divergence_message_names_racer_and_step():
    run = simulate("ravine", "sgd", steps=50, lr=1.0)
    messages = divergence_messages([RacerResult("SGD η=1", run)])
    assert len(messages) == 1
    assert "SGD η=1 diverged at step" in messages[0]
    assert str(int(run.diverged_at[0])) in messages[0]


def test_divergence_message_counts_cloud():
    run = simulate("ravine", "sgd", starts=cloud((-5, 1.5), 10, 0.1), steps=50, lr=1.0)
    messages = divergence_messages([RacerResult("SGD", run)])
    assert messages[0].startswith("10 of 10 particles of SGD diverged")


def test_no_message_without_divergence(ravine_results):
    assert divergence_messages(ravine_results) == []


def test_basin_table_counts_every_particle():
    surface = SURFACES["himmelblau"]
    starts = cloud((0.0, 0.0), 40, 2.0, seed=3)
    run = simulate(surface, "sgd", starts=starts, steps=2000, lr=0.005)
    row = basin_table([RacerResult("SGD", run)], surface, {})[0]
    counted = sum(v for k, v in row.items() if k.endswith(": particles"))
    assert counted + row.get("diverged", 0) == 40
    assert all(np.isfinite(v) for k, v in row.items() if k.endswith("loss"))


def test_step_ratios_show_bias_correction():
    corrected = simulate("ravine", "adam", steps=30, lr=0.02)
    raw = simulate("ravine", "adam", steps=30, lr=0.02, bias_correction=False)
    ratios = step_ratios([RacerResult("on", corrected), RacerResult("off", raw)])
    assert ratios["on"][0] == pytest.approx(1.0, rel=1e-6)
    assert ratios["off"][0] > 3.0


def test_heavy_scene_is_refused():
    from lab.lessons import LESSONS
    from lab.results import WORK_LIMIT, scene_work, too_much_work
    from lab.scene import Racer, Scene

    for lesson in LESSONS.values():
        assert too_much_work(lesson.scene) == ""
    heavy = Scene(
        particles=500, steps=2000, noise=0.5, samples=256,
        racers=tuple(Racer("sgd", batch_size=256) for _ in range(6)),
    )
    assert scene_work(heavy) > WORK_LIMIT
    assert "million gradient evaluations" in too_much_work(heavy)
