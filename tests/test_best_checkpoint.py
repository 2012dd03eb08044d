"""The best trial's model after the study: the last checkpoint of the best completed trial is
kept beside the study file (``study.best_checkpoint``), on a real cluster, and read in a new
process; the others' are never kept. Before, a Ray Tune user's ``result.checkpoint`` had no
counterpart: the trained model was gone with the study, and the best config trained again."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest

import nbtune
from nbtune import trial as T
from nbtune.run import kept
from nbtune.run.keeping import Keeping
from nbtune.run.settings import LoopSettings

from test_kept import files_in, folder_of


def grows(config):
    """Three epochs of ``x`` each; the checkpoint says whose it is and when it was made."""
    w = 0.0
    for epoch in (1, 2, 3):
        w += config["x"]
        nbtune.report(epoch=epoch, v=w, checkpoint={"x": config["x"], "epoch": epoch})


@pytest.mark.parametrize("mode", ["max", "min"])
def test_the_best_trials_last_checkpoint_is_kept_and_only_its(client, db, mode):
    study = nbtune.tune(grows, {"x": nbtune.uniform(0, 1)}, metric="v", mode=mode,
                        n_trials=10, cluster=client, storage=db, study="s", progress=False)
    best = study.best
    assert best.value == (max if mode == "max" else min)(t.value for t in study.trials)
    assert files_in(folder_of(db, "s")) == [f"trial-{best.id}.final.ckpt"]
    assert study.best_checkpoint == {"x": best.config["x"], "epoch": 3}
    # a new process (a kernel restarted the next day) reads it from the study file's folder
    code = ("import nbtune, sys; c = nbtune.load_study('s', storage=sys.argv[1])"
            ".best_checkpoint; print(c['x'], c['epoch'])")
    out = subprocess.run([sys.executable, "-c", code, db], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.split() == [repr(best.config["x"]), "3"], out.stderr
    assert ("checkpoint", f"trial {best.id}'s last, kept: study.best_checkpoint") in \
        study.summary().facts()


def ladder(config):
    """Nine epochs, resumed from its checkpoint's next after a pause. Where the space has a
    ``mark`` file, q=8 writes it as it reaches the rung (epoch 3) and the others start once it
    is there: on a loaded machine the others reached the rung first, and q=8, promoted as it
    got there, went on in its task without the pause under test."""
    import os
    import time

    checkpoint = nbtune.get_checkpoint()
    first = checkpoint["epoch"] + 1 if checkpoint else 1
    mark = config.get("mark")
    if mark and config["q"] != 8:
        deadline = time.monotonic() + 60
        while not os.path.exists(mark) and time.monotonic() < deadline:
            time.sleep(0.02)
    for epoch in range(first, 10):
        if mark and config["q"] == 8 and epoch == 3:
            open(mark, "w").close()
        nbtune.report(epoch=epoch, v=config["q"] * epoch,
                      checkpoint={"q": config["q"], "epoch": epoch, "first": first})


def test_a_trial_paused_and_promoted_keeps_the_checkpoint_it_ended_with(client, db, tmp_path):
    """Promotion ASHA: the best trial paused at a rung and went on from its checkpoint on
    whichever worker was free; the one kept is its last, made after the promotion."""
    # drawn first, it waits at the rung alone until two more reach it, then resumes
    space = {"q": nbtune.grid(*range(8, 0, -1)), "mark": str(tmp_path / "q8-at-the-rung")}
    study = nbtune.tune(ladder, space, searcher="grid", metric="v",
                        mode="max", scheduler="asha", type="promotion", rung_levels=[3],
                        max_t=9, cluster=client, storage=db, study="p", progress=False)
    assert study.best.config["q"] == 8
    assert study.best_checkpoint == {"q": 8, "epoch": 9, "first": 4}
    assert files_in(folder_of(db, "p")) == [f"trial-{study.best.id}.final.ckpt"]


def by_turn(config):
    """Trials 0 to 3 reach 0.5, 0.2, 0.1 and 0.9 in turn, whatever their config."""
    x = (0.5, 0.2, 0.1, 0.9)[nbtune.trial_id()]
    nbtune.report(epoch=1, v=x, checkpoint={"x": x})


def test_a_resumed_study_keeps_its_best_until_a_trial_beats_it(client, db):
    """The earlier run's best stays the one to beat: a resume that finds nothing better keeps
    its file; one that does replaces it. A final file of a trial the study did not record as
    completed (a run cut short as it wrote) is deleted at the resume."""
    space = {"x": nbtune.uniform(0, 1)}
    nbtune.tune(by_turn, space, metric="v", mode="max", n_trials=2, concurrency=1,
                cluster=client, storage=db, study="r", progress=False)
    folder = folder_of(db, "r")
    assert files_in(folder) == ["trial-0.final.ckpt"]
    kept.save(folder, 99, 1, 1, b"not a pickle", final=True)  # no trial 99 in the study

    more = nbtune.tune(by_turn, space, cluster=client, storage=db, study="r", resume=True,
                       n_trials=3, progress=False)
    assert [t.value for t in more.trials] == [0.5, 0.2, 0.1]
    assert files_in(folder) == ["trial-0.final.ckpt"]
    assert more.best_checkpoint == {"x": 0.5}

    better = nbtune.tune(by_turn, space, cluster=client, storage=db, study="r", resume=True,
                         n_trials=4, progress=False)
    assert better.best.id == 3
    assert files_in(folder) == ["trial-3.final.ckpt"]
    assert better.best_checkpoint == {"x": 0.9}


def reports_bare(config):
    nbtune.report(epoch=1, v=config["x"], checkpoint={"x": config["x"]} if config["x"] < 2
                  else None)


def holds_a_lock(config):
    nbtune.report(epoch=1, v=config["x"], checkpoint={"lock": threading.Lock()})


def test_where_there_is_no_best_checkpoint_the_error_says_why(client, db):
    # the best trial reported none: not an older trial's in its place
    study = nbtune.tune(reports_bare, {"x": nbtune.grid(1.0, 3.0)}, searcher="grid",
                        metric="v", mode="max", cluster=client, storage=db, study="bare",
                        progress=False)
    assert files_in(folder_of(db, "bare")) == ["trial-0.final.ckpt"]
    with pytest.raises(ValueError, match=r"no best_checkpoint: trial 1, the best of study "
                                         r"'bare', has no checkpoint in .*: it reported none "
                                         r"\(nbtune.report\(\.\.\., checkpoint="):
        study.best_checkpoint
    assert all(name != "checkpoint" for name, _ in study.summary().facts())

    copy = os.path.join(os.path.dirname(db), "copied.db")  # copied without its checkpoints
    shutil.copy(db, copy)
    with pytest.raises(ValueError, match=r"or the study file was moved or copied without its "
                                         r"checkpoints \(it last ran as '.*studies.db'"):
        nbtune.load_study("bare", storage=copy).best_checkpoint

    memory = nbtune.tune(grows, {"x": nbtune.grid(1.0)}, searcher="grid", metric="v",
                         mode="max", cluster=client, storage=None, progress=False)
    with pytest.raises(ValueError, match=r"kept in memory only \(storage=None, %%tune --storage "
                                         r"none\)"):
        memory.best_checkpoint

    with pytest.warns(UserWarning, match=r"trial 0, the best so far, completed, but its last "
                                         r"checkpoint was not saved \(TypeError: cannot pickle "
                                         r"'_thread.lock' object\)") as said:
        locked = nbtune.tune(holds_a_lock, {"x": nbtune.grid(1.0, 2.0)}, searcher="grid",
                             metric="v", mode="max", concurrency=1, cluster=client,
                             storage=db, study="locked", progress=False)
    assert sum("was not saved" in str(w.message) for w in said) == 1  # once a study
    assert files_in(folder_of(db, "locked")) == []
    with pytest.raises(ValueError, match="trial 1, the best of study 'locked', has no "
                                         "checkpoint .* or it could not be pickled or written"):
        locked.best_checkpoint


class Finals(Keeping):
    """The loop's side of the final files, alone: the state ``Keeping`` reads."""

    def __init__(self, folder: str, mode: str):
        self.settings = LoopSettings(metric="v", mode=mode, keep_at=folder)
        self.best_final, self.noted = None, set()

    def _note(self, kind, note):
        self.noted.add(kind)

    def ended(self, trial_id: int, value: float, state: str = T.COMPLETED) -> None:
        """Trial ``trial_id`` ended with ``value``, its worker having written its file."""
        kept.save(self.settings.keep_at, trial_id, 1, 1, b"x", final=True)
        trial = T.Trial(id=trial_id, config={}, state=state, value=value)
        self._heard_final(trial, True)


def test_trials_heard_in_any_order_leave_the_best_ones_file_alone(tmp_path):
    """Workers judge against the best kept when the trial was sent, so a file can come from a
    trial beaten meanwhile: the loop keeps the best's (ties: the earlier trial, as
    ``study.best`` breaks them) and deletes the rest."""
    folder = str(tmp_path / "f")
    loop = Finals(folder, "max")
    assert loop._to_beat() == ("max", None)
    loop.ended(2, 5.0)
    assert files_in(folder) == ["trial-2.final.ckpt"] and loop._to_beat() == ("max", 5.0)
    loop.ended(3, 4.0)  # sent before trial 2 ended: beaten meanwhile
    assert files_in(folder) == ["trial-2.final.ckpt"]
    loop.ended(1, 5.0)  # a tie: the earlier trial is the study's best
    assert files_in(folder) == ["trial-1.final.ckpt"]
    loop.ended(4, 9.0, state=T.FAILED)  # wrote its file, then its value was refused
    assert files_in(folder) == ["trial-1.final.ckpt"] and loop.best_final == (1, 5.0)
    low = Finals(str(tmp_path / "g"), "min")
    low.ended(0, 2.0)
    low.ended(1, 1.0)
    assert files_in(low.settings.keep_at) == ["trial-1.final.ckpt"]
    assert not loop.noted and Finals(None, "max")._to_beat() is None


def test_the_magic_cells_best_model_is_study_best_checkpoint(shell, db, capsys):
    from test_magic import run

    res = run(shell, f"--storage {db} --study m -n 4 --metric v --mode max",
              textwrap.dedent("""\
                  x = uniform(0, 1)
                  for epoch in (1, 2):
                      report(epoch=epoch, v=x * epoch, checkpoint={'x': x, 'epoch': epoch})
              """))
    assert res.success, capsys.readouterr().err
    study = shell.user_ns["study"]
    assert study.best_checkpoint == {"x": study.best.config["x"], "epoch": 2}
    assert "study.best_checkpoint" in str(study.summary())
    assert os.path.isfile(kept.path_of(folder_of(db, "m"), study.best.id, final=True))


KFOLD = """\
C = loguniform(1e-4, 10.0)
oof, aucs = np.zeros(len(y)), []
for fold, (fit, val) in enumerate(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y)):
    model = LogisticRegression(C=C).fit(X[fit], y[fit])
    oof[val] = model.predict_proba(X[val])[:, 1]
    aucs.append(roc_auc_score(y[val], oof[val]))
    report(fold=fold + 1, auc=np.mean(aucs), checkpoint=oof)
"""


def out_of_fold(C, X, y):
    """The predictions of each row by the fold model that left it out."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    oof = np.zeros(len(y))
    for fit, val in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        oof[val] = LogisticRegression(C=C).fit(X[fit], y[fit]).predict_proba(X[val])[:, 1]
    return oof


def test_a_k_fold_loops_out_of_fold_predictions_are_its_best_checkpoint(shell, db, capsys):
    """The README's K-fold loop (its LightGBM section; here with scikit-learn's model):
    reported once a fold with --resource fold --max-t 5, ASHA judges the mean of the first
    folds, and the best trial's out-of-fold predictions, passed as the checkpoint, are
    study.best_checkpoint (user test: a Kaggle user's hand-written CV loop)."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from test_magic import run

    X, y = make_classification(400, 10, n_informative=4, flip_y=0.2, random_state=0)
    shell.user_ns.update(X=X, y=y, np=np, LogisticRegression=LogisticRegression,
                         StratifiedKFold=StratifiedKFold, roc_auc_score=roc_auc_score)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run(shell, f"--storage {db} --study cv -n 9 --seed 0 --scheduler asha "
                         "--resource fold --max-t 5 --metric auc --mode max", KFOLD)
    assert res.success, capsys.readouterr().err
    assert not [w for w in caught if issubclass(w.category, nbtune.NbtuneWarning)]
    study = shell.user_ns["study"]
    assert {t.state for t in study.trials} == {T.COMPLETED, T.STOPPED}  # judged at folds 1, 3
    assert [r["fold"] for r in study.best.reports] == [1, 2, 3, 4, 5]
    assert np.array_equal(study.best_checkpoint, out_of_fold(study.best.config["C"], X, y))


def held_count() -> int:
    return len(kept._held)


def test_the_best_checkpoint_of_another_machines_worker_is_fetched_at_the_end(
        client, db, monkeypatch):
    """A worker whose disk is not the notebook's holds the final checkpoints it made, and the
    study's end fetches the best one's to the study's folder: with a remote GPU cluster, the
    model that took longest to train is the one a user wants back. The others are let go."""
    monkeypatch.setattr(kept, "this_host", lambda: "the-notebooks-machine")  # not the workers'
    study = nbtune.tune(grows, {"x": nbtune.uniform(0, 1)}, metric="v", mode="max",
                        n_trials=8, cluster=client, storage=db, study="far", progress=False)
    best = study.best
    assert files_in(folder_of(db, "far")) == [f"trial-{best.id}.final.ckpt"]
    assert study.best_checkpoint == {"x": best.config["x"], "epoch": 3}
    assert set(client.run(held_count).values()) == {0}


def best_then_waits(config):
    """Trial x=0.9 (the best) writes its worker's pid and ends; x=0.1 waits for the word that
    the best one's worker was killed."""
    folder = config["folder"]
    if config["x"] == 0.9:
        nbtune.report(epoch=1, v=0.9, checkpoint={"x": 0.9})
        with open(os.path.join(folder, "pid"), "w") as f:
            f.write(str(os.getpid()))
        return
    for _ in range(600):
        if os.path.exists(os.path.join(folder, "killed")):
            break
        time.sleep(0.05)
    nbtune.report(epoch=1, v=0.1, checkpoint={"x": 0.1})


def test_a_best_checkpoint_whose_worker_died_is_said_once(tmp_path, db, monkeypatch):
    from distributed import Client

    from nbtune.run.cluster import close_clients
    from test_clusters import Processes, worker_joined

    monkeypatch.setattr(kept, "this_host", lambda: "the-notebooks-machine")  # not the workers'
    procs = Processes(tmp_path)
    try:
        address = procs.scheduler()
        client = Client(address, set_as_default=False, timeout="30s")
        procs.worker(address)
        first = worker_joined(client, set())
        procs.worker(address)
        worker_joined(client, {first})

        with pytest.warns(UserWarning, match=r"trial 0, the best so far, completed, but its "
                                             r"last checkpoint was not saved \(its worker, "
                                             r"tcp://127\.0\.0\.1:\d+, left") as said:
            study = nbtune.tune(best_then_waits, {"x": nbtune.grid(0.9, 0.1),
                                                  "folder": nbtune.fixed(str(tmp_path))},
                                searcher="grid", metric="v", mode="max", concurrency=2,
                                cluster=client, storage=db, study="died", progress=False,
                                background=True)
            deadline = time.time() + 60  # its end heard: completed, its checkpoint held there
            while not (study.trials and study.trials[0].state == T.COMPLETED) and \
                    time.time() < deadline:
                time.sleep(0.05)
            assert study.trials[0].state == T.COMPLETED
            os.kill(int((tmp_path / "pid").read_text()), signal.SIGKILL)
            (tmp_path / "killed").write_text("")
            study.wait(60)
        assert sum("was not saved" in str(w.message) for w in said) == 1
        assert [t.state for t in study.trials] == [T.COMPLETED, T.COMPLETED]
        with pytest.raises(ValueError, match="trial 0, the best of study 'died', has no "
                                             "checkpoint"):
            study.best_checkpoint
        client.close()
    finally:
        close_clients()
        procs.stop_all()


def every_other(config):
    """Five epochs; a checkpoint with the odd ones only."""
    for epoch in range(1, 5):
        nbtune.report(epoch=epoch, v=config["x"] * epoch,
                      checkpoint={"epoch": epoch} if epoch % 2 else None)


def test_the_summary_says_when_the_kept_checkpoint_is_of_an_earlier_epoch(client, db):
    """A trial that checkpoints every other epoch keeps the model of epoch 3, and its value is
    of epoch 4: the summary said only "trial 1's last, kept" (first-day test, round 37)."""
    study = nbtune.tune(every_other, {"x": nbtune.grid(1.0, 2.0)}, searcher="grid",
                        metric="v", mode="max", cluster=client, storage=db, study="odd",
                        progress=False)
    assert study.best_checkpoint == {"epoch": 3}
    assert ("checkpoint", "trial 1's last, kept (from epoch 3; its value is of epoch 4): "
                          "study.best_checkpoint") in study.summary().facts()
