"""The local cluster starts in the background when a kernel loads nbtune (real kernels).

A kernel that never runs a study leaves no process behind; a study started while the cluster
starts waits for that cluster (one cluster, never two), and its view says meanwhile that the
cluster is starting. How soon the first trial starts is measured in benchmarks/first_cell.py.
"""
from __future__ import annotations

import os
import re
import threading
import time

import pytest

from test_interrupt import Kernel, alive, psutil, short_cell
from waiting import wait_for

pytestmark = pytest.mark.timeout(300)

STARTING = "starting a local Dask cluster"


def worker_processes(pid: int) -> set[int]:
    """The kernel's children that are worker processes (spawned by multiprocessing), not its
    resource tracker."""
    found = set()
    for child in psutil.Process(pid).children():
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                found.add(child.pid)
        except psutil.Error:  # gone meanwhile
            pass
    return found


class WarmKernel(Kernel):
    """A kernel whose loading cell is only ``%load_ext nbtune`` and the test's settings."""

    def ready(self) -> None:
        self.kc.wait_for_ready(timeout=60)
        self.replies.clear()
        self.ok(f"import os\nif hasattr(os, 'sched_setaffinity'):  # two workers\n"
                "    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2])\n"
                f"%load_ext nbtune\n%config Tune.storage = {self.db!r}")


def test_a_kernel_that_runs_no_study_leaves_no_process_behind(tmp_path):
    k = WarmKernel(tmp_path, str(tmp_path / "studies.db"))
    try:
        workers = wait_for(lambda: worker_processes(k.pid), "the background cluster", 60)
        assert k.value("__import__('nbtune.run.embedded').run.embedded.embedded_client() "
                       "is not None")  # the cluster it started is nbtune's own
        children = k.descendants()
        assert workers <= set(children)
        process = k.km.provisioner.process
        # a busy machine can take longer than JupyterLab's 2.5 s before its SIGTERM (half of
        # shutdown_wait_time): what is asserted is that the kernel exits by itself, not how soon
        k.km.shutdown_wait_time = 20.0
        k.km.shutdown_kernel(now=False)  # as JupyterLab's shutdown: a request, then a wait
        assert process.returncode == 0, process.returncode  # it exited by itself
        wait_for(lambda: not any(alive(p) for p in children), "its processes to exit", 20)
    finally:
        k.close()


def in_group(pgid: int) -> list[int]:
    """The processes of process group ``pgid`` still running."""
    found = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p.pid)
        except (psutil.Error, OSError):
            pass
    return found


def test_a_kernel_shut_down_while_its_cluster_starts_leaves_no_process(tmp_path):
    k = WarmKernel(tmp_path, str(tmp_path / "studies.db"))
    try:
        group = k.pid  # the kernel leads its own process group, as JupyterLab starts it
        # at once: the workers are still starting. The kernel closes the cluster once it is up
        # (seconds), where the kernel manager may not wait for it but signal the whole group
        k.km.shutdown_kernel(now=False)
        wait_for(lambda: not in_group(group), "the kernel's processes to exit", 20)
    finally:
        k.close()


def test_a_loading_cell_can_turn_the_background_start_off(tmp_path):
    class Off(WarmKernel):
        def ready(self) -> None:
            super().ready()
            self.ok("%config Tune.warm_start = False")  # a later cell: too late, it started

    k = Off(tmp_path, str(tmp_path / "studies.db"))
    try:
        state = "(embedded_starting() or embedded_started())"
        k.ok("from nbtune.run.embedded import embedded_started, embedded_starting")
        assert k.value(state) is True
        k.km.restart_kernel(now=False)
        k.kc.wait_for_ready(timeout=60)
        k.replies.clear()
        k.ok("%load_ext nbtune\n%config Tune.warm_start = False\n"
             "from nbtune.run.embedded import embedded_started, embedded_starting")
        assert k.value(state) is False
        assert not worker_processes(k.pid)
    finally:
        k.close()


def test_a_study_started_while_the_cluster_starts_waits_for_that_one(tmp_path):
    k = WarmKernel(tmp_path, str(tmp_path / "studies.db"))
    seen: set[int] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                seen.update(worker_processes(k.pid))
            except psutil.Error:
                pass
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        cell = short_cell("during-start", trials=4)
        line, body = cell.split("\n", 1)
        reply = k.run("from nbtune.run.embedded import embedded_started, embedded_starting\n"
                      "during = (embedded_starting(), embedded_started())\n"
                      f"get_ipython().run_cell_magic('tune', {line[len('%%tune '):]!r}, "
                      f"{body!r})\n", timeout=120)
        assert reply.status == "ok" and "4 completed" in reply.stdout, reply
        assert k.value("during") == (True, False)  # the study began while the cluster started
        stop.set()
        watcher.join()
        now = worker_processes(k.pid)
        assert len(now) == 2 and seen == now, (seen, now)  # one cluster of two workers
        first = reply.displays[0]
        assert STARTING in first and "2 workers" in first, reply.displays
        assert any("nbtune study during-start" in shown or "widget-view" in shown
                   for shown in reply.displays[1:]), reply.displays  # the panel took its place
    finally:
        stop.set()
        k.close()


def test_a_background_study_started_while_the_cluster_starts_returns_at_once(tmp_path):
    """A `--background` cell right after `%load_ext nbtune` waited for the cluster, 4 to 18 s
    on a loaded machine, where the README says it returns at once (first-day test, round 58).
    It returns while the cluster starts, its panel saying so; the study then runs on that one
    cluster. A stop() before the cluster is up stops the study as it starts."""
    k = WarmKernel(tmp_path, str(tmp_path / "studies.db"))
    try:
        line, body = short_cell("bg-start", trials=4,
                                flags="--background --scheduler asha --max-t 3").split("\n", 1)
        k.ok("from nbtune.run.embedded import embedded_started, embedded_starting\n"
             f"get_ipython().run_cell_magic('tune', {line[len('%%tune '):]!r}, {body!r})\n"
             "after = (embedded_starting(), embedded_started())\n"
             "said = [study.live.counts_html.value, study.live.header.value, "
             "study.live.label.value]", timeout=60)
        assert k.value("after") == (True, False)  # it returned while the cluster started
        counts, header, label = k.value("said")
        assert STARTING in counts and "2 workers" in counts
        # its own scheduler, and no clock yet: "fifo", and a clock that stood, then went back
        assert "asha scheduler" in header
        assert re.sub("<[^>]+>", "", label) == "0/4 trials · not started yet"
        assert k.value("study.wait(120)") is True
        assert sum(k.value("study.counts()").values()) == 4  # completed, or stopped by ASHA
        assert len(worker_processes(k.pid)) == 2  # one cluster, started once
        k.ok("%unload_ext nbtune\nfrom nbtune.run.embedded import close_embedded\n"
             "close_embedded()\n%load_ext nbtune")  # a cluster starting again
        line, body = short_cell("bg-stopped", trials=4, flags="--background").split("\n", 1)
        k.ok(f"get_ipython().run_cell_magic('tune', {line[len('%%tune '):]!r}, {body!r})\n"
             "early = embedded_started()\nstudy.stop()", timeout=60)
        assert k.value("early") is False
        assert k.value("study.wait(120)") is True
        assert k.value("(study.stop_reason, len(study.completed))") == ("stopped", 0)
        # what fails on its thread ends it as an error, said in one line; nothing is left
        k.ok("%unload_ext nbtune\nclose_embedded()\n%load_ext nbtune\n"
             "import sys\n"
             "def refused(*args, **kwargs):\n    raise RuntimeError('the workers refused')\n"
             "sys.modules['nbtune.tune'].connect_and_send = refused")
        line, body = short_cell("bg-failed", trials=4, flags="--background").split("\n", 1)
        k.ok(f"get_ipython().run_cell_magic('tune', {line[len('%%tune '):]!r}, {body!r})\n"
             "late = embedded_started()", timeout=60)
        # the failure's line, printed by the study's thread, may land in this cell's output,
        # even between a print's text and its newline: the value is read between two marks
        # written in one piece
        said = k.ok("print(f'<late={late!r}>')")
        assert re.findall(r"<late=(\w+)>", said) == ["False"], said
        waited = k.run("print(study.wait(120))", timeout=130)
        assert "True" in waited.stdout, waited
        assert k.value("(study.stop_reason, study.error)") == ("error", "the workers refused")
        assert k.value("__import__('nbtune').list_studies()") == ["bg-start", "bg-stopped"]
    finally:
        k.close()


def test_the_workers_import_the_notebooks_modules_before_the_first_trial(tmp_path):
    """The first study of a kernel waited 1.2-2.2 s for its first trial while the workers
    imported scikit-learn for it; later ones 0.05 s (first-day test, round 22). After a cell,
    the embedded cluster's workers import the modules of the notebook's values."""
    k = WarmKernel(tmp_path, str(tmp_path / "studies.db"))
    try:
        module = "sklearn.semi_supervised._label_propagation"
        check = ("set(__import__('nbtune.run.embedded').run.embedded.embedded_client().run("
                 f"lambda: {module!r} in __import__('sys').modules).values())")
        k.ok("import time\n"
             "from nbtune.run.embedded import embedded_started, embedded_starting\n"
             "while embedded_starting():\n"
             "    time.sleep(0.05)")  # a study never ran: the background start's cluster
        assert k.value(check) == {False}  # no worker has it before the notebook does
        k.ok("from sklearn.semi_supervised import LabelSpreading")
        wait_for(lambda: k.value(check) == {True}, "the workers' import", 60)
    finally:
        k.close()


HELD_IMPORT = '''import importlib.abc, sys, time
class Held(importlib.abc.MetaPathFinder):
    """Holds the import of dask.delayed, which dask's own __init__ imports after dask.utils."""
    on = True
    def find_spec(self, name, path, target=None):
        if self.on and name == "dask.delayed":
            print("held", flush=True)
            time.sleep(60)
        return None
held = Held()
sys.meta_path.insert(0, held)
'''


def test_a_stop_during_the_background_start_s_import_stops_run_all(tmp_path):
    """A Stop pressed just after %load_ext lands in its after-cell hook, in the import of
    Dask: it fails the loading cell, so that Run All stops there, and the half-imported
    modules go, so that the next study runs (first-day test, round 67: IPython caught it in
    the hook, Run All went on, and the next %%tune failed on "module 'dask' has no attribute
    'utils'")."""
    class Held(WarmKernel):
        def ready(self) -> None:
            self.kc.wait_for_ready(timeout=60)
            self.replies.clear()
            self.ok("import os\nif hasattr(os, 'sched_setaffinity'):  # two workers\n"
                    "    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2])\n"
                    + HELD_IMPORT)

    k = Held(tmp_path, str(tmp_path / "studies.db"))
    try:
        loading = k.start(f"%load_ext nbtune\n%config Tune.storage = {k.db!r}")
        after = k.start("print('the next cell ran')")
        k.wait_output(loading, "held")
        k.interrupt()
        reply = k.wait(loading)
        assert reply.status == "error", reply
        assert "KeyboardInterrupt: nbtune: the local cluster's start was interrupted" \
            in reply.stderr, reply
        assert "Error in callback" not in reply.stdout + reply.stderr, reply
        assert k.wait(after).status == "aborted"
        k.ok("held.on = False")
        assert k.value("__import__('dask').utils.parse_bytes('1kB')") == 1000
        out = k.ok(short_cell("after-stop"))
        assert "2 completed" in out, out
    finally:
        k.close()
