"""Optuna's samplers as nbtune searchers: ask and tell on an in-memory Optuna study.

``searcher=optuna.samplers.TPESampler(seed=0)`` (any Optuna sampler instance) or
``searcher="optuna"`` (a TPESampler seeded with the study's seed) runs through
:class:`OptunaSearcher`. Optuna is never imported by nbtune itself: only when such a searcher is
built, and a sampler is recognised by its classes' module, so ``import nbtune`` never needs it.

The space maps onto Optuna's distributions: ``uniform``/``loguniform`` to ``FloatDistribution``
(``log``), ``randint``/``lograndint`` to ``IntDistribution``, ``quniform`` to either with its
``step``, ``choice`` to ``CategoricalDistribution`` (of the option's positions when its options are
not all strings or all numbers; Optuna ignores weights), ``grid``/``linspace``/``logspace`` to an
``IntDistribution`` over the positions of their ordered values; fixed values pass through. Events:
a suggestion is ``study.ask``; a trial started with a config that was not asked for (listed
``points_to_evaluate``, a resumed study's replay) is enqueued and asked, so the sampler sees it;
each report is ``trial.report(value, step=level)``; the end is ``study.tell``: completed ->
COMPLETE, stopped by a scheduler -> PRUNED (its last reported value is its value), failed or
interrupted -> FAIL; a paused trial stays running. The direction is the study's mode.
"""
from __future__ import annotations

import contextlib
import copy
import math
import warnings
from typing import Any, Callable, Iterator

from ..domains import Finite, choice, fixed, lograndint, loguniform, quniform, randint, uniform
from ..ported import of_optuna
from ..space import Space
from .base import Searcher

NEEDS = "searcher 'optuna' needs Optuna: pip install optuna"
DEFAULT_SAMPLER = "TPESampler"


def is_optuna_sampler(obj: Any) -> bool:
    """Whether ``obj`` is an instance of an Optuna sampler class (looked up by the classes'
    module, so that it never imports Optuna)."""
    if isinstance(obj, (str, type)) or obj is None:
        return False
    return hasattr(obj, "sample_independent") and of_optuna(obj)


# Optuna's samplers that import an optional package only once they model, after their random
# start-up trials: GPSampler ran 41 trials, then the study died on "No module named 'torch'"
# (first-day test, round 36)
SAMPLER_NEEDS = {"GPSampler": ("torch", "PyTorch", "pip install torch"),
                 "BoTorchSampler": ("botorch", "BoTorch", "pip install optuna-integration botorch"),
                 "CmaEsSampler": ("cmaes", "cmaes", "pip install cmaes")}


def _check_needs(name: str) -> None:
    """ValueError, one line, where Optuna's sampler ``name`` needs a package not installed."""
    import importlib.util

    need = SAMPLER_NEEDS.get(name)
    if need is not None and importlib.util.find_spec(need[0]) is None:
        module, label, install = need
        raise ValueError(f"Optuna's {name} needs {label} once it models (after its random "
                         f"start-up trials), and it is not installed here: {install}, or "
                         "searcher='bayesopt', nbtune's own Gaussian process, which needs none")


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ValueError(NEEDS) from None
    return optuna


@contextlib.contextmanager
def _quiet(optuna: Any) -> Iterator[None]:
    """Optuna's per-trial log lines and warnings (a step reported twice) left out."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        optuna.logging.set_verbosity(level)


def dimension(optuna: Any, d: Any) -> tuple[Any, Callable[[Any], Any], Callable[[Any], Any]]:
    """(Optuna distribution, nbtune value -> Optuna param, Optuna param -> nbtune value) of the
    nbtune domain ``d``; ``optuna`` is the imported module."""
    dist = optuna.distributions
    if type(d) in (uniform, loguniform):
        return (dist.FloatDistribution(d.lo, d.hi, log=d.log), float,
                lambda v: min(max(float(v), d.lo), d.hi))
    if type(d) in (randint, lograndint):
        return dist.IntDistribution(d.lo, d.hi, log=d.log), int, int
    if isinstance(d, quniform):
        lo, hi = d.from_unit(0.0), d.from_unit(1.0)  # the first and last multiples of q
        kind = dist.IntDistribution if d.integer else dist.FloatDistribution
        return (kind(lo, hi, step=d.q), lambda v: v,
                lambda v: d.from_unit((float(v) - d.lo) / (d.hi - d.lo)))
    if isinstance(d, choice):
        values = d.values
        plain = all(isinstance(v, str) for v in values) or all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if plain and len({float(v) if not isinstance(v, str) else v for v in values}) == d.size:
            return (dist.CategoricalDistribution(values), lambda v: values[d._index(v)],
                    lambda v: d.value_at(values.index(v)))
        return (dist.CategoricalDistribution(list(range(d.size))), d._index,
                lambda v: d.value_at(int(v)))
    if isinstance(d, Finite):  # grid, linspace, logspace: ordered, by position
        return dist.IntDistribution(0, d.size - 1), d._index, lambda v: d.value_at(int(v))
    raise ValueError(f"Optuna's samplers cannot search {d!r}")


class OptunaSearcher(Searcher):
    """An Optuna sampler (``sampler``: an instance, or the name of a class in
    ``optuna.samplers``, built with the searcher's seed) driven by ask and tell; see the module's
    docstring."""

    name = "optuna"
    costly_suggest = True

    def __init__(self, space: Space | dict, seed: int | None = None,
                 points_to_evaluate: list[dict] | None = None, mode: str | None = None,
                 sampler: Any = DEFAULT_SAMPLER) -> None:
        optuna = _import_optuna()
        super().__init__(space, seed, points_to_evaluate, mode)
        if isinstance(sampler, str):
            cls = getattr(optuna.samplers, sampler, None)
            if not isinstance(cls, type) or not issubclass(cls, optuna.samplers.BaseSampler) \
                    or cls is optuna.samplers.BaseSampler:
                known = sorted(n for n in dir(optuna.samplers) if n.endswith("Sampler")
                               and n not in ("BaseSampler", "BaseGASampler"))
                raise ValueError(f"unknown Optuna sampler {sampler!r}; known: "
                                 f"{', '.join(known)}, or pass a sampler instance")
            try:
                instance = cls(seed=self.seed)
            except TypeError:
                raise ValueError(f"Optuna's {sampler} needs arguments: pass an instance "
                                 f"(searcher=optuna.samplers.{sampler}(...))") from None
            self.sampler_name: str | None = sampler
        elif is_optuna_sampler(sampler):
            instance, self.sampler_name = sampler, None
        else:
            raise ValueError(f"sampler must be an Optuna sampler or the name of one, got "
                             f"{sampler!r}")
        _check_needs(type(instance).__name__)
        self._optuna = optuna
        self._pristine = copy.deepcopy(instance)  # each run starts from the sampler as given
        self.sampler = instance
        self._dims = {k: dimension(optuna, self.space[k]) for k in self.space.unit_names}
        self.distributions = {k: dim[0] for k, dim in self._dims.items()}
        self.reset()

    def reset(self) -> None:
        """A fresh Optuna study and a fresh copy of the sampler as it was given."""
        self.sampler = copy.deepcopy(self._pristine)
        self._study: Any = None
        self._asked: dict[int, Any] = {}  # trial index -> Optuna trial asked, not started yet
        self._running: dict[int, Any] = {}  # nbtune trial -> Optuna trial, until told
        self._steps: dict[int, int] = {}  # reports per trial, the step of a report without level
        self.numbers: dict[int, int] = {}  # nbtune trial -> its Optuna trial's number
        self._told = 0

    @property
    def study(self) -> Any:
        """The in-memory Optuna study (created at the first event, with the searcher's mode)."""
        if self._study is None:
            with _quiet(self._optuna):
                self._study = self._optuna.create_study(
                    sampler=self.sampler,
                    direction="minimize" if self.mode == "min" else "maximize")
        return self._study

    def _config(self, params: dict) -> dict:
        out = {}
        for k, d in self.space.items():
            out[k] = d.default() if isinstance(d, fixed) else self._dims[k][2](params[k])
        return out

    def _params(self, config: dict) -> dict:
        return {k: dim[1](config[k]) for k, dim in self._dims.items()}

    def _suggest(self, index: int) -> dict:
        if index not in self._asked:
            with _quiet(self._optuna):
                self._asked[index] = self.study.ask(self.distributions)
        return self._config(self._asked[index].params)

    def _trial(self, trial_id: int, config: dict) -> Any:
        """The Optuna trial of ``trial_id``: the one asked for it if it runs that config, else
        one enqueued with the config."""
        trial = self._running.get(trial_id)
        if trial is not None:
            return trial
        asked = self._asked.pop(trial_id, None)
        if asked is not None and self._config(asked.params) == config:
            trial = asked
        else:
            if asked is not None:  # asked for, then run with another config: not a result
                with _quiet(self._optuna):
                    self.study.tell(asked, state=self._optuna.trial.TrialState.FAIL)
            with _quiet(self._optuna):
                self.study.enqueue_trial(self._params(config))
                trial = self.study.ask(self.distributions)
        self._running[trial_id] = trial
        self.numbers[trial_id] = trial.number
        return trial

    def on_trial_start(self, trial_id: int, config: dict) -> None:
        """The trial runs in Optuna's study from now on (asked, or enqueued and asked)."""
        self._trial(trial_id, config)

    def on_report(self, trial_id: int, config: dict, level: float | None,
                  value: float | None) -> None:
        """``trial.report(value, step=level)``; the report's number where there is no whole
        level."""
        n = self._steps[trial_id] = self._steps.get(trial_id, 0) + 1
        if value is None or not math.isfinite(value):
            return
        step = int(level) if level is not None and float(level).is_integer() else n
        with _quiet(self._optuna):
            self._trial(trial_id, config).report(float(value), step)

    def on_trial_end(self, trial_id: int, config: dict, state: str,
                     value: float | None) -> None:
        """``study.tell`` with COMPLETE, PRUNED (stopped) or FAIL; a paused trial stays running."""
        if state == "paused":
            return
        trial = self._trial(trial_id, config)
        del self._running[trial_id]
        self._steps.pop(trial_id, None)
        states = self._optuna.trial.TrialState
        finite = value is not None and math.isfinite(value)
        with _quiet(self._optuna):
            if state == "completed" and finite:
                self.study.tell(trial, float(value))
            elif state == "stopped":
                self.study.tell(trial, state=states.PRUNED)
            else:
                self.study.tell(trial, state=states.FAIL)
        self._told += 1

    @property
    def options(self) -> dict[str, Any]:
        """The sampler's class name: a resumed study given ``searcher="optuna"`` builds it
        again with the study's seed (an instance's own arguments are its own)."""
        return {"sampler": self.sampler_name or type(self._pristine).__name__}

    @property
    def observations(self) -> int:
        """Trials told to Optuna's study (completed, pruned and failed)."""
        return self._told

    @property
    def modelled_trials(self) -> int:
        """The trials told to Optuna's study: one observation each."""
        return self._told

    def __repr__(self) -> str:
        return (f"OptunaSearcher(seed={self.seed}, mode={self.mode!r}, "
                f"sampler={type(self._pristine).__name__})")
