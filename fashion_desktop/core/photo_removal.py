"""Taking photos out of a library (never off the disk): their rows go, with their scores and decisions."""

from __future__ import annotations

from collections.abc import Sequence

from .catalog import Catalog

_CHUNK = 500  # ids per statement: well under SQLite's limit on bound parameters


def remove_photos(catalog: Catalog, image_ids: Sequence[int]) -> int:
    """Delete the photos ``image_ids`` from ``catalog`` in one transaction and return how many went.

    Their predictions and decisions go with them (the schema's cascades; embeddings follow their
    predictions by trigger). The files are not touched: rescanning their folder adds them back as new
    photos with no tags. Ids not in the catalog are ignored. Raises CatalogError when it cannot write.
    """
    ids = list(dict.fromkeys(int(i) for i in image_ids))
    removed = 0
    with catalog.transaction() as db:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            removed += db.execute(f"DELETE FROM images WHERE id IN ({marks})", chunk).rowcount
    return removed
