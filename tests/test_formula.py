"""Typed formulas: parser whitelist and bounds, gradients, surfaces, simulation."""

import ast
import math
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import sympy
import sympy.parsing.sympy_parser

from landscapes import PARAMETER_SLOTS, formula
from landscapes.formula import (
    LIMITS,
    FormulaError,
    canonical_formula,
    check_source,
    codegen,
    evaluate_tree,
    parse_formula,
    parse_tree,
)
from optimizers import simulate

P = np.zeros(PARAMETER_SLOTS)

# (formula, window): smooth formulas over windows where they are defined.
GRADIENT_CASES = [
    ("x**2 + 10*y**2", (-5, 5, -5, 5)),
    ("sin(3*x) * cos(y) + 0.1*(x^2 + y^2)", (-3, 3, -3, 3)),
    ("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", (-5, 5, -5, 5)),
    ("(1 - x)^2 + 100*(y - x^2)^2", (-2, 2, -1, 3)),
    ("exp(-x**2 - y**2)*tanh(x) + atan(y)/cosh(x) + sinh(y)/10", (-3, 3, -3, 3)),
    ("log(x**2 + y**2 + 1) - sqrt(x**2 + 2*y**2 + 1)", (-4, 4, -4, 4)),
    ("tan(x/4)*y + 1/(1 + x**2 + y**2)", (-3, 3, -3, 3)),
    ("x**y + 2**x + x**(1/3) - y**-2", (0.5, 3, 0.5, 3)),
    ("-x^-2 + e**(x/3)*pi - --y", (0.5, 4, -2, 2)),
    ("abs(x - y) + abs(x) + abs(log(y))", (-3, 3, 0.2, 3)),
    ("min(x**2, (x - 3)**2) + max(y, -y, 0.5*y + 1)", (-2, 5, -3, 3)),
    ("max(min(x, y), min(x*y, 1)) + sqrt(x**2)", (-3, 3, -3, 3)),
    ("((x/3)**3)**2 + ((y - 1)**2 + 1)**2", (-3, 3, -3, 3)),
]


def _kink_distance(text, x, y):
    """Return how far (x, y) is from a switch of abs, min or max, in value."""
    tree = parse_tree(text)
    gaps = [math.inf]

    def visit(node):
        if node.kind == "call" and node.label in ("abs", "min", "max"):
            values = [evaluate_tree(child, x, y) for child in node.children]
            if node.label == "abs":
                gaps.append(abs(values[0]))
            else:
                ordered = sorted(values)
                gaps.append(ordered[1] - ordered[0])
        for child in node.children:
            visit(child)

    visit(tree)
    return min(gaps)


@pytest.mark.parametrize(("text", "window"), GRADIENT_CASES)
def test_gradient_matches_central_differences(text, window):
    surface = parse_formula(text, window)
    tree = parse_tree(text)
    x0, x1, y0, y1 = window
    rng = np.random.default_rng(7)
    checked = 0
    for x, y in rng.uniform((x0, y0), (x1, y1), size=(40, 2)):
        if _kink_distance(text, x, y) < 1e-3:
            continue
        checked += 1
        h = 1e-6 * max(1.0, abs(x), abs(y))
        with np.errstate(all="ignore"):
            expected_value = evaluate_tree(tree, x, y)
            dx = (evaluate_tree(tree, x + h, y) - evaluate_tree(tree, x - h, y)) / (
                2 * h
            )
            dy = (evaluate_tree(tree, x, y + h) - evaluate_tree(tree, x, y - h)) / (
                2 * h
            )
        value = surface.value(x, y, P)
        gx, gy = surface.grad(x, y, P)
        np.testing.assert_allclose(value, expected_value, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gx, dx, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(gy, dy, rtol=1e-5, atol=1e-5)
    assert checked >= 20


# (text, part of the message, position)
HOSTILE_INPUTS = [
    ("x.__class__", "'.' at character 2 is not allowed", 1),
    ("x.__class__.__bases__[0]", "'.' at character 2", 1),
    ("__import__('os')", "Unknown name '__import__'", 0),
    ("__builtins__", "Unknown name '__builtins__'", 0),
    ("import os", "Unknown name 'import'", 0),
    ("x; import os", "';' at character 2", 1),
    ("lambda: 0", "Unknown name 'lambda'", 0),
    ("[x for x in y]", "'[' at character 1", 0),
    ("(x for x in y)", "Unknown name 'for'", 3),
    ("'abc'", "Text in quotes", 0),
    ('x + "y"', "Text in quotes", 4),
    ("{}", "'{' at character 1", 0),
    ("x if y else 0", "Unknown name 'if'", 2),
    ("eval('1')", "Unknown name 'eval'", 0),
    ("open('/etc/passwd')", "Unknown name 'open'", 0),
    ("9**9**9", "The exponent '9**9' at character 4 is out of range", 3),
    ("10**10**10", "The exponent '10**10'", 4),
    ("x**1000000", "The exponent '1000000' at character 4 is out of range", 3),
    ("x^11", "is out of range", 2),
    ("x**-11", "is out of range", 3),
    ("(((x**10)**10)**10)**2", "combine into the exponent 2000", None),
    ("(" * 1000 + "x" + ")" * 1000, "2001 characters long", 200),
    ("(" * 31 + "x" + ")" * 31, "nested too deeply", 31),
    ("-" * 40 + "x", "nested too deeply", 31),
    ("sin(" * 31 + "x" + ")" * 31, "nested too deeply", 124),
    ("x" * 100_000, "100000 characters long", 200),
    ("+".join(["x"] * 100), "too many parts", 150),
    ("\u0445**2 + y**2", "CYRILLIC SMALL LETTER HA", 0),
    ("x**2 + \u0443**2", "CYRILLIC SMALL LETTER U", 7),
    ("\uff12*x", "FULLWIDTH DIGIT TWO", 0),
    ("x \u2212 y", "MINUS SIGN", 2),
    ("2\u00d7x", "MULTIPLICATION SIGN", 1),
    ("x\u00b2", "SUPERSCRIPT TWO", 1),
    ("\u03c1 + x", "GREEK SMALL LETTER RHO", 0),
    ("x\u00a0+ y", "NO-BREAK SPACE", 1),
    ("x\x00", "U+0000", 1),
    ("", "The formula is empty", 0),
    ("   \t ", "The formula is empty", 0),
    ("2x", "write 2*x instead of 2x", 1),
    ("2 y", "write 2*y instead of 2y", 2),
    ("xy", "write x*y instead of xy", 0),
    ("x(y + 1)", "write x*(...) instead of x(...)", 1),
    ("(x + 1)(y - 1)", "write (...)*(...)", 7),
    ("sin(x)cos(y)", "Missing '*' before 'cos'", 6),
    ("2e", "write 2*e", 1),
    ("x +", "a value is missing after '+' at character 3", 2),
    ("x**", "a value is missing after '**'", 1),
    ("* x", "A value is missing before '*'", 0),
    ("x + * y", "A value is missing between '+' and '*'", 4),
    ("(x + 1", "The '(' at character 1 is never closed", 0),
    ("sin(x", "The '(' at character 4 is never closed", 3),
    ("x + 1)", "The ')' at character 6 has no matching '('", 5),
    ("()", "A value is missing between '(' and ')'", 1),
    ("x, y", "comma at character 2", 1),
    ("(x, y)", "comma at character 3", 2),
    ("min(x,)", "A value is missing between ',' and ')'", 6),
    ("sin x", "needs parentheses", 0),
    ("sin(x, y)", "takes exactly one argument, but 2 were given", 0),
    ("sin()", "but none was given", 0),
    ("min(x)", "takes two or more arguments, but one was given", 0),
    ("max()", "takes two or more arguments", 0),
    ("Sin(x)", "did you mean sin?", 0),
    ("ln(x)", "Use log (the natural logarithm)", 0),
    ("z + 1", "Unknown name 'z'", 0),
    ("x**2 = 1", "'=' at character 6", 5),
    ("1.2.3", "second decimal point", 3),
    ("1e400", "too large", 0),
    ("1e300*10", "The value of '1e300*10'", 0),
    ("1/0", "not defined anywhere in the window", 0),
    ("x + sqrt(-1)", "not defined anywhere in the window", 4),
    ("exp(1000)", "not defined anywhere in the window", 0),
    ("log(-1-x**2)", "not defined anywhere in the window", None),
    ("x/0", "not defined anywhere in the window", None),
    ("sqrt(-1 - x**2 - y**2)", "not defined anywhere in the window", None),
]


@pytest.mark.parametrize(("text", "expected", "position"), HOSTILE_INPUTS)
def test_hostile_input_rejected_quickly(text, expected, position):
    started = time.perf_counter()
    with pytest.raises(FormulaError) as caught:
        parse_formula(text)
    elapsed = time.perf_counter() - started
    assert expected in caught.value.message
    assert caught.value.position == position
    assert str(caught.value) == caught.value.message
    assert elapsed < 0.1


def test_non_text_formula_rejected():
    with pytest.raises(FormulaError, match="must be text"):
        parse_formula(None)


@pytest.mark.parametrize(
    "window",
    [
        (1, 0, 0, 1),
        (0, 1, 1, 1),
        (0, math.inf, 0, 1),
        (0, 1, math.nan, 1),
        (0, 1e-9, 0, 1),
        (-1e7, 1e7, 0, 1),
        (0, 1, 0),
        ("a", 1, 0, 1),
        None,
    ],
)
def test_invalid_window_rejected(window):
    with pytest.raises(FormulaError) as caught:
        parse_formula("x**2 + y**2", window)
    assert caught.value.position is None
    assert "window" in caught.value.message


@pytest.mark.parametrize(
    ("text", "window"),
    [("x**1e1", (-1, 1, -1, 1)), ("2**x", (-1, 1, -1, 1)), ("x**-10", (1, 2, 1, 2))],
)
def test_formula_at_bounds_accepted(text, window):
    assert parse_formula(text, window).title == "Your formula"


def test_nesting_at_depth_limit_accepted():
    depth = LIMITS["depth"]
    assert canonical_formula("(" * depth + "x" + ")" * depth) == "x"


@pytest.mark.parametrize(
    ("forms", "canonical"),
    [
        (
            ("x^2+10*y^2", "x**2 + 10 * y ** 2", "((x)**(2)) + +10*(y^2)"),
            "x**2 + 10*y**2",
        ),
        (("-x^2", "-(x**2)"), "-x**2"),
        (("(-x)^2",), "(-x)**2"),
        (("2^-x^2", "2**(-(x**2))"), "2**-x**2"),
        (("x - (y - 1)",), "x - (y - 1)"),
        (("(x - y) - 1", "x-y-1"), "x - y - 1"),
        (("x / (y*2)",), "x/(y*2)"),
        (("x*-y", "x*(-y)"), "x*-y"),
        (("min( x ,y, 1.50 )",), "min(x, y, 1.5)"),
        (("1e3*x", "1000.0*x"), "1000.0*x"),
    ],
)
def test_canonical_text_normalises_forms(forms, canonical):
    for form in forms:
        assert canonical_formula(form) == canonical
        assert parse_tree(canonical) == parse_tree(form)


def test_same_formula_two_forms_same_surface():
    first = parse_formula("x^2+10*y^2")
    second = parse_formula("x**2 + 10 * y ** 2")
    assert second is first
    assert first.description == "J(x, y) = x**2 + 10*y**2"


def test_same_formula_two_forms_same_trajectories():
    starts = np.array([[-4.0, 3.0], [2.5, -1.0], [0.3, 4.2]])
    typed = ("x^2+10*y^2", "10 * y ** 2 + x ** 2")
    surfaces = [parse_formula(text) for text in typed]
    assert surfaces[0].key != surfaces[1].key
    runs = [
        simulate(surface, "adam", starts=starts, steps=300, lr=0.05)
        for surface in surfaces
    ]
    np.testing.assert_array_equal(runs[0].positions, runs[1].positions)
    np.testing.assert_array_equal(runs[0].losses, runs[1].losses)


def test_adam_reaches_formula_minimum():
    surface = parse_formula("(x-1)**2 + 10*(y+2)**2")
    run = simulate(surface, "adam", steps=3000, lr=0.05)
    assert run.surface == surface.key
    assert run.diverged_at[0] == -1
    np.testing.assert_allclose(run.final_positions[0], [1.0, -2.0], atol=1e-3)
    (lowest,) = surface.minima()
    np.testing.assert_allclose([lowest.x, lowest.y], [1.0, -2.0], atol=0.05)


@pytest.mark.parametrize("text", ["sqrt(x) + y**2", "log(x) + y**2"])
def test_undefined_region_diverges_cleanly(text):
    surface = parse_formula(text)
    rng = np.random.default_rng(3)
    starts = rng.uniform((0.5, -4.0), (4.5, 4.0), size=(12, 2))
    run = simulate(surface, "sgd", starts=starts, steps=400, lr=0.5)
    assert np.isfinite(run.positions).all()
    assert np.isfinite(run.losses).all()
    assert (run.diverged_at > 0).all()
    assert (run.final_positions[:, 0] > 0).all()


def test_surface_fields():
    window = (-3.0, 5.0, -4.0, 2.0)
    text = "(x - 1)^2 + 10*(y + 2)^2"
    surface = parse_formula(text, window)
    assert surface.key.startswith("formula:")
    assert surface.title == "Your formula"
    assert surface.description == "J(x, y) = (x - 1)**2 + 10*(y + 2)**2"
    assert surface.latex.startswith("J(x, y) = ")
    assert r"\left(x - 1\right)^{2}" in surface.latex
    assert surface.window == window
    assert surface.parameters == ()
    assert surface.log_colour

    x, y = surface.default_start
    assert window[0] < x < window[1]
    assert window[2] < y < window[3]
    assert math.hypot(x - 1.0, y + 2.0) > 2.0
    assert np.isfinite(surface.value(x, y, P))
    assert np.isfinite(surface.grad(x, y, P)).all()


def test_minimum_is_lowest_grid_point():
    window = (-2.0, 3.0, -1.0, 4.0)
    text = "sin(3*x)*cos(y) + 0.1*(x^2 + y^2)"
    surface = parse_formula(text, window)
    xs = np.linspace(window[0], window[1], 200)
    ys = np.linspace(window[2], window[3], 200)
    grid_x, grid_y = np.meshgrid(xs, ys)
    values = np.sin(3 * grid_x) * np.cos(grid_y) + 0.1 * (grid_x**2 + grid_y**2)
    row, column = np.unravel_index(np.argmin(values), values.shape)
    (lowest,) = surface.minima()
    assert lowest.label == "lowest grid point"
    assert (lowest.x, lowest.y) == (xs[column], ys[row])
    np.testing.assert_allclose(lowest.value, values.min(), rtol=1e-12)
    assert not surface.log_colour


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x**2 + 10*y**2", True),
        ("exp(x + y)", True),
        ("x + y", False),
        ("2 + sin(x)", False),
    ],
)
def test_log_colour_for_positive_values_spanning_decades(text, expected):
    assert parse_formula(text).log_colour is expected


def test_default_start_avoids_undefined_half():
    surface = parse_formula("sqrt(x) + sqrt(y)")
    x, y = surface.default_start
    assert x > 0
    assert y > 0


def test_one_variable_formula_accepted():
    surface = parse_formula("x**2")
    np.testing.assert_allclose(surface.grad(3.0, -1.0, P), (6.0, 0.0), rtol=0, atol=0)


def test_source_binds_only_value_and_grad():
    surface = parse_formula("min(x, y)**2 + abs(x - 2*y) + sin(x)")
    source = surface.source
    assert source.count('@njit(cache=True, nogil=True, error_model="numpy")') == 2
    module = ast.parse(source)
    assert [node.name for node in module.body] == ["value", "grad"]
    check_source(source)
    # Without the on-disk cache, which needs the code to come from a file.
    uncached = source.replace("cache=True", "cache=False")
    namespace = {}
    exec(f"import math\nfrom numba import njit\n{uncached}", namespace)
    np.testing.assert_allclose(
        namespace["value"](0.4, -0.7, P), surface.value(0.4, -0.7, P), rtol=1e-15
    )


@pytest.mark.parametrize(
    "injected",
    [
        "    import os\n",
        "    __import__('os')\n",
        "    x = math.__dict__\n",
        "    x = open\n",
        "    x = p.__class__\n",
        "    x = [t for t in p]\n",
        "    x = 'text'\n",
    ],
)
def test_check_source_rejects_other_code(injected):
    source = parse_formula("x**2 + y**2").source
    tampered = source.replace(
        "def value(x, y, p):\n", "def value(x, y, p):\n" + injected
    )
    with pytest.raises(ValueError, match="generated code"):
        check_source(tampered)


def test_no_text_reaches_sympy_parser(monkeypatch):
    def reject_text(*args, **kwargs):
        raise AssertionError(f"SymPy's parser received {args!r}")

    # sympify imports parse_expr when it is given text, so this catches both.
    monkeypatch.setattr(sympy.parsing.sympy_parser, "parse_expr", reject_text)
    monkeypatch.setattr(sympy, "sympify", reject_text)
    monkeypatch.setattr(sympy, "parse_expr", reject_text)
    surface = parse_formula("cosh(x/3) - 0.25*y + atan(x*y)", (-2.0, 2.0, -2.0, 2.0))
    assert np.isfinite(surface.value(0.1, 0.2, P))


def test_module_calls_no_evaluator():
    paths = sorted(Path(formula.__file__).parent.glob("*.py"))
    assert Path(codegen.__file__) in paths
    for path in paths:
        tree = ast.parse(path.read_text())
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        attributes = {
            node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
        }
        for banned in ("eval", "exec", "compile", "__import__"):
            assert banned not in names, path.name
        for banned in ("eval", "exec", "sympify", "parse_expr", "lambdify"):
            assert banned not in attributes, path.name


def test_code_size_bound(monkeypatch):
    monkeypatch.setattr(codegen, "LIMITS", {**LIMITS, "code_characters": 200})
    with pytest.raises(FormulaError, match="too complicated"):
        parse_formula("sin(x)*cos(y)*tanh(x*y)*exp(x/9)", (-1.0, 1.0, -1.0, 1.0))


def test_compile_time_bound(monkeypatch):
    monkeypatch.setattr(codegen, "LIMITS", {**LIMITS, "compile_seconds": 0.0})
    with pytest.raises(FormulaError, match="timed out after 0 s"):
        parse_formula("cosh(x/7)*sinh(y/7) + x*y/7", (-1.0, 1.0, -1.0, 1.0))


def test_cache_evicts_oldest_surface():
    text = "0.5*x**2 + y**2"
    first = parse_formula(text, (0.0, 1.0, 0.0, 1.0))
    assert parse_formula(text, (0.0, 1.0, 0.0, 1.0)) is first
    for shift in range(1, LIMITS["cached_surfaces"] + 1):
        parse_formula(text, (float(shift), shift + 1.0, 0.0, 1.0))
    assert parse_formula(text, (0.0, 1.0, 0.0, 1.0)) is not first


def test_concurrent_calls_share_one_surface():
    results = []

    def build():
        results.append(parse_formula("x**4 - 3*x*y + y**2", (-2.0, 2.0, -2.0, 2.0)))

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert all(result is results[0] for result in results)
