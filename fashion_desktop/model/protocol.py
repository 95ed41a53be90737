"""The JSON-lines events of both child processes (tagging and training): envelope, version rule, writer, decoder.

Every line is one JSON object ``{"event": name, "protocol": N, "time": t, ...fields}``. A reader accepts
any version up to its own and refuses a newer one (``ProtocolError`` naming both); lines it cannot use
(stray prints, unknown events, bad fields) come back as ``Unreadable`` with the reason, for the caller
to log. Standard library and numpy only: the app decodes events without importing torch.
"""

from __future__ import annotations

import base64
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any, ClassVar, TextIO

import numpy as np

from .problems import PathProblem

# 1: tagging events were {"type", "v"} lines and the trainer's {"event", "protocol", "time"}, each with
#    its own rules; 2: one envelope and one set of rules for both.
PROTOCOL_VERSION = 2

# A frozen build has no ``python -m trainer``: its own executable started with this flag first runs the
# trainer's command line (the tagging process has its flag in ``core.tag_process``).
FROZEN_TRAIN_FLAG = "--train-process"


class ProtocolError(ValueError):
    """Events of a newer protocol than this reader knows, or an event name this writer does not know."""


# ---------------------------------------------------------------- tagging events (typed)


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` photos handled (scored or failed); rate and estimated seconds left."""

    EVENT: ClassVar[str] = "progress"
    done: int
    total: int
    img_per_s: float
    eta_s: float | None

    def to_wire(self) -> dict[str, Any]:
        return {"done": self.done, "total": self.total, "img_per_s": self.img_per_s, "eta_s": self.eta_s}

    @classmethod
    def from_wire(cls, m: Mapping[str, Any]) -> Progress:
        eta = m["eta_s"]
        return cls(
            int(m["done"]), int(m["total"]), float(m["img_per_s"]), None if eta is None else float(eta)
        )


@dataclass(frozen=True)
class ImageResult:
    """Scores (sigmoid of the logits, float32, in the bundle's label order) of one photo (in-process only)."""

    path: Path
    scores: np.ndarray


@dataclass(frozen=True)
class BatchResult:
    """The photos of one model batch (in-process only; the tagging process sends them as TagScores), with
    the pooled features [B, D] float32 the model's head read for them (None when the model has no known head)."""

    results: tuple[ImageResult, ...]
    features: np.ndarray | None = None

    def __iter__(self) -> Iterator[ImageResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)


class ImageError(PathProblem):
    """A photo that could not be scored, and why (the run goes on): the one path + reason type, as an event."""

    __slots__ = ()
    EVENT = "image_error"

    def to_wire(self) -> dict[str, Any]:
        return {"path": str(self.path), "reason": self.reason}

    @classmethod
    def from_wire(cls, m: Mapping[str, Any]) -> ImageError:
        return cls(Path(_str(m["path"])), _str(m["reason"]))


@dataclass(frozen=True)
class Notice:
    """Something a person may want to know that does not stop the run (e.g. the batch was halved)."""

    EVENT: ClassVar[str] = "notice"
    message: str

    def to_wire(self) -> dict[str, Any]:
        return {"message": self.message}

    @classmethod
    def from_wire(cls, m: Mapping[str, Any]) -> Notice:
        return cls(_str(m["message"]))


@dataclass(frozen=True)
class Summary:
    """The end of a catalog run: counts, each failed photo with its reason, and whether it was cancelled."""

    EVENT: ClassVar[str] = "summary"
    tagged: int
    skipped: int
    failed: list[PathProblem] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0

    def to_wire(self) -> dict[str, Any]:
        return {
            "tagged": self.tagged,
            "skipped": self.skipped,
            "failed": [[str(p), r] for p, r in self.failed],
            "cancelled": self.cancelled,
            "seconds": self.seconds,
        }

    @classmethod
    def from_wire(cls, m: Mapping[str, Any]) -> Summary:
        failed = [PathProblem(Path(_str(p)), _str(r)) for p, r in m["failed"]]
        return cls(int(m["tagged"]), int(m["skipped"]), failed, bool(m["cancelled"]), float(m["seconds"]))


@dataclass(frozen=True)
class ModelInfo:
    """The model a run tags with, sent before the first photo so the app can show its labels."""

    EVENT: ClassVar[str] = "model"
    key: str
    labels: tuple[str, ...]
    groups: Mapping[str, str]
    thresholds: tuple[float, ...]
    exclusive: tuple[str, ...] = ()  # its exclusive groups (absent from older children: none)
    at_least_one: tuple[str, ...] = ()  # its at-least-one groups (absent from older children: none)

    def to_wire(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "labels": list(self.labels),
            "groups": dict(self.groups),
            "thresholds": [float(t) for t in self.thresholds],
            "exclusive": list(self.exclusive),
            "at_least_one": list(self.at_least_one),
        }

    @classmethod
    def from_wire(cls, m: Mapping[str, Any]) -> ModelInfo:
        labels = tuple(_str(x) for x in m["labels"])
        thresholds = tuple(float(t) for t in m["thresholds"])
        if len(thresholds) != len(labels):
            raise ValueError(f"{len(thresholds)} thresholds for {len(labels)} labels")
        groups = {_str(k): _str(v) for k, v in dict(m["groups"]).items()}
        exclusive = tuple(_str(g) for g in m.get("exclusive") or ())
        at_least_one = tuple(_str(g) for g in m.get("at_least_one") or ())
        return cls(_str(m["key"]), labels, groups, thresholds, exclusive, at_least_one)


@dataclass(frozen=True)
class TagScores:
    """Scores of one batch keyed by catalog image id ([n] int64 ids, [n, labels] float32 scores)."""

    EVENT: ClassVar[str] = "scores"
    ids: np.ndarray
    scores: np.ndarray

    def to_wire(self) -> dict[str, Any]:
        scores = np.ascontiguousarray(self.scores, "<f4")
        # base64 of the float32 bytes: exact, and a tenth of the size of decimal text
        data = base64.b64encode(scores.tobytes()).decode("ascii")
        return {"ids": [int(i) for i in self.ids], "shape": list(scores.shape), "data": data}

    @classmethod
    def from_wire(cls, m: Mapping[str, Any]) -> TagScores:
        ids = np.asarray(m["ids"], np.int64)
        shape = tuple(int(x) for x in m["shape"])
        if len(shape) != 2 or shape[0] != len(ids):
            raise ValueError(f"{len(ids)} ids for scores of shape {shape}")
        raw = base64.b64decode(_str(m["data"]), validate=True)
        scores = np.frombuffer(raw, "<f4").astype(np.float32).reshape(shape)
        return cls(ids, scores)


@dataclass(frozen=True)
class Devices:
    """What torch sees in the tagging process: accelerators, their names, torch's version."""

    EVENT: ClassVar[str] = "devices"
    cuda: bool
    mps: bool
    cuda_names: tuple[str, ...] = ()
    torch: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {"cuda": self.cuda, "mps": self.mps, "cuda_names": list(self.cuda_names), "torch": self.torch}

    @classmethod
    def from_wire(cls, m: Mapping[str, Any]) -> Devices:
        names = tuple(_str(n) for n in m["cuda_names"])
        return cls(bool(m["cuda"]), bool(m["mps"]), names, _str(m["torch"]))


@dataclass(frozen=True)
class Failure:
    """The run as a whole stopped (bad bundle, out of memory at batch size 1, ...); the message says why."""

    EVENT: ClassVar[str] = "failure"
    message: str

    def to_wire(self) -> dict[str, Any]:
        return {"message": self.message}

    @classmethod
    def from_wire(cls, m: Mapping[str, Any]) -> Failure:
        return cls(_str(m["message"]))


@dataclass(frozen=True)
class Comparison:
    """The end of a comparison run (``core.compare``): models scored on the same held-out photos.

    ``photos``: the reviewed photos compared (readable, not learnt from); ``excluded``: reviewed photos
    left out because the run learnt from them; ``unreadable``: photos that could not be scored.
    ``models``: one mapping per model, in the order asked: ``name``, ``bundle`` (path), ``model_id``,
    ``groups`` ({group: metrics as ``model.metrics.metrics_by_group`` gives them}). ``verdict``: of two
    models, whether the second (new) tags better than the first (``core.compare_verdict.verdict``).
    """

    EVENT: ClassVar[str] = "comparison"
    photos: int
    excluded: int
    unreadable: int = 0
    models: tuple[Mapping[str, Any], ...] = ()
    verdict: Mapping[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {
            "photos": self.photos,
            "excluded": self.excluded,
            "unreadable": self.unreadable,
            "models": [dict(m) for m in self.models],
            "verdict": dict(self.verdict),
        }

    @classmethod
    def from_wire(cls, m: Mapping[str, Any]) -> Comparison:
        models = tuple(dict(x) for x in m["models"])
        for x in models:
            _str(x["name"])
            if not isinstance(x.get("groups"), dict):
                raise TypeError("a compared model without groups")
        verdict = m.get("verdict") or {}
        if not isinstance(verdict, dict):
            raise TypeError("a comparison's verdict must be a mapping")
        return cls(int(m["photos"]), int(m["excluded"]), int(m.get("unreadable") or 0), models, verdict)


Event = Progress | BatchResult | ImageError | Notice | Summary  # what the engine yields in-process
TagEvent = Progress | ImageError | Notice | Summary | ModelInfo | TagScores | Devices | Failure | Comparison
TAG_EVENT_TYPES: tuple[type, ...] = (
    Progress,
    ImageError,
    Notice,
    Summary,
    ModelInfo,
    TagScores,
    Devices,
    Failure,
    Comparison,
)

# ---------------------------------------------------------------- training events (named, free fields)
#
# What the trainer (``fashion train --events``) sends, and the fields a reader can count on:
#   run_started      config, dataset (counts), labels, groups, input_size, pretrained, device, precision,
#                    resumed_at_epoch, notes
#   progress         phase: "cache" | "train" | "val" | "test", step, steps; in "train" also epoch,
#                    epochs (1-based of N), loss (the epoch's mean loss so far), batch_loss (this
#                    batch's loss), samples_per_s, eta_s (seconds left in this epoch's training pass).
#                    Rate-limited to progress_per_s (2 a second by default), so batch_loss is a sample of
#                    the batches; the last step of a phase always goes out.
#   epoch_end        epoch (1-based), epochs, improved, train_loss, val_loss, val_f1_micro, val_f1_macro,
#                    val_map, lr, trainable_params, partial, seconds; val_groups {group: {top1_accuracy,
#                    f1_micro, f1_macro, and balanced_accuracy for an exclusive group}} (validation per
#                    label group at 0.5; older trainers leave it out, and a figure may be null when the
#                    group has no known positive)
#   checkpoint_saved path, kind ("best" | "last"), epoch
#   run_finished     bundle, metrics {val, val_groups, test, test_groups, best_epoch}, test_split
#   run_failed       message (one line: the cause and the fix)
#   run_stopped      message, checkpoint, resume (the run folder to --resume)
#   log              message, level
#   dataset_preview  (``fashion train --preview --events``, instead of a run) labels, groups
#                    {label: group}, images {split: n}, counts {split: {label: positives}},
#                    known {split: {label: photos whose answer is known}}, warnings [str], sources {name: n},
#                    inputs [{path, source, images, labels}] (per data entry in order; labels as the data
#                    spells them, before its mapping), rare [labels with under 10 training examples],
#                    with --init-from also init_from {path, kept, new, dropped}

RUN_STARTED = "run_started"
PROGRESS = "progress"
EPOCH_END = "epoch_end"
CHECKPOINT_SAVED = "checkpoint_saved"
RUN_FINISHED = "run_finished"
RUN_FAILED = "run_failed"
RUN_STOPPED = "run_stopped"  # SIGTERM / cancel: last checkpoint saved, resumable with --resume
LOG = "log"  # a human-readable note (warnings the app may show)
DATASET_PREVIEW = "dataset_preview"  # the data a run would train on, without training (--preview)

TRAIN_EVENTS = (
    RUN_STARTED,
    PROGRESS,
    EPOCH_END,
    CHECKPOINT_SAVED,
    RUN_FINISHED,
    RUN_FAILED,
    RUN_STOPPED,
    LOG,
    DATASET_PREVIEW,
)
# Fields a reader relies on, with their types; other fields are free (config, metrics, ...).
_TRAIN_REQUIRED: dict[str, dict[str, type | tuple[type, ...]]] = {
    RUN_STARTED: {},
    PROGRESS: {},
    EPOCH_END: {"epoch": int},
    CHECKPOINT_SAVED: {"path": str},
    RUN_FINISHED: {},
    RUN_FAILED: {"message": str},
    RUN_STOPPED: {"message": str},
    LOG: {"message": str},
    DATASET_PREVIEW: {"labels": list, "counts": dict},
}
# Fields a reader may use when they are there (older trainers leave them out); a present one of another
# type makes the line unreadable, like a bad required field.
_TRAIN_OPTIONAL: dict[str, dict[str, type | tuple[type, ...]]] = {
    EPOCH_END: {"val_groups": dict},
}
_ENVELOPE = ("event", "protocol", "time")


@dataclass(frozen=True)
class TrainEvent:
    """One trainer event: its name and fields (``event["metrics"]`` reads a field), and when it was sent."""

    name: str
    fields: Mapping[str, Any]
    time: float | None = None

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def __contains__(self, key: object) -> bool:
        return key in self.fields

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    @classmethod
    def from_wire(cls, name: str, m: Mapping[str, Any]) -> TrainEvent:
        for key, kind in _TRAIN_REQUIRED[name].items():
            if not isinstance(m.get(key), kind) or isinstance(m.get(key), bool):
                raise ValueError(f"field {key!r} is missing or not {getattr(kind, '__name__', kind)}")
        for key, kind in _TRAIN_OPTIONAL.get(name, {}).items():
            if key in m and not isinstance(m[key], kind):
                raise ValueError(f"field {key!r} is not {getattr(kind, '__name__', kind)}")
        when = m.get("time")
        fields = {k: v for k, v in m.items() if k not in _ENVELOPE}
        return cls(name, fields, float(when) if isinstance(when, (int, float)) else None)


# ---------------------------------------------------------------- what a reader expects


@dataclass(frozen=True)
class EventSet:
    """The events one kind of child sends: event name -> how to build it from the decoded line."""

    kind: str
    decoders: Mapping[str, Callable[[Mapping[str, Any]], Any]]


TAGGING = EventSet("tagging", {cls.EVENT: cls.from_wire for cls in TAG_EVENT_TYPES})
TRAINING = EventSet("training", {name: partial(TrainEvent.from_wire, name) for name in TRAIN_EVENTS})


@dataclass(frozen=True)
class Unreadable:
    """A line from a child that is not an event this reader can use (``line`` is cut to 500 characters)."""

    line: str
    reason: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.line[:120]!r}"


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _clean(value: Any) -> Any:
    """Make ``value`` strict JSON: NaN/inf become None, tuples lists, numpy scalars Python numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    item = getattr(value, "item", None)  # numpy / torch scalars
    if callable(item):
        try:
            return _clean(item())
        except (TypeError, ValueError):
            pass
    return str(value)


def to_json(value: Any, indent: int | None = None) -> str:
    """``value`` as strict JSON text (NaN/inf as null, numpy scalars as numbers), for files written beside events."""
    return json.dumps(_clean(value), ensure_ascii=False, indent=indent, allow_nan=False)


def _payload(event: str | TagEvent | TrainEvent, fields: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    if isinstance(event, str):
        if event not in TRAIN_EVENTS:
            raise ProtocolError(f"unknown event {event!r}")
        return event, _clean(dict(fields))
    if fields:
        raise TypeError("fields go with an event name, not with an event object")
    if isinstance(event, TrainEvent):
        return event.name, _clean(dict(event.fields))
    if isinstance(event, TagScores):  # ints and one string already: cleaning would only cost time
        return event.EVENT, event.to_wire()
    if isinstance(event, TAG_EVENT_TYPES):
        return event.EVENT, _clean(event.to_wire())
    raise TypeError(f"not an event: {type(event).__name__}")


def encode(event: str | TagEvent | TrainEvent, /, **fields: Any) -> str:
    """One event as a single JSON line (no newline) in the envelope of this protocol version.

    Takes a trainer event name with its fields (JSON-able; NaN becomes null), or a typed tagging event
    or a TrainEvent. Raises ProtocolError for an unknown event name, TypeError for anything else.
    """
    name, payload = _payload(event, fields)
    clash = [k for k in _ENVELOPE if k in payload]
    if clash:
        raise ProtocolError(f"event {name!r}: field name {clash[0]!r} is part of the envelope")
    msg = {"event": name, "protocol": PROTOCOL_VERSION, "time": round(time.time(), 3), **payload}
    return json.dumps(msg, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def decode_line(line: str | bytes, events: EventSet) -> Any:
    """The event on one line, or ``Unreadable`` with the reason when it is not one of ``events``.

    Raises ProtocolError (naming both versions) for an event of a newer protocol than this reader's.
    """
    text = (line.decode("utf-8", "replace") if isinstance(line, (bytes, bytearray)) else line).strip()
    try:
        msg = json.loads(text)
    except ValueError:
        return Unreadable(text[:500], "not JSON (a stray print?)")
    name = msg.get("event") if isinstance(msg, dict) else None
    if not isinstance(name, str):
        return Unreadable(text[:500], "JSON without an event name")
    version = msg.get("protocol")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return Unreadable(text[:500], f"event {name!r} without a valid protocol version ({version!r})")
    if version > PROTOCOL_VERSION:
        raise ProtocolError(
            f"event protocol {version} is newer than this app understands ({PROTOCOL_VERSION}); update the app"
        )
    decoder = events.decoders.get(name)
    if decoder is None:
        return Unreadable(text[:500], f"unknown {events.kind} event {name!r}")
    try:
        return decoder(msg)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return Unreadable(text[:500], f"bad fields for {name!r} ({type(exc).__name__}: {exc})")


class LineDecoder:
    """Turns what a child's stdout pipe delivers, chunk by chunk, into events and ``Unreadable`` lines.

    A line split across reads is put back together; blank lines are skipped.
    """

    def __init__(self, events: EventSet) -> None:
        self.events = events
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> Iterator[Any]:
        """Add ``chunk`` and yield what every line now complete holds (events or ``Unreadable``).

        Raises ProtocolError (from the iterator) at a line of a newer protocol; the lines after it stay
        unread.
        """
        self._buffer += chunk  # now, not when the caller first iterates
        return self._complete_lines()

    def finish(self) -> Iterator[Any]:
        """Yield what a last line without a newline holds (the child has ended)."""
        self._buffer += b"\n"
        return self._complete_lines()

    def _complete_lines(self) -> Iterator[Any]:
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                return
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if line.strip():
                yield decode_line(line, self.events)


def decode_lines(lines: str | bytes | Sequence[str | bytes], events: EventSet) -> list[Any]:
    """Every event and ``Unreadable`` line in ``lines`` (text, bytes, or a sequence of lines), in order.

    Raises ProtocolError at a line of a newer protocol.
    """
    if isinstance(lines, (str, bytes)):
        lines = lines.splitlines()
    return [decode_line(x, events) for x in lines if x.strip()]


# ---------------------------------------------------------------- writing


class EventWriter:
    """Writes events as lines to a stream (stdout by default), optionally appends them to a file and
    hands each to listeners (a terminal report, say).

    ``enabled=False`` (ranks other than 0) makes every call a no-op; ``progress`` is rate-limited;
    ``to_stream=False`` writes no lines (a person at a terminal reads the listeners' output instead).
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        enabled: bool = True,
        log_path: str | None = None,
        max_progress_per_s: float = 2.0,
        *,
        to_stream: bool = True,
        listeners: Sequence[Callable[[str, Mapping[str, Any]], None]] = (),
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.enabled = enabled
        self.log_path = log_path
        self.to_stream = to_stream
        self.listeners = list(listeners)
        self.set_progress_rate(max_progress_per_s)
        self._last_progress = -math.inf
        self._lock = threading.Lock()  # progress callbacks may come from worker threads

    def set_progress_rate(self, max_progress_per_s: float) -> None:
        """At most this many ``progress`` events a second (0: no limit)."""
        self._min_gap = 1.0 / max_progress_per_s if max_progress_per_s > 0 else 0.0

    def emit(self, event: str | TagEvent | TrainEvent, /, **fields: Any) -> None:
        """Write one event line and flush it (a reading process sees it at once). Raises as ``encode``."""
        if not self.enabled:
            return
        line = encode(event, **fields)
        with self._lock:
            if self.to_stream:
                self.stream.write(line + "\n")
                self.stream.flush()
            if self.log_path:
                # Appended, never through a link planted at its name (O_NOFOLLOW: that raises instead).
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
                with os.fdopen(os.open(self.log_path, flags, 0o666), "a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
        if self.listeners:
            msg = json.loads(line)
            name = msg.pop("event")
            for listener in self.listeners:
                listener(name, msg)

    def progress(self, force: bool = False, **fields: Any) -> bool:
        """Emit a trainer ``progress`` event unless one went out less than the minimum gap ago; True if sent.

        The last step of a phase (``step >= steps``) always goes out, so a reader's bar ends at 100 %.
        """
        now = time.monotonic()
        last_step = isinstance(fields.get("step"), int) and fields.get("step", 0) >= fields.get(
            "steps", 1 << 62
        )
        with self._lock:
            if not force and not last_step and now - self._last_progress < self._min_gap:
                return False
            self._last_progress = now
        self.emit(PROGRESS, **fields)
        return True


@contextmanager
def guard_stdout() -> Iterator[TextIO]:
    """Keep the real stdout for events and send everything else printed there to stderr.

    Yields the stream events go to. ``sys.stdout`` points at stderr meanwhile, and when stdout is file
    descriptor 1 (a child's pipe), fd 1 is pointed at stderr too, so C libraries and subprocesses
    cannot corrupt the event stream either. Everything is put back on exit.
    """
    original = sys.stdout
    if original is not None:  # None in a frozen windowed app; the pipe is still fd 1
        original.flush()
    saved = None
    try:
        on_fd1 = original is None or original.fileno() == 1
    except (AttributeError, OSError, ValueError):  # a replaced sys.stdout (a test's capture, say)
        on_fd1 = False
    if on_fd1:
        try:
            saved = os.dup(1)
            os.dup2(2, 1)
        except OSError:  # no fd 1 or no fd 2: only sys.stdout can be guarded
            if saved is not None:
                os.close(saved)
            saved = None
    if saved is not None:
        events: TextIO = os.fdopen(os.dup(saved), "w", encoding="utf-8", newline="\n", buffering=1)
    elif original is not None:
        events = original
    else:
        events = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    sys.stdout = sys.stderr  # may be None in a frozen windowed app: prints are then dropped
    try:
        yield events
    finally:
        try:
            events.flush()
        except (OSError, ValueError):
            pass
        sys.stdout = original
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)
        if events is not original:
            try:
                events.close()
            except OSError:
                pass
