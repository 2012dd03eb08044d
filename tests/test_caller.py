"""nbtune's warnings point at the first frame outside nbtune, however nbtune's path is spelled."""
from __future__ import annotations

import os
import warnings

import pytest

from nbtune.caller import PACKAGE, inside_nbtune, user_stacklevel

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
