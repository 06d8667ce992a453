"""The Snakefile's end-of-workflow hook (mlmice.pipeline.hooks)."""

import threading

from mlmice.pipeline import cancel_pending_timers


def test_pending_timers_are_cancelled_and_never_fire():
    fired = threading.Event()
    timer = threading.Timer(30.0, fired.set)
    timer.start()
    assert cancel_pending_timers() >= 1
    timer.join(timeout=5.0)
    assert not timer.is_alive()
    assert not fired.is_set()


def test_fired_timers_and_other_threads_are_left_alone():
    fired = threading.Event()
    timer = threading.Timer(0.0, fired.set)
    timer.start()
    timer.join(timeout=5.0)
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, args=(30.0,))
    worker.start()
    try:
        assert cancel_pending_timers() == 0
        assert fired.is_set()
        assert worker.is_alive()
    finally:
        stop.set()
        worker.join()


def test_the_snakefile_calls_it_on_success_and_on_error():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "Snakefile").read_text()
    for hook in ("onsuccess:", "onerror:"):
        block = text.split(hook, 1)[1].split("\n\n", 1)[0]
        assert "cancel_pending_timers()" in block, hook


def test_failed_job_messages_read_the_error_back_from_the_job_log(tmp_path, monkeypatch):
    """After a failed run the user sees the script's error, not only the log's path."""
    from mlmice.pipeline import failed_job_messages

    monkeypatch.chdir(tmp_path)                  # job logs are relative to the workdir
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "load.log").write_text(
        "Traceback (most recent call last):\n  File \"x.py\", line 1\n"
        "    raise ValueError(...)\n"
        "ValueError: data.csv: cluster variable 'school' has 1 missing value(s)\n")
    (tmp_path / "logs" / "fit.log").write_text("fitted 5 models\n")   # failed, no exception
    run = tmp_path / "run.log"
    run.write_text(
        "Error in rule load_incomplete:\n    message: None\n    jobid: 1\n"
        "    log: logs/load.log (check log file(s) for error details)\n"
        "Error in rule analyze:\n    log: logs/fit.log, logs/missing.log (check log file(s) "
        "for error details)\n")
    assert failed_job_messages([str(run)]) == [
        "load_incomplete: ValueError: data.csv: cluster variable 'school' has 1 missing "
        "value(s)  (log: logs/load.log)"]
    assert failed_job_messages(tmp_path / "absent.log") == []
