"""The `Searcher` interface: config for trial number `index`, points_to_evaluate first.

Searchers are pure: the driver (the Dask loop, or any other that runs trials) feeds them what
happens with plain method calls, and with the same seed and the same calls they suggest the same
configs. Model-based searchers learn from those calls; random and grid search ignore them.

The driver's side of the contract, in the order it sees things:

- Before its first call of a run: :meth:`Searcher.reset`; then, for a warm-started study, the
  ended trials of the earlier study, mapped into this space, under trial ids below 0 (they are
  not trials of this study); then, for a resumed study, a replay of the stored trials that
  ended. Each replay goes in the order the trials ended (each one's :meth:`on_trial_start`, its
  reports with :meth:`on_report`, its :meth:`on_trial_end`), so a resumed model-based study
  continues as it would have without the interruption (``nbtune.contract.replay``).
- A new trial is wanted: :meth:`suggest` with the trial's number (the count of trials created so
  far); None means the searcher is spent. A driver whose free worker would otherwise wait for a
  costly suggestion may instead start the trial with :meth:`quick`'s random config (the real
  loop does, in a study with a time budget whose suggestions outlast its trials:
  :mod:`nbtune.run.thinking`); the searcher hears of that trial as of any other.
- A trial is sent to run (fresh, retried, or a paused one resumed): :meth:`on_trial_start`. From
  then until its end it is pending (running or queued): a suggestion made meanwhile takes it into
  account.
- Each report of a running trial: :meth:`on_report` with the trial, its config, the resource level
  reported (None if the report has none) and the metric's value (None if missing or not finite).
- A trial leaves the running set: :meth:`on_trial_end` with its state ("completed", "stopped",
  "failed", "interrupted", or "paused" when it may be resumed later) and its final value. Just
  before, where the trial ran on a worker (its start and end times known: not an interrupted
  one), :meth:`on_trial_time` with the seconds that run took (the simulator's seconds in a
  simulation; a resumed study's replay gives each stored trial's last run).
"""
from __future__ import annotations

import contextlib
import copy
import math
import json
from typing import Any

import numpy as np

from ..caller import user_facing
from ..space import Space, as_space


def _check_int(what: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{what} must be an integer >= {low}, got {value!r}")
    return int(value)


def config_key(config: dict) -> str:
    """A config as a string, equal for equal configs: what "already tried" is checked by."""
    return json.dumps(config, sort_keys=True)


def untried_sample(space: Space, rng: np.random.Generator, tried: set[str]) -> dict:
    """A random config whose key is not in ``tried`` (within a few draws: a finite space may be
    spent, and then the last draw is returned)."""
    for _ in range(100):
        config = space.sample(rng)
        if config_key(config) not in tried:
            break
    return config


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a bool, if it is one (numpy's too); ValueError naming ``name`` otherwise."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {name}={value!r}")
    return bool(value)


def check_number(name: str, value: Any, low: float, high: float | None,
                 closed: tuple[bool, bool], what: str) -> float:
    """``value`` as a float, if a finite number between ``low`` and ``high`` (``closed`` says
    whether each end is allowed); ValueError naming ``name`` and ``what`` it must be otherwise."""
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool) \
        and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = (v >= low if closed[0] else v > low) and \
            (high is None or (v <= high if closed[1] else v < high))
    if not ok:
        raise ValueError(f"{name} must be {what}, got {name}={value!r}")
    return float(value)


QUICK_STREAM = 7919  # the last word of the seed of :meth:`Searcher.quick`'s draws


class Searcher:
    """Suggests configs by trial index; subclasses implement `_suggest`.

    `points_to_evaluate` (Syne Tune semantics, one difference): the listed configs, completed
    with the space's defaults and validated, are trials 0..k-1. None means no initial points
    (Syne Tune would evaluate the default config first), so random search stays unbiased;
    pass `[space.default()]` for Syne Tune's behaviour.
    """

    name = "searcher"
    costly_suggest = False
    """Whether ``suggest`` costs more than a trial's round trip (a model's fit and acquisition):
    the real loop then makes the searcher's calls on a thread of its own, in its order, so that
    rung verdicts and trial starts never wait for a suggestion (:mod:`nbtune.run.thinking`)."""
    draws_while_thinking = False
    """Whether :meth:`quick` may draw a random config (a searcher that sets it keeps ``_tried``,
    the keys of the configs tried or pending): a driver whose free worker would wait for a
    costly suggestion starts a trial with such a config instead (:mod:`nbtune.run.thinking`)."""
    added_options: dict[str, Any] = {}
    """Options newer than some stored studies, with the value those studies ran with (a resumed
    study older than the option runs on with that value)."""

    quick_draws = 0  # configs :meth:`quick` gave (this run)

    @user_facing
    def __init__(self, space: Space | dict, seed: int | None = None,
                 points_to_evaluate: list[dict] | None = None, mode: str | None = None) -> None:
        self.space = as_space(space)
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        self.seed = _check_int("seed", seed, 0)
        # a mode the searcher was built with: a study of the other mode says it sets its own
        self.mode_given = mode is not None
        mode = "min" if mode is None else mode
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.mode = mode
        self.points_to_evaluate: list[dict] = []
        self.allowed: list[dict] | None = None  # restrict(): the only configs to suggest
        for i, point in enumerate(points_to_evaluate or []):
            try:
                config = self.space.complete(point)
                self.space.validate(config)
            except ValueError as e:
                raise ValueError(f"points_to_evaluate[{i}]: {e}") from None
            self.points_to_evaluate.append(config)

    @property
    def max_trials(self) -> int | None:
        """How many configs `suggest` gives before None; None when unbounded."""
        return None

    def suggest(self, index: int) -> dict | None:
        """Config for trial `index` (0-based), or None when the searcher is exhausted."""
        index = _check_int("index", index, 0)
        if index < len(self.points_to_evaluate):
            return self._snap(copy.deepcopy(self.points_to_evaluate[index]))
        limit = self.max_trials
        if limit is not None and index >= limit:
            return None
        return self._snap(self._suggest(index))

    def quick(self, index: int) -> dict | None:
        """A config for trial ``index`` drawn at once, at random, not tried yet (from a stream
        of its own, so a model's random suggestion for the same index is another config), or
        None where there is none: a listed point, the searcher spent, or a searcher that does
        not set ``draws_while_thinking``. Each config given counts in ``quick_draws``."""
        if not self.draws_while_thinking or index < len(self.points_to_evaluate):
            return None
        limit = self.max_trials
        if limit is not None and index >= limit:
            return None
        rng = np.random.default_rng([self.seed, index, QUICK_STREAM])
        config = untried_sample(self.space, rng, self._tried)  # type: ignore[attr-defined]
        self.quick_draws += 1
        return config

    def restrict(self, configs: list[dict], codes: np.ndarray | None = None) -> None:
        """Suggest only among ``configs`` from now on, each once while some are left (the
        simulator restricts a searcher to its table's configs, so a suggestion is a config the
        table measured, not its nearest neighbour, and two suggestions never share a row).
        ``codes``: the configs' unit-cube encoding, when the caller holds it already."""
        from .encoding import Encoding

        self._encoding = Encoding(self.space)
        self.allowed = [self.space.complete(c) for c in configs] if codes is None \
            else list(configs)
        self._allowed_codes = self._encoding.encode_all(self.allowed) if codes is None else codes
        self._allowed_free = np.ones(len(self.allowed), dtype=bool)

    def unused_allowed(self) -> list[int] | None:
        """Indices of the allowed configs not suggested yet (None: not restricted)."""
        if self.allowed is None:
            return None
        return [int(i) for i in np.flatnonzero(self._allowed_free)]

    def _snap(self, config: dict | None) -> dict | None:
        """``config`` itself, or when restricted, the nearest allowed config not suggested yet
        in the unit-cube encoding (the nearest of all once every one was)."""
        if config is None or self.allowed is None:
            return config
        distance = ((self._allowed_codes - self._encoding.encode(config)) ** 2).sum(axis=1)
        if self._allowed_free.any():
            distance = np.where(self._allowed_free, distance, np.inf)
        i = int(np.argmin(distance))
        self._allowed_free[i] = False
        return copy.deepcopy(self.allowed[i])

    def _suggest(self, index: int) -> dict | None:
        """Config for an index past points_to_evaluate and below max_trials."""
        raise NotImplementedError

    @property
    def options(self) -> dict[str, Any]:
        """Constructor options (JSON values) a resumed study builds its searcher with again."""
        return {}

    @property
    def observations(self) -> int | None:
        """How many observations the searcher's model holds; None for a searcher without one."""
        return None

    @property
    def modelled_trials(self) -> int | None:
        """How many trials the observations come from (a trial is an observation at each level
        it reached, in some models); None for a searcher without a model."""
        return None

    def predict(self, configs: list[dict], level: float | None) -> np.ndarray | None:
        """The metric the searcher's model expects of each config at resource ``level``, or
        None: a searcher without a model (the default), or one that knows too little yet. A
        scheduler that judges by the model (``ASHAScheduler(judge="model")``) asks it."""
        return None

    def reset(self) -> None:
        """Forget every event seen: a driver calls it before a run (and its replay) starts."""

    def warm_replay(self) -> Any:
        """A context the events of a warm start are replayed in, all at once before the run's
        first suggestion (:func:`nbtune.contract.replay.start_searcher`): a searcher may do at
        its end what it would do after each event (``bayesopt`` fits its kernel there once,
        not at each refit point of hundreds of trials). The same events in it, the same
        searcher after it. The default does nothing more."""
        return contextlib.nullcontext()

    def on_trial_start(self, trial_id: int, config: dict) -> None:
        """Trial ``trial_id`` was sent to run with ``config``: pending until it ends."""

    def on_report(self, trial_id: int, config: dict, level: float | None,
                  value: float | None) -> None:
        """A running trial reported ``value`` of the metric at resource ``level``."""

    def on_trial_end(self, trial_id: int, config: dict, state: str,
                     value: float | None) -> None:
        """Trial ``trial_id`` left the running set in ``state`` with final ``value``; by default
        a trial's final end (not "paused") goes to :meth:`observe`."""
        if state != "paused":
            self.observe(config, value, state)

    def on_trial_time(self, trial_id: int, config: dict, seconds: float) -> None:
        """Trial ``trial_id``'s run (from its start on a worker to its end or pause) took
        ``seconds``; comes just before :meth:`on_trial_end`. A searcher that weighs what a
        config costs (``bayesopt(cost_aware=True)``) learns it from these."""

    def observe(self, config: dict, value: float | None, state: str) -> None:
        """Result of a finished trial (value None if it reported none); unused by default."""

    def rng_for(self, index: int) -> np.random.Generator:
        """Generator that depends only on (seed, index): resuming at index N repeats exactly."""
        return np.random.default_rng([self.seed, index])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed}, mode={self.mode!r})"
