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
