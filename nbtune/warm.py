"""Warm start: an earlier study's ended trials seed a new study's searcher before its first
suggestion.

The earlier study is a :class:`Study` or a study name in the new study's storage file. Its
metric and mode must be the new study's, and where both say how they measured it (a
``SearchCV``'s scorer, :func:`measured_as`), that too. Its configs are mapped to the new space:
the names both spaces share keep their values, the new space's other names take their defaults,
the earlier study's other names are dropped, and a trial whose value lies outside the new domain
is left out. The trials seed the searcher only: they are not trials of the new study, are not
stored with it and do not count toward its budget.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Iterator

from .scoped import within
from .caller import warn_note
from .space import Space
from .studies import StudyNotFound, list_studies, load_study
from .study import Study
from .trial import Trial
from .typos import closest, did_you_mean


_MEASURED: ContextVar[str | None] = ContextVar("nbtune_measured", default=None)


@contextlib.contextmanager
def measured_as(how: str) -> Iterator[None]:
    """Within it, the study ``tune()`` starts measures its metric ``how`` (a ``SearchCV``'s
    scorer: every single-scorer search's metric is ``mean_test_score``, whatever it scores), kept
    in its settings as ``"measured"``; a warm start between two studies that measured their
    metric differently is refused (first-day test, round 57: roc_auc and log loss values fed one
    model in silence)."""
    with within(_MEASURED, how):
        yield


def measured() -> str | None:
    """How the study being started measures its metric (None: not said)."""
    return _MEASURED.get()


_DATA: ContextVar[str | None] = ContextVar("nbtune_data", default=None)


@contextlib.contextmanager
def data_as(fingerprint: str | None) -> Iterator[None]:
    """Within it, the study ``tune()`` starts runs on the data of ``fingerprint`` (a
    ``SearchCV``'s X, y, groups and splits, hashed), kept in its settings as ``"data"``: a
    resumed search on other data is refused."""
    with within(_DATA, fingerprint):
        yield


def data_fingerprint() -> str | None:
    """The fingerprint of the data of the study being started (None: not said)."""
    return _DATA.get()


@dataclass
class WarmStart:
    """The trials a warm start replays into the searcher, mapped into the new space."""

    source: str  # the earlier study's name
    storage: str | None  # its storage file (None: kept in memory)
    trials: list[Trial]
    line: str  # what was kept and what was dropped, for people
    resource: str = "epoch"  # the report key of its resource levels
    ended: list[int] = dataclasses.field(default_factory=list)  # the source's ended trials
    digest: str = ""  # of those trials as they were (see ended_digest)

    def settings(self) -> dict[str, Any]:
        """What the new study stores, so that resuming it replays the same warm start: the
        source, its file's absolute path (a relative one failed from another folder: first-day
        test, round 64), and which of its trials it held, as they were."""
        path = None if self.storage is None else os.path.abspath(self.storage)
        return {"warm_start": self.source, "warm_start_storage": path,
                "warm_start_trials": self.ended, "warm_start_digest": self.digest}


def ended_digest(trials: list[Trial]) -> str:
    """A digest of ended trials as a warm start read them (id, config, state, value): a resume
    tells its warm start's source replaced or changed since from one that only ran on."""
    rows = [[t.id, t.config, t.state, t.value] for t in sorted(trials, key=lambda t: t.id)]
    return hashlib.sha1(json.dumps(rows, sort_keys=True, default=repr).encode()).hexdigest()


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
        known = list_studies(path) if os.path.exists(path) else []
        listed = ", ".join(repr(n) for n in known) or "none"
        raise ValueError(f"warm start: no study named {name!r} in {path!r}"
                         f"{did_you_mean(name, known)}; studies there: {listed}") from None


def missing_source(name: str, path: str | os.PathLike) -> str | None:
    """Why a resumed study's warm start cannot be read again, in words ("is no longer in
    '/abs/old.db'"), or None where its source is there."""
    path = os.fspath(path)
    if not os.path.exists(path):
        return f"was in {path!r}, a file no longer there"
    if name not in list_studies(path):
        return f"is no longer in {path!r}"
    return None


def _source(warm: Study | str, storage: str | os.PathLike | None, study: str) -> Study:
    if isinstance(warm, Study):
        return warm
    if isinstance(warm, str) and warm:
        return _load(warm, storage, study)
    raise TypeError(f"warm_start must be a Study or the name of a stored study, got "
                    f"{type(warm).__name__}")


def _mapped(trial: Trial, space: Space, outside: dict[str, int]) -> Trial | None:
    """The trial with its config in ``space`` (shared names kept, the others at their
    defaults); None when a kept value is outside its new domain, counted in ``outside`` under
    the names whose values are."""
    try:
        config = space.complete({k: v for k, v in trial.config.items() if k in space})
    except ValueError:
        config = None
    if config is not None:
        try:
            space.validate(config)
            return dataclasses.replace(trial, config=config, reports=list(trial.reports))
        except ValueError:
            pass
    for k, v in trial.config.items():
        if k in space:
            try:
                space[k].validate(space[k].given(v))
            except (ValueError, TypeError):
                outside[k] = outside.get(k, 0) + 1
    return None


def _renamed(dropped: list[str], added: list[str], old: Space, new: Space) -> list[str]:
    """"'lr' -> 'learning_rate'" for each new name that reads as a dropped one renamed: the
    same domain, one name the initials of the other's words, or a close spelling."""
    def initials(name: str) -> str:
        return "".join(w[0] for w in name.split("_") if w)

    def by_name(d: str, a: str) -> bool:
        return initials(a) == d or initials(d) == a or closest(d, [a]) is not None

    found: dict[str, str] = {}  # new name -> dropped one; names first, then equal domains
    for alike in (by_name, lambda d, a: repr(old[d]) == repr(new[a])):
        for a in added:
            d = next((d for d in dropped if d not in found.values() and a not in found
                      and alike(d, a)), None)
            if d is not None:
                found[a] = d
    return [f"{found[a]!r} -> {a!r}" for a in added if a in found]


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _per_name(outside: dict[str, int], n: int) -> str:
    """"lr: 5, hidden: 6": the trials each hyperparameter's value put outside the new space;
    where they add up to more than the ``n`` trials outside, a trial counts under each of its
    values outside ("9 + 9" for 17 trials read as a miscount: first-day test, round 22)."""
    text = ", ".join(f"{k}: {m}" for k, m in outside.items())
    return text + ("; some under more than one" if sum(outside.values()) > n else "")


def warm_start(warm: Study | str | None, storage: str | os.PathLike | None, *, space: Space,
               metric: str, mode: str, study: str, searcher: Any = None,
               held: dict[str, Any] | None = None) -> WarmStart | None:
    """The warm start of study ``study`` from ``warm`` (None: none), checked against the new
    study's metric and mode, its trials mapped into ``space``; prints one line saying what it
    kept and dropped (and when ``searcher`` keeps no model, that it ignores them). A study
    with nothing to learn from is a warning, at the user's line, and no warm start. ``held``:
    a resumed study's stored settings, whose warm start replays the trials it held then."""
    if warm is None:
        return None
    source = _source(warm, storage, study)
    if source.metric != metric:
        raise ValueError(f"warm start from {source.name!r}: it measured {source.metric!r}, this "
                         f"study {metric!r}: warm-start from a study of the same metric")
    theirs, mine = source.settings.get("measured"), measured()
    if theirs is not None and mine is not None and theirs != mine:
        raise ValueError(f"warm start from {source.name!r}: it measured {metric!r} with "
                         f"scoring={theirs}, this study with scoring={mine}: warm-start from a "
                         "search of the same scoring")
    if source.mode != mode:
        raise ValueError(f"warm start from {source.name!r}: it ran with mode={source.mode!r}, "
                         f"this study with mode={mode!r}: give the same mode, or warm-start "
                         "from another study")
    ended = _as_held(source, [t for t in list(source.trials) if t.is_finished], held or {},
                     study)
    dropped = [k for k in source.space if k not in space]
    added = [k for k in space if k not in source.space]
    renamed = _renamed(dropped, added, source.space, space)
    rename = f" (renamed? {', '.join(renamed)})" if renamed else ""
    shared = [k for k in space.unit_names if k in source.space]
    if ended and space.unit_names and not shared:  # every trial at one point of the new space
        warn_note(f"warm start from {source.name!r}: it shares no hyperparameter that this "
                  f"study varies (it had {_names(list(source.space))}; this study varies "
                  f"{_names(space.unit_names)}){rename}, so its {len(ended)} ended trials would "
                  "all sit at one point of this space; the study starts without it")
        return None
    outside: dict[str, int] = {}
    mapped = [m for m in (_mapped(t, space, outside) for t in ended) if m is not None]
    if not mapped:
        why = ("no ended trials" if not ended else
               f"none of its {len(ended)} ended trials lies in the new space"
               + (f" ({_per_name(outside)})" if outside else ""))
        warn_note(f"warm start from {source.name!r}: {why} to learn from; the study starts "
                  "without it")
        return None
    line = f"nbtune: warm start from {source.name!r}: {len(mapped)} of {len(ended)} ended trials"
    if dropped:
        line += f"; dropped dims {_names(dropped)}"
    if added:
        line += f"; new dims {_names(added)} at their defaults"
    line += rename
    if len(mapped) < len(ended):
        n = len(ended) - len(mapped)
        line += (f"; {n} trial{'s' if n != 1 else ''} outside the new space"
                 + (f" ({_per_name(outside, n)})" if outside else ""))
    if searcher is not None and getattr(searcher, "observations", None) is None:
        line += f"; the {searcher.name} searcher keeps no model and ignores them"
    print(line)
    return WarmStart(source.name, source.storage, mapped, line,
                     source.settings.get("resource") or "epoch",
                     ended=sorted(t.id for t in ended), digest=ended_digest(ended))


def _as_held(source: Study, ended: list[Trial], held: dict[str, Any], study: str) -> list[Trial]:
    """The source's ended trials that a resumed study's warm start held, as they were then:
    those it held, where they are unchanged (a source that ran on since adds nothing), else
    all of them now, said in one line (a source replaced since seeded the model with its new
    trials in silence: first-day test, round 64)."""
    ids, digest = held.get("warm_start_trials"), held.get("warm_start_digest")
    if ids is None or not digest:  # a new warm start, or one stored before these were kept
        return ended
    wanted = set(ids)
    then = [t for t in ended if t.id in wanted]
    if len(then) == len(wanted) and ended_digest(then) == digest:
        return then
    warn_note(f"study {source.name!r} changed since study {study!r} was warm-started from it "
              f"(replaced, or its trials changed: {len(ended)} ended trials now, "
              f"{len(wanted)} then): the model is seeded with what it holds now")
    return ended
