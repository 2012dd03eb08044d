"""The notebook's modules imported on the workers before the first trial needs them: the first
study of a kernel waited 1.2-2.2 s for its first trial, while the workers imported
scikit-learn for it (first-day test, round 22). The real kernel's side is in test_warm."""
from __future__ import annotations

import os
import sys

import numpy as np

from nbtune.run.preimport import Preimports, modules_of
from waiting import wait_for


def on_workers(client, module):
    """Whether each worker of ``client`` has imported ``module``."""
    return set(client.run(lambda name: name in sys.modules, module).values())


def test_the_modules_of_a_notebooks_values_less_pythons_own_and_the_displays():
    import matplotlib.figure
    from sklearn.linear_model import Ridge

    def in_a_cell(x):
        return x

    in_a_cell.__module__ = "__main__"  # as a notebook's function is
    namespace = {"np": np, "Ridge": Ridge, "X": np.ones(3), "model": Ridge(), "os": os,
                 "fig": matplotlib.figure.Figure(), "_": Ridge, "_i3": "text", "n": 3,
                 "In": [""], "f": in_a_cell}
    assert modules_of(namespace) == {"numpy", "sklearn.linear_model._ridge"}


def test_the_workers_import_each_new_module_once(client):
    from sklearn.semi_supervised import LabelSpreading  # nothing else in the tests imports it

    module = "sklearn.semi_supervised._label_propagation"
    assert on_workers(client, module) == {False}  # else this test could not fail
    preimports = Preimports()
    namespace = {"LabelSpreading": LabelSpreading, "X": np.ones(3)}
    assert preimports.send(client, namespace) == ["numpy", module]
    wait_for(lambda: on_workers(client, module) == {True}, "the workers' import", 30)
    assert preimports.send(client, namespace) == []  # sent already
    assert preimports.send(client, {**namespace, "y": 1.5}) == []  # nothing new
