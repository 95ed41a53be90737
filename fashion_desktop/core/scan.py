"""Folder scanning: a lazy, recursive walk that reports problems and keeps going, and catalog sync."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from ..model.cancel import CancelFlag, is_cancelled
from ..model.images import EXTENSIONS, UNSUPPORTED_EXTENSIONS, header_size
from ..model.problems import PathProblem, printable
from .catalog import Catalog, FileInfo, ImageInfo, SyncCounts
from .fingerprint import fingerprint, is_legacy, legacy_hash

# Windows marks hidden files with an attribute rather than a leading dot.
_FILE_ATTRIBUTE_HIDDEN = getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 2)
_CANCEL_CHECK_EVERY = 256


@dataclass(frozen=True)
class ScanProgress:
    """Where a folder sync stands: files found so far, catalog changes, problems so far, finished?"""

    found: int
    counts: SyncCounts
    problems: list[PathProblem] = field(default_factory=list)
    done: bool = False
    cancelled: bool = False


def normalise_extensions(extensions: Iterable[str]) -> frozenset[str]:
    """Lower-case extensions without dots: ``[".JPG", "png"]`` -> ``{"jpg", "png"}``."""
    return frozenset(e.lower().lstrip(".") for e in extensions if e.strip(". "))


def _hidden(entry: os.DirEntry) -> bool:
    if entry.name.startswith("."):
        return True
    if os.name == "nt":
        try:
            attrs = entry.stat(follow_symlinks=False).st_file_attributes  # type: ignore[attr-defined]
        except (OSError, AttributeError):
            return False
        return bool(attrs & _FILE_ATTRIBUTE_HIDDEN)
    return False


_UNLISTABLE = ("permission denied", "cannot list")


def _folder_error(path: str, exc: OSError) -> PathProblem:
    if isinstance(exc, PermissionError):
        reason = "permission denied (cannot list this folder); its photos were skipped"
    elif isinstance(exc, FileNotFoundError):
        reason = "folder disappeared during the scan (moved or deleted?)"
    elif isinstance(exc, NotADirectoryError):
        reason = "not a folder"
    else:
        reason = f"cannot list this folder ({exc.strerror or exc}); its photos were skipped"
    return PathProblem(Path(path), reason)


def _dir_key(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def scan(
    folders: str | os.PathLike | Iterable[str | os.PathLike],
    extensions: Iterable[str] = EXTENSIONS,
    cancel: CancelFlag = None,
) -> Iterator[FileInfo | PathProblem]:
    """Walk ``folders`` recursively and yield each photo (FileInfo) or problem (PathProblem) as found.

    Takes a folder or folders, the extensions to accept (any case, with or without the dot) and an
    optional cancel flag (checked often; the walk simply stops). Paths are absolute, with symlinks
    in the given roots resolved. Hidden files and folders are skipped; symlinked folders are
    followed, each real folder at most once, so link loops end. Folders that cannot be listed or
    vanish mid-walk, and photos of a type this build cannot read (its decoder is missing), are
    yielded as PathProblem and the walk goes on. Never raises for bad folders.
    """
    if isinstance(folders, (str, os.PathLike)):
        folders = [folders]
    exts = normalise_extensions(extensions)
    visited: set[tuple[int, int]] = set()
    seen_entries = 0
    for root in folders:
        root_path = os.path.realpath(os.path.abspath(os.fspath(root)))
        if not os.path.isdir(root_path):
            reason = (
                "not a folder"
                if os.path.exists(root_path)
                else "folder not found (moved, deleted or unplugged?)"
            )
            yield PathProblem(Path(root_path), reason)
            continue
        key = _dir_key(root_path)
        if key is not None:
            if key in visited:
                continue
            visited.add(key)
        # Depth-first with an explicit stack: files of a folder are yielded while it is being listed.
        stack = [root_path]
        while stack:
            if is_cancelled(cancel):
                return
            current = stack.pop()
            subdirs: list[str] = []
            try:
                with os.scandir(current) as it:
                    for entry in it:
                        seen_entries += 1
                        if seen_entries % _CANCEL_CHECK_EVERY == 0 and is_cancelled(cancel):
                            return
                        if _hidden(entry):
                            continue
                        item = _classify(entry, exts, visited, subdirs)
                        if item is not None:
                            yield item
            except OSError as exc:
                yield _folder_error(current, exc)
            # Reverse-sorted so that popping visits sub-folders in name order (stable, predictable runs).
            stack.extend(sorted(subdirs, reverse=True))


def _classify(
    entry: os.DirEntry, exts: frozenset[str], visited: set[tuple[int, int]], subdirs: list[str]
) -> FileInfo | PathProblem | None:
    try:
        is_dir = entry.is_dir()  # follows symlinks
    except OSError:
        is_dir = False
    if is_dir:
        if not _valid_text(entry.name):
            return PathProblem(Path(printable(entry.path)), _BAD_NAME + " (folder skipped)")
        key = _dir_key(entry.path)
        if key is None:
            return _folder_error(entry.path, FileNotFoundError())
        if key in visited:
            if entry.is_symlink():
                return PathProblem(
                    Path(entry.path), "link to a folder that was already scanned (loop?); skipped"
                )
            return None
        visited.add(key)
        subdirs.append(entry.path)
        return None
    ext = os.path.splitext(entry.name)[1].lower().lstrip(".")
    if ext not in exts:
        # A photo of a type that cannot be read is named, or a person wonders why it was never tagged.
        unsupported = UNSUPPORTED_EXTENSIONS.get(ext)
        if unsupported is None or not _is_file(entry):
            return None
        return PathProblem(Path(printable(entry.path)), unsupported)
    try:
        st = entry.stat()  # follows symlinks; cached from the listing on Windows
    except FileNotFoundError:
        if entry.is_symlink():
            return PathProblem(Path(entry.path), "broken link (its target does not exist)")
        return PathProblem(Path(entry.path), "file disappeared during the scan")
    except OSError as exc:
        return PathProblem(Path(entry.path), f"cannot read file information ({exc.strerror or exc})")
    if not stat.S_ISREG(st.st_mode):
        return None
    if not _valid_text(entry.name):
        return PathProblem(Path(printable(entry.path)), _BAD_NAME)
    # Windows reports no inode number from a listing (0): unknown, never compared.
    return FileInfo(entry.path, int(st.st_size), float(st.st_mtime), st.st_ctime_ns, st.st_ino or None)


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()  # follows symlinks
    except OSError:
        return False


_BAD_NAME = "the name is not valid text (bytes from another system's encoding); rename it to use it"


def _valid_text(name: str) -> bool:
    """False for POSIX names holding undecodable bytes (surrogate escapes), which no catalog or sheet can store."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def folder_name_problem(folder: str | os.PathLike) -> str | None:
    """Why a folder cannot be added because of its own name (bytes of another encoding), or None."""
    text = os.fspath(folder)
    if _valid_text(text):
        return None
    return f"{printable(text)}: the folder's name is not valid text (bytes from another system's encoding); rename it to use it"


def sync_folder(
    catalog: Catalog,
    folder: str | os.PathLike,
    extensions: Iterable[str] = EXTENSIONS,
    cancel: CancelFlag = None,
    batch_size: int = 500,
    max_interval_s: float = 0.5,
    describe: bool = True,
) -> Iterator[ScanProgress]:
    """Scan ``folder`` into ``catalog`` and yield progress after every batch written.

    Registers the folder, writes batches of at most ``batch_size`` files (or whatever was found in
    ``max_interval_s``, so a slow drive still shows a live count) and ends with a ScanProgress whose
    ``done`` is True. Files not seen are marked missing only when the walk completed: a cancelled
    scan, or one whose folder is unreachable, leaves the catalog's view of unseen files as it was, and
    photos under a sub-folder that exists but could not be listed stay present (with their scores).
    After a complete walk, files new or changed since the last scan get their width, height and
    content hash (``describe_folder``), in batches, before the last progress — unless ``describe`` is
    False (the app shows the photos first and describes them in a job of its own).
    Raises CatalogError only if the catalog itself cannot be written.
    """
    root = os.path.realpath(os.path.abspath(os.fspath(folder)))
    folder_id = catalog.add_folder(root)
    token = catalog.new_scan_token(folder_id)
    counts = SyncCounts()
    problems: list[PathProblem] = []
    batch: list[FileInfo] = []
    found = 0
    last_flush = time.monotonic()
    root_missing = False

    def progress(done: bool = False, cancelled: bool = False) -> ScanProgress:
        return ScanProgress(found, replace(counts), list(problems), done, cancelled)

    for item in scan(root, extensions, cancel):
        if isinstance(item, PathProblem):
            problems.append(item)
            root_missing = root_missing or str(item.path) == root
            continue
        batch.append(item)
        found += 1
        if len(batch) >= batch_size or time.monotonic() - last_flush >= max_interval_s:
            catalog.record_scan_batch(folder_id, batch, token, counts)
            batch = []
            last_flush = time.monotonic()
            yield progress()
    if batch:
        catalog.record_scan_batch(folder_id, batch, token, counts)
    if is_cancelled(cancel):
        yield progress(done=True, cancelled=True)
        return
    if not root_missing:
        _keep_unlisted(catalog, folder_id, root, problems, token)
        catalog.finish_scan(folder_id, token, counts)
        # Files whose size, time, ctime or inode changed are fingerprinted now, even when the rest is
        # described later: until then nobody can tell a new picture from keywords written into it.
        if describe or counts.changed:
            _describe_undescribed(catalog, folder_id, cancel, batch_size, changed_only=not describe)
    yield progress(done=True, cancelled=is_cancelled(cancel))


def _keep_unlisted(
    catalog: Catalog, folder_id: int, root: str, problems: list[PathProblem], token: float
) -> None:
    """Photos under a sub-folder that could not be listed (but still exists) are not "removed"."""
    blocked = [
        str(p.path) + os.sep for p in problems if p.reason.startswith(_UNLISTABLE) and os.path.isdir(p.path)
    ]
    if not blocked:
        return
    keep = [
        FileInfo(r.path, r.size, r.mtime)
        for r in catalog.images(folder=root)
        if r.size is not None and r.mtime is not None and r.path.startswith(tuple(blocked))
    ]
    if keep:
        catalog.record_scan_batch(folder_id, keep, token, SyncCounts())


def content_hash(file: BinaryIO, size: int, like: str | None = None) -> str:
    """The fingerprint of a photo's picture data, metadata left out (``core.fingerprint``).

    Takes a binary file (read from its start; its position moves) and its size in bytes. With ``like``
    (a hash the catalog holds) an older catalog's hash, which covered the metadata too, is computed the
    old way, so the two can be compared. A photo moved or renamed keeps its hash, which is how a moved
    folder is relinked; keywords written into it keep it too. Raises OSError when the file cannot be read.
    """
    if like is not None and is_legacy(like):
        return legacy_hash(file, size)
    return fingerprint(file, size)


def describe(image_id: int, path: str, size: int, mtime: float, prior: str | None = None) -> ImageInfo | None:
    """Width, height (from the image header) and content hash of the catalog's image ``image_id``.

    Takes the size and mtime the catalog knows the file by and ``prior``, the hash it held before a
    scan saw the file change ("": none known); returns None when the file no longer has that size and
    mtime (the next scan records the change, then describes it) or cannot be read. Never raises.
    """
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if st.st_size != size or abs(st.st_mtime - mtime) > 1e-6:
                return None
            digest = content_hash(fh, size)
            same = None
            if prior is not None:  # an older catalog's hash is compared with the file's hash made its way
                same = (
                    bool(prior)
                    and (content_hash(fh, size, like=prior) if is_legacy(prior) else digest) == prior
                )
            fh.seek(0)
            dims = header_size(fh)
    except OSError:
        return None
    width, height = dims if dims is not None else (None, None)
    return ImageInfo(image_id, size, mtime, width, height, digest, same)


def describe_folder(
    catalog: Catalog, folder: str | os.PathLike, cancel: CancelFlag = None, batch_size: int = 500
) -> int:
    """Give the folder's photos that have none yet their width, height and content hash.

    Takes the catalog, a folder of the library, an optional cancel flag and the transaction size;
    returns how many photos were described. Raises CatalogError only if the catalog cannot be written.
    """
    root = os.path.realpath(os.path.abspath(os.fspath(folder)))
    return _describe_undescribed(catalog, catalog.add_folder(root), cancel, batch_size)


def _describe_undescribed(
    catalog: Catalog, folder_id: int, cancel: CancelFlag, batch_size: int, changed_only: bool = False
) -> int:
    """Describe the folder's images that have no content hash yet (new, changed, or from an older
    catalog; ``changed_only``: only files a scan saw change, whose verdict decides whether they are a
    new picture), storing them in transactions of at most ``batch_size``; returns how many were stored."""
    batch: list[ImageInfo] = []
    stored = 0
    for image_id, path, size, mtime, prior in catalog.undescribed(folder_id, changed_only):
        if is_cancelled(cancel):
            break
        info = describe(image_id, path, size, mtime, prior)
        if info is not None:
            batch.append(info)
        if len(batch) >= batch_size:
            stored += catalog.set_image_info(batch)
            batch = []
    return stored + (catalog.set_image_info(batch) if batch else 0)
