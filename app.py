"""Loss Landscape Lab: watch optimizers descend a loss surface.

Run with ``streamlit run app.py``. The page is thin: the scene (every setting)
comes from the URL and the controls, the engine simulates it, and pure figure
builders draw it. Playback runs in the browser, inside the Plotly figure.
"""

import dataclasses
import re
import time
from urllib.parse import urlencode

import numpy as np
import streamlit as st

import charts
from charts.steps import step_ratio_figure
from lab import controls
from lab.lessons import LESSONS
from lab.results import (
    basin_table,
    divergence_messages,
    run_scene,
    step_ratios,
    surface_of,
    too_much_work,
    trajectories_csv,
)
from lab.scene import Scene, scene_from_query, scene_to_query
from lab.sweep import SWEEP_AXES, racer_with, second_axis, sweep_racer
from landscapes.formula import FormulaError
from optimizers import (
    BIAS_CORRECTION_LATEX,
    OPTIMIZERS,
    SCHEDULES,
    WARMUP_LATEX,
    WARMUP_START,
)

st.set_page_config(page_title="Loss Landscape Lab", page_icon="⛰️", layout="wide")


@st.cache_resource(max_entries=64, show_spinner=False)
def cached_surface(scene_surface: str, formula: str, window):
    """Return the surface of a scene; formulas are parsed and compiled once."""
    return surface_of(Scene(surface=scene_surface, formula=formula, window=window))


@st.cache_data(max_entries=16, show_spinner=False)
def cached_runs(scene: Scene):
    """Simulate a scene; the same scene is simulated once per server."""
    surface = cached_surface(scene.surface, scene.formula, scene.window)
    return run_scene(scene, surface)


def first_visit() -> None:
    """Load the scene of the link the page was opened with."""
    if "racer_count" in st.session_state:
        controls.restore_hidden(st.session_state.get("shown_scene"))
        return
    raw = {key: st.query_params.get_all(key) for key in st.query_params}
    scene, notes = scene_from_query(raw)
    controls.load_scene(scene)
    st.session_state["link_notes"] = notes


def share_link(scene: Scene) -> str:
    query = urlencode(scene_to_query(scene))
    base = (st.context.url or "").split("?")[0]
    return f"{base}?{query}" if query else base


def show_sidebar():
    """Draw every control; return the scene, its surface and any formula error."""
    with st.sidebar:
        st.header("Scene")
        controls.lesson_picker()
        controls.surface_controls()
        scene = controls.collect_scene()
        try:
            surface = cached_surface(scene.surface, scene.formula, scene.window)
            error = None
        except FormulaError as formula_error:
            surface, error = None, formula_error
            show_formula_error(formula_error, scene.formula)
        controls.start_controls()
        with st.expander("Mini-batch noise"):
            controls.noise_controls()
        controls.view_controls()
        st.header("Optimizers")
        controls.racer_controls(surface)
    return controls.collect_scene(), surface, error


def _plain(text: str) -> str:
    """Escape Markdown, so that ``2*x`` or ``__import__`` shows as typed."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$])", r"\\\1", text)


def show_formula_error(error: FormulaError, formula: str) -> None:
    """Explain, under the formula box, why the formula cannot be used."""
    where = ""
    if error.position is not None:
        pointer = " " * error.position + "^"
        where = f"\n\n```\n{formula}\n{pointer}\n```"
    st.error(f"The formula cannot be used: {_plain(error.message)}{where}")


def show_update_rules(scene: Scene) -> None:
    shown = set()
    for racer in scene.racers:
        spec = OPTIMIZERS[racer.optimizer]
        if racer.optimizer in shown:
            continue
        shown.add(racer.optimizer)
        st.markdown(f"**{spec.title}**")
        st.latex(spec.latex)
        if racer.optimizer in ("adam", "adamw") or (
            racer.optimizer == "rmsprop" and racer.bias_correction
        ):
            st.latex(BIAS_CORRECTION_LATEX)
        if spec.note:
            st.caption(spec.note)
    for key in sorted({r.schedule for r in scene.racers}):
        st.markdown(f"**{SCHEDULES[key].title}**")
        st.latex(SCHEDULES[key].latex)
    if any(r.warmup_steps for r in scene.racers):
        st.markdown(f"**Linear warm-up** (s = {WARMUP_START:g})")
        st.latex(WARMUP_LATEX)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_sweep(scene: Scene, index: int):
    surface = cached_surface(scene.surface, scene.formula, scene.window)
    return sweep_racer(scene, scene.racers[index], surface)


def _pick_sweep_cell(index: int) -> None:
    """Set the racer's sliders to the sweep cell the user clicked."""
    selection = st.session_state.get("chart.sweep")
    points = selection.selection.points if selection else []
    if not points:
        return
    sweep = st.session_state["sweep"]
    racer = st.session_state["shown_scene"].racers[index]
    picked = racer_with(racer, sweep, points[0]["x"], points[0]["y"])
    controls.load_racer(index, picked)
    st.session_state["lesson"] = ""


# Final losses below this are drawn alike: they reached the minimum.
SWEEP_FLOOR = 1e-12


def add_cell_targets(figure, xs, ys) -> None:
    """Add an invisible, clickable point at the centre of every sweep cell.

    Streamlit reports selections of scatter points, not clicks on a heatmap.
    """
    grid_x, grid_y = np.meshgrid(xs, ys)
    figure.add_scatter(
        x=grid_x.ravel(), y=grid_y.ravel(), mode="markers", showlegend=False,
        marker={"size": 9, "opacity": 0.0}, name="pick",
        hovertemplate="use η=%{x:.3g}, %{y:.4g}<extra></extra>",
    )


def show_sweep(scene: Scene) -> None:
    """Draw the sweep map of one racer: final loss over a grid of η and γ or β."""
    choices = [
        i for i, racer in enumerate(scene.racers) if second_axis(racer.optimizer)
    ]
    if not choices:
        st.caption("Add momentum, Nesterov, RMSProp, Adam or AdamW to sweep η "
                   "against its second hyperparameter.")
        return

    labels = scene.labels()
    index = st.selectbox("Optimizer to sweep", choices, format_func=labels.__getitem__,
                         key="sweep.racer")
    metric = st.radio("Colour", ["final loss", "steps to converge"], horizontal=True,
                      key="sweep.metric")

    racer = scene.racers[index]
    # The map stays on screen while only the swept values change, for example
    # after a click on a cell, because the grid does not depend on them.
    unswept = dataclasses.replace(racer, lr=0.0, **{second_axis(racer.optimizer): 0.0})
    sweep_for = (dataclasses.replace(scene, racers=(unswept,), lesson=""), index)
    if not st.button("Compute the sweep (50 × 50 runs)", key="sweep.go") and (
        st.session_state.get("sweep.for") != sweep_for
    ):
        return

    with st.spinner("Running 2,500 simulations…"):
        sweep = cached_sweep(scene, index)
    st.session_state["sweep"] = sweep
    st.session_state["sweep.for"] = sweep_for

    if metric == "final loss":
        # Distance to the lowest loss, floored so that runs that reached the
        # minimum to within rounding do not stretch the colours over decades.
        surface = cached_surface(scene.surface, scene.formula, scene.window)
        lowest = min(m.value for m in surface.minima(dict(scene.surface_params)))
        values = np.maximum(sweep.final_loss - lowest, SWEEP_FLOOR)
        label = "final J − J_min"
    else:
        values, label = sweep.steps_to_converge, metric

    figure = charts.sweep_figure(
        values, sweep.xs, sweep.ys,
        x_label=SWEEP_AXES["lr"][0], y_label=SWEEP_AXES[sweep.y_name][0],
        current=(racer.lr, getattr(racer, sweep.y_name)),
        value_label=label, log_colour=metric == "final loss",
        presentation=scene.presentation,
    )

    add_cell_targets(figure, sweep.xs, sweep.ys)
    st.plotly_chart(figure, key="chart.sweep", theme=None,
                    on_select=lambda: _pick_sweep_cell(index), selection_mode="points")
    st.caption("Cells marked ✕ diverged or, for steps, never converged. "
               "Click a cell to use its setting.")


def show_lesson_details(scene: Scene, surface, results) -> None:
    """Show the numbers that let a class check a lesson's claim."""
    params = dict(scene.surface_params)
    if scene.particles > 1 and len(surface.minima(params)) > 1:
        st.subheader("Where the particles ended")
        st.dataframe(basin_table(results, surface, params), hide_index=True)
    if any(r.optimizer in ("adam", "adamw", "rmsprop") for r in scene.racers):
        ratios = step_ratios(results)
        if ratios:
            colours = {
                r.label: charts.PALETTE[i % len(charts.PALETTE)]
                for i, r in enumerate(results)
            }
            with st.expander("Step sizes of the first steps",
                             expanded=scene.lesson == "bias_correction"):
                st.plotly_chart(
                    step_ratio_figure(ratios, colours, presentation=scene.presentation),
                    key="chart.steps", theme=None,
                )


# Points per side of the invisible grid that turns clicks into a start point.
# (A bare string here would be drawn on the page by Streamlit's "magic".)
CLICK_GRID = 41


def add_click_grid(figure, surface) -> None:
    """Add invisible, clickable points over the window, after every other trace.

    Plotly reports clicks on data points only, not on the background picture,
    so these points turn a click anywhere on the surface into a selection.
    Frames address traces by index, so appending one keeps them valid.
    """
    x0, x1, y0, y1 = surface.window
    xs, ys = np.meshgrid(
        np.linspace(x0, x1, CLICK_GRID), np.linspace(y0, y1, CLICK_GRID)
    )
    figure.add_scatter(
        x=xs.ravel(), y=ys.ravel(), mode="markers", name="click to start here",
        marker={"size": 14, "opacity": 0.0}, showlegend=False,
        hovertemplate="start here: (%{x:.3g}, %{y:.3g})<extra></extra>",
    )


def _pick_start() -> None:
    selection = st.session_state.get("chart.surface")
    points = selection.selection.points if selection else []
    if points:
        # The grid's coordinates carry float noise such as 2.0999999999999996.
        st.session_state["start.x"] = float(f"{points[0]['x']:.6g}")
        st.session_state["start.y"] = float(f"{points[0]['y']:.6g}")
        st.session_state["lesson"] = ""


def main() -> None:
    started = time.perf_counter()
    first_visit()
    scene, surface, formula_error = show_sidebar()
    st.session_state["shown_scene"] = scene
    st.query_params.from_dict(scene_to_query(scene))

    st.title("Loss Landscape Lab")
    for note in st.session_state.pop("link_notes", []):
        st.warning(note)
    if scene.lesson in LESSONS:
        lesson = LESSONS[scene.lesson]
        cues = "".join(f"\n- {cue}" for cue in lesson.watch_for)
        st.info(f"**{lesson.title}.** {lesson.summary}\n\n**Watch for:**{cues}")
    if formula_error is not None:
        st.info("Fix the formula in the sidebar to see the optimizers run on it.")
        return

    heavy = too_much_work(scene)
    if heavy:
        st.error(heavy)
        return
    with st.spinner("Compiling the optimizer kernels (only on the first visit)…"):
        results = cached_runs(scene)
    for result in results:
        if result.error:
            st.error(f"{result.label} could not run: {result.error}")
    for message in divergence_messages(results):
        st.warning(message)

    params = dict(scene.surface_params)
    trajectories = [
        charts.Trajectory(r.label, charts.PALETTE[i % len(charts.PALETTE)], r.run)
        for i, r in enumerate(results)
        if r.run is not None
    ]
    st.caption(_plain(f"{surface.title}: {surface.description}"))
    left, right = st.columns([3, 2])
    with left:
        if scene.view in ("contour", "both"):
            figure = charts.surface_figure(
                surface, params, trajectories,
                arrows=scene.arrows, presentation=scene.presentation,
            )
            add_click_grid(figure, surface)
            st.plotly_chart(figure, key="chart.surface", theme=None,
                            on_select=_pick_start, selection_mode="points")
            hint = "Click on the surface to start there."
            if scene.arrows:
                hint += (" Dark arrows point downhill (−∇J); coloured arrows are "
                         "each optimizer's next step.")
            st.caption(hint)
        if scene.view in ("3d", "both"):
            figure_3d = charts.surface_3d_figure(
                surface, params, trajectories, presentation=scene.presentation
            )
            st.plotly_chart(figure_3d, key="chart.surface3d", theme=None)
        st.latex(surface.latex)
    with right:
        lowest = min(m.value for m in surface.minima(params))
        st.plotly_chart(
            charts.loss_figure(
                trajectories, minimum=lowest, presentation=scene.presentation
            ),
            key="chart.loss", theme=None,
        )
        st.plotly_chart(
            charts.learning_rate_figure(trajectories, presentation=scene.presentation),
            key="chart.learning_rate", theme=None,
        )
    show_lesson_details(scene, surface, results)
    with st.expander("Update rules in use", expanded=True):
        show_update_rules(scene)
    with st.expander("Sweep map: final loss over a grid of hyperparameters"):
        show_sweep(scene)
    with st.expander("Share and export"):
        st.caption("Copy this link to open the same scene, particle for particle:")
        st.code(share_link(scene), language=None)
        # Both files are built only when their button is pressed.
        st.download_button(
            "Trajectories (CSV)", lambda: trajectories_csv(results),
            "trajectories.csv", mime="text/csv",
        )
        st.download_button(
            "Animated figure (HTML, plays offline)",
            lambda: charts.standalone_html(
                charts.surface_figure(surface, params, trajectories)
            ),
            "loss-landscape.html", mime="text/html",
        )
    elapsed = 1000 * (time.perf_counter() - started)
    st.caption(f"Server time for this view: {elapsed:.0f} ms")


main()
