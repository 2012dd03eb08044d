"""The notes for early-stopping mistakes that would pass in silence: each given once a study, at
the user's line, naming the trial, what it did and the fix; none for the README's recipe."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import nbtune
from nbtune import trial as T
from nbtune.notebook.trialfn import cell_filename

PROMOTION = dict(scheduler="asha", type="promotion", rung_levels=[3], max_t=9)


def tune(train, space=None, **options):
    """A small grid study, one trial at a time (the trials pause, are promoted and end in the
    same order on every run); returns the study and the NbtuneWarnings it gave."""
    space = space or {"q": nbtune.grid(6, 5, 4, 3, 2, 1)}
    options = {"cluster": None, "storage": None, "progress": False, "concurrency": 1,
               "searcher": "grid", "metric": "score", "mode": "max", **options}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = nbtune.tune(train, space, **options)
    return study, [w for w in caught if issubclass(w.category, nbtune.NbtuneWarning)]


def notes(warned, start):
    return [w for w in warned if str(w.message).startswith(start)]


def weights(config, state):
    """The README recipe's model: numpy weights trained one epoch at a time."""
    return state["w"] if state else np.zeros(4) + config["q"]


def recipe(config):
    """The README's checkpoint recipe: resumes after the epoch of its checkpoint."""
    state = nbtune.get_checkpoint()
    w, first = weights(config, state), state["epoch"] + 1 if state else 1
    for epoch in range(first, 10):
        w = w + 0.1 * np.tanh(w)
        nbtune.report(epoch=epoch, score=float(w.mean()),
                      checkpoint={"w": w, "epoch": epoch})


def loss_then_accuracy(config):
    """Reports the training loss with the epoch, then the validation score alone."""
    state = nbtune.get_checkpoint()
    first = state["epoch"] + 1 if state else 1
    for epoch in range(first, 4):
        nbtune.report(epoch=epoch, loss=1 / (config["q"] * epoch), checkpoint={"epoch": epoch})
        nbtune.report(score=config["q"] * epoch)


@pytest.mark.parametrize("scheduler, options", [
    ("asha", {"type": "promotion"}), ("hyperband", {})], ids=["promotion asha", "hyperband"])
def test_the_metric_reported_apart_from_the_resource_is_named_when_trials_pause(
        client, scheduler, options):
    study, warned = tune(loss_then_accuracy, cluster=client, scheduler=scheduler, max_t=3,
                         **options)
    assert [str(w.message) for w in warned] == [
        f"trial 0 reported 'epoch' without 'score' (it reported epoch, loss): the {scheduler} "
        f"scheduler judges each rung by 'score', so it stopped the trial at its first; report "
        f"both at once, report(epoch=N, score=...), or name the key reported as the metric "
        f"(metric=KEY, %%tune --metric KEY)"]
    assert warned[0].filename == __file__
    assert [r.get("epoch") for r in study.trials[0].reports] == [1]  # it never went on
