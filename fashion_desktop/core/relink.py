"""Relinking a moved or renamed folder: its photos found again by content, every decision kept."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field

from .catalog import Catalog, CatalogError, FileInfo, ImageMove, ImageRecord
from .fingerprint import is_legacy
from .scan import content_hash, scan


class RelinkError(CatalogError):
    """The relink cannot be done as asked (no such photos, the new folder is missing ...); nothing changed."""


@dataclass
class RelinkReport:
    """What a relink did: photos found by content and by name, photos not found (left as they were)."""

    old_folder: str
    new_folder: str
    by_content: int = 0
    by_name: int = 0  # relative path and size (photos the catalog had no content hash for)
    changed: int = 0  # found by name but their picture differs: scores dropped, decisions kept to confirm
    merged: int = 0  # rows a scan of the new folder had already made, merged into the moved photos
    not_found: list[str] = field(default_factory=list)

    @property
    def moved(self) -> int:
        return self.by_content + self.by_name + self.changed


def _hash_of(info: FileInfo, like: str) -> str | None:
    """The file's hash made as ``like`` was (an older catalog's hash covered the metadata too)."""
    try:
        with open(info.path, "rb") as fh:
            return content_hash(fh, info.size, like=like)
    except OSError:
        return None


def _known_root(catalog: Catalog, old_folder: str | os.PathLike) -> tuple[str, list[ImageRecord]]:
    """The old folder as the catalog wrote it (the path given, or with links resolved) and its photos."""
    given = os.path.abspath(os.fspath(old_folder))
    for root in dict.fromkeys((given.rstrip(os.sep), os.path.realpath(given))):
        images = catalog.images_under(root)
        if images:
            return root, images
    raise RelinkError(
        f"{old_folder}: the catalog {catalog.path} has no photos in this folder; nothing was changed"
    )


def relink_folder(
    catalog: Catalog, old_folder: str | os.PathLike, new_folder: str | os.PathLike
) -> RelinkReport:
    """Point the catalog's photos of ``old_folder`` (moved, renamed, a drive mounted elsewhere) at
    ``new_folder``.

    A photo is found by its content hash (``core.scan.content_hash``, recorded by the scan), else
    by the same relative path and size. Found photos keep their catalog rows: decisions, review
    state, split and scores move with them (scores are dropped only where a photo found by name has
    other bytes). Photos not found are listed in the report and left as they were. Returns a
    RelinkReport; raises RelinkError when the catalog has no photos under ``old_folder``, when
    ``new_folder`` is not a folder or when one folder holds the other, and CatalogError when the
    catalog cannot be written (then nothing changed: one transaction).
    """
    new_root = os.path.realpath(os.path.abspath(os.fspath(new_folder)))
    if not os.path.isdir(new_root):
        what = "is not a folder" if os.path.exists(new_root) else "folder not found"
        raise RelinkError(f"{new_folder}: {what}; nothing was changed")
    old_root, images = _known_root(catalog, old_folder)
    if (
        new_root == old_root
        or new_root.startswith(old_root + os.sep)
        or old_root.startswith(new_root + os.sep)
    ):
        raise RelinkError(f"{old_folder} and {new_folder}: one folder holds the other; nothing was changed")
    found = [f for f in scan(new_root) if isinstance(f, FileInfo)]
    by_rel = {os.path.relpath(f.path, new_root): f for f in found}
    by_size: dict[int, list[FileInfo]] = defaultdict(list)
    for f in found:
        by_size[f.size].append(f)
    hashes: dict[tuple[str, bool], str | None] = {}  # by path and whether made the older way
    report = RelinkReport(old_root, new_root)
    used: set[str] = set()
    moves: list[ImageMove] = []
    for img in images:
        rel = os.path.relpath(img.path, old_root)
        match, same = None, True
        if img.content_hash and img.size is not None:
            candidates = [f for f in by_size.get(img.size, []) if f.path not in used]
            old_way = is_legacy(img.content_hash)
            for f in candidates:
                if (f.path, old_way) not in hashes:
                    hashes[f.path, old_way] = _hash_of(f, img.content_hash)
            same_hash = [f for f in candidates if hashes[f.path, old_way] == img.content_hash]
            # Duplicates of one photo: the one at the same relative place, else the first.
            match = next((f for f in same_hash if f.path == os.path.join(new_root, rel)), None) or next(
                iter(same_hash), None
            )
            if match is not None:
                report.by_content += 1
        if match is None:
            candidate = by_rel.get(rel)
            if candidate is not None and candidate.path not in used and candidate.size == img.size:
                match = candidate
                # Known content that differs: the same photo, edited; its old scores no longer apply.
                same = (
                    not img.content_hash
                    or (
                        hashes.get((match.path, is_legacy(img.content_hash)))
                        or _hash_of(match, img.content_hash)
                    )
                    == img.content_hash
                )
                if same:
                    report.by_name += 1
                else:
                    report.changed += 1
        if match is None:
            report.not_found.append(img.path)
            continue
        used.add(match.path)
        moves.append(ImageMove(img.id, match.path, match.size, match.mtime, same))
    if moves:
        report.merged = catalog.move_images(moves, old_root, new_root)
    return report


__all__ = ["RelinkError", "RelinkReport", "relink_folder"]
