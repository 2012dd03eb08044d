"""Where nbtune's warnings point: the first frame outside the nbtune package.

A warning about what a person asked for belongs on their line (``nbtune.tune(...)``,
``search.fit(X, y)``), however many of nbtune's own calls lie between. Counting those calls in
each ``stacklevel`` breaks silently when a layer is added; this finds the line instead, as
Python 3.12's ``warnings.warn(skip_file_prefixes=...)`` does (nbtune supports 3.11).
"""
from __future__ import annotations

import os
import sys

PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def inside_nbtune(filename: str) -> bool:
    """Whether a code object's file name lies in nbtune's package. Compared normalised: a module
    imported through a relative ``sys.path`` entry (``sys.path.insert(0, "..")``) keeps a file
    name such as ``/home/me/work/../nbtune/nbtune/tune.py``; names such as ``<tune cell [3]>``
    are no files."""
    return not filename.startswith("<") and os.path.abspath(filename).startswith(PACKAGE)


def user_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn`` in the function that calls this: the warning is
    reported at the first frame outside nbtune (the user's call, or a library's, such as
    scikit-learn's ``cross_val_score`` calling ``SearchCV.fit``), or at the outermost frame
    where nbtune's own code is the whole stack."""
    frame = sys._getframe(1)  # the function that calls warnings.warn: stacklevel 1
    level = 1
    while frame.f_back is not None and inside_nbtune(frame.f_code.co_filename):
        frame = frame.f_back
        level += 1
    return level
