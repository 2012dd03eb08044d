"""What the trials said, for people: their failures grouped by kind, what they wrote, and the
warnings they raised, each once with how many trials raised it. The summary and the live panel
show them alike (as HTML); ``nbtune.tune`` says the warnings where no view shows them."""
from __future__ import annotations

import functools
import html
from typing import Any, Iterable

from . import trial as T
from .formatting import config_text, one_line
from .ranking import earlier_ids
from .run.output import merge_warnings, warning_key
from .run.overdue import past_time_limit

SHOWN_ERRORS = 5  # failed trials listed with their traceback
SHOWN_OUTPUTS = 8  # trials listed with their output
OUTPUT_CHARS = 4_000  # of each, the last characters shown (all of it is in trial.output)


def study_warnings(study: Any, among: Iterable[T.Trial] | None = None
                   ) -> list[tuple[dict[str, Any], int]]:
    """Each distinct warning the trials (``among``: those only) raised, once, with the number of
    trials that raised it; the most widespread first."""
    merged: list[dict[str, Any]] = []
    trials_of: dict[tuple[str, str], int] = {}
    for t in list(study.trials if among is None else among):
        for record in list(t.warnings):
            trials_of[warning_key(record)] = trials_of.get(warning_key(record), 0) + 1
        merge_warnings(merged, list(t.warnings))
    return sorted(((r, trials_of[warning_key(r)]) for r in merged), key=lambda p: -p[1])


def wrote_output(study: Any) -> list[T.Trial]:
    """The trials that wrote something to stdout or stderr."""
    return [t for t in list(study.trials) if t.output]


def errors_html(study: Any, failed: list[T.Trial] | None = None) -> str:
    """The failed trials (``failed``: where the caller keeps them) grouped by their error's last
    line, since one mistake fails many trials alike: one line per kind of failure naming its
    trials and the error, which opens to the latest such trial's config and traceback. The
    kinds that failed last are shown, the latest at the bottom."""
    e = html.escape
    ordered = failure_kinds(study, failed)
    items = []
    for _, trials in ordered[-SHOWN_ERRORS:]:
        last = trials[-1]
        line = _error_line(last.error)
        # the live panel passes its own list and redraws often: the scan is the summary's
        who = _who_failed(trials) + (_shared_by(study, trials) if failed is None else "")
        items.append(f"<details><summary>{e(who)}: {e(line)}</summary><pre>trial {last.id}: "
                     f"{e(config_text(last.config))}\n\n{e(last.error or '')}</pre></details>")
    hidden = ordered[:-SHOWN_ERRORS] if len(ordered) > SHOWN_ERRORS else []
    if hidden:
        n = sum(len(trials) for _, trials in hidden)
        items.append(f"<div>{len(hidden)} more kind{'s' if len(hidden) != 1 else ''} of "
                     f"failure ({n} trial{'s' if n != 1 else ''})</div>")
    return "".join(items)


def failure_kinds(study: Any, failed: list[T.Trial] | None = None
                  ) -> list[tuple[str, list[T.Trial]]]:
    """The failed trials (``failed``: where the caller keeps them) grouped by the kind of their
    error's last line, the kind that failed last at the end."""
    if failed is None:
        failed = [t for t in list(study.trials) if t.state == T.FAILED and t.error]
    kinds: dict[str, list[T.Trial]] = {}
    for t in failed:
        kinds.setdefault(_error_kind(t.error), []).append(t)
    return sorted(kinds.items(), key=lambda kind: kind[1][-1].id)


def failure_lines(study: Any) -> list[str]:
    """The failed trials as lines of text, one per kind of failure as :func:`errors_html` shows
    them (a terminal's `nbtune show` said "7 failed" and nothing more: first-day test, 26)."""
    kinds = failure_kinds(study)
    lines = [f"{_who_failed(trials)}{_shared_by(study, trials)}: "
             f"{_error_line(trials[-1].error)}" for _, trials in kinds[-SHOWN_ERRORS:]]
    if len(kinds) > SHOWN_ERRORS:
        lines.append(f"and {len(kinds) - SHOWN_ERRORS} more kinds of failure")
    return lines


def _shared_by(study: Any, failed: list[T.Trial]) -> str:
    """", all with solver='lbfgs'": the values every one of ``failed`` (two or more, one kind
    of failure) had and no completed or stopped trial had, of a dimension the trials vary; ""
    where there is none. A study that ran on past 5 failures of 12, all of the one solver that
    fails, said only the error (check round 44)."""
    if len(failed) < 2:
        return ""
    trials = list(study.trials)
    shared = {k: v for k, v in T.shared_values([t.config for t in failed]).items()
              if any(k in t.config and not T.same_value(t.config[k], v) for t in trials)}
    ran = [t for t in trials if t.state in (T.COMPLETED, T.STOPPED)]
    apart = {k: v for k, v in shared.items()
             if not any(k in t.config and T.same_value(t.config[k], v) for t in ran)}
    return (", all with " + ", ".join(f"{k}={v!r}" for k, v in apart.items())) if apart else ""


def _who_failed(trials: list[T.Trial]) -> str:
    return (f"trial {trials[-1].id} failed" if len(trials) == 1 else
            f"{len(trials)} trials failed ({_id_ranges([t.id for t in trials])})")


@functools.lru_cache(maxsize=4096)
def _error_line(error: str) -> str:
    """An error's last line (:func:`one_line`), remembered: the live panel asks again at each
    redraw for every failed trial."""
    return one_line(error)


@functools.lru_cache(maxsize=4096)
def _error_kind(error: str) -> str:
    """The kind of an error (:func:`nbtune.trial.error_kind` of its last line), remembered."""
    return T.error_kind(_error_line(error))


def overdue_text(study: Any) -> str:
    """"2 trials ran past max_trial_time=2 s and were ended there: trials 1, 2"; "" where none
    did. Of a fifo study, "2 stopped" said nothing of why."""
    # the limit each was ended by, as its error says: a resume may have set another since
    # (the summary named the new one: first-day check, round 68)
    limits = {t.id: past_time_limit(t.error) for t in study.trials}
    ids = [i for i, limit in limits.items() if limit is not None]
    if not ids:
        return ""
    shown = {limits[i] for i in ids}
    limit = shown.pop() if len(shown) == 1 else None
    one = len(ids) == 1
    return (f"{len(ids)} trial{'' if one else 's'} ran past max_trial_time"
            f"{'' if limit is None else '=' + limit + ' s'} and "
            f"{'was' if one else 'were'} ended there: trial{'' if one else 's'} "
            f"{_id_ranges(ids)}")


def _id_ranges(ids: list[int], most: int = 6) -> str:
    """"0-4, 7, 9" for trial ids (sorted), the first ``most`` runs of them, then "…"."""
    runs: list[list[int]] = []
    for i in sorted(ids):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    shown = [f"{a}-{b}" if b > a else f"{a}" for a, b in runs[:most]]
    return ", ".join(shown) + (", …" if len(runs) > most else "")


def outputs_html(study: Any, wrote: list[T.Trial] | None = None) -> str:
    """The last trials that wrote output (``wrote``: where the caller keeps them), each one line
    that opens to what it wrote."""
    wrote = wrote_output(study) if wrote is None else wrote
    items = []
    for t in wrote[-SHOWN_OUTPUTS:]:
        lines = t.output.splitlines()
        text = t.output if len(t.output) <= OUTPUT_CHARS else "…" + t.output[-OUTPUT_CHARS:]
        items.append(f"<details><summary>trial {t.id} wrote {len(lines)} line"
                     f"{'s' if len(lines) != 1 else ''}</summary><pre>{html.escape(text)}</pre>"
                     "</details>")
    more = len(wrote) - SHOWN_OUTPUTS
    return "".join(items) + (f"<div>{more} more trials wrote output (trial.output)</div>"
                             if more > 0 else "")


def warnings_html(study: Any, among: Iterable[T.Trial] | None = None) -> str:
    """Each warning the trials raised, once, with how many trials raised it of those that ran
    (finished, or raised one while running: a queued trial has had no chance to) (``among``:
    the trials that raised any, where the caller keeps them); for a resumed study, also how
    many of this run's trials did (:func:`earlier_ids`)."""
    e = html.escape
    earlier = earlier_ids(study)
    ran = [t.id for t in list(study.trials) if t.is_finished or t.warnings]
    n, this_run = len(ran), sum(i not in earlier for i in ran)
    found = study_warnings(study, among)
    here = {}
    if earlier and found:
        ours = [t for t in list(study.trials if among is None else among) if t.id not in earlier]
        here = {warning_key(r): k for r, k in study_warnings(study, ours)}
    parts = []
    for r, k in found:
        run = f", {here.get(warning_key(r), 0)} of {this_run} in this run" if earlier else ""
        parts.append(f"<div>{e(r['category'])}: {e(r['message'])} <i>(raised by {k} of {n} "
                     f"trials{run})</i></div>")
    return "".join(parts)


def trial_details(study: Any, trial_id: int) -> str:
    """One trial in full, as text: its state, config, value and other values, runs, reports,
    the whole traceback of a failed one and what it wrote (``nbtune show NAME --trial N``). A
    log or the summary gives a failure's last line only, and a colleague with the study file
    and a terminal could not see where it failed (first-day test, round 39)."""
    trial = next((t for t in list(study.trials) if t.id == trial_id), None)
    if trial is None:
        ids = [t.id for t in list(study.trials)]
        known = f"its trials are {_id_ranges(ids)}" if ids else "it has no trials"
        raise ValueError(f"study {study.name!r} has no trial {trial_id}: {known}")
    lines = [f"trial {trial.id} of study {study.name!r}: {T.shown_state(trial)}",
             f"  config    {config_text(trial.config)}"]
    if trial.value is not None:
        lines.append(f"  {study.metric:<9} {trial.value:.6g}")
    others = {k: v for k, v in trial.metrics.items() if k != study.metric}
    if others:
        lines.append("  metrics   " + ", ".join(f"{k}={v!r}" for k, v in others.items()))
    elif trial.reports:  # an unfinished trial: its last report (check round 40)
        lines.append("  last      " + ", ".join(f"{k}={v!r}"
                                                for k, v in trial.reports[-1].items()))
    lines.append(f"  reports   {len(trial.reports)}; attempts {trial.attempts}"
                 + (f"; worker {trial.worker}" if trial.worker else ""))
    if trial.error:
        lines += ["", "its error:", trial.error.rstrip()]
    if trial.output:
        lines += ["", "its output:", trial.output.rstrip()]
    return "\n".join(lines)
