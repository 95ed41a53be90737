"""The tagging process: the app's tagging runs, model comparisons, device checks and the library adapter's
refits (``adapt``: no torch; one ``notice`` event with what happened), one JSON event a line.

The app runs tagging in a child process, not a thread: importing torch holds Python's interpreter
lock for hundreds of milliseconds at a time (loading libtorch), and decoding and batching keep taking
it during the run, so in a thread of the app every paint that calls into Python waited for it
(measured: a 225 ms freeze when the first run started). A child also keeps torch's memory out of the
app, and a crash of the model (a driver, out of memory) cannot take the review session with it.

Protocol: the app writes the job as one JSON line on stdin; a later line ``cancel`` (or stdin
closing, e.g. because the app died) stops the run after the current batch, keeping what is done.
The child writes events (``model.protocol``, the tagging set) on stdout, one per line, and human logs on
stderr; anything else printed there (a library, a warning) is sent to stderr by ``guard_stdout``.
Exit status 0: the run ended (a Summary was sent, maybe cancelled); 2: a Failure was sent.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from ..model.priority import BACKGROUND_NICE, NICE_ENV, lower_priority_from_env
from ..model.protocol import (
    Devices,
    EventWriter,
    Failure,
    ModelInfo,
    Notice,
    TagEvent,
    TagScores,
    guard_stdout,
)

MODULE = "fashion_desktop.core.tag_process"
FROZEN_FLAG = "--tag-process"  # the frozen app runs this module when started with this flag
MODES = ("tag", "probe", "compare", "adapt")


def command(mode: str) -> tuple[str, list[str]]:
    """Program and arguments that start the tagging process in ``mode`` (from source or a frozen build)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    if getattr(sys, "frozen", False):
        return sys.executable, [FROZEN_FLAG, mode]
    return sys.executable, ["-m", MODULE, mode]


def child_environment() -> dict[str, str]:
    """The app's environment, with this source tree importable (the app may run from a checkout)."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env[NICE_ENV] = str(BACKGROUND_NICE)  # model.priority: the window stays responsive beside the child
    return env


def probe_devices() -> Devices:
    """Which accelerators torch sees here."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    cuda = bool(torch.cuda.is_available())
    names = tuple(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) if cuda else ()
    return Devices(cuda, bool(mps is not None and mps.is_available()), names, torch.__version__)


class TagRequestError(ValueError):
    """A tagging request the process cannot act on; the message names the field and what it needs."""


@dataclass(frozen=True)
class TagRequest:
    """What the app asks the tagging process to do in ``tag`` mode: tag the library ``catalog`` with the
    model ``bundle`` (``force``: re-score photos it already scored). Sent as one JSON object on stdin."""

    catalog: str
    bundle: str
    device: str = "auto"
    batch_size: int = 0  # 0: the engine picks
    force: bool = False
    fill_embeddings: bool = False  # also re-score photos it scored before embeddings were stored

    def to_json(self) -> dict[str, Any]:
        """The request as the JSON object the process reads (``fill_embeddings`` only when set)."""
        job: dict[str, Any] = {
            "catalog": self.catalog,
            "bundle": self.bundle,
            "device": self.device,
            "batch_size": self.batch_size,
            "force": self.force,
        }
        if self.fill_embeddings:
            job["fill_embeddings"] = True
        return job

    @classmethod
    def from_json(cls, job: object) -> TagRequest:
        """The request in ``job`` (a decoded JSON object; absent optional fields take their defaults).

        Raises TagRequestError naming the field that is missing or of the wrong kind.
        """
        if not isinstance(job, Mapping):
            kind = type(job).__name__
            raise TagRequestError(
                f"the tagging request must be a JSON object with 'catalog' and 'bundle', not {kind}"
            )
        for key, what in (("catalog", "the library's file"), ("bundle", "the model file")):
            value = job.get(key)
            if not isinstance(value, str) or not value.strip():
                raise TagRequestError(f"the tagging request needs {key!r}: the path of {what}, not {value!r}")
        device = job.get("device") or "auto"
        if not isinstance(device, str):
            raise TagRequestError(
                f"the tagging request's 'device' must be text such as 'auto', not {device!r}"
            )
        size = job.get("batch_size") or 0
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise TagRequestError(
                "the tagging request's 'batch_size' must be a whole number, 0 or more (0: automatic), "
                f"not {size!r}"
            )
        force = job.get("force") or False
        if not isinstance(force, bool):
            raise TagRequestError(f"the tagging request's 'force' must be true or false, not {force!r}")
        fill = job.get("fill_embeddings") or False
        if not isinstance(fill, bool):
            raise TagRequestError(
                f"the tagging request's 'fill_embeddings' must be true or false, not {fill!r}"
            )
        return cls(job["catalog"], job["bundle"], device, size, force, fill)


def run_tag(request: TagRequest | Mapping[str, Any], cancel: threading.Event) -> Iterator[TagEvent]:
    """Tag every present photo of the library ``request.catalog`` with ``request.bundle`` (a TagRequest,
    or its JSON object).

    Yields Devices, ModelInfo, then the engine's events with batches as TagScores, then a Summary.
    Raises TagRequestError for a bad request; BundleError, CatalogError or EngineError when the run as a
    whole cannot go on.
    """
    from fashion_desktop.model.bundle import load_bundle_converting

    from .catalog import Catalog
    from .catalog_reader import CatalogReader
    from .engine import BatchResult, ImageResult, ScoreOptions, tag_into_catalog

    job = request if isinstance(request, TagRequest) else TagRequest.from_json(request)
    yield probe_devices()
    notes: list[str] = []
    bundle = load_bundle_converting(job.bundle, notes.append)  # an old-format file: converted in memory
    yield from (Notice(note) for note in notes)
    yield ModelInfo(
        bundle.model_id, tuple(bundle.labels), dict(bundle.groups), tuple(bundle.thresholds),
        tuple(bundle.exclusive_groups), tuple(bundle.at_least_one_groups),
    )  # fmt: skip
    # Read here, not sent by the app: 100,000 paths through the pipe cost it a visible pause.
    reader = CatalogReader(job.catalog)
    try:
        present = reader.images()
    finally:
        reader.close()
    paths = list(present.paths)
    id_of = dict(zip(paths, present.ids.tolist(), strict=True))
    options = ScoreOptions(device=job.device, batch_size=job.batch_size or None)
    cat = Catalog(job.catalog)
    try:
        for event in tag_into_catalog(cat, paths, bundle, options, cancel, job.force, job.fill_embeddings):
            if isinstance(event, (BatchResult, ImageResult)):
                results = [
                    r for r in (event if isinstance(event, BatchResult) else (event,)) if str(r.path) in id_of
                ]
                if results:
                    yield TagScores(
                        np.fromiter((id_of[str(r.path)] for r in results), np.int64, len(results)),
                        np.stack([np.asarray(r.scores, np.float32) for r in results]),
                    )
                continue
            yield event
    finally:
        cat.close()


def run_compare(job: dict[str, Any], cancel: threading.Event) -> Iterator[TagEvent]:
    """Compare ``job["models"]`` (``[{"name", "bundle"}]``) on the reviewed photos of library
    ``job["catalog"]`` that ``job["exclude"]`` (``core.compare.Exclusion.from_job``) leaves in.

    Yields ``compare_models``' events, ending with a Comparison; raises as it does.
    """
    from fashion_desktop.model.scoring import ScoreOptions

    from .compare import Exclusion, compare_models

    _require(job, "compare", "catalog")
    entries = job.get("models") or []
    if not isinstance(entries, list) or not all(
        isinstance(m, Mapping) and {"name", "bundle"} <= m.keys() for m in entries
    ):
        raise TagRequestError("the comparison request's 'models' must be a list of {name, bundle} objects")
    models = [(str(m["name"]), str(m["bundle"])) for m in entries]
    options = ScoreOptions(
        device=str(job.get("device") or "auto"), batch_size=int(job.get("batch_size") or 0) or None
    )
    yield from compare_models(job["catalog"], models, Exclusion.from_job(job.get("exclude")), options, cancel)


def _watch_stdin(stream: BinaryIO, cancel: threading.Event) -> None:
    """Cancel on a ``cancel`` line or when stdin closes (the app quit or died: no orphaned runs)."""
    try:
        for line in stream:
            if line.strip() == b"cancel":
                break
    except (OSError, ValueError):
        pass
    cancel.set()


def _require(job: object, mode: str, *keys: str) -> None:
    """Refuse a request (of the window's own making, or a person's) that lacks a field, naming it."""
    if not isinstance(job, Mapping):
        raise TagRequestError(f"the {mode} request must be a JSON object, not {type(job).__name__}")
    for key in keys:
        value = job.get(key)
        if not isinstance(value, str) or not value.strip():
            raise TagRequestError(f"the {mode} request needs {key!r} (a text), not {value!r}")


def main(argv: Sequence[str] | None = None) -> int:
    lower_priority_from_env()
    args = list(sys.argv[1:] if argv is None else argv)
    mode = args[0] if args else ""
    if mode not in MODES:
        print(f"usage: python -m {MODULE} {{{'|'.join(MODES)}}} < job.json", file=sys.stderr)
        return 64
    logging.basicConfig(level=logging.INFO, format="tag-process: %(message)s", stream=sys.stderr)
    with guard_stdout() as out:
        return _serve(mode, EventWriter(out))


def _serve(mode: str, events: EventWriter) -> int:
    stdin = os.fdopen(0, "rb", closefd=False)  # not sys.stdin: None in a frozen windowed app
    first = stdin.readline()
    cancel = threading.Event()
    threading.Thread(target=_watch_stdin, args=(stdin, cancel), name="stdin-watch", daemon=True).start()
    try:
        job = json.loads(first) if first.strip() else {}
        if mode == "probe":
            events.emit(probe_devices())
            return 0
        if mode == "adapt":  # the library's adapter (no torch): one notice with what happened
            from .adapter_library import refit_to_file

            _require(job, mode, "catalog", "model_key", "out")
            done = refit_to_file(job["catalog"], job["model_key"], bool(job.get("fit")), job["out"])
            events.emit(Notice(json.dumps(done)))
            return 0
        for event in (run_compare if mode == "compare" else run_tag)(job, cancel):
            events.emit(event)
        return 0
    except BrokenPipeError:
        return 0  # the app is gone; what was tagged is in the catalog
    except Exception as exc:
        # By name: importing the classes would import torch, which may be what failed.
        expected = type(exc).__name__ in (
            "TagRequestError",
            "BundleError",
            "CatalogError",
            "EngineError",
            "TrainingTableError",
            "DeviceError",
            "AdapterError",
        )
        if not expected and not isinstance(exc, OSError):
            traceback.print_exc(file=sys.stderr)
        message = str(exc) if expected else f"{type(exc).__name__}: {exc}"
        try:
            events.emit(Failure(message))
        except OSError:
            pass
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
