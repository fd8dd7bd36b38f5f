"""Streamlit controls that read and write a :class:`lab.scene.Scene`.

Each widget's value lives in ``st.session_state`` under a key derived from the
scene field it edits (``scene.steps`` under ``"steps"``, racer 1's η under
``"r1.lr"``). A scene is loaded by writing those keys before the widgets are
drawn, and read back by collecting them after, so the URL, the lessons and the
widgets all go through the same two functions.
"""

import dataclasses
import math

import numpy as np
import streamlit as st

from lab.lessons import LESSONS
from lab.scene import APP_LIMITS, Racer, Scene
from landscapes import SURFACES, Surface
from optimizers import OPTIMIZERS, SCHEDULES

FORMULA = "formula"
DEFAULT_WINDOW = (-3.0, 3.0, -3.0, 3.0)


def log_options(low: float, high: float, per_decade: int, extra=()) -> list[float]:
    """Return log-spaced values from ``low`` to ``high`` plus ``extra``, sorted."""
    decades = math.log10(high / low)
    count = int(round(decades * per_decade)) + 1
    values = {float(f"{v:.3g}") for v in np.geomspace(low, high, count)}
    values.update(float(v) for v in extra)
    return sorted(values)


def _racer_key(index: int, name: str) -> str:
    return f"r{index}.{name}"


def widget_values(scene: Scene) -> dict:
    """Return the session-state value of every widget key that shows ``scene``."""
    values = {}
    for field in dataclasses.fields(Scene):
        if field.name in ("racers", "surface_params", "window", "start"):
            continue
        values[field.name] = getattr(scene, field.name)
    surface = SURFACES.get(scene.surface)
    params = dict(scene.surface_params)
    for surface_key, spec in SURFACES.items():
        for parameter in spec.parameters:
            default = parameter.default
            if surface_key == scene.surface:
                default = params.get(parameter.name, default)
            values[f"{surface_key}.{parameter.name}"] = float(default)
    window = scene.window or DEFAULT_WINDOW
    for name, value in zip(("x0", "x1", "y0", "y1"), window, strict=True):
        values[f"window.{name}"] = float(value)
    start = scene.start
    if start is None:
        start = surface.default_start if surface else _window_centre(window)
    values["start.x"], values["start.y"] = float(start[0]), float(start[1])
    values["racer_count"] = len(scene.racers)
    for index, racer in enumerate(scene.racers):
        for field in dataclasses.fields(Racer):
            values[_racer_key(index, field.name)] = getattr(racer, field.name)
    return values


def load_racer(index: int, racer: Racer) -> None:
    """Write one racer's settings into its widgets' session-state keys."""
    for field in dataclasses.fields(Racer):
        st.session_state[_racer_key(index, field.name)] = getattr(racer, field.name)


def load_scene(scene: Scene) -> None:
    """Write every value of ``scene`` into the widgets' session-state keys."""
    st.session_state.update(widget_values(scene))


def restore_hidden(scene: Scene) -> None:
    """Refill the keys of widgets that the last run did not draw.

    Streamlit drops the state of a widget that is not drawn in a run, such as
    γ while the racer is Adam, so those keys come back from the last scene.
    """
    state = st.session_state
    for key, value in widget_values(scene).items():
        if key not in state:
            state[key] = value


def _window_centre(window) -> tuple[float, float]:
    x0, x1, y0, y1 = window
    return ((x0 + x1) / 2, (y0 + y1) / 2)


def collect_scene() -> Scene:
    """Build the scene that the widgets currently show."""
    state = st.session_state
    surface = state["surface"]
    values = {}
    for field in dataclasses.fields(Scene):
        if field.name in ("racers", "surface_params", "window", "start"):
            continue
        values[field.name] = state[field.name]
    params = ()
    if surface in SURFACES:
        params = tuple(
            sorted(
                (q.name, float(state[f"{surface}.{q.name}"]))
                for q in SURFACES[surface].parameters
                if float(state[f"{surface}.{q.name}"]) != q.default
            )
        )
    window = None
    if surface == FORMULA:
        window = tuple(float(state[f"window.{n}"]) for n in ("x0", "x1", "y0", "y1"))
        if window == DEFAULT_WINDOW:
            window = None
    start = (float(state["start.x"]), float(state["start.y"]))
    if surface in SURFACES and start == tuple(SURFACES[surface].default_start):
        start = None
    racers = []
    for index in range(state["racer_count"]):
        fields = {
            field.name: state[_racer_key(index, field.name)]
            for field in dataclasses.fields(Racer)
        }
        racers.append(Racer(**fields))
    return Scene(
        **values,
        surface_params=params,
        window=window,
        start=start,
        racers=tuple(racers),
    )


def _apply_lesson() -> None:
    key = st.session_state["lesson_picker"]
    if key and key in LESSONS:
        load_scene(LESSONS[key].scene)
        st.session_state["lesson"] = key
    else:
        st.session_state["lesson"] = ""


def _reset_start() -> None:
    surface = SURFACES.get(st.session_state["surface"])
    window = tuple(
        st.session_state[f"window.{n}"] for n in ("x0", "x1", "y0", "y1")
    )
    start = surface.default_start if surface else _window_centre(window)
    st.session_state["start.x"], st.session_state["start.y"] = start
    st.session_state["lesson"] = ""


def _clear_lesson() -> None:
    st.session_state["lesson"] = ""


def _add_racer() -> None:
    count = st.session_state["racer_count"]
    if count >= APP_LIMITS["racers"]:
        return
    for field in dataclasses.fields(Racer):
        source = _racer_key(count - 1, field.name)
        if source in st.session_state:
            st.session_state[_racer_key(count, field.name)] = st.session_state[source]
    st.session_state["racer_count"] = count + 1
    _clear_lesson()


def _remove_racer(index: int) -> None:
    count = st.session_state["racer_count"]
    if count <= 1:
        return
    for later in range(index, count - 1):
        for field in dataclasses.fields(Racer):
            st.session_state[_racer_key(later, field.name)] = st.session_state[
                _racer_key(later + 1, field.name)
            ]
    st.session_state["racer_count"] = count - 1
    _clear_lesson()


def lesson_picker() -> None:
    """Draw the lesson picker; choosing a lesson loads its whole scene."""
    keys = ["", *LESSONS]
    if st.session_state.get("lesson_picker") != st.session_state.get("lesson"):
        st.session_state["lesson_picker"] = st.session_state.get("lesson", "")
    st.selectbox(
        "Lesson",
        keys,
        key="lesson_picker",
        format_func=lambda k: LESSONS[k].title if k else "Free play (no lesson)",
        on_change=_apply_lesson,
        help="Each lesson sets up a whole scene that shows one idea of the course.",
    )


def surface_controls() -> None:
    """Draw the surface picker, its parameters, the formula box and the start."""
    keys = [*SURFACES, FORMULA]
    st.selectbox(
        "Loss surface",
        keys,
        key="surface",
        format_func=lambda k: SURFACES[k].title if k in SURFACES else "Your formula",
        on_change=_reset_start,
    )
    surface = st.session_state["surface"]
    if surface in SURFACES:
        spec = SURFACES[surface]
        st.caption(spec.description)
        for q in spec.parameters:
            st.slider(
                f"{q.symbol} ({q.name})",
                float(q.low),
                float(q.high),
                key=f"{surface}.{q.name}",
                help=q.help,
                on_change=_clear_lesson,
            )
    else:
        st.text_input(
            "f(x, y) =",
            key="formula",
            help="Use x and y, numbers, + - * / ** (or ^), parentheses, "
            "sin cos tan exp log sqrt abs tanh sinh cosh atan min max, pi and e.",
            on_change=_clear_lesson,
        )
        left, right = st.columns(2)
        left.number_input("x from", key="window.x0", on_change=_clear_lesson)
        right.number_input("x to", key="window.x1", on_change=_clear_lesson)
        left.number_input("y from", key="window.y0", on_change=_clear_lesson)
        right.number_input("y to", key="window.y1", on_change=_clear_lesson)


def start_controls() -> None:
    """Draw the start point, the particle cloud and the run length."""
    left, right = st.columns(2)
    left.number_input("Start x", key="start.x", format="%.4g", on_change=_clear_lesson)
    right.number_input("Start y", key="start.y", format="%.4g", on_change=_clear_lesson)
    st.slider(
        "Particles", 1, APP_LIMITS["particles"], key="particles",
        help="1 runs a single particle. More start as a random cloud around the "
        "start point, the same cloud for every optimizer.",
        on_change=_clear_lesson,
    )
    if st.session_state["particles"] > 1:
        st.slider("Cloud spread", 0.0, 2.0, key="spread", step=0.05,
                  on_change=_clear_lesson)
    st.slider("Steps", 1, APP_LIMITS["steps"], key="steps", on_change=_clear_lesson)
    st.number_input("Random seed", 0, 2**31 - 1, key="seed", on_change=_clear_lesson)


def noise_controls() -> None:
    """Draw the mini-batch noise model's settings."""
    st.slider(
        "Data noise s", 0.0, 1.0, key="noise", step=0.01,
        help="0 gives exact gradients. Above 0, the training set is n copies of "
        "the surface shifted by random amounts of size s, and each step averages "
        "the gradient over a random mini-batch of them.",
        on_change=_clear_lesson,
    )
    if st.session_state["noise"] > 0:
        st.slider("Training samples n", 1, 1024, key="samples",
                  on_change=_clear_lesson)


def _racer_controls(index: int, surface: Surface | None) -> None:
    key = lambda name: _racer_key(index, name)  # noqa: E731
    optimizer = st.selectbox(
        "Optimizer", list(OPTIMIZERS), key=key("optimizer"),
        format_func=lambda k: OPTIMIZERS[k].title, on_change=_clear_lesson,
    )
    uses = OPTIMIZERS[optimizer].uses
    lr = st.session_state[key("lr")]
    st.select_slider(
        "Learning rate η", log_options(1e-5, 1.0, 24, [lr]), key=key("lr"),
        format_func=lambda v: f"{v:.3g}", on_change=_clear_lesson,
    )
    _stability_caption(index, surface)
    if "momentum" in uses:
        st.slider("Momentum γ", 0.0, 0.999, key=key("momentum"), step=0.001,
                  format="%.3f", on_change=_clear_lesson)
    if "beta1" in uses:
        st.slider("β1", 0.0, 0.999, key=key("beta1"), step=0.001, format="%.3f",
                  on_change=_clear_lesson)
    if "beta2" in uses:
        st.slider("β2", 0.0, 0.9999, key=key("beta2"), step=0.0001, format="%.4f",
                  on_change=_clear_lesson)
    if "eps" in uses:
        eps = st.session_state[key("eps")]
        st.select_slider("ε", log_options(1e-12, 1e-1, 1, [eps]), key=key("eps"),
                         format_func=lambda v: f"{v:.0e}", on_change=_clear_lesson)
    if "weight_decay" in uses:
        st.slider("Weight decay λ", 0.0, 0.5, key=key("weight_decay"), step=0.001,
                  format="%.3f", on_change=_clear_lesson)
    if optimizer in ("adam", "adamw", "rmsprop"):
        st.checkbox("Bias correction", key=key("bias_correction"),
                    on_change=_clear_lesson)
    _schedule_controls(index)
    if st.session_state["noise"] > 0:
        st.slider(
            "Mini-batch size B (0 = full batch)", 0, st.session_state["samples"],
            key=key("batch_size"), on_change=_clear_lesson,
        )
    st.button("Remove", key=f"remove{index}", on_click=_remove_racer, args=(index,),
              disabled=st.session_state["racer_count"] <= 1)


def _schedule_controls(index: int) -> None:
    key = lambda name: _racer_key(index, name)  # noqa: E731
    steps = st.session_state["steps"]
    schedule = st.selectbox(
        "Learning-rate schedule", list(SCHEDULES), key=key("schedule"),
        format_func=lambda k: SCHEDULES[k].title, on_change=_clear_lesson,
    )
    if schedule == "step":
        st.slider("Every k steps", 1, max(steps, 2), key=key("step_size"),
                  on_change=_clear_lesson)
        st.slider("Multiply η by", 0.01, 1.0, key=key("step_factor"), step=0.01,
                  on_change=_clear_lesson)
    elif schedule == "exponential":
        st.slider("Decay per step", 0.9, 1.0, key=key("decay_rate"), step=0.0005,
                  format="%.4f", on_change=_clear_lesson)
    elif schedule in ("cosine", "cosine_restarts"):
        lr_min = st.session_state[key("lr_min")]
        st.select_slider("Final η (η_min)", [0.0, *log_options(1e-5, 1.0, 6, [])]
                         + ([lr_min] if lr_min and lr_min not in
                            log_options(1e-5, 1.0, 6, []) else []),
                         key=key("lr_min"), format_func=lambda v: f"{v:.3g}",
                         on_change=_clear_lesson)
        if schedule == "cosine_restarts":
            st.slider("First period T₀", 1, max(steps, 2), key=key("restart_period"),
                      on_change=_clear_lesson)
            st.slider("Period growth T_mult", 1, 4, key=key("restart_mult"),
                      on_change=_clear_lesson)
    elif schedule == "one_cycle":
        st.slider("Rising part of the run", 0.05, 0.95, key=key("pct_start"),
                  step=0.05, on_change=_clear_lesson)
    st.slider("Linear warm-up steps", 0, steps, key=key("warmup_steps"),
              on_change=_clear_lesson)


def _stability_caption(index: int, surface: Surface | None) -> None:
    """Show the ravine's stability threshold and |1 − ηλ| for each direction."""
    if surface is None or surface.key != "ravine":
        return
    state = st.session_state
    kappa = float(state["ravine.kappa"])
    lr = float(state[_racer_key(index, "lr")])
    optimizer = state[_racer_key(index, "optimizer")]
    if optimizer == "sgd":
        st.caption(
            f"Stable while η < 2/λmax = 2/κ = {2 / kappa:.4g}. Each step multiplies "
            f"the error along the valley by |1 − η·1| = {abs(1 - lr):.3f} and across "
            f"it by |1 − ηκ| = {abs(1 - lr * kappa):.3f}."
        )
    elif optimizer in ("momentum", "nesterov"):
        gamma = float(state[_racer_key(index, "momentum")])
        st.caption(
            f"Plain gradient descent is stable while η < 2/κ = {2 / kappa:.4g}; "
            f"heavy-ball momentum while η < 2(1 + γ)/κ = {2 * (1 + gamma) / kappa:.4g}."
        )


def racer_controls(surface: Surface | None) -> None:
    """Draw one expander of settings per racer, and the button that adds one."""
    for index in range(st.session_state["racer_count"]):
        label = Racer(
            **{
                f.name: st.session_state[_racer_key(index, f.name)]
                for f in dataclasses.fields(Racer)
            }
        ).label()
        with st.expander(f"{index + 1}. {label}", expanded=index == 0):
            _racer_controls(index, surface)
    st.button(
        "Add an optimizer",
        on_click=_add_racer,
        disabled=st.session_state["racer_count"] >= APP_LIMITS["racers"],
    )


def view_controls() -> None:
    """Draw the view settings: contour or 3D, arrows, presentation mode."""
    st.radio(
        "View", ["contour", "3d", "both"], key="view", horizontal=True,
        format_func={"contour": "Contour", "3d": "3D", "both": "Both"}.get,
    )
    st.toggle("Arrows: gradient and update at the current frame", key="arrows")
    st.toggle("Presentation mode (large fonts, thick lines)", key="presentation")
