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


READS_ENV = """\
import os

BACKEND = os.environ.get("NBTUNE_TEST_BACKEND", "tensorflow")  # as Keras reads KERAS_BACKEND
"""


def test_what_the_notebook_sets_in_its_environment_reaches_the_workers_before_their_imports(
        tmp_path):
    """The embedded cluster starts as the extension loads, and its workers took the kernel's
    environment then: a later cell's os.environ["KERAS_BACKEND"] = "torch" never reached them,
    they imported Keras for TensorFlow, and every trial failed with "No module named
    'tensorflow'" (first-day test, round 30)."""
    from test_display import run_notebook

    (tmp_path / "reads_env.py").write_text(READS_ENV)
    nb = run_notebook(
        tmp_path,
        "%load_ext nbtune\n"
        "import os, sys, time\n"
        "from nbtune.run.embedded import embedded_client\n"
        "def here():\n"
        "    sys.path.insert(0, os.getcwd())\n"
        "embedded_client().run(here);  # started, before the cell below",
        "os.environ['NBTUNE_TEST_BACKEND'] = 'torch'\n"
        "os.environ['NBTUNE_TEST_SEEN'] = 'yes'\n"
        "sys.path.insert(0, os.getcwd())\n"
        "import reads_env  # the workers import it after this cell",
        "def imported():\n"
        "    return 'reads_env' in sys.modules\n"
        "for _ in range(300):\n"
        "    if all(embedded_client().run(imported).values()):\n"
        "        break\n"
        "    time.sleep(0.1)",
        "%%tune --trials 2 --metric loss -o env\n"
        "x = uniform(0, 1)\n"
        "report(loss=x, backend=reads_env.BACKEND, seen=os.environ.get('NBTUNE_TEST_SEEN'))\n",
        "print('SEEN', sorted({(t.reports[-1]['backend'], t.reports[-1]['seen']) "
        "for t in env.trials}))")
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "SEEN [('torch', 'yes')]" in printed, printed
