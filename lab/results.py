"""Run a scene through the engine and summarise the runs for the page.

Nothing here imports Streamlit, so the page, the tests and a notebook share it.
"""

import csv
import io
from dataclasses import dataclass

import numpy as np

from landscapes import SURFACES, Surface
from optimizers import Run, simulate


@dataclass(frozen=True)
class RacerResult:
    """The run of one racer, or the message that explains why it could not run."""

    label: str
    run: Run | None
    error: str = ""


def surface_of(scene) -> Surface:
    """Return the surface a scene shows: a built-in one or the typed formula.

    Raises ``landscapes.formula.FormulaError`` for a formula that cannot be used.
    """
    if scene.surface == "formula":
        from landscapes.formula import parse_formula

        return parse_formula(scene.formula, scene.window_bounds())
    return SURFACES[scene.surface]


def run_scene(scene, surface: Surface) -> list[RacerResult]:
    """Simulate every racer of ``scene`` on ``surface`` from the same starts."""
    results = []
    for racer, label in zip(scene.racers, scene.labels(), strict=True):
        kwargs = scene.simulate_kwargs(racer, record_every=_record_every(scene))
        try:
            run = simulate(surface, racer.optimizer, **kwargs)
        except ValueError as error:
            results.append(RacerResult(label, None, str(error)))
            continue
        results.append(RacerResult(label, run))
    return results


CLOUD_RECORDS = 300
"""Records kept of a cloud, enough for the animation's frames and the curves."""

NOISY_CLOUD_RECORDS = 100
"""Records kept of a noisy cloud; each costs a training- and test-loss average."""

WORK_LIMIT = 50_000_000
"""Gradient and loss evaluations one page view may ask for: about a second of
one core on the surfaces with exponentials (see BENCHMARKS.md)."""


def _record_every(scene) -> int:
    """Record every step of single particles; thin the records of clouds."""
    if scene.particles == 1:
        return 1
    budget = NOISY_CLOUD_RECORDS if scene.noise > 0 else CLOUD_RECORDS
    return max(1, -(-scene.steps // budget))


def scene_work(scene) -> int:
    """Estimate the gradient and loss evaluations that simulating ``scene`` costs."""
    records = scene.steps // _record_every(scene) + 1
    total = 0
    for racer in scene.racers:
        kwargs = scene.simulate_kwargs(racer, record_every=_record_every(scene))
        noisy = kwargs["noise"] > 0
        batch = kwargs["batch_size"] if noisy else 1
        per_record = kwargs["samples"] + kwargs["test_samples"] if noisy else 1
        total += scene.particles * (scene.steps * batch + records * per_record)
    return total


def too_much_work(scene) -> str:
    """Return a message for a scene heavier than WORK_LIMIT, or "" if it may run."""
    work = scene_work(scene)
    if work <= WORK_LIMIT:
        return ""
    return (
        f"This scene needs about {work / 1e6:,.0f} million gradient evaluations, "
        f"more than the {WORK_LIMIT / 1e6:,.0f} million this shared server allows "
        "per view. Use fewer particles, steps, optimizers or training samples, or "
        "a smaller mini-batch."
    )


def divergence_messages(results: list[RacerResult]) -> list[str]:
    """Describe, in plain words, which racers diverged and at which step."""
    messages = []
    for result in results:
        if result.run is None:
            continue
        steps = result.run.diverged_at
        diverged = steps[steps >= 0]
        if diverged.size == 0:
            continue
        first = int(diverged.min())
        if steps.size == 1:
            messages.append(
                f"{result.label} diverged at step {first}: the particle left the "
                "surface or reached a point where the loss is undefined, so it "
                "stops at its last good position. A smaller learning rate "
                "usually helps."
            )
        else:
            messages.append(
                f"{diverged.size} of {steps.size} particles of {result.label} "
                f"diverged (the first at step {first}); they stop at their last good "
                "position. Try a smaller learning rate."
            )
    return messages


CSV_ROWS = 200_000
"""Rows the CSV export may have; longer runs are thinned to every k-th record."""


def trajectories_csv(results: list[RacerResult], max_rows: int = CSV_ROWS) -> str:
    """Return recorded positions and losses as CSV, one row per particle-step.

    When all racers together have more than ``max_rows`` records, only every
    k-th record is written (the last one always), so the file stays a few MB.
    """
    runs = [result for result in results if result.run is not None]
    total = sum(r.run.positions.shape[0] * r.run.record_steps.size for r in runs)
    stride = max(1, -(-total // max_rows))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["racer", "particle", "step", "x", "y", "loss", "test_loss",
                     "learning_rate", "diverged_at"])
    for result in runs:
        run = result.run
        records = np.arange(0, run.record_steps.size, stride)
        if records[-1] != run.record_steps.size - 1:
            records = np.append(records, run.record_steps.size - 1)
        rates = np.r_[run.learning_rates, np.nan]
        for particle in range(run.positions.shape[0]):
            for r in records:
                step = run.record_steps[r]
                x, y = run.positions[particle, r]
                rate = rates[min(step, rates.size - 1)]
                writer.writerow([
                    result.label, particle, int(step), repr(float(x)), repr(float(y)),
                    repr(float(run.losses[particle, r])),
                    repr(float(run.test_losses[particle, r])),
                    "" if np.isnan(rate) else repr(float(rate)),
                    int(run.diverged_at[particle]),
                ])
    return buffer.getvalue()


def basin_table(results: list[RacerResult], surface: Surface, params) -> list[dict]:
    """Return one row per racer: particles per basin and the mean losses there.

    A particle belongs to the basin of the listed minimum it ends nearest to
    (see :func:`lab.lessons.nearest_minima`); diverged particles are counted
    apart.
    """
    from lab.lessons import nearest_minima

    rows = []
    for result in results:
        run = result.run
        if run is None:
            continue
        labels, nearest = nearest_minima(surface, params, run.final_positions)
        alive = run.diverged_at < 0
        row = {"optimizer": result.label}
        for index, label in enumerate(labels):
            members = alive & (nearest == index)
            row[f"{label}: particles"] = int(members.sum())
            if members.any():
                row[f"{label}: train loss"] = float(run.losses[members, -1].mean())
                row[f"{label}: test loss"] = float(run.test_losses[members, -1].mean())
        row["diverged"] = int((~alive).sum())
        rows.append(row)
    return rows


def step_ratios(results: list[RacerResult], count: int = 30) -> dict[str, np.ndarray]:
    """Return each racer's largest coordinate step |Δθᵢ| over η, for its first steps.

    Uses the first particle and needs every step recorded. Adam moves each
    coordinate by about η per step with bias correction, and by several times
    η over the first steps without it.
    """
    ratios = {}
    for result in results:
        run = result.run
        if run is None or run.record_steps.size < 2 or run.record_steps[1] != 1:
            continue
        path = run.positions[0, : count + 1]
        lengths = np.abs(np.diff(path, axis=0)).max(axis=1)
        rates = run.learning_rates[: lengths.size]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios[result.label] = np.where(rates > 0, lengths / rates, np.nan)
    return ratios
