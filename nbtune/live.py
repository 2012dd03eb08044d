"""Live progress of a running study: a widget panel in a notebook, a text line elsewhere.

Both are observers of the loop's events. An event only marks the view stale (constant cost, in the
loop's thread); a timer thread redraws a stale view at most every ``interval`` seconds, whatever
the rate of reports. When the study ends, the panel is complemented by the study's static summary
(an HTML table and a PNG), which a saved notebook keeps where widgets do not render.
"""
from __future__ import annotations

import html
import sys
import threading
import time
from typing import Any, Callable

from . import trial as T
from .contract.events import Observer

QUEUED = "queued"  # a running trial no worker has started yet (it waits in Dask's queue)
STATE_ORDER = (T.RUNNING, QUEUED, T.PAUSED, T.COMPLETED, T.STOPPED, T.FAILED, T.INTERRUPTED,
               T.PENDING)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where widgets can render)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Tracker(Observer):
    """What every view shows, computed from the study's trials when a redraw asks for it."""

    def __init__(self, study, n_trials: int | None = None, max_time: float | None = None,
                 concurrency: int | Callable[[], int] | None = None, interval: float = 0.25):
        self.study, self.n_trials, self.max_time = study, n_trials, max_time
        self.concurrency, self.interval = concurrency, interval
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

    # -- events: constant cost ---------------------------------------------------------
    def study_started(self, info):
        self.info, self.started = dict(info), time.time()
        self._thread = threading.Thread(target=self._redraw_loop, daemon=True,
                                        name=f"nbtune-live-{info.get('study')}")
        self._thread.start()

    def trial_created(self, trial):
        self._stale.set()

    def trial_started(self, trial):
        self._stale.set()

    def trial_reported(self, trial, report):
        self.reports += 1
        self._stale.set()

    def trial_finished(self, trial):
        self._stale.set()

    def trial_withdrawn(self, trial):
        self._stale.set()

    def study_finished(self, reason):
        self.finished_reason, self.finished_at = reason, time.time()
        self._done.set()
        self._stale.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
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
    def counts(self) -> dict[str, int]:
        """Trials per state (running ones not started yet count as queued), in a fixed order,
        zero counts left out."""
        seen: dict[str, int] = {}
        for t in list(self.study.trials):
            state = QUEUED if t.state == T.RUNNING and t.started is None else t.state
            seen[state] = seen.get(state, 0) + 1
        return {s: seen[s] for s in STATE_ORDER if s in seen}

    def progress(self) -> tuple[float, str]:
        """Fraction done (trials or time, whichever binds) and a label with elapsed and left."""
        elapsed = time.time() - self.started
        trials = list(self.study.trials)
        done = sum(1 for t in trials if t.state in T.FINISHED)
        fractions, label = [], f"{len(trials)} trials"
        if self.n_trials:
            fractions.append(done / self.n_trials)
            label = f"{done}/{self.n_trials} trials"
        if self.max_time:
            fractions.append(elapsed / self.max_time)
        fraction = min(1.0, max(fractions, default=0.0))
        if self.finished_reason is not None:
            return 1.0, f"{label} · {_clock(elapsed)} · ended: {self.finished_reason}"
        left = ""
        if fraction > 0 and fractions:
            left = f" · ~{_clock(elapsed * (1 - fraction) / fraction)} left"
        return fraction, f"{label} · {_clock(elapsed)} elapsed{left}"

    def best_line(self) -> str:
        """The best value so far and its config, as text."""
        best = self.study.best
        if best is None:
            return "no completed trial yet"
        config = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v!r}"
                           for k, v in best.config.items())
        return f"best {self.study.metric} = {best.value:.6g} (trial {best.id}: {config})"


class TextProgress(Tracker):
    """One progress line on a terminal (rewritten in place), and a plain summary at the end."""

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

    def draw(self) -> None:
        if self.live:
            self.stream.write("\r\x1b[2K" + self.line()[:200])
            self.stream.flush()

    def finish(self) -> None:
        self._redraw()
        self.stream.write(("\n" if self.live else "") + str(self.study.summary()) + "\n")
        self.stream.flush()


class LivePanel(Tracker):
    """The notebook panel: header, progress, counts, best, top trials, curves, rungs, errors."""

    def __init__(self, *args, plot_interval: float = 2.0, top: int = 8, **kwargs):
        import ipywidgets as w

        from . import plots  # noqa: F401  matplotlib now, not in an interrupt's cleanup

        super().__init__(*args, **kwargs)
        self.plot_interval, self.top = plot_interval, top
        self._last_plot, self._plotted_reports, self._plot_cost = 0.0, -1, 0.0
        self.header = w.HTML()
        self.bar = w.FloatProgress(min=0.0, max=1.0, layout=w.Layout(width="60%"))
        self.label = w.HTML()
        self.counts_html = w.HTML()
        self.best_html = w.HTML()
        self.table = w.HTML()
        self.rungs_html = w.HTML()
        # hidden until there is a curve to draw (an empty image shows as a broken one)
        self.curves = w.Image(format="png", layout=w.Layout(max_width="640px", display="none"))
        self.errors = w.HTML()
        self.widget = w.VBox([self.header, w.HBox([self.bar, self.label]), self.counts_html,
                              self.best_html, self.table, self.curves, self.rungs_html,
                              self.errors])
        for part, name in ((self.widget, "panel"), (self.header, "header"), (self.bar, "bar"),
                           (self.label, "label"), (self.counts_html, "counts"),
                           (self.best_html, "best"), (self.table, "table"),
                           (self.curves, "curves"), (self.rungs_html, "rungs"),
                           (self.errors, "errors")):
            part.add_class(f"nbtune-live-{name}")  # stable names for styles and browser tests
        self.curve_data: dict[int, list[tuple[float, float]]] = {}
        self.handle = None

    def show(self) -> None:
        """Display the panel in the current output, and a slot below it for the summary."""
        from IPython.display import display

        display(self.widget)
        self.handle = display({"text/plain": ""}, raw=True, display_id=True)

    def draw(self) -> None:
        study, info = self.study, self.info
        link = info.get("cluster")
        cluster = f' · <a href="{html.escape(link)}" target="_blank">Dask dashboard</a>' \
            if link else ""
        self.header.value = (f"<b>nbtune study {html.escape(study.name)}</b> · "
                             f"{html.escape(str(info.get('searcher', '')))} search · "
                             f"{html.escape(str(info.get('scheduler', '')))} scheduler{cluster}")
        fraction, label = self.progress()
        self.bar.value, self.label.value = fraction, html.escape(label)
        counts = self.counts()
        busy = counts.get(T.RUNNING, 0)
        slots = self.concurrency() if callable(self.concurrency) else self.concurrency
        workers = f" · {busy}/{slots} slots busy" if slots else ""
        self.counts_html.value = " · ".join(f"{n} {s}" for s, n in counts.items()) + workers
        self.best_html.value = html.escape(self.best_line())
        self.table.value = self.table_html()
        rungs = getattr(getattr(study, "scheduler", None), "rung_counts", None)
        if callable(rungs):
            self.rungs_html.value = "trials recorded per rung: " + ", ".join(
                f"{level}: {n}" for level, n in rungs().items())
        self.errors.value = self.errors_html()
        self._draw_curves()

    def table_html(self) -> str:
        """The top trials, best first: config, metric, resource reached, state."""
        from .summary import rank_trials, score

        resource = self.study.settings.get("resource", "epoch")
        rows = []
        for t in rank_trials(self.study)[:self.top]:
            config = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in t.config.items())
            rows.append(f"<tr><td>{t.id}</td><td>{html.escape(config)}</td>"
                        f"<td>{score(self.study, t):.6g}</td>"
                        f"<td>{t.resource(resource) or ''}</td><td>{t.state}</td></tr>")
        if not rows:
            return ""
        return (f"<table><tr><th>trial</th><th>config</th><th>{html.escape(self.study.metric)}"
                f"</th><th>{html.escape(resource)}</th><th>state</th></tr>{''.join(rows)}</table>")

    def errors_html(self) -> str:
        """Failed trials, each a one-line summary that expands to its traceback on a click."""
        failed = [t for t in list(self.study.trials) if t.state == T.FAILED and t.error]
        items = []
        for t in failed[-5:]:
            last = [ln for ln in t.error.strip().splitlines() if ln.strip()][-1]
            items.append(f"<details><summary>trial {t.id} failed: {html.escape(last[:120])}"
                         f"</summary><pre>{html.escape(t.error)}</pre></details>")
        more = f"<div>{len(failed) - 5} more failed trials</div>" if len(failed) > 5 else ""
        return "".join(items) + more

    def _draw_curves(self, force: bool = False) -> None:
        now = time.monotonic()
        # a PNG of the curves costs far more than the rest of a redraw: its pace follows its
        # cost, so that it takes at most ~3% of the study's time (and of the loop's GIL)
        wait = max(self.plot_interval, 30 * self._plot_cost)
        if self.reports == self._plotted_reports or (not force and now - self._last_plot < wait):
            return
        self._last_plot, self._plotted_reports = now, self.reports
        resource = self.study.settings.get("resource", "epoch")
        self.curve_data = {
            t.id: [(r[resource], r[self.study.metric]) for r in t.reports
                   if T.is_finite_number(r.get(resource))
                   and T.is_finite_number(r.get(self.study.metric))]
            for t in list(self.study.trials) if t.reports}
        if any(self.curve_data.values()):
            from .plots import to_png

            self.curves.value = to_png(self.study.plot.learning_curves(top=50), dpi=80)
            self.curves.layout.display = None
            self._plot_cost = time.monotonic() - now

    def finish(self) -> None:
        with self._lock:
            self.redraws += 1
            self.draw()
            self._draw_curves(force=True)
        # by display id: it lands below the panel even when the study ran in the background
        handle = getattr(self, "handle", None)
        if handle is not None:
            handle.update(self.study.summary())


def make_progress(progress: Any, study, **kwargs: Any) -> Tracker | None:
    """The view ``progress`` asks for: "auto" (the panel in a notebook, a text line on a
    terminal, nothing otherwise), True (panel or text), False or None (nothing), or a view class
    (:class:`LivePanel`, :class:`TextProgress`)."""
    if progress is False or progress is None:
        return None
    if isinstance(progress, type) and issubclass(progress, Tracker):  # a view chosen by name
        view = progress(study, **kwargs)
        if isinstance(view, LivePanel) and in_notebook():
            view.show()
        return view
    if progress not in (True, "auto"):
        raise ValueError(f"progress must be 'auto', True or False, got {progress!r}")
    if in_notebook():
        panel = LivePanel(study, **kwargs)
        panel.show()
        return panel
    if progress is True or getattr(sys.stderr, "isatty", lambda: False)():
        return TextProgress(study, **kwargs)
    return None
