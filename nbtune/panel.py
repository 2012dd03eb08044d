"""The live widget panel of a running study in a notebook: header, progress bar, top-trials
table, learning curves and the trials' output; when the study ends it is complemented by the
study's static summary (an HTML table and a PNG), which a saved notebook keeps where widgets do
not render.
"""
from __future__ import annotations

import contextlib
import html
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Iterator

from .scoped import within
from . import trial as T
from .displayed import Labelled, Shown
from .formatting import duration_text
from .pacing import CurvePace
from .ranking import resource_of
from .setup_text import asks_text, scheduler_text, searcher_text
from .shown import shown, summarised
from .styles import FAINT
from .summary import table_html
from .trial_messages import errors_html, outputs_html, warnings_html
from .tally import Tally
from .tracker import _IN_OUTPUT_WIDGET, CURVES, STARTING, Tracker

if TYPE_CHECKING:
    from .live import StartingNotice

FALLBACK_EVERY = 5.0  # seconds between redraws of the line a dead kernel leaves (see fallback_html)


# What the line under a running study's panel offers should the kernel stop first: "resume", a
# %%tune cell's or tune()'s study continued with --resume; "cell", a cell that has --resume
# already, run again; "read", a search that fit() always starts anew (SearchCV's), read back
# with load_study (it offered --resume: first-day test, round 20).
_CONTINUED: ContextVar[str] = ContextVar("nbtune_continued", default="resume")


@contextlib.contextmanager
def continued_by(how: str) -> Iterator[None]:
    """Within it, the line under a study's panel offers ``how`` (see ``_CONTINUED``)."""
    with within(_CONTINUED, how):
        yield



class LivePanel(Tracker):
    """The notebook panel: header, progress, counts, best, top trials, curves, rungs, warnings,
    failed trials, the trials' output (and, with ``show_output``, its stream).

    When the study ends, the panel's place in the notebook is given to the study's static
    summary and its widgets are closed: a saved notebook, reopened, shows the summary, never a
    widget whose model is gone."""

    def __init__(self, *args, plot_interval: float = 2.0, top: int = 8, **kwargs):
        import ipywidgets as w

        from . import plots  # noqa: F401  matplotlib now, not in an interrupt's cleanup
        from .images import FixedFrame

        super().__init__(*args, **kwargs)
        self.top = top
        self.pace = CurvePace(plot_interval)  # when the next image of the curves is drawn
        self.tally = Tally(self.study, max(CURVES, top))
        self._last_plot, self._plotted, self._plotted_best = 0.0, None, None
        self._images = True  # whether images are drawn at all (not for a panel on its way out)
        self._frame = FixedFrame()
        self.header = w.HTML()
        self.bar = w.FloatProgress(min=0.0, max=1.0, layout=w.Layout(width="40%"))
        self.label = w.HTML()
        self.counts_html = w.HTML()
        self.best_html = w.HTML()
        self.table = w.HTML()
        self.rungs_html = w.HTML()
        # hidden until there is a curve to draw (an empty image shows as a broken one)
        self.curves = w.Image(format="png", layout=w.Layout(max_width="640px", display="none"))
        self.curves_note = w.HTML(layout=w.Layout(display="none"))  # when the image was drawn
        self.warnings_html = w.HTML()
        self.errors = w.HTML()
        self.outputs = w.HTML()
        self.stream = w.HTML(layout=w.Layout(display=None if self.show_output else "none"))
        self.note_html = w.HTML(layout=w.Layout(display="none"))  # see note()
        # the image's age above it, where the eye is: below it, it was off screen while the
        # image's legend named another best than the table (first-day test, round 63)
        self.widget = w.VBox([self.header, w.HBox([self.bar, self.label]), self.counts_html,
                              self.best_html, self.table, self.curves_note, self.curves,
                              self.rungs_html, self.warnings_html, self.errors, self.outputs,
                              self.stream, self.note_html])
        self.parts = {"panel": self.widget, "header": self.header, "bar": self.bar,
                      "label": self.label, "counts": self.counts_html, "best": self.best_html,
                      "table": self.table, "curves": self.curves,
                      "curves-note": self.curves_note, "rungs": self.rungs_html,
                      "warnings": self.warnings_html, "errors": self.errors,
                      "outputs": self.outputs, "stream": self.stream, "note": self.note_html}
        for name, part in self.parts.items():
            part.add_class(f"nbtune-live-{name}")  # stable names for styles and browser tests
        self._warned_drawn = -1
        self.handle = None
        self.in_widget = False
        self.fallback = None  # the display handle of the line a dead kernel leaves: see show()
        self._fallback_ended, self._fallback_at = 0, time.monotonic()  # as it was last drawn
        # how the line offers to go on, read here: it is redrawn on the panel's own thread,
        # where the caller's context is not (a SearchCV fit's line offered --resume after 5 s)
        self.continued = _CONTINUED.get()

    def show(self, notice: StartingNotice | None = None) -> None:
        """Display the panel in the current output (in the place of ``notice``, the line shown
        while the cluster started), under a display id its summary takes over."""
        from IPython.display import display

        self.in_widget = _IN_OUTPUT_WIDGET.get()
        # its text (a saved notebook's, where the widget is gone) says when the run began, not
        # that it runs: a study whose kernel restarted read as running for good (round 55)
        labelled = Labelled(self.widget, f"nbtune: study {self.study.name!r} started at "
                                         f"{time.strftime('%H:%M:%S')} (its live panel; its "
                                         "summary takes this place when it ends)")
        if self.in_widget:
            display(self.widget)
        elif notice is not None and notice.handle is not None:
            self.handle, notice.handle = notice.handle, None
            self.handle.update(labelled)
        else:
            self.handle = display(labelled, display_id=True)
        shown(self.study.storage, self.study.name, self.handle)  # marked if replaced later
        if self.handle is not None and self.study.storage is not None:
            self.fallback = display(self._fallback(), display_id=True)

    def _fallback(self) -> Shown:
        """:meth:`fallback_html`, with a line of text for a log."""
        return Shown(self.fallback_html(), f"nbtune: study {self.study.name!r} keeps each "
                                           f"trial in {self.study.storage!r} as it ends")

    def fallback_html(self) -> str:
        """The line under the panel while the study runs, which stays in the saved notebook if
        the kernel stops first (a widget's state dies with its kernel: the panel then reads
        "Error displaying widget"); the study's end takes it away with the panel. It counts the
        trials ended so far, and the best: a notebook saved while a study ran reopened with no
        record of the 25 trials it had run (first-day test, round 22)."""
        name, path = (html.escape(repr(x), quote=False) for x in (self.study.name,
                                                                  self.study.storage))
        ended = sum(1 for t in self.study.trials if t.is_finished)
        so_far = (f" ({ended} ended by {time.strftime('%H:%M:%S')}; "
                  f"{html.escape(self.best_line())})" if ended else "")
        head = (f'<div class="nbtune-live-fallback" style="color:{FAINT};font-size:90%">nbtune: '
                f'study {name} keeps each trial in {path} as it ends{so_far}. Should the kernel '
                'stop before the study does, ')
        how = self.continued
        if how == "read":
            return (head + f'<code>nbtune.load_study({name}, storage={path})</code> reads what '
                    'it ran, and <code>SearchCV(..., resume=True)</code> continues it (a new '
                    'fit() starts a new search).</div>')
        if how == "cell":  # it offered the --resume the cell above it already has (round 20)
            return head + 'running this cell again continues it (it has --resume).</div>'
        return (head + f'<code>%%tune --study {html.escape(self.study.name)} --resume</code> '
                '(or <code>resume=True</code>) continues it.</div>')

    def note(self, text: str) -> bool:
        """Show ``text`` at the panel's foot while the study runs (``%%tune --background``'s
        "runs in the background ... study.wait() blocks until it ends"): it goes when the study
        ends, with the panel, where a line printed under the panel stayed under its summary.
        False where the panel is not shown in a notebook: the caller prints the line."""
        if self.handle is None and not self.in_widget:
            return False
        with self._lock:
            if self.finished_reason is None:  # else the study ended already: nothing to say
                self.note_html.value = html.escape(text)
                self.note_html.layout.display = None
        return True

    def _settings(self) -> dict:
        """The study's settings, with the scheduler the loop was given (and PASHA's top level
        now: the settings keep it from the study's end)."""
        scheduler = getattr(self.study, "scheduler", None)
        live = {"pasha_top": scheduler.top_level()} \
            if getattr(scheduler, "type", None) == "pasha" and scheduler.levels else {}
        if getattr(scheduler, "judge", None) == "model":
            live["model_kept"] = scheduler.model_kept
        return {**(getattr(self.study, "settings", None) or {}),  # the study's own until the
                # loop says (an ASHA study's first frame, its cluster starting, read "fifo")
                "scheduler": self.info.get("scheduler") or getattr(scheduler, "name", None),
                **live}

    def _refresh_fallback(self) -> None:
        """Redraw :meth:`fallback_html` where trials ended since, at most every
        :data:`FALLBACK_EVERY` seconds (each is a message to the notebook)."""
        if self.fallback is None or time.monotonic() - self._fallback_at < FALLBACK_EVERY:
            return
        ended = sum(1 for t in self.study.trials if t.is_finished)
        if ended != self._fallback_ended:
            self._fallback_ended, self._fallback_at = ended, time.monotonic()
            self.fallback.update(self._fallback())

    def draw(self) -> None:
        self._refresh_fallback()
        study, info = self.study, self.info
        link = info.get("cluster")
        cluster = f' · <a href="{html.escape(link)}" target="_blank">Dask dashboard</a>' \
            if link else ""
        asks = asks_text(self._settings())
        self.header.value = (f"<b>nbtune study {html.escape(study.name)}</b> · "
                             f"{html.escape(searcher_text(study))} · "
                             f"{html.escape(scheduler_text(self._settings()))}"
                             f"{' · ' + html.escape(asks) if asks else ''}{cluster}")
        fraction, label = self.progress()
        # each piece on one line: "median trial 91" over "ms" where the label wrapped (round 27)
        self.bar.value, self.label.value = fraction, " · ".join(
            f'<span style="white-space:nowrap">{html.escape(piece)}</span>'
            for piece in label.split(" · "))
        counts = self.counts()
        busy = counts.get(T.RUNNING, 0) + counts.get(STARTING, 0)
        slots = self.slots()  # a worker that died may still hold a trial "running" a moment
        workers = f" · {min(busy, slots)}/{slots} slots busy" if slots else ""
        waiting = (self.connection() or self.stalled() or self.strained() or self.choosing()
                   or self.waiting(counts) or self.long_running())
        retried = len(getattr(study, "settings", {}).get("retried") or ())
        again = f" · {retried} ran again (a worker or the scheduler was lost)" if retried else ""
        states = T.counts_text(counts, self.ended_as(), " · ")
        self.counts_html.value = html.escape(states + again + workers
                                             + (f" · {waiting}" if waiting else ""))
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
            # what each trial wrote, on demand; with show_output the stream below shows it
            # all already, and each line read twice (first-day test, round 11)
            self.outputs.value = "" if self.show_output else outputs_html(
                study, list(tally.wrote.values()))
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
                          among=tally.candidates(), unfinished=tally.unfinished_ranked(),
                          unvalued=tally.stopped_unranked)

    def errors_html(self, tally: Tally | None = None) -> str:
        """Failed trials, each a one-line summary that expands to its traceback on a click."""
        return errors_html(self.study, None if tally is None else tally.failed)

    def _draw_curves(self, force: bool = False) -> None:
        if not self._images:
            return
        now = time.monotonic()
        tally = self.live()  # the best CURVES trials are among its candidates
        # a new report or a trial's end (the best may change without a report) since the last
        seen = (self.reports, None if tally is None else tally.done())
        best = None if tally is None or tally.best is None else tally.best.id
        wait = self.pace.wait(new_best=best != self._plotted_best)
        if not force and (seen == self._plotted or now - self._last_plot < wait
                          or not self.pace.affordable(self.elapsed())):
            return
        self._last_plot, self._plotted, self._plotted_best = now, seen, best
        among = None if tally is None else tally.candidates()
        try:
            png = self._frame.png(lambda ax: self.study.plot.learning_curves(
                top=CURVES, among=among, ax=ax))
        except ValueError:  # no curve to draw yet
            return
        self.curves.value = png
        self.curves.layout.display = None
        self.pace.drew(time.monotonic() - now)
        # the image is drawn less often than the table above it: say when, so that a legend
        # that names another best, or a trial still running, reads as the older picture it is
        self.curves_note.value = (
            f'<span style="color:{FAINT};font-size:90%">curves as of '
            f"{duration_text(self.elapsed())} elapsed, the next at about "
            f"{duration_text(self.pace.next_at(self.elapsed()))} elapsed</span>")
        self.curves_note.layout.display = None if tally is not None else "none"

    @property
    def curve_data(self) -> dict[int, list[tuple[float, float]]]:
        """Each trial's (resource, metric) points as reported, for every trial that reported."""
        resource = resource_of(self.study)
        return {t.id: [(r[resource], r[self.study.metric]) for r in t.reports
                       if T.is_finite_number(r.get(resource))
                       and T.is_finite_number(r.get(self.study.metric))]
                for t in list(self.study.trials) if t.reports}

    def finish(self) -> None:
        with self._lock:
            self.redraws += 1
            try:  # the last frame holds every report before the label says "ended"
                self.note_html.layout.display = "none"  # the study no longer runs
                # where the summary takes the panel's place at once, no last image: one costs
                # 0.2-0.4 s on 2 busy cores, and nobody would see it
                self._images = self.handle is None and not self.in_widget
                self._draw_curves(force=True)
                self.draw()
            except Exception:
                pass
        if self.handle is not None:  # the panel's place now holds the summary; no widget left
            summarised(self.handle, self.study.summary())
            if self.fallback is not None:  # the study ended: nothing to resume, nothing shown
                self.fallback.update({}, raw=True)
            self.close()
        elif self.in_widget:  # in a widget's output (the space editor's Run): the summary under
            from IPython.display import display  # it, and the panel closed, not shown twice

            display(self.study.summary())
            self.close()

    def close(self) -> None:
        """Close the panel's widgets, and the layout and style models each holds (their models
        leave the kernel and the notebook's widget manager): ``Widget.close`` leaves those
        open, and every panel left 29 behind (first-day test, round 22)."""
        close_tree(self.widget)


def close_tree(widget) -> None:
    """Close ``widget`` and every widget it holds (children, layout, style), theirs first."""
    from ipywidgets import Widget

    def held(w: Widget) -> Iterator[Widget]:
        for name in w.keys:
            value = getattr(w, name, None)
            for v in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(v, Widget):
                    yield v

    seen: set[int] = set()

    def visit(w: Widget) -> None:
        if id(w) in seen:
            return
        seen.add(id(w))
        for inner in list(held(w)):
            visit(inner)
        w.close()

    visit(widget)
