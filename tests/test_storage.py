"""Study files: paths that cannot be one, files of others, read-only places, a locked file."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest
from IPython.core.error import UsageError

import nbtune
from nbtune.studies import DIED
from nbtune import paths
from nbtune import storage as S
from nbtune.paths import StorageError
from nbtune.storage import Storage


def make_study(path: str) -> None:
    db = Storage(path)
    db.create_study("s", nbtune.Space({"x": nbtune.uniform(0, 1)}).to_json(), "value", "min", {})
    db.close()


@pytest.fixture
def bad_paths(tmp_path):
    """Storage values a person may type, each with what its message must say."""
    folder = tmp_path / "runs"
    folder.mkdir()
    text = tmp_path / "notes.txt"
    text.write_text("my notes\n")
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(paths.SQLITE_HEADER + os.urandom(4000))
    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as con:
        con.execute("CREATE TABLE orders (id INTEGER)")
    return {
        "": "names no file",
        ":memory:": "would keep nothing once the study ends",
        str(folder): "is a folder: name a file in it",
        str(folder) + "/": "is a folder: name a file in it",
        str(text): "is not a study file (not a SQLite database, but text)",
        str(corrupt): "is damaged or not a SQLite database",
        str(foreign): "is a SQLite database of something else (tables orders)",
        str(tmp_path / "missing" / "x.db"): "does not exist",
    }


def test_each_storage_mistake_is_one_line_before_any_cluster_is_reached(bad_paths):
    for path, says in bad_paths.items():
        before = _snapshot(path)
        with pytest.raises(StorageError, match=says.replace("(", r"\(").replace(")", r"\)")):
            # an unreachable cluster: the storage must be refused before it is tried
            nbtune.tune(lambda c: 1.0, {"x": nbtune.uniform(0, 1)}, n_trials=1,
                        storage=path, cluster="tcp://127.0.0.1:9", progress=False)
        assert _snapshot(path) == before, path  # nothing written into someone's file
        if os.path.exists(path) or not path or path.endswith("x.db"):
            with pytest.raises(StorageError, match=says.replace("(", r"\(").replace(")", r"\)")):
                nbtune.delete_study("s", storage=path)
            assert _snapshot(path) == before, path


def _snapshot(path: str):
    if path and os.path.isfile(path):
        with open(path, "rb") as f:
            return f.read()
    return None


def test_the_magics_say_the_same_in_one_line(ip, bad_paths):
    ip.run_line_magic("config", "Tune.cluster = 'tcp://127.0.0.1:9'")
    try:
        for path, says in bad_paths.items():
            if not path:
                continue  # an empty --storage is the configured default
            with pytest.raises(UsageError) as err:
                ip.run_cell_magic("tune", f"--storage '{path}' --trials 1",
                                  "x = uniform(0, 1)\nvalue = x\n")
            assert says in str(err.value) and "\n" not in str(err.value)
            if path == ":memory:":
                continue  # %tune_studies lists nothing for a file that is not there
            with pytest.raises(UsageError) as err:
                ip.run_line_magic("tune_studies", path)
            assert says in str(err.value)
    finally:
        ip.run_line_magic("config", "Tune.cluster = None")


def test_empty_and_foreign_files_opened_to_read_are_never_made_databases(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    assert nbtune.list_studies(empty) == []
    with pytest.raises(nbtune.studies.StudyNotFound, match="studies there: none"):
        nbtune.load_study("s", storage=empty)
    assert empty.read_bytes() == b"" and sorted(os.listdir(tmp_path)) == ["empty.db"]


def test_studies_load_from_a_folder_nobody_may_write(tmp_path):
    """load_study and list_studies in a read-only folder, as a user without write rights (as
    root, without the capabilities that let root write anywhere)."""
    folder = tempfile.mkdtemp(dir=tmp_path)
    path = os.path.join(folder, "study.db")
    make_study(path)
    db = Storage(path)
    db.add_report("s", 0, 1, 1, {"epoch": 1})  # the WAL file is there while a writer is open
    db.close()
    listing = sorted(os.listdir(folder))
    os.chmod(path, 0o444)
    os.chmod(folder, 0o555)
    code = textwrap.dedent(f"""
        import nbtune
        print(nbtune.list_studies({path!r}), nbtune.load_study("s", storage={path!r}).name)
        try:  # a study run here: said to be read-only, not "damaged" (first-day test, round 12)
            nbtune.storage.Storage({path!r})
        except nbtune.StorageError as exc:
            print(exc)
    """)
    drop = (["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
            if os.geteuid() == 0 and shutil.which("setpriv") else [])
    try:
        if drop:  # the subprocess, root without those capabilities, cannot write here
            probe = subprocess.run(drop + [sys.executable, "-c", f"open({folder!r} + '/x', 'w')"],
                                   capture_output=True, text=True)
            assert "Permission denied" in probe.stderr
        done = subprocess.run(drop + [sys.executable, "-c", code], capture_output=True,
                              text=True, timeout=120)
    finally:
        os.chmod(folder, 0o755)
        os.chmod(path, 0o644)
    assert done.returncode == 0, done.stderr
    said = done.stdout.strip().splitlines()
    assert said[0] == "['s'] s"
    if drop or os.geteuid() != 0:  # a user who cannot write here
        assert said[1] == (f"storage {path!r} is read-only here (the file or its folder): "
                           "studies run in a file nbtune can write, with its -wal file beside "
                           "it; copy it to a writable folder, or read its studies with "
                           "nbtune.load_study, which opens it read-only")
    assert sorted(os.listdir(folder)) == listing


def test_a_write_waits_for_another_connections_lock_then_lands(db, monkeypatch):
    make_study(db)
    monkeypatch.setattr(S, "_BUSY_TIMEOUT", 0.2)  # SQLite's own wait: the retries go past it
    storage = Storage(db)
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock for a while
    release = threading.Timer(1.5, lambda: other.execute("COMMIT"))
    release.start()
    storage.add_report("s", 0, 1, 1, {"epoch": 1})  # waits past SQLite's own timeout
    release.join()
    other.close()
    assert storage._run("SELECT count(*) FROM reports") == [(1,)]
    storage.close()


def test_a_lock_held_past_the_patience_is_one_line(db, monkeypatch):
    make_study(db)
    monkeypatch.setattr(S, "BUSY_PATIENCE", 0.3)
    monkeypatch.setattr(S, "_BUSY_TIMEOUT", 0.05)
    storage = Storage(db)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(StorageError, match="stayed locked by another process for 0.3 s"):
            storage.add_report("s", 0, 1, 1, {"epoch": 1})
        assert time.monotonic() - started < 30  # it gave up instead of hanging
    finally:
        other.execute("ROLLBACK")
        other.close()
        storage.close()


def test_large_finite_domains_load_from_a_stored_study_at_once(tmp_path):
    """A stored space is checked in linear time and its grids are described, not listed."""
    path = str(tmp_path / "big.db")
    space = {"c": {"type": "choice", "options": list(range(20000)), "weights": None},
             "g": {"type": "linspace", "lo": 0.0, "hi": 1.0, "n": 1e5},
             "h": {"type": "logspace", "lo": 1e-6, "hi": 1.0, "n": 5e7}}
    db = Storage(path)
    db.create_study("big", __import__("json").dumps(space), "value", "min", {})
    db.close()
    started = time.process_time()
    study = nbtune.load_study("big", storage=path)
    assert time.process_time() - started < 1.0  # it was 60 s and more before
    assert study.space["g"].size == 100_000 and study.space["h"].size == 50_000_000
    assert study.space["h"].value_at(49_999_999) == 1.0
    study.space.validate(study.space.sample(0))


def test_a_stored_file_asking_for_too_many_points_is_refused_in_one_line(tmp_path):
    path = str(tmp_path / "huge.db")
    db = Storage(path)
    db.create_study("huge", '{"g": {"type": "linspace", "lo": 0, "hi": 1, "n": 1e9}}', "value",
                    "min", {})
    db.close()
    with pytest.raises(ValueError, match=r"linspace needs n <= 100,000,000, got n=1000000000.0: "
                       r"use uniform\(0.0, 1.0\) for a continuous range"):
        nbtune.load_study("huge", storage=path)


def test_finite_domains_list_the_values_numpy_lists():
    import numpy as np

    for lo, hi, n in ((0.5, 1.0, 5), (1e-4, 1e-1, 7), (1e-3, 1e3, 33), (1e-6, 1.0, 1000)):
        for kind, fn in ((nbtune.linspace, np.linspace), (nbtune.logspace, np.geomspace)):
            assert kind(lo, hi, n).values == fn(lo, hi, n).tolist()
    big = nbtune.linspace(0.0, 1.0, 10**7)  # beyond what is listed: computed one by one
    reference = np.linspace(0.0, 1.0, 10**7)
    for i in (0, 1, 12345, 5_000_000, 10**7 - 1):
        assert big.value_at(i) == reference[i]
        assert big.to_unit(reference[i]) == (i + 0.5) / 10**7
    with pytest.raises(ValueError, match="is not one of"):
        big.validate(0.5 + 1e-12)
    with pytest.raises(ValueError, match="choice has duplicate value 1.0"):
        nbtune.choice(*(float(i) for i in range(5000)), 1.0)
    # distinct under the domain's equality: an int and a float too (scikit-learn's max_df=1 is
    # one document, max_df=1.0 all of them: first-day test, round 45)
    both = nbtune.choice(1, True, "1", [1], {"a": 1}, 1.0, [1.0])
    assert [both.to_unit(v) for v in (1, 1.0, [1.0])] == [1 / 14, 11 / 14, 13 / 14]
    assert nbtune.choice(1, 2).to_unit(2.0) == 0.75  # a number JSON gave back as a float


def test_a_study_not_in_the_file_asked_is_found_beside_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a notebook's folder: its studies went to runs.db
    make_study(str(tmp_path / "runs.db"))
    with pytest.raises(FileNotFoundError, match=r"no study storage at 'nbtune.db' \(in .*\); "
                                                r"a study named 's' is in 'runs.db': "
                                                r"load_study\('s', storage='runs.db'\)"):
        nbtune.load_study("s")
    make_study(str(tmp_path / "nbtune.db"))
    with sqlite3.connect(tmp_path / "nbtune.db") as con:
        con.execute("UPDATE studies SET name = 'other' WHERE name = 's'")
    with pytest.raises(nbtune.studies.StudyNotFound, match=r"studies there: 'other'\); a study "
                                                         r"named 's' is in 'runs.db'"):
        nbtune.load_study("s")
    with pytest.raises(nbtune.studies.StudyNotFound, match=r"studies there: 'other'\)$"):
        nbtune.load_study("nowhere")
    with pytest.raises(nbtune.studies.StudyNotFound,  # `nbtune show othr`: no hint (round 20)
                       match=r"^no study named 'othr' in 'nbtune.db' \(did you mean 'other'\?\) "
                             r"\(studies there: 'other'\)$"):
        nbtune.load_study("othr")


def nap(config):
    for epoch in range(1, 4):
        time.sleep(config["sleep"])
        nbtune.report(epoch=epoch, value=config["x"])


def running(client, path: str, name: str) -> nbtune.Study:
    """Study ``name`` run in the background, slowly, once it has reported."""
    study = nbtune.tune(nap, {"x": nbtune.uniform(0, 1), "sleep": 0.3}, n_trials=40,
                        concurrency=1, cluster=client, storage=path, study=name, progress=False,
                        background=True)
    deadline = time.time() + 60
    while not any(t.reports for t in study.trials) and time.time() < deadline:
        time.sleep(0.05)
    return study


def test_delete_study_removes_one_study_for_good_and_refuses_one_being_run(client, tmp_path):
    path = str(tmp_path / "runs.db")
    space = {"x": nbtune.uniform(0, 1), "sleep": 0.0}
    nbtune.tune(nap, space, n_trials=2, cluster=client, storage=path, study="keep", progress=False)
    busy = running(client, path, "busy")
    try:
        with pytest.raises(StorageError, match=r"study 'busy' is being run by another study run "
                                               r"in this process .*: stop it first \(nbtune."
                                               r"load_study\('busy'\).stop\(\) in the kernel "
                                               r"that runs it, or interrupt its cell\), then "
                                               r"delete it"):
            nbtune.delete_study("busy", storage=path)
        assert sorted(nbtune.list_studies(path)) == ["busy", "keep"]
    finally:
        busy.stop().wait(60)
    nbtune.delete_study("busy", storage=path)
    assert nbtune.list_studies(path) == ["keep"]
    with sqlite3.connect(path) as con:  # its trials and reports went with it; keep's stayed
        for table in ("trials", "reports"):
            studies = {r[0] for r in con.execute(f"SELECT study FROM {table}")}
            assert studies == {"keep"}, table
    with pytest.raises(nbtune.studies.StudyNotFound,
                       match=r"no study named 'busy' in '.*runs.db' \(studies there: 'keep'\)"):
        nbtune.delete_study("busy", storage=path)
    again = nbtune.tune(nap, space, n_trials=1, cluster=client, storage=path, study="busy",
                        progress=False)  # the name is free: no resume or replace asked
    assert [t.id for t in again.trials] == [0]
    assert len(nbtune.load_study("keep", storage=path).trials) == 2


def test_delete_studies_removes_those_a_pattern_matches_and_keeps_one_being_run(client, tmp_path):
    """Every %%tune cell run without --study stores a new study-DATE-TIME-XXXX; clearing them
    took a loop over list_studies (first-day test, round 22)."""
    path = str(tmp_path / "runs.db")
    space = {"x": nbtune.uniform(0, 1), "sleep": 0.0}
    for name in ("study-a", "study-b", "mlp", "studyish"):
        nbtune.tune(nap, space, n_trials=1, cluster=client, storage=path, study=name,
                    progress=False)
    assert nbtune.delete_studies("study-*", storage=path) == ["study-a", "study-b"]
    assert nbtune.list_studies(path) == ["mlp", "studyish"]
    with pytest.raises(nbtune.studies.StudyNotFound,
                       match=r"no study in '.*runs.db' has a name that matches 'study-\*' "
                             r"\(studies there: 'mlp', 'studyish'\)"):
        nbtune.delete_studies("study-*", storage=path)
    busy = running(client, path, "study-busy")
    try:
        # the ones it deleted are named (check round 56: they were gone, named nowhere)
        with pytest.raises(StorageError, match=r"deleted 1 of the 2 studies that match 'stud\*' "
                                               r"\('studyish'\); kept 1: study 'study-busy' is "
                                               r"being run by "):
            nbtune.delete_studies("stud*", storage=path)
        assert nbtune.list_studies(path) == ["mlp", "study-busy"]
    finally:
        busy.stop().wait(60)


def test_the_study_file_alone_holds_a_running_study_not_its_log_only(tmp_path, monkeypatch):
    """A kernel killed 10 s into a study left it in runs.db-wal alone: a copy of runs.db, handed
    to a colleague, had no such study (first-day test, round 7). The recorder folds the log
    into the file when the study starts and every FOLD_EVERY seconds of reports after."""
    from nbtune import trial as T

    path = str(tmp_path / "runs.db")
    db = Storage(path)  # left open, as a dead kernel leaves it: no fold at its close
    db.create_study("s", nbtune.Space({"x": nbtune.uniform(0, 1)}).to_json(), "value", "min", {})
    from nbtune import recorder as R

    recorder = R.StorageRecorder(db, "s")

    def copy_alone() -> Storage:
        shutil.copy(path, tmp_path / "copy.db")  # the file, not its -wal beside it
        return Storage(str(tmp_path / "copy.db"), readonly=True)

    recorder.study_started({})
    assert copy_alone().study_names() == ["s"]
    trial = T.Trial(0, {"x": 0.5}, state=T.RUNNING, attempts=1)
    recorder.trial_created(trial)
    for epoch in (1, 2):
        trial.reports.append({"epoch": epoch, "value": 0.5 / epoch})
        recorder.trial_reported(trial, trial.reports[-1])
    assert copy_alone().load_trials("s") == []  # within FOLD_EVERY: in the log only
    monkeypatch.setattr(R, "FOLD_EVERY", 0.0)
    trial.reports.append({"epoch": 3, "value": 0.5 / 3})
    recorder.trial_reported(trial, trial.reports[-1])
    held = copy_alone().load_trials("s")
    assert [len(t.reports) for t in held] == [3]
    assert os.path.getsize(path + "-wal") > 0  # the log is still there: folded, not removed
    db.close()


DIES_HOLDING = """
import os, sys
import nbtune
from nbtune import trial as T
from nbtune.lease import Lease
from nbtune.storage import Storage
db = Storage(sys.argv[1])
db.create_study("s", nbtune.Space({"x": nbtune.uniform(0, 1)}).to_json(), "value", "min", {})
Lease(db, "s").acquire()
db.set_status("s", "running")
for i in range(3):
    trial = T.Trial(i, {"x": i / 4}, state=T.COMPLETED, value=i / 4, attempts=1)
    trial.reports = [{"epoch": 1, "value": i / 4}]
    db.save_trial("s", trial)
os._exit(0)  # as a killed kernel: no close, no fold
"""


def test_a_study_whose_run_died_is_folded_into_its_file_when_read(tmp_path):
    """A kernel killed between two folds of its run left the study's last seconds in the
    -wal file alone, and nothing folded them in: a copy of the .db, taken after reading the
    study in place, held an older study (first-day test, round 67)."""
    path = str(tmp_path / "runs.db")
    subprocess.run([sys.executable, "-c", DIES_HOLDING, path], check=True, timeout=60)
    assert os.path.getsize(path + "-wal") > 0
    shutil.copy(path, tmp_path / "before.db")  # the file alone, as it was left
    with sqlite3.connect(tmp_path / "before.db") as con:  # its tables too are in the log
        assert not con.execute("SELECT name FROM sqlite_master WHERE name = 'trials'").fetchall()
    study = nbtune.load_study("s", storage=path)
    assert study.stop_reason == DIED and len(study.trials) == 3
    shutil.copy(path, tmp_path / "copy.db")  # the file alone, after the study was read
    assert len(nbtune.load_study("s", storage=str(tmp_path / "copy.db")).trials) == 3


def test_a_loaded_study_counts_its_runs_time_not_the_days_between(client, tmp_path):
    """A study run one day and resumed the next read "5 min 47 s · 5.2 trials/min" for runs of
    10 s and 0.8 s; loaded, it also disagreed with what its cell had said (first-day test,
    round 7)."""
    from nbtune import trial as T

    path = str(tmp_path / "runs.db")
    space = {"x": nbtune.uniform(0, 1), "sleep": 0.05}
    first = nbtune.tune(nap, space, n_trials=2, study="days", cluster=client, storage=path,
                        progress=False)
    assert nbtune.load_study("days", storage=path).elapsed == first.elapsed  # as the cell said
    time.sleep(2.0)  # the night between
    again = nbtune.tune(nap, space, n_trials=4, study="days", resume=True, cluster=client,
                        storage=path, progress=False)
    loaded = nbtune.load_study("days", storage=path)
    assert loaded.elapsed == pytest.approx(first.elapsed + again.elapsed)
    assert loaded.elapsed < 2.0 + first.elapsed  # not the span from the first trial to the last
    facts = dict(loaded.summary().facts())
    assert facts["time"].startswith(nbtune.formatting.duration_text(loaded.elapsed) + " · ")
    # a run that died with its kernel recorded no time: its trials' span is added
    started = time.time() + 100.0
    loaded.trials.append(T.Trial(9, {"x": 0.5, "sleep": 0.05}, state=T.COMPLETED, value=0.5,
                                 attempts=1, started=started, finished=started + 3.0))
    assert loaded.elapsed == pytest.approx(first.elapsed + again.elapsed + 3.0)


def test_resuming_over_a_changed_space_names_what_changed(client, tmp_path):
    """It said "was run over another space (Space({...}))", the whole stored space, with no word
    of which hyperparameter differed nor of warm starts (first-day test, round 7)."""
    path = str(tmp_path / "runs.db")
    space = {"x": nbtune.uniform(0, 1), "sleep": 0.0, "hidden": nbtune.choice(32, 64)}
    nbtune.tune(nap, space, n_trials=1, study="mlp", cluster=client, storage=path,
                progress=False)
    changed = {"x": nbtune.uniform(0, 2), "sleep": 0.0, "hidden": nbtune.choice(32, 64),
               "momentum": nbtune.uniform(0.5, 0.99)}
    with pytest.raises(ValueError) as caught:
        nbtune.tune(nap, changed, n_trials=2, study="mlp", resume=True, cluster=client,
                    storage=path, progress=False)
    assert str(caught.value) == (
        "study 'mlp' was run over another space: x was uniform(0.0, 1.0), here "
        "uniform(0.0, 2.0); momentum is new. Resume it with the same space, or start a new study "
        "whose model learns from this one's trials: study='mlp-2', searcher='bayesopt', "
        "warm_start='mlp' (%%tune --study mlp-2 --searcher bayesopt --warm-start mlp), or run "
        "it afresh over the new space: replace=True (%%tune --replace)")


def test_a_deleted_studys_pages_go_back_to_the_file_system(tmp_path):
    """Deleting studies left the file at its size (first-day test, round 22)."""
    from nbtune import trial as T

    path = str(tmp_path / "s.db")
    db = S.Storage(path)
    space = nbtune.Space({"x": nbtune.uniform(0, 1)}).to_json()
    for name in ("kept", "gone"):
        db.create_study(name, space, "v", "min", {})
        for i in range(200):
            db.save_trial(name, T.Trial(i, {"x": i / 200}, state=T.COMPLETED, value=0.5))
            for seq in range(10):
                db.add_report(name, i, 1, seq, {"epoch": seq, "v": 0.5, "note": "x" * 100})
    db.fold_log()
    full = os.path.getsize(path)
    nbtune.delete_study("gone", storage=path)
    db.close()
    assert os.path.getsize(path) < 0.6 * full, (os.path.getsize(path), full)
    assert nbtune.list_studies(path) == ["kept"]
    assert len(nbtune.load_study("kept", storage=path).trials) == 200


def test_a_relative_path_not_found_names_the_folder_it_was_read_from(tmp_path, monkeypatch):
    """A notebook moved to a subfolder read "no study storage at 'paper.db'" and no folder
    (first-day test, round 38)."""
    make_study(str(tmp_path / "paper.db"))
    (tmp_path / "later").mkdir()
    monkeypatch.chdir(tmp_path / "later")
    with pytest.raises(FileNotFoundError) as missing:
        nbtune.load_study("s", storage="paper.db")
    assert str(missing.value) == (f"no study storage at 'paper.db' (in {tmp_path / 'later'}: a "
                                  "relative path is read from the working folder)")
    with pytest.raises(FileNotFoundError) as absolute:
        nbtune.load_study("s", storage=str(tmp_path / "later" / "paper.db"))
    assert str(absolute.value) == f"no study storage at {str(tmp_path / 'later' / 'paper.db')!r}"


def test_a_path_from_the_home_folder_is_the_home_folders(tmp_path, monkeypatch, client):
    """'~/paper.db' was taken as a folder named '~' in the working folder (first-day tests,
    rounds 38 and 39)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path.parent)  # not the home folder: '~' is no folder here
    study = nbtune.tune(lambda c: c["x"], {"x": nbtune.uniform(0, 1)}, n_trials=2,
                        cluster=client, storage="~/paper.db", study="home", progress=False)
    assert os.path.exists(tmp_path / "paper.db") and study.storage == str(tmp_path / "paper.db")
    assert len(nbtune.load_study("home", storage="~/paper.db").trials) == 2


def test_a_default_name_already_in_the_file_is_drawn_again(tmp_path, monkeypatch):
    """A dozen unnamed cells run in one second, into one file, once drew a name twice (4 hex
    digits), and the second study failed on the file's unique name."""
    from nbtune import starting

    draws = iter(["aaaa" * 8, "aaaa" * 8, "bbbb" * 8])
    monkeypatch.setattr(starting.uuid, "uuid4",
                        lambda: __import__("uuid").UUID(next(draws)))
    monkeypatch.setattr(starting.time, "strftime", lambda pattern: "study-20261206-174036-")
    db = Storage(str(tmp_path / "s.db"))
    first = starting.default_name(db)
    db.create_study(first, nbtune.Space({"x": nbtune.uniform(0, 1)}).to_json(), "value", "min",
                    {})
    assert first == "study-20261206-174036-aaaa"
    assert starting.default_name(db) == "study-20261206-174036-bbbb"
    db.close()
