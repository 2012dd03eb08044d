"""The notebook's side of a trial's decision points: what the loop decided for each trial, and the
answers that trials wait for, sent back over the worker's connection to the study's listener
(:mod:`nbtune.run.stream`), else straight to the trial's worker (see :mod:`nbtune.run.channel`),
or, where the notebook cannot reach that worker, through the scheduler."""
from __future__ import annotations

import asyncio
import contextlib

from ..contract.verdicts import PendingVerdicts
from ..schedule import CONTINUE, PAUSE
from .channel import VERDICT_OP, deliver_verdict, verdict_name

# Seconds a verdict sent straight to a worker may take before the worker counts as unreachable from
# the notebook (a firewall that drops the connection, rather than refusing it, never answers).
DIRECT_TIMEOUT = 5.0


class Verdicts(PendingVerdicts):
    """The scheduler's verdicts on one study's trials, kept until each trial's next decision point,
    and sent to the trials waiting there (``leaving``: their futures not yet done)."""

    def __init__(self, client, prefix: str):
        super().__init__()
        self.client, self.prefix = client, prefix
        self.paused_at: dict[tuple[int, int], int] = {}  # (trial, submission) paused -> its seq
        self.indirect: set[str] = set()  # workers this notebook could not reach: via the scheduler
        self.stream = None  # the study's Listener: verdicts go back over a worker's connection

    def answer(self, trial_id: int, execution: str, seq: int, worker: str) -> None:
        """Answer the trial waiting at its report ``seq`` on ``worker``: stop, pause or go on."""
        self._send(worker, execution, seq, self.take(trial_id))

    def replay(self, trial_id: int, submission: int | None, execution: str, seq: int,
               worker: str) -> bool:
        """Answer a segment that paused before and that Dask computes again (its worker died
        with the checkpoint): it pauses where it paused. False where that submission never paused.
        """
        paused_at = self.paused_at.get((trial_id, submission))
        if paused_at is None:
            return False
        self._send(worker, execution, seq, PAUSE if seq >= paused_at else CONTINUE)
        return True

    def paused(self, trial_id: int, submission: int, seq: int) -> None:
        """The trial's submission ``submission`` paused at its report ``seq``."""
        self.pausing.discard(trial_id)
        self.paused_at[trial_id, submission] = seq

    def _send(self, worker: str, execution: str, seq: int, verdict: str) -> None:
        """Send without waiting for an answer: over the worker's connection to the study where it
        has one (from this thread), else the client's event loop carries it."""
        name = verdict_name(self.prefix, execution, seq)
        if self.stream is not None and self.stream.tell(worker, name, verdict):
            return
        self.client.loop.add_callback(self._deliver, worker, name, verdict)

    async def _deliver(self, worker: str, name: str, verdict: str) -> None:
        if worker not in self.indirect:
            try:
                await asyncio.wait_for(getattr(self.client.rpc(worker), VERDICT_OP)(
                    name=name, verdict=verdict), DIRECT_TIMEOUT)
                return
            except Exception:  # unreachable from here, or gone: the scheduler knows
                self.indirect.add(worker)
        with contextlib.suppress(Exception):  # a worker that died took its trial with it
            await self.client.run(deliver_verdict, name, verdict, workers=[worker],
                                  asynchronous=True)
