"""Events of a tagging run, and their one-JSON-object-per-line form between the tagging process and the app.

Standard library and numpy only: the app decodes these without importing torch.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..model.problems import PathProblem

PROTOCOL_VERSION = 1


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` photos handled (scored or failed); rate and estimated seconds left."""

    done: int
    total: int
    img_per_s: float
    eta_s: float | None


@dataclass(frozen=True)
class ImageResult:
    """Scores (sigmoid of the logits, float32, in the bundle's label order) of one photo."""

    path: Path
    scores: np.ndarray


@dataclass(frozen=True)
class BatchResult:
    """The photos of one model batch."""

    results: tuple[ImageResult, ...]

    def __iter__(self) -> Iterator[ImageResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)


@dataclass(frozen=True)
class ImageError:
    """A photo that could not be scored, and why (the run goes on)."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Notice:
    """Something a person may want to know that does not stop the run (e.g. the batch was halved)."""

    message: str


@dataclass(frozen=True)
class Summary:
    """The end of a catalog run: counts, each failed photo with its reason, and whether it was cancelled."""

    tagged: int
    skipped: int
    failed: list[PathProblem] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0


@dataclass(frozen=True)
class ModelInfo:
    """The model a run tags with, sent before the first photo so the app can show its labels."""

    key: str
    labels: tuple[str, ...]
    groups: Mapping[str, str]
    thresholds: tuple[float, ...]


@dataclass(frozen=True)
class TagScores:
    """Scores of one batch keyed by catalog image id ([n] int64 ids, [n, labels] float32 scores)."""

    ids: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class Devices:
    """What torch sees in the tagging process: accelerators, their names, torch's version."""

    cuda: bool
    mps: bool
    cuda_names: tuple[str, ...] = ()
    torch: str = ""


@dataclass(frozen=True)
class Failure:
    """The run as a whole stopped (bad bundle, out of memory at batch size 1, ...); the message says why."""

    message: str


Event = Progress | BatchResult | ImageError | Notice | Summary
WireEvent = Progress | ImageError | Notice | Summary | ModelInfo | TagScores | Devices | Failure


class ProtocolError(ValueError):
    """A line from the tagging process that is not one of its events (a different app version?)."""


def _b64_array(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, "<f4").tobytes()).decode("ascii")


def encode_event(event: WireEvent) -> str:
    """One event as one line of JSON (no newline). Raises TypeError for anything else."""
    msg: dict[str, Any]
    if isinstance(event, Progress):
        msg = {"type": "progress", "done": event.done, "total": event.total, "img_per_s": event.img_per_s}
        msg["eta_s"] = event.eta_s
    elif isinstance(event, ImageError):
        msg = {"type": "image_error", "path": str(event.path), "reason": event.reason}
    elif isinstance(event, Notice):
        msg = {"type": "notice", "message": event.message}
    elif isinstance(event, Summary):
        msg = {
            "type": "summary",
            "tagged": event.tagged,
            "skipped": event.skipped,
            "failed": [[str(p), r] for p, r in event.failed],
            "cancelled": event.cancelled,
            "seconds": event.seconds,
        }
    elif isinstance(event, ModelInfo):
        msg = {"type": "model", "key": event.key, "labels": list(event.labels), "groups": dict(event.groups)}
        msg["thresholds"] = [float(t) for t in event.thresholds]
    elif isinstance(event, TagScores):
        scores = np.asarray(event.scores, np.float32)
        msg = {"type": "scores", "ids": [int(i) for i in event.ids], "shape": list(scores.shape)}
        msg["data"] = _b64_array(scores)  # exact float32, and a tenth of the size of decimal text
    elif isinstance(event, Devices):
        msg = {"type": "devices", "cuda": event.cuda, "mps": event.mps, "cuda_names": list(event.cuda_names)}
        msg["torch"] = event.torch
    elif isinstance(event, Failure):
        msg = {"type": "failure", "message": event.message}
    else:
        raise TypeError(f"not a tagging event: {type(event).__name__}")
    msg["v"] = PROTOCOL_VERSION
    return json.dumps(msg, ensure_ascii=False, separators=(",", ":"))


def decode_event(line: str | bytes) -> WireEvent:
    """The event on one line written by ``encode_event``. Raises ProtocolError for anything else."""
    try:
        msg = json.loads(line)
        kind = msg["type"]
        if msg.get("v") != PROTOCOL_VERSION:
            raise ProtocolError(f"protocol version {msg.get('v')!r}, expected {PROTOCOL_VERSION}")
        if kind == "progress":
            return Progress(int(msg["done"]), int(msg["total"]), float(msg["img_per_s"]), msg["eta_s"])
        if kind == "image_error":
            return ImageError(Path(msg["path"]), str(msg["reason"]))
        if kind == "notice":
            return Notice(str(msg["message"]))
        if kind == "summary":
            return Summary(
                int(msg["tagged"]),
                int(msg["skipped"]),
                [PathProblem(Path(p), str(r)) for p, r in msg["failed"]],
                bool(msg["cancelled"]),
                float(msg["seconds"]),
            )
        if kind == "model":
            labels = tuple(str(x) for x in msg["labels"])
            thresholds = tuple(float(t) for t in msg["thresholds"])
            return ModelInfo(str(msg["key"]), labels, dict(msg["groups"]), thresholds)
        if kind == "scores":
            ids = np.asarray(msg["ids"], np.int64)
            shape = tuple(int(x) for x in msg["shape"])
            scores = np.frombuffer(base64.b64decode(msg["data"]), "<f4").astype(np.float32).reshape(shape)
            if len(shape) != 2 or shape[0] != len(ids):
                raise ProtocolError(f"{len(ids)} ids for scores of shape {shape}")
            return TagScores(ids, scores)
        if kind == "devices":
            names = tuple(str(n) for n in msg["cuda_names"])
            return Devices(bool(msg["cuda"]), bool(msg["mps"]), names, str(msg["torch"]))
        if kind == "failure":
            return Failure(str(msg["message"]))
    except ProtocolError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ProtocolError(f"unreadable event ({type(exc).__name__}: {exc}): {str(line)[:120]}") from None
    raise ProtocolError(f"unknown event type {kind!r}")


def iter_lines(buffer: bytearray) -> Iterator[bytes]:
    """Take every complete line out of ``buffer`` (what a pipe delivered so far), leaving the rest."""
    while True:
        end = buffer.find(b"\n")
        if end < 0:
            return
        line = bytes(buffer[:end])
        del buffer[: end + 1]
        if line.strip():
            yield line
