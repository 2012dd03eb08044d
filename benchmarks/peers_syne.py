"""Syne Tune's side of peers.py, and the training script its LocalBackend runs for each trial.

``run`` tunes with Syne Tune's own ``ASHA`` or ``BOHB`` (``syne_tune.optimizer.baselines``),
``LocalBackend`` with ``n_workers`` workers and ``StoppingCriterion(max_wallclock_time=budget)``.
The LocalBackend starts one Python process per trial running this file, which loads the task's
data from an .npz file written before the clock starts, trains level by level and reports each
level through ``syne_tune.Reporter``; it also appends (time, level, value) to a log of its own,
the record peers.py measures from, as for the other methods.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import time
from typing import Any

LOG_DIR = "PEERS_SYNE_LOG_DIR"  # environment variables the trial processes inherit
DATA = "PEERS_SYNE_DATA"
TASK = "PEERS_SYNE_TASK"


def config_space(space: dict[str, tuple]) -> dict[str, Any]:
    """Syne Tune's config space for ``space`` (name -> (kind, arguments))."""
    from syne_tune import config_space as cs

    out = {}
    for name, (kind, args) in space.items():
        if kind == "choice":
            out[name] = cs.choice(list(args))
        elif kind in ("uniform", "loguniform", "randint", "lograndint"):
            out[name] = getattr(cs, kind)(*args)
        else:
            raise ValueError(f"no Syne Tune primitive for {kind!r}")
    return out


def run(method: str, task: str, space: dict[str, tuple], seed: int, budget: float,
        workers: int, data_path: str, folder: str
        ) -> tuple[float, list[tuple[float, int, float]], int]:
    """One Syne Tune study: (start time, [(time, level, value)] of every report, trials started)."""
    import logging

    from syne_tune import StoppingCriterion, Tuner
    from syne_tune.backend import LocalBackend
    from syne_tune.optimizer.baselines import ASHA, BOHB

    import peers_tasks

    logging.getLogger("syne_tune").setLevel(logging.ERROR)
    log_dir = os.path.join(folder, f"syne-{method}-{task}-{seed}")
    os.makedirs(log_dir)
    os.environ.update({LOG_DIR: log_dir, DATA: data_path, TASK: task,
                       "SYNETUNE_FOLDER": os.path.join(folder, "syne-tune")})
    cls = {"syne-asha": ASHA, "syne-bohb": BOHB}[method]
    scheduler = cls(config_space(space), metric="accuracy", do_minimize=False,
                    time_attr="epoch", max_t=peers_tasks.MAX_T[task], grace_period=1,
                    reduction_factor=3, random_seed=seed)
    tuner = Tuner(trial_backend=LocalBackend(entry_point=os.path.abspath(__file__),
                                             pass_args_as_json=True),
                  scheduler=scheduler, n_workers=workers,
                  stop_criterion=StoppingCriterion(max_wallclock_time=budget),
                  # polls every 0.5 s when all workers are busy (default 5 s, made for trials
                  # of minutes): its stop decisions would lag by seconds on these short trials
                  sleep_time=0.5, max_failures=1000, results_update_interval=budget + 60,
                  print_update_interval=budget + 60, save_tuner=False,
                  tuner_name=f"peers-{method}-{task}-{seed}")
    out = io.StringIO()  # Syne Tune prints a line per trial event: shown only if one failed
    here = os.getcwd()
    os.chdir(folder)  # its GPU probe writes a file "std.out" into the working directory
    try:
        t0 = time.time()
        with contextlib.redirect_stdout(out):
            tuner.run()
    finally:
        os.chdir(here)
    if tuner.tuning_status.num_trials_failed:
        print(out.getvalue())
    points = []
    for name in os.listdir(log_dir):
        with open(os.path.join(log_dir, name)) as f:
            points += [tuple(json.loads(line)) for line in f if line.strip()]
    return t0, points, tuner.tuning_status.num_trials_started


def _main() -> None:
    import argparse

    from syne_tune import Reporter
    from syne_tune.utils import add_config_json_to_argparse, load_config_json

    import peers_tasks

    parser = argparse.ArgumentParser()
    add_config_json_to_argparse(parser)
    config = load_config_json(vars(parser.parse_known_args()[0]))  # and --st_checkpoint_dir
    task, report = os.environ[TASK], Reporter()
    data = peers_tasks.load_data(os.environ[DATA])
    path = os.path.join(os.environ[LOG_DIR], f"{os.getpid()}-{time.time_ns()}.jsonl")
    with open(path, "a", buffering=1) as log:  # line-buffered: a killed trial keeps its lines
        for level, value, _ in peers_tasks.levels(task, config, data):
            log.write(json.dumps([time.time(), level, value]) + "\n")
            # Syne Tune's reports must be finite; a diverged curve ends after its NaN
            report(epoch=level, accuracy=value if value == value else 0.0)


if __name__ == "__main__":
    _main()
