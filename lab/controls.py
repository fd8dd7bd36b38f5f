"""Streamlit controls that read and write a :class:`lab.scene.Scene`.

Each widget's value lives in ``st.session_state`` under a key derived from the
scene field it edits (``scene.steps`` under ``"steps"``, racer 1's η under
``"r1.lr"``). A scene is loaded by writing those keys before the widgets are
drawn, and read back by collecting them after, so the URL, the lessons and the
widgets all go through the same two functions.

Each number widget takes its range, step and format from the scene's field
tables (``RACER_FIELDS`` and ``SCENE_FIELDS``), the same table the link reader
clamps with, so every link the reader accepts can be drawn. Every setting
widget keeps its value while it is hidden (``persist_state="session"``, new in
Streamlit 1.67), so a hidden setting, such as γ while its racer is Adam, keeps
the user's last value and stays in the scene and the link.
"""

import dataclasses
import math

import numpy as np
import streamlit as st

from lab.lessons import LESSONS
from lab.scene import (
    APP_LIMITS,
    DEFAULT_WINDOW,
    FORMULA,
    RACER_FIELDS,
    SCENE_FIELDS,
    FieldSpec,
    Racer,
    Scene,
)
from landscapes import SURFACES, Surface
from optimizers import OPTIMIZERS, SCHEDULES

RACER_SPECS = {spec.attr: spec for spec in RACER_FIELDS}
SCENE_SPECS = {spec.attr: spec for spec in SCENE_FIELDS}
_RACER_ATTRS = {field.name for field in dataclasses.fields(Racer)}
_PERSIST = "session"


def log_options(low: float, high: float, per_decade: int, extra=()) -> list[float]:
    """Return log-spaced values from ``low`` to ``high`` plus ``extra``, sorted.

    The spaced values are rounded to three significant digits; ``low``,
    ``high`` and ``extra`` are kept exactly, and nothing lies outside the range.
    """
    decades = math.log10(high / low)
    count = int(round(decades * per_decade)) + 1
    values = {float(f"{v:.3g}") for v in np.geomspace(low, high, count)}
    values.update(float(v) for v in (low, high, *extra))
    return sorted(v for v in values if low <= v <= high)


def widget_range(spec: FieldSpec) -> tuple:
    """Return a field widget's (min, max): the table's range.

    A capped field (``spec.at_most``) keeps the table's maximum too, because
    Streamlit treats a widget whose range changed as a new widget and resets
    it on alternate reruns. Its value is kept at or below the cap instead
    (see :func:`capped_range`).
    """
    low, high = spec.low, spec.high
    if spec.kind == "int":
        return int(low), int(high)
    return float(low), float(high)


def capped_range(spec: FieldSpec, index: int | None = None) -> tuple:
    """Return the (min, max) a field's value may take: max lowered to its cap.

    ``index`` is the racer's index for a racer field. The cap (``spec.at_most``)
    is read from the session state, so it is the value its own widget shows.
    """
    low, high = widget_range(spec)
    if spec.at_most:
        if spec.at_most in _RACER_ATTRS:
            cap = st.session_state[_racer_key(index, spec.at_most)]
        else:
            cap = st.session_state[spec.at_most]
        high = min(high, cap)
    return low, type(low)(high)


def _fit_into_range(key: str, low, high) -> None:
    """Move a widget's session-state value into [low, high] before it is drawn.

    Streamlit raises when a widget's value lies outside its range, which
    happens to a capped value after its cap was lowered (warm-up steps after
    the number of steps), or when its type differs from the range's type.
    """
    value = st.session_state[key]
    fitted = type(low)(min(max(value, low), high))
    if fitted != value or type(value) is not type(low):
        st.session_state[key] = fitted


def _number_slider(label: str, spec: FieldSpec, key: str, index=None, **kwargs):
    """Draw a slider for a number field, with its range, step and format from ``spec``.

    The value is first moved under its cap, if it has one (the warm-up steps
    under the number of steps).
    """
    _fit_into_range(key, *capped_range(spec, index))
    low, high = widget_range(spec)
    if spec.per_decade:
        _log_slider(label, spec, key, low, high, **kwargs)
        return
    step = spec.step
    if step is not None:
        step = int(step) if spec.kind == "int" else float(step)
    st.slider(
        label, low, high, key=key, step=step, format=spec.format,
        persist_state=_PERSIST, on_change=_clear_lesson, **kwargs,
    )


def _log_slider(label: str, spec: FieldSpec, key: str, low, high, **kwargs):
    """Draw a select slider over log-spaced options from ``low`` to ``high``.

    A range that starts at 0 (the minimum learning rate) offers 0 and then
    log-spaced values from the learning rate's own minimum.
    """
    value = float(st.session_state[key])
    start = low if low > 0 else min(RACER_SPECS["lr"].low, high)
    options = log_options(start, high, spec.per_decade, [value] if value else [])
    if low == 0:
        options = [0.0, *options]
    st.select_slider(
        label, options, key=key, format_func=lambda v: spec.format % v,
        persist_state=_PERSIST, on_change=_clear_lesson, **kwargs,
    )


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


def restore_hidden(scene: Scene | None) -> None:
    """Refill any widget key that is missing from the session state from ``scene``.

    The widgets keep their values while hidden, so this only guards against
    keys that were never written. ``scene`` is None when a first run failed
    before the page stored its scene, and then nothing is refilled.
    """
    if scene is None:
        return
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


EXAMPLE_FORMULA = "sin(3*x)*cos(y) + 0.1*(x^2 + y^2)"


def _reset_start() -> None:
    surface = SURFACES.get(st.session_state["surface"])
    if surface is None and not st.session_state.get("formula"):
        # An empty box would greet the user with an error.
        st.session_state["formula"] = EXAMPLE_FORMULA
    window = tuple(
        st.session_state[f"window.{n}"] for n in ("x0", "x1", "y0", "y1")
    )
    start = surface.default_start if surface else _window_centre(window)
    st.session_state["start.x"], st.session_state["start.y"] = start
    st.session_state["lesson"] = ""
    # An η that suits one surface often diverges on another (0.03 for SGD on
    # the ravine against 0.001 on Rosenbrock), so each racer takes the new
    # surface's suggestion for its optimizer.
    suggestions = surface.suggested_lr if surface else {}
    for index in range(st.session_state["racer_count"]):
        optimizer = st.session_state[_racer_key(index, "optimizer")]
        if optimizer in suggestions:
            st.session_state[_racer_key(index, "lr")] = suggestions[optimizer]


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
        persist_state=_PERSIST,
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
                persist_state=_PERSIST,
            )
    else:
        st.text_input(
            "f(x, y) =",
            key="formula",
            max_chars=APP_LIMITS["formula_length"],
            help="Use x and y, numbers, + - * / ** (or ^), parentheses, "
            "sin cos tan exp log sqrt abs tanh sinh cosh atan min max, pi and e.",
            on_change=_clear_lesson,
            persist_state=_PERSIST,
        )
        extent = APP_LIMITS["window_extent"]
        left, right = st.columns(2)
        labels = {"x0": "x from", "x1": "x to", "y0": "y from", "y1": "y to"}
        for column, (name, label) in zip(
            (left, right, left, right), labels.items(), strict=True
        ):
            key = f"window.{name}"
            _fit_into_range(key, -extent, extent)
            column.number_input(
                label, -extent, extent, key=key, on_change=_clear_lesson,
                persist_state=_PERSIST,
            )


def start_controls() -> None:
    """Draw the start point, the particle cloud and the run length."""
    state = st.session_state
    surface = SURFACES.get(state["surface"])
    if surface is not None:
        x0, x1, y0, y1 = surface.window
    else:
        x0, x1, y0, y1 = (float(state[f"window.{n}"]) for n in ("x0", "x1", "y0", "y1"))
    left, right = st.columns(2)
    # The link reader moves a start outside the window onto its edge; the
    # inputs do the same, unless the typed window is itself invalid.
    for column, label, key, low, high in (
        (left, "Start x", "start.x", x0, x1),
        (right, "Start y", "start.y", y0, y1),
    ):
        bounds = (low, high) if low < high else (None, None)
        if low < high:
            _fit_into_range(key, low, high)
        column.number_input(
            label, *bounds, key=key, format="%.4g", on_change=_clear_lesson,
            persist_state=_PERSIST,
        )
    _number_slider(
        "Particles", SCENE_SPECS["particles"], "particles",
        help="1 runs a single particle. More start as a random cloud around the "
        "start point, the same cloud for every optimizer.",
    )
    if state["particles"] > 1:
        _number_slider("Cloud spread", SCENE_SPECS["spread"], "spread")
    _number_slider("Steps", SCENE_SPECS["steps"], "steps")
    low, high = widget_range(SCENE_SPECS["seed"])
    st.number_input(
        "Random seed", low, high, key="seed", on_change=_clear_lesson,
        persist_state=_PERSIST,
    )


def noise_controls() -> None:
    """Draw the mini-batch noise model's settings."""
    _number_slider(
        "Data noise s", SCENE_SPECS["noise"], "noise",
        help="0 gives exact gradients. Above 0, the training set is n copies of "
        "the surface shifted by random amounts of size s, and each step averages "
        "the gradient over a random mini-batch of them.",
    )
    if st.session_state["noise"] > 0:
        _number_slider("Training samples n", SCENE_SPECS["samples"], "samples")


def _fit_capped_values(index: int) -> None:
    """Lower each capped setting of a racer above its cap, drawn or hidden.

    A default above its cap is kept, as the link reader keeps it, because it
    is left out of the link and runs as the cap. Drawn widgets are fitted
    again by :func:`_number_slider`, defaults included.
    """
    default = Racer()
    for spec in RACER_FIELDS:
        if not spec.at_most:
            continue
        key = _racer_key(index, spec.attr)
        if st.session_state[key] != getattr(default, spec.attr):
            _fit_into_range(key, *capped_range(spec, index))


def _racer_controls(index: int, surface: Surface | None) -> None:
    key = lambda name: _racer_key(index, name)  # noqa: E731
    _fit_capped_values(index)
    optimizer = st.selectbox(
        "Optimizer", list(OPTIMIZERS), key=key("optimizer"),
        format_func=lambda k: OPTIMIZERS[k].title, on_change=_clear_lesson,
        persist_state=_PERSIST,
    )
    uses = OPTIMIZERS[optimizer].uses
    _number_slider("Learning rate η", RACER_SPECS["lr"], key("lr"), index)
    _stability_caption(index, surface)
    labels = {
        "momentum": "Momentum γ",
        "beta1": "β1",
        "beta2": "β2",
        "eps": "ε",
        "weight_decay": "Weight decay λ",
    }
    for name, label in labels.items():
        if name in uses:
            _number_slider(label, RACER_SPECS[name], key(name), index)
    if optimizer in ("adam", "adamw", "rmsprop"):
        st.checkbox("Bias correction", key=key("bias_correction"),
                    on_change=_clear_lesson, persist_state=_PERSIST)
    _schedule_controls(index)
    if st.session_state["noise"] > 0:
        _number_slider(
            "Mini-batch size B (0 = full batch)", RACER_SPECS["batch_size"],
            key("batch_size"), index,
        )
    st.button("Remove", key=f"remove{index}", on_click=_remove_racer, args=(index,),
              disabled=st.session_state["racer_count"] <= 1)


def _schedule_controls(index: int) -> None:
    key = lambda name: _racer_key(index, name)  # noqa: E731
    schedule = st.selectbox(
        "Learning-rate schedule", list(SCHEDULES), key=key("schedule"),
        format_func=lambda k: SCHEDULES[k].title, on_change=_clear_lesson,
        persist_state=_PERSIST,
    )
    labels_by_schedule = {
        "step": {"step_size": "Every k steps", "step_factor": "Multiply η by"},
        "exponential": {"decay_rate": "Decay per step"},
        "cosine": {"lr_min": "Final η (η_min)"},
        "cosine_restarts": {
            "lr_min": "Final η (η_min)",
            "restart_period": "First period T₀",
            "restart_mult": "Period growth T_mult",
        },
        "one_cycle": {"pct_start": "Rising part of the run"},
    }
    for name, label in labels_by_schedule.get(schedule, {}).items():
        _number_slider(label, RACER_SPECS[name], key(name), index)
    _number_slider(
        "Linear warm-up steps", RACER_SPECS["warmup_steps"], key("warmup_steps"), index
    )


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
        # A key keeps the panel open while its title follows the sliders.
        with st.expander(
            f"{index + 1}. {label}", expanded=index == 0, key=f"panel{index}"
        ):
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
        persist_state=_PERSIST,
    )
    st.toggle("Arrows: gradient and update at the current frame", key="arrows",
              persist_state=_PERSIST)
    st.toggle("Presentation mode (large fonts, thick lines)", key="presentation",
              persist_state=_PERSIST)
