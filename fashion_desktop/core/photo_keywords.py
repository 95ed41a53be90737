"""Keywords written into the photos themselves (XMP and IPTC, by ExifTool); sidecars for raw and HEIC files.

Where. JPEG, TIFF, PNG and DNG carry XMP ``dc:subject`` and ``lr:hierarchicalSubject`` (``group|value``)
inside the file, where Lightroom, Finder, Windows Explorer and digiKam read them; JPEG, TIFF and DNG get
IPTC Keywords as well (PNG has no standard IPTC place). Raw files, HEIC/HEIF and every other format get
an XMP sidecar (``core.xmp``), which is also what ``into="sidecars"`` writes for every photo.

Whose keywords. ``XMP-ffd:Keywords`` and ``XMP-ffd:Hierarchical`` list what this app wrote (the sidecars'
``ffd`` bags): a re-write swaps only those and keeps the person's own; a keyword the person already had
is theirs and never listed as ours (the rule of ``core.xmp.merge_xmp``). A photo that already carries
what would be written is not touched, so writing twice gives the same file.

Safety. Only regular files that are not links are written (a link is skipped: writing through it would
change a file outside the library, replacing it would cut the link). ExifTool writes the new file with
``-o`` into a folder created exclusively beside the photo (one filesystem, so the rename is atomic); it
gets the photo's permission bits and replaces it with ``os.replace``; pixel data is copied, not
re-encoded. Read-only photos (or folders), photos changed since the library scanned them and photos
ExifTool refuses are skipped with a reason; the rest go on. After a write the catalog's record of the
photo (size, mtime, content hash) follows it, so a re-scan keeps its scores and decisions.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..model.cancel import CancelFlag, is_cancelled
from ..model.fileio import read_regular_file
from .exiftool import (
    HIERARCHY,
    IPTC_KEYWORDS,
    OUR_HIERARCHY,
    OUR_KEYWORDS,
    SUBJECT,
    ExifTool,
    PhotoKeywords,
    regular_file_problem,
)
from .scan import content_hash
from .spreadsheet import ExportCancelled, Progress
from .xmp import MAX_SIDECAR_BYTES, hierarchical, merge_xmp, sidecar_paths, write_xmp_sidecars

if TYPE_CHECKING:
    from .adapter import Adapter
    from .catalog import Catalog, ImageRecord
    from .thresholds import ThresholdPolicy

EMBEDDED = frozenset({"jpg", "jpeg", "jpe", "tif", "tiff", "png", "dng"})  # XMP goes inside these
WITH_IPTC = EMBEDDED - {"png"}
IPTC_KEYWORD_BYTES = 64  # the IPTC IIM limit of one keyword
INTO = ("photos", "sidecars")
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
_BATCH = 200  # photos read by ExifTool at a time
# Line breaks would split an ExifTool argument in two (its -stay_open protocol is one argument a line).
_UNSAFE = re.compile("[\x00-\x1f\x7f\ufffe\uffff]")


@dataclass
class KeywordReport:
    """What a keyword write did: photos written, sidecars written, photos left as they were, skipped."""

    written: list[str] = field(default_factory=list)  # photos whose keywords were written into them
    sidecars: list[str] = field(default_factory=list)  # sidecar files written
    unchanged: list[str] = field(default_factory=list)  # photos that already carried these keywords
    would_change: list[str] = field(default_factory=list)  # dry run: photos (or sidecars) a write changes
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (photo, one-line reason)
    dry_run: bool = False
    cancelled: bool = False

    def summary(self, limit: int = 20) -> str:
        if self.dry_run:
            lines = [f"dry run: {len(self.would_change)} files would change, {len(self.unchanged)} unchanged, "
                     f"{len(self.skipped)} skipped; nothing was written"]  # fmt: skip
            lines += [f"  would change: {p}" for p in self.would_change[:limit]]
            if len(self.would_change) > limit:
                lines.append(f"  ... and {len(self.would_change) - limit} more")
        else:
            lines = [f"{len(self.written)} photos written, {len(self.sidecars)} sidecars written, "
                     f"{len(self.unchanged)} unchanged, {len(self.skipped)} skipped"]  # fmt: skip
        if self.cancelled:
            lines.append("cancelled: the photos after that point were left as they were")
        lines += [f"  skipped {p}: {reason}" for p, reason in self.skipped[:limit]]
        if len(self.skipped) > limit:
            lines.append(f"  ... and {len(self.skipped) - limit} more skipped")
        return "\n".join(lines)


def _clean(keywords: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(k for k in (_UNSAFE.sub("", str(k)).strip() for k in keywords) if k))


def embeds(path: str | os.PathLike) -> bool:
    """Whether keywords go inside this photo (JPEG, TIFF, PNG, DNG) rather than into a sidecar."""
    return os.path.splitext(str(path))[1].lower().lstrip(".") in EMBEDDED


def embeds_iptc(path: str | os.PathLike) -> bool:
    """Whether IPTC Keywords go inside this photo as well (JPEG, TIFF, DNG; PNG has no standard place)."""
    return os.path.splitext(str(path))[1].lower().lstrip(".") in WITH_IPTC


def target_keywords(
    current: PhotoKeywords, keywords: Sequence[str], groups: Mapping[str, str] | None, iptc: bool
) -> dict[str, list[str]]:
    """Each keyword tag's new value: the person's keywords kept, the app's earlier ones swapped for
    ``keywords``; a keyword the person already had stays theirs (not listed as ours)."""
    their_flat, their_tree = current.theirs()
    # IPTC keeps 64 bytes of a keyword: our long keyword cut short there is still ours, not the person's.
    cut_ours = {_iptc_value(k) for k in current.ours} - set(current.subject)
    their_flat = [k for k in their_flat if k not in cut_ours]
    ours = [k for k in _clean(keywords) if k not in their_flat]
    our_tree = [k for k in hierarchical(ours, groups) if k not in their_tree]
    flat = _clean([*their_flat, *ours])
    target = {SUBJECT: flat, HIERARCHY: _clean([*their_tree, *our_tree]), OUR_KEYWORDS: ours,
              OUR_HIERARCHY: our_tree}  # fmt: skip
    if iptc:
        target[IPTC_KEYWORDS] = _clean(_iptc_value(k) for k in flat)
    return target


def _iptc_value(keyword: str) -> str:
    """``keyword`` as IPTC stores it: at most 64 bytes of UTF-8 (ExifTool would cut it and warn)."""
    return keyword.encode("utf-8")[:IPTC_KEYWORD_BYTES].decode("utf-8", errors="ignore").strip()


def needs_write(current: PhotoKeywords, target: Mapping[str, Sequence[str]]) -> bool:
    """False when the photo already carries ``target`` (or there is nothing of ours to add or remove)."""
    if not (target[OUR_KEYWORDS] or target[OUR_HIERARCHY] or current.ours or current.our_hierarchy):
        return False  # the person's keywords alone: left exactly as they are
    now = {SUBJECT: current.subject, HIERARCHY: current.hierarchy, IPTC_KEYWORDS: current.iptc,
           OUR_KEYWORDS: current.ours, OUR_HIERARCHY: current.our_hierarchy}  # fmt: skip
    return any(sorted(now[tag]) != sorted(values) for tag, values in target.items())


def _write_args(target: Mapping[str, Sequence[str]]) -> list[str]:
    args: list[str] = []
    for tag, values in target.items():
        args += [f"-{tag}={v}" for v in values] if values else [f"-{tag}="]
    if any(not v.isascii() for v in target.get(IPTC_KEYWORDS, ())):
        args.append("-IPTC:CodedCharacterSet=UTF8")  # so readers do not take UTF-8 for Latin-1
    return args


def _problem(path: str, record: ImageRecord | None) -> tuple[str | None, os.stat_result | None]:
    """(why ``path`` may not be written, None) or (None, its lstat) when it may."""
    if "\n" in path or "\r" in path:
        return "its name holds a line break, which ExifTool cannot be given", None
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not valid UTF-8, which ExifTool cannot be given", None
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"not found ({exc.strerror or exc}); moved or deleted?", None
    if stat.S_ISLNK(st.st_mode):
        return "a link to another file: not written through (choose sidecars to tag it)", None
    problem = regular_file_problem(path)
    if problem:
        return problem, None
    # A record without size or mtime (a photo added but never scanned) has nothing to compare with.
    known = record is not None and record.size is not None and record.mtime is not None
    if known and (record.size != st.st_size or abs(record.mtime - st.st_mtime) > 1e-6):
        return "changed since the library last scanned it; scan its folder again first", None
    folder = os.path.dirname(path) or "."
    # Write bits, not os.access: an administrator can write anything, yet a read-only mark is a wish.
    if not st.st_mode & _WRITE_BITS or not os.access(path, os.W_OK):
        return "read-only photo; left as it is", None
    if not os.access(folder, os.W_OK | os.X_OK) or not os.stat(folder).st_mode & _WRITE_BITS:
        return "its folder is read-only; left as it is", None
    return None, st


def _replace_with_keywords(
    et: ExifTool, path: str, args: Sequence[str], before: os.stat_result
) -> str | None:
    """Have ExifTool write a new copy of ``path`` with ``args`` into an exclusive folder beside it, then
    put it in the photo's place. Returns why not (the photo left as it was) or None."""
    try:
        tmpdir = tempfile.mkdtemp(prefix=".fashion-keywords-", dir=os.path.dirname(path) or ".")
    except OSError as exc:
        return f"cannot write in its folder ({exc.strerror or exc})"
    out = os.path.join(tmpdir, os.path.basename(path))
    try:
        try:
            _stdout, stderr = et.execute(*args, "-o", out, path)
        except Exception as exc:  # the ExifTool process itself failed (PyExifTool raises its own errors)
            return f"ExifTool failed ({exc}); left as it was"
        if regular_file_problem(out) or os.path.islink(out):
            lines = [ln for ln in stderr.splitlines() if ln.strip()]
            return f"ExifTool refused it ({lines[0] if lines else 'no reason given'}); left as it was"
        _keep_attributes(path, out, before)
        now = os.lstat(path)
        if (now.st_ino, now.st_size, now.st_mtime_ns) != (before.st_ino, before.st_size, before.st_mtime_ns):
            return "changed while its keywords were being written; left as it was"
        os.replace(out, path)  # replaces the directory entry: never writes through a link planted meanwhile
    except OSError as exc:
        return f"cannot replace it ({exc.strerror or exc}); left as it was"
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return None


def _keep_attributes(photo: str, copy: str, before: os.stat_result) -> None:
    """The new file gets the photo's permission bits and, where allowed, its owner and extended
    attributes (a file manager's tags and labels live there)."""
    os.chmod(copy, stat.S_IMODE(before.st_mode))
    try:
        os.chown(copy, before.st_uid, before.st_gid)
    except OSError:
        pass  # only an administrator may give a file away: it stays the writer's
    for name in os.listxattr(photo, follow_symlinks=False) if hasattr(os, "listxattr") else ():
        try:
            os.setxattr(copy, name, os.getxattr(photo, name, follow_symlinks=False), follow_symlinks=False)
        except OSError:
            pass  # e.g. a security attribute only the system sets


def _record_write(catalog: Catalog, record: ImageRecord, path: str) -> None:
    """The catalog follows the photo: its new size, mtime and hash (a keyword write is no new picture)."""
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            digest = content_hash(fh, st.st_size)
    except OSError:
        return  # the next scan sees the change and treats it as one
    catalog.record_metadata_write(
        record.id,
        record.size,
        record.mtime,
        st.st_size,
        st.st_mtime,
        digest,
        st.st_ctime_ns,
        st.st_ino or None,
    )


@dataclass
class _Batch:
    """The photos of one write whose keywords go inside, with what each needs."""

    report: KeywordReport
    groups: Mapping[str, str] | None
    expected: Mapping[str, ImageRecord]
    catalog: Catalog | None
    on_error: Callable[[str, str], None] | None

    def skip(self, path: str, reason: str) -> None:
        self.report.skipped.append((path, reason))
        if self.on_error is not None:
            self.on_error(path, reason)

    def run(self, et: ExifTool, rows: Sequence[tuple[str, list[str]]], cancel: CancelFlag) -> None:
        ready: dict[str, tuple[list[str], os.stat_result]] = {}
        for path, keywords in rows:
            problem, st = _problem(path, self.expected.get(path))
            if problem:
                self.skip(path, problem)
            else:
                ready[path] = (keywords, st)
        found = et.read_keywords(list(ready)) if ready else {}
        for path, (keywords, st) in ready.items():
            if is_cancelled(cancel):
                self.report.cancelled = True
                return
            current = found.get(path)
            if not isinstance(current, PhotoKeywords):
                self.skip(path, str(current or "ExifTool could not read it"))
                continue
            target = target_keywords(current, keywords, self.groups, embeds_iptc(path))
            if not needs_write(current, target):
                self.report.unchanged.append(path)
            elif self.report.dry_run:
                self.report.would_change.append(path)
            else:
                problem = _replace_with_keywords(et, path, _write_args(target), st)
                if problem:
                    self.skip(path, problem)
                    continue
                self.report.written.append(path)
                record = self.expected.get(path)
                if self.catalog is not None and record is not None:
                    _record_write(self.catalog, record, path)


def write_keywords(
    rows: Iterable[tuple[str | os.PathLike, Sequence[str]]],
    into: str = "photos",
    naming: str = "adobe",
    groups: Mapping[str, str] | None = None,
    dry_run: bool = False,
    expected: Mapping[str, ImageRecord] | None = None,
    progress: Progress = None,
    cancel: CancelFlag = None,
    on_error: Callable[[str, str], None] | None = None,
    catalog: Catalog | None = None,
) -> KeywordReport:
    """Write each (photo, keywords) row's keywords into the photo (``into="photos"``; raw, HEIC and other
    formats get sidecars) or into sidecars for every photo (``"sidecars"``, named as ``naming``).

    ``groups`` (keyword -> group) gives ``group|keyword`` hierarchies. ``expected`` (path -> the catalog's
    record) skips photos whose size or mtime differ from the record; with ``catalog`` the record follows
    each written photo. ``dry_run`` reads but writes nothing (``would_change`` lists what would).
    Per-photo problems are skipped with a reason (and passed to ``on_error``). Cancelling stops between
    photos (``report.cancelled``). Raises ExifToolMissing when photos need ExifTool and it is missing.
    """
    if into not in INTO:
        raise ValueError(f"unknown target {into!r} (use 'photos' or 'sidecars')")
    items = [(os.path.abspath(os.fspath(p)), list(k)) for p, k in rows]
    report = KeywordReport(dry_run=dry_run)
    batch = _Batch(report, groups, expected or {}, catalog, on_error)
    inside = [r for r in items if into == "photos" and embeds(r[0])]
    beside = [r for r in items if not (into == "photos" and embeds(r[0]))]
    done = 0
    if inside:
        with ExifTool() as et:
            for start in range(0, len(inside), _BATCH):
                batch.run(et, inside[start : start + _BATCH], cancel)
                if report.cancelled or is_cancelled(cancel):
                    report.cancelled = True
                    return report
                done += len(inside[start : start + _BATCH])
                if progress is not None:
                    progress(done, len(items))
    if beside and dry_run:
        _sidecar_changes(beside, naming, groups, report)
    elif beside:
        try:
            sidecars = write_xmp_sidecars(beside, naming, cancel=cancel, on_error=on_error, groups=groups)
        except ExportCancelled:
            report.cancelled = True
            return report
        report.sidecars += [str(p) for p in sidecars.written]
        report.skipped += sidecars.errors
    if progress is not None:
        progress(len(items), len(items))
    return report


def _sidecar_changes(
    rows: Sequence[tuple[str, list[str]]],
    naming: str,
    groups: Mapping[str, str] | None,
    report: KeywordReport,
) -> None:
    """Dry run: the sidecars a write would create or change (``would_change``) and those it would leave."""
    targets = sidecar_paths([Path(p) for p, _ in rows], naming)
    for photo, keywords in rows:
        target = targets[Path(photo)]
        existing = None
        if os.path.lexists(target) and not target.is_symlink():
            try:
                existing = read_regular_file(target, MAX_SIDECAR_BYTES)
            except OSError:
                pass
        try:
            same = existing is not None and merge_xmp(existing, keywords, groups) == existing
        except ValueError:  # not XMP: the write would leave it and say so
            same = False
        (report.unchanged if same else report.would_change).append(str(target))


def label_groups(catalog: Catalog, model_key: str | None) -> dict[str, str]:
    """Label -> group: the model's groups and those of labels a person created (the model's win)."""
    model = catalog.model(model_key) if model_key else None
    return {**catalog.person_labels(), **(dict(model.groups) if model is not None else {})}


def write_catalog_keywords(
    catalog: Catalog,
    model_key: str | None,
    policy: ThresholdPolicy | None = None,
    image_ids: Sequence[int] | None = None,
    *,
    defaults: Sequence[float] | None = None,
    adapter: bool | Adapter = True,
    reviewed_only: bool = False,
    into: str = "photos",
    naming: str = "adobe",
    dry_run: bool = False,
    progress: Progress = None,
    cancel: CancelFlag = None,
) -> KeywordReport:
    """The library's final tags (as an export computes them) written as keywords: ``write_keywords``
    with the catalog's records, so changed photos are skipped and written ones keep their scores."""
    from .export import iter_final_tags, iter_rows_for_sidecars

    items = [
        item
        for item in iter_final_tags(catalog, model_key, policy, image_ids, defaults, cancel, adapter=adapter)
        if item.image.reviewed or not reviewed_only
    ]
    expected = {os.path.abspath(item.image.path): item.image for item in items}
    return write_keywords(
        iter_rows_for_sidecars(items), into, naming, label_groups(catalog, model_key), dry_run, expected,
        progress, cancel, catalog=None if dry_run or catalog.read_only else catalog,
    )  # fmt: skip
