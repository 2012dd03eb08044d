"""The trial record: one configuration, its reports, its outcome.

Pure data, shared by the loop (``run/``), storage and the study; it knows nothing of Dask or SQLite.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from .caller import shown_as_users
from .ported import attribute_note

PENDING = "pending"
RUNNING = "running"
COMPLETED = "completed"
STOPPED = "stopped"  # stopped early by a scheduler
PAUSED = "paused"
FAILED = "failed"
INTERRUPTED = "interrupted"

STATES = (PENDING, RUNNING, COMPLETED, STOPPED, PAUSED, FAILED, INTERRUPTED)
FINISHED = frozenset({COMPLETED, STOPPED, FAILED})
"""States that are final: a resumed study does not run these trials again."""
PACED_UNFINISHED = frozenset({PAUSED, INTERRUPTED})
"""States of trials that ran, and count in a study's pace with their time so far."""

# How the views show a running trial that no worker was heard to start: it waits in Dask's
# queue; where a free slot takes it, Dask starts it at once (and a short trial's start message
# comes late or never: nbtune.run.starts), so the views count as many of them "starting".
QUEUED = "queued"
STARTING = "starting"
# How they show an interrupted trial that never started (no start heard, nothing reported): a
# study whose kernel died with trials queued read "2 completed, 6 interrupted" on two workers
# (first-day tests, rounds 39 and 41). A resume runs it as it runs the interrupted ones.
NOT_STARTED = "not started"
SHOWN_ORDER = (RUNNING, STARTING, QUEUED, PAUSED, COMPLETED, STOPPED, FAILED, INTERRUPTED,
               NOT_STARTED, PENDING)
"""The order every count of trials per state is written in (a closing line, a summary, a
listing of studies: they named one study "37 stopped, 3 completed" and "3 completed, 37
stopped", first-day test, round 20)."""


# the ends of a study that cut its running trials short, which no one interrupted
CUTTING_ENDS = ("max_time", "target", "max_resource")


def state_word(state: str, ended: str | None = None) -> str:
    """A state as people read it: a study its budget or target ended (``ended``) ran its running
    trials until then, and they are "cut by max_time", not "interrupted", a Ctrl-C's word (a
    resume still runs them again)."""
    return f"cut by {ended}" if state == INTERRUPTED and ended in CUTTING_ENDS else state


def shown_state(t: "Trial") -> str:
    """A trial's state as the views count it: a running trial no worker started is queued; an
    interrupted one that never started (:data:`NOT_STARTED`) is said so."""
    if t.started is None and t.state in (RUNNING, INTERRUPTED):
        return QUEUED if t.state == RUNNING else NOT_STARTED if not t.reports else t.state
    return t.state


def same_value(a: Any, b: Any) -> bool:
    """Whether two config values are one value (False where comparing them fails: arrays,
    objects with odd equality)."""
    try:
        return bool(a == b)
    except Exception:
        return False


def shared_values(configs: list[dict[str, Any]]) -> dict[str, Any]:
    """The values every one of ``configs`` has alike, key -> value ({} for none): what a kind
    of failed trials may fail for (the fail-fast note, the summary's failure lines)."""
    first = configs[0] if configs else {}
    return {k: v for k, v in first.items()
            if all(k in c and same_value(c[k], v) for c in configs[1:])}


def shown_counts(trials: Any) -> dict[str, int]:
    """Trials per :func:`shown_state` (states with none left out)."""
    out: dict[str, int] = {}
    for t in list(trials):
        state = shown_state(t)
        out[state] = out.get(state, 0) + 1
    return out


def counts_text(counts: dict[str, int], ended: str | None = None, sep: str = ", ") -> str:
    """Trials per state as people read them, "58 completed, 164 stopped, 2 cut by max_time" (""
    for none; :func:`state_word`), in :data:`SHOWN_ORDER`."""
    rank = {s: i for i, s in enumerate(SHOWN_ORDER)}
    ordered = sorted(counts.items(), key=lambda item: rank.get(item[0], len(rank)))
    return sep.join(f"{n} {state_word(s, ended)}" for s, n in ordered if n)


@dataclass
class Trial:
    """One evaluation of one configuration.

    ``reports`` holds every dict the trial sent through ``report(...)`` in order (of its latest
    attempt); ``value`` is the final value of the study's metric; ``error`` the traceback text of a
    failed trial; ``worker`` the address of the Dask worker it ran on. Times are Unix seconds.
    ``output`` is what the trial wrote to stdout and stderr (its first and last parts when long),
    ``warnings`` the warnings it raised: dicts of ``category``, ``message``, ``where``, ``count``.
    A trial paused and resumed keeps its last run's ``started``; ``ran`` holds its runs before.
    """

    id: int
    config: dict[str, Any]
    state: str = PENDING
    reports: list[dict[str, Any]] = field(default_factory=list)
    value: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    worker: str | None = None
    attempts: int = 0
    created: float | None = None
    started: float | None = None
    finished: float | None = None
    output: str = ""
    warnings: list[dict[str, Any]] = field(default_factory=list)
    ran: float | None = None  # seconds of its earlier runs, for a trial paused and resumed

    @property
    def duration(self) -> float | None:
        """Seconds the trial ran: from start to finish, and for a trial paused and resumed, its
        earlier runs too (``ran``), never the time it sat paused (or None while unknown)."""
        if self.started is None or self.finished is None:
            return None
        return (self.ran or 0.0) + self.finished - self.started

    def resuming(self) -> None:
        """A paused trial is sent to run again: the run that ended at its pause counts in
        ``ran``; the next run's start and end replace ``started`` and ``finished``."""
        if self.started is not None and self.finished is not None:
            self.ran = (self.ran or 0.0) + self.finished - self.started
        self.finished = None

    @property
    def is_finished(self) -> bool:
        """True for completed, stopped and failed trials."""
        return self.state in FINISHED

    def last(self, key: str) -> Any:
        """The last reported value of ``key``, or None."""
        for rep in reversed(self.reports):
            if key in rep:
                return rep[key]
        return None

    def resource(self, key: str) -> Any:
        """The largest value of the resource ``key`` reported (e.g. the epochs trained)."""
        values = [r[key] for r in self.reports if isinstance(r.get(key), (int, float))]
        return max(values) if values else None

    def trained(self, key: str) -> float:
        """The resource spent on this trial, counting again what a restart from scratch repeated."""
        total, previous = 0.0, 0.0
        for rep in self.reports:
            current = rep.get(key)
            if is_finite_number(current):
                total += resource_step(previous, current)
                previous = current
        return total

    def __getattr__(self, name: str) -> Any:
        """Optuna's names (``params``, ``number``) are named with nbtune's."""
        note = None if name.startswith("_") else attribute_note("Trial", name)
        error = AttributeError(note or f"'Trial' object has no attribute {name!r}", name=name,
                               obj=self)
        raise shown_as_users(error) if note else error

    def __repr__(self) -> str:
        value = "" if self.value is None else f", value={self.value:.6g}"
        return f"Trial(id={self.id}, state={shown_state(self)!r}{value}, config={self.config!r})"


def rank_key(value: float, trial_id: int, mode: str) -> tuple[float, int]:
    """How completed trials rank for a study's best: by value in ``mode``, a tie to the earlier
    trial; the smaller key is the better trial."""
    return (-value if mode == "max" else value, trial_id)


def is_finite_number(value: Any) -> bool:
    """True for a real, finite number (bools excluded)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def resource_step(previous: float, current: float) -> float:
    """Resource trained between two reports: a level below the previous one means a fresh restart."""
    if current > previous:
        return current - previous
    return current if current < previous else 0.0


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def error_kind(line: str) -> str:
    """What failures of one kind share: an error's line with its numbers aside ("ValueError: x
    too big: 0.868" and "... 0.912"; a shape mismatch "(32x64 and 128x10)" at each batch size).
    One mistake whose message carried the config's values was "430 more kinds of failure"
    (first-day test, round 12)."""
    return _NUMBER.sub("#", line)
