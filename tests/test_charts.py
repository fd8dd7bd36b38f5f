"""Figure builders: real simulations in, Plotly figures out.

The animated top view must keep its background during playback, move only the
particle and arrow traces in frames, stay free of NaN and infinity and stay
under 2 MB. One test plays the figure in headless Chromium.
"""

import base64
import io
import json
import math
import time

import numpy as np
import plotly.graph_objects as go
import pytest
from numpy.testing import assert_allclose
from PIL import Image

import charts
from charts.background import sample_grid
from landscapes import get_surface
from optimizers import cloud, simulate

MAX_PAYLOAD = 2_000_000
ROSENBROCK = get_surface("rosenbrock")
HIMMELBLAU = get_surface("himmelblau")


def _trajectories(runs, labels=None):
    labels = labels or [run.optimizer for run in runs]
    return [
        charts.Trajectory(label, charts.PALETTE[i % len(charts.PALETTE)], run)
        for i, (label, run) in enumerate(zip(labels, runs, strict=True))
    ]


@pytest.fixture(scope="module")
def three_runs():
    """SGD, momentum and Adam on Rosenbrock, 500 steps each, nothing diverges."""
    return [
        simulate(ROSENBROCK, "sgd", steps=500, lr=1e-3),
        simulate(ROSENBROCK, "momentum", steps=500, lr=1e-3),
        simulate(ROSENBROCK, "adam", steps=500, lr=0.05),
    ]


@pytest.fixture(scope="module")
def diverged_run():
    """SGD with a step too large for Rosenbrock's walls: diverges within a few steps."""
    run = simulate(ROSENBROCK, "sgd", steps=200, lr=0.004)
    assert run.diverged_at[0] >= 0, "the setting was chosen to diverge"
    return run


@pytest.fixture(scope="module")
def cloud_runs():
    """300 particles × 3 optimizers × 300 steps on Himmelblau."""
    starts = cloud((0.0, 0.0), 300, 1.5, seed=3)
    return [
        simulate(HIMMELBLAU, "sgd", starts=starts, steps=300, lr=0.01),
        simulate(HIMMELBLAU, "momentum", starts=starts, steps=300, lr=0.01),
        simulate(HIMMELBLAU, "adam", starts=starts, steps=300, lr=0.1),
    ]


def _decode(array):
    """Return a figure array as NumPy, decoding Plotly's base64 typed arrays."""
    if isinstance(array, dict) and "bdata" in array:
        dtype = np.dtype(array["dtype"]).newbyteorder("<")
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=dtype)
    if isinstance(array, np.ndarray):
        return array.ravel()
    return np.array([np.nan if v is None else v for v in array], dtype=np.float64)


def _typed_arrays(node):
    if isinstance(node, dict):
        if "bdata" in node and "dtype" in node:
            yield node
        else:
            for value in node.values():
                yield from _typed_arrays(value)
    elif isinstance(node, list):
        for value in node:
            yield from _typed_arrays(value)


def _reject_constant(name):
    raise ValueError(f"the figure JSON contains {name}")


def _assert_finite_json(figure):
    """Parse the figure JSON strictly: NaN and ±Infinity tokens are errors.

    A plain substring search would also match "NaN" inside base64 data.
    """
    text = figure.to_json()
    parsed = json.loads(text, parse_constant=_reject_constant)
    for array in _typed_arrays(parsed):
        finite = bool(np.all(np.isfinite(_decode(array))))
        assert finite, "a binary array holds NaN or inf"
    return text


def _moving_indices(figure):
    return list(figure.frames[0].traces)


# The animated top view ------------------------------------------------------


def test_background_image_covers_window(three_runs):
    figure = charts.surface_figure(ROSENBROCK, None, _trajectories(three_runs))
    images = figure.layout.images
    assert len(images) == 1
    image = images[0]
    x0, x1, y0, y1 = ROSENBROCK.window
    assert image.xref == "x"
    assert image.yref == "y"
    assert image.layer == "below"
    assert image.sizing == "stretch"
    assert (image.xanchor, image.yanchor) == ("left", "top")
    assert_allclose([image.x, image.y], [x0, y1], rtol=0, atol=1e-12)
    assert_allclose([image.sizex, image.sizey], [x1 - x0, y1 - y0], rtol=1e-12)
    prefix = "data:image/png;base64,"
    assert image.source.startswith(prefix)
    picture = Image.open(io.BytesIO(base64.b64decode(image.source[len(prefix) :])))
    assert picture.size == (160, 160)


def test_background_image_orientation():
    """The picture's top row is the window's top: Rosenbrock is high at y = 3."""
    grid = sample_grid(ROSENBROCK, None, 40)
    prefix = "data:image/png;base64,"
    picture = Image.open(io.BytesIO(base64.b64decode(grid.png[len(prefix) :])))
    pixels = np.asarray(picture.convert("RGB"), dtype=np.float64)
    # Pale viridis grows lighter with J; the top middle (x≈0, y≈3, J≈901) must
    # be lighter than the bottom middle (x≈0, y≈−1, J≈101).
    top = pixels[0, 20].sum()
    bottom = pixels[-1, 20].sum()
    assert top > bottom


def test_sample_grid_is_cached():
    first = sample_grid(HIMMELBLAU, None, 48)
    again = sample_grid(HIMMELBLAU, {}, 48)
    other = sample_grid(HIMMELBLAU, None, 64)
    assert first is again
    assert other is not first
    value = HIMMELBLAU.value(float(first.xs[5]), float(first.ys[7]), HIMMELBLAU.pack())
    assert_allclose(first.values[7, 5], value, rtol=1e-12)


def test_sample_grid_follows_parameters():
    surface = get_surface("ravine")
    steep = sample_grid(surface, {"kappa": 100.0}, 32)
    gentle = sample_grid(surface, {"kappa": 2.0}, 32)
    assert steep.values.max() > gentle.values.max()


def test_no_contour_or_heatmap_trace(three_runs):
    figure = charts.surface_figure(ROSENBROCK, None, _trajectories(three_runs))
    types = {trace.type for trace in figure.data}
    assert types == {"scatter"}
    contour = [t for t in figure.data if t.name == "contour lines"]
    assert len(contour) == 1
    assert len(contour[0].x) > 100
    assert None in contour[0].x


def test_frames_move_only_markers(three_runs):
    figure = charts.surface_figure(ROSENBROCK, None, _trajectories(three_runs))
    moving = _moving_indices(figure)
    assert len(moving) == 3
    for index in moving:
        trace = figure.data[index]
        assert trace.mode == "markers"
        assert trace.name in {"sgd", "momentum", "adam"}
    for frame in figure.frames:
        assert list(frame.traces) == moving
        assert len(frame.data) == len(moving)
        for update in frame.data:
            keys = set(update.to_plotly_json()) - {"type"}
            assert keys <= {"x", "y", "customdata"}


def test_frames_with_arrows_keep_constant_count(three_runs, diverged_run):
    runs = [*three_runs, diverged_run]
    labels = ["sgd", "momentum", "adam", "sgd too fast"]
    figure = charts.surface_figure(
        ROSENBROCK, None, _trajectories(runs, labels), arrows=True
    )
    moving = _moving_indices(figure)
    # Per trajectory: markers, −∇J and update arrows; plus one diverged trace.
    assert len(moving) == 4 * 3 + 1
    names = [figure.data[i].name for i in moving]
    assert sum("−∇J" in n for n in names) == 4
    assert sum("next update" in n for n in names) == 4
    assert sum(n.endswith("diverged") for n in names) == 1
    counts = {len(frame.data) for frame in figure.frames}
    assert counts == {len(moving)}


def test_frame_count_within_budget(three_runs):
    trajectories = _trajectories(three_runs)
    for budget in (2, 17, 150, 1000):
        figure = charts.surface_figure(
            ROSENBROCK, None, trajectories, frame_budget=budget
        )
        steps = [int(frame.name) for frame in figure.frames]
        assert len(steps) <= budget
        assert len(steps) >= min(budget, 501) // 3
        assert steps[0] == 0
        assert steps[-1] == 500
        assert steps == sorted(set(steps))
        slider = figure.layout.sliders[0]
        assert [s.label for s in slider.steps] == [str(s) for s in steps]


def test_frame_stride_is_odd(three_runs):
    # An even stride would hide a zigzag that flips sign every step.
    figure = charts.surface_figure(
        ROSENBROCK, None, _trajectories(three_runs), frame_budget=150
    )
    steps = np.array([int(frame.name) for frame in figure.frames])
    strides = set(np.diff(steps[:-1]).tolist())
    assert len(strides) == 1
    assert strides.pop() % 2 == 1


def test_play_and_pause_buttons(three_runs):
    figure = charts.surface_figure(ROSENBROCK, None, _trajectories(three_runs))
    buttons = figure.layout.updatemenus[0].buttons
    play = next(b for b in buttons if "Play" in b.label)
    pause = next(b for b in buttons if "Pause" in b.label)
    assert play.method == "animate"
    assert play.args[0] is None
    options = play.args[1]
    assert options["frame"]["redraw"] is False
    assert options["fromcurrent"] is True
    assert options["transition"]["duration"] == 0
    assert list(pause.args[0]) == [None]
    assert pause.args[1]["mode"] == "immediate"


def test_marker_positions_follow_run(three_runs):
    figure = charts.surface_figure(
        ROSENBROCK, None, _trajectories(three_runs), frame_budget=40
    )
    moving = _moving_indices(figure)
    for frame in figure.frames:
        step = int(frame.name)
        for update, run in zip(frame.data, three_runs, strict=True):
            assert_allclose(update.x[0], run.positions[0, step, 0], atol=1e-4)
            assert_allclose(update.y[0], run.positions[0, step, 1], atol=1e-4)
    first = figure.data[moving[2]]
    assert_allclose([first.x[0], first.y[0]], three_runs[2].positions[0, 0], atol=1e-4)


def test_path_contains_first_and_last_points(three_runs):
    figure = charts.surface_figure(ROSENBROCK, None, _trajectories(three_runs))
    for run in three_runs:
        path = next(t for t in figure.data if t.name == run.optimizer)
        assert path.mode == "lines"
        x = _decode(path.x)
        y = _decode(path.y)
        assert_allclose([x[0], y[0]], run.positions[0, 0], atol=1e-5)
        assert_allclose([x[-1], y[-1]], run.positions[0, -1], atol=1e-5)
        assert x.size == run.record_steps.size


def test_axis_ranges_fixed_to_window(three_runs):
    for surface in (ROSENBROCK, get_surface("ravine")):
        figure = charts.surface_figure(surface, None, _trajectories(three_runs[:1]))
        x0, x1, y0, y1 = surface.window
        assert list(figure.layout.xaxis.range) == [x0, x1]
        assert list(figure.layout.yaxis.range) == [y0, y1]
        assert figure.layout.xaxis.autorange in (None, False)
        assert figure.layout.yaxis.scaleanchor == "x"


def test_diverged_run_marked_without_nan(diverged_run):
    trajectory = charts.Trajectory("SGD", "#0072B2", diverged_run)
    figure = charts.surface_figure(ROSENBROCK, None, [trajectory], arrows=True)
    _assert_finite_json(figure)
    step = int(diverged_run.diverged_at[0])
    path = next(t for t in figure.data if t.mode == "lines" and t.legendgroup == "SGD")
    assert path.name == f"SGD (diverged at step {step})"
    # The path ends where the particle diverged, not 200 steps of repeats later.
    assert _decode(path.x).size == step + 1
    cross = next(
        i for i in _moving_indices(figure) if "diverged" in figure.data[i].name
    )
    assert figure.data[cross].marker.symbol == "x"
    position = _moving_indices(figure).index(cross)
    x0, x1, y0, y1 = ROSENBROCK.window
    for frame in figure.frames:
        update = frame.data[position]
        if int(frame.name) < step:
            assert len(update.x) == 0
        else:
            assert list(_decode(update.customdata)) == [step]
            assert x0 <= update.x[0] <= x1
            assert y0 <= update.y[0] <= y1


def test_cloud_draws_limited_subsets(cloud_runs):
    figure = charts.surface_figure(
        HIMMELBLAU, None, _trajectories(cloud_runs), max_paths=10, max_markers=50
    )
    for run in cloud_runs:
        path = next(t for t in figure.data if t.legendgroup == run.optimizer)
        assert sum(v is None for v in path.x) == 10
    for update in figure.frames[0].data:
        assert _decode(update.x).size == 50
    again = charts.surface_figure(
        HIMMELBLAU, None, _trajectories(cloud_runs), max_paths=10, max_markers=50
    )
    assert again.to_json() == figure.to_json()


def test_gradient_arrow_points_downhill(three_runs):
    run = three_runs[2]
    figure = charts.surface_figure(
        ROSENBROCK, None, _trajectories([run]), arrows=True, frame_budget=30
    )
    moving = _moving_indices(figure)
    gradient = moving.index(
        next(i for i in moving if "−∇J" in (figure.data[i].name or ""))
    )
    update = moving.index(
        next(i for i in moving if "next update" in (figure.data[i].name or ""))
    )
    p = ROSENBROCK.pack()
    for frame in figure.frames[:-1]:
        step = int(frame.name)
        x, y = run.positions[0, step]
        gx, gy = ROSENBROCK.grad(x, y, p)
        arrow = frame.data[gradient]
        if len(arrow.x) == 0:
            continue
        direction = np.array([arrow.x[1] - arrow.x[0], arrow.y[1] - arrow.y[0]])
        cosine = -(direction @ [gx, gy]) / (
            np.linalg.norm(direction) * math.hypot(gx, gy)
        )
        assert cosine > 0.999
        tip = frame.data[update]
        if len(tip.x):
            assert_allclose([tip.x[1], tip.y[1]], run.positions[0, step + 1], atol=1e-3)


def test_figures_pass_plotly_validation(three_runs, diverged_run, cloud_runs):
    """Plotly's own validators accept every property the builders write."""
    trajectories = _trajectories([*three_runs, diverged_run], ["a", "b", "c", "d"])
    figures = [
        charts.surface_figure(ROSENBROCK, None, trajectories, arrows=True),
        charts.surface_figure(
            HIMMELBLAU, None, _trajectories(cloud_runs), presentation=True
        ),
        charts.surface_3d_figure(ROSENBROCK, None, trajectories),
        charts.loss_figure(trajectories, minimum=0.0),
        charts.learning_rate_figure(trajectories),
        charts.sweep_figure(
            [[1.0, np.nan], [0.1, 0.01]],
            [0.01, 0.1],
            [0.0, 0.9],
            x_label="η",
            y_label="γ",
            current=(0.1, 0.9),
        ),
    ]
    for figure in figures:
        go.Figure(json.loads(figure.to_json()))


def test_payload_six_trajectories(three_runs, diverged_run):
    runs = [*three_runs, diverged_run, *three_runs[:2]]
    trajectories = _trajectories(runs, [f"run {i}" for i in range(6)])
    for arrows in (False, True):
        figure = charts.surface_figure(ROSENBROCK, None, trajectories, arrows=arrows)
        size = len(_assert_finite_json(figure))
        assert size < MAX_PAYLOAD, f"{size} bytes with arrows={arrows}"
    for figure in (
        charts.loss_figure(trajectories, minimum=0.0),
        charts.learning_rate_figure(trajectories),
        charts.surface_3d_figure(ROSENBROCK, None, trajectories),
    ):
        assert len(_assert_finite_json(figure)) < MAX_PAYLOAD


def test_payload_cloud(cloud_runs):
    trajectories = _trajectories(cloud_runs)
    for arrows in (False, True):
        figure = charts.surface_figure(HIMMELBLAU, None, trajectories, arrows=arrows)
        size = len(_assert_finite_json(figure))
        assert size < MAX_PAYLOAD, f"{size} bytes with arrows={arrows}"
        assert len(figure.frames) >= 30
    for figure in (
        charts.loss_figure(trajectories, minimum=0.0),
        charts.surface_3d_figure(HIMMELBLAU, None, trajectories),
    ):
        assert len(_assert_finite_json(figure)) < MAX_PAYLOAD


def test_presentation_mode_is_larger(three_runs):
    trajectories = _trajectories(three_runs)
    normal = charts.surface_figure(ROSENBROCK, None, trajectories)
    large = charts.surface_figure(ROSENBROCK, None, trajectories, presentation=True)
    assert large.layout.font.size >= 22
    assert large.layout.font.size > normal.layout.font.size
    path = next(t for t in large.data if t.name == "adam")
    assert path.line.width > next(t for t in normal.data if t.name == "adam").line.width
    moving = _moving_indices(large)
    assert large.data[moving[0]].marker.size > normal.data[moving[0]].marker.size


def test_empty_trajectories_draw_surface_only():
    figure = charts.surface_figure(get_surface("saddle"), None, [])
    assert len(figure.frames) == 0
    assert len(figure.layout.images) == 1
    assert not figure.layout.sliders
    _assert_finite_json(figure)


def test_bad_arguments_raise_plain_messages(three_runs):
    with pytest.raises(ValueError, match="must be a charts.Trajectory"):
        charts.surface_figure(ROSENBROCK, None, [three_runs[0]])
    trajectory = charts.Trajectory("x", "#000000", three_runs[0])
    with pytest.raises(ValueError, match="resolution=4 is out of range"):
        charts.surface_figure(ROSENBROCK, None, [trajectory], resolution=4)
    with pytest.raises(ValueError, match="frame_budget=1 is out of range"):
        charts.surface_figure(ROSENBROCK, None, [trajectory], frame_budget=1)
    bad_dash = charts.Trajectory("x", "#000000", three_runs[0], dash="wavy")
    with pytest.raises(ValueError, match="invalid dash 'wavy'"):
        charts.surface_figure(ROSENBROCK, None, [bad_dash])


def test_log_colour_ticks_read_as_loss():
    grid = sample_grid(ROSENBROCK, None, 64)
    assert grid.log_colour
    low, high = grid.colour_range
    assert_allclose(10.0**high - grid.log_offset, grid.values.max(), rtol=1e-9)
    assert np.all(np.isfinite(grid.colour))
    linear = sample_grid(get_surface("rastrigin"), None, 64)
    assert not linear.log_colour
    assert_allclose(linear.colour_range, (linear.values.min(), linear.values.max()))


# 3D, curves and sweeps ------------------------------------------------------


def test_surface_3d_lifts_paths(three_runs):
    figure = charts.surface_3d_figure(ROSENBROCK, None, _trajectories(three_runs))
    assert figure.layout.uirevision is not None
    assert figure.layout.scene.uirevision is not None
    surfaces = [t for t in figure.data if t.type == "surface"]
    assert len(surfaces) == 1
    assert _decode(surfaces[0].z).size == 80 * 80
    p = ROSENBROCK.pack()
    path = next(t for t in figure.data if t.type == "scatter3d" and t.name == "adam")
    x, y, z = (_decode(a) for a in (path.x, path.y, path.z))
    loss = np.array(
        [ROSENBROCK.value(float(a), float(b), p) for a, b in zip(x, y, strict=True)]
    )
    heights = _decode(surfaces[0].z)
    lift = z - loss
    assert np.all(lift > 0)
    assert np.all(lift < 0.02 * (heights.max() - heights.min()))
    assert_allclose([x[0], y[0]], three_runs[2].positions[0, 0], atol=1e-5)


def test_loss_figure_log_axis_positive(three_runs, diverged_run):
    trajectories = _trajectories([*three_runs, diverged_run], ["a", "b", "c", "d"])
    figure = charts.loss_figure(trajectories, minimum=0.0)
    assert figure.layout.yaxis.type == "log"
    assert "J − J_min" in figure.layout.yaxis.title.text
    for trace in figure.data:
        y = _decode(trace.y)
        assert np.all(np.isfinite(y))
        assert np.all(y > 0)
    adam = next(t for t in figure.data if t.legendgroup == "c")
    assert_allclose(_decode(adam.y), three_runs[2].losses[0], rtol=1e-12)
    diverged = next(t for t in figure.data if t.legendgroup == "d")
    assert _decode(diverged.y).size == int(diverged_run.diverged_at[0]) + 1


def test_loss_figure_shifts_negative_losses():
    """Sharp-vs-flat losses are negative: J − J_min stays positive on a log axis."""
    surface = get_surface("sharp_flat")
    run = simulate(surface, "adam", steps=100, lr=0.05)
    minimum = min(m.value for m in surface.minima())
    figure = charts.loss_figure(
        [charts.Trajectory("Adam", "#000", run)], minimum=minimum
    )
    y = _decode(figure.data[0].y)
    assert figure.layout.yaxis.type == "log"
    assert np.all(y > 0)
    unshifted = charts.loss_figure([charts.Trajectory("Adam", "#000", run)])
    assert unshifted.layout.yaxis.type == "linear"
    assert "log" not in unshifted.layout.yaxis.title.text


def test_loss_figure_cloud_band_and_test_loss():
    starts = cloud((-1.0, 1.5), 50, 0.2, seed=5)
    run = simulate(ROSENBROCK, "adam", starts=starts, steps=120, lr=0.02, noise=0.1)
    assert run.test_losses is not run.losses
    figure = charts.loss_figure([charts.Trajectory("Adam", "#0072B2", run)], minimum=0)
    bands = [t for t in figure.data if t.fill == "toself"]
    medians = [t for t in figure.data if t.fill != "toself"]
    assert len(bands) == 2
    assert len(medians) == 2
    dashes = sorted(t.line.dash for t in medians)
    assert dashes == ["dash", "solid"]
    train = next(t for t in medians if t.line.dash == "solid")
    assert_allclose(_decode(train.y), np.median(run.losses, axis=0), rtol=1e-12)
    band = bands[0]
    y = _decode(band.y)
    steps = run.record_steps.size
    assert_allclose(y[:steps], np.percentile(run.losses, 90, axis=0), rtol=1e-12)
    assert_allclose(y[steps:], np.percentile(run.losses, 10, axis=0)[::-1], rtol=1e-12)


def test_learning_rate_figure_matches_schedule():
    run = simulate(
        ROSENBROCK, "sgd", steps=200, lr=1e-3, schedule="cosine", warmup_steps=20
    )
    figure = charts.learning_rate_figure([charts.Trajectory("SGD", "#000", run)])
    trace = figure.data[0]
    assert_allclose(_decode(trace.y), run.learning_rates, rtol=1e-12)
    assert list(_decode(trace.x)[[0, -1]]) == [1, 200]


def test_sweep_figure_marks_current_and_diverged():
    rng = np.random.default_rng(11)
    values = rng.uniform(1e-6, 10.0, size=(4, 5))
    values[1, 2] = np.inf
    values[3, 0] = np.nan
    xs = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    ys = [0.0, 0.5, 0.9, 0.99]
    figure = charts.sweep_figure(
        values, xs, ys, x_label="η", y_label="γ", current=(1e-2, 0.9)
    )
    _assert_finite_json(figure)
    heatmap = figure.data[0]
    assert heatmap.z[1][2] is None
    assert heatmap.z[3][0] is None
    assert_allclose(heatmap.z[0][0], math.log10(values[0, 0]), rtol=1e-12)
    crosses = next(t for t in figure.data if t.name == "diverged")
    assert sorted(zip(crosses.x, crosses.y, strict=True)) == [(1e-4, 0.99), (1e-2, 0.5)]
    star = next(t for t in figure.data if t.name == "current setting")
    assert (star.x[0], star.y[0]) == (1e-2, 0.9)
    assert figure.layout.xaxis.type == "log"
    with pytest.raises(ValueError, match="must have shape"):
        charts.sweep_figure(values.T, xs, ys, x_label="η", y_label="γ")


def test_standalone_html_contains_plotly_and_frames(three_runs):
    figure = charts.surface_figure(
        ROSENBROCK, None, _trajectories(three_runs), frame_budget=25
    )
    html = charts.standalone_html(figure)
    assert html.lstrip().lower().startswith("<html") or "<!doctype" in html.lower()
    assert "plotly.js v" in html or "Plotly.newPlot" in html
    assert len(html) > 3_000_000  # the inlined plotly.js bundle
    assert '"frames"' in html or "addFrames" in html
    assert html.count('"traces"') >= 25
    assert "<script src=" not in html


# Headless Chromium ----------------------------------------------------------


_READ_STATE = """() => {
    const plot = document.querySelector('.js-plotly-plot');
    const marker = plot._fullData[%d];
    return {
        x: Array.from(marker.x),
        y: Array.from(marker.y),
        images: (plot.layout.images || []).length,
        imageElements: Array.from(document.querySelectorAll('.imagelayer image'))
            .filter(e => (e.getAttribute('href') || '').startsWith('data:image/png'))
            .length,
        traces: plot._fullData.length,
        contourPoints: plot._fullData[1].x.length,
    };
}"""


@pytest.mark.browser
def test_playback_in_chromium(three_runs, tmp_path, browser):
    figure = charts.surface_figure(
        ROSENBROCK, None, _trajectories(three_runs), frame_duration=30
    )
    adam = _moving_indices(figure)[2]
    page_file = tmp_path / "figure.html"
    page_file.write_text(charts.standalone_html(figure), encoding="utf-8")

    page = browser.new_page(viewport={"width": 1100, "height": 720})
    try:
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(page_file.as_uri())
        page.wait_for_selector(".js-plotly-plot .scatterlayer")
        before = page.evaluate(_READ_STATE % adam)
        assert before["images"] == 1
        assert before["imageElements"] == 1

        page.get_by_text("▶ Play").click()
        time.sleep(1.5)
        during = page.evaluate(_READ_STATE % adam)
        page.screenshot(path=str(tmp_path / "playing.png"))
    finally:
        page.close()

    assert errors == []
    assert (during["x"], during["y"]) != (before["x"], before["y"])
    moved = math.hypot(during["x"][0] - before["x"][0], during["y"][0] - before["y"][0])
    assert moved > 0.05
    assert during["images"] == 1
    assert during["imageElements"] == 1
    assert during["traces"] == before["traces"] == len(figure.data)
    assert during["contourPoints"] == before["contourPoints"] > 100


def test_huge_formula_values_draw():
    # Values near the float64 limit once overflowed in the colour scale.
    from landscapes.formula import parse_formula

    surface = parse_formula("1e300*x**3", (-1000.0, 1000.0, -1.0, 1.0))
    run = simulate(surface, "sgd", steps=20, lr=1e-6)
    trajectories = [charts.Trajectory("SGD", charts.PALETTE[0], run)]
    for figure in (
        charts.surface_figure(surface, None, trajectories),
        charts.surface_3d_figure(surface, None, trajectories),
    ):
        text = figure.to_json()
        assert "Infinity" not in text
        json.loads(text)
