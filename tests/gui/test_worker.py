"""The worker runs a generator off the GUI thread, reports progress, cancels and reports failures."""

from __future__ import annotations

import os
import threading
import time

import pytest

from fashion_desktop.gui.worker import Worker, active_workers


def test_worker_reports_every_item_then_the_return_value(qtbot):
    seen_threads = []

    def job(cancel):
        for i in range(5):
            seen_threads.append(threading.get_ident())
            yield i
        return "done"

    w = Worker(job)
    items = []
    w.progressed.connect(items.append)
    with qtbot.waitSignal(w.finished, timeout=5000) as blocker:
        w.start()
    assert blocker.args == ["done"]
    qtbot.waitUntil(lambda: items == [0, 1, 2, 3, 4])
    assert threading.get_ident() not in seen_threads
    assert w.wait(1000)
    qtbot.waitUntil(lambda: active_workers() == 0)


def test_cancel_stops_the_job_and_keeps_what_was_done(qtbot):
    def job(cancel):
        n = 0
        while not cancel.is_set():
            n += 1
            yield n
            time.sleep(0.005)
        return n

    w = Worker(job)
    got = []
    w.progressed.connect(got.append)
    with qtbot.waitSignal(w.progressed, timeout=5000):
        w.start()
    with qtbot.waitSignal(w.finished, timeout=5000) as blocker:
        w.cancel()
    assert w.cancelled
    assert blocker.args[0] >= 1


def test_an_exception_becomes_failed_with_a_message(qtbot):
    def job(cancel):
        yield 1
        raise ValueError("bad folder /x")

    w = Worker(job)
    finished = []
    w.finished.connect(finished.append)
    with qtbot.waitSignal(w.failed, timeout=5000) as blocker:
        w.start()
    assert "bad folder /x" in blocker.args[0]
    w.wait(1000)
    qtbot.wait(20)
    assert finished == []


def test_qt_calls_cannot_use_up_none():
    # PySide6 6.12 on Python < 3.12 drops a reference to None on every void Qt call, and a long session
    # (100,000 cells painted) crashes the interpreter; pyproject.toml keeps such installs below 6.12.
    import sys

    from PySide6.QtWidgets import QWidget

    w = QWidget()
    before = sys.getrefcount(None)
    for _ in range(200_000):
        w.hide()
    assert before - sys.getrefcount(None) < 10


# -- child processes that speak the event protocol -------------------------------------------------
_FAKE_TRAINER = r"""
import json, sys, time
from fashion_desktop.model.protocol import EventWriter, encode
version = int(sys.argv[1])
w = EventWriter(sys.stdout)
w.emit("run_started", config={"epochs": 1}, labels=["red", "green"])
print("a stray print from a library")
w.emit("progress", phase="train", epoch=1, epochs=1, step=1, steps=2)
line = encode("epoch_end", epoch=1, val_f1_macro=0.5)
sys.stdout.write(line[:10]); sys.stdout.flush(); time.sleep(0.3)  # one line in two reads
sys.stdout.write(line[10:] + "\n"); sys.stdout.flush()
sys.stdout.write(json.dumps({"event": "log", "protocol": version, "time": 0, "message": "from the future"}) + "\n")
w.emit("run_finished", bundle="run/model.fmodel", metrics={"val": {"f1_micro": 0.75}})
"""


def _fake_trainer(version: int):
    import sys

    from fashion_desktop.gui.worker import Child
    from fashion_desktop.model.protocol import TRAINING

    return Child(sys.executable, ("-c", _FAKE_TRAINER, str(version)), TRAINING, b"", None, (0, 143))


@pytest.mark.slow
def test_a_trainer_child_is_decoded_by_the_same_process_worker(qtbot):
    from fashion_desktop.gui.worker import ProcessWorker
    from fashion_desktop.model.protocol import PROTOCOL_VERSION, TrainEvent, Unreadable

    w = ProcessWorker(_fake_trainer(PROTOCOL_VERSION), name="training")
    got = []
    w.progressed.connect(got.append)
    with qtbot.waitSignal(w.finished, timeout=20_000) as blocker:
        w.start()
    result = blocker.args[0]
    assert isinstance(result, TrainEvent) and result.name == "run_finished"
    assert result["metrics"]["val"]["f1_micro"] == 0.75
    events = [e for e in got if isinstance(e, TrainEvent)]
    assert [e.name for e in events] == ["run_started", "progress", "epoch_end", "log"]
    assert events[2]["val_f1_macro"] == 0.5  # the line split across two reads arrived whole
    (stray,) = [e for e in got if isinstance(e, Unreadable)]
    assert stray.line == "a stray print from a library" and "not JSON" in stray.reason
    qtbot.waitUntil(lambda: active_workers() == 0)


@pytest.mark.slow
def test_a_child_of_a_newer_protocol_fails_the_run_naming_both_versions(qtbot):
    from fashion_desktop.gui.worker import ProcessWorker
    from fashion_desktop.model.protocol import PROTOCOL_VERSION

    w = ProcessWorker(_fake_trainer(PROTOCOL_VERSION + 1), name="training")
    finished = []
    w.finished.connect(finished.append)
    with qtbot.waitSignal(w.failed, timeout=20_000) as blocker:
        w.start()
    v = PROTOCOL_VERSION
    assert (
        f"event protocol {v + 1} is newer than this app understands ({v}); update the app" in blocker.args[0]
    )
    assert w.wait(20_000) and finished == []
    qtbot.waitUntil(lambda: active_workers() == 0)


_FLOOD = r"""
import sys, time
from fashion_desktop.model.protocol import encode
lines = [encode("progress", phase="train", epoch=1, epochs=1, step=i, steps=3000) for i in range(1, 3001)]
sys.stdout.write("\n".join(lines) + "\n"); sys.stdout.flush()
time.sleep(float(sys.argv[1]))
sys.stdout.write(encode("run_finished", bundle="b") + "\n")
"""


@pytest.mark.slow
@pytest.mark.parametrize("linger", [2.0, 0.0])
def test_a_flood_of_events_is_handled_a_slice_at_a_time_and_all_arrive_before_the_end(
    qtbot, monkeypatch, linger
):
    """However many lines wait in the pipe, one turn of the event loop handles only a slice of them (here
    one: SLICE_S=0), so the window keeps drawing; when the child ends, the rest are delivered first."""
    import sys

    from PySide6.QtCore import QTimer

    from fashion_desktop.gui.worker import Child, ProcessWorker
    from fashion_desktop.model.protocol import TRAINING

    monkeypatch.setattr(ProcessWorker, "SLICE_S", 0.0)
    w = ProcessWorker(
        Child(sys.executable, ("-c", _FLOOD, str(linger)), TRAINING, b"", None), name="training"
    )
    turns = {"n": 0}
    ticker = QTimer()
    ticker.setInterval(0)
    ticker.timeout.connect(lambda: turns.__setitem__("n", turns["n"] + 1))
    ticker.start()
    steps, turn_of = [], []
    w.progressed.connect(lambda e: (steps.append(e["step"]), turn_of.append(turns["n"])))
    at_end = []
    w.finished.connect(lambda _r: at_end.append(len(steps)))
    with qtbot.waitSignal(w.finished, timeout=30_000):
        w.start()
    ticker.stop()
    assert steps == list(range(1, 3001)) and at_end == [3000]  # in order, every one before finished
    if linger:
        assert len(set(turn_of)) > 1000  # spread over the event loop, not one long block
    qtbot.waitUntil(lambda: active_workers() == 0)


@pytest.mark.slow
def test_the_real_trainer_reports_a_failure_through_the_process_worker(qtbot, tmp_path):
    from fashion_desktop.gui.worker import ProcessWorker, trainer_child

    args = [str(tmp_path / "missing.fmodel"), str(tmp_path), "--out", str(tmp_path / "eval")]
    w = ProcessWorker(trainer_child("evaluate", args), name="evaluation")
    with qtbot.waitSignal(w.failed, timeout=60_000) as blocker:
        w.start()
    assert "missing.fmodel" in blocker.args[0]
    qtbot.waitUntil(lambda: active_workers() == 0)


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="Windows has no SIGTERM for a console process: cancel kills it")
def test_a_real_training_run_reports_through_the_process_worker_and_stops_on_cancel(qtbot, tmp_path):
    from fashion_desktop.gui.worker import ProcessWorker, trainer_child
    from fashion_desktop.model.protocol import TrainEvent, Unreadable
    from tests.conftest import make_photo

    for split in ("train", "val"):
        for colour in ("red", "green"):
            for i in range(4):
                make_photo(tmp_path / "data" / split / colour / f"{split}{i}.jpg", (32, 32), colour)
    run = tmp_path / "run"
    args = ["--data", str(tmp_path / "data"), "--arch", "cnn", "--image-size", "32", "--batch-size", "2"]
    args += ["--epochs", "200", "--set", "early_stopping=0", "--set", "threads=1", "--out", str(run)]
    w = ProcessWorker(trainer_child("train", args), name="training")
    got = []
    w.progressed.connect(got.append)
    w.start()
    qtbot.waitUntil(
        lambda: any(isinstance(e, TrainEvent) and e.name == "epoch_end" for e in got), timeout=120_000
    )
    with qtbot.waitSignal(w.finished, timeout=60_000) as blocker:
        w.cancel()  # SIGTERM: the trainer saves its last checkpoint and reports run_stopped
    assert w.cancelled
    stopped = blocker.args[0]
    assert (
        isinstance(stopped, TrainEvent) and stopped.name == "run_stopped" and str(run) in stopped["message"]
    )
    names = [e.name for e in got if isinstance(e, TrainEvent)]
    assert names[0] == "run_started" and "progress" in names and "checkpoint_saved" in names
    assert not [e for e in got if isinstance(e, Unreadable)]
    assert (run / "last.pt").is_file()
    qtbot.waitUntil(lambda: active_workers() == 0)
