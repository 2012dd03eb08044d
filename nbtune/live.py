"""Live progress of a running study: a widget panel in a notebook, a text line elsewhere.

Both are observers of the loop's events. An event only marks the view stale (constant cost, in the
loop's thread); a timer thread redraws a stale view at most every ``interval`` seconds, whatever
the rate of reports. When the study ends, the panel is complemented by the study's static summary
(an HTML table and a PNG), which a saved notebook keeps where widgets do not render.
"""
from __future__ import annotations

import contextlib
import contextvars
import html
import sys
import threading
import time
from collections import deque
from typing import Any, Callable

from . import trial as T
from .ranking import duration_text, fmt, pace_text
from .contract.events import Observer
from .run.output import warning_key
from .summary import errors_html, outputs_html, searcher_text, table_html, warnings_html
from .tally import QUEUED, Tally
STATE_ORDER = (T.RUNNING, QUEUED, T.PAUSED, T.COMPLETED, T.STOPPED, T.FAILED, T.INTERRUPTED,
               T.PENDING)
STREAM_LINES = 200  # lines of the trials' output a view keeps with show_output
CURVES = 50  # trials whose learning curves the panel draws: the best ones


_IN_OUTPUT_WIDGET = contextvars.ContextVar("nbtune_in_output_widget", default=False)


@contextlib.contextmanager
def inside_output_widget():
    """Panels shown within go into an ipywidgets ``Output`` widget (the space editor's), which
    ignores display-id updates: such a panel stays when its study ends, the summary below it."""
    token = _IN_OUTPUT_WIDGET.set(True)
    try:
        yield
    finally:
        _IN_OUTPUT_WIDGET.reset(token)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where widgets can render)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class Tracker(Observer):
    """What every view shows, computed from the study's trials when a redraw asks for it.

    With ``show_output`` the lines the trials write are kept (the last :data:`STREAM_LINES`),
    each prefixed with its trial's id; a warning is kept once per study, where it first showed.
    """

    writes_lines = False  # a view that writes each line once (a terminal) drains ``fresh``

    def __init__(self, study, n_trials: int | None = None, max_time: float | None = None,
                 concurrency: int | Callable[[], int] | None = None, interval: float = 0.25,
                 show_output: bool = False):
        self.study, self.n_trials, self.max_time = study, n_trials, max_time
        self.concurrency, self.interval = concurrency, interval
        self.show_output = show_output
        self.lines: deque[str] = deque(maxlen=STREAM_LINES)  # the stream, prefixed
        self.fresh: deque[str] = deque()  # lines not written yet by a view that writes them
        self._warned: set[tuple[str, str]] = set()
        self.info: dict[str, Any] = {}
        self.started = time.time()
        self.reports = 0  # events seen, for the redraw-to-report ratio
        self.redraws = 0
        self.finished_reason: str | None = None
        self.finished_at: float | None = None
        self._stale = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.tally = Tally(study, CURVES)  # what a redraw looks at: the trials that changed

    # -- events: constant cost ---------------------------------------------------------
    def study_started(self, info):
        self.info, self.started = dict(info), time.time()
        self._thread = threading.Thread(target=self._redraw_loop, daemon=True,
                                        name=f"nbtune-live-{info.get('study')}")
        self._thread.start()

    def trial_created(self, trial):
        self.tally.touch(trial)
        self._stale.set()

    def trial_started(self, trial):
        self.tally.touch(trial)
        self._stale.set()

    def trial_reported(self, trial, report):
        self.reports += 1
        self.tally.touch(trial)
        self._stale.set()

    def trial_output(self, trial, text, warnings):
        self.tally.touch(trial)
        if self.show_output:
            for line in text.splitlines():
                self._keep(f"[trial {trial.id}] {line}")
            for record in warnings:
                key = warning_key(record)
                if key not in self._warned:  # once per study: every trial may raise it
                    self._warned.add(key)
                    self._keep(f"[trial {trial.id}] {record['category']}: {record['message']} "
                               "(a warning: shown once, counted in the summary)")
        self._stale.set()

    def _keep(self, line: str) -> None:
        self.lines.append(line)
        if self.writes_lines:
            self.fresh.append(line)

    def trial_finished(self, trial):
        self.tally.touch(trial)
        self._stale.set()

    def trial_withdrawn(self, trial):
        self.tally.withdraw(trial)
        self._stale.set()

    def study_finished(self, reason):
        self.finished_at = time.time()
        self._done.set()
        self._stale.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self.finished_reason = reason  # only now: the label says "ended" after the last frame
        self.finish()

    # -- redraws -------------------------------------------------------------------------
    def _redraw_loop(self) -> None:
        while not self._done.is_set():
            self._stale.wait(timeout=1.0)  # a clock tick a second even without events
            if self._done.is_set():
                break
            self._stale.clear()
            self._redraw()
            self._done.wait(self.interval)

    def _redraw(self) -> None:
        with self._lock:
            self.redraws += 1
            try:
                self.draw()
            except Exception:  # a view must never break the study
                pass

    def draw(self) -> None:
        """Bring the view up to date (overridden by the views)."""

    def finish(self) -> None:
        """The study ended: the last redraw and the summary (overridden by the views)."""
        self._redraw()

    # -- what the views show ---------------------------------------------------------------
    def live(self) -> Tally | None:
        """The tally, brought up to date, while the study runs; None for the last frame, which
        is drawn from all the trials."""
        if self.finished_reason is not None:
            return None
        self.tally.update()
        return self.tally

    def counts(self) -> dict[str, int]:
        """Trials per state (running ones not started yet count as queued), in a fixed order,
        zero counts left out."""
        tally = self.live()
        if tally is not None:
            seen = tally.counts
        else:
            seen = {}
            for t in list(self.study.trials):
                state = QUEUED if t.state == T.RUNNING and t.started is None else t.state
                seen[state] = seen.get(state, 0) + 1
        return {s: seen[s] for s in STATE_ORDER if seen.get(s)}

    def elapsed(self) -> float:
        """Seconds the study has run, as the study itself counts them."""
        elapsed = getattr(self.study, "elapsed", None)
        return elapsed if elapsed is not None else (self.finished_at or time.time()) - self.started

    def progress(self) -> tuple[float, str]:
        """Fraction done (trials or time, whichever binds) and a label with elapsed and left,
        the pace (trials per minute, median trial duration)."""
        elapsed = self.elapsed()
        tally = self.live()
        if tally is not None:
            done, known = tally.done(), (None, None)
            if tally.durations and elapsed:
                known = (len(tally.durations) / (elapsed / 60.0), tally.median_duration())
        else:
            done, known = sum(1 for t in list(self.study.trials) if t.state in T.FINISHED), None
        fractions, label = [], f"{len(self.study.trials)} trials"
        if self.n_trials:
            fractions.append(done / self.n_trials)
            label = f"{done}/{self.n_trials} trials"
        if self.max_time:
            fractions.append(elapsed / self.max_time)
        fraction = min(1.0, max(fractions, default=0.0))
        speed = pace_text(self.study, known)
        speed = f" · {speed}" if speed else ""
        if self.finished_reason is not None:
            return 1.0, f"{label} · {duration_text(elapsed)}{speed} · ended: {self.finished_reason}"
        left = ""
        if fraction > 0 and fractions:
            left = f" · ~{duration_text(elapsed * (1 - fraction) / fraction)} left"
        return fraction, f"{label} · {duration_text(elapsed)} elapsed{left}{speed}"

    def best_line(self) -> str:
        """The best value so far and its config, as text."""
        tally = self.live()
        best = self.study.best if tally is None else tally.best
        if best is None:
            return "no completed trial yet"
        config = ", ".join(f"{k}={fmt(v)}" if isinstance(v, float) else f"{k}={v!r}"
                           for k, v in best.config.items())
        return f"best {self.study.metric} = {best.value:.6g} (trial {best.id}: {config})"


class TextProgress(Tracker):
    """One progress line on a terminal (rewritten in place), and a plain summary at the end.

    With ``show_output`` the trials' lines are written above the progress line as they come."""

    writes_lines = True

    def __init__(self, *args, stream=None, **kwargs):
        kwargs.setdefault("interval", 1.0)
        super().__init__(*args, **kwargs)
        self.stream = stream if stream is not None else sys.stderr
        self.live = getattr(self.stream, "isatty", lambda: False)()

    def line(self) -> str:
        """The progress line: trials, elapsed, counts, best."""
        _, label = self.progress()
        counts = " ".join(f"{n} {s}" for s, n in self.counts().items())
        return f"nbtune {self.study.name}: {label} | {counts} | {self.best_line()}"

    def _write_fresh(self) -> None:
        lines = []
        while self.fresh:
            lines.append(self.fresh.popleft())
        if lines:
            self.stream.write(("\r\x1b[2K" if self.live else "") + "\n".join(lines) + "\n")

    def draw(self) -> None:
        self._write_fresh()
        if self.live:
            self.stream.write("\r\x1b[2K" + self.line()[:200])
        self.stream.flush()

    def finish(self) -> None:
        self._redraw()
        self._write_fresh()
        self.stream.write(("\n" if self.live else "") + str(self.study.summary()) + "\n")
        self.stream.flush()


class LivePanel(Tracker):
    """The notebook panel: header, progress, counts, best, top trials, curves, rungs, warnings,
    failed trials, the trials' output (and, with ``show_output``, its stream).

    When the study ends, the panel's place in the notebook is given to the study's static
    summary and its widgets are closed: a saved notebook, reopened, shows the summary, never a
    widget whose model is gone."""

    def __init__(self, *args, plot_interval: float = 2.0, top: int = 8, **kwargs):
        import ipywidgets as w

        from . import plots  # noqa: F401  matplotlib now, not in an interrupt's cleanup

        super().__init__(*args, **kwargs)
        self.plot_interval, self.top = plot_interval, top
        self.tally = Tally(self.study, max(CURVES, top))
        self._last_plot, self._plotted_reports, self._plot_cost = 0.0, -1, 0.0
        self.header = w.HTML()
        self.bar = w.FloatProgress(min=0.0, max=1.0, layout=w.Layout(width="40%"))
        self.label = w.HTML()
        self.counts_html = w.HTML()
        self.best_html = w.HTML()
        self.table = w.HTML()
        self.rungs_html = w.HTML()
        # hidden until there is a curve to draw (an empty image shows as a broken one)
        self.curves = w.Image(format="png", layout=w.Layout(max_width="640px", display="none"))
        self.warnings_html = w.HTML()
        self.errors = w.HTML()
        self.outputs = w.HTML()
        self.stream = w.HTML(layout=w.Layout(display=None if self.show_output else "none"))
        self.widget = w.VBox([self.header, w.HBox([self.bar, self.label]), self.counts_html,
                              self.best_html, self.table, self.curves, self.rungs_html,
                              self.warnings_html, self.errors, self.outputs, self.stream])
        self.parts = {"panel": self.widget, "header": self.header, "bar": self.bar,
                      "label": self.label, "counts": self.counts_html, "best": self.best_html,
                      "table": self.table, "curves": self.curves, "rungs": self.rungs_html,
                      "warnings": self.warnings_html, "errors": self.errors,
                      "outputs": self.outputs, "stream": self.stream}
        for name, part in self.parts.items():
            part.add_class(f"nbtune-live-{name}")  # stable names for styles and browser tests
        self._warned_drawn = -1
        self.handle = None
        self.in_widget = False

    def show(self, notice: StartingNotice | None = None) -> None:
        """Display the panel in the current output (in the place of ``notice``, the line shown
        while the cluster started), under a display id its summary takes over."""
        from IPython.display import display

        self.in_widget = _IN_OUTPUT_WIDGET.get()
        if self.in_widget:
            display(self.widget)
        elif notice is not None and notice.handle is not None:
            self.handle, notice.handle = notice.handle, None
            self.handle.update(self.widget)
        else:
            self.handle = display(self.widget, display_id=True)

    def draw(self) -> None:
        study, info = self.study, self.info
        link = info.get("cluster")
        cluster = f' · <a href="{html.escape(link)}" target="_blank">Dask dashboard</a>' \
            if link else ""
        self.header.value = (f"<b>nbtune study {html.escape(study.name)}</b> · "
                             f"{html.escape(searcher_text(study))} · "
                             f"{html.escape(str(info.get('scheduler', '')))} scheduler{cluster}")
        fraction, label = self.progress()
        self.bar.value, self.label.value = fraction, html.escape(label)
        counts = self.counts()
        busy = counts.get(T.RUNNING, 0)
        slots = self.concurrency() if callable(self.concurrency) else self.concurrency
        workers = f" · {busy}/{slots} slots busy" if slots else ""
        self.counts_html.value = " · ".join(f"{n} {s}" for s, n in counts.items()) + workers
        self.best_html.value = html.escape(self.best_line())
        tally = self.live()
        self.table.value = self.table_html(tally)
        rungs = getattr(getattr(study, "scheduler", None), "rung_counts", None)
        if callable(rungs):
            self.rungs_html.value = "trials recorded per rung: " + ", ".join(
                f"{level}: {n}" for level, n in rungs().items())
        if tally is None:
            self.warnings_html.value = warnings_html(study)
            self.outputs.value = outputs_html(study)
        else:
            if tally.warned_version != self._warned_drawn:  # every trial may have warnings
                self._warned_drawn = tally.warned_version
                self.warnings_html.value = warnings_html(study, tally.warned.values())
            self.outputs.value = outputs_html(study, list(tally.wrote.values()))
        self.errors.value = self.errors_html(tally)
        if self.show_output:
            self.stream.value = ("<pre style=\"max-height:16em;overflow:auto;margin:0\">"
                                 + html.escape("\n".join(list(self.lines))) + "</pre>")
        self._draw_curves()

    def table_html(self, tally: Tally | None = None) -> str:
        """The top trials, best first: rank, trial, metric, resource reached, state, one column
        per hyperparameter; the ranking rule is its caption (``tally``: ranked among its
        candidates, while the study runs)."""
        if tally is None:
            return table_html(self.study, self.top, css="nbtune-live-top")
        return table_html(self.study, self.top, css="nbtune-live-top",
                          among=tally.candidates(), unfinished=tally.unfinished_ranked())

    def errors_html(self, tally: Tally | None = None) -> str:
        """Failed trials, each a one-line summary that expands to its traceback on a click."""
        return errors_html(self.study, None if tally is None else tally.failed)

    def _draw_curves(self, force: bool = False) -> None:
        now = time.monotonic()
        # a PNG of the curves costs far more than the rest of a redraw: its pace follows its
        # cost, so that it takes at most ~3% of the study's time (and of the loop's GIL)
        wait = max(self.plot_interval, 30 * self._plot_cost)
        if not force and (self.reports == self._plotted_reports or now - self._last_plot < wait):
            return
        self._last_plot, self._plotted_reports = now, self.reports
        from .plots import to_png

        tally = self.live()  # the best CURVES trials are among its candidates
        try:
            figure = self.study.plot.learning_curves(
                top=CURVES, among=None if tally is None else tally.candidates())
        except ValueError:  # no curve to draw yet
            return
        self.curves.value = to_png(figure, dpi=80)
        self.curves.layout.display = None
        self._plot_cost = time.monotonic() - now

    @property
    def curve_data(self) -> dict[int, list[tuple[float, float]]]:
        """Each trial's (resource, metric) points as reported, for every trial that reported."""
        resource = self.study.settings.get("resource", "epoch")
        return {t.id: [(r[resource], r[self.study.metric]) for r in t.reports
                       if T.is_finite_number(r.get(resource))
                       and T.is_finite_number(r.get(self.study.metric))]
                for t in list(self.study.trials) if t.reports}

    def finish(self) -> None:
        with self._lock:
            self.redraws += 1
            try:  # the last frame holds every report before the label says "ended"
                self._draw_curves(force=True)
                self.draw()
            except Exception:
                pass
        if self.handle is not None:  # the panel's place now holds the summary; no widget left
            self.handle.update(self.study.summary())
            self.close()
        elif self.in_widget:
            from IPython.display import display

            display(self.study.summary())

    def close(self) -> None:
        """Close the panel's widgets (their models leave the notebook)."""
        for part in self.parts.values():
            part.close()
        for child in self.widget.children:
            child.close()


def _view_class(progress: Any) -> type[Tracker] | None:
    """The class of view ``progress`` asks for here (see :func:`make_progress`), or None."""
    if progress is False or progress is None:
        return None
    if isinstance(progress, type) and issubclass(progress, Tracker):  # a view chosen by name
        return progress
    if progress not in (True, "auto"):
        raise ValueError(f"progress must be 'auto', True or False, got {progress!r}")
    if in_notebook():
        return LivePanel
    if progress is True or getattr(sys.stderr, "isatty", lambda: False)():
        return TextProgress
    return None


class StartingNotice:
    """One line shown while a study waits for its cluster to start, in the view's own place:
    the panel later takes over its display (``panel=True``), a text view writes below it."""

    def __init__(self, text: str, panel: bool, stream=None):
        self.text, self.panel = text, panel
        self.stream = stream if stream is not None else sys.stderr
        self.handle = None

    def show(self) -> None:
        """Display the line (a notebook output under a display id, or a line on the stream)."""
        if not self.panel:
            self.stream.write(f"nbtune: {self.text}\n")
            self.stream.flush()
            return
        from IPython.display import HTML, display

        shown = HTML(f'<span class="nbtune-live-starting">nbtune: {html.escape(self.text)}</span>')
        if _IN_OUTPUT_WIDGET.get():  # an Output widget ignores display-id updates
            display(shown)
        else:
            self.handle = display(shown, display_id=True)

    def clear(self) -> None:
        """Take the line away (the study did not start: its error says why)."""
        if self.handle is not None:
            from IPython.display import HTML

            self.handle.update(HTML(""))
            self.handle = None


def starting_notice(progress: Any, text: str) -> StartingNotice | None:
    """Show ``text`` where the view ``progress`` asks for will be (None where it asks for none)."""
    cls = _view_class(progress)
    if cls is not None and issubclass(cls, LivePanel) and in_notebook():
        notice = StartingNotice(text, panel=True)
    elif cls is not None and issubclass(cls, TextProgress):
        notice = StartingNotice(text, panel=False)
    else:
        return None
    notice.show()
    return notice


def make_progress(progress: Any, study, notice: StartingNotice | None = None,
                  **kwargs: Any) -> Tracker | None:
    """The view ``progress`` asks for: "auto" (the panel in a notebook, a text line on a
    terminal, nothing otherwise), True (panel or text), False or None (nothing), or a view class
    (:class:`LivePanel`, :class:`TextProgress`). A panel takes the place of ``notice``."""
    cls = _view_class(progress)
    if cls is None:
        return None
    view = cls(study, **kwargs)
    if isinstance(view, LivePanel) and in_notebook():
        view.show(notice)
    return view
