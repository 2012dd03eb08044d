"""Parsing a %%tune cell: the space block, safe literal evaluation, errors, names, round trips."""
from __future__ import annotations

import sys
import time
import traceback

import pytest

from nbtune import space as S
from nbtune.notebook.cell import (CellError, ParsedCell, parse_cell, replace_space_lines,
                                  space_to_lines)
from nbtune.notebook.cell_checks import unread_typo

EXAMPLE = """\
lr      = loguniform(1e-4, 1e-1)
alpha   = loguniform(1e-6, 1e-2)
hidden  = choice(32, 64, 128)

clf = MLPClassifier(hidden_layer_sizes=(hidden,), learning_rate_init=lr, alpha=alpha, max_iter=50)
clf.fit(X_train, y_train)
accuracy = clf.score(X_val, y_val)
"""


def one(expr: str) -> S.Domain:
    """The domain of `x = <expr>` in a cell."""
    return parse_cell(f"x = {expr}\ny = x\n").space["x"]


def error(source: str) -> str:
    """The CellError message parsing `source` raises (checked to be one line)."""
    with pytest.raises(CellError) as info:
        parse_cell(source)
    msg = str(info.value)
    assert isinstance(info.value, ValueError) and "\n" not in msg and msg
    return msg


# -- the example and the shape of the space block ------------------------------------------------

def test_example_cell():
    p = parse_cell(EXAMPLE)
    assert isinstance(p, ParsedCell)
    assert p.space == S.Space({"lr": S.loguniform(1e-4, 1e-1), "alpha": S.loguniform(1e-6, 1e-2),
                               "hidden": S.choice(32, 64, 128)})
    assert p.names == ["lr", "alpha", "hidden"]
    assert p.space_lines == (1, 3)
    assert p.space_source == EXAMPLE.splitlines()[:3]
    assert p.free_names == ["MLPClassifier", "X_train", "X_val", "y_train", "y_val"]
    assert p.assigned == ["accuracy", "clf"]
    assert p.metric_assigned("accuracy") and not p.metric_assigned("loss")
    body = p.body.split("\n")
    assert body[:4] == ["", "", "", ""] and body[4:] == EXAMPLE.split("\n")[4:]


def test_comments_and_blank_lines_inside_the_space_block():
    src = ("# the search space\nlr = loguniform(1e-4, 1e-1)  # learning rate\n\n"
           "# regularisation\nalpha = uniform(0, 1)\nloss = lr * alpha\n")
    p = parse_cell(src)
    assert p.names == ["lr", "alpha"]
    assert p.space_lines == (2, 5)
    assert p.space_source == src.splitlines()[1:5]
    assert p.body.split("\n")[:6] == ["# the search space", "", "", "", "", "loss = lr * alpha"]


def test_qualified_primitives():
    p = parse_cell("lr = nbtune.uniform(0, 1)\nact = nbtune.space.choice('a', 'b')\nx = lr\n")
    assert p.space == S.Space({"lr": S.uniform(0, 1), "act": S.choice("a", "b")})
    # other modules' uniform is trial code, not space
    assert "no search space" in error("x = np.random.uniform(0, 1)\ny = x\n")


def test_a_hyperparameter_never_read_beside_its_typo_read_from_the_notebook_is_refused():
    """`learnig_rate = loguniform(...)` beside a body reading the notebook's `learning_rate`:
    every trial trained with the notebook's 0.05, and the best config named a value no trial
    used (first-day test, round 46). Only a plain value of the notebook is such a typo's:
    `rep` beside the module `re`, `fold` beside a list `folds` were refused (check round 47)."""
    import re as re_module

    cell = ("learnig_rate = loguniform(0.01, 0.3)\nnum_leaves = randint(8, 128)\n"
            "params = dict(learning_rate=learning_rate, num_leaves=num_leaves)\n"
            "auc = score(params)\n")
    parsed = parse_cell(cell)
    assert parsed.unread == {"learnig_rate": 1}
    assert unread_typo(parsed, {"learning_rate": 0.05, "score": len}) == (
        "line 1: hyperparameter 'learnig_rate' is never read; the trial code reads "
        "'learning_rate' from the notebook instead, so every trial would train with the "
        "notebook's learning_rate = 0.05: did you mean learning_rate = loguniform(0.01, 0.3)?")
    assert unread_typo(parse_cell("lr_decy = uniform(0.5, 1)\nacc = fit(lr_decay)\n"),
                       {"lr_decay": 0.9, "fit": len}).startswith(
        "line 1: hyperparameter 'lr_decy' is never read")
    # notebook 01's --apply leaves `lr` in the notebook: `lrr` ran in silence (round 62)
    assert unread_typo(parse_cell("lrr = loguniform(1e-4, 1e-1)\nacc = fit(lr)\n"),
                       {"lr": 0.0017, "fit": len}).startswith(
        "line 1: hyperparameter 'lrr' is never read; the trial code reads 'lr' from the notebook")
    # a hyperparameter nothing reads beside a module, a function or a data set of the notebook
    # (a repeat of each config), or beside nothing near, is no typo
    for cell, namespace in (
            ("rep = grid(1, 2)\nloss = len(re.findall('a', 'aa'))\n", {"re": re_module}),
            ("run = grid(1, 2, 3)\nloss = runs[0]\n", {"runs": [1.0]}),
            ("fold = grid(0, 1, 2)\nloss = len(folds)\n", {"folds": [(1, 2)]}),
            ("trial = grid(0, 1)\nloss = trials()\n", {"trials": list}),
            ("repeat = grid(1, 2, 3)\nlr = uniform(0, 1)\nacc = lr\n", {}),
            # more than a typo away from a number of the notebook's (check round 48)
            ("repeat = grid(1, 2, 3)\nloss = n_repeats\n", {"n_repeats": 3}),
            ("iteration = grid(1, 2)\nloss = iterations\n", {"iterations": 50}),
            ("alpha = loguniform(1e-3, 1)\nloss = alpha0\n", {"alpha0": 1.0}),
            ("min_count = choice(1, 5)\nloss = max_count\n", {"max_count": 100}),
            # read as pandas' @name, or a fixed value that gives max_t
            ("thr = uniform(0, 1)\nloss = len(df.query('p > @thr')) + tht\n",
             {"tht": 0.5, "df": None}),
            ("epochs = fixed(9)\nfor epoch in range(epocha):\n    report(epoch=epoch)\n",
             {"epocha": 9}),
            # a value of another kind than the line draws (check round 49)
            ("trial = grid(0, 1)\nloss = len(trail)\n", {"trail": "A"}),
            ("dare = uniform(0.1, 0.5)\nloss = len(date)\n", {"date": "2026-12-06"})):
        assert unread_typo(parse_cell(cell), namespace) is None, cell
    # read by locals()[...], or bound in the body: not unread
    assert parse_cell("learnig_rate = uniform(0, 1)\n"
                      "acc = locals()['learnig_rate'] + learning_rate\n").unread == {}
    assert parse_cell("learnig_rate = uniform(0, 1)\nlearning_rate = 0.1\n"
                      "acc = learning_rate\n").unread == {"learnig_rate": 1}


def test_a_typo_of_a_primitive_is_trial_code():
    p = parse_cell("lr = loguniform(1e-4, 0.1)\nmom = unifrom(0, 1)\nx = mom\n")
    assert p.names == ["lr"] and "unifrom" in p.free_names
    assert "no search space" in error("lr = logunifrom(1e-4, 1e-1)\nx = lr\n")


def test_a_primitive_name_the_body_imports_is_its_own():
    p = parse_cell("lr = uniform(0, 1)\nfrom random import uniform\nnoise = uniform(0, 1)\n")
    assert p.names == ["lr"] and "noise" in p.assigned
    p = parse_cell("from random import uniform\nnoise = uniform(0, 1)\n", need_space=False)
    assert p.names == [] and "noise" in p.assigned


def test_imports_may_come_before_the_space_and_stay_in_the_body():
    source = ("import math\nfrom time import sleep as nap\nlr = loguniform(1e-4, 1e-1)\n"
              "mom = uniform(0, 1)\nnap(0)\nloss = math.log(lr) * mom\n")
    p = parse_cell(source)
    assert p.names == ["lr", "mom"] and p.space_lines == (3, 4)
    assert p.body.splitlines() == ["import math", "from time import sleep as nap", "", "",
                                   "nap(0)", "loss = math.log(lr) * mom"]
    assert {"math", "nap", "loss"} <= set(p.assigned) and p.free_names == []
    new = S.Space({"lr": S.loguniform(1e-3, 1e-1), "mom": S.uniform(0, 1)})
    out = replace_space_lines(source, new)
    assert out.splitlines() == ["import math", "from time import sleep as nap",
                                "lr  = loguniform(0.001, 0.1)", "mom = uniform(0.0, 1.0)", "nap(0)",
                                "loss = math.log(lr) * mom"]
    assert parse_cell(out).space == new


@pytest.mark.parametrize("expr, expected", [
    ("uniform(-1, 3)", S.uniform(-1, 3)),
    ("uniform(-2.5e-3, 1E2)", S.uniform(-0.0025, 100.0)),
    ("loguniform(1e-4, 1e-1)", S.loguniform(0.0001, 0.1)),
    ("quniform(0, 100, 5)", S.quniform(0, 100, 5)),
    ("quniform(0.0, 1.0, 0.1)", S.quniform(0.0, 1.0, 0.1)),
    ("randint(-5, 5)", S.randint(-5, 5)),
    ("lograndint(1, 2**10)", S.lograndint(1, 1024)),
    ("choice('relu', \"tanh\")", S.choice("relu", "tanh")),
    ("choice([1, 2, 3])", S.choice(1, 2, 3)),
    ("choice((64,), (64, 64))", S.choice([64], [64, 64])),
    ("choice(None, True, False)", S.choice(None, True, False)),
    ("choice(1, 2, weights=[1, 3])", S.choice(1, 2, weights=[1, 3])),
    ("choice({'a': 1}, {'a': -2})", S.choice({"a": 1}, {"a": -2})),
    ("grid(0.1, 0.2, 0.5)", S.grid(0.1, 0.2, 0.5)),
    ("linspace(0, 1, 5)", S.linspace(0.0, 1.0, 5)),
    ("linspace('0:1:5')", S.linspace(0.0, 1.0, 5)),
    ("logspace(0.01, 0.1, 5)", S.logspace(0.01, 0.1, 5)),
    ("logspace('0.01:0.1:5')", S.logspace(0.01, 0.1, 5)),
    ("fixed('adam')", S.fixed("adam")),
    ("fixed({'a': [1, 2]})", S.fixed({"a": [1, 2]})),
    ("fixed(-7)", S.fixed(-7)),
    ("uniform(lo=0, hi=1)", S.uniform(0, 1)),
    # arithmetic on literals
    ("uniform(1/3, 2*3 - 1)", S.uniform(1 / 3, 5)),
    ("loguniform(10**-4, 0.5**2)", S.loguniform(1e-4, 0.25)),
    ("randint(+1, 7//2)", S.randint(1, 3)),
    ("uniform(-(1 + 1), 5 % 3)", S.uniform(-2, 2)),
])
def test_every_primitive_with_literal_arguments(expr, expected):
    got = one(expr)
    assert got == expected and type(got) is type(expected)


def test_integer_arguments_stay_integers():
    assert type(one("lograndint(1, 2**10)").hi) is int
    assert one("quniform(0, 100, 5)").integer and not one("quniform(0, 1.0, 0.5)").integer
    assert one("choice(1, 2, weights=[1, 3])").weights == [0.25, 0.75]


# -- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("source, expected", [
    ("lr = uniform(0, 1)\n\nx = = 2\n", "line 3: invalid Python"),
    ("lr = uniform(0, 1)\nacc = lr * 2\nreturn acc\n",  # a function's habit, caught up front
     "line 3: 'return' outside a function: a %%tune cell's body runs as a cell, not as a "
     "function; give the metric by its name instead"),
    ("lr = uniform(0, 1)\nfor i in range(3):\n    yield i\n", "line 3: invalid Python: "
     "'yield' outside function"),
    ("lr = uniform(0, 1)\n%time x = 1\n", "line 2: IPython magics"),
    ("lr = uniform(0, 1)\nx = 1\n!ls -l\n", "line 3: IPython magics"),
    ("lr = uniform(0, 1)\nfiles = !ls\n", "line 2: IPython magics"),
    ("lr = uniform(0, 1)\nfor i in range(2):\n    %time f(i)\n", "line 3: IPython magics"),
    ("a, b = uniform(0, 1)\nx = 1\n", "line 1: space line 'a, b = uniform(...)' must assign one"),
    ("lr = uniform(0, 1)\nx.y = uniform(0, 1)\nz = 1\n", "line 2: space line 'x.y = uniform"),
    ("a = b = uniform(0, 1)\nx = 1\n", "line 1: space line 'a = b = uniform(...)'"),
    ("lr = loguniform(1e-4, 1e-1)\nx = lr\nmom = uniform(0, 1)\n",
     ("line 3: space line 'mom = uniform(...)' comes after the trial code started (line 2); "
      "move it to the top of the cell")),
    ("import numpy as np\nx0 = np.ones(3)\nlr = nbtune.loguniform(1e-4, 1e-1)\nx = lr\n",
     "line 3: space line 'lr = nbtune.loguniform(...)' comes after the trial code started "
     "(line 2)"),
    ("import nbtune\nlr = uniform(0, 1)\nx = 1\nmom = uniform(0, 1)\n",
     "line 4: space line 'mom = uniform(...)' comes after the trial code started (line 3)"),
    ("import time; lr = uniform(0, 1)\nx = 1\n", "line 1: put each hyperparameter on a line of "
     "its own"),
    ("lr = loguniform(lo, 1e-1)\nx = 1\n",
     "line 1: the arguments of loguniform(...) must be literal values"),
    ("a = uniform(0, 1)\nlr = uniform(0, math.pi)\nx = 1\n", "line 2: the arguments of uniform"),
    ("lr = uniform(0, f())\nx = 1\n", "not `f()`"),
    ("act = choice(*options)\nx = 1\n", "line 1: the arguments of choice(...)"),
    ("act = choice(1, 2, weights=w)\nx = 1\n", "not `w`"),
    ("act = choice(**kw)\nx = 1\n", "line 1: the arguments of choice(...)"),
    ("act = choice('a' * 3)\nx = 1\n", "line 1: the arguments of choice(...)"),
    ("lr = uniform(0, __import__('os').getcwd())\nx = 1\n", "must be literal values"),
    ("lr = loguniform(0, 1)\nx = 1\n", "line 1: hyperparameter 'lr': loguniform needs 0 < lo < hi"),
    ("a = uniform(0, 1)\n\nlr = uniform(2, 1)\nx = 1\n", "line 3: hyperparameter 'lr': uniform"),
    ("act = choice(1, 2, weights=[1])\nx = 1\n", "line 1: hyperparameter 'act': choice has 2"),
    ("lr = uniform(0)\nx = 1\n", "line 1: hyperparameter 'lr': bad arguments for uniform(...)"),
    ("act = choice(1, 2, weight=[1, 2])\nx = 1\n", "bad arguments for choice(...)"),
    ("lr = uniform(0, 1/0)\nx = 1\n", "line 1: hyperparameter 'lr': division by zero"),
    ("n = randint(1, 9**9**9)\nx = 1\n", "line 1: hyperparameter 'n': 9 ** 9 ** 9 is too large"),
    ("lr = uniform(0, 2**5000)\nx = 1\n", "line 1: hyperparameter 'lr': int too large"),
    ("lr = uniform(0, 1)\nlr = uniform(0, 2)\nx = 1\n",
     "line 2: hyperparameter 'lr' is declared twice (first on line 1)"),
    ("x = 1\ny = 2\n", ("the cell declares no search space: start it with lines like "
                        "`lr = loguniform(1e-4, 1e-1)`")),
    ("", "declares no search space"),
    # scikit-learn's param_grid habit (first-day test, round 41: "declares no search space")
    ("C = [0.01, 0.1, 1, 10]\nx = C\n", "line 1: C = [0.01, 0.1, 1, 10] is a plain list: every "
     "trial would get all of it, and the cell declares no search space; to search over its "
     "values write C = choice(0.01, 0.1, 1, 10)"),
    ("import numpy as np\nC = np.logspace(-3, 2, 6)\nx = C\n", "line 2: C = np.logspace(-3, 2, "
     "6) is a plain array: every trial would get all of it, and the cell declares no search "
     "space; to search over its values write C = logspace(0.001, 100, 6)"),
    ("p = ('l1', 'l2')\nx = p\n", "write p = choice('l1', 'l2')"),
    ("lr = uniform(0, 1)\n\n# nothing else\n", "no trial code after the search space"),
    ("lr = uniform(0, 1); x = lr\n", "line 1: put the trial code on a line of its own"),
    ("a = uniform(0, 1); b = uniform(0, 1)\nx = 1\n", "line 1: put each hyperparameter on a line"),
])
def test_cell_errors_name_the_line_and_the_fix(source, expected):
    assert expected in error(source)


def test_huge_arithmetic_is_refused_quickly():
    start = time.perf_counter()
    error("n = randint(1, 2**10**8)\nx = 1\n")
    assert "is too large" in error("n = randint(1, (2**5000) * (2**5000) * (2**5000))\nx = 1\n")
    assert time.perf_counter() - start < 1


# -- the trial body -----------------------------------------------------------------------------

def line_of_raise(body: str, namespace: dict) -> int:
    try:
        exec(compile(body, "<cell>", "exec"), namespace)
    except ValueError:
        return traceback.extract_tb(sys.exc_info()[2])[-1].lineno
    raise AssertionError("the body did not raise")


def test_body_keeps_the_cell_line_numbers():
    src = "lr = uniform(0, 1)\n# comment\nmom = uniform(0, 1)\n\nx = lr\nraise ValueError('boom')\n"
    p = parse_cell(src)
    assert p.body.splitlines()[5] == "raise ValueError('boom')"
    assert line_of_raise(p.body, {"lr": 0.5, "mom": 0.1}) == 6
    assert "uniform" not in p.body


def test_a_tune_header_line_counts_as_line_one():
    src = "%%tune --trials 3 --metric x\nlr = uniform(0, 1)\nx = lr\nraise ValueError('boom')"
    p = parse_cell(src)
    assert p.space_lines == (2, 2) and p.names == ["lr"]
    assert line_of_raise(p.body, {"lr": 0.5}) == 4
    assert "line 3: invalid Python" in error("%%tune\nlr = uniform(0, 1)\nx = = 1\n")
    assert "line 1: IPython magics" in error("%%time\nlr = uniform(0, 1)\nx = 1\n")


def test_crlf_line_endings():
    p = parse_cell("lr = uniform(0, 1)\r\nmom = uniform(0, 1)\r\nraise ValueError(lr)\r\n")
    assert p.space_lines == (1, 2) and p.body == "\r\n\r\nraise ValueError(lr)\r\n"
    assert line_of_raise(p.body, {"lr": 0.5}) == 3


# -- names --------------------------------------------------------------------------------------

NAMES = """\
lr = loguniform(1e-4, 1e-1)
hidden = choice(32, 64)
import math
from sklearn import svm as sv
def score(m):
    return metric_fn(m, X_val) + lr
model = Model(hidden)
vals = [i * scale for i in range(n)]
total = sum(v for v in vals if v > cutoff)
table = {k: k2 for k, k2 in pairs}
f = lambda q, r=default_r: q + offset
report(loss=1.0)
checkpoint(model)
for epoch in range(3):
    loss = train(model, epoch)
with open(path) as fh:
    data = fh.read()
try:
    pass
except KeyError as err:
    print(err)
class C(Base):
    attr = 1
    def m(self):
        return attr
def setup():
    global CACHE
    CACHE = {}
def outer():
    z = 1
    def inner():
        return z + zz
    return inner
print(len(data), math.pi, sv, CACHE, later)
if (w := 3) and [y := 2 for _ in range(1)]:
    pass
later = 1
"""


def test_free_names_are_the_notebook_globals_the_body_reads():
    p = parse_cell(NAMES)
    assert p.free_names == sorted([
        "metric_fn", "X_val", "Model", "scale", "n", "cutoff", "pairs", "default_r", "offset",
        "train", "path", "Base", "attr", "zz"])


def test_assigned_are_the_names_the_body_binds_at_module_level():
    p = parse_cell(NAMES)
    assert p.assigned == sorted([
        "math", "sv", "score", "model", "vals", "total", "table", "f", "epoch", "loss", "fh",
        "data", "err", "C", "setup", "CACHE", "outer", "w", "y", "later"])
    assert p.metric_assigned("loss") and p.metric_assigned("CACHE")
    assert not p.metric_assigned("attr") and not p.metric_assigned("z")


def test_a_metric_set_only_inside_a_function_is_not_assigned():
    p = parse_cell("lr = uniform(0, 1)\ndef run():\n    accuracy = lr\nrun()\n")
    assert not p.metric_assigned("accuracy") and p.free_names == []


def test_hyperparameters_builtins_and_injected_names_are_not_free():
    p = parse_cell("lr = uniform(0, 1)\nfor i in range(len(xs)):\n    report(loss=lr)\n"
                   "checkpoint(i)\n")
    assert p.free_names == ["xs"]


def test_match_captures_are_bound():
    p = parse_cell("lr = uniform(0, 1)\nmatch cfg:\n    case {'a': a, **rest}:\n        pass\n"
                   "    case [b, *more]:\n        pass\n    case Point(x=c) as d:\n        pass\n")
    assert p.free_names == ["Point", "cfg"]
    assert {"a", "rest", "b", "more", "c", "d"} <= set(p.assigned)


# -- rendering and rewriting --------------------------------------------------------------------

EVERY_PRIMITIVE = [
    S.uniform(-1, 3), S.uniform(-2.5e-3, 1e20), S.loguniform(1e-4, 1e-1), S.quniform(0, 100, 5),
    S.quniform(0.0, 1.0, 0.1), S.randint(-5, 6), S.lograndint(1, 1000),
    S.choice("relu", "it's \"quoted\""), S.choice(1, 2, 3, weights=[1, 1, 2]),
    S.choice([64], [64, 64]), S.choice([[1, 2]]), S.choice([[1, 2]], weights=[3]),
    S.grid([[0.5, 1]]), S.grid(0.1, 0.2, 0.5), S.linspace("0:1:5"), S.linspace(-1, 1, 3),
    S.logspace("0.01:0.1:5"), S.logspace(1e-5, 1e-1, 5), S.fixed("adam"),
    S.fixed({"a": [1, 2]}), S.fixed(None), S.fixed(True), S.fixed([1, 2]),
    S.choice(None, True, False), S.choice({"a": 1}, {"b": -2.0}),
]


@pytest.mark.parametrize("dom", EVERY_PRIMITIVE, ids=repr)
def test_space_to_lines_round_trips(dom):
    s = S.Space({"x": dom})
    back = parse_cell("\n".join(space_to_lines(s)) + "\nx = 1").space
    assert back == s
    assert type(back["x"]) is type(dom)
    assert getattr(back["x"], "integer", None) == getattr(dom, "integer", None)
    assert back["x"].values == dom.values


def test_space_to_lines_pads_names():
    s = S.Space({"lr": S.loguniform(1e-4, 1e-1), "hidden": S.choice(32, 64)})
    assert space_to_lines(s) == ["lr     = loguniform(0.0001, 0.1)", "hidden = choice(32, 64)"]
    assert space_to_lines(s, widths=False)[0] == "lr = loguniform(0.0001, 0.1)"
    big = S.Space({f"p{i}": d for i, d in enumerate(EVERY_PRIMITIVE)})
    assert parse_cell("\n".join(space_to_lines(big)) + "\nx = 1\n").space == big
    with pytest.raises(ValueError, match="not a Python name"):
        space_to_lines(S.Space({"a.b": S.uniform(0, 1)}))


def body_after(source: str, line: int) -> str:
    return "".join(source.splitlines(keepends=True)[line:])


def test_replace_space_lines_in_place_keeps_comments_and_the_body():
    src = ("%%tune --trials 4\n# space\nlr = loguniform(1e-4, 1e-1)  # learning rate\n\n"
           "# width\nhidden = choice(\n    32, 64)\nclf = Model(lr, hidden)  # body\n"
           "accuracy = clf.score()\n")
    new = S.Space({"lr": S.loguniform(1e-5, 1e-2), "hidden": S.choice(16, 32, 64)})
    out = replace_space_lines(src, new)
    assert out == ("%%tune --trials 4\n# space\nlr     = loguniform(1e-05, 0.01)  # learning rate\n"
                   "\n# width\nhidden = choice(16, 32, 64)\n" + body_after(src, 7))
    assert body_after(out, 6) == body_after(src, 7)
    assert parse_cell(out).space == new


def test_replace_space_lines_with_other_names_replaces_the_block():
    src = ("# top\nlr = uniform(0, 1)\n# gone\nmom = uniform(0, 1)\r\n"
           "x = lr  \r\n\r\ny = 2 if x else 3\n")
    new = S.Space({"mom": S.uniform(0.5, 0.9), "decay": S.fixed(0.1)})
    out = replace_space_lines(src, new)
    assert out == "# top\nmom   = uniform(0.5, 0.9)\r\ndecay = fixed(0.1)\r\n" + body_after(src, 4)
    assert out.endswith("x = lr  \r\n\r\ny = 2 if x else 3\n")
    assert parse_cell(out).space == new


def test_replace_space_lines_adds_a_block_where_there_is_none():
    new = S.Space({"lr": S.uniform(0, 1)})
    assert replace_space_lines("x = 1\n", new) == "lr = uniform(0.0, 1.0)\nx = 1\n"
    out = replace_space_lines("%%tune --trials 2\nx = lr\n", new)
    assert out == "%%tune --trials 2\nlr = uniform(0.0, 1.0)\nx = lr\n"
    assert parse_cell(out).space == new


def test_replace_space_lines_round_trips_the_example():
    p = parse_cell(EXAMPLE)
    out = replace_space_lines(EXAMPLE, p.space)
    assert parse_cell(out).space == p.space
    assert body_after(out, 3) == body_after(EXAMPLE, 3)


def test_statements_keep_each_space_line_as_written():
    src = ("%%tune\nlr  = loguniform(1e-4, 1e-1)  # rate\nw = choice(\r\n    'a', 'é')\n"
           "g = linspace('0:1:5')\nx = lr\n")
    p = parse_cell(src)
    assert p.statements == ["lr  = loguniform(1e-4, 1e-1)", "w = choice(\r\n    'a', 'é')",
                            "g = linspace('0:1:5')"]


def test_a_body_alone_parses_when_the_space_comes_from_elsewhere():
    p = parse_cell("\nloss = lr * 2\n", need_space=False)
    assert p.names == [] and len(p.space) == 0 and p.space_lines == (0, 0)
    assert p.free_names == ["lr"] and p.body == "\nloss = lr * 2\n" and p.statements == []
    assert "declares no search space" in error("\nloss = lr * 2\n")


def test_replace_space_lines_takes_lines_as_rendered_elsewhere():
    src = "%%tune\nlr = uniform(0, 1)  # keep\nk = choice(1, 2)\nx = lr\n"
    space = S.Space({"lr": S.uniform(0, 1), "k": S.choice(1, 2, 3)})
    out = replace_space_lines(src, space, ["lr=uniform(0,1)", "k = choice(1, 2, 3)"])
    assert out == "%%tune\nlr=uniform(0,1)  # keep\nk = choice(1, 2, 3)\nx = lr\n"


@pytest.mark.parametrize("body, found", [
    ("for epoch in range(1, 10):\n    report(epoch=epoch, acc=1)", 9),
    ("for e in range(10):\n    report(epoch=e + 1, acc=1)", 10),
    ("for e in range(0, 30, 3):\n    report({'epoch': e, 'acc': 1})", 27),
    ("for f in range(2):\n    for e in range(1, 4):\n        report(epoch=e, acc=f)", 3),
    # the bounds are not literals, or a report of it is not the loop's count: no guess
    ("for e in range(1, n + 1):\n    report(epoch=e, acc=1)", None),
    ("for e in range(3):\n    report(epoch=e, acc=1)\nreport(epoch=10, acc=1)", None),
    ("def fit(e):\n    report(epoch=e, acc=1)\nfor e in range(3):\n    fit(e)", None),
    ("for e in range(3):\n    report(epoch=e * 2, acc=1)", None),
    ("for e in range(3):\n    report(epoch=e, acc=1, **extra)", None),
    ("for e in range(0):\n    report(epoch=e, acc=1)", None),
    ("for e in range(3):\n    report(step=e, acc=1)", None),
])
def test_the_largest_epoch_is_read_from_a_loop_over_literal_bounds(body, found):
    from nbtune.notebook.scopes import loop_max_t

    assert loop_max_t(body, "epoch") == found
