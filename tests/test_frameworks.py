"""Keras 3 and PyTorch Lightning, as their user tunes them (first-day test, round 30): the
README's recipes run as %%tune cells, report from the frameworks' callbacks, stop their loops
and (Keras) pause and resume. Neither is a dependency of nbtune: `make test-torch` runs these in
`.venv-torch`; in `.venv` they are skipped."""
from __future__ import annotations

import os
import numpy as np
import pytest

import nbtune.run.frameworks

from readme_blocks import python_blocks

pytest.importorskip("torch")
os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported, as the README says
keras = pytest.importorskip("keras")
L = pytest.importorskip("lightning")


def recipes() -> list[str]:
    """The code blocks of the README's section on Keras and PyTorch Lightning."""
    return python_blocks("Keras and PyTorch Lightning")


def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split((X / 16.0).astype(np.float32), y, random_state=0)


def smaller(cell: str, study: str) -> str:
    """The recipe with fewer trials and epochs, under a study name of its own."""
    cell = cell.replace("--trials 40", "--trials 8").replace("--max-t 27", "--max-t 9")
    cell = cell.replace("epochs=27", "epochs=9").replace("max_epochs=27", "max_epochs=9")
    return cell.replace("%%tune ", f"%%tune --study {study} --seed 0 ", 1)


def test_the_keras_recipe_pauses_and_resumes_with_its_optimizer(shell, client):
    client.run(os.environ.__setitem__, "KERAS_BACKEND", "torch")  # the test's own cluster
    X_train, X_val, y_train, y_val = digits()
    shell.user_ns.update(keras=keras, X_train=X_train, X_val=X_val, y_train=y_train,
                         y_val=y_val)
    result = shell.run_cell(smaller(recipes()[0], "keras"))
    assert result.success, result.error_in_exec
    study = shell.user_ns["study"]
    assert not [t.error for t in study.trials if t.error]
    assert not [w for t in study.trials for w in t.warnings
                if w["category"] == "NbtuneWarning"]  # none of nbtune's notes: counted right
    best = study.best
    assert [r["epoch"] for r in best.reports] == list(range(1, 10))  # paused at 1 and 3
    assert best.value > 0.8


NET = """\
import torch
from torch import nn

class Net(L.LightningModule):
    def __init__(self, hidden, lr):
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def training_step(self, batch, i):
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch, i):
        x, y = batch
        self.log("val_acc", (self.net(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)
"""


def lightning_notebook(shell) -> None:
    """The notebook's cells before the Lightning recipe: the module and the data loaders."""
    import logging

    import torch
    from torch.utils.data import DataLoader, TensorDataset

    X_train, X_val, y_train, y_val = digits()
    shell.user_ns.update(L=L, logging=logging)
    shell.run_cell(NET)
    shell.user_ns["train_loader"] = DataLoader(
        TensorDataset(torch.tensor(X_train), torch.tensor(y_train)), batch_size=64, shuffle=True)
    shell.user_ns["val_loader"] = DataLoader(
        TensorDataset(torch.tensor(X_val), torch.tensor(y_val)), batch_size=256)


def test_the_lightning_recipe_reports_each_epoch_and_is_stopped(shell, tmp_path):
    lightning_notebook(shell)
    result = shell.run_cell(smaller(recipes()[1], "lightning"))
    assert result.success, result.error_in_exec
    study = shell.user_ns["study"]
    assert not [t.error for t in study.trials if t.error]
    states = {t.state for t in study.trials}
    assert states == {"completed", "stopped"}, states
    for t in study.trials:  # an epoch a report, from 1, and a stopped one went no further
        assert [r["epoch"] for r in t.reports] == list(range(1, len(t.reports) + 1))
    assert study.best.value > 0.8
    assert not [t.output for t in study.trials if t.output]  # quiet, as the recipe says


GUARD = """\
        if not trainer.sanity_checking:   # Lightning's check before training is no epoch
            report(epoch=trainer.current_epoch + 1,
                   val_acc=float(trainer.callback_metrics["val_acc"]))
"""


def test_a_report_from_lightnings_sanity_check_is_left_out_with_a_note(shell):
    """The recipe's callback without its guard, as Lightning's docs write one: the sanity
    check's validation of the untrained model on two batches read as epoch 1, and ASHA stopped
    half the trials on it (first-day test, round 50). It is left out, each trial says so, and
    every trial reports each epoch once, from 1."""
    lightning_notebook(shell)
    recipe = recipes()[1]
    assert recipe.count(GUARD) == 1
    unguarded = recipe.replace(GUARD, GUARD.split("\n", 1)[1].replace("            ", "        "))
    result = shell.run_cell(smaller(unguarded, "unguarded").replace("--trials 8", "--trials 4"))
    assert result.success, result.error_in_exec
    study = shell.user_ns["study"]
    for t in study.trials:
        assert [r["epoch"] for r in t.reports] == list(range(1, len(t.reports) + 1)), t.reports
        assert [w["message"] for w in t.warnings if "sanity check" in w["message"]] == [
            nbtune.run.frameworks.SANITY_NOTE], t.warnings
    # its first line whole in the summary (a script's text one cut the fix out: check round 51)
    assert nbtune.run.frameworks.SANITY_NOTE.splitlines()[0] in str(study.summary())
