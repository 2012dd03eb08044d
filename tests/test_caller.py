"""nbtune's warnings point at the first frame outside nbtune, however nbtune's path is spelled;
the errors it raises on purpose show, in IPython, without nbtune's frames."""
from __future__ import annotations

import linecache
import os
import re
import sys
import threading
import warnings

import pytest

import nbtune
from nbtune.caller import (PACKAGE, Site, call_site, inside_nbtune, user_facing, user_stacklevel,
                           warn, warnings_at)

SPELLINGS = {
    "as imported": os.path.join(PACKAGE, "fake.py"),
    # a checkout imported through a relative sys.path entry: sys.path.insert(0, "..")
    "through ..": os.path.join(PACKAGE, "..", os.path.basename(PACKAGE.rstrip(os.sep)), "fake.py"),
}


def nbtune_function(filename: str):
    """A function whose code lies in nbtune's package under ``filename`` and warns as nbtune's
    own functions do."""
    ns = {"warnings": warnings, "user_stacklevel": user_stacklevel}
    source = "def warn():\n    warnings.warn('from nbtune', stacklevel=user_stacklevel())\n"
    exec(compile(source, filename, "exec"), ns)
    return ns["warn"]


@pytest.mark.parametrize("filename", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_a_warning_from_inside_nbtune_points_at_the_line_that_called_nbtune(filename):
    warn = nbtune_function(filename)
    with pytest.warns(UserWarning, match="from nbtune") as warned:
        warn()
    assert [w.filename for w in warned] == [__file__]


def test_a_cells_name_is_never_inside_nbtune_whatever_the_working_directory(monkeypatch):
    monkeypatch.chdir(PACKAGE)  # a relative name would resolve into the package from here
    assert not inside_nbtune("<tune cell [3]>")
    assert inside_nbtune(SPELLINGS["through .."]) and not inside_nbtune(__file__)


def test_a_thread_warns_at_the_site_it_was_handed_and_only_that_thread():
    ns = {"warn": warn}
    exec(compile("def w(text):\n    warn(text)\n", SPELLINGS["as imported"], "exec"), ns)
    site, noted = call_site(), sys._getframe().f_lineno  # as tune() notes its caller's line

    def background() -> None:  # a thread of nbtune's own: no frame of the caller's on its stack
        with warnings_at(site):
            ns["w"]("from the thread")

    with pytest.warns(UserWarning) as warned:
        thread = threading.Thread(target=background)
        thread.start()
        thread.join()
        ns["w"]("from here")
        here = sys._getframe().f_lineno - 1
    at = {str(w.message): (w.filename, w.lineno) for w in warned}
    assert at == {"from the thread": (__file__, noted), "from here": (__file__, here)}


def test_a_site_whose_globals_name_no_module_still_warns():
    site = Site("<tune cell [3]>", 1, {"call": print})  # %%tune's line: globals with no __name__
    with pytest.warns(UserWarning, match="judged none") as warned, warnings_at(site):
        warn("judged none")
    assert [(w.filename, w.lineno) for w in warned] == [("<tune cell [3]>", 1)]


def shown(shell, capsys, cell: str) -> str:
    """What IPython shows for ``cell``, colours taken out."""
    shell.run_cell(cell)
    return re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)


@pytest.mark.parametrize("cell, line, message", [
    ("import nbtune\nspace = {'lr': nbtune.loguniform(0, 1)}\n",
     "----> 2 space = {'lr': nbtune.loguniform(0, 1)}",
     "ValueError: loguniform needs 0 < lo < hi, got lo=0, hi=1"),
    ("import nbtune\nnbtune.tune(print, {'x': nbtune.uniform(0, 1)}, metric='x', "
     "scheduler='ashaa', storage=None)\n",  # raised two calls below tune()
     "----> 2 nbtune.tune(print",
     "ValueError: unknown scheduler 'ashaa' (did you mean 'asha'?)"),
    ("import nbtune\nnbtune.report(epoch=1, acc=0.5)\n",  # trying a cell's line on its own
     "----> 2 nbtune.report(epoch=1, acc=0.5)",
     "RuntimeError: report() was called outside a trial"),
    ("import nbtune\nnbtune.Study('s', nbtune.Space({}), 'v', 'min').plot.history(size=3)\n",
     "----> 2 nbtune.Study('s', nbtune.Space({}), 'v', 'min').plot.history(size=3)",
     "TypeError: StudyPlots.history() got an unexpected keyword argument 'size'"),
    ("import nbtune\nnbtune.Tuner\n", "----> 2 nbtune.Tuner",
     "AttributeError: module 'nbtune' has no attribute 'Tuner': that is Ray Tune's"),
    ("import nbtune\nnbtune.Study('s', nbtune.Space({}), 'v', 'min').get_best_result()\n",
     "----> 2 nbtune.Study('s', nbtune.Space({}), 'v', 'min').get_best_result()",
     "AttributeError: 'Study' object has no attribute 'get_best_result': that is Ray Tune's"),
    ("import nbtune\nnbtune.Space({'m': {'lr': nbtune.uniform(0, 1)}})\n",
     "----> 2 nbtune.Space({'m': {'lr': nbtune.uniform(0, 1)}})",
     "ValueError: hyperparameter 'm' is a dict of domains"),
    ("import nbtune\nnbtune.Space({'m': object()})\n",  # through nbtune's `with about(name)`
     "----> 2 nbtune.Space({'m': object()})",
     "ValueError: hyperparameter 'm': fixed values must be JSON-serialisable"),
    ("import nbtune\nnbtune.Study('s', nbtune.Space({}), 'v', 'min').best_config\n",
     "----> 2 nbtune.Study('s', nbtune.Space({}), 'v', 'min').best_config",
     "ValueError: no best_config: study 's' has no completed trial"),
    ("import nbtune\nnbtune.run(print, config={})\n", "----> 2 nbtune.run(print, config={})",
     "TypeError: nbtune.run is nbtune's package of the study loop, not a function"),
], ids=["space primitive", "through tune", "report outside a trial", "an argument not taken",
        "another tool's module name", "another tool's study name", "a nested space",
        "through a with block", "a study's property", "Ray Tune 1's tune.run"])
def test_an_error_nbtune_raises_on_purpose_shows_the_cells_line_and_the_message(
        ip, capsys, cell, line, message):
    out = shown(ip, capsys, cell)
    assert line in out and message in out
    assert PACKAGE not in out  # no frame of nbtune's own


def nbtune_entry(monkeypatch, body: str):
    """A :func:`user_facing` entry point whose code lies in nbtune's package, its source known
    to linecache as an imported module's is."""
    filename = os.path.join(PACKAGE, "fake_entry.py")
    source = f"def entry(arg):\n    {body}\n"
    monkeypatch.setitem(linecache.cache, filename,
                        (len(source), None, source.splitlines(True), filename))
    ns: dict = {}
    exec(compile(source, filename, "exec"), ns)
    return user_facing(ns["entry"])


def users_code():
    raise ValueError("the user's own mistake")


@pytest.mark.parametrize("body, arg, on_purpose", [
    ("raise ValueError(f'no such thing: {arg!r}')", "x", True),
    ("return {}[arg]", "x", False),  # a bug: its frames are what whoever mends it needs
    ("return arg()", users_code, False),  # the user's code: Python's traceback, as ever
], ids=["raise of nbtune's", "bug in nbtune", "user's code through nbtune"])
def test_only_an_error_nbtune_raises_on_purpose_leaves_nbtunes_frames_out(
        monkeypatch, ip, body, arg, on_purpose):
    entry = nbtune_entry(monkeypatch, body)
    with pytest.raises(Exception) as caught:
        entry(arg)
    assert hasattr(caught.value, "_render_traceback_") == on_purpose
    if on_purpose:  # the frames IPython is given: the test's, none of nbtune's
        text = "".join(caught.value._render_traceback_())
        assert __file__ in text and PACKAGE not in text and "no such thing: 'x'" in text
