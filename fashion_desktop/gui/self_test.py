"""``fashion-desktop --self-test``: the real window, tagging process, export and trainer on generated photos.

Everything happens in a temporary folder (library, settings, photos, exports, the training run), so
the person's own library and settings are never touched. One line per step, ``PASS`` or ``FAIL``;
the exit status is 0 only when every step passed. Meant for a fresh install or build: it answers
"does this copy really run?" in a minute or so, without a display.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

PHOTOS = 6
COLOURS = ((220, 30, 30), (30, 200, 60), (30, 60, 220))
TAG_TIMEOUT_S = 300
TRAIN_TIMEOUT_S = 600
EXPORT_TIMEOUT_S = 120
NO_DEFAULT_MODEL = (
    "this build ships no default model (resources/models/default.fmodel); "
    "pass --self-test-model PATH to check with another model bundle"
)


class StepFailed(Exception):
    """A step's check did not hold; the message says what was seen."""


def make_photos(
    folder: Path, n: int, size: tuple[int, int] = (96, 64), colours=COLOURS, prefix: str = "photo"
) -> list[Path]:
    """``n`` small JPEGs of flat colours with noise (Pillow only), written into ``folder``."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(prefix))
    paths = []
    for i in range(n):
        colour = np.array(colours[i % len(colours)])
        arr = np.clip(colour[None, None, :] + rng.normal(0, 12, (size[1], size[0], 3)), 0, 255)
        path = folder / f"{prefix}_{i:02d}.jpg"
        Image.fromarray(arr.astype(np.uint8), "RGB").save(path, quality=90)
        paths.append(path)
    return paths


def _wait(app, done: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Run the event loop until ``done()`` or raise StepFailed after ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > end:
            raise StepFailed(f"{what}: nothing after {timeout_s:.0f} s")
        app.processEvents()
        time.sleep(0.01)


class SelfTest:
    """The steps, in order; each returns a one-line detail or raises StepFailed."""

    def __init__(self, app, work: Path, model: str | None, out: TextIO) -> None:
        self.app = app
        self.work = work
        self.model = model
        self.out = out
        self.window: Any = None
        self.failed: set[str] = set()

    # -- the steps ---------------------------------------------------------------------------------
    def open_window(self) -> str:
        from fashion_desktop.gui.main_window import MainWindow

        self.window = w = MainWindow(self.work / "self-test.ffcat")
        w.show()
        self.app.processEvents()
        if not w.isVisible():
            raise StepFailed("the main window did not show")
        if not w.first_launch.isVisible():
            raise StepFailed("a new library does not show the first-launch page")
        if w.tag_panel.run_button.isEnabled():
            raise StepFailed("Tag photos is enabled before any folder was added")
        return f"main window shown on the {self.app.platformName()} platform, first-launch page in place"

    def pick_model(self) -> str:
        from fashion_desktop.model.bundle_file import read_bundle_file
        from fashion_desktop.model.resources import default_model_path

        panel = self.window.tag_panel
        if self.model:
            path = Path(self.model)
            panel.select_bundle(str(path))
        else:
            found = default_model_path()
            if found is None:
                raise StepFailed(NO_DEFAULT_MODEL)
            path = found
            if panel.current_bundle() != str(path):
                raise StepFailed(
                    f"the default model {path} is not preselected (chosen: {panel.current_bundle()})"
                )
        try:
            description = read_bundle_file(path).description
        except Exception as exc:  # whatever the file is, the line says it
            raise StepFailed(f"{path}: cannot be read as a model bundle ({exc})") from None
        which = "given" if self.model else "default"
        return f"{which} model {path.name}: {description.arch}, {len(description.labels)} labels"

    def add_photos(self) -> str:
        w = self.window
        folder = self.work / "photos"
        make_photos(folder, PHOTOS)
        scanned: list[bool] = []
        w.scan_finished.connect(lambda: scanned.append(True))
        w.library_ctl.add_folder(folder)
        _wait(self.app, lambda: bool(scanned) and w.library.image_count() >= PHOTOS, 60, "scanning")
        if w.library.image_count() != PHOTOS:
            raise StepFailed(f"{w.library.image_count()} photos in the grid, expected {PHOTOS}")
        _wait(self.app, lambda: w.grid.isVisible(), 5, "the grid replacing the first-launch page")
        if not w.tag_panel.run_button.isEnabled():
            raise StepFailed(f"Tag photos stays disabled: {w.tag_panel.run_button.toolTip()}")
        return f"{PHOTOS} generated photos scanned into the grid"

    def tag(self) -> str:
        from fashion_desktop.core.tag_process import command
        from fashion_desktop.model.protocol import Summary

        w = self.window
        ended: list[Any] = []
        w.tagging_finished.connect(ended.append)
        t0 = time.perf_counter()
        w.tag_panel.run_button.click()
        if w.tag_worker is None and not ended:
            raise StepFailed(f"Tag photos started nothing ({w.statusBar().currentMessage()})")
        _wait(self.app, lambda: bool(ended), TAG_TIMEOUT_S, "tagging")
        summary = ended[0]
        if not isinstance(summary, Summary):
            shown = w.last_warning.text() if w.last_warning is not None else w.tag_panel.rate_label.text()
            raise StepFailed(f"the tagging process failed: {shown}")
        if summary.tagged != PHOTOS or summary.failed:
            raise StepFailed(f"{summary.tagged} of {PHOTOS} photos tagged, failed: {summary.failed}")
        program, args = command("tag")
        how = " ".join([Path(program).name, *args])
        return f"{PHOTOS} photos tagged by the tagging process ({how}) in {time.perf_counter() - t0:.1f} s"

    def export(self) -> str:
        import shiboken6

        from fashion_desktop.core.spreadsheet import read_table

        w = self.window
        path = self.work / "export" / "tags.xlsx"
        path.parent.mkdir()
        dlg = w.transfer_ctl.export_dialog()
        if dlg is None:
            raise StepFailed("File → Export Tags… opened nothing")
        messages: list[str] = []
        dlg.exported.connect(messages.append)
        dlg.format_combo.setCurrentIndex(dlg.format_combo.findData("xlsx"))
        dlg.path_edit.setText(str(path))
        dlg.scores_check.setChecked(True)
        dlg.export_button.click()

        def ended() -> bool:
            if messages or not shiboken6.isValid(dlg):
                return True
            outcome = dlg.outcome()
            return outcome is not None and not outcome.ok

        _wait(self.app, ended, EXPORT_TIMEOUT_S, "the export")
        if not messages:
            shown = dlg.status_label.text() if shiboken6.isValid(dlg) else "the dialog closed"
            raise StepFailed(f"the export failed: {shown}")
        df = read_table(path, required=["path", "tags"])
        exported = sorted(Path(p).name for p in df["path"])
        expected = sorted(p.name for p in (self.work / "photos").glob("*.jpg"))
        if exported != expected:
            raise StepFailed(f"{path} lists {exported}, expected {expected}")
        scores = [c for c in df.columns if str(c).startswith("score:")]
        if not scores or any(df[c].eq("").any() for c in scores):
            raise StepFailed(f"{path}: the score columns are missing or empty")
        return f"{path.name} written and read back: {len(df)} rows, {len(scores)} score columns"

    def train(self) -> str:
        from fashion_desktop.gui.worker import ProcessWorker
        from fashion_desktop.model.protocol import FROZEN_TRAIN_FLAG, RUN_FINISHED
        from fashion_desktop.model.run_folder import BUNDLE

        data = self.work / "train-data"  # one folder per label; explicit splits: validation is never empty
        for split, n in (("train", 2), ("val", 1)):
            for cls, colour in (("red", COLOURS[0]), ("blue", COLOURS[2])):
                make_photos(data / split / cls, n, (32, 32), (colour,), f"{split}_{cls}")
        out = self.work / "train-run"
        args = ["--data", str(data), "--out", str(out), "--arch", "cnn", "--image-size", "32"]
        args += ["--epochs", "1", "--batch-size", "4", "--set", "early_stopping=0", "--set", "device=cpu"]
        child = self.window.train_tab.child_factory(args)
        worker = ProcessWorker(child, name="self-test training")
        ended: dict[str, Any] = {}
        worker.finished.connect(lambda result: ended.setdefault("result", result))
        worker.failed.connect(lambda message: ended.setdefault("failed", message))
        t0 = time.perf_counter()
        worker.start()
        try:
            _wait(self.app, lambda: bool(ended), TRAIN_TIMEOUT_S, "the training run")
        finally:
            if not ended:
                worker.kill()
        if "failed" in ended:
            raise StepFailed(f"the trainer failed: {ended['failed']}")
        result = ended["result"]
        if getattr(result, "name", "") != RUN_FINISHED or not (out / BUNDLE).is_file():
            raise StepFailed(f"the trainer ended without a model: {result}")
        frozen = getattr(sys, "frozen", False)
        how = f"{Path(child.program).name} {FROZEN_TRAIN_FLAG}" if frozen else "python -m trainer"
        return (
            f"one-epoch cnn run by the trainer ({how}) in {time.perf_counter() - t0:.1f} s, {BUNDLE} written"
        )

    # -- running them --------------------------------------------------------------------------------
    def run(self) -> int:
        steps: list[tuple[str, Callable[[], str], tuple[str, ...]]] = [
            ("window", self.open_window, ()),
            ("model", self.pick_model, ("window",)),
            ("photos", self.add_photos, ("window",)),
            ("tagging", self.tag, ("model", "photos")),
            ("export", self.export, ("tagging",)),
            ("trainer", self.train, ("window",)),
        ]
        t_all = time.perf_counter()
        for name, step, needs in steps:
            t0 = time.perf_counter()
            blocked = [n for n in needs if n in self.failed]
            try:
                if blocked:
                    raise StepFailed(f"not run: {', '.join(blocked)} failed")
                detail = step()
            except StepFailed as exc:
                self.failed.add(name)
                self._say(f"FAIL {name}: {exc}")
                continue
            except Exception as exc:
                self.failed.add(name)
                self._say(f"FAIL {name}: {type(exc).__name__}: {exc}")
                self._say(traceback.format_exc().rstrip())
                continue
            self._say(f"PASS {name}: {detail} [{time.perf_counter() - t0:.1f} s]")
        total = time.perf_counter() - t_all
        if self.failed:
            self._say(f"self-test FAILED: {len(self.failed)} of {len(steps)} steps failed ({total:.1f} s)")
        else:
            self._say(f"self-test passed: {len(steps)} of {len(steps)} steps ({total:.1f} s)")
        return 1 if self.failed else 0

    def close(self) -> None:
        if self.window is not None:
            if self.window.session is not None:  # a step that timed out may leave a run: stop it first
                self.window.session.stop_jobs()
            self.window.close()
            self.app.processEvents()

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)


def main(model: str | None = None, out: TextIO | None = None) -> int:
    """Run the self-test (``model``: a bundle to use instead of the default model); 0 when all passed."""
    out = out or sys.stdout or sys.__stdout__
    if model and not Path(model).is_file():
        print(f"FAIL model: {model}: file not found", file=out, flush=True)
        return 2
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no display needed; set it to watch the run
    with tempfile.TemporaryDirectory(prefix="fashion-self-test-") as tmp:
        work = Path(tmp)
        os.environ["FASHION_FINDER_HOME"] = str(work / "home")  # settings and caches: never the person's
        from PySide6.QtWidgets import QApplication

        from fashion_desktop.gui import settings

        app = QApplication.instance() or QApplication(sys.argv[:1])
        app.setOrganizationName(settings.ORG)
        app.setApplicationName(settings.APP)
        test = SelfTest(app, work, model, out)
        try:
            return test.run()
        finally:
            test.close()
