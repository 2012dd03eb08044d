"""Synchronous successive halving and Hyperband (Li et al., arXiv 1603.06560)."""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping, Sequence
from typing import Any

from ..caller import shown_as_users, user_facing
from .base import CONTINUE, DONE, PAUSE, RESUME, START, STOP, WAIT, Scheduler
from .rungs import (as_int, check_reduction_factor, positive_int, ranked, report_level,
                    resolve_max_t, rung_value)

RUNNING, PAUSED, ENDED = "running", "paused", "ended"


def hyperband_brackets(max_t: int, reduction_factor: int = 3,
                       grace_period: int = 1) -> list[list[tuple[int, int]]]:
    """Hyperband's brackets, most aggressive first: per bracket the rungs ``(n_i, r_i)``.

    With ``R = max_t / grace_period`` and ``eta = reduction_factor``: ``s_max`` is the largest s
    with ``grace_period * eta**s <= max_t``; bracket s starts ``n = ceil((s_max+1) eta^s / (s+1))``
    trials, rung i keeps ``n_i = floor(n eta^-i)`` of them and trains them to
    ``r_i = max_t eta^(i-s)`` (rounded to an int, half up), so every bracket ends at max_t.
    """
    top = positive_int("max_t", max_t, " (the largest value of the resource a trial reports)")
    eta = check_reduction_factor(reduction_factor)
    grace = positive_int("grace_period", grace_period)
    if grace > top:
        raise ValueError(f"grace_period={grace} is above max_t={top}: give grace_period <= max_t")
    s_max = 0
    while grace * eta ** (s_max + 1) <= top:
        s_max += 1
    table = []
    for s in range(s_max, -1, -1):
        n = -(-(s_max + 1) * eta ** s // (s + 1))
        table.append([(n // eta ** i, (2 * top + eta ** (s - i)) // (2 * eta ** (s - i)))
                      for i in range(s + 1)])
    return table


@dataclass
class _Bracket:
    n: list[int]  # trials wanted at each rung
    r: list[int]  # resource level of each rung
    members: list[list[int]]  # trial ids at each rung (started, then promoted and resumed)
    rung: int = 0  # the rung being filled or run
    size: list[int] = field(default_factory=list)  # members the rung gets (decided promotions)
    queue: list[int] = field(default_factory=list)  # promoted, not resumed yet
    finished: bool = False


@dataclass
class _Trial:
    bracket: int | None  # None: a trial no bracket asked for; it runs unjudged
    at: int = 0  # its rung index
    values: dict[int, float | None] = field(default_factory=dict)
    status: str = RUNNING
    late: bool = False  # retried after its rung was decided: stopped at its next rung


class HyperbandScheduler(Scheduler):
    """Synchronous Hyperband: brackets of successive halving, filled most aggressive first.

    A trial pauses at its rung; when every trial of the rung has paused or ended, the best
    ``n_{i+1}`` paused ones are resumed one by one and the others are discarded for good
    (:meth:`take_discarded`). ``brackets=1`` is synchronous successive halving.

    One round of brackets starts :attr:`trials_needed` trials and then ends the study. A study
    that asks for more (``n_trials`` above it, or a time budget and no ``n_trials``: see
    :meth:`set_budget`) gets round after round, as Ray Tune's HyperBand fills a new band: once
    every bracket has its trials, a new trial starts the next round while the earlier brackets
    finish, and the brackets of the last round make do with the trials the budget left them.
    """

    name = "hyperband"
    pauses = True
    replays_promotions = False  # a trial promoted before its checkpoint runs again instead

    def __new__(cls, *args: Any, **kwargs: Any):
        """Refuse Syne Tune's ``HyperbandScheduler(type=..., searcher=...)``, which is
        asynchronous, with nbtune's name for it: a bare "unexpected keyword argument 'type'"
        named no fix (first-day test, round 61)."""
        theirs = [k for k in ("type", "searcher", "search_options") if k in kwargs]
        if theirs:
            raise shown_as_users(TypeError(
                f"HyperbandScheduler() takes no {theirs[0]}: nbtune's HyperbandScheduler is "
                f"synchronous Hyperband (each rung waits for all its trials); Syne Tune's "
                f"HyperbandScheduler(type='stopping' or 'promotion') is nbtune.ASHAScheduler("
                f"type=...), scheduler='asha' (brackets=N for its brackets), and its searcher "
                f"is nbtune.tune's searcher= (MOBSTER: searcher='bayesopt')"))
        return super().__new__(cls, *args, **kwargs)

    @user_facing
    def __init__(self, max_t: int | None = None, grace_period: int = 1, reduction_factor: int = 3,
                 brackets: int | None = None):
        n = None if brackets is None else as_int(brackets)
        if brackets is not None and (n is None or n < 1):
            raise ValueError(f"brackets must be None (all) or an integer >= 1 (1: successive "
                             f"halving), got brackets={brackets!r}")
        self.max_t, self.grace_period, self.reduction_factor = max_t, grace_period, reduction_factor
        self.brackets = n
        self.repeat = False  # rounds of brackets while the budget lasts: see set_budget
        self.table: list[list[tuple[int, int]]] | None = None
        self._reset()
        if max_t is not None:
            self._set_table(max_t)
        else:
            check_reduction_factor(reduction_factor)
            positive_int("grace_period", grace_period)

    def _set_table(self, max_t: int) -> None:
        table = hyperband_brackets(max_t, self.reduction_factor, self.grace_period)
        self.table = table[:self.brackets] if self.brackets else table
        self._eta = check_reduction_factor(self.reduction_factor)

    def _reset(self) -> None:
        self._trials: dict[int, _Trial] = {}
        self._discarded: list[int] = []
        self._brackets: list[_Bracket] = []
        self._new_round()

    def _new_round(self) -> None:
        """Another round of the table's brackets, empty, after those there are."""
        self._brackets += [_Bracket(n=[x for x, _ in b], r=[y for _, y in b],
                                    members=[[] for _ in b], size=[x for x, _ in b])
                           for b in (self.table or [])]

    def set_budget(self, n_trials: int | None, timed: bool) -> None:
        """Rounds of brackets where the budget asks for more trials than one round starts: a
        cap above :attr:`trials_needed`, or no cap and a time (or resource) budget."""
        needed = self.trials_needed
        self.repeat = needed is not None and (n_trials > needed if n_trials is not None
                                              else timed)

    def setup(self, metric: str, mode: str, resource: str, *, seed: int | None = None,
              space: Mapping[str, Any] | None = None) -> None:
        """Receive the study's settings; max_t is inferred from the space when it was not given."""
        super().setup(metric, mode, resource, seed=seed, space=space)
        if self.table is None:
            self._set_table(resolve_max_t(self.name, self.max_t, space, resource))
        self._reset()

    @property
    def trials_needed(self) -> int | None:
        """How many trials its brackets start (143 for max_t=81, eta 3); None before setup."""
        return None if self.table is None else sum(b[0][0] for b in self.table)

    def decision_points(self) -> Sequence[float]:
        """Every rung level below max_t, over all brackets."""
        if self.table is None:
            raise RuntimeError("HyperbandScheduler has no max_t yet: call setup() first")
        return tuple(sorted({r for b in self.table for _, r in b[:-1]}))

    def max_level(self) -> int:
        """max_t: where every bracket ends."""
        if self.table is None:
            raise RuntimeError("HyperbandScheduler has no max_t yet: call setup() first")
        return self.table[0][-1][1]

    def on_trial_start(self, trial_id: int, config: dict[str, Any]) -> None:
        """A new trial joins the first bracket still wanting trials; a retry resumes its own rung."""
        t = self._trials.get(trial_id)
        if t is not None:
            t.status = RUNNING
            if t.bracket is None:
                t.values = {}
                return
            b = self._brackets[t.bracket]
            t.values = {k: v for k, v in t.values.items() if k < b.r[t.at]}
            t.late = t.at < len(b.r) - 1 and (b.rung > t.at or b.finished)
            return
        for _ in range(2):  # a bracket still wanting trials, else (repeat) the next round's
            for i, b in enumerate(self._brackets):
                if not b.finished and b.rung == 0 and len(b.members[0]) < b.n[0]:
                    b.members[0].append(trial_id)
                    self._trials[trial_id] = _Trial(i)
                    return
            if not self.repeat:
                break
            self._new_round()
        self._trials[trial_id] = _Trial(None)

    def on_report(self, trial_id: int, report: dict[str, Any]) -> str:
        """PAUSE at the trial's rung level; CONTINUE elsewhere and at max_t."""
        t = self._trials.get(trial_id)
        level = report_level(report, self.resource)
        if t is None or t.bracket is None or level is None:
            return CONTINUE
        if t.values and level <= max(t.values):
            return CONTINUE  # a restart from scratch: this rung was judged before
        b = self._brackets[t.bracket]
        if level != b.r[t.at]:
            return CONTINUE
        t.values[level] = rung_value(report, self.metric)
        if t.at == len(b.r) - 1:
            return CONTINUE
        return STOP if t.late else PAUSE

    def on_trial_end(self, trial_id: int, state: str) -> None:
        """A trial paused at its rung, or ended there (then it is never promoted)."""
        t = self._trials.get(trial_id)
        if t is None:
            return
        t.status = PAUSED if state == PAUSED else ENDED
        if t.bracket is not None:
            self._advance(self._brackets[t.bracket])

    def on_trial_resume(self, trial_id: int) -> None:
        """The promoted trial runs on to its bracket's next rung."""
        t = self._trials.get(trial_id)
        if t is None or t.bracket is None:
            return
        t.status = RUNNING
        b = self._brackets[t.bracket]
        if trial_id in b.queue:
            b.queue.remove(trial_id)
            b.members[b.rung].append(trial_id)
            t.at = b.rung

    def next_action(self, can_start: bool = True) -> tuple[str, int | None]:
        """Per bracket in order: a promotion to resume, else a new trial for its first rung."""
        for b in self._brackets:
            if not b.finished and not b.queue and b.rung == 0 and len(b.members[0]) < b.n[0]:
                if can_start:
                    return START, None
                self._shrink(b)
            if not b.finished and b.queue:
                return RESUME, b.queue[0]
        if self.repeat:  # the next round's first trial (on_trial_start opens the round)
            return (START, None) if can_start else (WAIT, None)  # the budget ends the study
        if all(b.finished for b in self._brackets):
            return DONE, None
        return WAIT, None

    def _shrink(self, b: _Bracket) -> None:
        """No new trial will come: the bracket makes do with the trials it has."""
        n0 = len(b.members[0])
        if n0 == 0:
            b.finished = True
            return
        b.n = [n0] + [max(1, n0 // self._eta ** i) for i in range(1, len(b.r))]
        b.size[0] = n0
        self._advance(b)

    def _advance(self, b: _Bracket) -> None:
        """When the bracket's rung is complete, decide its promotions (or finish the bracket)."""
        i = b.rung
        if b.finished or b.queue or len(b.members[i]) < (b.n[0] if i == 0 else b.size[i]):
            return
        if any(self._trials[x].status == RUNNING for x in b.members[i]):
            return
        if i == len(b.r) - 1:
            b.finished = True
            return
        paused = [x for x in b.members[i] if self._trials[x].status == PAUSED]
        values = {x: self._trials[x].values.get(b.r[i]) for x in paused}
        best = [x for x in ranked(values, self.mode) if values[x] is not None][:b.n[i + 1]]
        for x in paused:
            if x not in best:
                self._trials[x].status = ENDED
                self._discarded.append(x)
        if not best:
            b.finished = True
            return
        b.queue, b.size[i + 1], b.rung = best, len(best), i + 1

    def take_discarded(self) -> list[int]:
        """Paused trials this scheduler will never resume (returned once, then forgotten)."""
        out, self._discarded = self._discarded, []
        return out

    def bracket_of(self, trial_id: int) -> int | None:
        """Index of the trial's bracket in :attr:`table` (0: the most aggressive), else None."""
        t = self._trials.get(trial_id)
        if t is None or t.bracket is None:
            return None
        return t.bracket % max(1, len(self.table or []))  # the same bracket of a later round

    def rung_counts(self) -> dict[int, int]:
        """Rung level -> number of values recorded there, all brackets together."""
        counts: dict[int, int] = {}
        for b in self._brackets:
            for r in b.r:
                counts.setdefault(r, 0)
        for t in self._trials.values():
            for level in t.values:
                counts[level] = counts.get(level, 0) + 1
        return dict(sorted(counts.items()))

    def bracket_status(self) -> list[dict[str, Any]]:
        """Per bracket (of each round, in order): its rungs ``(n_i, r_i)`` now, current rung
        index, trials started, finished."""
        return [{"rungs": list(zip(b.n, b.r)), "rung": b.rung, "started": len(b.members[0]),
                 "finished": b.finished} for b in self._brackets]

    def __repr__(self) -> str:
        return (f"HyperbandScheduler(max_t={self.max_t!r}, grace_period={self.grace_period!r}, "
                f"reduction_factor={self.reduction_factor!r}, brackets={self.brackets!r})")
