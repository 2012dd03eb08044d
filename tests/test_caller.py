"""nbtune's warnings point at the first frame outside nbtune, however nbtune's path is spelled."""
from __future__ import annotations

import os
import sys
import threading
import warnings

import pytest

from nbtune.caller import (PACKAGE, Site, call_site, inside_nbtune, user_stacklevel, warn,
                           warnings_at)

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
