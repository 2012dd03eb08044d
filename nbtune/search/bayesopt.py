"""Bayesian optimisation: a Gaussian process over the unit-cube encoding picks each next config.

What the model holds (``reports.py``, which also makes the GP's arrays of it): every report of every
trial, as a row (config, resource level, value), thinned to rung-like levels; a completed trial that
reported no level is one row of its final value; a failed trial is a row at the worst value held (so
the model steers away from where trials crash). Stopped trials stay in: under ASHA or Hyperband
their early values are most of what there is to learn from. When the rows span two levels or more
the GP is joint over (config, level): by default (``resource_kernel="matern"``) a Matern 5/2 with
its own length scale for the log level (the joint kernel MOBSTER also offers); ``"exp-decay-sum"``
is MOBSTER's model of learning curves that decay towards each config's value, ``"exp-decay"`` adds a
per-config decay (``kernels.py``; ``benchmarks/README.md`` compares them). The acquisition is
evaluated at the highest level that holds ``MIN_AT_LEVEL`` rows (BOHB's and MOBSTER's rule), against
the best value there, and (``reach=True``, the default) weighed by each candidate's chance of going
on past the lower levels where the scheduler ended trials: its predicted value there against the
bar a trial had to beat to go on (a config the scheduler would end at the first rung never shows
its value at the top, however good the model predicts it there). Trials still pending (running or queued) enter each suggestion as fantasies at
the worst value held, at the level they report next (a constant liar), and an exact config already
tried or pending is never suggested again, so two free workers never get the same point. Fantasies
live only inside one suggestion. ``random_fraction`` of the suggestions (none by default) are
random: a hedge where a low level misleads. With ``random_when="stalled"`` the hedge holds only
while the search is stalled: while more trials have started since the best value last improved than
before it, and at least ``2 * n_initial`` (the rule counts events, so it keeps suggestions
deterministic); a model that is still finding better configs is left to exploit them. With
``cost_aware=True`` the acquisition is divided by what each candidate is predicted to cost a unit
of resource, learnt from the trials' run times (``costs.py``): improvement per second.

Cost stays bounded whatever the number of reports: the kernel's hyperparameters are fitted (marginal
likelihood, scipy's L-BFGS-B; gp.py) on at most 128 rows (the best half and a seeded draw of the
rest), after every event up to 20 and then every ``refit_every`` events or a fifth more, whichever
is later, each fit past the first 20 from the prior and from the last fit, the likelier kept; the
posterior uses at most ``max_points`` rows, drawn the same way. A suggestion scores random points of
the unit cube and perturbations of the best configs, and takes the best one not tried yet.

The fits never hold up the driver (``gp.KernelFits``): each starts at its refit point, on data fixed
there, on a thread of the searcher's own (one fit after another, each warm-started from the one
before), and the event that set it off returns at once, so a report's rung verdict does not wait for
a fit. Past the first 20 events a suggestion uses the kernel fitted at the refit point before the
latest one, which has had the events between two refit points to end (the suggestion waits for it in
the rare case it has not); before, the latest, fitted on a few rows and quickly. Which kernel a
suggestion uses thus depends on the events alone, not on when the fits end: the suggestions depend
on the events and the seed alone, and a resumed study whose replay repeats the events (trials that
ran one after another) suggests what the uninterrupted one did.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..caller import user_facing, warn_note
from ..space import Space
from ..typos import one_of
from .acquisition import acquire, check_acquisition, unread_note
from .base import Searcher, _check_int, check_bool, check_number, untried_sample
from .base import config_key as _key
from . import reach
from .costs import Costs
from .encoding import Encoding
from .gp import KernelFits, Posterior, import_ahead, imports_done, subsample
from .reports import WARPS, Reports

COMPLETED, FAILED = "completed", "failed"
N_CANDIDATES = 500  # random points of the unit cube scored per suggestion
N_LOCAL = 5, 60, 0.05  # best observations perturbed, perturbations of each, their scale
MAX_FIT_POINTS = 128  # observations the hyperparameters are fitted on, at most
MIN_AT_LEVEL = 6  # rows at a level for the acquisition to be evaluated there
JOINT_KERNELS = ("matern", "exp-decay-sum", "exp-decay")  # over (config, level): kernels.py
RANDOM_WHEN = ("always", "stalled")  # when random_fraction of the suggestions are random
class BayesOptSearcher(Searcher):
    """Gaussian-process search: Matern 5/2 with a length scale per encoded dim and a noise
    level, fitted by marginal likelihood; ``n_initial`` random trials first (none when a warm
    start already gave the model that many observations), then the config
    that maximises the acquisition ``"ei"`` (expected improvement, margin ``xi``), ``"ucb"``
    (confidence bound, ``kappa`` deviations) or ``"poi"`` (probability of improvement, ``xi``).
    Over resource levels the kernel is ``resource_kernel``: ``"matern"`` (the default: the level
    one more dimension), ``"exp-decay-sum"`` or ``"exp-decay"`` (MOBSTER's decaying learning
    curves). ``random_fraction`` of the suggestions are random, ``random_when`` ``"always"`` or
    only while ``"stalled"`` (the best value not improved for as many trials as it took to
    find it, and at least ``2 * n_initial``). ``warp="copula"`` (the default) models the values'
    ranks (the Gaussian copula transform), so a crowd of near-best values is spread as widely as
    the bad tail; ``"none"`` the values standardised (``reports.warp``). ``cost_aware=True``
    divides the acquisition (``ei`` or ``poi``) by each config's predicted seconds per unit of
    resource, learnt from the trials' run times (``costs.py``)."""

    name = "bayesopt"
    costly_suggest = True
    draws_while_thinking = True
    added_options = {"resource_kernel": "matern", "random_when": "always", "warp": "none",
                     "cost_aware": False, "reach": False}

    @user_facing
    def __init__(self, space: Space | dict, seed: int | None = None,
                 points_to_evaluate: list[dict] | None = None, mode: str | None = None,
                 acquisition: str = "ei", kappa: float = 2.0, xi: float = 0.01,
                 n_initial: int = 5, max_points: int = 300, refit_every: int = 10,
                 random_fraction: float = 0.0, resource_kernel: str = "matern",
                 random_when: str = "always", warp: str = "copula",
                 cost_aware: bool = False, reach: bool = True) -> None:
        super().__init__(space, seed, points_to_evaluate, mode)
        if not self.space.unit_names:
            raise ValueError("bayesopt has nothing to model: every hyperparameter of the space "
                             "is fixed; give at least one a range or choices")
        self.acquisition, self.kappa, self.xi = check_acquisition(acquisition, kappa, xi)
        note = unread_note(self.acquisition, self.kappa, self.xi)
        if note is not None:
            warn_note(note)
        self.n_initial = _check_int("n_initial", n_initial, 1)
        self.max_points = _check_int("max_points", max_points, 10)
        self.refit_every = _check_int("refit_every", refit_every, 1)
        self.random_fraction = check_number("random_fraction", random_fraction, 0.0, 1.0,
                                            (True, True), "a number in [0, 1]")
        self.resource_kernel = one_of("resource_kernel", resource_kernel, JOINT_KERNELS)
        self.random_when = one_of("random_when", random_when, RANDOM_WHEN)
        self.warp = one_of("warp", warp, WARPS)
        if check_bool("cost_aware", cost_aware) and self.acquisition == "ucb":
            raise ValueError("cost_aware=True divides the acquisition by each config's cost, "
                             "which needs acquisition 'ei' or 'poi' (a ucb score can be "
                             "negative): choose one of those, or cost_aware=False")
        self.cost_aware, self.reach = bool(cost_aware), check_bool("reach", reach)
        self.max_fit_points = min(self.max_points, MAX_FIT_POINTS)
        self.encoding = Encoding(self.space)
        self.reset()
        import_ahead()  # while the first trials, random ones, run

    def reset(self) -> None:
        """Forget every observation, pending trial and fitted kernel."""
        self._reports = Reports()
        self._pending: dict[int, tuple[dict, float | None]] = {}  # trial -> (config, last level)
        self._tried: set[str] = set()
        self._codes: dict[str, np.ndarray] = {}  # a config's encoding, by its key
        self._kernels = KernelFits(self.seed, self.refit_every, self.max_fit_points, self._prior)
        self._posterior: tuple | None = None  # (rows' version, GP, width, scale) for predict()
        self._data_of: tuple | None = None  # (rows' version, _data's arrays for them)
        self._started: set[int] = set()  # trials sent to run, each counted once
        self._costs = Costs()  # seconds per unit of resource of the runs timed
        self._run_from: dict[int, float] = {}  # the level each trial's current run started at
        # the best signed value reported, and how many trials had started when it was
        self._best: tuple[float, int] = (np.inf, 0)

    def _x(self, config: dict) -> np.ndarray:
        key = _key(config)
        if key not in self._codes:
            self._codes[key] = self.encoding.encode(config)
        return self._codes[key]

    # -- events ---------------------------------------------------------------------------
    def on_trial_start(self, trial_id: int, config: dict) -> None:
        """The trial is pending: later suggestions keep away from it."""
        self._pending[trial_id] = (config, None)
        self._tried.add(_key(config))
        self._started.add(trial_id)
        if self.cost_aware:
            self._run_from[trial_id] = self._reports.last_level(trial_id) or 0.0

    def on_trial_time(self, trial_id: int, config: dict, seconds: float) -> None:
        """A run's seconds per unit of resource it covered (per trial where it reports no
        level) is what the config costs: ``cost_aware`` weighs suggestions by it."""
        if not self.cost_aware:
            return
        start, last = self._run_from.pop(trial_id, 0.0), self._reports.last_level(trial_id)
        self._costs.add(self._x(config), seconds, 1.0 if last is None else last - start)

    def on_report(self, trial_id: int, config: dict, level: float | None,
                  value: float | None) -> None:
        """Every report with a value is data: the model spans (config, resource level)."""
        if trial_id in self._pending:
            self._pending[trial_id] = (config, level)
        self._improved(value)
        if self._reports.report(trial_id, config, self._x(config), level, value):
            self._changed()

    def on_trial_end(self, trial_id: int, config: dict, state: str,
                     value: float | None) -> None:
        """A failed trial counts as the worst value; a completed one that never reported a
        value becomes one row of its final value; the trial is no longer pending."""
        self._pending.pop(trial_id, None)
        self._tried.add(_key(config))
        held = self._reports.trials.get(trial_id)
        if state == FAILED:
            self._reports.fail(trial_id, config, self._x(config))
            self._changed()
        elif state == COMPLETED and (held is None or not held.levels):
            self._improved(value)
            if self._reports.report(trial_id, config, self._x(config), None, value):
                self._changed()

    def _improved(self, value: float | None) -> None:
        """Note when the best value last improved, in trials started by then."""
        if value is not None and self._sign * value < self._best[0]:  # False for NaN
            self._best = (self._sign * value, len(self._started))

    @property
    def stalled(self) -> bool:
        """Whether the best value has not improved for as many trials as it took to find it,
        and for at least ``2 * n_initial``: ``random_when="stalled"`` hedges only then."""
        since = len(self._started) - self._best[1]
        return since > max(2 * self.n_initial, self._best[1])

    def warm_replay(self) -> Any:
        """A warm start's events: its kernel is fitted at the last two refit points among them
        only, once they are all in, where each refit point was fitted one after another (a
        model warm-started from 300 trials queued some 35 fits, and its first suggestions
        waited for them, seconds of a short study: first-day test, round 36)."""
        return self._kernels.deferred()

    def _changed(self) -> None:
        """Count an event: at each refit point the kernel is fitted on the rows held then."""
        self._kernels.changed(self._data)

    @property
    def options(self) -> dict[str, Any]:
        """acquisition, kappa, xi, n_initial, max_points, refit_every, random_fraction,
        random_when, resource_kernel, warp, cost_aware, reach: stored with the study."""
        return {"acquisition": self.acquisition, "kappa": self.kappa, "xi": self.xi,
                "n_initial": self.n_initial, "max_points": self.max_points,
                "refit_every": self.refit_every, "random_fraction": self.random_fraction,
                "random_when": self.random_when, "resource_kernel": self.resource_kernel,
                "warp": self.warp, "cost_aware": self.cost_aware, "reach": self.reach}

    @property
    def observations(self) -> int:
        """Rows the model holds: a trial's value at each resource level it reached (thinned to
        rung-like levels), a completed trial's final value, a failed trial's worst."""
        return len(self._reports)

    @property
    def modelled_trials(self) -> int:
        """The trials the model's rows come from."""
        return len(self._reports.trials)

    @property
    def pending(self) -> list[tuple[int, dict, float | None]]:
        """(trial, config, last level reported) of the trials running or queued."""
        return [(t, c, lv) for t, (c, lv) in self._pending.items()]

    # -- suggesting -----------------------------------------------------------------------
    def _suggest(self, index: int) -> dict:
        rng = self.rng_for(index)
        # the first n_initial trials are random, unless the model already holds n_initial
        # trials (a warm start): a study's own trials can only hold fewer
        initial = index < len(self.points_to_evaluate) + self.n_initial \
            and len(self._reports.trials) < self.n_initial
        hedge = self.random_fraction and (self.random_when == "always" or self.stalled) \
            and rng.random() < self.random_fraction
        data = None if initial or hedge else self._data(with_levels=True)
        if data is None:
            return self._random(rng)
        X, y, levels, trials = data
        kernel = self._kernels.kernel(X.shape[1])
        keep = subsample(y, self.max_points, np.random.default_rng([self.seed, len(y), 1]))
        held = self._reports.held_levels()
        at = self._reports.acquisition_level(MIN_AT_LEVEL)
        if at is None and held:
            at = held[0]
        here = np.flatnonzero(levels == at) if at is not None else np.arange(len(y))
        best = float(y[here].min())
        best_here = here[np.argsort(y[here], kind="stable")[:N_LOCAL[0]]]
        top = [self._reports.trials[int(trials[i])].config for i in best_here]
        bars = reach.bars(y, levels, trials, self._reports.held_levels(), at, self._pending) \
            if self.reach and X.shape[1] > self.encoding.width else []
        X, y = X[keep], y[keep]
        if self._pending:  # constant liar: each pending trial as if it came out worst
            fantasies = self.encoding.encode_all([c for c, _ in self._pending.values()])
            if X.shape[1] > self.encoding.width:
                nxt = [self._reports.next_level(t) for t in self._pending]
                fantasies = np.hstack([fantasies, self._reports.resource_at(nxt)[:, None]])
            X = np.vstack([X, fantasies])
            y = np.concatenate([y, np.full(len(fantasies), y.max())])
        with np.errstate(all="ignore"):
            try:
                model = Posterior(kernel, X, y)
            except np.linalg.LinAlgError:  # a kernel matrix not positive definite: no model
                return self._random(rng)
            free = self.unused_allowed()
            if free:  # restricted (a simulator's table): score every config not run yet
                units, candidates = None, self._allowed_codes[free]
            else:
                units = self._candidates(rng, top)
                candidates = self.encoding.encode_units(units)
            if X.shape[1] > self.encoding.width:
                column = self._reports.resource_at([at])[0]
                candidates = np.hstack([candidates, np.full((len(candidates), 1), column)])
            mean, std = model.mean_std(candidates)
        score = acquire(self.acquisition, mean, std, best, self.kappa, self.xi)
        if bars:
            with np.errstate(all="ignore"):
                score = reach.reached(
                    model, candidates, score, bars, lambda lv: self._reports.resource_at([lv])[0],
                    low=float(score.min()) if self.acquisition == "ucb" else 0.0)
        if self.cost_aware:  # improvement per second: ei and poi scores are never negative
            cost = self._costs.predict(candidates[:, :self.encoding.width])
            if cost is not None:
                score = score / np.exp(cost - cost.min())
        for i in np.argsort(-score, kind="stable"):
            config = self.allowed[free[i]] if free else self.space.from_unit(units[i])
            if _key(config) not in self._tried:
                return config
        return self._random(rng)

    def predict(self, configs: list[dict], level: float | None) -> np.ndarray | None:
        """The posterior mean of the metric for each config at resource ``level`` (its own
        units), from the observations alone (no fantasies); None before ``n_initial`` trials
        reported. The GP is conditioned again only when the rows changed since the last call."""
        if len(self._reports.trials) < self.n_initial:
            return None
        version = self._reports.version
        if self._posterior is None or self._posterior[0] != version:
            data = self._data(scale=True)
            if data is None:
                return None
            X, y, scale = data
            keep = subsample(y, self.max_points, np.random.default_rng([self.seed, len(y), 1]))
            with np.errstate(all="ignore"):
                try:
                    model = Posterior(self._kernels.kernel(X.shape[1]), X[keep], y[keep])
                except np.linalg.LinAlgError:  # no model to predict with: the ranks decide
                    return None
            self._posterior = (version, model, X.shape[1], scale)
        _, model, width, back = self._posterior
        X = np.vstack([self._x(c) for c in configs])  # encodings cached by config
        if width > self.encoding.width:
            column = self._reports.resource_at([level])[0]
            X = np.hstack([X, np.full((len(X), 1), column)])
        with np.errstate(all="ignore"):
            return self._sign * back(model.mean(X))

    @property
    def _sign(self) -> float:
        """Values are modelled signed to minimise."""
        return 1.0 if self.mode == "min" else -1.0

    def _random(self, rng: np.random.Generator) -> dict:
        """A random config not tried yet (within a few draws: a finite space may be spent)."""
        return untried_sample(self.space, rng, self._tried)

    def _data(self, with_levels: bool = False, scale: bool = False) -> tuple | None:
        """The rows encoded (with a resource column when they span two levels or more) and their
        values to minimise, standardised or warped (``warp``), a failed trial's the worst; None with
        fewer than two values. ``with_levels``: the rows' levels (NaN: none) and trial ids as two
        more items; ``scale``: the function taking modelled values back to signed ones, as the last.
        Made once per change of the rows (the arrays are shared: callers must not write to them)."""
        version = self._reports.version
        if self._data_of is None or self._data_of[0] != version:
            imports_done()
            self._data_of = (version, self._reports.training_arrays(self._sign, self.warp))
        arrays = self._data_of[1]
        if arrays is None:
            return None
        X, y, levels, trials, back = arrays
        return (X, y, *((levels, trials) if with_levels else ()), *((back,) if scale else ()))

    def _prior(self, width: int) -> Any:
        """The kernel before any fit; a last column beyond the encoding is the level."""
        from .kernels import prior_kernel

        return prior_kernel(width, self.resource_kernel, levels=width > self.encoding.width)

    def _candidates(self, rng: np.random.Generator, best: list[dict]) -> np.ndarray:
        """Random points of the unit cube (`Space.to_unit` coordinates), and perturbations of
        the ``best`` configs."""
        d = len(self.space.unit_names)
        units = [rng.random((N_CANDIDATES, d))]
        _, each, scale = N_LOCAL
        for config in best:
            centre = self.space.to_unit(config)
            units.append(np.clip(centre + rng.normal(0.0, scale, (each, d)), 0.0, 1.0))
        return np.vstack(units)

    def __repr__(self) -> str:
        return (f"BayesOptSearcher(seed={self.seed}, mode={self.mode!r}, "
                f"acquisition={self.acquisition!r}, kappa={self.kappa!r}, xi={self.xi!r}, "
                f"n_initial={self.n_initial!r})")
