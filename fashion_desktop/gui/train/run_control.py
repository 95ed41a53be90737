"""The Train tab's run control: starting, stopping and resuming the trainer child, its events and progress."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from fashion_desktop.gui.job_queue import JobQueue
from fashion_desktop.gui.train.train_form import CONFIG_KEYS, TrainForm
from fashion_desktop.gui.train.train_process import default_child
from fashion_desktop.gui.window_words import for_window
from fashion_desktop.gui.worker import Child, ProcessWorker
from fashion_desktop.model.progress_text import format_duration, percent
from fashion_desktop.model.protocol import (
    CHECKPOINT_SAVED,
    EPOCH_END,
    LOG,
    PROGRESS,
    RUN_STARTED,
    RUN_STOPPED,
    TrainEvent,
    Unreadable,
)
from fashion_desktop.model.run_folder import (
    RunFolderState,
    check_run_folder,
    chosen_epoch,
    metrics_history,
    score_text,
)
from fashion_desktop.model.train_config import ConfigError, config_from_run_dir, resume_changes, unfreeze_plan

STOP_GRACE_S = 30  # a stopped trainer saves its checkpoint; after this long it is killed
STATUS_MS = 100  # the bar and status line follow progress at most this often (a bar repaints on each value)
# What the trainer is doing in a phase other than training, as the status line and the quit question say it.
_PHASES = {"cache": "preparing the photos", "val": "checking on the validation photos",
           "test": "checking on the test photos", "evaluate": "scoring the photos"}  # fmt: skip


class RunControl(QObject):
    """One training run at a time for the settings of ``form``: the trainer child (``child_factory(args)
    -> Child``), its turn in the window's job queue, stop with a grace period, resume with the form's
    changes, and what the run tells (progress, epochs, log lines, how it ended) as signals.

    ``ask_run_folder(state) -> "resume" | "overwrite" | "new" | "cancel"`` asks what to do with an output
    folder that holds a run; ``confirm_resume(text) -> bool`` is shown before a resume that cannot take
    some of the form's changes (True goes on with the run's own). Both are dialogs by default.
    """

    state_changed = Signal(str)  # idle | queued | running | stopping | finished | stopped | failed | killed
    status_changed = Signal(str)  # the status line
    bar_changed = Signal(int, int, object)  # the progress bar's range, and its value (None: left as it is)
    failure_shown = Signal(str)  # the banner's text ("" hides it)
    logged = Signal(str)  # a line for the log
    launched = Signal()  # a run starts (or waits its turn): the live plots start empty
    epoch_ended = Signal(dict)  # an epoch_end event's fields
    batch_loss_measured = Signal(int, float)  # (steps done in the run, the batch's loss)

    def __init__(
        self,
        form: TrainForm,
        child_factory: Callable[[Sequence[str]], Child] = default_child,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.form = form
        self.child_factory = child_factory
        self.ask_run_folder: Callable[[RunFolderState], str] = lambda state: ask_run_folder(parent, state)
        self.confirm_resume: Callable[[str], bool] = lambda text: confirm_resume(parent, text)
        self.confirm_download: Callable[[str], bool] = lambda text: confirm_download(parent, text)
        self.worker: ProcessWorker | None = None
        self.jobs: JobQueue | None = None  # the window's: a run waits its turn while tagging runs
        self.state = "idle"
        self.run_out: str | None = None
        self.last_args: list[str] = []
        self.result: TrainEvent | None = None
        self.epoch = 0
        self.epochs = 0
        self.status = "No run yet."
        self._pace_from: tuple[float, int] | None = None  # (time, steps done) at the first training step
        self._limit_s = 0.0  # the run's time limit (0: none), counted by the trainer from the end of
        self._limit_from: float | None = None  # its preparation: the last event before training, its time
        self._epoch_rows: list[dict[str, Any]] = []  # this launch's epoch_end fields
        self._where = ""  # how far the run is, as the bar shows it now ("epoch 2 of 10")
        self._killed = False
        self.stop_timer = QTimer(self)
        self.stop_timer.setSingleShot(True)
        self.stop_timer.timeout.connect(self._stop_timed_out)
        self._progress_view: tuple[tuple[int, int] | None, int, str] | None = None  # not yet shown
        self.status_timer = QTimer(self)
        self.status_timer.setSingleShot(True)
        self.status_timer.setInterval(STATUS_MS)
        self.status_timer.timeout.connect(self._apply_progress_view)

    # -- what the buttons may do -------------------------------------------------------------------
    def busy(self) -> bool:
        """A run is in progress or waits its turn."""
        return self.worker is not None or self.state == "queued"

    def can_stop(self) -> bool:
        return self.busy() and self.state in ("running", "queued")

    def can_resume(self) -> bool:
        return not self.busy() and self.state in ("stopped", "killed", "failed") and bool(self.run_out)

    def running_job(self) -> str:
        """ "Training is running (epoch 3 of 10)" while a run is in progress, else ""."""
        return f"Training is running ({self.progress_text()})" if self.worker is not None else ""

    def progress_text(self) -> str:
        """How far the run is, as the bar shows it now ("epoch 3 of 10", "preparing the photos, 89 %"),
        for the status bar and the quit question; "" when no run is going."""
        return (self._where or "starting") if self.worker is not None else ""

    # -- launching ------------------------------------------------------------------------------
    @Slot()
    def start(self) -> bool:
        """Start a run with the form's settings (asking first when the output folder holds a run)."""
        if self.busy() or self.form.validate():
            return False
        download = self.form.download_question()
        if download and not self.confirm_download(download):
            self._set_status("Not started: the run needs to download weights first.")
            return False
        out = self.form.out_folder()
        state = check_run_folder(out)
        extra: list[str] = []
        if state.kind in ("not_a_folder", "foreign"):
            what = (
                "is a file"
                if state.kind == "not_a_folder"
                else "already holds other files and no training run"
            )
            self._show_failure(
                f"{out} {what}: it is not usable as a run folder; choose a new or empty folder.",
                "Cannot start",
            )
            return False
        if state.holds_run:
            answer = self.ask_run_folder(state)
            if answer == "resume":
                return self.resume(out)
            if answer == "overwrite":
                extra = ["--overwrite"]
            elif answer == "new":
                self.form.set_out_folder(_free_folder(out))
            else:
                return False
        self._launch(self.form.args() + extra)
        return True

    def resume(self, out: str | None = None) -> bool:
        """Continue a stopped (or earlier) run in ``out`` (default: the last run's folder) with the form's
        changes that a resume can make; changes it cannot make are explained first (``confirm_resume``)."""
        out = out or self.run_out
        if self.busy() or not out:
            return False
        applies, refused = self.resume_plan(out)
        if refused and not self.confirm_resume(resume_explanation(out, applies, refused)):
            return False
        args = ["--resume", out]
        for key, value in applies.items():
            args += ["--set", f"{key}={json.dumps(value)}"]
        self._launch(args, out)
        return True

    def resume_plan(self, out: str) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
        """What resuming run ``out`` with the form would change: (the settings ``--resume`` applies,
        {setting: (the run's value, the form's)} for those it cannot change). Both empty when the run's
        config cannot be read (the trainer then says why)."""
        try:
            saved = config_from_run_dir(Path(out))
        except ConfigError:
            return {}, {}
        form = {k: v for k, v in self.form.overrides().items() if k in CONFIG_KEYS and k != "out"}
        if form.get("init_from"):  # a bundle's architecture and size were taken from it at the start
            form.pop("arch", None)
            form.pop("image_size", None)
        try:  # the form spells the schedule out ("1:all"); a run that left it to the default has the same
            same = unfreeze_plan(
                saved.replace(freeze_backbone=form["freeze_backbone"], unfreeze=tuple(form["unfreeze"]))
            ) == unfreeze_plan(saved)
        except (ConfigError, KeyError):
            same = False
        if same:
            form.pop("freeze_backbone", None)
            form.pop("unfreeze", None)
        try:
            return resume_changes(saved, form)
        except ConfigError:
            return {}, {}

    def _launch(self, args: list[str], out: str | None = None) -> None:
        self.last_args = list(args)
        self.run_out = out or self.form.out_folder()
        self.result = None
        self.epoch = self.epochs = 0
        self._epoch_rows, self._where, self._limit_s, self._limit_from = [], "", 0.0, None
        self.launched.emit()
        if self.jobs is None:
            self._spawn(args)
        elif not self.jobs.submit("training", lambda: self._spawn(args)):
            waits = " and ".join(self.jobs.blocked_by("training")).lower()
            self._set_state("queued", f"Waiting for {waits} to finish (Run now anyway: status bar)…")

    def _spawn(self, args: list[str]) -> None:
        if self.worker is not None:
            return
        self.logged.emit(f"--- {time.strftime('%H:%M:%S')} trainer {' '.join(args)}")
        self.bar_changed.emit(0, 0, None)
        worker = ProcessWorker(self.child_factory(args), name="training", parent=self)
        worker.wired(self._on_event, self._on_finished, self._on_failed)
        worker.stderr_line.connect(self.logged)
        self.worker = worker
        self._pace_from = None
        self._set_state("running", "Starting the trainer…")
        worker.start()

    @Slot()
    def stop(self) -> None:
        """Ask the trainer to stop cleanly (it saves its last checkpoint); killed after STOP_GRACE_S.

        A run that waits its turn is dropped."""
        if self.state == "queued" and self.jobs is not None:
            self.jobs.withdraw("training")
            self._set_state("idle", "Not started: stopped while it waited.")
            return
        if self.worker is None or self.state != "running":
            return
        self._set_state("stopping", "Stopping: the trainer is saving its last checkpoint…")
        self.worker.cancel()
        self.stop_timer.start(STOP_GRACE_S * 1000)

    @Slot()
    def _stop_timed_out(self) -> None:
        if self.worker is not None:
            self.logged.emit(f"The trainer did not stop within {STOP_GRACE_S} s: killed.")
            self._killed = True
            self.worker.kill()

    def shutdown(self, msecs: int = 30_000) -> None:
        """Stop a run and wait for it (closing the window): the trainer keeps its last checkpoint."""
        if self.worker is not None:
            self.worker.cancel()
            if not self.worker.wait(msecs):
                self.worker.kill()

    # -- events -----------------------------------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        if isinstance(event, Unreadable):
            self.logged.emit(f"(unreadable trainer line: {event})")
            return
        if not isinstance(event, TrainEvent):
            return
        f = event.fields
        if event.name == RUN_STARTED:
            cfg = f.get("config") if isinstance(f.get("config"), dict) else {}
            self.epochs = int(cfg.get("epochs") or 0)
            limit = cfg.get("time_limit_min")
            self._limit_s = 60.0 * limit if isinstance(limit, (int, float)) and limit > 0 else 0.0
            self._limit_from = event.time if event.time is not None else time.time()
            ds = f.get("dataset")
            self.logged.emit(f"run started: {len(f.get('labels') or [])} labels; dataset {ds}")
            self._where = "preparing the data"
            self._set_state("running", "Preparing the data…")
        elif event.name == PROGRESS:
            self._on_progress(f, event.time)
        elif event.name == EPOCH_END:
            self.epoch = int(f["epoch"])
            self.epochs = int(f.get("epochs") or self.epochs)
            self._epoch_rows.append(dict(f))
            self.epoch_ended.emit(f)  # the trainer's own epoch line comes on stderr
        elif event.name == CHECKPOINT_SAVED:
            self.logged.emit(f"checkpoint saved: {f['path']}")
        elif event.name == LOG:
            self.logged.emit(f"{f.get('level', 'note')}: {for_window(str(f['message']))}")

    def _on_progress(self, f: dict[str, Any], sent: float | None = None) -> None:
        phase = f.get("phase")
        step, steps = f.get("step"), f.get("steps")
        if not (isinstance(step, int) and isinstance(steps, int) and steps > 0):
            return
        # Times on the trainer's clock (when the event was sent, not when the window got to it).
        now = sent if sent is not None else time.time()
        if phase != "train":
            self._on_check(str(phase), min(step, steps), steps, now)
            return
        epoch = int(f.get("epoch") or 1)
        epochs = int(f.get("epochs") or self.epochs or 1)
        self.epoch, self.epochs = epoch, epochs
        done, total = (epoch - 1) * steps + step, epochs * steps
        # ``batch_loss`` is the batch's own loss (``loss`` is the epoch's running mean, from older trainers).
        loss = f.get("batch_loss", f.get("loss"))
        if isinstance(loss, (int, float)) and not isinstance(loss, bool):
            self.batch_loss_measured.emit(done, float(loss))
        # The pace since this launch's first training step: data caching before it and the epochs a resumed
        # run skips do not count; the validation passes between epochs do, as they will again.
        if self._pace_from is None or done < self._pace_from[1]:
            self._pace_from = (now, done)
        parts = [f"Epoch {epoch} of {epochs}, step {step} of {steps}"]
        rate = f.get("samples_per_s")
        if isinstance(rate, (int, float)):
            parts.append(f"{rate:.1f} samples/s")
        left = self._time_left(done, total, now, f.get("eta_s"))
        if left:
            parts.append(left)
        self._show_progress((0, total), min(done, total), " · ".join(parts), f"epoch {epoch} of {epochs}")

    def _on_check(self, phase: str, step: int, steps: int, now: float) -> None:
        """Progress of a phase other than training: before the first training step (caching the photos) the
        bar follows it; between and after epochs the bar keeps showing the whole run."""
        words = _PHASES.get(phase, phase)
        if self._pace_from is None:
            self._limit_from = now  # the trainer's time limit starts once its preparation is done
            where = f"{words}, {percent(step, steps)} %"
            self._show_progress((0, steps), step, f"{words.capitalize()}: {step} of {steps}", where)
        else:
            where = f"epoch {self.epoch} of {self.epochs}"
            self._show_progress(
                None, 0, f"Epoch {self.epoch} of {self.epochs} · {words}: {step} of {steps}", where
            )

    def _time_left(self, done: int, total: int, now: float, epoch_eta: Any) -> str:
        """ "about 3m 10s left" from this launch's pace (the trainer's estimate for the epoch until it is
        known), never past the run's time limit: the trainer ends the run there."""
        t_first, done_first = self._pace_from or (now, done)
        eta = (now - t_first) * (total - done) / (done - done_first) if done > done_first else math.inf
        in_epoch = isinstance(epoch_eta, (int, float)) and not isinstance(epoch_eta, bool) and epoch_eta >= 0
        limit = math.inf
        if self._limit_s > 0 and self._limit_from is not None:
            limit = max(0.0, self._limit_from + self._limit_s - now)
        if limit < eta and (math.isfinite(eta) or not in_epoch or limit < epoch_eta):
            return f"about {format_duration(limit, bare_seconds=False)} left (time limit)"
        if math.isfinite(eta):
            return f"about {format_duration(eta, bare_seconds=False)} left"
        if in_epoch:
            return f"about {format_duration(epoch_eta, bare_seconds=False)} left in this epoch"
        return ""

    def _show_progress(self, bar: tuple[int, int] | None, value: int, text: str, where: str) -> None:
        """The bar (range ``bar`` and ``value``; None: left as it is), the status line and how far the run
        is (``where``, for the status bar and the quit question): at once, then at most every STATUS_MS with
        the latest, however fast events come."""
        self._progress_view = (bar, value, text, where)
        if not self.status_timer.isActive():
            self._apply_progress_view()

    @Slot()
    def _apply_progress_view(self) -> None:
        view, self._progress_view = self._progress_view, None
        if view is None:
            return
        bar, value, text, self._where = view
        if bar is not None:
            self.bar_changed.emit(bar[0], bar[1], value)
        self._set_status(text)
        self.status_timer.start()

    def _on_finished(self, result: Any) -> None:
        self.stop_timer.stop()
        killed = self._killed
        self._killed = False
        self.worker = None
        self.result = result if isinstance(result, TrainEvent) else None
        if self.result is not None and self.result.name == RUN_STOPPED:
            self.bar_changed.emit(0, 1, 0)
            said = for_window(str(self.result["message"]))
            self._set_state(
                "stopped", f"Stopped: {said}." + ("" if "Resume" in said else " Resume continues it.")
            )
        elif killed or self.result is None:
            self.bar_changed.emit(0, 1, None)
            self._set_state("killed", "The trainer was killed; Resume continues from its last saved epoch.")
        else:
            self.bar_changed.emit(0, 1, 1)
            # metrics.json holds every epoch, those of a resumed run's earlier sessions too
            rows = metrics_history(self.run_out) if self.run_out else []
            self._set_state("finished", "Finished. " + _finished_line(self.result, rows or self._epoch_rows))
        self.logged.emit(self.status)

    def _on_failed(self, message: str) -> None:
        self.stop_timer.stop()
        self._killed = False
        self.worker = None
        self.bar_changed.emit(0, 1, 0)
        message = for_window(message)
        self._show_failure(message)
        self._set_state("failed", "The run failed.")
        self.logged.emit(f"FAILED: {message}")

    def _show_failure(self, message: str, title: str = "Training failed") -> None:
        self.failure_shown.emit(f"{title}: {message}")

    def _set_status(self, text: str) -> None:
        self.status = text
        self.status_changed.emit(text)

    def _set_state(self, state: str, text: str) -> None:
        self.status_timer.stop()  # progress not yet shown is older than this
        self._progress_view = None
        self.state = state
        self._set_status(text)
        self.state_changed.emit(state)


def ask_run_folder(parent: QWidget | None, state: RunFolderState) -> str:
    """Resume, move aside or use a new folder: what to do with an output folder that holds a run."""
    box = QMessageBox(
        QMessageBox.Icon.Question, "Train", f"{state.path} holds {state.describe()}.", parent=parent
    )
    buttons = {
        box.addButton("Resume it", QMessageBox.ButtonRole.AcceptRole): "resume",
        box.addButton("Move it aside and start afresh", QMessageBox.ButtonRole.DestructiveRole): "overwrite",
        box.addButton("Use a new folder", QMessageBox.ButtonRole.ActionRole): "new",
    }
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return buttons.get(box.clickedButton(), "cancel")


def _ask(parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str, go_text: str) -> bool:
    """``text`` with a button ``go_text`` (True) and Cancel (False)."""
    box = QMessageBox(icon, title, text, parent=parent)
    go = box.addButton(go_text, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is go


def confirm_resume(parent: QWidget | None, text: str) -> bool:
    return _ask(parent, QMessageBox.Icon.Information, "Resume", text, "Resume with the run's settings")


def confirm_download(parent: QWidget | None, text: str) -> bool:
    """Start a run that must download weights first (True), or not."""
    return _ask(parent, QMessageBox.Icon.Question, "Start training", text, "Download and start")


def _free_folder(out: str) -> str:
    """``out-2``, ``out-3``… : the first that does not exist."""
    n = 2
    while os.path.lexists(f"{out}-{n}"):
        n += 1
    return f"{out}-{n}"


def _finished_line(result: TrainEvent, rows: Sequence[Mapping[str, Any]]) -> str:
    """The finished run's figures, from the epoch its model comes from (``chosen_epoch``): the numbers the
    F1 plot shows at that epoch and the runs list gives, written alike (``score_text``)."""
    m = result.get("metrics") if isinstance(result.get("metrics"), dict) else {}
    best = chosen_epoch(rows, m.get("best_epoch"))
    parts = []
    if best is not None:
        parts.append(
            f"Model from epoch {best.get('epoch')}: val F1 micro {score_text(best.get('val_f1_micro'))}, "
            f"macro {score_text(best.get('val_f1_macro'))}"
        )
        groups = best.get("val_groups")
        for g, gm in groups.items() if isinstance(groups, dict) else ():
            if isinstance(gm, dict) and score_text(gm.get("top1_accuracy")) != "–":
                parts.append(f"{g} accuracy {score_text(gm.get('top1_accuracy'))}")
    if result.get("bundle"):
        parts.append(f"model: {result['bundle']}")
    return "; ".join(parts)


# The form's names of the settings a resume may be asked to change.
_SETTING_NAMES = {
    "data": "data sources", "arch": "architecture", "image_size": "image size", "init_from": "model to start from",
    "pretrained": "ImageNet weights", "allow_random_init": "random weights allowed", "epochs": "epochs",
    "batch_size": "batch size", "lr": "learning rate", "loss": "loss", "focal_alpha": "focal α",
    "focal_gamma": "focal γ", "sampler": "sampler", "freeze_backbone": "frozen backbone",
    "unfreeze": "unfreeze schedule", "scheduler": "scheduler", "early_stopping": "early stopping",
    "time_limit_min": "time limit (min)", "device": "device", "num_workers": "workers",
}  # fmt: skip


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(_shown, value)) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def resume_explanation(out: str, applies: dict[str, Any], refused: dict[str, tuple[Any, Any]]) -> str:
    """Plain words for a resume of ``out``: what it changes, and what it keeps although the form differs."""
    lines = [f"Resuming {Path(out).name} continues the same model on the same data."]
    changed = [k for k in applies if k in _SETTING_NAMES]
    if changed:
        lines.append(
            "It takes these changes: "
            + "; ".join(f"{_SETTING_NAMES[k]} {_shown(applies[k])}" for k in changed)
            + "."
        )
    lines.append("These settings cannot change when a run resumes; it keeps its own:")
    for key, (old, new) in refused.items():
        lines.append(f"  • {_SETTING_NAMES.get(key, key)}: stays {_shown(old)} (the form says {_shown(new)})")
    lines.append("To train with them, start a new run instead.")
    return "\n".join(lines)
