"""What the Snakefile's ``onsuccess:`` and ``onerror:`` handlers do.

Snakemake 9's scheduler limits how fast it starts jobs
(``--max-jobs-per-timespan``, default ``100/1s``): after every scheduling
pass it starts a :class:`threading.Timer` of the timespan that wakes the
scheduler again. The timers are not daemon threads, so when the last job
has finished the interpreter still waits for the last timer to fire before
it exits: about a second added to every run, however short. (The timespan
cannot be set below one second: ``100ms`` parses as 100 minutes.)
:func:`cancel_pending_timers` stops those timers once the workflow is
finished, when no scheduling pass is left to wake.
"""

from __future__ import annotations

import threading

__all__ = ["cancel_pending_timers"]


def cancel_pending_timers() -> int:
    """Cancel every :class:`threading.Timer` that has not fired yet.

    Call it only when nothing in the process needs its timers any more (the
    workflow's end). Returns how many were cancelled.
    """
    pending = [t for t in threading.enumerate()
               if isinstance(t, threading.Timer) and not t.finished.is_set()]
    for timer in pending:
        timer.cancel()
    return len(pending)
