"""A big library's new view (a filter, sort or search at a million photos) computed off the GUI thread.

Choosing a sort or typing a search computes the slots to show (``LibraryColumns.view``): at a million photos
that is 100-400 ms of numpy and Python, a visible freeze on the GUI thread. Here it runs on one background
thread (a ``gui.worker.Worker``; numpy's sorts, fancy indexing and comparisons release the GIL; the Python loops left give it back
every few milliseconds) and only the finished view is handed to the model on the GUI thread.

The columns keep changing meanwhile (scores stream in, a scan appends photos): a result is for the photos
that existed when it started (the model filters photos added since on the GUI thread, a chunk's worth), a
row edited meanwhile may show the filter's earlier answer (as edits never move rows anyway), and a newer
request or a reload makes an older result void. A result that raced an edit into an error is computed
again on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from fashion_desktop.core.library_columns import ViewSpec
from fashion_desktop.gui.worker import Worker

# Below this many photos a view is computed at once on the GUI thread (a few ms): what a person sees
# changes in the same event, as tests and small libraries expect.
ASYNC_VIEW_PHOTOS = 50_000


@dataclass(frozen=True)
class ViewRequest:
    spec: ViewSpec
    photos: int  # the photos (slots 0..photos-1) the view covers


class ViewJobs(QObject):
    """Views computed on a worker thread, one at a time: a request made while one runs waits for it and
    replaces any request waiting before it (typing a search asks once per pause, not once per key).
    ``ready(request, view or None)`` comes on the GUI thread for the latest request only (None: the
    computation failed, compute it again)."""

    ready = Signal(object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pending: ViewRequest | None = None  # the latest request, until its view is delivered
        self._running: Worker | None = None
        self._waiting: tuple[ViewRequest, Callable[[ViewSpec, int], np.ndarray]] | None = None

    def cancel(self) -> None:
        """Void whatever is being computed (a reload or a view computed at once replaced it)."""
        self.pending = None
        self._waiting = None

    def submit(
        self, compute: Callable[[ViewSpec, int], np.ndarray], spec: ViewSpec, photos: int
    ) -> ViewRequest:
        request = ViewRequest(spec, photos)
        self.pending = request
        self._waiting = (request, compute)
        if self._running is None:
            self._next()
        return request

    def _next(self) -> None:
        if self._waiting is None:
            return
        request, compute = self._waiting
        self._waiting = None

        def job(_cancel):
            yield  # a generator: the worker runs it off the GUI thread
            return compute(request.spec, request.photos)

        worker = Worker(job, "view", self)
        worker.wired(
            lambda _x: None,
            lambda view: self._finished(worker, request, view),
            lambda _m: self._finished(worker, request, None),
        )
        self._running = worker
        worker.start()

    def _finished(self, worker: Worker, request: ViewRequest, view) -> None:
        if self._running is worker:
            self._running = None
        if request is self.pending:  # not replaced by a newer request or voided since
            self.pending = None
            self.ready.emit(request, view)
        self._next()

    def close(self) -> None:
        self.cancel()
        if self._running is not None:
            self._running.wait()
            self._running = None
