"""The table of a study's trials: a pandas DataFrame that shows its floats readably."""
from __future__ import annotations

import pandas as pd

FLOAT_FORMAT = "{:.6g}".format
"""Six significant digits: a log-scale value reads ``4.1e-06`` where pandas writes ``0.000004``."""


class TrialFrame(pd.DataFrame):
    """``study.to_dataframe()``: a DataFrame whose text and HTML show floats with
    :data:`FLOAT_FORMAT` (what it derives, ``sort_values`` or ``head``, shows them so too)."""

    @property
    def _constructor(self):
        return TrialFrame

    def __reduce__(self):
        """Pickled as a plain DataFrame: a colleague without nbtune could not read the pickle
        (``No module named 'nbtune.frame'``: first-day test, round 26); only the float format
        of its display is nbtune's."""
        return pd.DataFrame(self).__reduce__()

    def __repr__(self) -> str:
        with pd.option_context("display.float_format", FLOAT_FORMAT):
            return super().__repr__()

    def _repr_html_(self) -> str | None:
        with pd.option_context("display.float_format", FLOAT_FORMAT):
            return super()._repr_html_()

    def to_string(self, *args, **kwargs) -> str:
        """As :meth:`pandas.DataFrame.to_string`, floats written with :data:`FLOAT_FORMAT`."""
        kwargs.setdefault("float_format", FLOAT_FORMAT)
        return super().to_string(*args, **kwargs)

    def to_latex(self, *args, **kwargs) -> str | None:
        """As :meth:`pandas.DataFrame.to_latex`, floats written with :data:`FLOAT_FORMAT` as the
        notebook shows them (a paper's table read ``0.000007`` for ``7.47e-06``: first-day
        test, round 38)."""
        kwargs.setdefault("float_format", FLOAT_FORMAT)
        return super().to_latex(*args, **kwargs)
