"""JSON-lines event protocol between the trainer (stdout, rank 0) and its readers; standard library only."""

from __future__ import annotations

import json
import math
import sys
import time
from typing import IO, Any

PROTOCOL_VERSION = 1

RUN_STARTED = "run_started"
PROGRESS = "progress"
EPOCH_END = "epoch_end"
CHECKPOINT_SAVED = "checkpoint_saved"
RUN_FINISHED = "run_finished"
RUN_FAILED = "run_failed"
RUN_STOPPED = "run_stopped"  # SIGTERM / cancel: last checkpoint saved, resumable with --resume
LOG = "log"  # a human-readable note (warnings the GUI may show)

EVENTS = (RUN_STARTED, PROGRESS, EPOCH_END, CHECKPOINT_SAVED, RUN_FINISHED, RUN_FAILED, RUN_STOPPED, LOG)


class ProtocolError(ValueError):
    """A line that is not an event of a protocol version this code understands."""


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
    item = getattr(value, "item", None)  # numpy / torch scalars
    if callable(item):
        try:
            return _clean(item())
        except (TypeError, ValueError):
            pass
    return str(value)


def encode(event: str, **fields: Any) -> str:
    """One event as a single JSON line (no trailing newline).

    Args: ``event`` one of EVENTS; ``fields`` JSON-able payload (NaN becomes null).
    Raises: ProtocolError for an unknown event name.
    """
    if event not in EVENTS:
        raise ProtocolError(f"unknown event {event!r}")
    payload = {"event": event, "protocol": PROTOCOL_VERSION, "time": round(time.time(), 3)}
    payload.update(_clean(fields))
    return json.dumps(payload, separators=(",", ":"), allow_nan=False)


def decode(line: str) -> dict[str, Any] | None:
    """Parse one stdout line. Returns the event dict, or None for blank/non-JSON lines (stray prints).

    Raises ProtocolError for a JSON event from a newer protocol version or without an event name.
    """
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or "event" not in obj:
        raise ProtocolError(f"not an event: {line[:80]}")
    version = obj.get("protocol")
    if not isinstance(version, int) or version > PROTOCOL_VERSION:
        raise ProtocolError(
            f"event protocol {version!r} is not supported (this reader knows {PROTOCOL_VERSION})"
        )
    return obj


class EventWriter:
    """Writes events to a stream (stdout by default) and optionally appends them to a file.

    ``enabled=False`` (ranks other than 0) makes every call a no-op. ``progress`` is rate-limited.
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        enabled: bool = True,
        log_path: str | None = None,
        max_progress_per_s: float = 2.0,
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.enabled = enabled
        self.log_path = log_path
        self._min_gap = 1.0 / max_progress_per_s if max_progress_per_s > 0 else 0.0
        self._last_progress = 0.0

    def emit(self, event: str, **fields: Any) -> None:
        """Write one event line and flush (so a reading process sees it at once)."""
        if not self.enabled:
            return
        line = encode(event, **fields)
        self.stream.write(line + "\n")
        self.stream.flush()
        if self.log_path:
            with open(self.log_path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def progress(self, force: bool = False, **fields: Any) -> bool:
        """Emit a ``progress`` event unless one went out less than the minimum gap ago; True if sent."""
        now = time.monotonic()
        if not force and now - self._last_progress < self._min_gap:
            return False
        self._last_progress = now
        self.emit(PROGRESS, **fields)
        return True
