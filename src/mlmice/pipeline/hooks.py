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

When a job fails, Snakemake prints the job's log path, not its error: every
script sends its standard error to its ``log:`` file, so the message that names
the variable, row or key is one file away. :func:`failed_job_messages` reads
those messages back for the ``onerror:`` handler to print.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

__all__ = ["cancel_pending_timers", "failed_job_messages"]

_FAILED = re.compile(r"^Error in rule (?P<rule>\S+):$")
_LOG = re.compile(r"^\s+log: (?P<paths>.+?) \(check log file")
_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w.]*)?(?:Error|Exception|Warning)\b.*?: .+")


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


def failed_job_messages(snakemake_log) -> list[str]:
    """One line per failed job: its rule and the error its script raised.

    Parameters
    ----------
    snakemake_log : str, Path or list of them
        The run's log (Snakemake's ``log`` in ``onerror:``, a list in Snakemake 9);
        the jobs' own log paths in it are relative to the working directory.

    Returns
    -------
    list of str
        ``"<rule>: <exception line>  (log: <path>)"`` for each failed job whose log
        ends in a Python exception; none for a job without one.
    """
    paths = [snakemake_log] if isinstance(snakemake_log, str | Path) else list(snakemake_log)
    lines = []
    for path in paths:
        try:
            lines += Path(path).read_text(errors="replace").splitlines()
        except OSError:
            continue
    out, rule = [], None
    for line in lines:
        hit = _FAILED.match(line)
        if hit:
            rule = hit["rule"]
            continue
        hit = _LOG.match(line)
        if rule is not None and hit:
            for path in hit["paths"].split(", "):
                message = _last_exception(Path(path))
                if message:
                    out.append(f"{rule}: {message}  (log: {path})")
            rule = None
    return list(dict.fromkeys(out))


def _last_exception(path: Path) -> str | None:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(text):
        if _EXCEPTION.match(line):
            return line.strip()
    return None
