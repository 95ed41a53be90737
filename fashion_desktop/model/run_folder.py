"""The run folder both processes share: its file names, how it is read, the rule for training into it."""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .bundle_format import DEFAULT_THRESHOLD
from .protocol import (
    EPOCH_END,
    PROGRESS,
    RUN_FAILED,
    RUN_FINISHED,
    RUN_STARTED,
    RUN_STOPPED,
    TRAINING,
    ProtocolError,
    TrainEvent,
    Unreadable,
    decode_line,
)

# Files a training run writes into its folder; nothing else spells these names.
CONFIG, LAST, BEST, BUNDLE, EVENTS, METRICS, CACHE, SPLITS = (
    "config.yaml",
    "last.pt",
    "best.pt",
    "model.fmodel",
    "events.jsonl",
    "metrics.json",
    "cache",
    "splits.json",
)
RUN_FILES = (CONFIG, LAST, BEST, BUNDLE, EVENTS, METRICS, CACHE, SPLITS)
# Files a run cannot be continued without; a folder with none of them holds no trained epoch.
PROGRESS_FILES = (BUNDLE, LAST, BEST)
# Litter file managers leave behind; a folder holding only these counts as empty.
IGNORED = {".DS_Store", "Thumbs.db", "desktop.ini"}
MAX_EVENTS_BYTES = 64 * 1024 * 1024  # bigger event logs are not read just to count epochs


@dataclass(frozen=True)
class RunFolderState:
    """What is at a run folder path.

    ``kind`` is one of ``absent``, ``empty``, ``unstarted`` (run files but no trained epoch: a run
    that failed early), ``stopped`` (checkpoints, no bundle), ``finished`` (a bundle), ``foreign``
    (a folder of other files) or ``not_a_folder``. ``epochs`` is how many epochs it trained, when known.
    """

    path: Path
    kind: str
    files: tuple[str, ...] = ()
    epochs: int | None = None

    @property
    def holds_run(self) -> bool:
        """True when the folder holds a trained epoch that overwriting would lose."""
        return self.kind in ("stopped", "finished")

    def describe(self) -> str:
        """``"a finished run (model.fmodel, 3 epochs)"`` and the like."""
        what = BUNDLE if self.kind == "finished" else LAST if LAST in self.files else BEST
        detail = what if self.epochs is None else f"{what}, {self.epochs} epoch{'s' * (self.epochs != 1)}"
        return f"a {self.kind} run ({detail})"


def check_run_folder(out: str | os.PathLike) -> RunFolderState:
    """Look at ``out`` without changing anything; returns its RunFolderState (never raises)."""
    path = Path(out)
    try:
        if not path.exists():
            return RunFolderState(path, "absent")
        if not path.is_dir():
            return RunFolderState(path, "not_a_folder")
        names = tuple(sorted(n for n in os.listdir(path) if n not in IGNORED))
    except OSError:
        return RunFolderState(path, "absent" if not os.path.lexists(path) else "foreign")
    if not names:
        return RunFolderState(path, "empty")
    if BUNDLE in names:
        kind = "finished"
    elif LAST in names or BEST in names:
        kind = "stopped"
    elif all(n in RUN_FILES for n in names):
        kind = "unstarted"
    else:  # "config.yaml" or "cache" beside other files is somebody's project, not a run that failed
        return RunFolderState(path, "foreign", names)
    return RunFolderState(path, kind, names, _epochs_trained(path) if kind != "unstarted" else None)


def metrics_history(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The epoch rows (as ``epoch_end`` sent them) that finished run ``path`` keeps in metrics.json: every
    session's, a resumed run's earlier ones too; [] when there is none."""
    history = _read_json(Path(path) / METRICS).get("history")
    return [row for row in history if isinstance(row, dict)] if isinstance(history, list) else []


def _epochs_trained(path: Path) -> int | None:
    """Epochs in the run's history: metrics.json of a finished run, else the events log; None if unknown."""
    history = _read_json(path / METRICS).get("history")
    if isinstance(history, list):
        return len(history)
    if not (path / EVENTS).is_file():
        return None
    events, _skipped, _problem = _read_events(path / EVENTS, batches=False)
    epochs = {e["epoch"] for e in events if e.get("event") == EPOCH_END}
    return max(epochs) if epochs else None


def run_folder_problem(out: str | os.PathLike, resume: bool = False, overwrite: bool = False) -> str | None:
    """Why training into ``out`` must not start, as the one-line message with the fix; None when it may.

    ``resume`` continues the run in ``out``; ``overwrite`` lets a run there be moved aside first
    (``move_aside``). A folder of other files is refused either way: it may be anything.
    """
    state = check_run_folder(out)
    where = str(state.path)
    if state.kind == "not_a_folder":
        return f"{where} is a file, not a run folder; choose another --out"
    linked = [n for n in state.files if n in RUN_FILES and (state.path / n).is_symlink()]
    if linked:
        return (
            f"{state.path / linked[0]} is a link: a run's files are never written through links (it could point "
            "at any file); remove it or train into a new --out"
        )
    if resume:
        return None  # the resume path checks config.yaml itself
    if state.kind == "foreign":
        shown = ", ".join(state.files[:5]) + (", ..." if len(state.files) > 5 else "")
        return (
            f"{where} already holds other files ({shown}) and no training run; "
            "train into a new or empty folder with --out"
        )
    if state.holds_run and not overwrite:
        return (
            f"{where} holds {state.describe()}; continue it with --resume {where}, "
            "train into a new --out, or pass --overwrite to move the old run aside"
        )
    return None


def move_aside(out: str | os.PathLike) -> Path:
    """Rename run folder ``out`` to ``OUT.old-<timestamp>`` (``-N`` added when taken); returns the new
    path. Nothing is deleted. Raises OSError when the rename fails."""
    path = Path(out)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.old-{stamp}")
    n = 1
    while os.path.lexists(target):
        n += 1
        target = path.with_name(f"{path.name}.old-{stamp}-{n}")
    os.rename(path, target)
    return target


# ---------------------------------------------------------------- runs history (what the Train tab lists)

RUNNING_WITHIN_S = 300.0  # a run without an end event whose events file changed this recently is running
_TERMINAL = {RUN_FINISHED: "finished", RUN_STOPPED: "stopped", RUN_FAILED: "failed"}


@dataclass(frozen=True)
class RunInfo:
    """One run folder as the runs list shows it.

    ``state``: ``finished``, ``stopped`` (resumable), ``failed``, ``running`` (no end event yet and its
    events file written in the last RUNNING_WITHIN_S seconds) or ``unknown`` (no end event: killed,
    crashed, or a folder without events). ``started`` is seconds since the epoch (the first event, else
    config.yaml's modification time). ``best_f1_micro``/``best_f1_macro`` are the validation F1 (at 0.5)
    of the epoch the run's model comes from (``chosen_epoch``: the trainer's choice). ``message`` is
    the failure or stop message, if any, or why events.jsonl could not be read to its end (a newer
    protocol). ``config`` is the run's config (config.yaml, else its run_started event's);
    ``final_groups`` the final per-group metrics of each evaluated split (``{"val": {group: {...}},
    "test": {...}}``, from metrics.json; empty until the run finished).
    """

    name: str
    path: Path
    state: str
    started: float | None
    arch: str | None
    epochs_done: int
    epochs_planned: int | None
    best_f1_micro: float | None
    best_f1_macro: float | None
    bundle: Path | None
    message: str = ""
    init_from: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    final_groups: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EpochRow:
    """One epoch's point of the curves (the last ``epoch_end`` for that epoch wins: a resumed run redoes
    the interrupted one). ``groups`` holds per-group metrics when the trainer sent them, else None;
    ``fields`` every field of the event (what the live plots were given)."""

    epoch: int
    train_loss: float | None
    val_loss: float | None
    val_f1_micro: float | None
    val_f1_macro: float | None
    lr: float | None
    groups: dict[str, Any] | None = None
    time: float | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchPoint:
    """A training ``progress`` event: ``batch_loss`` is that batch's loss (None in runs from before the
    trainer sent it), ``mean_loss`` the epoch's mean so far; ``epoch`` is 1-based."""

    epoch: int
    step: int
    steps: int
    batch_loss: float | None
    mean_loss: float | None
    time: float | None = None


@dataclass(frozen=True)
class RunRecord:
    """Everything a run folder tells: its RunInfo, config (config.yaml, else the run_started event's),
    the per-epoch and per-batch curves from events.jsonl, metrics.json (``metrics``; empty when absent)
    and the final per-group metrics of each evaluated split (``final_groups``: ``{"val": {group: {...}},
    "test": {...}}``). ``skipped_lines`` counts events lines that could not be read (a truncated last
    line of a run being written, say)."""

    info: RunInfo
    config: dict[str, Any]
    epochs: list[EpochRow] = field(default_factory=list)
    batches: list[BatchPoint] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    final_groups: dict[str, Any] = field(default_factory=dict)
    skipped_lines: int = 0


def _num(value: Any) -> float | None:
    """A finite or non-finite float from an event field; None when it is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _as_dict(event: TrainEvent) -> dict[str, Any]:
    return {"event": event.name, "time": event.time, **event.fields}


def _read_events(path: Path, batches: bool) -> tuple[list[dict[str, Any]], int, str]:
    """The readable events of ``path`` (only those of interest; ``progress`` too when ``batches``), how
    many lines could not be read, and why the file was not read to its end ("" when it was).

    Lines go through the protocol's decoder: a line of a newer protocol stops the reading with its
    message. Missing, unreadable or oversized files give no events.
    """
    names = (RUN_STARTED, EPOCH_END, *_TERMINAL) + ((PROGRESS,) if batches else ())
    wanted = tuple(f'"{n}"' for n in names)  # a cheap look before decoding: most lines are progress
    out: list[dict[str, Any]] = []
    skipped = 0
    try:
        if path.stat().st_size > MAX_EVENTS_BYTES and not batches:
            return out, 0, ""
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not any(w in line for w in wanted):
                    if line.strip() and not line.lstrip().startswith("{"):
                        skipped += 1
                    continue
                event = decode_line(line, TRAINING)
                if isinstance(event, Unreadable):
                    skipped += 1
                elif event.name in names:
                    out.append(_as_dict(event))
    except ProtocolError as exc:
        return out, skipped, f"{path}: {exc}"
    except OSError:
        pass
    return out, skipped, ""


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_config(path: Path) -> dict[str, Any]:
    """config.yaml as a dict; {} when absent or unreadable (PyYAML is pure Python and loads no torch)."""
    try:
        import yaml

        data = yaml.safe_load((path / CONFIG).read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - a damaged config must not hide the run from the list
        return {}
    return data if isinstance(data, dict) else {}


def _epoch_rows(events: list[dict[str, Any]]) -> list[EpochRow]:
    rows: dict[int, EpochRow] = {}
    for e in events:
        if e.get("event") != EPOCH_END or not isinstance(e.get("epoch"), int):
            continue
        groups = e.get("val_groups") if isinstance(e.get("val_groups"), dict) else None
        rows[e["epoch"]] = EpochRow(
            e["epoch"],
            _num(e.get("train_loss")),
            _num(e.get("val_loss")),
            _num(e.get("val_f1_micro")),
            _num(e.get("val_f1_macro")),
            _num(e.get("lr")),
            groups,
            _num(e.get("time")),
            {k: v for k, v in e.items() if k not in ("event", "protocol", "time")},
        )
    return [rows[k] for k in sorted(rows)]


def chosen_epoch(rows: Sequence[Mapping[str, Any]], best_epoch: Any = None) -> Mapping[str, Any] | None:
    """The ``epoch_end`` fields of the epoch a run's model comes from, of ``rows`` (one per epoch): epoch
    ``best_epoch`` (the trainer's choice, from run_finished or metrics.json) when listed, else the last
    one the trainer marked ``improved``, else (trainers from before ``improved``) the one with the
    highest validation F1 macro; None when no row has a figure. The finished line, the runs list and the
    plots' F1 point at that epoch all show its ``val_f1_macro``: one number."""
    by_epoch = {r.get("epoch"): r for r in rows}
    if isinstance(best_epoch, int) and not isinstance(best_epoch, bool) and best_epoch in by_epoch:
        return by_epoch[best_epoch]
    improved = [r for r in rows if r.get("improved") is True]
    if improved:
        return improved[-1]
    scored = [r for r in rows if (f := _num(r.get("val_f1_macro"))) is not None and math.isfinite(f)]
    return max(scored, key=lambda r: float(r["val_f1_macro"])) if scored else None


def score_text(value: Any) -> str:
    """A metric as the Train tab writes it everywhere ("0.361"), "–" when there is none."""
    number = _num(value)
    return f"{number:.3f}" if number is not None and math.isfinite(number) else "–"


def _batch_points(events: list[dict[str, Any]]) -> list[BatchPoint]:
    out = []
    for e in events:
        if e.get("event") != PROGRESS or e.get("phase") != "train":
            continue
        epoch, step, steps = e.get("epoch"), e.get("step"), e.get("steps")
        if not all(isinstance(v, int) for v in (epoch, step, steps)):
            continue
        out.append(
            BatchPoint(
                epoch, step, steps, _num(e.get("batch_loss")), _num(e.get("loss")), _num(e.get("time"))
            )
        )
    return out


def _final_groups(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {
        split: metrics[split]["groups"]
        for split in ("val", "test")
        if isinstance(metrics.get(split), dict) and isinstance(metrics[split].get("groups"), dict)
    }


def _info(
    path: Path,
    events: list[dict[str, Any]],
    config: dict[str, Any],
    epochs: list[EpochRow],
    final_groups: Mapping[str, Any] | None = None,
    problem: str = "",
    best_epoch: Any = None,
) -> RunInfo:
    starts = [i for i, e in enumerate(events) if e.get("event") == RUN_STARTED]
    session = events[starts[-1] :] if starts else events  # after a resume, its last session decides
    state, message = "", ""
    for e in session:
        if e.get("event") in _TERMINAL:
            state, message = _TERMINAL[e["event"]], str(e.get("message") or "")
    message = problem or message  # what was read may not be the run's end
    if not config and starts and isinstance(events[starts[-1]].get("config"), dict):
        config = events[starts[-1]]["config"]
    bundle = path / BUNDLE if (path / BUNDLE).is_file() else None
    if not state:
        if bundle is not None:
            state = "finished"
        else:
            try:
                recent = time.time() - (path / EVENTS).stat().st_mtime < RUNNING_WITHIN_S
            except OSError:
                recent = False
            state = "running" if recent else "unknown"
    started = next((_num(e.get("time")) for e in events if _num(e.get("time")) is not None), None)
    if started is None:
        try:
            started = (path / CONFIG).stat().st_mtime
        except OSError:
            started = None
    best = chosen_epoch([{"epoch": r.epoch, **r.fields} for r in epochs], best_epoch)
    planned = config.get("epochs")
    arch = config.get("arch")
    init_from = config.get("init_from")
    return RunInfo(
        path.name,
        path,
        state,
        started,
        arch if isinstance(arch, str) else None,
        len(epochs),
        planned if isinstance(planned, int) and not isinstance(planned, bool) else None,
        _num(best.get("val_f1_micro")) if best else None,
        _num(best.get("val_f1_macro")) if best else None,
        bundle,
        message,
        init_from if isinstance(init_from, str) else None,
        config,
        dict(final_groups or {}),
    )


def _looks_like_run(path: Path) -> bool:
    try:
        return path.is_dir() and any((path / n).exists() for n in (CONFIG, EVENTS, BUNDLE, LAST, BEST))
    except OSError:
        return False


def read_run(path: str | os.PathLike) -> RunRecord:
    """Everything run folder ``path`` holds (see RunRecord); never raises: missing or damaged files give
    empty parts, and a run still being written gives what is there so far."""
    path = Path(path)
    events, skipped, problem = _read_events(path / EVENTS, batches=True)
    config = _read_config(path)
    epochs = _epoch_rows(events)
    metrics = _read_json(path / METRICS)
    final_groups = _final_groups(metrics)
    info = _info(path, events, config, epochs, final_groups, problem, metrics.get("best_epoch"))
    return RunRecord(info, dict(info.config), epochs, _batch_points(events), metrics, final_groups, skipped)


def list_runs(folder: str | os.PathLike) -> list[RunInfo]:
    """Every run folder directly under ``folder`` (a folder holding config.yaml, events.jsonl, a bundle
    or a checkpoint; runs moved aside as ``NAME.old-...`` included), newest first. A missing or
    unreadable ``folder`` gives []; never raises."""
    root = Path(folder)
    try:
        children = sorted(root.iterdir())
    except OSError:
        return []
    out = []
    for child in children:
        if not _looks_like_run(child):
            continue
        events, _skipped, problem = _read_events(child / EVENTS, batches=False)
        config = _read_config(child)
        metrics = _read_json(child / METRICS)
        epochs = _epoch_rows(events)
        out.append(
            _info(child, events, config, epochs, _final_groups(metrics), problem, metrics.get("best_epoch"))
        )
    out.sort(key=lambda r: r.started or 0.0, reverse=True)
    return out


def find_runs(folder: str | os.PathLike) -> list[RunInfo]:
    """``folder`` itself when it is a run folder, else the runs directly under it (``list_runs``)."""
    path = Path(folder)
    if _looks_like_run(path) and not any(_looks_like_run(child) for child in _children(path)):
        return [read_run(path).info]
    return list_runs(path)


def _children(path: Path) -> list[Path]:
    try:
        return [c for c in path.iterdir() if c.is_dir() and c.name != CACHE]
    except OSError:
        return []


# ---------------------------------------------------------------- which photos a run learnt from

SPLITS_FORMAT = "fashion-run-splits"
# The splits a run learnt from: it trained on "train" and chose its best epoch and thresholds on "val".
LEARNT_FROM = ("train", "val")


def write_splits(out: str | os.PathLike, splits: Mapping[str, Sequence[str]], merge: bool = False) -> Path:
    """Record the photos of each split of a run as ``OUT/splits.json`` (absolute paths), atomically.

    ``splits`` maps a split name to its photo paths; with ``merge`` (a resumed run) the paths an earlier
    session recorded stay recorded too. Returns the file's path; raises OSError when it cannot be written.
    The file: ``{"format": "fashion-run-splits", "version": 1, "splits": {"train": [path, ...], ...}}``.
    """
    path = Path(out) / SPLITS
    merged: dict[str, list[str]] = {}
    if merge:
        merged = {k: list(v) for k, v in (read_splits(path.parent) or {}).items()}
    for name, paths in splits.items():
        known = dict.fromkeys(merged.get(name, []))
        known.update(dict.fromkeys(os.path.abspath(os.fspath(p)) for p in paths))
        merged[name] = list(known)
    data = {"format": SPLITS_FORMAT, "version": 1, "splits": merged}
    fd, tmp = tempfile.mkstemp(prefix=".splits-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


class SplitsError(ValueError):
    """A splits.json that cannot be read or is not in its format; the message names the file."""


def load_splits(file: str | os.PathLike) -> dict[str, list[str]]:
    """The photos of each split in splits file ``file`` (``write_splits``), checked against its format.

    Raises SplitsError naming the file when it cannot be read, is not JSON, or is not a splits file.
    """
    try:
        data = json.loads(Path(file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SplitsError(f"{file}: cannot read which photos the run trained on ({exc})") from None
    splits = data.get("splits") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("format") != SPLITS_FORMAT or not isinstance(splits, dict):
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise SplitsError(
            f"{file}: cannot read which photos the run trained on "
            f"(not a {SPLITS_FORMAT!r} file; its format is {found!r})"
        )
    return {
        str(k): [str(p) for p in v if isinstance(p, str)] for k, v in splits.items() if isinstance(v, list)
    }


def read_splits(run: str | os.PathLike) -> dict[str, list[str]] | None:
    """The photos of each split run folder ``run`` recorded (``write_splits``); None when it recorded none
    or the file cannot be read (never raises)."""
    try:
        return load_splits(Path(run) / SPLITS)
    except SplitsError:
        return None


@dataclass(frozen=True)
class TrainedOn:
    """Which photos of a library a run learnt from, as far as its folder tells.

    ``splits_file``: the run's splits.json when the trainer recorded one (its ``LEARNT_FROM`` splits are
    the photos it learnt from). Older runs: ``folders`` (the folders among its data sources: photos under
    them may have been trained on) and ``library_read_at`` (when the library was a source: the start of
    its last session; photos reviewed by then were read). ``library_source`` says the library was a source.
    """

    splits_file: Path | None
    folders: tuple[str, ...] = ()
    library_read_at: float | None = None
    library_source: bool = False

    def describe(self) -> str:
        """One plain line: what is left out of a comparison on the library's photos."""
        if self.splits_file is not None:
            return "left out: the photos the run trained and validated on (from its splits.json)"
        parts = []
        if self.library_source:
            parts.append("the library photos reviewed before the run started (it read them)")
        if self.folders:
            parts.append(f"photos under its {len(self.folders)} data folder{'s' * (len(self.folders) != 1)}")
        return "left out: " + " and ".join(parts) if parts else "the run read nothing of this library"

    def to_job(self) -> dict[str, Any]:
        """The ``exclude`` part of a tagging-process comparison job (``core.compare``)."""
        return {
            "splits_file": str(self.splits_file) if self.splits_file is not None else None,
            "splits": list(LEARNT_FROM),
            "folders": list(self.folders),
            "reviewed_until": self.library_read_at,
        }


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def trained_on(run: str | os.PathLike, library: str | os.PathLike | None) -> TrainedOn:
    """What run folder ``run`` learnt from of the library (catalog file) ``library``; never raises."""
    path = Path(run)
    if (path / SPLITS).is_file() and read_splits(path) is not None:
        return TrainedOn(path / SPLITS)
    record = read_run(path)
    entries = record.config.get("data") or []
    sources = [e.get("path") if isinstance(e, dict) else e for e in entries]
    sources = [str(s) for s in sources if isinstance(s, (str, os.PathLike))]
    on_library = library is not None and any(_same_file(s, os.fspath(library)) for s in sources)
    folders = tuple(os.path.abspath(s) for s in sources if os.path.isdir(s))
    read_at = None
    if on_library:
        events, _, _problem = _read_events(path / EVENTS, batches=False)
        starts = [_num(e.get("time")) for e in events if e.get("event") == RUN_STARTED]
        read_at = next((t for t in reversed(starts) if t is not None), None)
        if read_at is None:
            read_at = record.info.started if record.info.started is not None else time.time()
    return TrainedOn(None, folders, read_at, on_library)


# A run's metrics (and its bundle's): the labels whose threshold was not tuned on validation, and where it
# came from instead ({"min_positives": 10, "labels": {label: FROM_PREVIOUS | FROM_DEFAULT}}).
THRESHOLDS_NOT_TUNED = "thresholds_not_tuned"
FROM_PREVIOUS, FROM_DEFAULT = "previous model", "default"


def untuned_note(metrics: Mapping[str, Any]) -> str:
    """One line for a person on the labels whose thresholds a run could not tune (too few validation
    photos) and what they use instead; "" when it tuned them all (or the metrics do not say)."""
    info = metrics.get(THRESHOLDS_NOT_TUNED)
    labels = info.get("labels") if isinstance(info, Mapping) else None
    if not isinstance(labels, Mapping) or not labels:
        return ""
    need = info.get("min_positives", "enough")
    previous = [str(lab) for lab, why in labels.items() if why == FROM_PREVIOUS]
    default = [str(lab) for lab, why in labels.items() if why != FROM_PREVIOUS]

    def names(items: list[str]) -> str:
        return ", ".join(items[:10]) + (f" and {len(items) - 10} more" if len(items) > 10 else "")

    parts = [f"{names(default)} use {DEFAULT_THRESHOLD:g}"] if default else []
    parts += [f"{names(previous)} keep the previous model's"] if previous else []
    n = len(labels)
    return (
        f"{n} label{'s' * (n != 1)} had fewer than {need} validation photos each, too few to set a "
        f"threshold on: {'; '.join(parts)}."
    )
