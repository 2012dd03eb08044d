"""The flags of %%tune: parsing the magic's line into keyword arguments of ``nbtune.tune``."""
from __future__ import annotations

import argparse
import ast
import re
import shlex
from typing import Any

from IPython.core.error import UsageError

from ..ported import mode_of, ported_flag
from ..run.local import GPU_THREADS
from ..typos import did_you_mean, hint


class _Once:
    """An action that refuses its flag a second time on one line: ``--trials 6 ... --trials 12``
    would otherwise keep the last silently, and the user would not know which one ran."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = namespace.__dict__.setdefault("_given", {})
        if self.dest in given:
            raise argparse.ArgumentError(self, f"given twice ({given[self.dest]} and "
                                         f"{option_string}{_shown(values)}): keep one")
        given[self.dest] = f"{option_string}{_shown(values)}"
        super().__call__(parser, namespace, values, option_string)


def _shown(values: Any) -> str:
    return "" if values in (None, []) else f" {values}"


class _StoreOnce(_Once, argparse._StoreAction):
    pass


class _StoreTrueOnce(_Once, argparse._StoreTrueAction):
    pass


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, _StoreOnce)
        self.register("action", "store", _StoreOnce)
        self.register("action", "store_true", _StoreTrueOnce)

    def error(self, message: str):  # one line, no traceback, no SystemExit
        raise UsageError(f"%%tune: {message} (see %%tune? for the options)")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(text)
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def _duration(text: str) -> float:
    """Seconds from '90', '90s', '5m', '1h' or '1.5h'."""
    from dask.utils import parse_timedelta

    try:
        value = parse_timedelta(float(text) if text.replace(".", "", 1).isdigit() else text,
                                default="seconds")
    except Exception:  # dask raises KeyError or ValueError for words it does not know
        raise ValueError(text) from None
    if not value or value <= 0:
        raise ValueError(text)
    return float(value)


def _levels(text: str) -> list[int]:
    levels = [_positive_int(part) for part in text.replace(" ", "").split(",") if part]
    if not levels:
        raise ValueError(text)
    return levels


def _option(text: str) -> tuple[str, Any]:
    """(name, value) of ``NAME=VALUE``: the value a Python literal (``3``, ``0.1``, ``'ei'``),
    ``true``/``false`` in any case a bool, a fraction of two numbers (``1/3``, as the README's
    ``{"random_fraction": 1/3}`` has it) its value, else the bare text (``ucb``): the first two
    were refused as strings, "cost_aware must be True or False, got cost_aware='true'" (first-day
    test, round 64)."""
    from .space_rows import parse_value

    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier() or not value.strip():
        raise ValueError(text)
    parsed = parse_value(value)
    if isinstance(parsed, str) and parsed.strip().lower() in ("true", "false"):
        return name.strip(), parsed.strip().lower() == "true"
    fraction = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*/\s*(\d+(?:\.\d*)?)\s*", value)
    if isinstance(parsed, str) and fraction and float(fraction[2]):
        return name.strip(), float(fraction[1]) / float(fraction[2])
    return name.strip(), parsed


def _point(text: str) -> dict[str, Any]:
    """``lr=0.1, layers=2``: one config to run first (Optuna's ``enqueue_trial``); each value a
    Python literal, or a bare word (a string)."""
    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except SyntaxError:
        raise ValueError(text) from None
    if not isinstance(call, ast.Call) or call.args or not call.keywords or \
            any(k.arg is None for k in call.keywords):
        raise ValueError(text)
    return {k.arg: k.value.id if isinstance(k.value, ast.Name) else ast.literal_eval(k.value)
            for k in call.keywords}


def in_flags(message: str, enqueued: list[dict[str, Any]] | None) -> str:
    """A message of nbtune.tune in the magic's words: its ``points_to_evaluate[i]`` is the i-th
    ``--enqueue``."""
    found = re.match(r"points_to_evaluate\[(\d+)\]", message)
    if not found or not enqueued or int(found[1]) >= len(enqueued):
        return message
    point = ",".join(f"{k}={v!r}" for k, v in enqueued[int(found[1])].items())
    return f"--enqueue {point}{message[found.end():]}"


def _brackets(text: str) -> int | str:
    return "all" if text.strip().lower() == "all" else _positive_int(text)


def _resource(text: str) -> tuple[str, float]:
    name, sep, amount = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(text)
    return name.strip(), _positive_float(amount)


for _f, _name in ((_positive_int, "a positive integer"), (_positive_float, "a positive number"),
                  (_count, "an integer >= 0"), (_brackets, "a positive integer or all"),
                  (_point, "NAME=VALUE, ... (a config), e.g. lr=0.1,layers=2"),
                  (_duration, "a duration such as 90, 30s, 5m or 1h"),
                  (_resource, "NAME=AMOUNT, e.g. GPU=1"),
                  (_option, "NAME=VALUE, e.g. acquisition=ucb or kappa=3"),
                  (_levels, "positive integers separated by commas, e.g. 1,3,9,27")):
    _f.__name__ = _name  # argparse names the expected type in its message


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the %%tune line (also the source of its help text)."""
    p = _Parser(prog="%%tune", add_help=False, exit_on_error=False,
                description="Run the cell as a hyperparameter study.")
    a = p.add_argument
    a("-n", "--trials", type=_positive_int, help="number of trials (default: Tune.trials, else 50, "
      "all of a grid, each config of a smaller finite space once, or what hyperband's brackets "
      "start; no cap with --max-time)")
    a("--metric", help="the variable the body sets, or the key it reports (default 'value')")
    a("--mode", type=mode_of, choices=("min", "max"),
      help="minimise or maximise the metric (default: min, or %%config Tune.mode)")
    a("--searcher", help="random (default), grid, bayesopt, kde, tpe or optuna")
    a("--searcher-option", type=_option, action="append", metavar="NAME=VALUE",
      help="an option of the searcher, e.g. acquisition=ucb, kappa=3 (repeatable; values are "
      "Python literals, a bare word is a string)")
    a("--enqueue", type=_point, action="append", metavar="NAME=VALUE,...",
      help="run this config first, e.g. lr=0.1,layers=2 (repeatable; a value left out takes the "
      "middle of its range; Optuna's enqueue_trial)")
    a("--warm-start", metavar="STUDY", help="seed the searcher's model with the ended trials of "
      "the study STUDY in the same storage file, or of the Study a notebook variable STUDY "
      "holds (as -o binds it) (same metric and mode; the dims both spaces share)")
    a("--scheduler", help="when to stop trials early: fifo (default: never), asha, hyperband, "
      "median or percentile")
    a("--resource", help="the report key that counts training progress (default 'epoch')")
    a("--type", choices=("stopping", "promotion", "pasha"), help="asha: stop poor trials "
      "(default), or pause them and promote the best (trials resume from `checkpoint`), or "
      "pasha: promotion with a top level that rises only while the top rungs disagree")
    a("--max-t", type=_positive_int, help="asha, hyperband: the resource a full trial reaches")
    a("--grace-period", type=_positive_int, help="asha, hyperband: the first rung (default 1)")
    a("--reduction-factor", type=_positive_int, help="asha, hyperband: keep the top 1/this at "
      "each rung (default 3)")
    a("--rung-levels", type=_levels, help="asha: explicit rung levels, e.g. 1,3,9,27")
    a("--brackets", type=_brackets, help="asha: Hyperband brackets (default 1; all: one per "
      "rung level); hyperband: how many of its brackets to run")
    a("--rung-system-per-bracket", action="store_const", const=True, help="asha with brackets: "
      "each bracket ranks its own trials at a rung (Optuna's HyperbandPruner; default: all "
      "brackets' trials together)")
    a("--judge", choices=("rank", "model"), help="asha (stopping): decide at a rung by rank "
      "(default), or also let a model-based searcher's prediction of the end keep a trial")
    a("--percentile", type=float, help="percentile: stop trials below this percentile (0-100)")
    a("--startup-trials", type=int, help="median, percentile: completed trials before any stop")
    a("--warmup-steps", type=int, help="median, percentile: resource before a trial can stop")
    a("--interval-steps", type=_positive_int, help="median, percentile: judge every N steps")
    a("--concurrency", type=_positive_int, help="at most this many trials at once")
    a("--resources", type=_resource, action="append", metavar="NAME=N",
      help="Dask worker resources per trial (repeatable)")
    a("--gpus", type=_positive_float, help="GPUs per trial (fractions share a GPU)")
    a("--cluster", help="scheduler address (default: Tune.cluster, or a local cluster)")
    a("--study", help="study name in the storage (default: a new name)")
    a("--storage", help="SQLite file (default: Tune.storage); none keeps the study in memory "
      "only")
    a("--checkpoints", metavar="FOLDER", help="keep paused trials' checkpoints in this folder, "
      "which every worker reaches (a shared file system; default: beside the study file, by "
      "the workers of the notebook's machine)")
    a("--resume", action="store_true", help="continue the study named by --study, with the "
      "settings it was run with (flags given again must agree)")
    a("--replace", action="store_true", help="delete the study named by --study and start it "
      "again")
    a("--seed", type=int, help="random seed: the same seed gives the same configs (the "
      "summary's seed line says what else a rerun repeats: with asha or a model at more than "
      "one trial at a time, --concurrency 1 repeats the study exactly)")
    a("--max-time", type=_duration, help="wall-clock budget (90, 30s, 5m, 1h)")
    a("--max-trial-time", type=_duration, help="the longest one trial may run (90, 30s, 5m, "
      "1h): one that runs longer, hung or slow, ends there and the study goes on")
    a("--target", type=float, help="stop the study once a trial ends with the metric at or "
      "beyond this")
    a("--retries", type=int, help="re-runs of a trial whose worker died (default 1)")
    a("--fail-fast", action=argparse.BooleanOptionalAction, default=None,
      help="stop the study at its first failed trial (--no-fail-fast: never); by default it "
      "stops where its first 3 trials all failed alike")
    a("-o", "--out", help="notebook variable to bind the study to (default: Tune.out)")
    a("--local", action="store_true",
      help="run the body once here, with the space's default values, to debug it")
    a("--background", action="store_true", help="return at once; the study fills in")
    a("--progress", choices=("auto", "text", "none"), default="auto",
      help="auto: the live panel; text: a progress line every 30 s and a text summary, for the "
      "log of a notebook run by papermill or nbconvert; none: no view")
    a("--show-output", action="store_true", help="stream what the trials print into the "
      "study's panel, each line prefixed with its trial id (always kept as trial.output)")
    a("--apply", action="store_true",
      help="afterwards, set the best values of the space's names in the notebook")
    a("--edit", action="store_true", help="open the space editor on the cell's space lines "
      "instead of running (Apply rewrites them, Run starts the study)")
    a("--space", metavar="NAME", help="take the space from the notebook variable NAME (a Space, "
      "a dict name -> domain, or a SpaceEditor); the cell may add lines of its own")
    return p


def parse_line(line: str) -> argparse.Namespace:
    """The options of a %%tune line; a bad flag raises UsageError with one clear line."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"%%tune: cannot read the options ({exc})") from None
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(words)
    except argparse.ArgumentError as exc:
        raise UsageError(f"%%tune: {_argument_error(exc)}") from None
    if extra:
        if not extra[0].startswith("-"):  # a word no flag takes: `--max-time 5 minutes`
            at = words.index(extra[0])
            if not at:
                raise UsageError(f"%%tune: unexpected {extra[0]!r}: the line takes options, "
                                 "each --flag VALUE (see %%tune? for them)")
            raise UsageError(f"%%tune: unexpected {extra[0]!r} after `{' '.join(words[:at][-2:])}`"
                             ": each option takes one value, in one word (--max-time 5m, 90s "
                             "or 1h; quote a value with spaces)")
        ported = ported_flag(extra[0].partition("=")[0])
        if ported is not None:
            raise UsageError(f"%%tune: unknown option {extra[0]!r}: {ported}")
        flags = [f for action in parser._actions for f in action.option_strings]
        near = did_you_mean(extra[0], flags) or " (see %%tune? for the options)"
        raise UsageError(f"%%tune: unknown option {extra[0]!r}{near}")
    vars(args).pop("_given", None)
    if args.retries is not None and args.retries < 0:
        raise UsageError("%%tune: --retries must be 0 or more")
    return args


def _argument_error(exc: argparse.ArgumentError) -> str:
    """argparse's complaint about one flag, in the words of the magic: `--trials needs a
    positive integer, got 'abc'`."""
    names = (exc.argument_name or "").split("/")
    flag = max(names, key=len) if names else "the option"
    message = exc.message
    bad_type = re.match(r"invalid (.+) value: (.+)", message)
    bad_choice = re.match(r"invalid choice: (.+) \(choose from (.+)\)", message)
    if bad_type:
        return f"{flag} needs {bad_type[1]}, got {bad_type[2]}"
    if bad_choice:
        choices = [c.strip(" '") for c in bad_choice[2].split(",")]
        got = bad_choice[1].strip("'")
        return (f"{flag} needs one of {', '.join(choices)}, got {bad_choice[1]}"
                + did_you_mean(got, choices))
    if message.startswith("given twice"):
        return f"{flag} {message}"
    if message.startswith("expected one argument"):
        return f"{flag} needs a value"
    return f"{flag}: {message}"


def check_names(args: argparse.Namespace) -> None:
    """UsageError naming an unknown --scheduler or --searcher, and the one it is closest to."""
    from ..schedule import ALIASES as SCHEDULER_ALIASES, SCHEDULERS
    from ..search import ALIASES, SEARCHERS

    for flag, value, known, aliases in (("--scheduler", args.scheduler, SCHEDULERS,
                                         SCHEDULER_ALIASES),
                                        ("--searcher", args.searcher, SEARCHERS, ALIASES)):
        what = flag.strip("-")
        if value is not None and (value.lower() if what == "scheduler" else value) not in known:
            raise UsageError(f"%%tune: unknown {what} {value!r}{hint(value, known, aliases)}: "
                             f"{flag} takes {', '.join(sorted(known))}")


# %%tune flag -> the scheduler option of nbtune.tune it sets
SCHEDULER_FLAGS = {"type": "type", "max_t": "max_t", "grace_period": "grace_period",
                   "reduction_factor": "reduction_factor", "rung_levels": "rung_levels",
                   "brackets": "brackets", "judge": "judge", "percentile": "percentile",
                   "rung_system_per_bracket": "rung_system_per_bracket",
                   "startup_trials": "n_startup_trials", "warmup_steps": "n_warmup_steps",
                   "interval_steps": "interval_steps"}


def scheduler_options(args: argparse.Namespace) -> dict[str, Any]:
    """The scheduler options given on the %%tune line, as keyword arguments of ``nbtune.tune``."""
    return {option: getattr(args, flag) for flag, option in SCHEDULER_FLAGS.items()
            if getattr(args, flag) is not None}


def searcher_options_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """The searcher options given with --searcher-option; one given twice is one line."""
    out: dict[str, Any] = {}
    for name, value in args.searcher_option or ():
        if name in out and out[name] != value:
            raise UsageError(f"%%tune: --searcher-option {name} is given twice ({out[name]!r} "
                             f"and {value!r}): give it once")
        out[name] = value
    return out or None


def resources_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """Per-trial Dask resources from --resources and --gpus."""
    out = dict(args.resources or [])
    if args.gpus is not None:
        out["GPU"] = args.gpus
    return out or None


class _ClusterParser(_Parser):
    def error(self, message: str):
        raise UsageError(f"%tune_cluster: {message} (see %tune_cluster? for the options)")


def build_cluster_parser() -> argparse.ArgumentParser:
    """The parser of ``%tune_cluster local ...`` (also the source of its help text)."""
    p = _ClusterParser(prog="%tune_cluster local", add_help=False, exit_on_error=False,
                       description="Start nbtune's local cluster anew with these options.")
    p.add_argument("--workers", type=_count, help="CPU workers (default: one per core)")
    p.add_argument("--gpus", type=_count, help="GPU workers, one per GPU, each tagged GPU=1 "
                   "(default: the GPUs nvidia-smi lists, or $NBTUNE_GPUS)")
    p.add_argument("--threads-per-gpu", type=_positive_int, default=GPU_THREADS,
                   help="threads of each GPU worker: how many fractional-GPU trials share a GPU "
                   f"(default {GPU_THREADS})")
    return p


def parse_cluster_line(words: list[str]) -> argparse.Namespace:
    """The options after ``%tune_cluster local``; a bad one raises UsageError with one line."""
    try:
        args, extra = build_cluster_parser().parse_known_args(words)
    except argparse.ArgumentError as exc:
        raise UsageError(f"%tune_cluster: {_argument_error(exc)}") from None
    if extra:
        raise UsageError(f"%tune_cluster: unknown option {extra[0]!r} (local takes --workers, "
                         "--gpus and --threads-per-gpu)")
    vars(args).pop("_given", None)
    return args
