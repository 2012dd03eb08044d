"""The notebook's side of a trial's decision points: what the loop decided for each trial, and the
answers that trials wait for (a Dask ``Variable`` per report that waits, read by
:meth:`nbtune.run.channel.TrialContext.report`)."""
from __future__ import annotations

from ..schedule import CONTINUE, PAUSE, STOP
from .channel import quiet_verdict_timeouts, verdict_name


class Verdicts:
    """The scheduler's verdicts on one study's trials, kept until each trial's next decision point,
    and sent to the trials waiting there."""

    def __init__(self, client, prefix: str):
        self.client, self.prefix = client, prefix
        self.stopping: set[int] = set()  # told STOP by the scheduler, not yet at a decision point
        self.pausing: set[int] = set()  # told PAUSE, likewise
        self.leaving: set[int] = set()  # stopped at a decision point, their futures not yet done
        self.paused_at: dict[tuple[int, int], int] = {}  # (trial, submission) paused -> its seq
        quiet_verdict_timeouts()

    def decide(self, trial_id: int, verdict: str) -> None:
        """The scheduler's verdict on a report of the trial, for its next decision point."""
        if verdict == STOP:
            self.stopping.add(trial_id)
        elif verdict == PAUSE:
            self.pausing.add(trial_id)

    def answer(self, trial_id: int, execution: str, seq: int) -> None:
        """Answer the trial waiting at its report ``seq``: stop, pause or go on."""
        verdict = (STOP if trial_id in self.stopping else
                   PAUSE if trial_id in self.pausing else CONTINUE)
        self.pausing.discard(trial_id)
        self._send(execution, seq, verdict)
        if verdict == STOP:
            self.leaving.add(trial_id)

    def replay(self, trial_id: int, submission: int | None, execution: str, seq: int) -> bool:
        """Answer a segment that paused before and that Dask computes again (its worker died
        with the checkpoint): it pauses where it paused. False where that submission never paused.
        """
        paused_at = self.paused_at.get((trial_id, submission))
        if paused_at is None:
            return False
        self._send(execution, seq, PAUSE if seq >= paused_at else CONTINUE)
        return True

    def paused(self, trial_id: int, submission: int, seq: int) -> None:
        """The trial's submission ``submission`` paused at its report ``seq``."""
        self.pausing.discard(trial_id)
        self.paused_at[trial_id, submission] = seq

    def left(self, trial_id: int) -> None:
        """The trial's future is done: it no longer holds a slot while leaving."""
        self.leaving.discard(trial_id)

    def forget(self, trial_id: int) -> None:
        """The trial ended: nothing decided for it is pending any more."""
        self.stopping.discard(trial_id)
        self.pausing.discard(trial_id)
        self.leaving.discard(trial_id)

    def _send(self, execution: str, seq: int, verdict: str) -> None:
        from distributed import Variable

        Variable(verdict_name(self.prefix, execution, seq), client=self.client).set(verdict)
