"""How often the live panel draws its image of the learning curves.

An image costs a tenth of a second and more (matplotlib, on the notebook's process, holding the
GIL the loop needs), so its pace follows what images cost: the gap between two is at least the
panel's ``plot_interval`` and at most ~3% of the study's time spent on them, and all of a study's
images, the first ones too, take at most 4% of it. The costs are the process's, whichever panel
drew them: a new panel's first image is expected to cost what the last ones did.
"""
from __future__ import annotations

import statistics
from collections import deque

PLOT_SHARE = 30  # the curves wait 30 times what an image costs: ~3% of the study's time at most
PLOT_COSTS = 5  # the latest images whose median cost sets that wait (the first one not counted)
PLOT_BUDGET = 0.04  # and all images together, the first ones too, take at most 4% of it
PLOT_GUESS = 0.1  # seconds an image is taken to cost before one is measured
_warmed = [False]  # whether this process drew an image (the first loads fonts and caches)
# the costs of this process's latest images, whichever panel drew them (the first not counted):
# a new panel's first image is expected to cost what the last ones did, not PLOT_GUESS
_costs: deque[float] = deque(maxlen=PLOT_COSTS)


class CurvePace:
    """The pace of one panel's images of the curves: ``interval`` seconds between two at
    least, more where images cost more."""

    def __init__(self, interval: float = 2.0):
        self.interval = interval
        self.images = 0  # images of the curves drawn so far
        self.seconds = 0.0  # of all images drawn (the process's first counted as PLOT_GUESS)

    def wait(self, new_best: bool = False) -> float:
        """Seconds between two images of the curves: ``interval``, or more where an image
        costs more, so that they take at most ~3% of the study's time (and of the loop's GIL);
        with a ``new_best`` trial, whose legend the image shown does not name, ~10%.
        The cost is the median of the process's latest images but its first: that one imports
        and warms up matplotlib (fonts, caches), and counted it held the curves back for many
        seconds."""
        share = PLOT_SHARE // 3 if new_best else PLOT_SHARE
        return max(self.interval, share * statistics.median(_costs) if _costs else 0.0)

    def drew(self, seconds: float) -> None:
        """An image of the curves took ``seconds``: the pace of the next ones follows it, in
        this panel and the next. The process's first image warms matplotlib up (1 s and more on
        2 busy cores, in a fresh kernel): it counts as :data:`PLOT_GUESS` at most, else its
        cost held the next image back for a minute."""
        self.images += 1
        self.seconds += seconds if _warmed[0] else min(seconds, PLOT_GUESS)
        if _warmed[0]:
            _costs.append(seconds)
        _warmed[0] = True

    def expected_cost(self) -> float:
        """What the next image is expected to cost: the median of the process's latest images
        (:data:`PLOT_GUESS` before one is measured)."""
        return statistics.median(_costs) if _costs else self.seconds or PLOT_GUESS

    def next_at(self, elapsed: float) -> float:
        """When (seconds elapsed, the study at ``elapsed`` now) the next image of the curves is
        drawn, new reports given: after :meth:`wait`, and once :meth:`affordable`. "redrawn
        every 2.0 s or so" stood under an image 16 s old, the images' share of a resumed
        study's first seconds spent (first-day test, round 60)."""
        afforded = (self.seconds + self.expected_cost()) / PLOT_BUDGET
        return max(elapsed + max(1.0, self.wait()), afforded)

    def affordable(self, elapsed: float) -> bool:
        """Whether one more image keeps all of them, the first ones too, within
        :data:`PLOT_BUDGET` of the study's ``elapsed`` time. The pace of :meth:`wait` bounds a
        long study's images; this bounds a short one's, where the first images, drawn one after
        another at ``interval``, took 15% of a 5 s study of trivial trials. The first image
        comes once the study has run 25 times what an image costs (~2.5 s on a quiet machine;
        a new panel counts what the last ones cost, not a guess: a guess of 0.1 s where images
        cost 0.26 s, in a kernel on 2 busy cores, spent 5% on the first alone)."""
        return self.seconds + self.expected_cost() <= PLOT_BUDGET * elapsed
