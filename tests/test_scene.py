"""Tests of the Scene value and its URL query round trip."""

import dataclasses
import math
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose

from lab.lessons import LESSONS
from lab.scene import (
    APP_LIMITS,
    DEFAULT_RACERS,
    DEFAULT_WINDOW,
    FORMULA,
    RACER_FIELDS,
    SCENE_FIELDS,
    VIEW_FIELDS,
    VIEWS,
    Racer,
    Scene,
    scene_from_query,
    scene_to_query,
)
from landscapes import SURFACES
from optimizers import OPTIMIZERS, SCHEDULES, simulate

FALLBACK = "could not be read"
CODE_WORDS = (
    "None",
    "True",
    "False",
    "Error",
    "Traceback",
    "exception",
    "float",
    "int",
    "str",
    "dict",
    "tuple",
    "NaN",
    "query_params",
    "kwargs",
)
FORMULAS = ("x**2 + 3*y**2", "sin(x) + cos(y)", "(x - 1)**2 + y**4", "x*y")


def random_float(rng, low, high, log=False):
    if log:
        return float(math.exp(rng.uniform(math.log(low), math.log(high))))
    return float(rng.uniform(low, high))


def random_racer(rng, steps: int, samples: int) -> Racer:
    """Draw a racer with every field inside its allowed range and under its cap."""
    optimizer = str(rng.choice(list(OPTIMIZERS)))
    values = {}
    for spec in RACER_FIELDS:
        if rng.random() < 0.3:
            continue  # keep the default, which the query leaves out
        if spec.kind == "float":
            log = spec.attr in ("lr", "eps")
            values[spec.attr] = random_float(rng, spec.low, spec.high, log)
        elif spec.kind == "int":
            values[spec.attr] = int(rng.integers(spec.low, spec.high + 1))
        elif spec.kind == "bool":
            values[spec.attr] = bool(rng.random() < 0.5)
        else:
            values[spec.attr] = str(rng.choice(list(SCHEDULES)))
    racer = Racer(optimizer=optimizer, **values)
    caps = {"lr": racer.lr, "steps": steps, "samples": samples}
    return dataclasses.replace(
        racer,
        **{
            spec.attr: min(getattr(racer, spec.attr), caps[spec.at_most])
            for spec in RACER_FIELDS
            if spec.at_most
        },
    )


def random_scene(rng) -> Scene:
    """Draw a valid scene: every value in range, floats at full precision."""
    surface = str(rng.choice([*SURFACES, FORMULA]))
    values = {"surface": surface}
    if surface == FORMULA or rng.random() < 0.2:
        values["formula"] = str(rng.choice(FORMULAS))
    if surface == FORMULA and rng.random() < 0.6:
        x0, y0 = rng.uniform(-50, 50, size=2)
        width, height = rng.uniform(0.01, 40, size=2)
        values["window"] = (float(x0), float(x0 + width), float(y0), float(y0 + height))
    if surface in SURFACES and rng.random() < 0.7:
        params = []
        for parameter in SURFACES[surface].parameters:
            value = random_float(rng, parameter.low, parameter.high)
            if value != parameter.default:
                params.append((parameter.name, value))
        values["surface_params"] = tuple(sorted(params))
    if rng.random() < 0.7:
        x0, x1, y0, y1 = Scene(**values).window_bounds()
        values["start"] = (random_float(rng, x0, x1), random_float(rng, y0, y1))
    for spec in SCENE_FIELDS:
        if rng.random() < 0.3:
            continue
        if spec.kind == "float":
            values[spec.attr] = random_float(rng, spec.low, spec.high)
        elif spec.kind == "int":
            values[spec.attr] = int(rng.integers(spec.low, spec.high + 1))
        elif spec.kind == "bool":
            values[spec.attr] = bool(rng.random() < 0.5)
        elif spec.attr == "view":
            values[spec.attr] = str(rng.choice(VIEWS))
        elif spec.attr == "lesson":
            continue  # drawn below, with the lesson's own scene
    steps = values.get("steps", Scene().steps)
    samples = values.get("samples", Scene().samples)
    if rng.random() < 0.8:
        count = int(rng.integers(1, APP_LIMITS["racers"] + 1))
        values["racers"] = tuple(
            random_racer(rng, steps, samples) for _ in range(count)
        )
    if rng.random() < 0.2:
        # A scene that names a lesson is that lesson's scene, up to the view.
        lesson = LESSONS[str(rng.choice(list(LESSONS)))]
        view = {attr: values[attr] for attr in VIEW_FIELDS if attr in values}
        return dataclasses.replace(lesson.scene, **view)
    return Scene(**values)


def strip_quotes(message: str) -> str:
    return re.sub(r"'[^']*'", "''", message)


def assert_plain(message: str) -> None:
    """Check that a message reads as a sentence for students, without code words."""
    assert message[0].isupper(), message
    assert message.endswith("."), message
    text = strip_quotes(message)
    for word in CODE_WORDS:
        assert not re.search(rf"\b{word}\b", text), (word, message)


def assert_valid(scene: Scene) -> None:
    """A valid scene reads back from its own link unchanged and without messages."""
    again, messages = scene_from_query(scene_to_query(scene))
    assert messages == []
    assert again == scene


# ---------------------------------------------------------------------------
# Round trip


def test_default_scene_has_empty_query():
    assert scene_to_query(Scene()) == {}


def test_empty_query_gives_default_scene():
    scene, messages = scene_from_query({})
    assert scene == Scene()
    assert messages == []


def test_round_trip_random_scenes():
    rng = np.random.default_rng(7)
    for _ in range(400):
        scene = random_scene(rng)
        query = scene_to_query(scene)
        again, messages = scene_from_query(query)
        assert messages == [], (query, messages)
        assert again == scene, query


def test_round_trip_keeps_floats_bit_exact():
    racer = Racer("adam", lr=0.1 + 0.2, beta2=1 - 1e-3 / 3, eps=1e-12 * 7 / 3)
    scene = Scene(noise=0.1 + 0.7, spread=1 / 3, racers=(racer,))
    again, messages = scene_from_query(scene_to_query(scene))
    assert messages == []
    assert again.racers[0].lr.hex() == racer.lr.hex()
    assert again.racers[0].beta2.hex() == racer.beta2.hex()
    assert again.racers[0].eps.hex() == racer.eps.hex()
    assert again.noise.hex() == scene.noise.hex()
    assert again.spread.hex() == scene.spread.hex()


def test_round_trip_through_streamlit_lists():
    rng = np.random.default_rng(11)
    for _ in range(50):
        scene = random_scene(rng)
        as_lists = {key: [value] for key, value in scene_to_query(scene).items()}
        again, messages = scene_from_query(as_lists)
        assert messages == []
        assert again == scene


def test_lessons_are_valid_scenes():
    for lesson in LESSONS.values():
        assert_valid(lesson.scene)


# ---------------------------------------------------------------------------
# Format


def test_short_keys_read_as_documented():
    scene, messages = scene_from_query(
        {
            "s": "rosenbrock",
            "o": "sgd,momentum,adam",
            "lr0": "0.038",
            "g1": "0.95",
            "bm2": "0.8",
            "bv2": "0.99",
            "bc2": "0",
            "sch2": "cosine",
            "wu1": "20",
            "bs0": "4",
            "start": "-1,2.5",
            "n": "50",
            "steps": "700",
            "noise": "0.2",
            "view": "both",
            "arrows": "1",
        }
    )
    assert messages == []
    assert scene.surface == "rosenbrock"
    assert [r.optimizer for r in scene.racers] == ["sgd", "momentum", "adam"]
    assert scene.racers[0].lr == 0.038
    assert scene.racers[0].batch_size == 4
    assert scene.racers[1].momentum == 0.95
    assert scene.racers[1].warmup_steps == 20
    assert scene.racers[1].lr == Racer().lr
    assert scene.racers[2].beta1 == 0.8
    assert scene.racers[2].beta2 == 0.99
    assert scene.racers[2].bias_correction is False
    assert scene.racers[2].schedule == "cosine"
    assert scene.start == (-1.0, 2.5)
    assert scene.particles == 50
    assert scene.steps == 700
    assert scene.noise == 0.2
    assert scene.view == "both"
    assert scene.arrows is True


def test_index_keys_change_default_racers():
    scene, messages = scene_from_query({"lr1": "0.002"})
    assert messages == []
    assert scene.racers[0] == DEFAULT_RACERS[0]
    assert scene.racers[1] == dataclasses.replace(DEFAULT_RACERS[1], lr=0.002)
    assert scene_to_query(scene)["o"] == "sgd,momentum,adam"


def test_query_writes_only_changed_values():
    scene = Scene(steps=500, racers=(Racer("adam", lr=0.05),))
    assert scene_to_query(scene) == {"steps": "500", "o": "adam", "lr0": "0.05"}


def test_surface_params_keep_only_non_defaults():
    scene, messages = scene_from_query({"sp": "kappa:50.0"})
    assert messages == []
    assert scene.surface_params == ()
    scene, messages = scene_from_query({"sp": "kappa:120"})
    assert scene.surface_params == (("kappa", 120.0),)
    assert scene_to_query(scene) == {"sp": "kappa:120.0"}


def test_lesson_links_name_their_lesson():
    for key, lesson in LESSONS.items():
        assert lesson.query()["lesson"] == key
        assert lesson.scene.lesson == key


def test_lesson_key_alone_loads_lesson_scene():
    for key, lesson in LESSONS.items():
        scene, messages = scene_from_query({"lesson": key})
        assert messages == []
        assert scene == lesson.scene, key


def test_lesson_key_with_view_settings():
    query = {"view": "3d", "arrows": "1", "present": "1"}
    for key, lesson in LESSONS.items():
        scene, messages = scene_from_query({"lesson": key, **query})
        assert messages == []
        expected = dataclasses.replace(
            lesson.scene, view="3d", arrows=True, presentation=True
        )
        assert scene == expected, key


def test_changed_lesson_scene_drops_lesson():
    for key, lesson in LESSONS.items():
        query = {**lesson.query(), "steps": str(lesson.scene.steps + 1)}
        scene, messages = scene_from_query(query)
        assert scene.lesson == ""
        assert scene.steps == lesson.scene.steps + 1
        assert dataclasses.replace(scene, steps=lesson.scene.steps, lesson=key) == (
            lesson.scene
        )
        assert len(messages) == 1, messages
        assert lesson.title in messages[0]
        assert_plain(messages[0])


def test_lesson_key_with_other_setting_drops_lesson():
    scene, messages = scene_from_query({"lesson": "adam_rescales", "seed": "4"})
    assert scene == Scene(seed=4)
    assert len(messages) == 1


def test_lesson_key_with_unknown_setting_loads_lesson():
    scene, messages = scene_from_query({"lesson": "ravine", "utm_source": "mail"})
    assert scene == LESSONS["ravine"].scene
    assert len(messages) == 1
    assert "does not know" in messages[0]


# ---------------------------------------------------------------------------
# Hostile links

HOSTILE = [
    # (query, expected messages, check on the scene)
    ({"o": "sgd,momentum", "lr1": "abc"}, 1, lambda s: s.racers[1].lr == 0.01),
    ({"lr0": "nan"}, 1, lambda s: s.racers[0].lr == DEFAULT_RACERS[0].lr),
    ({"lr0": "inf"}, 1, lambda s: s.racers[0].lr == DEFAULT_RACERS[0].lr),
    ({"lr0": "-inf"}, 1, lambda s: s.racers[0].lr == DEFAULT_RACERS[0].lr),
    ({"lr0": "1e999"}, 1, lambda s: s.racers[0].lr == DEFAULT_RACERS[0].lr),
    ({"lr0": "5"}, 1, lambda s: s.racers[0].lr == 1.0),
    ({"lr0": "1e-9"}, 1, lambda s: s.racers[0].lr == 1e-5),
    ({"lr0": "-0.1"}, 1, lambda s: s.racers[0].lr == 1e-5),
    ({"g1": "1"}, 1, lambda s: s.racers[1].momentum == 0.999),
    ({"bm2": "1.5"}, 1, lambda s: s.racers[2].beta1 == 0.999),
    ({"bv2": "1"}, 1, lambda s: s.racers[2].beta2 == 0.9999),
    ({"eps2": "0"}, 1, lambda s: s.racers[2].eps == 1e-12),
    ({"eps2": "1"}, 1, lambda s: s.racers[2].eps == 0.1),
    ({"steps": "0"}, 1, lambda s: s.steps == 1),
    ({"steps": "99999999"}, 1, lambda s: s.steps == APP_LIMITS["steps"]),
    ({"steps": "12.5"}, 1, lambda s: s.steps == 300),
    ({"steps": "12.0"}, 0, lambda s: s.steps == 12),
    ({"steps": ""}, 1, lambda s: s.steps == 300),
    ({"steps": "9" * 5000}, 1, lambda s: s.steps == 300),
    ({"n": "100000"}, 1, lambda s: s.particles == APP_LIMITS["particles"]),
    ({"n": "-3"}, 1, lambda s: s.particles == 1),
    ({"seed": "-1"}, 1, lambda s: s.seed == 0),
    ({"noise": "-1"}, 1, lambda s: s.noise == 0.0),
    ({"samples": "0"}, 1, lambda s: s.samples == 1),
    ({"s": "moon"}, 1, lambda s: s.surface == "ravine"),
    ({"s": "ROSENBROCK"}, 0, lambda s: s.surface == "rosenbrock"),
    ({"s": "formula"}, 1, lambda s: s.surface == "ravine"),
    ({"s": "formula", "f": "x" * 400}, 2, lambda s: s.formula == ""),
    ({"s": "formula", "f": "x**2\n+y"}, 2, lambda s: s.formula == ""),
    ({"s": "formula", "f": "x**2", "win": "1,0,0,1"}, 1, lambda s: s.window is None),
    ({"s": "formula", "f": "x**2", "win": "0,1,0"}, 1, lambda s: s.window is None),
    ({"s": "formula", "f": "x**2", "win": "0,1e9,0,1"}, 1, lambda s: s.window is None),
    ({"s": "formula", "f": "x**2", "win": "0,nan,0,1"}, 1, lambda s: s.window is None),
    ({"sch0": "linear"}, 1, lambda s: s.racers[0].schedule == "constant"),
    ({"bc2": "maybe"}, 1, lambda s: s.racers[2].bias_correction is True),
    ({"arrows": "yes"}, 0, lambda s: s.arrows is True),
    ({"view": "4d"}, 1, lambda s: s.view == "contour"),
    ({"lesson": "magic"}, 1, lambda s: s.lesson == ""),
    ({"o": "sgd,lion,adam"}, 1, lambda s: len(s.racers) == 2),
    ({"o": "lion"}, 2, lambda s: s.racers == DEFAULT_RACERS),
    ({"o": ""}, 1, lambda s: s.racers == DEFAULT_RACERS),
    ({"o": " , ,"}, 1, lambda s: s.racers == DEFAULT_RACERS),
    ({"o": ",".join(["sgd"] * 9)}, 1, lambda s: len(s.racers) == 6),
    ({"o": "sgd", "lr3": "0.1"}, 1, lambda s: len(s.racers) == 1),
    ({"lr7": "0.1"}, 1, lambda s: s.racers == DEFAULT_RACERS),
    ({"lr00": "0.1"}, 1, lambda s: s.racers == DEFAULT_RACERS),
    ({"sch1": "cosine", "lrmin1": "0.5"}, 1, lambda s: s.racers[1].lr_min == 0.004),
    ({"samples": "8", "bs0": "50"}, 1, lambda s: s.racers[0].batch_size == 8),
    ({"steps": "50", "wu0": "80"}, 1, lambda s: s.racers[0].warmup_steps == 50),
    ({"steps": "50", "ss1": "80"}, 1, lambda s: s.racers[1].step_size == 50),
    ({"steps": "50", "rp2": "80"}, 1, lambda s: s.racers[2].restart_period == 50),
    ({"steps": "50", "rp2": "50"}, 0, lambda s: s.racers[2].restart_period == 50),
    ({"steps": "50"}, 0, lambda s: s.racers[0].step_size == Racer().step_size),
    ({"noise": "1.5"}, 1, lambda s: s.noise == 1.0),
    ({"spread": "4"}, 1, lambda s: s.spread == 2.0),
    ({"samples": "1000"}, 1, lambda s: s.samples == APP_LIMITS["samples"]),
    ({"dr0": "0.6"}, 1, lambda s: s.racers[0].decay_rate == 0.9),
    ({"o": "adamw", "wd0": "0.8"}, 1, lambda s: s.racers[0].weight_decay == 0.5),
    ({"start": "9,9"}, 1, lambda s: s.start == (6.0, 2.5)),
    ({"start": "-100,0"}, 1, lambda s: s.start == (-6.0, 0.0)),
    ({"start": "1"}, 1, lambda s: s.start is None),
    ({"start": "a,b"}, 1, lambda s: s.start is None),
    ({"start": "inf,0"}, 1, lambda s: s.start is None),
    ({"sp": "kappa:abc"}, 1, lambda s: s.surface_params == ()),
    ({"sp": "kappa:1e6"}, 1, lambda s: s.surface_params == (("kappa", 1000.0),)),
    ({"sp": "colour:3"}, 1, lambda s: s.surface_params == ()),
    ({"sp": "kappa:3,kappa:4"}, 1, lambda s: s.surface_params == (("kappa", 4.0),)),
    ({"foo": "1", "bar": "2", "__class__": "x"}, 1, lambda s: s == Scene()),
    ({"steps": ["100", "200"]}, 1, lambda s: s.steps == 200),
    ({"steps": []}, 0, lambda s: s.steps == 300),
    ({"x" * 1000: "1"}, 1, lambda s: s == Scene()),
    ({"steps": "１２"}, 0, lambda s: s.steps == 12),
    ({"steps": "1_000"}, 0, lambda s: s.steps == 1000),
    ({"lr0": "0x10"}, 1, lambda s: s.racers[0].lr == DEFAULT_RACERS[0].lr),
    ({"steps": None}, 1, lambda s: s.steps == 300),
    ({"steps": 50}, 0, lambda s: s.steps == 50),
]


@pytest.mark.parametrize(("query", "count", "check"), HOSTILE)
def test_hostile_query_falls_back(query, count, check):
    scene, messages = scene_from_query(query)
    assert len(messages) == count, messages
    assert check(scene), scene
    for message in messages:
        assert FALLBACK not in message
        assert_plain(message)
    assert_valid(scene)


def test_message_names_value_replacement_and_reason():
    _, messages = scene_from_query({"o": "sgd,momentum", "lr1": "abc"})
    assert messages == [
        "The link set the learning rate η of racer 2 (Momentum) to 'abc', "
        "which is not a number; using 0.01 instead."
    ]
    _, messages = scene_from_query({"steps": "5000"})
    assert messages == [
        "The link set the number of steps to 5000, above the maximum 2000; "
        "using 2000 instead."
    ]


def test_capped_value_message_names_cap():
    _, messages = scene_from_query({"steps": "100", "o": "sgd", "wu0": "500"})
    assert messages == [
        "The link set the warm-up steps of racer 1 (SGD) to 500, more than the "
        "number of steps (100); using 100 instead."
    ]


def test_unknown_keys_reported_once():
    _, messages = scene_from_query({f"key{i}x": "1" for i in range(20)})
    assert len(messages) == 1
    assert "and 15 more" in messages[0]


def test_messages_quote_only_safe_characters():
    _, messages = scene_from_query({"lr0": "[click](http://x) $x$ <b>"})
    assert len(messages) == 1
    for character in "[]()$<>/":
        assert character not in messages[0].split("'")[1]


def test_long_value_quotes_are_shortened():
    _, messages = scene_from_query({"view": "v" * 300})
    assert len(messages) == 1
    assert len(messages[0]) < 200


def test_non_mapping_query_gives_default():
    for query in (None, 42, ["s", "ravine"]):
        scene, messages = scene_from_query(query)
        assert scene == Scene()
        assert len(messages) == 1
        assert_plain(messages[0])


FUZZ_KEYS = [
    *(spec.key for spec in SCENE_FIELDS),
    "s",
    "f",
    "win",
    "sp",
    "start",
    "o",
    *(f"{spec.key}{i}" for spec in RACER_FIELDS for i in (0, 1, 2, 5, 6, 99)),
    "",
    "lr",
    "lr-1",
    "lr٣",
    "ö",
    "🙂",
    "s ",
    " s",
    "x" * 60,
    "0",
    "lesson0",
]
FUZZ_VALUES = [
    "",
    " ",
    "0",
    "1",
    "-1",
    "0.5",
    "1e-3",
    "2000",
    "3000",
    "1e308",
    "-1e308",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e999",
    "-0",
    "+7",
    "0x1f",
    "1_0",
    "٣",
    "∞",
    "🙂",
    "é" * 50,
    "9" * 4400,
    "1" * 50000,
    "a,b",
    "1,2",
    "1,2,3,4",
    "3,2,1,0",
    "kappa:7",
    "kappa:",
    ":",
    ",",
    ",,,",
    "sgd,adam",
    "adam," * 20,
    "cosine",
    "formula",
    "rosenbrock",
    "ravine",
    "3d",
    "yes",
    "\x00",
    "\n",
    "x**2",
    "%00",
    "{}",
    "[]",
    "None",
    "<script>",
    "$\\alpha$",
]


def fuzz_value(rng):
    choice = rng.random()
    if choice < 0.1:
        count = int(rng.integers(0, 4))
        return [FUZZ_VALUES[int(i)] for i in rng.integers(len(FUZZ_VALUES), size=count)]
    if choice < 0.15:
        return rng.choice([None, 3, 2.5, -1, True, b"1", object()])
    if choice < 0.25:
        length = int(rng.integers(1, 30))
        return "".join(chr(int(c)) for c in rng.integers(1, 0x2FFF, size=length))
    return FUZZ_VALUES[int(rng.integers(len(FUZZ_VALUES)))]


def test_fuzz_never_raises():
    rng = np.random.default_rng(2024)
    for _ in range(1500):
        query = {}
        for _ in range(int(rng.integers(0, 12))):
            if rng.random() < 0.85:
                key = str(rng.choice(FUZZ_KEYS))
            else:
                length = int(rng.integers(1, 12))
                key = "".join(
                    chr(int(c)) for c in rng.integers(32, 0x2FFF, size=length)
                )
            query[key] = fuzz_value(rng)
        scene, messages = scene_from_query(query)
        assert isinstance(scene, Scene)
        for message in messages:
            assert FALLBACK not in message, query
            assert_plain(message)
        assert_valid(scene)


# ---------------------------------------------------------------------------
# Starts, labels and engine arguments


def test_starts_single_and_cloud():
    single = Scene(surface="rosenbrock").starts()
    assert single.shape == (1, 2)
    assert_allclose(single[0], SURFACES["rosenbrock"].default_start, rtol=0, atol=0)
    scene = Scene(start=(1.0, -1.0), particles=400, spread=0.5, seed=3)
    starts = scene.starts()
    assert starts.shape == (400, 2)
    assert_allclose(starts.mean(axis=0), (1.0, -1.0), atol=0.1)
    assert_allclose(starts.std(axis=0), (0.5, 0.5), rtol=0.15)
    assert_allclose(scene.starts(), starts, rtol=0, atol=0)


def test_cloud_starts_stay_in_window():
    scene = Scene(surface="rosenbrock", start=(1.9, 2.9), particles=300, spread=2.0)
    starts = scene.starts()
    x0, x1, y0, y1 = scene.window_bounds()
    assert starts[:, 0].min() >= x0
    assert starts[:, 0].max() <= x1
    assert starts[:, 1].min() >= y0
    assert starts[:, 1].max() <= y1
    assert np.sum(starts[:, 0] == x1) > 100


def test_formula_start_defaults_to_window_centre():
    scene = Scene(surface=FORMULA, formula="x**2", window=(0.0, 4.0, -2.0, 0.0))
    assert scene.start_point() == (2.0, -1.0)
    assert Scene(surface=FORMULA, formula="x").window_bounds() == DEFAULT_WINDOW


def test_formula_start_clamped_into_its_window():
    scene, messages = scene_from_query(
        {"s": "formula", "f": "x**2", "win": "0,1,0,1", "start": "5,-5"}
    )
    assert scene.start == (1.0, 0.0)
    assert len(messages) == 1


def test_labels_name_the_differences():
    scene = Scene(
        noise=0.3,
        samples=32,
        racers=(
            Racer("sgd", lr=0.038, batch_size=4),
            Racer("sgd", lr=0.038, batch_size=32),
            Racer("adam", lr=0.01, bias_correction=False),
            Racer("momentum", lr=0.004, schedule="cosine", warmup_steps=50),
        ),
    )
    assert scene.labels() == [
        "SGD η=0.038 batch 4",
        "SGD η=0.038 full batch",
        "Adam η=0.01 (no bias correction) full batch",
        "Momentum η=0.004 γ=0.9 cosine annealing warm-up 50 full batch",
    ]
    assert Racer("sgd", lr=0.038, batch_size=4).label() == "SGD η=0.038 batch 4"
    assert Racer("adam", lr=1e-5).label() == "Adam η=1e-5"


def test_duplicate_labels_get_numbers():
    scene = Scene(racers=(Racer("sgd"), Racer("sgd")))
    assert scene.labels() == ["SGD η=0.01 (racer 1)", "SGD η=0.01 (racer 2)"]


def test_simulate_kwargs_fit_dependent_settings():
    racer = Racer(
        "momentum",
        lr=0.01,
        lr_min=0.5,
        schedule="cosine_restarts",
        restart_period=900,
        step_size=900,
        warmup_steps=900,
        batch_size=500,
    )
    scene = Scene(steps=40, noise=1.5, samples=16, particles=5, racers=(racer,))
    kwargs = scene.simulate_kwargs(racer, record_every=100)
    assert kwargs["lr_min"] == 0.01
    assert kwargs["restart_period"] == 40
    assert kwargs["step_size"] == 40
    assert kwargs["warmup_steps"] == 40
    assert kwargs["batch_size"] == 16
    assert kwargs["record_every"] == 40
    assert kwargs["starts"].shape == (5, 2)
    run = simulate("ravine", racer.optimizer, **kwargs)
    assert run.positions.shape == (5, 2, 2)


def test_simulate_kwargs_full_batch_and_noise_cap():
    racer = Racer("sgd", batch_size=0)
    scene = Scene(surface=FORMULA, formula="x", window=(0.0, 0.5, 0.0, 0.25), noise=2.0)
    kwargs = racer.simulate_kwargs(scene)
    assert kwargs["batch_size"] == scene.samples
    assert kwargs["noise"] == 0.5
    assert kwargs["surface_params"] is None
    params = Scene(surface_params=(("kappa", 10.0),)).simulate_kwargs(racer)
    assert params["surface_params"] == {"kappa": 10.0}


def test_random_scenes_run_in_engine():
    rng = np.random.default_rng(5)
    checked = 0
    while checked < 40:
        scene = random_scene(rng)
        if scene.surface not in ("ravine", "rosenbrock", "sharp_flat"):
            continue
        scene = dataclasses.replace(
            scene,
            steps=min(scene.steps, 60),
            particles=min(scene.particles, 8),
            samples=min(scene.samples, 16),
        )
        for racer in scene.racers:
            if racer.optimizer not in ("sgd", "momentum", "adam"):
                continue
            run = simulate(
                scene.surface, racer.optimizer, **scene.simulate_kwargs(racer)
            )
            assert run.positions.shape[0] == scene.particles
            checked += 1
