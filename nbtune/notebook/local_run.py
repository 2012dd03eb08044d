"""``%%tune --local``: a cell's body run once in the kernel, with the space's default values, to
debug it before a study."""
from __future__ import annotations

from typing import Any

from ..caller import from_the_body
from ..run.channel import LocalContext, activate, deactivate
from ..run.hints import UNBOUND_REPORT
from .cell import ParsedCell
from .trialfn import CellTrial


def run_locally(user_ns: dict[str, Any], trial: CellTrial, parsed: ParsedCell,
                large: dict[str, Any]) -> None:
    """Run the body once here with the space's defaults (the middle of each range, the first
    choice), its reports and metric printed; what it binds stays in ``user_ns``, as a cell's
    names do, also where it fails: `clf` was a NameError after a --local run, the model one
    wanted to look at (first-day test, round 41). The space's values are the notebook's
    before the body runs, for the notebook's functions it calls read them there (a trial's
    reach them too: see :func:`~nbtune.notebook.trialfn.CellTrial.__call__`)."""
    config = parsed.space.default()
    print("nbtune: running the body once here with " +
          ", ".join(f"{k}={v!r}" for k, v in config.items()))
    ctx = LocalContext(on_report=lambda r: print("  report: " + ", ".join(
        f"{k}={v!r}" for k, v in r.items())))
    token = activate(ctx)
    ns = trial.namespace(config, large)
    user_ns.update(config)  # the notebook's functions the body calls read them, as in a trial
    try:
        value = trial.run(ns)
    except Exception as exc:
        from_the_body(exc, trial.filename)  # the user's lines, not the magic's frames
        if isinstance(exc, NameError) and exc.name in ("report", "get_checkpoint"):
            exc.add_note(f"nbtune: {UNBOUND_REPORT}")  # a callback of another cell's (51)
        raise
    finally:
        deactivate(token)
        user_ns.update({k: ns[k] for k in [*parsed.names, *parsed.assigned] if k in ns})
    metric = trial.metric
    if value is None and ctx.reports:
        value = next((r[metric] for r in reversed(ctx.reports) if metric in r), None)
    print(f"nbtune: {metric} = {value!r}")
