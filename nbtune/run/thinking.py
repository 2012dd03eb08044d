"""A model-based searcher thinks on a thread of its own, so the loop never waits for a suggestion.

A ``bayesopt`` suggestion costs 15 to 60 ms of the notebook's process (the acquisition over 800
candidates). Made on the loop's thread, it held every report, rung verdict and retry behind
it: on trials of 5 ms epochs the loop spent 14 of 20 s suggesting and handled no report
meanwhile (``benchmarks/thinking.py``). :class:`SearcherThread` runs the searcher's calls on one
thread, in the order the loop makes them: the events (a trial's start, report and end) are
queued, and a suggestion is asked for, then taken when it is ready, the loop woken by it. So the
searcher sees the calls a loop that waited would have made at those moments, and the loop
answers verdicts while it thinks. (The suggestions still bound how many trials start per second:
one at a time, each as long as before.)

A searcher whose ``suggest`` is cheap (``costly_suggest`` False: random, grid) is called on the
loop's thread as before: a thread's hand-over would cost its trivial trials more than it saves.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable

from ..contract.dispatch import THINKING


class SearcherThread:
    """The loop's view of a searcher whose calls run on a thread of its own (see the module)."""

    def __init__(self, searcher: Any, wake: Callable[[], None]):
        self.searcher = searcher
        self._wake = wake  # tells the loop an answer (or an error) is in
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()  # held while the searcher runs a call: predict waits
        self._asked: int | None = None  # the trial index a suggestion is being made for
        self._answer: tuple[int, Any] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="nbtune-searcher", daemon=True)
        self._thread.start()

    # -- the loop's calls ---------------------------------------------------------------------
    def on_trial_start(self, *args: Any) -> None:
        self._calls.put(("on_trial_start", args))

    def on_report(self, *args: Any) -> None:
        self._calls.put(("on_report", args))

    def on_trial_time(self, *args: Any) -> None:
        self._calls.put(("on_trial_time", args))

    def on_trial_end(self, *args: Any) -> None:
        self._calls.put(("on_trial_end", args))

    def suggest(self, index: int) -> Any:
        """The searcher's config for trial ``index`` (None: it has no more) once it is made,
        else :data:`~nbtune.contract.dispatch.THINKING`: the first such call asks for it, after
        the events queued so far, and the loop is woken when it is ready."""
        self.raise_error()
        answer = self._answer
        if answer is not None and answer[0] == index:
            self._answer = self._asked = None
            return answer[1]
        if self._asked != index:
            self._asked = index
            self._calls.put(("suggest", (index,)))
        return THINKING

    def predict(self, configs: list[dict], level: float | None) -> Any:
        """The searcher's model's prediction (a scheduler that judges by the model asks it on
        the loop's thread): made between two of the searcher's calls, never during one."""
        with self._lock:
            return self.searcher.predict(configs, level)

    @property
    def observations(self) -> int | None:
        return getattr(self.searcher, "observations", None)

    @property
    def asked(self) -> bool:
        """Whether the loop asked for a suggestion it has not taken yet."""
        return self._asked is not None

    @property
    def ready(self) -> bool:
        """Whether a suggestion or an error waits for the loop to take it."""
        return self._answer is not None or self._error is not None

    def raise_error(self) -> None:
        """Raise, on the loop's thread, what a searcher's call raised on its own."""
        if self._error is not None:
            raise self._error

    def close(self, raise_error: bool = True, timeout: float = 30.0) -> None:
        """Apply the events still queued (the searcher ends up as if the loop had called it
        directly), then end the thread; an error a call raised is raised here, unless the loop
        is ending for another reason."""
        if self._thread.is_alive():
            self._calls.put(None)
            self._thread.join(timeout)
        if raise_error:
            self.raise_error()

    # -- the searcher's thread ----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            call = self._calls.get()
            if call is None:
                return
            name, args = call
            try:
                with self._lock:
                    result = getattr(self.searcher, name)(*args)
            except BaseException as exc:  # raised again on the loop's thread
                self._error = exc
                self._wake()
                return
            if name == "suggest":
                self._answer = (args[0], result)
                self._wake()
