"""The %%tune cell magic: parse the cell, gather what it needs from the notebook, call nbtune.tune.

The magic decides nothing about the search: everything it does goes through :func:`nbtune.tune`.
"""
from __future__ import annotations

import contextlib
import sys
import time
from typing import Any, Callable

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from traitlets import Any as AnyTrait
from traitlets import Bool, Int, TraitError, Unicode, observe

from .. import trial as T
from ..arguments import several_metrics
from ..caller import warn_note
from ..panel import LivePanel, continued_by
from ..run.failure import StudyFailed
from ..run.interrupts import interrupts_absorbed_to_cell_end
from ..run.cluster import set_default_cluster
from ..run.embedded import set_local_workers
from ..run.workers import ClusterInfo
from ..run.task import with_parameters
from ..paths import DEFAULT_FILE, StorageError, names_no_file, set_default_file
from ..starting import no_study_to_resume, resume_typo
from ..studies import list_studies
from ..background import running_here
from ..study import NoTrialCompleted, Study, StudyInterrupted, kept_clause
from ..resume import SettingsConflict, StudyExists, resumed_settings
from ..tune import own_resume_note, said_once_planned, tune
from ..typos import did_you_mean
from .cell import CellError, ParsedCell, parse_cell
from .closing import closing_line, not_applied
from .cluster_magic import REQUEST_ERRORS, switch_cluster
from .cell_checks import (needs_max_t, reports_elsewhere, shared_file, unread_typo,
                          unreported_resource, unset_metric)
from .options import (build_cluster_parser, build_parser, check_names, in_flags, parse_line,
                      resources_of, scheduler_options, searcher_options_of)
from .local_run import run_locally
from .rerun import (RecentRuns, conflict_line, given_flags, refuse_existing, refuse_running,
                    resume_cell, stored_row)
from .scopes import loop_max_t
from .space_magic import edit_cell, open_space_editor, space_named, with_space
from .studies_magic import studies_table, study_summary
from .globals import notebook_values
from .trialfn import CellTrial, cell_filename


def _kernel_restores_sigint(shell: Any) -> bool:
    """Whether ``shell`` runs in an ipykernel request, whose end puts back the kernel's SIGINT
    handler (not a terminal IPython, where nothing would): where an interrupted study's cell may
    leave further interrupts absorbed to its end (:func:`interrupts_absorbed_to_cell_end`)."""
    kernel = getattr(shell, "kernel", None)
    return (getattr(kernel, "saved_sigint_handler", None) is not None
            and callable(getattr(kernel, "post_handler_hook", None)))


@magics_class
class Tune(Magics):
    """``%%tune`` and its companions; defaults are set with ``%config Tune.<name> = ...``."""

    storage = Unicode(DEFAULT_FILE, help="SQLite file that keeps the studies ('' or 'none': no "
                      "file, the studies are kept in memory only)").tag(config=True)
    cluster = AnyTrait(None, allow_none=True,
                       help="Dask cluster: None (a local one), an address, a Client or a cluster; "
                       "%tune_cluster shows and switches it"
                       ).tag(config=True)
    trials = Int(0, help="number of trials when --trials is not given (0: 50, or all of a grid, "
                 "or what a hyperband scheduler's brackets start; no cap with --max-time)"
                 ).tag(config=True)
    metric = Unicode("value", help="metric when --metric is not given").tag(config=True)
    mode = Unicode("min", help="'min' or 'max' when --mode is not given").tag(config=True)
    out = Unicode("study", help="notebook variable the study is bound to").tag(config=True)
    restart_held = AnyTrait("auto", allow_none=True,
                            help="seconds after a study's end before nbtune restarts a worker that "
                            "a trial which did not stop keeps busy ('auto': 10 on nbtune's own "
                            "cluster, never on yours; None: never)").tag(config=True)
    warm_start = Bool(True, help="in a kernel, start nbtune's local cluster in the background "
                      "once the cell that loads nbtune has run, so that the first study need not "
                      "wait for it (not when Tune.cluster names another)").tag(config=True)
    workers = Int(0, help="worker processes of nbtune's local cluster (0: one per core, or the "
                  "NBTUNE_WORKERS environment variable); set it in the cell that loads nbtune, "
                  "before the cluster starts").tag(config=True)
    scatter_threshold = Int(1_000_000, help="globals larger than this many bytes are sent to "
                            "the cluster once per study and shared by its trials").tag(config=True)

    def _load_config(self, cfg, section_names=None, traits=None) -> None:
        """Take ``%config Tune.cluster = client`` as it is: traitlets deep-copies configured
        values, which a Client or a cluster object (with its threads and sockets) cannot survive."""
        from traitlets.config import Config

        section = cfg.get("Tune") if "Tune" in cfg else None
        cluster = section.get("cluster") if section is not None else None
        if cluster is not None and not isinstance(cluster, str):
            cfg = Config({k: v for k, v in cfg.items() if k != "Tune"})
            cfg.Tune = Config({k: v for k, v in section.items() if k != "cluster"})
            self.cluster = cluster
        super()._load_config(cfg, section_names=section_names, traits=traits)

    def update_config(self, config) -> None:
        """``%config Tune.NAME = value``; a NAME Tune lacks is one line on stderr naming the
        closest one, and sets nothing (raised, IPython's %config would log it under an
        ``ERROR:root:`` prefix)."""
        known = self.trait_names(config=True)
        for name in (config.get("Tune") or {}) if "Tune" in config else ():
            if name not in known:
                kept = self.shell.config if self.shell is not None else {}
                if "Tune" in kept:  # the shell keeps what %config set for later instances
                    kept["Tune"].pop(name, None)
                print(f"UsageError: %config: Tune has no option {name!r}"
                      f"{did_you_mean(name, known)}; its options are "
                      f"{', '.join(sorted(known))}", file=sys.stderr)
                return
        try:
            super().update_config(config)
        except TraitError as exc:  # a value of the wrong type: traitlets' words, one line
            kept = self.shell.config if self.shell is not None else {}
            names = list(config.get("Tune") or {})
            for name in names:
                if "Tune" in kept:  # what %config keeps would be set again, and refused again
                    kept["Tune"].pop(name, None)
            now = ", ".join(f"Tune.{name} = {getattr(self, name)!r}" for name in names)
            print(f"UsageError: %config: {exc} Unchanged: {now}.", file=sys.stderr)

    @observe("storage")
    def _storage_changed(self, change) -> None:
        """``%config Tune.storage = 'runs.db'``: load_study, list_studies and delete_study read
        that file where given none (they looked in nbtune.db)."""
        set_default_file(change["new"])

    @observe("workers")
    def _workers_changed(self, change) -> None:
        """``%config Tune.workers = 1``: a classroom's or a small machine's local cluster (it
        took a %tune_cluster line in every notebook: first-day test, round 44)."""
        try:
            said = set_local_workers(change["new"] or None)
        except ValueError as exc:
            print(f"UsageError: %config Tune.workers: {exc}", file=sys.stderr)
            return
        if said:
            print(f"nbtune: {said}")

    @observe("cluster")
    def _cluster_changed(self, change) -> None:
        """``%tune_cluster`` (``Tune.cluster``): nbtune.tune and SearchCV given no cluster use
        it too, as the %%tune cells do."""
        set_default_cluster(change["new"])

    def __init__(self, shell=None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        set_default_file(self.storage)  # as configured before the extension loaded
        set_default_cluster(self.cluster)
        self._applied: dict[str, str] = {}  # cell body -> its text after Apply, in a kernel
        self._writers: dict[str, Any] = {}  # cell id -> its CellWriter (JupyterLab extension)
        self._ran = RecentRuns()  # the studies this kernel's cells ran, to say so again

    # -- the cell -------------------------------------------------------------------------
    @cell_magic
    def tune(self, line: str, cell: str) -> Any:
        """Run the cell as a study: space lines at the top, the trial body below them."""
        args = parse_line(line)
        if args.edit:
            return edit_cell(self, line, args, cell)
        return self._start(args, self._parse(args, cell), cell)

    def _parse(self, args, cell: str) -> ParsedCell:
        """The cell's space and body; with --space NAME, the notebook's space joins the cell's."""
        try:  # line 1 is the %%tune line, as in the notebook
            parsed = parse_cell("\n" + cell, need_space=args.space is None,
                                defined=self.shell.user_ns)
        except CellError as exc:
            raise UsageError(f"%%tune: {exc}") from None
        if args.space is None:
            return parsed
        space = space_named(self.shell.user_ns, args.space, "%%tune --space", editor=False)
        return with_space(parsed, space, args.space)

    def _start(self, args, parsed: ParsedCell, cell: str) -> None:
        """Run the parsed cell as a study with the line's options."""
        return self._prepare(args, parsed, cell)()

    def _prepare(self, args, parsed: ParsedCell, cell: str) -> Callable[[], None]:
        """Check everything the line and the cell ask for, then return the function that runs
        the study: a mistake is one line raised before any output of a previous run is cleared."""
        check_names(args)
        path, said = self._storage(args)
        row = self._stored_study(args, path, cell)
        if row is not None and args.resume:
            try:  # what is not given comes from the stored study, not from %config Tune
                chosen, options = resumed_settings(args.study, row, given_flags(args),
                                                   scheduler_options(args))
            except SettingsConflict as exc:
                raise UsageError(conflict_line(exc)) from None
            metric, mode, n_trials = chosen["metric"], chosen["mode"], args.trials or "auto"
            scheduler, resource = chosen["scheduler"], chosen["resource"]
        else:
            metric, mode = args.metric or self.metric, args.mode or self._configured("mode")
            n_trials = args.trials or self.trials or "auto"
            scheduler, resource, options = args.scheduler, args.resource, scheduler_options(args)
        if args.resume and row is None and path is not None:  # a typo of a stored study's name
            typo = resume_typo(list_studies(path), args.study, path, flag="--resume")
            if typo is not None:
                raise UsageError(f"%%tune: {typo}")
        several = several_metrics(metric, "--metric")
        if several is not None:
            raise UsageError(f"%%tune: {several}")
        typo = unread_typo(parsed, self.shell.user_ns)
        if typo is not None:
            raise UsageError(f"%%tune: {typo}")
        elsewhere = reports_elsewhere(parsed, self.shell.user_ns)
        unset = unset_metric(parsed, metric, elsewhere, named=bool(args.metric),
                             mode_given=mode is not None)
        if unset is not None and args.resume and row is None and path is not None:
            missing = no_study_to_resume(list_studies(path), args.study, path)
            unset = unset.replace("%%tune: ", f"%%tune: {missing}; as a new study, ", 1)
        # ASHA without max_t trains to the top of the cell's `for epoch in range(1, 10)`
        short = needs_max_t(scheduler, options, parsed.space)
        counted = loop_max_t(parsed.body, resource or "epoch") if short else None
        if unset is not None:
            if short and counted is None:
                unset += (f"; the {scheduler.lower()} scheduler also needs --max-t N, the "
                          f"largest {resource or 'epoch'} a trial reports")  # one run (round 64)
            raise UsageError(unset)
        # the resource as the metric: a scheduler that never sees it judges nothing, all study long
        unjudged = unreported_resource(parsed, scheduler, resource, metric, options, elsewhere)
        if unjudged is not None:
            raise UsageError(unjudged)
        filename = cell_filename(self.shell)
        small, large = notebook_values(self.shell.user_ns, parsed.free_names,
                                       self.scatter_threshold)
        trial = CellTrial(parsed.body, filename, metric, metric in parsed.assigned, small,
                          main=self.shell.user_ns)
        if args.local:
            return lambda: run_locally(self.shell.user_ns, trial, parsed, large)
        fn = with_parameters(trial, **large) if large else trial
        kwargs = dict(metric=metric, mode=mode, n_trials=n_trials, seed=args.seed,
                      cluster=args.cluster or self.cluster, storage=path, study=args.study,
                      resume=args.resume, replace=args.replace,
                      concurrency=args.concurrency, resources=resources_of(args),
                      max_time=args.max_time, max_trial_time=args.max_trial_time,
                      target=args.target, retries=args.retries,
                      searcher=args.searcher, searcher_options=searcher_options_of(args),
                      points_to_evaluate=args.enqueue,
                      warm_start=self._warm_start(args.warm_start, path),
                      scheduler=args.scheduler,
                      resource=args.resource, background=args.background,
                      show_output=args.show_output,
                      progress={"none": False}.get(args.progress, args.progress),
                      fail_fast="auto" if args.fail_fast is None else args.fail_fast,
                      restart_held=self.restart_held, checkpoints=args.checkpoints,
                      **scheduler_options(args))
        if counted is not None:
            kwargs["max_t"] = counted

        shared = shared_file(parsed, self.shell.user_ns)

        def run() -> None:
            if shared is not None:
                from_the_cell(filename, lambda: warn_note(shared))
            with said_once_planned(said):  # not for a cell its settings refuse (round 64)
                self._run(fn, parsed, kwargs, args, cell, filename)
        return run

    def _configured(self, name: str) -> Any:
        """The value ``%config Tune.<name>`` set, or None where it was left at its default (so
        that tune() knows the user chose nothing)."""
        section = self.config.get("Tune") if "Tune" in self.config else None
        return getattr(self, name) if section is not None and name in section else None

    def _stored_study(self, args, path: str | None, cell: str = "") -> dict[str, Any] | None:
        """The stored row of the study --study names (None: a new one); the re-run of a study
        without --resume or --replace, or --resume without --study, is one line."""
        if args.resume and args.replace:
            raise UsageError("%%tune: --resume continues the stored study and --replace deletes "
                             "it: give one of the two")
        if args.study is None:
            if args.resume or args.replace:
                flag = "--resume" if args.resume else "--replace"
                raise UsageError(f"%%tune: {flag} needs the study's name: add --study NAME "
                                 "(%tune_studies lists them)")
            return None
        try:
            row = None if path is None else stored_row(path, args.study)
        except StorageError as exc:
            raise UsageError(f"%%tune: {exc}") from None
        running = running_here(path, args.study) if row is not None else None
        if running is not None:
            refuse_running(running, self.shell.user_ns, args.out or self.out)
        if row is not None and not (args.resume or args.replace):
            refuse_existing(args.study, path, self._ran.note(path, args.study, cell))
        if row is not None and args.resume:  # the same line too: more trials asked are news
            again = self._ran.note(path, args.study, cell, vars(args))
            if again:
                print(f"nbtune: study {args.study!r}: {again}.")
        return row

    def _run(self, fn, parsed: ParsedCell, kwargs: dict[str, Any], args, cell: str,
             filename: str) -> None:
        t0 = time.time()
        try:
            absorbed = (interrupts_absorbed_to_cell_end() if _kernel_restores_sigint(self.shell)
                        else contextlib.nullcontext())
            with own_resume_note(), continued_by("cell" if args.resume else "resume"), absorbed:
                study = from_the_cell(filename, lambda: tune(fn, parsed.space, **kwargs))
        except StudyExists as exc:  # stored meanwhile, by another kernel
            refuse_existing(exc.name, exc.path)
        except SettingsConflict as exc:
            raise UsageError(conflict_line(exc)) from None
        except REQUEST_ERRORS as exc:
            raise UsageError(f"%%tune: {in_flags(str(exc), args.enqueue)}") from None
        except StudyFailed as exc:  # the study ran, then its storage or cluster failed
            self.shell.user_ns[args.out or self.out] = exc.study
            raise UsageError(f"%%tune: {exc}") from None
        out = args.out or self.out
        self.shell.user_ns[out] = study
        if not args.background and study.stop_reason != "interrupted":  # a resume is its purpose
            self._ran.record(study.storage, study.name, cell, vars(args))
        if args.background:
            line = (f"nbtune: study {study.name!r} runs in the background, bound to `{out}` "
                    f"({out}.wait() blocks until it ends, {out}.stop() ends it).")
            if not (isinstance(study.live, LivePanel) and study.live.note(line)):
                print(line)  # no panel to say it until the study ends
            return None
        print(closing_line(study, time.time() - t0, out))
        upside_down = not_applied(study, args.mode or self._configured("mode"))
        if args.apply and study.best is not None and upside_down:
            print(upside_down)
        elif args.apply and study.best is not None:
            for name in parsed.names:
                self.shell.user_ns[name] = study.best.config[name]
            print("nbtune: applied " + ", ".join(f"{n}={study.best.config[n]!r}"
                                                  for n in parsed.names))
        if study.stop_reason == "interrupted":
            if study.storage is None:  # nothing to resume from
                print("nbtune: interrupted. The study was kept in memory only, so it cannot be "
                      "resumed: give it a file (--storage runs.db) to resume a study later.")
                kept = f"is bound to `{out}` (in memory)"
            else:
                print("nbtune: interrupted. To continue the study with the settings it was run "
                      f"with, run this cell{kept_clause(study)}:\n"
                      + resume_cell(args, study.name, cell))
                kept = f"is kept, bound to `{out}`"
            raise StudyInterrupted(f"study {study.name!r} was interrupted and {kept}; the cells "
                                   "queued after this one do not run")
        if study.best is None and any(t.state == T.FAILED for t in study.trials):
            raise NoTrialCompleted(
                f"study {study.name!r} has no completed trial ({T.counts_text(study.counts())})"
                f"; it is bound to `{out}`, and the cells queued after this one do not run")
        return None

    def _warm_start(self, name: str | None, path: str | None) -> Study | str | None:
        """--warm-start NAME: the Study a notebook variable of that name holds (``-o s1``, then
        ``--warm-start s1``: it was refused as no stored study of that name), else the name of
        a stored study. Where the study keeps no file (``path`` None) and NAME is a typo of a
        notebook variable's, the typo is said (it read as if the storage were the mistake:
        first-day test, round 62)."""
        held = self.shell.user_ns.get(name) if name and name.isidentifier() else None
        if isinstance(held, Study) and held.name != name and path is not None \
                and name in list_studies(path):  # two of that name: say which (round 64)
            warn_note(f"--warm-start {name}: the notebook variable {name} holds study "
                      f"{held.name!r}, which is taken; the stored study {name!r} is another "
                      f"(del {name}, or bind the variable to another name, to take it)")
        if isinstance(held, Study) or not name:
            return held if isinstance(held, Study) else name
        held_studies = [k for k, v in self.shell.user_ns.items()
                        if isinstance(v, Study) and not k.startswith("_")]
        near = did_you_mean(name, held_studies)
        if path is None and near:
            raise UsageError(f"%%tune: --warm-start {name}: the notebook holds no Study named "
                             f"{name!r}{near}, and with no storage file there is no stored "
                             f"study to look for either")
        return name

    def _storage(self, args) -> tuple[str | None, str]:
        """The study file (--storage, else Tune.storage), and what to say of it when the study
        runs. ``--storage none`` and an empty (or ``none``) Tune.storage keep the study in
        memory only; an empty ``--storage ''`` (an empty variable in ``--storage $path``, most
        likely) is refused with the reason."""
        if args.storage is not None:
            if args.storage.strip() and names_no_file(args.storage):
                return None, (f"nbtune: --storage {args.storage} keeps this study in memory "
                              "only (no file)")
            return args.storage, ""
        if names_no_file(self.storage):
            return None, (f"nbtune: Tune.storage is {self.storage!r}: this study is kept in "
                          "memory only (no file)")
        return self.storage, ""

    @line_magic("%tune")
    def misplaced_tune(self, line: str = "") -> None:
        """``%%tune`` below another line of its cell, which IPython reads as a line magic named
        ``%tune``: its own answer, "Line magic function `%%tune` not found.", read as if the
        extension were not loaded (a comment above the line: first-day test, round 64)."""
        raise UsageError("%%tune must be the first line of its cell: move what is above it "
                         "(a comment, an import, a %config line) below the %%tune line or "
                         "into a cell of its own")

    # -- the cluster ----------------------------------------------------------------------
    @line_magic
    def tune_cluster(self, line: str = "") -> ClusterInfo:
        """Show the Dask cluster later %%tune cells use, or switch it.

        ``%tune_cluster``: show it. ``%tune_cluster tcp://HOST:8786`` (or ``tls://``): a
        scheduler. ``%tune_cluster NAME``: a Client or cluster object of the notebook.
        ``%tune_cluster local [--workers N] [--gpus N] [--threads-per-gpu N]``: nbtune's own.
        """
        self.cluster, info = switch_cluster(self.shell.user_ns, line, self.cluster)
        return info

    @line_magic
    def tune_space(self, line: str = "") -> Any:
        """Open the space editor: ``%tune_space`` (empty) or ``%tune_space NAME`` (a Space, a dict
        name -> domain, or an editor); Apply binds the edited space to NAME (default ``space``)."""
        return open_space_editor(self.shell, line)

    # -- studies in the storage --------------------------------------------------------------
    @line_magic
    def tune_studies(self, line: str = "") -> Any:
        """The studies in the storage file (``%tune_studies [PATH]``), one row each: metric,
        trials per state, best value, last change, status (a pandas DataFrame)."""
        return studies_table(line, self.storage)

    @line_magic
    def tune_show(self, line: str = "") -> Any:
        """The summary of one study (``%tune_show NAME [PATH]``): as ``study.summary()`` shows
        it, facts, the top trials and the learning curves; ``load_study(NAME).to_dataframe()``
        has every trial."""
        return study_summary(line, self.storage)


def from_the_cell(filename: str, call: Callable[[], Any]) -> Any:
    """``call()`` made from line 1 of the cell's file name (``<tune cell [N]>``, the %%tune
    line), so that a warning nbtune gives while it sets the study up, which points at the first
    frame outside nbtune (:func:`~nbtune.caller.user_stacklevel`), names the cell rather than
    IPython's or nbtune's own code."""
    return eval(compile("call()", filename, "eval"), {"call": call})


Tune.tune.__doc__ = (Tune.tune.__doc__ or "") + "\n\n" + build_parser().format_help()
Tune.tune_cluster.__doc__ = ((Tune.tune_cluster.__doc__ or "") + "\n\n"
                             + build_cluster_parser().format_help())

