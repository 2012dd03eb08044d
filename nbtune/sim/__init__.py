"""Simulated time: nbtune's own searchers and schedulers on learning-curve tables, without Dask.

:class:`Simulator` drives the same calls as the real loop on a :class:`Blackbox`: a
:class:`Table` of real training (looked up by nearest neighbour) or parametric curves
(:class:`PowerLawCurves`). ``nbtune.simulate`` is its face.
"""
from .backend import SimSettings, Simulator
from .blackbox import Blackbox
from .curves import PowerLawCurves
from .tables import Table, load_table, table_names

__all__ = ["Simulator", "SimSettings", "Blackbox", "Table", "PowerLawCurves", "load_table",
           "table_names"]
