"""When a study stops for its failures: its first trials all failed the same way (a bug of the
cell, which every trial would meet after its whole training), or, asked for, any failure.

Optuna stops a study at its first exception; Ray Tune runs on unless ``fail_fast``; W&B stops a
sweep whose first runs fail. nbtune runs on past a failed trial (a config may fail), but not
past :data:`FAIL_FAST_AFTER` trials that failed alike before any ended otherwise: a PyTorch
user's 40 trials each trained in full before failing on the same line (first-day test, round 11).
Those are the study's first trials, every one created before the last of them ended so: where
configs fail at once, a failure ends before the trials started earlier have trained, and those
decide.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from .. import trial as T
from ..contract.outcome import NEVER_REPORTED
from .overdue import PAST_TRIAL_TIME

FAIL_FAST_AFTER = 3  # the first trials to end, all failed alike: the study stops ("auto")
# failures that depend on the config's size, not on the code: "CUDA out of memory", MemoryError
MEMORY_WORDS = ("out of memory", "MemoryError", "OutOfMemoryError")
# failures of the code as written, whatever the config: no value the failed trials shared is
# named for them (a NameError's note said "every one had solver='lbfgs'": check round 44)
CODE_ERRORS = ("NameError", "UnboundLocalError", "ImportError", "ModuleNotFoundError",
               "SyntaxError", "IndentationError", "TabError")


def check_fail_fast(value: Any) -> Any:
    """``value`` as ``fail_fast=`` takes it ("auto", True, False); ValueError otherwise."""
    if value is True or value is False or value == "auto":
        return value
    raise ValueError(f"fail_fast must be 'auto' (stop when the first {FAIL_FAST_AFTER} trials "
                     f"fail alike), True (stop at the first failed trial) or False (never), "
                     f"got {value!r}")


def _failure(trial: T.Trial, metric: str) -> str | None:
    """The line a failed trial's error ends in (its exception), or None where the trial did not
    fail for its code: it ended otherwise, or its metric was NaN or infinite (a config that
    diverged)."""
    if trial.state != T.FAILED:
        return None
    value = (trial.metrics or {}).get(metric, trial.last(metric))
    if isinstance(value, float) and not math.isfinite(value):
        return None
    error = trial.error or ""
    if error.startswith(("its worker died", PAST_TRIAL_TIME)) or any(
            word in error for word in MEMORY_WORDS):  # a config too large for the machine
        return None
    lines = [line for line in error.splitlines()
             if line.strip() and not line.startswith("nbtune: ")]
    return lines[-1].strip() if lines else "(no message)"


class FailFast:
    """Watches trials as they end (:meth:`ended`) and says when the study should stop."""

    def __init__(self, mode: Any = "auto", metric: str = "value", stored: bool = True,
                 trials: Sequence[T.Trial] = (), space: Any = None):
        self.mode, self.metric = check_fail_fast(mode), metric
        self.stored = stored  # a study in memory has nothing to resume: its note says none
        # the study's trials (the loop's own list, as it grows: not a function of the loop,
        # whose cycle kept the loop, and the data it sent to the workers, past the study)
        self.trials = trials
        self.space = space  # the study's: the values a finite dimension has besides one
        self.failed: list[tuple[int, str]] = []  # (trial id, its failure), the first ones alike
        self.configs: list[dict[str, Any]] = []  # their configs, in the same order
        self.done = mode is False  # "auto" once a trial ended otherwise, or failed otherwise

    def ended(self, trial: T.Trial) -> str | None:
        """The note that stops the study after ``trial`` ended, else None. Interrupted trials
        (the study ends anyway) are not counted."""
        if self.done or trial.state == T.INTERRUPTED:
            return None
        failure = _failure(trial, self.metric)
        if failure is None:
            self.done = self.mode == "auto"
            return None
        if self.mode is True:
            self.done = True
            return (f"the study stopped at its first failed trial (fail_fast=True): trial "
                    f"{trial.id}: {failure}")
        if self.failed and T.error_kind(failure) != T.error_kind(self.failed[0][1]):
            self.done = True  # failures that differ: configs that fail, not the cell
            return None
        self.failed.append((trial.id, failure))
        self.configs.append(dict(trial.config))
        if len(self.failed) < FAIL_FAST_AFTER:
            return None
        last = max(i for i, _ in self.failed)
        # the first trials to end, not the first trials: configs that fail at once, before
        # those started earlier train to their end (they stopped a healthy study: first-day
        # test, round 39); it waits for those
        if any(t.id < last and t.state == T.RUNNING for t in self.trials):
            return None
        self.done = True
        ids = ", ".join(str(i) for i in sorted(i for i, _ in self.failed))
        hints = [line[len("nbtune: "):] for line in (trial.error or "").splitlines()
                 if line.startswith("nbtune: ")]
        fix = (f"nbtune knows this one: {hints[-1]}; then run the cell again" if hints else
               "fix the cell (or trial function) and run it again")  # the hint, not --no-fail-fast
        resume = " (--resume, resume=True, continues the study)" if self.stored else ""
        if self.stored and failure.startswith(NEVER_REPORTED):  # the fix may be the metric's
            resume = (" (reporting it: --resume, resume=True, continues the study; naming "
                      "another metric: --replace, replace=True, starts it again)")
        return (f"the study stopped: its first {len(self.failed)} trials ({ids}) all failed "
                f"alike, the last with {failure}{self._shared(failure)}; {fix}{resume}, or pass "
                "fail_fast=False (--no-fail-fast) to run on past failures")

    def _shared(self, failure: str) -> str:
        """The values every failed trial had and another trial of the study has not, as
        "; every one had solver='lbfgs' (...)": those may be what fails, not the cell (three
        trials that drew the one solver that rejects a penalty read as a broken cell). None for
        a failure of the code itself (:data:`CODE_ERRORS`)."""
        if failure.split(":", 1)[0].rsplit(".", 1)[-1] in CODE_ERRORS:
            return ""
        alike = T.shared_values(self.configs)
        ran = {k: v for k, v in alike.items()
               if any(k in t.config and not T.same_value(t.config[k], v) for t in self.trials)}
        # or the space offers other values that no trial has drawn yet: the first three
        # trials drew the one solver that fails (check round 43)
        unrun = {k: others for k, v in alike.items() if k not in ran
                 for others in [self._other_values(k, v)] if others}
        if not ran and not unrun:
            return ""
        said = []
        if ran:
            said.append(f"{', '.join(f'{k}={v!r}' for k, v in ran.items())}, which other "
                        f"trials do not")
        for k, others in unrun.items():
            listed = ", ".join(map(repr, others[:3])) + (", ..." if len(others) > 3 else "")
            many = len(others) > 1
            said.append(f"{k}={alike[k]!r}, and the space's other value{'s' if many else ''} "
                        f"of {k} ({listed}) {'have' if many else 'has'} not run yet")
        one = len(ran) + len(unrun) == 1
        return (f"; every one had {'; '.join(said)} (if only "
                f"{'that value fails' if one else 'those values fail'}, take "
                f"{'it' if one else 'them'} out of the space)")

    def _other_values(self, key: str, value: Any) -> list:
        """The other values of a finite dimension of the space (a choice, a grid), [] for a
        range or where the space does not say."""
        try:
            domain = self.space[key]
            values = list(domain.values) if hasattr(domain, "size") else []
        except Exception:
            return []
        return [x for x in values if not T.same_value(x, value)]

