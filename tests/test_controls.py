"""The sidebar controls under Streamlit's AppTest: ranges, hidden values, lesson links.

Every number widget must accept every value the link reader accepts, so these
tests open links at the bounds of the field tables and compare each widget's
range with its table entry. They also check that a hidden widget keeps the
value the user last chose, and that a lesson link shows the lesson's scene.
"""

import dataclasses
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lab.lessons import LESSONS
from lab.scene import (
    APP_LIMITS,
    RACER_FIELDS,
    SCENE_FIELDS,
    VIEWS,
    FieldSpec,
    scene_from_query,
)
from optimizers import SCHEDULES

APP = str(Path(__file__).resolve().parents[1] / "app.py")
# A cold Numba compile takes seconds per kernel; AppTest's default is 3 s.
TIMEOUT = 180

# Link settings under which each racer field's widget is drawn for racer 0
# and racer 1. Fields not listed are drawn for every optimizer.
RACER_CONTEXT = {
    "momentum": {"o": "momentum,momentum"},
    "beta1": {"o": "adam,adam"},
    "beta2": {"o": "adam,adam"},
    "eps": {"o": "adam,adam"},
    "weight_decay": {"o": "adamw,adamw"},
    "bias_correction": {"o": "adam,adam"},
    "lr_min": {"sch0": "cosine", "sch1": "cosine"},
    "step_size": {"sch0": "step", "sch1": "step", "steps": str(APP_LIMITS["steps"])},
    "step_factor": {"sch0": "step", "sch1": "step"},
    "decay_rate": {"sch0": "exponential", "sch1": "exponential"},
    "restart_period": {
        "sch0": "cosine_restarts",
        "sch1": "cosine_restarts",
        "steps": str(APP_LIMITS["steps"]),
    },
    "restart_mult": {"sch0": "cosine_restarts", "sch1": "cosine_restarts"},
    "pct_start": {"sch0": "one_cycle", "sch1": "one_cycle"},
    "warmup_steps": {"steps": str(APP_LIMITS["steps"])},
    "batch_size": {"noise": "0.5", "samples": str(APP_LIMITS["samples"])},
}
RACER_SPECS = {spec.attr: spec for spec in RACER_FIELDS}
SCENE_CONTEXT = {
    "spread": {"n": "10"},
    "samples": {"noise": "0.5"},
}

# Dependent settings at their extreme combination: the cap at its lowest and
# the capped value at its highest, where the link reader lowers it to the cap.
EXTREMES = {
    "warm-up in one step": {"steps": "1", "o": "sgd", "wu0": "2000"},
    "step size in one step": {"steps": "1", "o": "sgd", "sch0": "step", "ss0": "2000"},
    "default step size in one step": {"steps": "1", "o": "sgd", "sch0": "step"},
    "restart period in one step": {
        "steps": "1",
        "o": "sgd",
        "sch0": "cosine_restarts",
        "rp0": "2000",
    },
    "batch of one sample": {"noise": "1", "samples": "1", "o": "sgd", "bs0": "256"},
    "lowest η, highest η_min": {
        "o": "sgd",
        "lr0": "1e-05",
        "sch0": "cosine",
        "lrmin0": "1",
    },
}


def _run(query: dict) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        app.query_params[key] = value
    return app.run()


def _link_value(spec: FieldSpec, value) -> str:
    if spec.kind == "int":
        return str(int(value))
    return repr(float(value))


def _bound_cases():
    """Yield (id, query, expected session state) with each field at each bound."""
    for spec in RACER_FIELDS:
        context = {"o": "sgd,sgd", **RACER_CONTEXT.get(spec.attr, {})}
        if spec.kind in ("int", "float"):
            query = {
                **context,
                f"{spec.key}0": _link_value(spec, spec.low),
                f"{spec.key}1": _link_value(spec, spec.high),
            }
            expected = {f"r0.{spec.attr}": spec.low, f"r1.{spec.attr}": spec.high}
            if spec.attr == "lr_min":
                # η_min ≤ η, so the top of η_min needs η at its top too.
                query["lr1"] = _link_value(RACER_SPECS["lr"], RACER_SPECS["lr"].high)
            yield f"racer-{spec.key}", query, expected
        elif spec.kind == "bool":
            query = {**context, f"{spec.key}0": "0", f"{spec.key}1": "1"}
            expected = {f"r0.{spec.attr}": False, f"r1.{spec.attr}": True}
            yield f"racer-{spec.key}", query, expected
        else:
            names = list(SCHEDULES)
            query = {"o": ",".join(["sgd"] * len(names))}
            query.update({f"{spec.key}{i}": name for i, name in enumerate(names)})
            expected = {f"r{i}.{spec.attr}": name for i, name in enumerate(names)}
            yield f"racer-{spec.key}", query, expected
    for spec in SCENE_FIELDS:
        context = SCENE_CONTEXT.get(spec.attr, {})
        if spec.kind in ("int", "float"):
            for side, value in (("low", spec.low), ("high", spec.high)):
                query = {**context, spec.key: _link_value(spec, value)}
                yield f"{spec.key}-{side}", query, {spec.attr: value}
        elif spec.kind == "bool":
            for value in (False, True):
                query = {**context, spec.key: "1" if value else "0"}
                yield f"{spec.key}-{int(value)}", query, {spec.attr: value}
        elif spec.attr == "view":
            for view in VIEWS:
                yield f"view-{view}", {spec.key: view}, {spec.attr: view}
        else:
            for key in LESSONS:
                yield f"lesson-{key}", {spec.key: key}, {spec.attr: key}


BOUND_CASES = list(_bound_cases())


@pytest.mark.parametrize(
    ("query", "expected"),
    [case[1:] for case in BOUND_CASES],
    ids=[case[0] for case in BOUND_CASES],
)
def test_link_at_bounds_opens_page(query, expected):
    _, messages = scene_from_query(query)
    assert messages == [], "a value at its bound must be accepted as it is"
    app = _run(query)
    assert not app.exception, app.exception[0].message if app.exception else ""
    assert not [e.value for e in app.error]
    for key, value in expected.items():
        assert app.session_state[key] == value, key


@pytest.mark.parametrize("query", EXTREMES.values(), ids=EXTREMES.keys())
def test_dependent_extremes_open_page(query):
    app = _run(query)
    assert not app.exception, app.exception[0].message if app.exception else ""
    assert not [e.value for e in app.error]
    scene = app.session_state["shown_scene"]
    racer = scene.racers[0]
    assert racer.warmup_steps <= scene.steps
    assert racer.lr_min <= racer.lr
    assert racer.batch_size <= scene.samples
    if racer.schedule == "step":
        assert racer.step_size <= scene.steps
    if racer.schedule == "cosine_restarts":
        assert racer.restart_period <= scene.steps


def test_link_capped_values_get_messages():
    for name, query in EXTREMES.items():
        if name.startswith("default"):
            continue
        _, messages = scene_from_query(query)
        assert len(messages) == 1, (name, messages)
        assert "more than" in messages[0], messages[0]


# Five racers that together draw every racer widget, with the caps at their
# highest so that every widget shows its whole table range.
ALL_WIDGETS = {
    "o": "sgd,momentum,adam,adamw,sgd",
    "sch0": "step",
    "sch1": "exponential",
    "sch2": "cosine_restarts",
    "sch3": "one_cycle",
    "sch4": "cosine",
    "lr4": "1.0",
    "steps": str(APP_LIMITS["steps"]),
    "noise": "0.5",
    "samples": str(APP_LIMITS["samples"]),
    "n": "10",
}


def _widget(app: AppTest, key: str):
    """Return the slider, select slider or number input with ``key``, or None."""
    for kind in ("slider", "select_slider", "number_input"):
        for element in getattr(app, kind):
            if element.key == key:
                return element
    return None


def _widget_range(element) -> tuple[float, float]:
    if element.type == "select_slider":
        values = [float(option) for option in element.options]
        return min(values), max(values)
    return element.min, element.max


def _check_widget(element, spec: FieldSpec, high=None) -> None:
    low, top = _widget_range(element)
    assert low == pytest.approx(spec.low, rel=1e-12), spec.attr
    assert top == pytest.approx(spec.high if high is None else high, rel=1e-12), (
        spec.attr
    )
    if spec.step is not None:
        assert element.step == pytest.approx(spec.step, rel=1e-12), spec.attr
    if spec.format is not None and element.type == "slider":
        assert element.proto.format == spec.format, spec.attr


def _cap(scene, racer, spec: FieldSpec) -> float:
    """Return the highest value a field may take: its bound or its cap."""
    if not spec.at_most:
        return spec.high
    source = racer if hasattr(racer, spec.at_most) else scene
    return min(spec.high, getattr(source, spec.at_most))


def test_widget_ranges_match_table():
    app = _run(ALL_WIDGETS)
    assert not app.exception
    scene = app.session_state["shown_scene"]
    numbers = [spec for spec in RACER_FIELDS if spec.kind in ("int", "float")]
    for spec in numbers:
        drawn = 0
        for index, racer in enumerate(scene.racers):
            element = _widget(app, f"r{index}.{spec.attr}")
            if element is None:
                continue
            drawn += 1
            # The range stays the table's: a widget whose range changes is
            # reset by Streamlit. The value stays under the cap instead.
            _check_widget(element, spec)
            assert element.value <= _cap(scene, racer, spec), spec.attr
        assert drawn, f"no racer draws a widget for {spec.attr}"
    for spec in SCENE_FIELDS:
        if spec.kind not in ("int", "float"):
            continue
        element = _widget(app, spec.attr)
        assert element is not None, f"no widget for {spec.attr}"
        _check_widget(element, spec)


def test_capped_widgets_keep_table_range():
    query = {
        "o": "sgd",
        "lr0": "0.002",
        "sch0": "cosine_restarts",
        "steps": "40",
        "noise": "0.5",
        "samples": "12",
    }
    app = _run(query)
    assert not app.exception
    caps = {"lr_min": 0.002, "restart_period": 40, "warmup_steps": 40, "batch_size": 12}
    for attr, cap in caps.items():
        element = _widget(app, f"r0.{attr}")
        assert element is not None, attr
        _check_widget(element, RACER_SPECS[attr])
        assert element.value <= cap, attr


def test_changing_steps_keeps_capped_values():
    # A slider whose range followed the number of steps was reset by
    # Streamlit on every second change of the steps.
    app = _run({"o": "sgd"})
    app.selectbox(key="r0.schedule").set_value("step").run()
    app.slider(key="r0.step_size").set_value(97).run()
    app.slider(key="r0.warmup_steps").set_value(5).run()
    for steps in (301, 302, 303):
        app.slider(key="steps").set_value(steps).run()
        assert not app.exception
        assert app.query_params["wu0"] == "5", steps
        assert app.query_params["ss0"] == "97", steps
        assert app.slider(key="r0.warmup_steps").value == 5


def test_changing_samples_keeps_batch_size():
    app = _run({"o": "sgd", "noise": "0.1"})
    app.slider(key="r0.batch_size").set_value(4).run()
    for samples in (65, 66, 67):
        app.slider(key="samples").set_value(samples).run()
        assert not app.exception
        assert app.query_params["bs0"] == "4", samples


def test_lowered_cap_moves_capped_value():
    app = _run({"o": "sgd", "wu0": "200", "sch0": "step", "ss0": "150"})
    app.slider(key="steps").set_value(50).run()
    assert not app.exception
    assert app.slider(key="r0.warmup_steps").value == 50
    assert app.slider(key="r0.step_size").value == 50
    assert app.query_params["wu0"] == "50"


def test_hidden_capped_value_follows_cap():
    app = _run({"o": "sgd", "sch0": "step", "ss0": "150", "steps": "200"})
    app.selectbox(key="r0.schedule").set_value("constant").run()
    app.slider(key="steps").set_value(100).run()
    assert not app.exception
    assert app.session_state["shown_scene"].racers[0].step_size == 100
    link = {key: app.query_params[key] for key in app.query_params}
    _, messages = scene_from_query(link)
    assert messages == [], "the page's own link must read back without messages"


def test_formula_window_inputs_bounded():
    app = _run({"s": "formula", "f": "x**2 + y**2"})
    assert not app.exception
    extent = APP_LIMITS["window_extent"]
    for name in ("x0", "x1", "y0", "y1"):
        element = app.number_input(key=f"window.{name}")
        assert element.min == -extent
        assert element.max == extent


# ---------------------------------------------------------------------------
# Hidden widgets keep their values


def _hide_gamma_of_third_racer() -> AppTest:
    """Set racer 3 to Momentum with γ = 0.5, then switch it to Adam and rerun."""
    app = _run({})
    app.selectbox(key="r2.optimizer").set_value("momentum").run()
    app.slider(key="r2.momentum").set_value(0.5).run()
    app.selectbox(key="r2.optimizer").set_value("adam").run()
    app.run()
    assert not app.exception
    return app


def test_hidden_gamma_survives_optimizer_switch():
    app = _hide_gamma_of_third_racer()
    assert app.session_state["shown_scene"].racers[2].momentum == 0.5
    assert app.query_params["g2"] == "0.5"
    app.selectbox(key="r2.optimizer").set_value("momentum").run()
    assert not app.exception
    assert app.slider(key="r2.momentum").value == 0.5


def test_added_racer_copies_hidden_values():
    app = _hide_gamma_of_third_racer()
    app.slider(key="r2.warmup_steps").set_value(30).run()
    add = next(button for button in app.button if button.label == "Add an optimizer")
    add.click().run()
    assert not app.exception
    scene = app.session_state["shown_scene"]
    assert len(scene.racers) == 4
    assert scene.racers[3] == scene.racers[2]
    assert scene.racers[3].momentum == 0.5
    app.selectbox(key="r3.optimizer").set_value("momentum").run()
    assert app.slider(key="r3.momentum").value == 0.5
    assert app.slider(key="r3.warmup_steps").value == 30


def test_lesson_loads_into_hidden_widgets():
    app = _hide_gamma_of_third_racer()
    app.selectbox(key="lesson_picker").set_value("ravine").run()
    app.selectbox(key="lesson_picker").set_value("").run()
    assert not app.exception
    lesson = LESSONS["ravine"].scene
    scene = app.session_state["shown_scene"]
    assert scene.racers == lesson.racers


# ---------------------------------------------------------------------------
# Lesson links


def _infos(app: AppTest) -> list[str]:
    return [element.value for element in app.info]


def test_lesson_link_alone_shows_lesson_scene():
    lesson = LESSONS["adam_rescales"]
    app = _run({"lesson": lesson.key, "view": "both"})
    assert not app.exception
    assert any(lesson.title in text for text in _infos(app))
    scene = app.session_state["shown_scene"]
    assert scene == dataclasses.replace(lesson.scene, view="both")
    assert app.slider(key="steps").value == lesson.scene.steps
    assert not [w.value for w in app.warning if "lesson" in w.value]


def test_changed_lesson_link_drops_lesson():
    lesson = LESSONS["adam_rescales"]
    app = _run({"lesson": lesson.key, "steps": "77"})
    assert not app.exception
    assert not any(lesson.title in text for text in _infos(app))
    scene = app.session_state["shown_scene"]
    assert scene.lesson == ""
    assert scene.steps == 77
    assert scene.surface == "ravine", "the link's scene, not the lesson's, is shown"
    warnings = " ".join(w.value for w in app.warning)
    assert lesson.title in warnings
