"""The page script under Streamlit's AppTest: no browser, real engine and figures."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lab.lessons import LESSONS

APP = str(Path(__file__).resolve().parents[1] / "app.py")
# A cold Numba compile takes seconds per kernel; AppTest's default is 3 s.
TIMEOUT = 180


def _run(query: dict | None = None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        app.query_params[key] = value
    return app.run()


def _figures(app: AppTest) -> dict[str, dict]:
    return {
        chart.proto.id: json.loads(chart.proto.spec)
        for chart in app.get("plotly_chart")
    }


def _animated(app: AppTest) -> dict:
    animated = [f for f in _figures(app).values() if f.get("frames")]
    assert len(animated) == 1, "expected one animated surface figure"
    return animated[0]


def _texts(app: AppTest, kind: str) -> list[str]:
    return [element.value for element in getattr(app, kind)]


def test_app_runs_default_scene():
    app = _run()
    assert not app.exception
    assert app.main[0].type == "title", "something is drawn above the title"
    figure = _animated(app)
    assert figure["layout"]["images"], "the surface background image is missing"
    assert len(figure["frames"]) > 10
    assert not _texts(app, "error")


def test_app_steps_slider_changes_figure():
    app = _run()
    before = _animated(app)
    app.slider(key="steps").set_value(60).run()
    assert not app.exception
    after = _animated(app)
    assert after["frames"] != before["frames"]
    assert after["frames"][-1]["name"] != before["frames"][-1]["name"]


def test_app_huge_learning_rate_reports_divergence():
    app = _run()
    app.select_slider(key="r0.lr").set_value(1.0).run()
    assert not app.exception
    warnings = " ".join(_texts(app, "warning"))
    assert "diverged at step" in warnings
    assert "NaN" not in json.dumps(_animated(app))


def test_app_reports_replaced_link_values():
    app = _run({"lr0": "abc", "steps": "inf", "s": "no-such-surface"})
    assert not app.exception
    warnings = " ".join(_texts(app, "warning"))
    assert "abc" in warnings
    assert "no-such-surface" in warnings
    _animated(app)


def test_app_formula_error_is_shown_in_words():
    app = _run()
    app.selectbox(key="surface").set_value("formula").run()
    app.text_input(key="formula").set_value("x.__class__").run()
    assert not app.exception
    errors = [e.value for e in app.sidebar.error]
    assert errors, "the error should sit in the sidebar, next to the formula box"
    assert "formula" in errors[0].lower()
    assert "Traceback" not in errors[0]


def test_app_formula_surface_runs():
    app = _run()
    app.selectbox(key="surface").set_value("formula").run()
    app.text_input(key="formula").set_value("(x - 1)^2 + 10*(y + 0.5)^2").run()
    assert not app.exception
    assert not _texts(app, "error")
    _animated(app)


@pytest.mark.parametrize("lesson", list(LESSONS))
def test_app_lesson_loads(lesson):
    app = _run()
    app.selectbox(key="lesson_picker").set_value(lesson).run()
    assert not app.exception
    assert not _texts(app, "error")
    assert any(LESSONS[lesson].title in text for text in _texts(app, "info"))
    _animated(app)


def test_app_sweep_map_and_pick():
    app = _run()
    app.button(key="sweep.go").click().run()
    assert not app.exception
    sweep = [f for f in _figures(app).values() if f["data"][0]["type"] == "heatmap"]
    assert sweep, "the sweep map is missing"
    assert not _texts(app, "error")


def test_app_sharp_flat_lesson_counts_basins():
    app = _run()
    app.selectbox(key="lesson_picker").set_value("sharp_flat").run()
    assert not app.exception
    table = app.get("dataframe")[0].value
    assert "flat: particles" in table.columns
    assert "sharp: particles" in table.columns
    flat = table["flat: particles"]
    assert flat.iloc[0] > flat.iloc[1], "mini-batch SGD should end flat more often"
    test_loss = table["flat: test loss"].iloc[0]
    assert test_loss < table["sharp: test loss"].iloc[0]


def test_app_sweep_with_cosine_floor():
    # The sweep lowers η below the schedule's final rate lr_min.
    app = _run({"o": "adam", "sch0": "cosine", "lrmin0": "0.01", "lr0": "0.1"})
    app.button(key="sweep.go").click().run()
    assert not app.exception
    assert not _texts(app, "error")


def test_app_surface_switch_adapts_learning_rates():
    app = _run()
    app.selectbox(key="surface").set_value("rosenbrock").run()
    assert not app.exception
    assert not any("diverged" in text for text in _texts(app, "warning"))
    assert app.session_state["r0.lr"] == 0.001


def test_app_formula_choice_starts_with_example():
    app = _run()
    app.selectbox(key="surface").set_value("formula").run()
    assert not app.exception
    assert app.text_input(key="formula").value
    assert not [e.value for e in app.sidebar.error]
    _animated(app)
