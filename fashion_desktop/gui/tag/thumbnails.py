"""Thumbnails decoded off the GUI thread, cached on disk (path, size, mtime, picture change) and in a bounded LRU."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict, deque
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

from fashion_desktop.gui import settings
from fashion_desktop.model.fileio import exclusive_temp
from fashion_desktop.model.images import load_thumbnail
from fashion_desktop.model.problems import PathProblem

# path, file size, mtime and when the catalog saw its picture change (0: never)
ThumbKey = tuple[str, int, float] | tuple[str, int, float, float]


def cache_file(root: Path, key: ThumbKey, size: int) -> Path:
    # A photo whose picture never changed keeps the name it had before the change time joined the key.
    changed = f"\0{key[3]!r}" if len(key) > 3 and key[3] else ""
    digest = hashlib.sha1(f"{key[0]}\0{key[1]}\0{key[2]!r}{changed}\0{size}".encode()).hexdigest()
    return root / digest[:2] / f"{digest}.jpg"


def _decode(key: ThumbKey, size: int, root: Path | None) -> QImage | str:
    """Runs on a pool thread: disk cache hit, else decode with core and write the cache."""
    target = cache_file(root, key, size) if root else None
    if target is not None and target.is_file():
        img = QImage(str(target))
        if not img.isNull():
            return img
    loaded = load_thumbnail(key[0], size)
    if isinstance(loaded, PathProblem):
        return loaded.reason
    pil = loaded.image
    data = pil.tobytes("raw", "RGB")
    img = QImage(data, pil.width, pil.height, pil.width * 3, QImage.Format.Format_RGB888).copy()
    if target is not None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = exclusive_temp(target.parent, target.name)  # never a file or link someone put there
            if img.save(str(tmp), "JPG", 85):
                os.replace(tmp, target)
            else:
                os.unlink(tmp)
        except OSError:
            pass  # a read-only or full cache only costs speed
    return img


def _nbytes(pm: QPixmap) -> int:
    return pm.width() * pm.height() * max(1, pm.depth() // 8)


def prune_disk_cache(root: Path, max_bytes: int) -> int:
    """Delete the least recently written thumbnails until the cache holds at most 80% of ``max_bytes``.

    Returns how many files were deleted. Never raises: a cache that cannot be read is left alone.
    """
    files: list[tuple[float, int, str]] = []
    total = 0
    try:
        for sub in os.scandir(root):
            if not sub.is_dir():
                continue
            for f in os.scandir(sub.path):
                try:
                    st = f.stat()
                except OSError:
                    continue
                files.append((st.st_mtime, st.st_size, f.path))
                total += st.st_size
    except OSError:
        return 0
    if total <= max_bytes:
        return 0
    removed = 0
    for _mtime, size, path in sorted(files):
        if total <= max_bytes * 0.8:
            break
        try:
            os.unlink(path)
        except OSError:
            continue
        total -= size
        removed += 1
    return removed


class _Prune(QRunnable):
    def __init__(self, root: Path, max_bytes: int) -> None:
        super().__init__()
        self._root, self._max = root, max_bytes

    def run(self) -> None:
        prune_disk_cache(self._root, self._max)


class _Signals(QObject):
    # No arguments: results wait in a locked list, so a burst of decodes costs one queued event.
    done = Signal()


class _Task(QRunnable):
    def __init__(self, loader: Thumbnailer) -> None:
        super().__init__()
        self._loader = loader
        self.setAutoDelete(True)

    def run(self) -> None:
        loader = self._loader
        while True:
            job = loader._next_job()
            if job is None:
                return
            key, size = job
            try:
                result: QImage | str = _decode(key, size, loader.disk_root)
            except Exception as exc:  # a thumbnail must never take the app down
                result = f"cannot make a thumbnail ({type(exc).__name__}: {exc})"
            with loader._lock:
                loader._results.append((key, size, result))
                notify = len(loader._results) == 1
            if notify:
                loader._signals.done.emit()


class Thumbnailer(QObject):
    """Hands out thumbnails as pixmaps; decodes missing ones in the background, newest request first.

    Only what the view asks for (what is painted, so what is visible) is decoded; requests that
    scrolled out of view are dropped once more than ``max_pending`` wait. Memory stays bounded: the
    LRU holds at most ``max_bytes`` of pixmaps.
    """

    thumbnail_ready = Signal(object)  # key

    def __init__(
        self,
        parent: QObject | None = None,
        max_bytes: int = 64 << 20,
        max_pending: int = 300,
        threads: int | None = None,
        disk_cache: bool = True,
        max_disk_bytes: int = 2 << 30,
    ) -> None:
        super().__init__(parent)
        self.max_bytes = max_bytes
        self._bytes = 0
        self.max_pending = max_pending
        self.disk_root: Path | None = settings.cache_dir() / "thumbnails" if disk_cache else None
        self._pool = QThreadPool.globalInstance()
        self._threads = threads or max(2, min(4, (os.cpu_count() or 2)))
        self._cache: OrderedDict[tuple[ThumbKey, int], QPixmap] = OrderedDict()
        self._failed: dict[ThumbKey, str] = {}
        self._queue: deque[tuple[ThumbKey, int]] = deque()
        self._queued: set[tuple[ThumbKey, int]] = set()
        self._lock = threading.Lock()
        self._running = 0
        self._closed = False
        self._results: list[tuple[ThumbKey, int, QImage | str]] = []
        self._signals = _Signals()
        self._signals.done.connect(self._on_done)
        self.decoded = 0
        if self.disk_root is not None and self.disk_root.is_dir():
            # The disk cache is bounded too; trimming it runs once per session, in the background.
            self._pool.start(_Prune(self.disk_root, max_disk_bytes), -1)

    def get(self, key: ThumbKey, size: int) -> QPixmap | None:
        """The cached pixmap, or None (and a background decode is queued)."""
        k = (key, size)
        pm = self._cache.get(k)
        if pm is not None:
            self._cache.move_to_end(k)
            return pm
        if key in self._failed or self._closed:
            return None
        with self._lock:
            if k in self._queued:
                return None
            self._queue.append(k)
            self._queued.add(k)
            while len(self._queue) > self.max_pending:
                self._queued.discard(self._queue.popleft())
            start = self._running < self._threads
            if start:
                self._running += 1
        if start:
            self._pool.start(_Task(self))
        return None

    def failure(self, key: ThumbKey) -> str | None:
        return self._failed.get(key)

    def pending(self) -> int:
        """Thumbnails asked for and not in the cache yet: queued, decoding, or decoded and waiting for the
        GUI thread to take them (a count that missed the last kind said 0 while ``get`` still said None)."""
        with self._lock:
            return len(self._queue) + self._running + len(self._results)

    def memory_bytes(self) -> int:
        return self._bytes

    def close(self) -> None:
        """Drop queued work; tasks already decoding finish on their own."""
        self._closed = True
        with self._lock:
            self._queue.clear()
            self._queued.clear()

    def _next_job(self) -> tuple[ThumbKey, int] | None:
        with self._lock:
            if not self._queue or self._closed:
                self._running -= 1
                return None
            k = self._queue.pop()  # newest first: what the user looks at now
            return k

    @Slot()
    def _on_done(self) -> None:
        with self._lock:
            results, self._results = self._results, []
            for key, size, _ in results:
                self._queued.discard((key, size))
        for key, size, result in results:
            if isinstance(result, QImage):
                pm = QPixmap.fromImage(result)
                old = self._cache.pop((key, size), None)
                if old is not None:
                    self._bytes -= _nbytes(old)
                self._cache[(key, size)] = pm
                self._bytes += _nbytes(pm)
                self.decoded += 1
            else:
                self._failed[key] = str(result)
        while self._bytes > self.max_bytes and len(self._cache) > 1:
            self._bytes -= _nbytes(self._cache.popitem(last=False)[1])
        for key, _, _ in results:
            self.thumbnail_ready.emit(key)
