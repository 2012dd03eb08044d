"""Remote Dask clusters and GPU-tagged workers (issue 7).

A real ``dask scheduler`` and real ``dask worker`` processes on 127.0.0.1, started here as
subprocesses; the "GPU" workers are CPU workers tagged with the resource ``GPU=1``, as on a machine
without GPUs. The GPU detection is tested against real ``nvidia-smi`` output formats.
"""
from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

# imported first inside a test's dask.config.set, distributed's config defaults would leave
# with the context, and the next Client fail (KeyError 'client')
import distributed  # noqa: F401
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nbtune
from nbtune import trial as T
from nbtune.run.cluster import close_clients, get_client
from nbtune.run.gpus import GPU, detect_gpus, gpu_devices, parse_nvidia_smi, visible
from nbtune.run.resources import check_resources, default_ask, slots, worker_info, workers_of
from nbtune.summary import trials_table
from nbtune.run.workers import WorkerSetupError, describe
from waiting import wait_for

DASK = str(Path(sys.executable).with_name("dask"))
TESTS = str(Path(__file__).parent)  # trial functions of this module are imported on the workers


class Processes:
    """Dask processes started by a test, stopped and reaped at the end."""

    def __init__(self, tmp: Path):
        self.tmp, self.procs = tmp, []

    def start(self, *args: str) -> subprocess.Popen:
        env = dict(os.environ, PYTHONPATH=TESTS)
        log = open(self.tmp / f"proc-{len(self.procs)}.log", "w")
        proc = subprocess.Popen([DASK, *args], cwd=self.tmp, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def scheduler(self, *tls: str, port: int = 0) -> str:
        """Start a scheduler on 127.0.0.1 (a free port, or ``port``) and return its address."""
        path = self.tmp / f"scheduler-{len(self.procs)}.json"
        self.start("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
                   "--scheduler-file", str(path), *tls)
        deadline = time.time() + 60
        while not path.exists() or not path.read_text().strip():
            assert time.time() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        time.sleep(0.1)  # the file is written at once; let it be complete
        return json.loads(path.read_text())["address"]

    def worker(self, address: str, *extra: str, nthreads: int = 1) -> subprocess.Popen:
        """Start one worker process (no nanny: its pid is the worker's) for ``address``."""
        return self.start("worker", address, "--nthreads", str(nthreads), "--nworkers", "1",
                          "--no-dashboard", "--no-nanny", "--host", "127.0.0.1", *extra)

    def stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)


def addresses(client) -> set[str]:
    return set(worker_info(client))  # scheduler_info's copy may read none


def worker_joined(client, before: set[str]) -> str:
    """The address of the one worker that joined since ``before``."""
    wait_for(lambda: addresses(client) - before, "a worker to join")
    (address,) = addresses(client) - before
    return address


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """A scheduler with a CPU worker (1 thread) and a GPU-tagged worker (2 threads, GPU=1)."""
    from distributed import Client

    procs = Processes(tmp_path_factory.mktemp("dask"))
    try:
        address = procs.scheduler()
        client = Client(address, set_as_default=False, timeout="30s")
        procs.worker(address, "--name", "cpu")
        cpu = worker_joined(client, set())
        procs.worker(address, "--name", "gpu", "--resources", "GPU=1", nthreads=2)
        gpu = worker_joined(client, {cpu})
        yield {"address": address, "client": client, "cpu": cpu, "gpu": gpu, "procs": procs}
        client.close()
    finally:
        close_clients()
        procs.stop_all()


def sleeper(config):
    time.sleep(config["sleep"])
    return config["x"]


def sleeper_reading(config, big):
    time.sleep(config["sleep"])
    return config["x"] + float(big[0]) - 1


def overlap(trials, worker: str | None = None) -> int:
    """The most trials that ran at the same moment (on ``worker``, or anywhere)."""
    edges = sorted([(t.started, 1) for t in trials if worker in (None, t.worker)] +
                   [(t.finished, -1) for t in trials if worker in (None, t.worker)])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def study_of(remote, resources, n_trials=4, sleep=0.6, storage=None, **kwargs):
    return nbtune.tune(sleeper, {"x": nbtune.uniform(0, 1), "sleep": nbtune.fixed(sleep)},
                       metric="x", n_trials=n_trials, seed=0, cluster=remote["address"],
                       storage=storage, progress=False, resources=resources, **kwargs)


def test_the_workers_are_read_from_the_scheduler_not_the_clients_copy(client, monkeypatch):
    """Before Dask 2026.11, client.scheduler_info(n_workers=-1) returned the client's copy,
    which Dask's own refresh every 2 s replaces with the cluster's totals, no workers: read
    between the two, a cluster of two workers had none (a make test run). nbtune asks the
    scheduler, whichever Dask it runs on."""
    import inspect

    assert len(worker_info(client)) == 2 and len(workers_of(client)) == 2
    if "n_workers" not in inspect.signature(client.scheduler_info).parameters:
        return  # an older Dask (2024.8): its copy holds every worker, no race to reproduce
    real = client._update_scheduler_info

    async def refreshed_meanwhile(n_workers=0):
        fetched = await real(n_workers=n_workers)
        if n_workers:  # Dask's timer lands before the caller reads the copy
            await real(n_workers=0)
        return fetched  # what Dask 2026.11's scheduler_info returns, instead of its copy

    monkeypatch.setattr(client, "_update_scheduler_info", refreshed_meanwhile)
    assert client._update_scheduler_info is refreshed_meanwhile  # the refresh lands every time
    assert len(worker_info(client)) == 2 and len(workers_of(client)) == 2
    assert client._scheduler_identity["workers"] == {}  # the copy Dask before 2026.11 returned


# -- on a remote cluster ---------------------------------------------------------------------
def test_slots_follow_the_workers_threads_and_resources(remote):
    workers = workers_of(remote["client"])
    gpu = workers[remote["gpu"]]
    assert {k: gpu[k] for k in ("nthreads", "resources", "name", "status")} == {
        "nthreads": 2, "resources": {"GPU": 1.0}, "name": "gpu", "status": "running"}
    assert 0 < gpu["memory"] < gpu["memory_limit"]
    assert slots(workers, None) == 3
    assert slots(workers, {"GPU": 1}) == 1
    assert slots(workers, {"GPU": 0.5}) == 2
    assert slots(workers, {"GPU": 0.25}) == 2  # four fit the GPU, two the threads
    assert slots({"w": {"nthreads": 10, "resources": {"GPU": 1}}}, {"GPU": 0.1}) == 10


def test_a_trial_that_asks_for_nothing_asks_for_a_cpu_only_beside_gpu_workers():
    gpu = {"nthreads": 4, "resources": {"GPU": 1}}
    cpu = {"nthreads": 1, "resources": {"CPU": 1}}
    plain = {"nthreads": 1, "resources": {}}
    assert default_ask({"g": gpu, "c": cpu}, None) == {"CPU": 1.0}
    assert default_ask({"g": gpu, "c": cpu}, {"GPU": 0.5}) == {"GPU": 0.5}
    assert default_ask({"g": gpu, "p": plain}, None) is None  # a cluster without CPU tags
    assert default_ask({"c": cpu, "p": plain}, None) is None  # no GPU workers
    # every worker offers CPU: the GPU workers that join later get no CPU trial (round 34)
    assert default_ask({"c": cpu, "d": cpu}, None) == {"CPU": 1.0}


def test_the_capacity_decides_the_ask_again_as_workers_join():
    """A study started on a cluster with no workers yet asked for nothing, and kept asking
    for nothing once CPU and GPU workers joined: its CPU trials ran on the GPU workers
    (first-day test, round 33). A study's own ask stays as given."""
    from nbtune.run.resources import Capacity

    cpu = {"nthreads": 1, "resources": {"CPU": 1.0}}
    gpu = {"nthreads": 1, "resources": {"GPU": 1.0}}
    implicit, given = Capacity(None, None), Capacity(None, {"GPU": 1.0}, given={"GPU": 1.0})
    implicit.set({})
    assert implicit.asked is None
    for capacity in (implicit, given):
        capacity.set({"c": cpu, "g": gpu})
    assert implicit.asked == {"CPU": 1.0} and given.asked == {"GPU": 1.0}
    implicit.set({"g": gpu})  # the CPU workers gone: the trials keep asking (and wait)
    assert implicit.asked == {"CPU": 1.0} and implicit.now == 0


def test_gpu_trials_land_only_on_tagged_workers_one_at_a_time(remote):
    study = study_of(remote, {"GPU": 1})
    assert [t.state for t in study.trials] == [T.COMPLETED] * 4
    assert {t.worker for t in study.trials} == {remote["gpu"]}
    assert overlap(study.trials) == 1


def test_half_a_gpu_runs_two_trials_at_once_on_a_two_thread_gpu_worker(remote):
    study = study_of(remote, {"GPU": 0.5}, n_trials=4, sleep=1.0)
    assert {t.worker for t in study.trials} == {remote["gpu"]}
    assert overlap(study.trials) == 2


def test_a_resumed_study_asks_for_the_gpus_it_was_run_with(remote, tmp_path):
    """A resume took only what the study stored, and the GPUs were not stored: the resumed trials
    of a GPU study ran on the CPU worker (first-day test, round 11)."""
    db = str(tmp_path / "gpu.db")
    study_of(remote, {"GPU": 1}, n_trials=2, sleep=0, storage=db, study="g")
    resumed = study_of(remote, None, n_trials=4, sleep=0, storage=db, study="g", resume=True)
    assert len(resumed.trials) == 4 and {t.worker for t in resumed.trials} == {remote["gpu"]}
    with pytest.raises(ValueError, match=r"^study 'g' was run with resources=\{'GPU': 1.0\}, "
                                         r"not resources=\{'CPU': 1.0\}: leave resources out"):
        study_of(remote, {"CPU": 1}, n_trials=6, sleep=0, storage=db, study="g", resume=True)


def test_gpu_workers_that_join_a_running_cpu_study_get_none_of_its_trials(tmp_path):
    """The CPU ask beside GPU workers was decided once, from the workers there as the study
    started: a CPU study started before the GPU workers joined (a team cluster coming up, a GPU
    machine restarted) put its trials on them (first-day test, round 33)."""
    from distributed import Client

    procs = Processes(tmp_path)
    try:
        address = procs.scheduler()
        client = Client(address, set_as_default=False, timeout="30s")
        procs.worker(address, "--name", "cpu", "--resources", "CPU=1")
        cpu = worker_joined(client, set())
        study = nbtune.tune(sleeper, {"x": nbtune.uniform(0, 1), "sleep": nbtune.fixed(0.3)},
                            metric="x", n_trials=20, seed=0, cluster=address, progress=False,
                            background=True)
        wait_for(lambda: study.completed, "a first trial")
        procs.worker(address, "--name", "gpu", "--resources", "GPU=1")
        worker_joined(client, {cpu})  # the GPU worker, which no trial may use
        joined = time.time()
        study.wait()
        assert len(study.completed) == 20 and max(t.started for t in study.trials) > joined
        # none, not even one sent in the second before a look-up saw it (round 34): the CPU
        # workers offer CPU, so the trials asked for one from the start
        assert {t.worker for t in study.trials} == {cpu}, [(t.id, t.worker) for t in study.trials]
        client.close()
    finally:
        close_clients()
        procs.stop_all()


def reads_relative(config):
    with open("data.csv") as f:  # the notebook's folder holds it; the worker's does not
        return len(f.read())


def test_a_file_not_found_by_a_relative_path_says_where_the_worker_looked(remote, tmp_path,
                                                                          monkeypatch):
    """A team's cluster runs its trials in its workers' folder: a trial's read_csv("data.csv")
    failed with a bare FileNotFoundError (first-day test, round 33)."""
    (tmp_path / "data.csv").write_text("x\n1\n")
    monkeypatch.chdir(tmp_path)
    study = nbtune.tune(reads_relative, {"x": nbtune.uniform(0, 1)}, metric="x", n_trials=1,
                        cluster=remote["address"], storage=None, progress=False,
                        fail_fast=False)
    error = study.trials[0].error
    worker_folder = remote["client"].run(os.getcwd, workers=[study.trials[0].worker])
    # the folders at the end, which the panel's one-line view keeps (round 34)
    assert error.endswith(
        "FileNotFoundError: [Errno 2] No such file or directory: 'data.csv'\n"
        "nbtune: give an absolute path on a disk the workers share, or send the data with the "
        "study (with_parameters): 'data.csv' was looked for in the worker's folder, "
        f"{worker_folder[study.trials[0].worker]}, not the notebook's, {tmp_path}\n"), error


def reads_environ(config):
    import os
    return len(os.environ["NBTUNE_TEST_DATA_DIR"])  # set in the notebook, not on the workers


def test_an_environment_variable_set_in_the_notebook_only_says_where_to_set_it(remote,
                                                                            monkeypatch):
    """A notebook's os.environ["DATA_DIR"] = ... does not reach a cluster started elsewhere:
    the trials read a bare KeyError: 'DATA_DIR' (first-day test, round 67)."""
    monkeypatch.setenv("NBTUNE_TEST_DATA_DIR", "/data")
    study = nbtune.tune(reads_environ, {"x": nbtune.uniform(0, 1)}, metric="x", n_trials=1,
                        cluster=remote["address"], storage=None, progress=False,
                        fail_fast=False)
    error = study.trials[0].error
    assert error.endswith(
        "KeyError: 'NBTUNE_TEST_DATA_DIR'\nnbtune: the environment variable "
        "'NBTUNE_TEST_DATA_DIR' is set in the notebook's process, not on the worker that ran "
        "the trial: set it where the workers start (NBTUNE_TEST_DATA_DIR=... dask worker ...), "
        "or read it in the notebook and pass its value in (a fixed(...) space entry, or "
        "with_parameters)"), error
    monkeypatch.delenv("NBTUNE_TEST_DATA_DIR")  # unset in the notebook too: a KeyError alone
    study = nbtune.tune(reads_environ, {"x": nbtune.uniform(0, 1)}, metric="x", n_trials=1,
                        cluster=remote["address"], storage=None, progress=False,
                        fail_fast=False)
    assert study.trials[0].error.rstrip().endswith("KeyError: 'NBTUNE_TEST_DATA_DIR'")


def test_a_resource_no_worker_offers_fails_before_any_trial(remote):
    with pytest.raises(ValueError, match=r"no worker offers TPU=1: the workers offer") as info:
        study_of(remote, {"TPU": 1})
    assert remote["gpu"] in str(info.value) and "--resources TPU=1" in str(info.value)
    with pytest.raises(ValueError, match=r"--resources GPU=2` or ask for at most GPU=1$"):
        study_of(remote, {"GPU": 2})  # it said "or drop --gpus" to a cell that gave --resources


def test_fractions_beyond_the_threads_of_the_gpu_workers_are_noted(remote):
    with pytest.warns(UserWarning, match=r"the workers' resources allow 4 trials at once but "
                      r"their threads only 2: give the workers that offer GPU more threads"
                      ) as warned:
        study = study_of(remote, {"GPU": 0.25}, n_trials=1, sleep=0)
    assert warned[0].filename == __file__  # study_of's tune() line, not nbtune's own
    assert study.trials[0].worker == remote["gpu"]


def test_a_worker_killed_mid_study_is_survived(remote):
    client, procs = remote["client"], remote["procs"]
    victim = procs.worker(remote["address"], "--name", "victim", "--resources", "GPU=1")
    victim_address = worker_joined(client, addresses(client))
    try:
        study = study_of(remote, {"GPU": 1}, n_trials=4, sleep=1.5, background=True)
        wait_for(lambda: any(t.worker == victim_address and t.state == T.RUNNING
                             for t in study.trials), "a trial on the victim")
        os.kill(victim.pid, signal.SIGKILL)
        study.wait()
    finally:
        procs.stop(victim)
    assert [t.state for t in study.trials] == [T.COMPLETED] * 4
    assert all(t.worker != victim_address for t in study.trials)
    assert max(t.attempts for t in study.trials) == 2


class Waiting(nbtune.Observer):
    """The trials the loop said wait again, with how the views showed each then."""

    def __init__(self):
        self.seen: list[tuple[int, str]] = []

    def trial_waiting(self, trial):
        self.seen.append((trial.id, T.shown_state(trial)))


def reports_then_sleeps(config):
    nbtune.report(epoch=1, x=config["x"])
    time.sleep(4)
    return config["x"]


def test_a_trial_whose_worker_left_shows_queued_until_another_runs_it(remote, tmp_path):
    """On a user's cluster no nanny starts a killed worker again: its trial read "running" for
    good while Dask held it for another worker. It shows queued, in the views and the file,
    until one runs it."""
    client, procs = remote["client"], remote["procs"]
    victim = procs.worker(remote["address"], "--name", "victim", "--resources", "SOLE=1")
    victim_address = worker_joined(client, addresses(client))
    db = str(tmp_path / "left.db")
    waiting = Waiting()
    heir = study = None
    try:
        study = nbtune.tune(reports_then_sleeps, {"x": nbtune.uniform(0, 1)}, metric="x",
                            n_trials=1, seed=0, cluster=remote["address"], storage=db,
                            study="left", progress=False, resources={"SOLE": 1},
                            background=True, observers=[waiting])
        wait_for(lambda: study.trials and study.trials[0].worker == victim_address
                 and study.trials[0].reports, "the trial to report on the victim")
        os.kill(victim.pid, signal.SIGKILL)
        wait_for(lambda: waiting.seen, "the trial to be seen waiting", 30)
        assert waiting.seen == [(0, T.QUEUED)]
        assert T.shown_counts(study.trials) == {T.QUEUED: 1}
        # the table says so too, as the counts do (it said "running": check round 40)
        headers, rows, _ = trials_table(study, 10)
        assert rows[0][headers.index("state")] == "queued", (headers, rows)
        assert nbtune.load_study("left", storage=db).trials[0].worker is None
        heir = procs.worker(remote["address"], "--name", "heir", "--resources", "SOLE=1")
        assert study.wait(60)
    finally:
        if study is not None and study.running:
            study.stop()
        procs.stop(victim)
        if heir is not None:
            procs.stop(heir)
    (trial,) = study.trials
    assert trial.state == T.COMPLETED and trial.attempts == 2
    assert trial.worker not in (None, victim_address)


def on_a_new_worker(config):
    """1 once the trial runs on a worker that was not there when the study began."""
    from distributed import get_worker

    time.sleep(0.2)
    return float(get_worker().address not in config["known"])


class Connection(nbtune.Observer):
    """Records what the loop says of its scheduler: True lost, False back."""

    def __init__(self):
        self.changes: list[bool] = []

    def scheduler_connection(self, lost):
        self.changes.append(lost)


def test_a_lost_scheduler_is_said_in_the_progress_while_the_client_reconnects():
    from nbtune.text_view import TextProgress

    view = TextProgress(nbtune.Study("s", nbtune.Space({}), "loss", "min"), stream=io.StringIO())
    view.info = {"address": "tcp://10.0.0.5:8786"}
    assert "scheduler" not in view.line()
    view.scheduler_connection(True)
    view.lost_at -= 4
    assert ("| lost the Dask scheduler at tcp://10.0.0.5:8786 4 s ago: reconnecting, no trial is "
            "sent meanwhile |") in view.line()
    view.scheduler_connection(False)
    assert "scheduler" not in view.line()


def scheduler_lost(procs: Processes, db: str, name: str, reconnect: str, sleep: float,
                   data: bool = False):
    """A study on a scheduler and worker of ``procs`` whose scheduler is killed (SIGKILL) while
    a trial runs, once the loss is told (its client reconnects for ``reconnect``): (address,
    study, what the loop said of its scheduler). ``data``: the trials read an array sent with
    them, as a %%tune cell's notebook arrays are."""
    import numpy as np
    from distributed import Client

    address = procs.scheduler()
    procs.worker(address)
    client = Client(address, set_as_default=False, timeout=reconnect)
    client.wait_for_workers(1)
    heard = Connection()
    fn = nbtune.with_parameters(sleeper_reading, big=np.ones(300_000)) if data else sleeper
    study = nbtune.tune(fn, {"x": nbtune.uniform(0, 1), "sleep": sleep}, metric="x",
                        n_trials=3, cluster=client, storage=db, study=name, progress=False,
                        background=True, observers=[heard])
    wait_for(lambda: any(t.started for t in study.trials), "a trial to start")
    os.kill(procs.procs[0].pid, signal.SIGKILL)  # the scheduler's machine went away
    wait_for(lambda: heard.changes == [True], "the loss to be told while it reconnects")
    return address, study, heard


def test_nbtunes_client_reconnects_for_dasks_connect_timeout_not_its_first_10_s(tmp_path):
    """nbtune waits at most 10 s for a scheduler's first answer, and Dask's Client reconnects
    for its timeout: a scheduler restarted by hand, back after 15 s, had been given up on after
    10 (first-day test, round 33). A Client made without a timeout reconnects for Dask's."""
    import dask

    procs = Processes(tmp_path)
    try:
        address = procs.scheduler()
        with dask.config.set({"distributed.comm.timeouts.connect": "45s"}):
            client = get_client(address)
        assert client._timeout == 45  # what Client._reconnect waits for
    finally:
        close_clients()
        procs.stop_all()


def test_a_lost_scheduler_ends_the_study_recorded_instead_of_hanging(tmp_path):
    procs = Processes(tmp_path)
    db = str(tmp_path / "lost.db")
    try:
        address, study, heard = scheduler_lost(procs, db, "lost", "3s", sleep=30.0)
        assert study.running  # told while the client reconnects, before the study ends
        study.wait(120)
        assert heard.changes == [True]  # it never came back
        assert not study.running
    finally:
        procs.stop_all()
    assert study.stop_reason == "error"
    assert study.error.startswith(f"study 'lost' stopped: lost the Dask scheduler at {address}")
    assert [t.state for t in study.trials] == [T.INTERRUPTED]
    stored = nbtune.load_study("lost", storage=db)
    assert stored.stop_reason == "error"
    assert [(t.state, t.error) for t in stored.trials] == [
        (T.INTERRUPTED, "the Dask scheduler was lost while it ran")]


def test_trials_a_lost_scheduler_cut_short_run_again_once_it_is_back(tmp_path):
    """A scheduler restarted mid-study: the trials it cut short counted as interrupted toward
    n_trials, and the study ended with 9 results of 12 (first-day test, round 10). The data the
    trials read is sent again once a worker is back (it left with the scheduler: the study
    ended "the data sent with the trials was lost", round 55)."""
    procs = Processes(tmp_path)
    db = str(tmp_path / "back.db")
    try:
        address, study, heard = scheduler_lost(procs, db, "back", "60s", sleep=1.0, data=True)
        port = int(address.rsplit(":", 1)[1])  # it comes back on its address, with a worker
        assert procs.scheduler(port=port) == address
        procs.worker(address)
        study.wait(120)
        assert heard.changes == [True, False]
    finally:
        procs.stop_all()
    assert study.stop_reason == "n_trials"
    assert [t.state for t in study.trials] == [T.COMPLETED] * 3  # none left interrupted
    assert max(t.attempts for t in study.trials) == 2  # the one cut short ran again
    again = [t.id for t in study.trials if t.attempts == 2]
    assert study.settings.get("retried") == {str(i): 1 for i in again}  # the summary's line
    assert {t.state for t in nbtune.load_study("back", storage=db).trials} == {T.COMPLETED}


def test_the_panel_asks_no_lost_scheduler_and_says_when_it_came_back_without_workers(tmp_path):
    """A scheduler restarted mid-study: the panel froze at "lost ... 0 s ago" for 22 s, its
    redraw waiting on a lookup of the workers that waited for the lost scheduler, and never
    said that the workers had left with it (first-day test, round 18)."""
    from distributed import Client

    from nbtune.run.resources import Capacity

    procs = Processes(tmp_path)
    client = None
    try:
        address = procs.scheduler()
        procs.worker(address)
        client = Client(address, set_as_default=False, timeout="60s")
        client.wait_for_workers(1)
        capacity = Capacity(client, None, every=0.0)
        assert capacity() == 1 and capacity.starved() == ""
        os.kill(procs.procs[0].pid, signal.SIGKILL)
        wait_for(lambda: client.status not in ("running", "newly-created"), "the loss")
        asked = threading.Thread(target=capacity, daemon=True)
        asked.start()
        asked.join(10)  # a lookup waits for the reconnection, up to Dask's 30 s connect timeout
        assert not asked.is_alive()
        assert capacity() == 1  # the last count stands meanwhile
        procs.scheduler(port=int(address.rsplit(":", 1)[1]))
        wait_for(lambda: client.status == "running", "the client to reconnect")
        wait_for(lambda: capacity() == 1 and capacity.now == 0, "the workers looked up again")
        assert capacity.starved() == (
            "the scheduler is back without workers (Dask's workers leave with their scheduler): "
            f"start them again (`dask worker {address}`), or stop the study")
        procs.worker(address)
        wait_for(lambda: capacity() == 1 and capacity.now == 1, "the new worker")
        assert capacity.starved() == ""
    finally:
        if client is not None:
            client.close()
        procs.stop_all()


def test_a_worker_that_joins_mid_study_is_used(remote):
    client, procs = remote["client"], remote["procs"]
    known = sorted(addresses(client))
    study = nbtune.tune(on_a_new_worker, {"known": nbtune.fixed(known)}, metric="new",
                        mode="max", target=1, n_trials=500, max_time=90,
                        cluster=remote["address"], storage=None, progress=False,
                        resources={"GPU": 1}, background=True)
    wait_for(lambda: len(study.trials) >= 2, "the study to run")
    joiner = procs.worker(remote["address"], "--name", "joiner", "--resources", "GPU=1")
    try:
        study.wait()
    finally:
        procs.stop(joiner)
    assert study.stop_reason == "target"
    assert study.best.worker not in known


HIDE_NBTUNE = """\
import sys

class HideNbtune:
    \"\"\"This worker's Python cannot import nbtune, as on a worker where it is not installed.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name == "nbtune" or name.startswith("nbtune."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, HideNbtune())
"""

OLD_NBTUNE = """\
import nbtune
nbtune.__version__ = "0.0.1"  # this worker's nbtune is another release than the notebook's
"""


def test_workers_without_nbtune_or_with_another_version_are_named(remote, tmp_path):
    client, procs = remote["client"], remote["procs"]
    for name, text in (("hide_nbtune.py", HIDE_NBTUNE), ("old_nbtune.py", OLD_NBTUNE)):
        (tmp_path / name).write_text(text)
    before = addresses(client)
    worker = procs.worker(remote["address"], "--preload", str(tmp_path / "hide_nbtune.py"))
    address = worker_joined(client, before)
    try:
        with pytest.raises(WorkerSetupError, match=rf"worker {address} cannot import nbtune "
                           rf"\(ModuleNotFoundError.*pip install nbtune==0\.1\.0 there"):
            study_of(remote, None)
    finally:
        procs.stop(worker)
    wait_for(lambda: address not in addresses(client), "the worker to leave")
    worker = procs.worker(remote["address"], "--preload", str(tmp_path / "old_nbtune.py"))
    address = worker_joined(client, before)
    try:
        with pytest.warns(UserWarning, match=rf"{address} has nbtune 0\.0\.1"):
            study = study_of(remote, {"GPU": 1}, n_trials=1, sleep=0)
    finally:
        procs.stop(worker)
    assert study.trials[0].state == T.COMPLETED
    wait_for(lambda: address not in addresses(client), "the worker to leave")


BROKEN_DEPENDENCY = """\
import sys

class BreakNbtune:
    \"\"\"nbtune is there, but one of its dependencies is not: its import fails.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name == "nbtune":
            raise ModuleNotFoundError("No module named 'sklearn'", name="sklearn")
        return None

sys.meta_path.insert(0, BreakNbtune())
"""


def test_a_broken_worker_stops_only_the_studies_whose_trials_it_could_run(remote, tmp_path):
    """One colleague's worker that could not import nbtune stopped every study on a shared
    cluster, also those whose trials it could never run; and the fix offered was to install
    nbtune where a dependency of it was missing (first-day test, round 18)."""
    client, procs = remote["client"], remote["procs"]
    (tmp_path / "broken.py").write_text(BROKEN_DEPENDENCY)
    before = addresses(client)
    worker = procs.worker(remote["address"], "--preload", str(tmp_path / "broken.py"))
    address = worker_joined(client, before)
    try:
        with pytest.warns(UserWarning) as seen:  # it offers no GPU: GPU trials never go there
            study = study_of(remote, {"GPU": 1}, n_trials=1, sleep=0)
        assert study.trials[0].state == T.COMPLETED
        (line,) = [str(w.message) for w in seen if "cannot import" in str(w.message)]
        assert line.startswith(f"worker {address} cannot import nbtune (ModuleNotFoundError: "
                               "No module named 'sklearn'): this study's trials do not go there")
        assert "mend that import there" in line and "pip install" not in line
        with pytest.raises(WorkerSetupError, match=rf"worker {address} cannot import nbtune "
                           r"\(ModuleNotFoundError: No module named 'sklearn'\): mend that "):
            study_of(remote, None)  # its trials could go there
        info = describe(client)
        assert info.nbtune[address] == ("cannot import it (ModuleNotFoundError: No module "
                                        "named 'sklearn')")
        assert info.nbtune[remote["gpu"]] == nbtune.__version__
        assert re.search(rf"{remote['gpu']} \(gpu\)  threads=2  resources: GPU=1  memory: "
                         rf"[\d.]+ MiB of [\d.]+ GiB  nbtune: {nbtune.__version__}$",
                         repr(info), re.M), repr(info)
        assert "<th>nbtune</th>" in info._repr_html_()
    finally:
        procs.stop(worker)
    wait_for(lambda: address not in addresses(client), "the worker to leave")


def test_a_worker_on_another_copy_of_the_same_version_is_named(remote, tmp_path):
    """A worker started from another checkout, of the same version, ran the trials in silence
    (first-day test, round 18): the probe tells copies apart by their files."""
    import shutil

    client, procs = remote["client"], remote["procs"]
    copy = tmp_path / "checkout" / "nbtune"
    shutil.copytree(Path(nbtune.__file__).parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__", "labextension"))
    with open(copy / "trial.py", "a") as f:
        f.write("\n# a change of this checkout's\n")
    (tmp_path / "other_copy.py").write_text(
        f"import sys\nsys.path.insert(0, {str(copy.parent)!r})\n")
    before = addresses(client)
    worker = procs.worker(remote["address"], "--preload", str(tmp_path / "other_copy.py"))
    address = worker_joined(client, before)
    try:
        info = describe(client)
        assert info.nbtune[address] == f"{nbtune.__version__}, another copy ({copy})"
        assert info.nbtune[remote["cpu"]] == nbtune.__version__
        with pytest.warns(UserWarning, match=rf"worker {address} has another copy of nbtune "
                          rf"{nbtune.__version__} \({copy}\); run the workers on the "
                          "notebook's"):
            study = study_of(remote, None, n_trials=2, sleep=0)
    finally:
        procs.stop(worker)
    assert {t.state for t in study.trials} == {T.COMPLETED}
    wait_for(lambda: address not in addresses(client), "the worker to leave")


def test_an_unreachable_address_or_a_bad_scheme_is_one_clear_error(tmp_path):
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(ConnectionError, match="cannot reach the Dask scheduler at "):
            nbtune.tune(sleeper, {"x": nbtune.uniform(0, 1)}, metric="x", n_trials=1,
                        cluster="tcp://127.0.0.1:9", storage=str(tmp_path / "runs.db"),
                        progress=False)
    assert list(tmp_path.iterdir()) == []  # the refused study left no empty file behind
    with pytest.raises(ValueError, match=r"unknown scheme 'http://'"):
        nbtune.tune(sleeper, {"x": nbtune.uniform(0, 1)}, metric="x", n_trials=1,
                    cluster="http://127.0.0.1:8786", storage=None, progress=False)


# -- the GPUs of this machine ----------------------------------------------------------------
NVIDIA_SMI_L = """\
GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-3b8a1b1e-9c1c-2f4e-8b1a-0f7f5e6d7c8b)
  MIG 3g.20gb     Device  0: (UUID: MIG-6f1c2e36-4a4f-5d6c-9e1b-2a3b4c5d6e7f)
GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-8d0e4f2a-1b3c-4d5e-6f70-8192a3b4c5d6)
"""
NVIDIA_SMI_QUERY = """\
0, GPU-3b8a1b1e-9c1c-2f4e-8b1a-0f7f5e6d7c8b, NVIDIA H100 80GB HBM3, 81559 MiB
1, GPU-8d0e4f2a-1b3c-4d5e-6f70-8192a3b4c5d6, NVIDIA H100 80GB HBM3, 81559 MiB
2, GPU-11111111-2222-3333-4444-555555555555, NVIDIA H100 80GB HBM3, 81559 MiB
"""


def test_nvidia_smi_output_is_parsed():
    listed = parse_nvidia_smi(NVIDIA_SMI_L)
    assert [(g.index, g.name) for g in listed] == [("0", "NVIDIA A100-SXM4-40GB"),
                                                   ("1", "NVIDIA A100-SXM4-40GB")]
    assert listed[1].uuid == "GPU-8d0e4f2a-1b3c-4d5e-6f70-8192a3b4c5d6"
    queried = parse_nvidia_smi(NVIDIA_SMI_QUERY)
    assert [(g.index, g.memory) for g in queried] == [("0", "81559 MiB"), ("1", "81559 MiB"),
                                                      ("2", "81559 MiB")]
    assert parse_nvidia_smi("NVIDIA-SMI has failed because it couldn't communicate with the "
                            "NVIDIA driver.") == []


def test_cuda_visible_devices_selects_and_orders_the_gpus():
    gpus = parse_nvidia_smi(NVIDIA_SMI_QUERY)
    assert [g.device for g in visible(gpus, None)] == ["0", "1", "2"]
    assert [g.device for g in visible(gpus, "2,0")] == ["2", "0"]
    assert [g.index for g in visible(gpus, "GPU-8d0e4f2a,7,0")] == ["1"]  # CUDA stops at 7
    assert visible(gpus, "GPU-8d0e4f2a")[0].device == "GPU-8d0e4f2a"
    assert visible(gpus, "") == [] and visible(gpus, "-1") == []


def test_the_gpu_count_can_be_overridden():
    assert gpu_devices(env={"NBTUNE_GPUS": "0"}) == []
    # the first two visible GPUs, or devices 0 and 1 where fewer are detected: ["0", "1"] either way
    assert gpu_devices(env={"NBTUNE_GPUS": "2"}) == ["0", "1"]
    assert gpu_devices(0, env={"NBTUNE_GPUS": "2"}) == []
    assert gpu_devices(["3", "GPU-8d0e"], env={}) == ["3", "GPU-8d0e"]
    # unset: what nvidia-smi lists (none on a machine without GPUs, each GPU on one with them)
    assert gpu_devices(env={}) == [g.device for g in detect_gpus(env={})]
    assert gpu_devices(env={"CUDA_VISIBLE_DEVICES": ""}) == []  # hides every GPU, as in CUDA
    with pytest.raises(ValueError, match="NBTUNE_GPUS must be a number of GPUs"):
        gpu_devices(env={"NBTUNE_GPUS": "all"})
    with pytest.raises(ValueError, match=">= 0"):
        gpu_devices(-1, env={})
    assert GPU("1").device == "1"


def test_a_cluster_with_no_workers_yet_is_waited_for_whatever_the_trials_ask():
    """A GPU study on a cluster scaled to zero was refused, where a CPU study waited (first-day
    test, round 33)."""
    assert check_resources({}, {"GPU": 1}) == 0
    assert check_resources({}, None) == 0


def test_a_resource_offered_under_another_case_is_named():
    """A worker started with --resources gpu=1 got no hint beside the list of what workers offer
    (first-day test, round 10)."""
    workers = {"tcp://10.0.0.1:1": {"nthreads": 1, "resources": {"gpu": 1.0}}}
    with pytest.raises(ValueError, match=r"^no worker offers GPU=1: the workers offer "
                                         r"\{'tcp://10.0.0.1:1': \{'gpu': 1.0\}\} \(a worker "
                                         r"offers 'gpu': resource names are case-sensitive\); "
                                         r"start workers with `dask worker \.\.\. --resources "
                                         r"GPU=1` or drop --gpus$"):
        check_resources(workers, {"GPU": 1.0})


# -- TLS -------------------------------------------------------------------------------------
def write_certificates(folder: Path) -> dict[str, str]:
    """A self-signed CA and a certificate it signs for 127.0.0.1: the paths of the PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject, issuer, key, signer, ca: bool):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nbtune test CA")])
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    ca = certificate(ca_name, ca_name, ca_key, ca_key, ca=True)
    cert = certificate(name, ca_name, key, ca_key, ca=False)
    paths = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return {k: str(v) for k, v in paths.items()}


def test_a_study_runs_over_tls(tmp_path):
    import dask
    from distributed.security import Security

    pem = write_certificates(tmp_path)
    tls = ("--tls-ca-file", pem["ca"], "--tls-cert", pem["cert"], "--tls-key", pem["key"])
    procs = Processes(tmp_path)
    try:
        address = procs.scheduler("--protocol", "tls", *tls)
        assert address.startswith("tls://")
        procs.worker(address, *tls)
        security = Security(tls_ca_file=pem["ca"], tls_client_cert=pem["cert"],
                            tls_client_key=pem["key"], require_encryption=True)
        study = nbtune.tune(sleeper, {"x": nbtune.uniform(0, 1), "sleep": nbtune.fixed(0)},
                            metric="x", n_trials=2, cluster=address, security=security,
                            storage=None, progress=False)
        assert [t.state for t in study.trials] == [T.COMPLETED] * 2
        assert all(t.worker.startswith("tls://") for t in study.trials)
        close_clients()
        # without security=, the certificates of Dask's configuration are used
        with dask.config.set({"distributed.comm.tls.ca-file": pem["ca"],
                              "distributed.comm.tls.client.cert": pem["cert"],
                              "distributed.comm.tls.client.key": pem["key"]}):
            study = nbtune.tune(sleeper, {"x": nbtune.uniform(0, 1), "sleep": nbtune.fixed(0)},
                                metric="x", n_trials=1, cluster=address, storage=None,
                                progress=False)
        assert study.trials[0].state == T.COMPLETED
    finally:
        close_clients()
        procs.stop_all()


# -- %tune_cluster ---------------------------------------------------------------------------
@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nbtune")
    shell.run_line_magic("config", "Tune.storage = ''")
    tune = next(c for c in shell.configurables if type(c).__name__ == "Tune")
    yield shell, tune
    tune.cluster = None
    shell.run_line_magic("config", "Tune.storage = 'nbtune.db'")
    for name in ("study", "mine", "number"):
        shell.user_ns.pop(name, None)


GPU_CELL = """\
x = uniform(0, 1)
import os
device = float(os.environ.get("CUDA_VISIBLE_DEVICES", "-1"))
"""


def test_tune_cluster_shows_and_switches_to_an_address_and_a_named_client(remote, ip):
    from distributed import Client

    shell, tune = ip
    info = shell.run_line_magic("tune_cluster", remote["address"])
    assert tune.cluster == remote["address"]
    text = repr(info)
    assert remote["address"] in text and remote["gpu"] in text and "GPU=1" in text
    # the names given to the workers (dask worker --name gpu) tell them apart
    assert f"{remote['gpu']} (gpu)  threads=2  resources: GPU=1" in text
    assert f"<code>{remote['cpu']} (cpu)</code>" in info._repr_html_()
    assert "<table>" in info._repr_html_()
    assert repr(shell.run_line_magic("tune_cluster", "")).splitlines()[0] == text.splitlines()[0]
    bare = remote["address"].removeprefix("tcp://")  # as Dask takes it: one client, not two
    shell.run_line_magic("tune_cluster", bare)
    assert get_client(bare) is get_client(remote["address"])

    shell.user_ns["mine"] = mine = Client(remote["address"], set_as_default=False)
    try:
        info = shell.run_line_magic("tune_cluster", "mine")
        assert tune.cluster is mine and remote["gpu"] in info.workers
        res = shell.run_cell(f"%%tune -n 2 --gpus 1 --metric device\n{GPU_CELL}")
        assert res.success, res.error_in_exec
        study = shell.user_ns["study"]
        assert {t.worker for t in study.trials} == {remote["gpu"]}
        with pytest.raises(UsageError, match=r"^%%tune: no worker offers GPU=4: the workers"):
            shell.run_cell_magic("tune", "-n 1 --gpus 4 --metric device", GPU_CELL)
    finally:
        mine.close()


def test_switching_to_another_cluster_closes_nbtunes_idle_one(remote, ip, capsys):
    """%load_ext started nbtune's local cluster, %tune_cluster ADDRESS moved the studies to a
    shared one, and two idle workers stayed for the kernel's life (first-day test, round 10).
    One that a study still runs on is kept."""
    import nbtune
    from nbtune.run.embedded import embedded_client, embedded_started

    shell, tune = ip
    embedded_client()
    study = nbtune.tune(sleeper, {"x": nbtune.uniform(0, 1), "sleep": 2.0}, metric="x",
                        n_trials=2, cluster="local", storage=None, progress=False,
                        background=True)
    wait_for(lambda: any(t.started for t in study.trials), "a trial on the local cluster")
    shell.run_line_magic("tune_cluster", remote["address"])
    assert embedded_started() and "closed" not in capsys.readouterr().out  # in use
    study.wait(60)
    assert len(study.completed) == 2
    shell.run_line_magic("tune_cluster", remote["address"])
    assert capsys.readouterr().out == ("nbtune: closed nbtune's local cluster, which no study "
                                       "uses now (`%tune_cluster local` starts it again)\n")
    assert not embedded_started()


def gpu_device(config):
    import os

    return float(os.environ.get("CUDA_VISIBLE_DEVICES", "-1"))


def test_nbtune_tune_given_no_cluster_uses_the_one_tune_cluster_chose(remote, ip):
    """nbtune.tune (and SearchCV) ran on a new local cluster after %tune_cluster ADDRESS, where
    the %%tune cells ran on the scheduler chosen; with resources={"GPU": 1} it blamed
    nvidia-smi (first-day test, round 10)."""
    import nbtune

    shell, tune = ip
    shell.run_line_magic("tune_cluster", remote["address"])
    study = nbtune.tune(gpu_device, {"x": nbtune.uniform(0, 1)}, metric="device", n_trials=2,
                        resources={"GPU": 1}, storage=None, progress=False)
    assert {t.worker for t in study.trials} == {remote["gpu"]}
    shell.run_line_magic("unload_ext", "nbtune")  # nbtune.tune is on its own again
    try:
        assert nbtune.run.cluster.default_cluster() is None
    finally:
        shell.run_line_magic("load_ext", "nbtune")


LOCAL_CELL = """\
x = uniform(0, 1)
import os, time
time.sleep(pause)
seen = os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
device = -2.0 if seen == "" else -1.0 if seen == "unset" else float(seen)
"""


def test_tune_cluster_local_starts_pinned_gpu_workers(ip):
    shell, tune = ip
    tune.cluster = "tcp://127.0.0.1:9"
    try:
        info = shell.run_line_magic("tune_cluster", "local --workers 2 --gpus 1")
        assert tune.cluster is None and info.kind == "local"
        (gpu,) = [a for a, w in info.workers.items() if "GPU" in w["resources"]]
        assert {k: info.workers[gpu][k] for k in ("nthreads", "resources", "name")} == {
            "nthreads": 4, "resources": {"GPU": 1.0}, "name": "gpu-0"}
        cpus = {a for a in info.workers if a != gpu}
        assert [(info.workers[a]["nthreads"], info.workers[a]["resources"]) for a in cpus] == \
            [(1, {"CPU": 1.0})] * 2
        assert ", 3 workers, 6 threads\n" in repr(info)
        one = type(info)("tcp://10.0.0.5:8786", None, {gpu: info.workers[gpu]}, kind="local")
        assert repr(one).startswith("nbtune cluster: local tcp://10.0.0.5:8786, 1 worker, 4 "
                                    "threads\n")  # it said "1 workers"
        assert ": 1 worker, 4 threads; dashboard -" in one._repr_html_()

        def run(line: str, pause: float = 0.0):
            shell.user_ns["pause"] = pause
            res = shell.run_cell(f"%%tune {line} --metric device\n{LOCAL_CELL}")
            assert res.success, res.error_in_exec
            return shell.user_ns["study"]

        study = run("-n 2 --gpus 1")  # on the GPU worker, which sees its GPU alone
        assert {t.worker for t in study.trials} == {gpu}
        assert [t.value for t in study.trials] == [0.0, 0.0]  # CUDA_VISIBLE_DEVICES="0"
        study = run("-n 3")  # asks for no GPU: on the CPU workers, which see none
        assert {t.worker for t in study.trials} <= cpus
        assert [t.value for t in study.trials] == [-2.0] * 3  # CUDA_VISIBLE_DEVICES=""
        # stored as asked (nothing): a resume asks again, and gets CPU=1 where GPU workers are
        assert study.settings["resources"] is None
        study = run("-n 4 --gpus 0.25", pause=1.0)  # a quarter each: four share the GPU at once
        assert {t.worker for t in study.trials} == {gpu}
        assert overlap(study.trials) == 4
        assert get_client("local") is get_client(None)  # tune(cluster="local") uses it too
    finally:
        close_clients()


def test_a_gpu_asked_of_a_local_cluster_without_gpus_says_how_to_get_one(ip):
    shell, tune = ip
    try:
        shell.run_line_magic("tune_cluster", "local --workers 1 --gpus 0")
        with pytest.raises(UsageError) as info:
            shell.run_cell_magic("tune", "-n 1 --gpus 1 --metric device", GPU_CELL)
        message = str(info.value)
        assert message.startswith("%%tune: no worker offers GPU=1: nbtune's local cluster starts "
                                  "a GPU worker for each GPU that nvidia-smi lists"), message
        assert "drop --gpus" in message and "NBTUNE_GPUS=N" in message and "\n" not in message
    finally:
        close_clients()


@pytest.fixture
def not_schedulers():
    """Two addresses where something other than a Dask scheduler answers: a port that accepts
    and says nothing (as a dashboard, or any web server, does to a Dask client), and one that
    answers in HTTP at once (as the proxy of a first-day test did)."""
    import socket

    silent = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never speaks
    http = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        while True:
            try:
                conn, _ = http.accept()
            except OSError:  # closed: the test is over
                return
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            conn.close()

    threading.Thread(target=answer, daemon=True).start()
    yield {"silent": f"tcp://127.0.0.1:{silent.getsockname()[1]}",
           "http": f"tcp://127.0.0.1:{http.getsockname()[1]}"}
    http.close()
    silent.close()


def test_an_address_where_no_scheduler_answers_is_one_line_not_a_hang(ip, not_schedulers):
    """A dashboard's port held %tune_cluster for 90 s with no word; a proxy's HTTP reply was read
    as a message of 3 EiB, a MemoryError from deep in Dask (first-day test, round 8)."""
    import dask

    shell, tune = ip
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        for kind, said in (("silent", "said nothing in 2 s: it is not a Dask scheduler (a "
                                      "dashboard or another web server?"),
                           ("http", "a web server answers at ")):
            t0 = time.monotonic()
            with pytest.raises(UsageError) as info:
                shell.run_line_magic("tune_cluster", not_schedulers[kind])
            assert said in str(info.value) and "\n" not in str(info.value), info.value
            assert time.monotonic() - t0 < 10 and tune.cluster is None
        with pytest.raises(ConnectionError, match="a web server answers at "):
            nbtune.tune(sleeper, {"x": nbtune.uniform(0, 1)}, metric="x", n_trials=1,
                        cluster=not_schedulers["http"], storage=None, progress=False)


@pytest.mark.parametrize("line, message", [
    ("local --gpus -1", r"--gpus needs an integer >= 0, got '-1'"),
    ("local --workers many", r"--workers needs an integer >= 0, got 'many'"),
    ("local --workers 2 --workers 3", r"--workers given twice \(--workers 2 and --workers 3\)"),
    ("local --cpus 3", r"unknown option '--cpus'"),
    ("http://127.0.0.1:8786", r"unknown scheme 'http://'"),
    # refused: said after 2 s, not after the Client's whole connect timeout (first-day test,
    # round 10)
    ("tcp://127.0.0.1:9", r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:9': nothing "
                          r"listens there \(connection refused for 2 s\); check the address"),
    ("nosuchname", r"'nosuchname' is not defined in the notebook"),
    ("number", r"'number' is a int, not a Dask Client or cluster"),
    ("tcp://127.0.0.1:9 extra", r"unexpected 'extra'"),
    # it said "missing port number in address '--local'" (first-day test, round 10)
    ("--local", r"'--local' is not an address or a name \(did you mean 'local'\?\): give "),
])
def test_tune_cluster_errors_are_one_line(ip, line, message):
    import dask

    shell, tune = ip
    shell.user_ns["number"] = 3
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(UsageError, match=r"^%tune_cluster: " + message) as info:
            shell.run_line_magic("tune_cluster", line)
    assert "\n" not in str(info.value) and tune.cluster is None


def test_a_closed_client_is_named_in_one_line(ip):
    """A Client closed after %tune_cluster took it (`with Client(...) as c:` in an earlier cell)
    gave Dask's "IOLoop is closed" with its frames at every study (first-day test, round 33)."""
    from distributed import Client, LocalCluster

    shell, tune = ip
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        client = Client(cluster, set_as_default=False)
        client.close()
        said = r"the Dask Client given as the cluster is closed \(`with Client\(...\) as c:`"
        with pytest.raises(ConnectionError, match="^" + said):
            nbtune.tune(sleeper, {"x": nbtune.uniform(0, 1)}, metric="x", n_trials=1,
                        cluster=client, storage=None, progress=False)
        shell.user_ns["closed"] = client
        with pytest.raises(UsageError, match=r"^%tune_cluster: " + said) as info:
            shell.run_line_magic("tune_cluster", "closed")
        assert "\n" not in str(info.value) and tune.cluster is None


def test_the_schedulers_lines_about_nbtunes_own_tasks_stay_out_of_the_cell():
    """`%tune_cluster ADDRESS` just after a cell's imports closed the local cluster while its
    workers imported the notebook's modules: "distributed.scheduler - ERROR - Task
    nbtune-import-... marked as failed because 1 workers died" in the cell (round 34)."""
    import logging

    from nbtune.run.local import _TrialTaskNoise

    noise = _TrialTaskNoise()

    def kept(key: str) -> bool:
        return noise.filter(logging.LogRecord(
            "distributed.scheduler", logging.ERROR, __file__, 1, "Task %s marked as failed "
            "because %d workers died while trying to run it", (key, 1), None))

    assert not kept("nbtune-import-2bbfa3848f8c") and not kept("nbtune-trial-ab-3-1")
    assert kept("inc-2bbfa3848f8c")  # the user's own tasks' lines are Dask's to show


def test_unload_removes_tune_cluster():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nbtune")
    shell.run_line_magic("unload_ext", "nbtune")
    try:
        assert "tune_cluster" not in shell.magics_manager.magics["line"]
    finally:
        shell.run_line_magic("load_ext", "nbtune")


def blas_threads(config):
    from threadpoolctl import threadpool_info

    return float(max(info["num_threads"] for info in threadpool_info()))


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: one thread per trial")
def test_a_local_cluster_of_fewer_workers_gives_each_trial_the_cores_left(tmp_path):
    """Dask starts each worker with OMP_NUM_THREADS=1 (and OpenBLAS's, MKL's): with one worker
    on 2 cores, a PyTorch trial still trained on one thread and a core sat idle (first-day test,
    round 11). One worker per core keeps one thread each, after a cluster that gave more."""
    from distributed import Client

    from nbtune.run.local import default_workers, local_cluster

    env_before = os.environ.get("OMP_NUM_THREADS")
    for n_workers, threads in ((1, default_workers()), (None, 1)):
        with local_cluster(n_workers) as cluster, Client(cluster, set_as_default=False) as c:
            study = nbtune.tune(blas_threads, {"x": nbtune.uniform(0, 1)}, metric="value",
                                n_trials=1, cluster=c, storage=None, progress=False)
            assert study.trials[0].value == threads, n_workers
            c.restart()  # a restarted worker keeps them
            assert c.submit(blas_threads, {}).result() == threads
    assert os.environ.get("OMP_NUM_THREADS") in (env_before, "1")  # as Dask leaves it


def test_a_local_cluster_of_no_worker_and_no_gpu_is_refused(monkeypatch):
    """%tune_cluster local --workers 0 was taken, and the next study waited for a worker in
    silence (check round 44); NBTUNE_WORKERS sets every notebook's count, Tune.workers one's."""
    from nbtune.run.embedded import set_local_workers
    from nbtune.run.local import check_local_options, default_workers

    with pytest.raises(ValueError, match=r"^0 workers and no GPU would run no trial: give 1 or "):
        check_local_options(0, None, 1)
    check_local_options(0, 1, 1)  # GPU workers only: fine
    monkeypatch.setenv("NBTUNE_WORKERS", "1")
    assert default_workers() == 1
    monkeypatch.setenv("NBTUNE_WORKERS", "none")
    with pytest.raises(ValueError, match=r"^NBTUNE_WORKERS must be a whole number >= 1"):
        default_workers()
    with pytest.raises(ValueError, match=r"^0 workers and no GPU"):
        set_local_workers(0)
