"""A study in a plain Python script, stopped from outside: Ctrl-C (SIGINT) or SIGTERM (a
``timeout``, a CI job's cancel, ``docker stop``). Each records the study, prints how to continue
it, and stops the script there with the signal's own exit status; the rest of the script does
not run (it ran, and the job passed, after the user asked it to stop: first-day test, round 39).
Run for real: a script in a subprocess with nbtune's own local cluster."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nbtune
from nbtune import trial as T

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = '''
import sys, time
from pathlib import Path
import nbtune

def train(config):
    Path("started").touch()
    for epoch in range(1, 200):
        time.sleep(0.1)
        nbtune.report(epoch=epoch, loss=config["x"] / epoch)

if __name__ == "__main__":
    nbtune.tune(train, {"x": nbtune.uniform(0, 1)}, metric="loss", n_trials=4, seed=0,
                storage="runs.db", study="night", progress=False)
    print("THE REST OF THE SCRIPT RAN", flush=True)
'''


# Alone, after the two processes of `make test`: once in seven two-process runs the signal fell
# in distributed's sync(), whose cancel callback logged "NameError: cannot access free variable
# 'future'" through tornado as an ERROR (distributed 2026.8). nbtune now drops that record
# (test_interrupt reproduces the race every time); these stay alone until two-process runs have
# shown no other line of that kind
@pytest.mark.alone
@pytest.mark.parametrize("sent, group, status, said", [
    (signal.SIGTERM, False, -signal.SIGTERM, "was sent SIGTERM"),
    # a job queue's cancel signals the whole group: the workers die of it too, and Dask's lines
    # on that ("broadcast ... failed", "Restarting worker") and the resource tracker's "leaked
    # semaphore objects" filled the log as errors
    (signal.SIGTERM, True, -signal.SIGTERM, "was sent SIGTERM"),
    (signal.SIGINT, True, -signal.SIGINT, "interrupted"),  # as a terminal sends it
], ids=["sigterm", "sigterm-group", "sigint"])
def test_a_scripts_study_stopped_from_outside_is_kept_and_stops_the_script(tmp_path, sent, group,
                                                                         status, said):
    (tmp_path / "train.py").write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # the script starts as from a terminal, Ctrl-C not ignored: a process inherits SIGINT
    # ignored, and make test run as a background job of a non-interactive shell has it so
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen([sys.executable, "train.py"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "started").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no trial started"
            time.sleep(0.2)
        time.sleep(1.0)  # a few reports stored
        if group:
            os.killpg(proc.pid, sent)
        else:
            proc.send_signal(sent)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == status, (out, err)
    assert f"nbtune: study 'night' {said};" in out and "resume=True" in out, (out, err)
    assert "THE REST OF THE SCRIPT RAN" not in out
    assert "ERROR" not in err and "leaked" not in err and "Restarting" not in err, err
    study = nbtune.load_study("night", storage=str(tmp_path / "runs.db"))
    assert T.INTERRUPTED in study.counts() and any(t.reports for t in study.trials)


BACKGROUND = '''
import time
import nbtune

def train(config):
    for epoch in range(1, 200):
        time.sleep(0.1)
        nbtune.report(epoch=epoch, loss=config["x"] / epoch)

if __name__ == "__main__":
    study = nbtune.tune(train, {"x": nbtune.uniform(0, 1)}, metric="loss", n_trials=4,
                        storage="runs.db", study="bg", background=True, progress=False)
    while not any(t.reports for t in study.trials):
        time.sleep(0.1)
    print("THE SCRIPT ENDS", flush=True)
'''


def test_a_script_that_ends_while_its_background_study_runs_stops_it_and_says_so(tmp_path):
    """It ended with status 0 and a study of no trials, without a word (first-day test,
    round 39)."""
    (tmp_path / "bg.py").write_text(BACKGROUND)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "bg.py"], cwd=tmp_path, env=env, text=True,
                          capture_output=True, timeout=180)
    assert done.returncode == 0, done
    assert "THE SCRIPT ENDS" in done.stdout
    assert ("nbtune: the script ended while study 'bg' ran in the background "
            "(background=True): it is stopped") in done.stderr, done.stderr
    study = nbtune.load_study("bg", storage=str(tmp_path / "runs.db"))
    assert study.counts().get(T.INTERRUPTED) and any(t.reports for t in study.trials)
    assert not study.running_elsewhere
