"""Warm start: an earlier study's ended trials seed a new study's searcher before its first
suggestion.

The earlier study is a :class:`Study` or a study name in the new study's storage file. Its
metric and mode must be the new study's. Its configs are mapped to the new space: the names both
spaces share keep their values, the new space's other names take their defaults, the earlier
study's other names are dropped, and a trial whose value lies outside the new domain is left
out. The trials seed the searcher only: they are not trials of the new study, are not stored
with it and do not count toward its budget.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from .caller import warn_note
from .space import Space
from .study import Study, StudyNotFound, load_study
from .trial import Trial
from .typos import did_you_mean


@dataclass
class WarmStart:
    """The trials a warm start replays into the searcher, mapped into the new space."""

    source: str  # the earlier study's name
    storage: str | None  # its storage file (None: kept in memory)
    trials: list[Trial]
    line: str  # what was kept and what was dropped, for people
    resource: str = "epoch"  # the report key of its resource levels

    def settings(self) -> dict[str, Any]:
        """What the new study stores, so that resuming it replays the same warm start."""
        return {"warm_start": self.source, "warm_start_storage": self.storage}


def _load(name: str, storage: str | os.PathLike | None, study: str) -> Study:
    """Study ``name`` of the file ``storage``; one line when there is none of that name."""
    if name == study:
        raise ValueError(f"study {study!r} cannot warm-start from itself: resume=True (--resume) "
                         "continues it, or warm-start a study of another name from it")
    if storage is None:
        raise ValueError(f"warm_start={name!r} names a stored study, but this study keeps no "
                         "storage file: pass the Study itself (nbtune.load_study(NAME, "
                         "storage=PATH)) or a storage file")
    path = os.fspath(storage)
    try:
        return load_study(name, storage=path)
    except (StudyNotFound, FileNotFoundError):
        from .study import list_studies

        known = list_studies(path) if os.path.exists(path) else []
        listed = ", ".join(repr(n) for n in known) or "none"
        raise ValueError(f"warm start: no study named {name!r} in {path!r}"
                         f"{did_you_mean(name, known)}; studies there: {listed}") from None


def _source(warm: Study | str, storage: str | os.PathLike | None, study: str) -> Study:
    if isinstance(warm, Study):
        return warm
    if isinstance(warm, str) and warm:
        return _load(warm, storage, study)
    raise TypeError(f"warm_start must be a Study or the name of a stored study, got "
                    f"{type(warm).__name__}")


def _mapped(trial: Trial, space: Space) -> Trial | None:
    """The trial with its config in ``space`` (shared names kept, the others at their
    defaults); None when a kept value is outside its new domain."""
    try:
        config = space.complete({k: v for k, v in trial.config.items() if k in space})
        space.validate(config)
    except ValueError:
        return None
    return dataclasses.replace(trial, config=config, reports=list(trial.reports))


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def warm_start(warm: Study | str | None, storage: str | os.PathLike | None, *, space: Space,
               metric: str, mode: str, study: str, searcher: Any = None) -> WarmStart | None:
    """The warm start of study ``study`` from ``warm`` (None: none), checked against the new
    study's metric and mode, its trials mapped into ``space``; prints one line saying what it
    kept and dropped (and when ``searcher`` keeps no model, that it ignores them). A study
    with nothing to learn from is a warning, at the user's line, and no warm start."""
    if warm is None:
        return None
    source = _source(warm, storage, study)
    if source.metric != metric:
        raise ValueError(f"warm start from {source.name!r}: it measured {source.metric!r}, this "
                         f"study {metric!r}: warm-start from a study of the same metric")
    if source.mode != mode:
        raise ValueError(f"warm start from {source.name!r}: it ran with mode={source.mode!r}, "
                         f"this study with mode={mode!r}: give the same mode, or warm-start "
                         "from another study")
    ended = [t for t in list(source.trials) if t.is_finished]
    mapped = [m for m in (_mapped(t, space) for t in ended) if m is not None]
    if not mapped:
        why = ("no ended trials" if not ended else
               f"none of its {len(ended)} ended trials lies in the new space")
        warn_note(f"warm start from {source.name!r}: {why} to learn from; the study starts "
                  "without it")
        return None
    line = f"nbtune: warm start from {source.name!r}: {len(mapped)} of {len(ended)} ended trials"
    dropped = [k for k in source.space if k not in space]
    added = [k for k in space if k not in source.space]
    if dropped:
        line += f"; dropped dims {_names(dropped)}"
    if added:
        line += f"; new dims {_names(added)} at their defaults"
    if len(mapped) < len(ended):
        outside = len(ended) - len(mapped)
        line += f"; {outside} trial{'s' if outside != 1 else ''} outside the new space"
    if searcher is not None and getattr(searcher, "observations", None) is None:
        line += f"; the {searcher.name} searcher keeps no model and ignores them"
    print(line)
    return WarmStart(source.name, source.storage, mapped, line,
                     source.settings.get("resource") or "epoch")
