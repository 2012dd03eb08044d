"""Studies run in the background: how one runs, waits and stops (:class:`BackgroundRun`, a
part of :class:`nbtune.study.Study`), and the ones this kernel runs, found by name and file (a
second Run All rebinds ``study``), named by a study that waits beside them on the same cluster,
and stopped as interrupted when the kernel exits (:func:`started` adds each)."""
from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
import weakref
from typing import Any, Callable

from . import trial as T
from .caller import ipython_shell, shown_as_users, user_facing
from .lease import run_elsewhere
from .study_errors import NoTrialCompleted

RUN_POLL = 1.0  # seconds between two looks at the lease of a study another process runs

_STARTED: "weakref.WeakSet[Any]" = weakref.WeakSet()  # studies started here, in the background


def started(study: Any) -> None:
    """``study`` now runs in the background in this process."""
    _STARTED.add(study)


def running_here(storage: Any, name: str) -> Any:
    """The Study of this process that runs study ``name`` of file ``storage`` in the background
    now, else None: a second Run All rebound ``study`` to a new study, and the Study that
    ``load_study`` gave could not stop the first (first-day test, round 60)."""
    if storage is None:
        return None
    path = os.path.abspath(os.fspath(storage))
    for study in list(_STARTED):
        if study.name == name and study.storage is not None and study.running \
                and os.path.abspath(study.storage) == path:
            return study
    return None


def beside(study: Any, address: Any) -> list[str]:
    """The names of the other studies this kernel runs in the background on the cluster at
    ``address`` (its scheduler's): a study's panel said its trials were starting while those
    held every worker (first-day test, round 60)."""
    if address is None:
        return []
    return [s.name for s in list(_STARTED) if s is not study and s.running
            and getattr(getattr(s, "live", None), "info", {}).get("address") == address]


def stop_all(timeout: float = 10.0) -> None:
    """The kernel is exiting (shut down, restarted): each study running in the background here
    stops as interrupted, its running trials kept as interrupted (``--resume`` runs them again),
    before nbtune's cluster closes under it: the loop then failed on the closed cluster, and the
    study was stored "ended error" with no error (first-day test, round 58). Waits ``timeout``
    seconds at most for them all."""
    running = [s for s in list(_STARTED) if s.running]
    for study in running:
        stop = study._stop
        if stop is not None:
            stop("interrupted")
    deadline = time.monotonic() + timeout
    for study in running:
        study._wait(max(0.0, deadline - time.monotonic()))


class BackgroundRun:
    """What a :class:`nbtune.study.Study` does when it runs in the background of this process
    (``background=True``, ``%%tune --background``), or is loaded while another process runs it:
    ``running``, ``wait()`` and ``stop()``. The study sets ``_ended`` (an event set when its
    background loop ends), ``_stop`` (what stops that loop) and ``running_elsewhere``."""

    _ended: threading.Event | None
    _stop: Callable[[str], None] | None

    def _start_background(self, run: Callable[[], None], stop: Callable[[str], None]) -> None:
        self._stop = stop
        ended = self._ended = threading.Event()

        def run_then_let_go() -> None:
            try:
                run()
            finally:
                self._stop = None  # the ended loop, and the data it sent out, need not outlive it
                ended.set()

        threading.Thread(target=run_then_let_go, name=f"nbtune-{self.name}",
                         daemon=True).start()
        started(self)
        if ipython_shell() is None:  # a script: its end would cut the study short unsaid
            atexit.register(self._at_script_end)

    def _at_script_end(self) -> None:
        """A script ended while its background study ran: it is stopped (its running trials
        recorded as interrupted), and said. Such a script ended with status 0 and a study of no
        trials, without a word (first-day test, round 39)."""
        if not self.running:
            return
        print(f"nbtune: the script ended while study {self.name!r} ran in the background "
              "(background=True): it is stopped, its running trials kept as interrupted; "
              "study.wait() before the script's end waits for it", file=sys.stderr, flush=True)
        with contextlib.suppress(Exception):
            self.stop()

    # An event, not the thread's join() and is_alive(): before Python 3.13 a join() cut
    # by Ctrl-C marks the thread it waits for as stopped while it runs on (threading.py's
    # bpo-45274 clause finds the running thread's own lock held), so an interrupted study was
    # taken to have ended and ran on unstopped (first-day test, round 9: SearchCV.fit).
    @property
    def running(self) -> bool:
        """True while a background study is still running."""
        return self._ended is not None and not self._ended.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a background study ends (or ``timeout`` seconds pass); whether it ended,
        as ``threading.Event.wait`` says. A study loaded from its file while another kernel or
        process runs it waits for that run's end, and is read again (it returned at once:
        first-day test, round 12). It returned the study, whose summary a notebook then showed a
        second time, under the background cell's own (round 22). An interrupt ends the wait
        alone, in one line (it showed nbtune's and threading's frames: round 55). A background
        study its first failed trials stopped (``fail_fast``), none completed, raises
        :class:`NoTrialCompleted` as its cell would have: Run All went on (round 60)."""
        ended = self._waited(timeout)
        if ended and self._ended is not None and self.stop_reason == "fail_fast" \
                and self.best is None:  # as its cell would, had it run in the foreground
            raise shown_as_users(NoTrialCompleted(
                f"study {self.name!r} stopped: its first trials all failed alike "
                f"({T.counts_text(self.counts())}), and no trial completed; the cells queued "
                f"after this one do not run"))
        return ended

    def _waited(self, timeout: float | None) -> bool:
        """:meth:`wait`, an interrupt of it said in one line."""
        try:
            return self._wait(timeout)
        except KeyboardInterrupt:
            where = "in the background" if self._ended is not None else "in its own run"
            raise shown_as_users(KeyboardInterrupt(
                f"the wait was interrupted; study {self.name!r} runs on {where} "
                "(study.stop() stops it)")) from None

    def _wait(self, timeout: float | None) -> bool:
        if self._ended is not None:
            return self._ended.wait(timeout)
        if self.storage is not None and run_elsewhere(os.fspath(self.storage), self.name):
            deadline = None if timeout is None else time.monotonic() + timeout
            while run_elsewhere(os.fspath(self.storage), self.name):
                if deadline is not None and time.monotonic() >= deadline:
                    break
                time.sleep(RUN_POLL if deadline is None
                           else max(0.0, min(RUN_POLL, deadline - time.monotonic())))
            self.reload()
            return run_elsewhere(os.fspath(self.storage), self.name) is None
        return True

    @user_facing
    def stop(self, reason: str = "stopped") -> "BackgroundRun":
        """Ask a background study to end: running trials are interrupted, the rest is kept. A
        loaded study that this kernel runs in the background is stopped; one that another
        kernel or process runs is stopped there: ValueError, naming that run.
        ``reason`` is the stop reason it records (``"interrupted"`` where a caller stops it for
        a KeyboardInterrupt, as an interrupted ``%%tune`` cell's)."""
        here = (running_here(self.storage, self.name) if self._stop is None
                else None)
        if self._stop is not None and self.running:
            self._stop(reason)
        elif here is not None:  # its run is this kernel's, in the background: stopped there
            here.stop(reason)
        elif self._ended is None and self.storage is not None:
            who = run_elsewhere(os.fspath(self.storage), self.name)
            if who is not None:  # it returned and the run went on (first-day test, round 12)
                raise ValueError(f"study {self.name!r} is run by {who}, not by this "
                                 "Study: stop it there (interrupt its cell, or study.stop() in "
                                 "that kernel); study.wait() here waits for its end")
        self._waited(None)
        return self
