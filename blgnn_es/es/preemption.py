"""Preemption of batch jobs: a signal asks a run to stop at the next generation boundary.

SLURM (and most schedulers) announce the end of a job with SIGTERM, or with a signal chosen
by ``#SBATCH --signal=B:USR1@300``. On the first SIGTERM or SIGUSR1 the current generation is
finished, its checkpoint written (atomically, as after every generation) and the run exits
with :data:`PREEMPTED_EXIT_CODE`, so a job script can requeue itself and continue with
``--resume auto``. A second signal stops at once: the previous generation's checkpoint is
already on disk, so nothing but the unfinished generation is lost.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

PREEMPTED_EXIT_CODE = 75  # EX_TEMPFAIL (sysexits.h): stopped early, run again to continue
PREEMPTION_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class Preempted(BaseException):  # noqa: N818  (like KeyboardInterrupt, not an error)
    """A second signal: stop now, without finishing the generation."""


class Preemption:
    """Signal handlers for the length of a ``with`` block; calling it says whether (and by
    which signal) a stop was asked for."""

    def __init__(self) -> None:
        self.received: str | None = None
        self._previous: dict[int, object] = {}

    def __call__(self) -> str | None:
        return self.received

    def __enter__(self) -> Preemption:
        if threading.current_thread() is threading.main_thread():  # signals need the main one
            for number in PREEMPTION_SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def _handle(self, number: int, frame: FrameType | None) -> None:
        name = signal.Signals(number).name
        if self.received is not None:
            raise Preempted(f"{name} after {self.received}")
        self.received = name
