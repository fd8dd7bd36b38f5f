"""The running app in headless Chromium: the chart loads, plays, pauses and scrubs.

Starts ``streamlit run app.py`` on a free local port and drives the page with
Playwright through the ``browser`` fixture of ``conftest.py``, which skips
these tests where Chromium is missing (and fails them when ``CI`` is set).
"""

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"  # server log and screenshots; not committed
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(browser):
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "streamlit.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("the Streamlit server did not answer its health check in 60 s")
    yield url
    process.terminate()
    process.wait(timeout=20)
    log.close()


# Reads the animated chart: the traces that frames move, their current points,
# and whether the background image is drawn.
CHART_STATE = """
() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  const gd = plots.find(p => p._transitionData && p._transitionData._frames
                             && p._transitionData._frames.length > 0);
  if (!gd) return null;
  const moving = gd._transitionData._frames[0].traces || [];
  const points = moving.map(i => {
    const t = gd._fullData[i];
    return [Array.from(t.x || []), Array.from(t.y || [])];
  });
  return {
    frames: gd._transitionData._frames.length,
    moving: moving,
    points: points,
    images: (gd.layout.images || []).length,
    drawnImages: gd.querySelectorAll('image').length,
    lineTraces: gd._fullData
      .filter(t => t.type === 'scatter' && t.mode === 'lines').length,
    hasNaN: JSON.stringify(gd.data).includes('NaN'),
  };
}
"""


def _open(browser, url):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function(
        f"(() => {{ const s = ({CHART_STATE})(); return s && s.drawnImages > 0; }})()",
        timeout=120_000,
    )
    return page


def _state(page):
    return page.evaluate(CHART_STATE)


def _click_button(page, label):
    page.locator(".updatemenu-button", has_text=label).first.click()


def test_chart_plays_and_keeps_surface(server, browser):
    page = _open(browser, server)
    before = _state(page)
    assert before["images"] >= 1, "the surface background image is missing"
    assert before["drawnImages"] >= 1, "the surface image is not drawn"
    assert before["frames"] > 10
    assert not before["hasNaN"]

    _click_button(page, "Play")
    page.wait_for_timeout(2500)
    during = _state(page)
    assert during["points"] != before["points"], "Play did not move the particles"
    assert during["drawnImages"] >= 1, "the surface vanished during playback"
    assert during["lineTraces"] >= before["lineTraces"]
    page.screenshot(path=str(ARTIFACTS / "playing.png"))

    _click_button(page, "Pause")
    page.wait_for_timeout(500)
    paused = _state(page)
    page.wait_for_timeout(1000)
    assert _state(page)["points"] == paused["points"], "Pause did not stop playback"
    page.close()


def test_step_slider_scrubs(server, browser):
    page = _open(browser, server)
    before = _state(page)
    rail = page.locator(".slider-rail-rect").first
    box = rail.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    page.wait_for_timeout(800)
    after = _state(page)
    assert after["points"] != before["points"], "the step slider did not move particles"
    assert after["drawnImages"] >= 1
    page.close()


def test_huge_learning_rate_reports_divergence(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(f"{server}/?o=sgd&lr0=1", wait_until="domcontentloaded")
    page.wait_for_function(f"({CHART_STATE})() !== null", timeout=120_000)
    page.get_by_text("diverged at step").first.wait_for(timeout=30_000)
    assert not _state(page)["hasNaN"]
    assert page.locator("text=Traceback").count() == 0
    page.close()


# The static path of each racer, keyed by racer label (the legend group), and
# the particles' positions in the last frame of the animation.
LESSON_DATA = """
() => {
  // Frames keep numeric arrays as Plotly's base64 typed-array objects.
  const decode = v => {
    if (!v || Array.isArray(v)) return v || [];
    if (v.bdata) {
      const bytes = Uint8Array.from(atob(v.bdata), c => c.charCodeAt(0));
      const Type = {f4: Float32Array, f8: Float64Array, i2: Int16Array,
                    i4: Int32Array}[v.dtype];
      return Array.from(new Type(bytes.buffer));
    }
    return Array.from(v);
  };
  const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(p => p._transitionData && p._transitionData._frames.length > 0);
  const paths = {};
  for (const t of gd._fullData) {
    if (t.type === 'scatter' && t.mode === 'lines' && t.legendgroup) {
      paths[t.legendgroup] = [decode(t.x), decode(t.y)];
    }
  }
  const frames = gd._transitionData._frames;
  const last = frames[frames.length - 1];
  const ends = {};
  last.traces.forEach((index, k) => {
    const group = gd._fullData[index].legendgroup;
    const update = last.data[k];
    if (group && update.x) {
      ends[group] = (ends[group] || []).concat(decode(update.x));
    }
  });
  return {paths: paths, ends: ends, info: document.body.innerText};
}
"""


def _lesson_page(browser, server, key):
    from urllib.parse import urlencode

    from lab.lessons import LESSONS

    lesson = LESSONS[key]
    page = _open(browser, f"{server}/?{urlencode(lesson.query())}")
    data = page.evaluate(LESSON_DATA)
    assert lesson.title in data["info"], "the lesson's text is not shown"
    assert "Traceback" not in data["info"]
    return page, data


def _sign_changes(values) -> int:
    signs = [v > 0 for v in values if v is not None and v != 0]
    return sum(a != b for a, b in zip(signs, signs[1:], strict=False))


def test_ravine_lesson_sgd_zigzags(server, browser):
    page, data = _lesson_page(browser, server, "ravine")
    sgd = next(v for k, v in data["paths"].items() if k.startswith("SGD"))
    momentum = next(v for k, v in data["paths"].items() if k.startswith("Momentum"))
    assert _sign_changes(sgd[1]) > 3 * _sign_changes(momentum[1])
    page.close()


def test_sharp_flat_lesson_minibatch_ends_flat(server, browser):
    page, data = _lesson_page(browser, server, "sharp_flat")
    ends = data["ends"]
    minibatch = next(v for k, v in ends.items() if "batch 2" in k and "SGD" in k)
    full_batch = next(v for k, v in ends.items() if "full batch" in k)
    # The flat well is on the right; the basins meet near x = -0.03.
    flat_minibatch = sum(x > -0.026 for x in minibatch)
    flat_full_batch = sum(x > -0.026 for x in full_batch)
    assert flat_minibatch > flat_full_batch + 15
    page.close()


@pytest.mark.parametrize(
    "key", ["adam_rescales", "bias_correction", "decay", "warmup"]
)
def test_lesson_link_opens_its_scene(server, browser, key):
    page, data = _lesson_page(browser, server, key)
    assert len(data["paths"]) >= 2, "the lesson should compare several racers"
    page.close()


def test_click_on_surface_sets_start(server, browser):
    page = _open(browser, server)
    start_x = page.locator("input[aria-label='Start x']")
    before = start_x.input_value()
    area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    page.mouse.click(area["x"] + area["width"] * 0.75, area["y"] + area["height"] * 0.3)
    page.wait_for_function(
        "v => document.querySelector(\"input[aria-label='Start x']\").value !== v",
        arg=before,
        timeout=30_000,
    )
    assert float(start_x.input_value()) > 0, "the click was on the right half"
    assert "start=" in page.url
    page.close()


def test_sweep_cell_click_sets_sliders(server, browser):
    page = _open(browser, server)
    page.get_by_text("Sweep map").click()
    page.get_by_role("button", name="Compute the sweep").click()
    page.wait_for_function(
        "document.querySelectorAll('.js-plotly-plot .heatmaplayer').length > 0",
        timeout=60_000,
    )
    page.wait_for_timeout(1000)
    heatmap = page.locator(".js-plotly-plot").filter(has=page.locator(".heatmaplayer"))
    heatmap.first.scroll_into_view_if_needed()
    area = heatmap.first.locator(".nsewdrag").first.bounding_box()
    page.mouse.click(area["x"] + area["width"] * 0.3, area["y"] + area["height"] * 0.5)
    page.wait_for_function("() => location.search.includes('g1=')", timeout=30_000)
    assert "lr1=" in page.url
    page.close()
