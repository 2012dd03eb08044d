"""Lines nbtune adds to a failed trial's traceback where the failure is one it knows, with its
fix: a module the workers cannot import (:mod:`nbtune.run.imports`), a trial that starts
processes inside a worker that may not have any (PyTorch's ``DataLoader(num_workers=2)``), a
config key near one it has, an Optuna objective's calls on its trial, or ``report`` called by
its bare name outside a %%tune body."""
from __future__ import annotations

import os
import re
from typing import Any, Mapping

from ..typos import did_you_mean
from .imports import missing_module_hint

DAEMONIC = "daemonic processes are not allowed to have children"

# one line a failure list shows whole (160 characters): the fix, `dask worker`'s in the README
NO_CHILDREN = ("Dask's daemonic workers start no processes: num_workers=0, or "
               "dask.config.set({'distributed.worker.daemon': False}) and %tune_cluster local")


def with_hints(error: str | None, config: Mapping[str, Any] | None = None,
               address: str | None = None) -> str | None:
    """``error`` (a failed trial's traceback) with nbtune's line on its cause and fix added
    where it knows one; unchanged otherwise. ``config``: the trial's, for a KeyError of a name
    it does not hold; ``address``: its cluster's scheduler, for the calls the lines give."""
    error = missing_module_hint(error, address)
    if error and DAEMONIC in error:
        error = _added(error, NO_CHILDREN)
    if error and config:
        error = _missing_key_hint(error, config)
    if error:
        error = _environ_hint(error)
    if error:
        error = _optuna_trial_hint(error)
    if error and _UNBOUND_REPORT.search(_last_line(error)):
        error = _added(error, UNBOUND_REPORT)
    by_name = _PICKLED_BY_NAME.search(_last_line(error)) if error else None
    if by_name:
        error = _added(error, PICKLED_BY_NAME.format(by_name.group(1)))
    return error


# pickle.dumps(model) or torch.save(model) in a trial, of an object of a notebook class: pickle
# names the class by module and name, and the worker's __main__ has none, or has the notebook's
# own where the worker runs in the notebook's process (each trial has classes of its own)
_PICKLED_BY_NAME = re.compile(r"Can't pickle <class '__main__\.([\w.]+)'>: "
                              r"(it's not the same object as|attribute lookup)")
PICKLED_BY_NAME = ("an object of the notebook's class {} is pickled by the class's name, which "
                   "a trial cannot give it: save its state instead (torch.save(model."
                   "state_dict(), path), or report(..., checkpoint=model) and "
                   "study.best_checkpoint)")


def _last_line(error: str) -> str:
    """The traceback's last line: the exception, which says what the failure was."""
    lines = error.rstrip().splitlines()
    return lines[-1].strip() if lines else ""


def _added(error: str, line: str) -> str:
    """``error`` with nbtune's ``line`` on its cause and fix below it."""
    return f"{error.rstrip()}\nnbtune: {line}"


# report() or get_checkpoint() by their bare names in code the %%tune body does not carry
_UNBOUND_REPORT = re.compile(r"^NameError: name '(report|get_checkpoint)' is not defined")
UNBOUND_REPORT = ("report and get_checkpoint are given to a %%tune body and the notebook's "
                  "functions it calls, not to a class's methods or a module's code: call "
                  "nbtune.report(...) there (import nbtune)")

# Optuna's trial methods a config dict lacks (not report or params: a user's dict may mean them)
_OPTUNA_CALL = re.compile(r"AttributeError: 'dict' object has no attribute "
                          r"'(suggest_\w+|should_prune|set_user_attr|study)'")


def _optuna_trial_hint(error: str) -> str:
    """An Optuna objective's ``trial.suggest_float(...)`` on the config dict nbtune passed,
    where the objective was not seen as one before the study (a suggest_* call in a helper of
    the user's, or the trial under another name: ``_check_not_optuna`` follows neither),
    with how to port it; it read only "'dict' object has no attribute 'suggest_float'"."""
    found = _OPTUNA_CALL.fullmatch(_last_line(error))
    if found is None:
        return error
    return _added(error, f"{found.group(1)} is an Optuna trial's: nbtune passes the trial "
                  f"function a config, a dict of its values from the space given beside it; "
                  f"write each suggest_* as a space entry "
                  f"({{'lr': nbtune.loguniform(1e-4, 1e-1)}}) and read config['lr'] (the "
                  f"README's \"Coming from Optuna\")")


def _missing_key_hint(error: str, config: Mapping[str, Any]) -> str:
    """A KeyError of a key the trial's config lacks and one of its keys is close to
    (``config["C"]`` where the space named it "c"), with the config's keys: it read
    ``KeyError: 'C'`` alone (first-day test, round 41). Only where the failing line indexes
    ``config[...]``, the README's name for a trial function's argument, outside a ``%%tune``
    cell (whose hyperparameters are names): a KeyError of another dict near a config key (a
    cell's ``settings["maxiter"]`` beside ``max_iter``) is left as it is (rounds 43, 44)."""
    lines = error.rstrip().splitlines()
    found = re.fullmatch(r"KeyError: '([^']*)'", _last_line(error))
    keys = [k for k in config if isinstance(k, str)]
    if found is None or found.group(1) in config or not keys or "<tune cell" in error:
        return error  # a cell reads its hyperparameters by their names, not from a config
    asked = found.group(1)
    code = [ln.strip() for ln in lines[:-1] if ln.startswith("    ") and ln.strip()
            and set(ln.strip()) - set("^~")]
    if not code or not re.search(r"\bconfig\s*\[", code[-1]):  # params["C"]: another dict's
        return error  # (check round 44); the README's trial functions name theirs config
    cased = [k for k in keys if k.lower() == asked.lower()]  # 'C' for 'c': too short for difflib
    near = f"did you mean {cased[0]!r}?" if cased else did_you_mean(asked, keys).strip(" ()")
    if not near:
        return error
    names = ", ".join(repr(k) for k in keys)
    return _added(error, f"KeyError {asked!r}: the trial's config has no such key ({near}); "
                  f"its keys are the space's names: {names}")


_ENVIRON_KEY = re.compile(r'(<frozen os>|os\.py)", line \d+, in __getitem__')


def _environ_hint(error: str) -> str:
    """A KeyError of an environment variable the notebook's process has and the trial's
    worker lacked (``os.environ["DATA_DIR"]``, set in the notebook, on a cluster started
    elsewhere), with where to set it: it read ``KeyError: 'DATA_DIR'`` alone, where a
    relative file's path got its line (first-day test, round 67). A worker of nbtune's own
    cluster starts with the notebook's environment."""
    found = re.fullmatch(r"KeyError: '([^']*)'", _last_line(error))
    if found is None or found.group(1) not in os.environ or not _ENVIRON_KEY.search(error):
        return error
    name = found.group(1)
    return _added(error, f"the environment variable {name!r} is set in the notebook's process, "
                  f"not on the worker that ran the trial: set it where the workers start "
                  f"({name}=... dask worker ...), or read it in the notebook and pass its "
                  f"value in (a fixed(...) space entry, or with_parameters)")


_BY_NAME = re.compile(r"Can't get attribute '([^']+)' on <module '__main__'")


def by_name_hint(error: str) -> str:
    """``error`` (why Dask could not run a trial) with what it means where a worker could not
    find a notebook object in its ``__main__``: an object pickled by reference, not by value, as
    a ``functools.lru_cache`` wrapper of a notebook function is; it read "Can't get attribute
    'cached_dropout' on <module '__main__'>" alone (check round 51)."""
    found = _BY_NAME.search(error)
    if found is None:
        return error
    return _added(error, by_name_line(found.group(1)))


def by_name_line(name: str) -> str:
    """Why the notebook's object ``name`` cannot reach the workers, and the fix."""
    return (f"the notebook's {name} travels to the workers by name (a functools.lru_cache or "
            f"cache wrapper does), and their __main__ has no such name: define it in the "
            f"%%tune cell, or leave the decorator out")
