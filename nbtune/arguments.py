"""``nbtune.tune``'s arguments, checked before anything starts: the call itself (another tool's
keywords, a misspelt one, a class for a function, no space), the trial function's pickle, and
the values of the settings."""
from __future__ import annotations

import contextlib
import dis
import functools
import inspect
from typing import Any, Mapping

from .caller import warn_note
from .ported import of_optuna, ported_keyword
from .run.cellcode import ByName
from .run.task import PickledOnce, with_parameters
from .schedule import option_names
from .starting import positive
from .typos import closest


def check_call(trial_fn: Any, space: Any, options: Mapping[str, Any], scheduler: Any,
               own: list[str]) -> None:
    """TypeError, one line, for a call of ``tune()`` that cannot be meant as it is: keywords
    that are no argument nor scheduler option (:func:`_misspelt_argument`), no space (Ray
    Tune's ``param_space=`` is named: round 16), a class for the trial function (a Ray Tune
    Trainable: each trial failed in its constructor)."""
    _misspelt_argument(options, scheduler, own)
    _check_not_optuna(trial_fn)
    if space is None:  # required: a default only to name Ray Tune's param_space=
        raise TypeError("tune() missing 1 required positional argument: 'space', "
                        "nbtune.tune(fn, space, ...)")
    if isinstance(trial_fn, type):
        raise TypeError(f"trial_fn is the class {trial_fn.__name__}: nbtune runs a function "
                        "fn(config) that calls nbtune.report(epoch=..., ...) each step (for Ray "
                        "Tune's Trainable: its setup(config), then a loop of step() whose "
                        "results it reports)")
    _check_signature(trial_fn, space)


def _check_signature(trial_fn: Any, space: Any) -> None:
    """TypeError, one line, for a trial function that cannot be called as ``fn(config)`` (with
    :class:`~nbtune.run.task.with_parameters`' data as keywords): ``def train(lr, momentum)``
    failed in every trial, after the cluster had started and the data had been sent."""
    fn, data = (trial_fn.fn, list(trial_fn.data)) if isinstance(trial_fn, with_parameters) \
        else (trial_fn, [])
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin, or a callable Python cannot inspect
        return
    name = getattr(fn, "__name__", type(fn).__name__)
    first = next(iter(signature.parameters.values()), None)
    if first is not None and first.kind in (first.POSITIONAL_ONLY, first.POSITIONAL_OR_KEYWORD,
                                            first.VAR_POSITIONAL):
        taken = [k for k in data if not _takes(signature, k)]
        if taken:  # it takes a config: the data's names are what it lacks (rounds 35, 37)
            params = [p for p in list(signature.parameters.values())[1:] if p.name not in data
                      and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
            unfilled = [p.name for p in params if p.default is p.empty]
            near = closest(taken[0], [p.name for p in params]) or (
                unfilled[0] if len(unfilled) == 1 and len(taken) == 1 else None)
            fix = (f"did you mean {near}=? (with_parameters({name}, {near}=...))" if near else
                   f"add {'them' if len(taken) > 1 else 'it'} to its parameters")
            raise TypeError(f"the trial function {name}{signature} takes no "
                            f"{' or '.join(k + '=' for k in taken)}: with_parameters passes "
                            f"each value by its name, {name}(config, {taken[0]}=...); "
                            f"{fix}") from None
    keys = [n for n in (space if isinstance(space, Mapping) else []) if isinstance(n, str)]
    if first is not None and first.name in keys and first.name != "config":
        # def train(C): the dict of every hyperparameter arrives as C, and scikit-learn said
        # "Got {'C': 0.0059...} instead" in every trial (first-day test, round 41)
        warn_note(f"the trial function {name}{signature} names its parameter {first.name!r}, "
                  f"a hyperparameter's name: nbtune calls {name}(config), config a dict of all "
                  f"of them; write def {name}(config): and read config[{first.name!r}]")
    try:
        signature.bind({}, **dict.fromkeys(data))
    except TypeError as exc:
        names = [n for n in (space if isinstance(space, Mapping) else [])
                 if isinstance(n, str)][:2] or ["lr"]
        reads = ", ".join(f"config[{n!r}]" for n in names)
        call = "".join(f", {k}=..." for k in data)
        wanted = (f"lambda config{''.join(f', {k}' for k in data)}: ..." if name == "<lambda>"
                  else f"def {name}(config{''.join(f', {k}' for k in data)}):")
        raise TypeError(f"the trial function {name}{signature} cannot take a trial's config: "
                        f"nbtune calls {name}(config{call}), config a dict of the trial's "
                        f"hyperparameters ({exc}); write {wanted} and read {reads}") from None


# what an Optuna objective calls on its trial, which a config dict has not: Optuna's own names
# only (a trial function's suggest_threshold() or a stopper's should_prune() are no such call:
# check round 47)
OPTUNA_TRIAL_CALLS = frozenset({"suggest_float", "suggest_int", "suggest_categorical",
                                "suggest_uniform", "suggest_loguniform",
                                "suggest_discrete_uniform", "should_prune"})


def _codes(code: Any, depth: int = 0) -> Any:
    """``code`` (a function's) and the code of the functions it defines, two levels deep, each
    with its depth: (code, depth)."""
    yield code, depth
    if depth < 2:
        for const in code.co_consts:
            if inspect.iscode(const):
                yield from _codes(const, depth + 1)


def _optuna_calls(code: Any, param: str) -> list[str]:
    """The Optuna trial methods ``code`` (a function's code, and the functions it defines)
    calls on its parameter ``param`` (``trial.suggest_float``, not a stopper's
    ``should_prune()``: check round 48), in order."""
    names: list[str] = []
    for inner, depth in _codes(code):
        # in a function it defines, the parameter is a closure's (an inner function's own
        # `trial`, as of an Optuna study run inside a trial, is not it: check round 49)
        if depth and param not in inner.co_freevars:
            continue
        loads = LOADS if depth == 0 else ("LOAD_DEREF",)
        before = None
        for ins in dis.get_instructions(inner):
            if (ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and ins.argval in OPTUNA_TRIAL_CALLS
                    and before is not None and before.opname in loads
                    and before.argval == param and ins.argval not in names):
                names.append(ins.argval)
            before = ins
    return names


LOADS = ("LOAD_FAST", "LOAD_DEREF", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW", "LOAD_CLOSURE")


def _trial_code(trial_fn: Any) -> tuple[Any, str, Any] | None:
    """(the function, its name, its code) behind ``trial_fn``: through ``functools.partial``
    and ``with_parameters``, and a callable object's ``__call__`` (Optuna's documented way to
    pass data to an objective is a class: check round 48); None where there is no Python code."""
    fn = trial_fn
    while isinstance(fn, (functools.partial, with_parameters)):
        fn = fn.func if isinstance(fn, functools.partial) else fn.fn
    name = getattr(fn, "__name__", type(fn).__name__)
    if not inspect.isfunction(fn) and not inspect.ismethod(fn):
        call = getattr(type(fn), "__call__", None)
        if not inspect.isfunction(call):
            return None
        fn = getattr(fn, "__call__")
    return fn, name, getattr(getattr(fn, "__func__", fn), "__code__", None)


def _check_not_optuna(trial_fn: Any) -> None:
    """TypeError, one line, for an Optuna objective passed as it is (it calls Optuna's
    ``suggest_float`` or ``should_prune`` on its trial parameter; through
    ``functools.partial``, ``with_parameters`` or a class's ``__call__`` too), or a function
    that holds one of ``optuna.integration``'s pruning callbacks: its three first trials failed
    alike on "'dict' object has no attribute 'suggest_float'" (or "... 'study'"), or, with the
    callback captured, it could not be pickled "('_IntegrationModule')", said as an open file
    or a lock (first-day test, round 46). Checked before the space is asked for: an Optuna user
    gives none (check round 47)."""
    found = _trial_code(trial_fn)
    if found is None or found[2] is None:
        return
    fn, name, code = found
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    param = next(iter(signature.parameters), "")
    calls = _optuna_calls(code, param) if param else []
    if calls:
        raise TypeError(
            f"the trial function {name}{signature} is an Optuna objective ({param}.{calls[0]}"
            f"(...)): nbtune calls {name}(config), config a dict of the trial's values from a "
            f"space given beside it, nbtune.tune({name}, space): write each suggest_* as a space "
            f"entry ({{'lr': nbtune.loguniform(1e-4, 1e-1)}} for suggest_float(..., log=True), "
            f"randint for suggest_int, choice for suggest_categorical), read config['lr'], and "
            f"report with nbtune.report(epoch=step, auc=value) where it had {param}.report, "
            f"should_prune or a pruning callback (the README's \"Coming from Optuna\")")
    raw = getattr(fn, "__func__", fn)
    glob = getattr(raw, "__globals__", {})
    seen = {n: glob[n] for n in _code_names(code) if n in glob}
    for n, cell in zip(code.co_freevars, getattr(raw, "__closure__", None) or ()):
        with contextlib.suppress(ValueError):  # a cell not filled yet
            seen[n] = cell.cell_contents
    held = [n for n in sorted(seen) if _pruning_callback(seen[n])]
    if held:
        raise TypeError(_CALLBACK_NOTE.format(f"uses Optuna's {held[0]}"))


def _code_names(code: Any) -> set[str]:
    """The global and attribute names ``code`` and the functions it defines use."""
    return {n for inner, _ in _codes(code) for n in inner.co_names}


def _pruning_callback(value: Any) -> bool:
    """Whether ``value`` is one of Optuna's integration pruning callbacks (a class of
    ``optuna.integration`` / ``optuna_integration``), which read an Optuna trial."""
    return (isinstance(value, type) and "Pruning" in value.__name__
            and (of_optuna(value, "optuna_integration") or of_optuna(value, "optuna.integration")))


_CALLBACK_NOTE = ("the trial function cannot run in nbtune as it is: it {}, a pruning callback "
                  "that needs an Optuna trial: nbtune's scheduler stops a trial inside "
                  "nbtune.report(...), so drop the callback and report each round from a "
                  "callback of your own (the README's \"LightGBM and XGBoost\")")


def _takes(signature: inspect.Signature, key: str) -> bool:
    """Whether a function of ``signature`` takes the keyword ``key``."""
    return any(p.kind == p.VAR_KEYWORD or p.name == key and p.kind in (
        p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in signature.parameters.values())


def pickled_fn(fn: Any) -> PickledOnce:
    """The trial function pickled, once per study: what every trial's task carries."""
    if not callable(fn):
        raise TypeError(f"the trial function must be callable, got {type(fn).__name__}")
    try:
        return PickledOnce.of(fn)
    except ByName as exc:  # before any trial, which would all fail on it
        raise TypeError(str(exc)) from None
    except Exception as exc:
        if "_IntegrationModule" in str(exc):  # optuna.integration, lazily imported: its pruning
            # callback half-ported into a trial function was said as a lock (check round 47)
            raise TypeError(_CALLBACK_NOTE.format(
                f"holds Optuna's integration module ({exc}), as LightGBMPruningCallback "
                f"does")) from None
        raise TypeError(f"the trial function cannot be sent to the Dask workers: {exc}. Create "
                        "objects such as open files, locks or connections inside the function "
                        "instead of capturing them") from None


def check_values(metric: Any, mode: Any, n_trials: Any, concurrency: Any, max_time: Any,
                  max_resource: Any, retries: Any) -> None:
    """ValueError naming the first argument of tune() that cannot be right."""
    several = several_metrics(metric)
    if several is not None:
        raise ValueError(several)
    if not isinstance(metric, str) or not metric:
        raise ValueError(f"metric must be a non-empty name, got {metric!r}")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    auto = isinstance(n_trials, str) and n_trials == "auto"
    for name, value, integer in (("n_trials", None if auto else n_trials, True),
                                 ("concurrency", concurrency, True),
                                 ("max_time", max_time, False),
                                 ("max_resource", max_resource, False)):
        positive(name, value, integer)
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise ValueError(f"retries must be an integer >= 0, got {retries!r}")


def several_metrics(metric: Any, flag: str = "metric=") -> str | None:
    """Where ``metric`` names several values (``"loss,accuracy"``, a list), that a study
    optimises one and keeps the others (``--metric loss,accuracy`` was told to call
    ``report(loss,accuracy=...)``: first-day test, round 38); else None."""
    if isinstance(metric, str):
        names = [n.strip() for n in metric.split(",") if n.strip()]
        if len(names) < 2:
            return None
    elif isinstance(metric, (list, tuple)) and all(isinstance(n, str) for n in metric):
        names = list(metric)
    else:
        return None
    first = f"--metric {names[0]}" if flag.startswith("--") else f"metric={names[0]!r}"
    return (f"{flag} names the one value the study optimises, got {metric!r}: give {first}; "
            f"every other value a trial reports is kept too (trial.metrics, to_dataframe()'s "
            f"metrics.* columns, study.plot.history(metric={names[1]!r}))")


# %%tune flags whose Python form is another keyword
MAGIC_ONLY = {"gpus": "resources={'GPU': N} (--gpus N is the %%tune flag)"}


def _misspelt_argument(options: Mapping[str, Any], scheduler: Any, own: list[str]) -> None:
    """TypeError for a keyword that is no scheduler's option and closer to an argument of tune()
    than to any (``trials=3``, ``max_tim=60``): it read "scheduler 'fifo' has no option
    'trials'" (``own``: tune()'s keywords); where no scheduler was asked for, for any keyword that is no scheduler's option
    (``gpus=1`` read "scheduler 'fifo' has no option 'gpus'"). (``max_t=9`` without a scheduler
    is left to the scheduler's message, which names the schedulers that take it.)"""
    schedulers = option_names()
    for key in options:
        ported = ported_keyword(key)
        if ported is not None:
            raise TypeError(f"tune() got an unexpected keyword argument {key!r}: {ported}")
        if key in MAGIC_ONLY:
            raise TypeError(f"tune() got an unexpected keyword argument {key!r}: give "
                            f"{MAGIC_ONLY[key]}")
        near = None if key in schedulers else closest(key, [*own, *sorted(schedulers)])
        if near is not None and near not in schedulers:
            raise TypeError(f"tune() got an unexpected keyword argument {key!r} (did you mean "
                            f"{near!r}?)")
        if scheduler is None and key not in schedulers:
            raise TypeError(f"tune() got an unexpected keyword argument {key!r}")
