"""The loop's end of the report channel (:mod:`nbtune.run.channel`): the messages trials send."""
from __future__ import annotations

import contextlib
import threading
from collections import deque

from .stream import Listener

FORGET_AGAIN_S = 2.0  # after which the scheduler drops an ended study's topic a second time


class Inbox:
    """The loop's end of the channel: messages from trials, and a wake-up for the loop.

    Messages come as Dask events on the study's topic, and straight from the workers through the
    study's listener (:mod:`nbtune.run.stream`; ``address`` is where, None where there is none).
    ``wake`` is the condition the loop sleeps on; both handlers (run on the client's event loop
    and on the listener's thread) only append and notify, so they never block either.
    """

    def __init__(self, client, topic: str, wake: threading.Condition):
        self.client, self.topic, self.wake = client, topic, wake
        self.messages: deque[dict] = deque()
        client.subscribe_topic(topic, self._on_event)
        self.listener = Listener(client, self._on_message)
        self.address = self.listener.start()

    def _on_event(self, event: tuple[float, dict]) -> None:
        self._on_message(event[1])

    def _on_message(self, message: dict) -> None:
        self.messages.append(message)
        with self.wake:
            self.wake.notify()

    def wait(self, timeout: float) -> None:
        """Sleep until a message comes (or ``timeout`` seconds pass), unless one is here."""
        with self.wake:
            if not self.messages:
                self.wake.wait(timeout)

    def drain(self) -> list[dict]:
        """Every message received so far, oldest first."""
        out = []
        while self.messages:
            out.append(self.messages.popleft())
        return out

    def close(self) -> None:
        """Stop listening, and let the scheduler forget the topic: it keeps the last
        ``distributed.admin.low-level-log-length`` events (1000) of every topic for as long as
        it runs, which on a long-lived cluster adds up over many studies. The topic goes with its
        subscription in one call on the scheduler: ``Client.unsubscribe_topic`` would travel on
        the client's batched stream, could arrive after the topic was dropped, and would leave an
        empty one behind; it also keeps the handler (and this inbox) on the client. The
        subscription itself travels on that stream, so the scheduler drops the topic once more
        ``FORGET_AGAIN_S`` later."""
        if self.topic is None:
            return
        topic, self.topic = self.topic, None
        self.listener.close()
        handlers = getattr(self.client, "_event_handlers", None)
        if isinstance(handlers, dict):
            handlers.pop(topic, None)
        forget_topic(self.client, topic)


def report_topic(prefix: str) -> str:
    """The Dask topic a study run's reports travel on where a trial has no plain socket to its
    notebook (``prefix``: :func:`nbtune.run.loop.run_prefix`)."""
    return f"{prefix}-reports"


def forget_topic(client, topic: str, again: float = FORGET_AGAIN_S) -> None:
    """Make the scheduler forget ``topic`` (an ended study run's, or one a dead kernel's run
    left: :func:`nbtune.run.halt.halt_leftovers`), now and once more ``again`` seconds later."""
    def forget(dask_scheduler=None) -> None:  # local: it travels by value, no nbtune needed
        import asyncio

        topics = getattr(getattr(dask_scheduler, "_broker", None), "_topics", None)
        if topics is not None:
            topics.pop(topic, None)
            # the subscription travels on the client's batched stream: for a study that
            # ended within milliseconds it can arrive after this call and make the topic
            # again, empty; the topic's name is the study run's own, so drop it once more
            asyncio.get_running_loop().call_later(again, topics.pop, topic, None)

    with contextlib.suppress(Exception):  # the client may already be closed
        client.run_on_scheduler(forget)

