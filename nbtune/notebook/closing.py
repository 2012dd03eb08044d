"""What a %%tune cell says when its study ends, under its summary."""
from __future__ import annotations

from .. import trial as T
from ..directions import looks_maximised
from ..formatting import config_text, duration_text, one_line
from ..study import Study


def closing_line(study: Study, elapsed: float, out: str) -> str:
    """The line under a %%tune cell whose study ended: its trials per state, its time (a
    resumed study's: this run's), why it ended and the name it is bound to, then the best trial
    and its config, or why every trial failed. ``elapsed``: the cell's seconds, where the study
    kept no time of its own."""
    counts = T.counts_text(study.counts(), study.stop_reason) or "no trials"
    took = duration_text(study.elapsed if study.elapsed is not None else elapsed)
    here = len(study.trials) - len(study.earlier)
    if study.earlier and not here:  # "0 of them in this run, in 43 ms" (round 20)
        took = ", none in this run"
    elif study.earlier:  # a resumed study: its time is this run's, not the earlier trials'
        took = f"; {here} of them in this run, in {took}"
    else:
        took = f" in {took}"
    line = f"nbtune: study {study.name!r}: {counts}{took} ({study.stop_reason}); bound to `{out}`."
    best = study.best
    if best is not None:
        line += (f"\n  best {study.metric} = {best.value:.6g} (trial {best.id}): "
                 f"{config_text(best.config)}")
    failed = [t for t in study.trials if t.state == T.FAILED]
    if failed and len(failed) == len(study.trials):  # why, or the line says nothing of it
        line += (f"\n  every trial failed; trial {failed[0].id}: "
                 f"{one_line(failed[0].error or '', width=400)}")
    return line


def not_applied(study: Study, mode_given: str | None) -> str | None:
    """Why ``--apply`` leaves the best values out of the notebook: a score (``accuracy``)
    minimised with the mode left at its default, whose best is likely its worst (it put the
    worst config into the notebook, after the warning had said as much: first-day test, round
    41); None where it applies them."""
    if study.mode != "min" or mode_given is not None or not looks_maximised(study.metric):
        return None
    return (f"nbtune: not applied: the study minimised {study.metric!r} (mode='min' is the "
            f"default), so its best is the lowest {study.metric}; run it again with --mode max "
            f"(and --replace) to apply the highest, or give --mode min to apply this")
