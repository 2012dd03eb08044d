"""The notebook's side of a trial's decision points: what the loop decided for each trial, and the
answers that trials wait for (a Dask ``Variable`` per report that waits, read by
:meth:`nbtune.run.channel.TrialContext.report`)."""
from __future__ import annotations

from ..contract.verdicts import PendingVerdicts
from ..schedule import CONTINUE, PAUSE
from .channel import quiet_verdict_timeouts, verdict_name


class Verdicts(PendingVerdicts):
    """The scheduler's verdicts on one study's trials, kept until each trial's next decision point,
    and sent to the trials waiting there (``leaving``: their futures not yet done)."""

    def __init__(self, client, prefix: str):
        super().__init__()
        self.client, self.prefix = client, prefix
        self.paused_at: dict[tuple[int, int], int] = {}  # (trial, submission) paused -> its seq
        quiet_verdict_timeouts()

    def answer(self, trial_id: int, execution: str, seq: int) -> None:
        """Answer the trial waiting at its report ``seq``: stop, pause or go on."""
        self._send(execution, seq, self.take(trial_id))

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

    def _send(self, execution: str, seq: int, verdict: str) -> None:
        from distributed import Variable

        Variable(verdict_name(self.prefix, execution, seq), client=self.client).set(verdict)
