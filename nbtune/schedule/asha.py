"""Asynchronous successive halving (ASHA) and asynchronous Hyperband, as in Syne Tune."""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..caller import user_facing, warn_note
from .base import CONTINUE, PAUSE, RESUME, START, STOP, WAIT, Scheduler
from .rungs import (as_int, check_reduction_factor, positive_int, quantile_of, report_level,
                    resolve_max_t, rung_value)
from .rungs import rung_levels as make_levels
from .sorted_keys import SortedKeys
from . import pasha

RUNNING, PAUSED, ENDED = "running", "paused", "ended"
ALL = 1_000_000  # brackets="all": more than any study's rung levels


@dataclass
class _Trial:
    bracket: int
    values: dict[int, float | None] = field(default_factory=dict)  # level -> value (None: worst)
    status: str = RUNNING
    paused_at: int | None = None  # the rung level of its last PAUSE, while it sits paused there
    waiting: tuple[int, int] | None = None  # the rung it waits at to be promoted, if any
    config: dict = field(default_factory=dict)  # for a model's prediction (judge="model")


class _Rung:
    """The values recorded at one rung level, ranked (best first, ties by the earlier trial, no
    value last), and the paused trials there that a promotion may resume, ranked the same way."""

    def __init__(self, mode: str):
        self.sign = -1.0 if mode == "max" else 1.0
        self.values: dict[int, float | None] = {}
        self.ranked = SortedKeys()
        self.waiting = SortedKeys()

    def __len__(self) -> int:
        return len(self.values)

    def key(self, trial_id: int) -> tuple[int, float, int]:
        v = self.values[trial_id]
        return (1, 0.0, trial_id) if v is None else (0, self.sign * v, trial_id)

    def add(self, trial_id: int, value: float | None) -> None:
        self.values[trial_id] = value
        self.ranked.add(self.key(trial_id))

    def remove(self, trial_id: int) -> None:
        if trial_id in self.values:
            self.ranked.remove(self.key(trial_id))
            del self.values[trial_id]

    def ascending(self, i: int) -> float:
        """The i-th smallest value, no value counted as the worst (-inf in max mode, inf in min)."""
        key = self.ranked[len(self.values) - 1 - i if self.sign < 0 else i]
        return self.sign * float("inf") if key[0] else self.sign * key[1]


def _unused_beside_levels(levels: Sequence[int], grace_period: Any, reduction_factor: Any) -> str:
    """Why grace_period or reduction_factor given beside rung_levels changes nothing: the levels
    are the rungs, and each keeps the ratio of its level to the next (Syne Tune's rule); a
    reduction_factor=3 beside them was ignored in silence (first-day test, round 61)."""
    given = [(k, v) for k, v in (("grace_period", grace_period),
                                 ("reduction_factor", reduction_factor)) if v is not None]
    levels = list(levels)
    kept = ", ".join(f"{a}/{b}" for a, b in zip(levels, [*levels[1:], "max_t"]))
    return (f"rung_levels={levels!r} set the rungs, so "
            f"{' and '.join(f'{k}={v!r}' for k, v in given)} "
            f"{'is' if len(given) == 1 else 'are'} not used: at each rung a trial goes on when "
            f"it is in the best fraction level/next level of the values there ({kept}), as "
            f"Syne Tune's rung_levels do; drop {' and '.join(k for k, _ in given)}, or drop "
            f"rung_levels for rungs at grace_period * reduction_factor**k")


# a last rung below max_t at this share of it, or above, is named (see layout_note)
CLOSE_TO_END = 0.85


class ASHAScheduler(Scheduler):
    """Asynchronous successive halving: judge each trial at rung levels against the others there.

    ``type="stopping"`` (the default) stops a trial at a rung unless its value is in the best
    ``1/reduction_factor`` of the values recorded there; ``type="promotion"`` (ASHA of Li et al.)
    pauses every trial at every rung and resumes the best paused ones when a slot is free. A
    trial that reaches a rung as the one its freed slot would resume goes on without pausing.
    ``brackets > 1`` gives asynchronous Hyperband: each new trial draws a bracket, and bracket
    ``b`` starts judging at the rung ``levels[b]`` (``brackets="all"``: one bracket per rung
    level, Hyperband's full set; with ``rung_system_per_bracket=True``, Optuna's HyperbandPruner).

    With explicit ``rung_levels`` the fraction kept at rung ``k`` is ``levels[k] / levels[k+1]``
    (the ratio of successive levels, max_t included) instead of ``1/reduction_factor``.

    ``judge="model"`` (stopping type, with a searcher that has a model, such as ``bayesopt``):
    a trial that its rank would stop goes on when the model predicts its value at max_t to be in
    the best fraction of the predictions for the trials at that rung (freeze-thaw's and DyHPO's
    idea: where early values mislead, what the model expects of the end decides). The model only
    adds survivors; while it knows too little, the rank alone decides.
    """

    name = "asha"

    @user_facing
    def __init__(self, max_t: int | None = None, grace_period: int | None = None,
                 reduction_factor: int | None = None, rung_levels: Sequence[int] | None = None,
                 type: str = "stopping", brackets: int | str = 1,
                 rung_system_per_bracket: bool = False, judge: str = "rank"):
        if rung_levels is not None and (grace_period, reduction_factor) != (None, None):
            warn_note(_unused_beside_levels(rung_levels, grace_period, reduction_factor))
        grace_period = 1 if grace_period is None else grace_period  # the defaults
        reduction_factor = 3 if reduction_factor is None else reduction_factor
        if type not in ("stopping", "promotion", "pasha"):
            raise ValueError(f"type must be 'stopping', 'promotion' or 'pasha', got type={type!r}")
        if judge not in ("rank", "model"):
            raise ValueError(f"judge must be 'rank' or 'model', got judge={judge!r}")
        if judge == "model" and type != "stopping":
            raise ValueError("judge='model' works with type='stopping' only: drop one of them")
        n = ALL if brackets == "all" else as_int(brackets)
        if n is None or n < 1:
            raise ValueError(f"brackets must be an integer >= 1 (1: successive halving) or "
                             f"'all' (one per rung level), got brackets={brackets!r}")
        self.max_t, self.grace_period, self.reduction_factor = max_t, grace_period, reduction_factor
        self.rung_levels = None if rung_levels is None else list(rung_levels)
        self.type, self.judge = type, judge
        self.brackets = "all" if n == ALL else n
        self._predict: Any = None
        self.rung_system_per_bracket = bool(rung_system_per_bracket)
        self.pauses = type in ("promotion", "pasha")
        if type == "pasha" and brackets not in (1, None):
            raise ValueError("type='pasha' raises one top level for the whole study: it takes no "
                             "brackets; drop brackets, or give type='promotion' for brackets")
        self.levels: list[int] | None = None
        self._reset()
        if max_t is not None:
            self._set_levels(max_t)
        else:  # max_t comes from the space at setup; check the rest now
            check_reduction_factor(reduction_factor)
            positive_int("grace_period", grace_period)
            if rung_levels is not None:
                make_levels(None, rung_levels=rung_levels)

    def _set_levels(self, max_t: int | None) -> None:
        self.levels = make_levels(max_t, self.grace_period, self.reduction_factor, self.rung_levels)
        self._reset()  # pasha's top level starts from these levels
        eta = check_reduction_factor(self.reduction_factor)
        if self.rung_levels is None:  # keep (num, den): the kept fraction num/den, in integers
            self._keep = [(1, eta)] * (len(self.levels) - 1)
        else:
            self._keep = list(zip(self.levels, self.levels[1:]))
        self.n_brackets = min(ALL if self.brackets == "all" else self.brackets, len(self.levels))
        top = len(self.levels) - 1  # bracket b is Hyperband's bracket with s = top - b halvings
        weights = np.array([eta ** (top - b) / (top - b + 1) for b in range(self.n_brackets)])
        self.bracket_probabilities = weights / weights.sum()
        self._cumulative = np.cumsum(self.bracket_probabilities)

    def _reset(self) -> None:
        seed = getattr(self, "seed", None)  # brackets drawn per trial id: see on_trial_start
        self._bracket_seed = int(np.random.SeedSequence().generate_state(1)[0]) \
            if seed is None else int(seed)
        self._trials: dict[int, _Trial] = {}
        self._rungs: dict[tuple[int, int], _Rung] = {}  # (system, level) -> its values, ranked
        # pasha: the index in levels of the most a trial trains now, and every trial's values
        # at every level it reported (the noise that tells a tie from a difference)
        self._top = None if self.levels is None else pasha.start_index(self.levels)
        self._noise = pasha.Noise()
        if self._top:
            self._noise.set_window(self.levels[self._top - 1], self.levels[self._top])
        self.epsilon = 0.0
        self.model_kept = 0  # judge="model": trials that went on where their rank stopped them

    def setup(self, metric: str, mode: str, resource: str, *, seed: int | None = None,
              space: Mapping[str, Any] | None = None) -> None:
        """Receive the study's settings; max_t is inferred from the space when it was not given."""
        super().setup(metric, mode, resource, seed=seed, space=space)
        if self.levels is None:
            self._set_levels(resolve_max_t(self.name, self.max_t, space, resource,
                                           self.rung_levels))
        self._reset()

    def use_model(self, predict: Any) -> None:
        """Keep the searcher's ``predict`` when judging by the model."""
        if self.judge == "model":
            self._predict = predict

    def _levels(self) -> list[int]:
        if self.levels is None:
            raise RuntimeError(f"{type(self).__name__} has no max_t yet: call setup() first")
        return self.levels

    def decision_points(self) -> Sequence[float]:
        """The rung levels below max_t."""
        return tuple(self._levels()[:-1])

    def idle_note(self, n_trials: int | None) -> str | None:
        """grace_period at max_t: the one rung is the end, so no trial is judged before it."""
        if self.decision_points():
            return None
        top = self.max_level()
        return (f"the asha scheduler's first rung is max_t={top} (grace_period="
                f"{self.grace_period}): it judges no trial before the end, so early stopping is "
                f"off; give a grace_period below max_t (%%tune --grace-period 1)")

    def layout_note(self) -> str | None:
        """The last rung below max_t lies within :data:`CLOSE_TO_END` of it (max_t=30: rungs
        1, 3, 9, 27, 30): a trial stopped there had nearly trained in full (three trials were
        stopped 3 epochs from the end: first-day test, round 41). Rungs set by hand are left
        as given."""
        levels = self._levels()
        if self.rung_levels is not None or len(levels) < 3:
            return None
        last, top = levels[-2], levels[-1]
        if last < CLOSE_TO_END * top:
            return None
        lower = last  # max_t on the rung: the same rungs, ending there
        higher = last * self.reduction_factor
        return (f"the asha scheduler's last rungs, {last} and max_t={top}, are close: a trial "
                f"stopped at {last} has trained {last / top:.0%} of max_t; give max_t={lower} "
                f"or {higher} (%%tune --max-t {lower}), where the rungs grace_period * "
                f"reduction_factor**k end")

    def max_level(self) -> int:
        """max_t: the last rung level."""
        return self._levels()[-1]

    def _system(self, trial: _Trial) -> int:
        return trial.bracket if self.rung_system_per_bracket else 0

    def on_trial_start(self, trial_id: int, config: dict[str, Any]) -> None:
        """A new trial draws its bracket, from the seed and its id alone (a resumed study
        replays only its ended trials, and a trial left unfinished must not shift the brackets
        of those after it); a known one (a retry) forgets its values, keeps its bracket."""
        self._levels()
        t = self._trials.get(trial_id)
        if t is None:
            b = 0
            if self.n_brackets > 1:
                u = np.random.default_rng([self._bracket_seed, trial_id]).random()
                b = min(int(np.searchsorted(self._cumulative, u, side="right")),
                        self.n_brackets - 1)
            self._trials[trial_id] = _Trial(b, config=dict(config))
            return
        self._unwait(trial_id, t)
        for level in t.values:
            self._rungs[self._system(t), level].remove(trial_id)
        t.values, t.status, t.paused_at = {}, RUNNING, None
        self._noise.forget(trial_id)

    def on_report(self, trial_id: int, report: dict[str, Any]) -> str:
        """Judge the trial when it reports a rung level of its bracket for the first time."""
        levels = self._levels()
        if trial_id not in self._trials:
            self.on_trial_start(trial_id, {})
        t = self._trials[trial_id]
        level = report_level(report, self.resource)
        if self.type == "pasha" and level is not None:
            value = rung_value(report, self.metric)
            if value is not None:
                self._noise.add(trial_id, level, value)
        if level is None or level not in levels[t.bracket:]:
            return CONTINUE
        if t.values and level <= max(t.values):
            return CONTINUE  # a restart from scratch: this rung was judged before
        value = rung_value(report, self.metric)
        t.values[level] = value
        rung = self._rungs.get((self._system(t), level))
        if rung is None:
            rung = self._rungs[self._system(t), level] = _Rung(self.mode)
        rung.add(trial_id, value)
        if self.type == "pasha" and level == levels[self._top]:
            self._raise_top()
        if level == levels[-1]:
            return CONTINUE
        if self.type == "pasha" and level >= self.top_level():  # the most it trains for now
            t.paused_at = level
            return PAUSE
        if self.type in ("promotion", "pasha"):
            if value is not None and self._promotes_itself(trial_id, rung):
                return CONTINUE
            t.paused_at = level
            return PAUSE
        if value is None:
            return STOP
        num, den = self._keep[levels.index(level)]
        if len(rung) * num < den:  # fewer values than the reduction factor
            return CONTINUE
        if self.mode == "max":
            kept = value >= quantile_of(rung.ascending, len(rung), 1 - num / den)
        else:
            kept = value <= quantile_of(rung.ascending, len(rung), num / den)
        if kept:
            return CONTINUE
        if self._expected_best(trial_id, rung, num / den):
            self.model_kept += 1
            return CONTINUE
        return STOP

    def _expected_best(self, trial_id: int, rung: _Rung, fraction: float) -> bool:
        """judge="model": the model expects the trial at max_t among the best ``fraction`` of
        the rung's trials there."""
        if self._predict is None:
            return False
        ids = [i for i, v in rung.values.items() if v is not None]
        predicted = self._predict([self._trials[i].config for i in ids], self._levels()[-1])
        if predicted is None:
            return False
        mine = predicted[ids.index(trial_id)]
        if self.mode == "max":
            return bool(mine >= np.quantile(predicted, 1 - fraction))
        return bool(mine <= np.quantile(predicted, fraction))

    def on_trial_end(self, trial_id: int, state: str) -> None:
        """A paused trial may be promoted later; a trial that ended otherwise never is."""
        t = self._trials.get(trial_id)
        if t is not None:
            self._unwait(trial_id, t)
            t.status = PAUSED if state == PAUSED else ENDED
            if t.status != PAUSED:
                t.paused_at = None
            elif t.paused_at is not None:
                rung = self._rungs[self._system(t), t.paused_at]
                if rung.values.get(trial_id) is not None:
                    rung.waiting.add(rung.key(trial_id))
                    t.waiting = (self._system(t), t.paused_at)

    def _unwait(self, trial_id: int, t: _Trial) -> None:
        if t.waiting is not None:
            rung = self._rungs[t.waiting]
            rung.waiting.remove(rung.key(trial_id))
            t.waiting = None

    def next_action(self, can_start: bool = True) -> tuple[str, int | None]:
        """Promotion type: resume the best promotable paused trial, highest rung first. Once no
        new trial may start (the study's trials are all drawn), each rung promotes the top
        ``ceil`` of its part instead of the ``floor``, as a synchronous bracket ends: with 16
        trials and reduction factor 3, rung 9 held one or two trials and promoted none, so no
        trial reached max_t and the study ended with no result."""
        if self.pauses:
            trial_id = self._promotable(ending=not can_start)
            if trial_id is not None:
                return RESUME, trial_id
        return (START, None) if can_start else (WAIT, None)

    def _promotes_itself(self, trial_id: int, rung: _Rung) -> bool:
        """Promotion type, at a rung: whether the trial, paused here, is the one the slot it
        frees would resume (:meth:`_promotable`). It then goes on in its task, without the pause
        and resume between: the same decision, made without the round trip."""
        key = rung.key(trial_id)
        rung.waiting.add(key)
        try:
            return self._promotable() == trial_id
        finally:
            rung.waiting.remove(key)

    def _promotable(self, ending: bool = False) -> int | None:
        """The best paused trial of the highest rung where it ranks in the part kept (rounded
        down; up when ``ending``: see :meth:`next_action`), else None."""
        levels = self._levels()
        systems = range(self.n_brackets) if self.rung_system_per_bracket else range(1)
        below = len(levels) - 1 if self.type != "pasha" else self._top  # pasha: up to its top
        for k in reversed(range(below)):
            num, den = self._keep[k]
            for system in systems:  # the best paused trial there, when it ranks in the top part
                rung = self._rungs.get((system, levels[k]))
                if rung is None or not rung.waiting:
                    continue
                kept = -(-len(rung) * num // den) if ending else len(rung) * num // den
                best = rung.waiting[0]
                if best[0] == 0 and rung.ranked.rank(best) < kept:  # a trial with no value: never
                    return best[2]
        return None

    def on_trial_resume(self, trial_id: int) -> None:
        """The trial was promoted from the rung it was paused at; it pauses next at the next rung."""
        t = self._trials.get(trial_id)
        if t is not None:
            self._unwait(trial_id, t)
            t.status, t.paused_at = RUNNING, None

    def top_level(self) -> int:
        """The most a trial trains now: max_t, or for ``type="pasha"`` the top level reached so
        far (a trial paused there is promoted once the top goes up)."""
        levels = self._levels()
        return levels[-1] if self.type != "pasha" else levels[self._top]

    def _raise_top(self) -> None:
        """pasha: after a report at the top rung, go up a rung where the trials there are
        ranked otherwise than at the rung below (:mod:`.pasha`); only a report at the top can
        change that (a trial reaches the rung below before the top)."""
        levels = self._levels()
        k = self._top
        if k == len(levels) - 1:
            return
        top, below = self._rungs.get((0, levels[k])), self._rungs.get((0, levels[k - 1]))
        if top is None or below is None:
            return
        noise = self._noise.epsilon()
        if noise is not None:
            self.epsilon = noise
        ours = {i: v for i, v in top.values.items() if v is not None}
        theirs = {i: v for i, v in below.values.items() if v is not None}
        if not pasha.ranks_agree(ours, theirs, self.mode, self.epsilon):
            self._top = k + 1
            self._noise.set_window(levels[k], levels[k + 1])

    def ends_paused_as(self, trial_id: int) -> str | None:
        """pasha: a trial still paused at the top level when the study ends reached the most
        a trial trains, and ends completed there; None for the others (stopped)."""
        t = self._trials.get(trial_id)
        if self.type != "pasha" or t is None or t.paused_at is None:
            return None
        return "completed" if t.paused_at >= self.top_level() else None

    def take_discarded(self) -> list[int]:
        """Paused trials that will never be resumed: none (a later rung may still promote them)."""
        return []

    def bracket_of(self, trial_id: int) -> int | None:
        """The bracket of a known trial (0: judged from the first rung on), else None."""
        t = self._trials.get(trial_id)
        return None if t is None else t.bracket

    def rung_counts(self) -> dict[int, int]:
        """Rung level -> number of values recorded there (all brackets together), max_t included."""
        counts = dict.fromkeys(self._levels(), 0)
        for (_, level), values in self._rungs.items():
            counts[level] += len(values)
        return counts

    def paused_trials(self) -> dict[int, int]:
        """Trial id -> rung level, for the trials paused at a rung now."""
        return {i: t.paused_at for i, t in self._trials.items()
                if t.status == PAUSED and t.paused_at is not None}

    def __repr__(self) -> str:
        opts = [f"max_t={self.max_t!r}", f"grace_period={self.grace_period!r}",
                f"reduction_factor={self.reduction_factor!r}"]
        if self.rung_levels is not None:
            opts.append(f"rung_levels={self.rung_levels!r}")
        opts += [f"type={self.type!r}", f"brackets={self.brackets!r}"]
        if self.judge != "rank":
            opts.append(f"judge={self.judge!r}")
        if self.brackets == "all" or self.brackets > 1:
            opts.append(f"rung_system_per_bracket={self.rung_system_per_bracket!r}")
        return f"ASHAScheduler({', '.join(opts)})"
