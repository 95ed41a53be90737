"""Workers with one fixed signal set and a cancel: a core generator in a QThread, or a child process.

Scans, exports and bundle reads run as threads; tagging and training run as child processes
(``ProcessWorker``), because torch in a thread of the app takes the interpreter lock from the GUI thread.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QThread, QTimer, Signal, Slot

from fashion_desktop.core.tag_process import child_environment, command
from fashion_desktop.model.protocol import (
    DATASET_PREVIEW,
    FROZEN_TRAIN_FLAG,
    RUN_FAILED,
    RUN_FINISHED,
    RUN_STOPPED,
    TAGGING,
    TRAINING,
    Comparison,
    Devices,
    EventSet,
    Failure,
    LineDecoder,
    ProtocolError,
    Summary,
    TrainEvent,
    Unreadable,
)

log = logging.getLogger(__name__)

# A job takes the cancel flag and returns an iterable; each item is sent with ``progressed`` and the
# generator's return value (``StopIteration.value``) with ``finished``.
Job = Callable[[threading.Event], Iterable[Any]]

_live: set[_Job] = set()
_J = TypeVar("_J", bound="_Job")
_live_lock = threading.Lock()


def active_workers() -> int:
    """How many workers have been started and not yet finished (tests assert this returns to 0)."""
    with _live_lock:
        return len(_live)


def wait_for_all(msecs: int = 30_000) -> bool:
    """Cancel every live worker and wait for it to end; True when all stopped in time."""
    with _live_lock:
        workers = list(_live)
    for w in workers:
        w.cancel()
    return all(w.wait(msecs) for w in workers)


class _Job(QObject):
    """The signal set and bookkeeping both worker types share.

    ``finished`` is emitted after a run that ended normally or was cancelled (check ``cancelled``),
    ``failed`` with a one-line message when it could not; exactly one of the two ends every started run.
    """

    started = Signal()
    progressed = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    stderr_line = Signal(str)  # a child process's stderr, line by line (the Train tab's log pane)

    def __init__(self, name: str, parent: QObject | None) -> None:
        super().__init__(parent)
        self.name = name

    def wired(
        self: _J,
        progressed: Callable[[Any], None],
        finished: Callable[[Any], None],
        failed: Callable[[str], None],
    ) -> _J:
        """Connect the three outcome signals; returns self, so a caller can ``start()`` it next."""
        self.progressed.connect(progressed)
        self.finished.connect(finished)
        self.failed.connect(failed)
        return self

    def cancel(self) -> None:
        raise NotImplementedError

    def wait(self, msecs: int = -1) -> bool:
        raise NotImplementedError

    def _register(self) -> None:
        with _live_lock:
            _live.add(self)

    def _forget(self) -> None:
        with _live_lock:
            _live.discard(self)


class _Thread(QThread):
    def __init__(self, owner: Worker) -> None:
        super().__init__()
        self._owner = owner

    def run(self) -> None:
        self._owner._run()


class Worker(_Job):
    """Runs ``job(cancel)`` off the GUI thread.

    Signals are emitted from the worker thread and delivered queued to receivers living in the GUI
    thread, so slots never run on the worker thread and may touch widgets. ``failed`` carries the
    exception's type and message when the job raised.
    """

    def __init__(self, job: Job, name: str = "worker", parent: QObject | None = None) -> None:
        super().__init__(name, parent)
        self._job = job
        self._cancel = threading.Event()
        self._thread = _Thread(self)
        self._thread.setObjectName(name)
        self._thread.finished.connect(self._forget)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def start(self) -> None:
        self._register()
        self._thread.start()

    @Slot()
    def cancel(self) -> None:
        """Ask the job to stop at its next check; what it has done so far is kept."""
        self._cancel.set()

    def wait(self, msecs: int = -1) -> bool:
        """Block until the thread ends (``-1``: forever); True when it has ended."""
        if not self._thread.isRunning():
            return True
        ok = self._thread.wait() if msecs < 0 else self._thread.wait(msecs)
        if ok:
            self._forget()
        return ok

    def _run(self) -> None:
        self.started.emit()
        try:
            it = iter(self._job(self._cancel))
            while True:
                try:
                    item = next(it)
                except StopIteration as stop:
                    result = stop.value
                    break
                self.progressed.emit(item)
        except Exception as exc:
            log.error("%s failed:\n%s", self.name, traceback.format_exc())
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        self.finished.emit(result)


@dataclass(frozen=True)
class Child:
    """How to start a child process that speaks the event protocol, and how to ask it to stop.

    ``stdin`` is written once it has started; ``cancel_line`` is written to ask it to stop (``None``:
    it is sent SIGTERM instead, as the trainer expects). ``exit_codes`` are the codes of a run that
    ended with its result (the trainer exits 143 when stopped, after saving a checkpoint).
    """

    program: str
    args: tuple[str, ...]
    events: EventSet
    stdin: bytes = b""
    cancel_line: bytes | None = b"cancel\n"
    exit_codes: tuple[int, ...] = (0,)
    env: Mapping[str, str] = field(default_factory=child_environment)


def tagging_child(mode: str, job: Mapping[str, Any]) -> Child:
    """The tagging process in ``mode`` ("tag" or "probe") with ``job`` on its stdin."""
    program, args = command(mode)
    return Child(program, tuple(args), TAGGING, json.dumps(dict(job)).encode("utf-8") + b"\n")


def trainer_child(command_name: str, args: Sequence[str]) -> Child:
    """``python -m trainer train|evaluate --events ARGS``: the trainer, sending events on stdout (in a
    frozen build: the app's executable with ``--train-process``)."""
    if command_name not in ("train", "evaluate"):
        raise ValueError(f"unknown trainer command {command_name!r}")
    env = dict(child_environment())
    env.setdefault("PYTHONIOENCODING", "utf-8")
    head = (FROZEN_TRAIN_FLAG,) if getattr(sys, "frozen", False) else ("-m", "trainer")
    argv = (*head, command_name, "--events", *args)
    return Child(sys.executable, argv, TRAINING, b"", None, (0, 143), env)


def _outcome(event: Any) -> tuple[str, Any]:
    """("failure", message), ("result", event) for the event that ends a run, else ("event", event)."""
    if isinstance(event, Failure):
        return "failure", event.message
    if isinstance(event, (Summary, Devices, Comparison)):
        return "result", event
    if isinstance(event, TrainEvent):
        if event.name == RUN_FAILED:
            return "failure", str(event["message"])
        if event.name in (RUN_FINISHED, RUN_STOPPED, DATASET_PREVIEW):  # a preview is its run's result
            return "result", event
    return "event", event


class ProcessWorker(_Job):
    """Runs a child process (the tagging process, or the trainer) with the same signals as ``Worker``.

    ``ProcessWorker(mode, job)`` starts the tagging process; ``ProcessWorker(trainer_child(...))`` the
    trainer. Each event line the child prints is decoded (``model.protocol``) and sent with
    ``progressed``, except the run's result (Summary, Devices or Comparison; the trainer's ``run_finished``,
    ``run_stopped`` or ``dataset_preview``), which comes with ``finished``. A failure event, a crash or an
    event of a newer
    protocol end the run with ``failed`` and a one-line message. A line that is not an event is logged
    and sent with ``progressed`` as ``Unreadable`` (with the reason); the run goes on. Reading the pipe
    happens in the GUI thread's event loop and is cheap: no Python thread shares the interpreter lock
    with the model.
    """

    CANCEL_GRACE_MS = 20_000  # a cancelled child finishing its batch; after this it is killed
    # Lines handled per turn of the event loop at most this long, the rest on the next turn: a child that
    # floods its pipe (or a backlog after a busy moment) cannot freeze the window.
    SLICE_S = 0.015

    def __init__(
        self,
        child: Child | str,
        job: Mapping[str, Any] | None = None,
        name: str = "process",
        parent: QObject | None = None,
    ):
        super().__init__(name, parent)
        self._child = child if isinstance(child, Child) else tagging_child(child, job or {})
        self._proc = QProcess(self)
        self._proc.setProgram(self._child.program)
        self._proc.setArguments(list(self._child.args))
        env = QProcessEnvironment()
        for k, v in self._child.env.items():
            env.insert(k, v)
        self._proc.setProcessEnvironment(env)
        self._proc.readyReadStandardOutput.connect(self._read_stdout)
        self._proc.readyReadStandardError.connect(self._read_stderr)
        self._proc.finished.connect(self._on_finished)
        self._proc.errorOccurred.connect(self._on_error)
        self._decoder = LineDecoder(self._child.events)
        self._stderr: deque[str] = deque(maxlen=20)
        self._err_buffer = bytearray()
        self._result: Any = None
        self._failure: str | None = None
        self._cancelled = False
        self._done = False
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._proc.kill)
        self._more_timer = QTimer(self)  # the lines left over by a slice
        self._more_timer.setSingleShot(True)
        self._more_timer.setInterval(0)
        self._more_timer.timeout.connect(self._read_stdout)

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def is_running(self) -> bool:
        return self._proc.state() != QProcess.ProcessState.NotRunning

    def process_id(self) -> int:
        """The child's process id (0 when it is not running)."""
        return int(self._proc.processId())

    def start(self) -> None:
        self._register()
        self._proc.start()
        if self._child.stdin:
            self._proc.write(self._child.stdin)
        self.started.emit()

    @Slot()
    def cancel(self) -> None:
        """Ask the child to stop (after its current batch or epoch step; what it saved is kept); kill it if
        it hangs."""
        if self._done or self._cancelled:
            return
        self._cancelled = True
        if self.is_running():
            if self._child.cancel_line is not None:
                self._proc.write(self._child.cancel_line)
            elif os.name == "nt":
                self._proc.kill()  # no SIGTERM for a console process there: the last checkpoint is kept
            else:
                self._proc.terminate()
            self._kill_timer.start(self.CANCEL_GRACE_MS)

    def wait(self, msecs: int = -1) -> bool:
        """Block until the child has ended and its last events were delivered; True when it has."""
        if self.is_running() and not self._proc.waitForFinished(msecs):
            return False
        if not self._done:  # waitForFinished already emitted finished; deliver the outcome once
            self._on_finished(self._proc.exitCode(), self._proc.exitStatus())
        return True

    def kill(self) -> None:
        """Stop the child now (it commits batch by batch: at most the batch in flight is lost)."""
        if self.is_running():
            self._proc.kill()
            self._proc.waitForFinished(5_000)
        if not self._done and not self.is_running():
            self._on_finished(self._proc.exitCode(), self._proc.exitStatus())

    # -- the pipe ------------------------------------------------------------------------------
    @Slot()
    def _read_stdout(self) -> None:
        if not self._done:
            self._take(self._decoder.feed(bytes(self._proc.readAllStandardOutput())), sliced=True)

    def _take(self, items: Iterable[Any], sliced: bool = False) -> None:
        """Send the events of ``items``; ``sliced``: stop after SLICE_S and come back on the next turn of
        the event loop (the decoder keeps the lines not yet read)."""
        deadline = time.perf_counter() + self.SLICE_S if sliced else None
        try:
            for item in items:
                self._handle(item)
                if deadline is not None and time.perf_counter() > deadline:
                    self._more_timer.start()
                    return
        except ProtocolError as exc:
            if self._failure is None:
                self._failure = f"the {self.name} process: {exc}"
                self.cancel()

    def _handle(self, item: Any) -> None:
        if self._failure is not None:
            return
        if isinstance(item, Unreadable):
            log.warning("%s process: unreadable line (%s)", self.name, item)
            self.progressed.emit(item)
            return
        kind, value = _outcome(item)
        if kind == "failure":
            self._failure = value
        elif kind == "result":
            self._result = value
        else:
            self.progressed.emit(value)

    @Slot()
    def _read_stderr(self) -> None:
        self._err_buffer += bytes(self._proc.readAllStandardError())
        *lines, rest = self._err_buffer.split(b"\n")
        self._err_buffer = bytearray(rest)
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip()
            if not line:
                continue
            self._stderr.append(line)
            log.info("%s: %s", self.name, line)
            self.stderr_line.emit(line)

    @Slot(QProcess.ProcessError)
    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._failure = f"cannot start the {self.name} process: {self._proc.errorString()}"
            self._finish()

    @Slot(int, QProcess.ExitStatus)
    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self._done:
            return
        self._more_timer.stop()
        self._take(self._decoder.feed(bytes(self._proc.readAllStandardOutput())))  # every line left, now
        self._take(self._decoder.finish())
        self._read_stderr()
        crashed = status != QProcess.ExitStatus.NormalExit
        ended = not crashed and code in self._child.exit_codes and self._result is not None
        killed_after_cancel = crashed and self._cancelled and self._result is None
        if self._failure is None and not ended and not killed_after_cancel:
            how = "crashed" if crashed else f"stopped with exit code {code}"
            last = f": {self._stderr[-1]}" if self._stderr else ""
            self._failure = f"the {self.name} process {how}{last}"
        self._finish()

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        self._kill_timer.stop()
        self._forget()
        if self._failure is not None:
            self.failed.emit(self._failure)
        else:
            self.finished.emit(self._result)
