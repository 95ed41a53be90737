"""A library's adapter: its examples from the catalog, its fit, storage and switch, and adapted scores for export."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..model.fileio import atomic_write
from ..model.groups import exclusive_columns
from .adapter import Adapter, AdapterError, Examples, fit_adapter
from .catalog import Catalog
from .catalog_records import CatalogError, ModelRecord, timestamp
from .embeddings import decode, decode_codes

__all__ = [
    "AdapterError",
    "LibraryData",
    "LibraryFit",
    "adapter_enabled",
    "fit_library",
    "stored_adapter",
]


@dataclass
class LibraryFit:
    """A fitted adapter and what it learnt from (``skipped``: decided photos without an embedding)."""

    adapter: Adapter
    skipped: int


def _record(catalog: Catalog, model_key: str) -> ModelRecord:
    rec = catalog.model(model_key)
    if rec is None:
        raise CatalogError(f"{catalog.path}: no model {model_key!r} in this catalog")
    return rec


def decision_rows(
    decided: Mapping[int, Mapping[str, bool]], ids: Sequence[int], labels: Sequence[str]
) -> np.ndarray:
    """int8 [len(ids), len(labels)]: 1 yes, 0 no, -1 undecided."""
    index = {lab: j for j, lab in enumerate(labels)}
    out = np.full((len(ids), len(labels)), -1, np.int8)
    for r, i in enumerate(ids):
        for lab, value in decided.get(i, {}).items():
            j = index.get(lab)
            if j is not None:
                out[r, j] = int(bool(value))
    return out


@dataclass
class LibraryData:
    """A model's stored embeddings of every present photo, kept as their int8 codes and scales (260 bytes a
    photo: 260 MB at 1,000,000), loaded once for refits. The model's scores are not held (264 MB more at that
    size with 66 labels): re-scoring reads them from the catalog a block of photos at a time."""

    ids: np.ndarray  # int64 [N] ascending
    codes: np.ndarray  # int8 [N, k]
    scales: np.ndarray  # float32 [N]

    @classmethod
    def load(cls, catalog: Catalog, model_key: str) -> LibraryData:
        """Raises AdapterError when the stored embeddings are not all of one model."""
        ids, blobs = catalog.embeddings(model_key)
        try:
            codes, scales = decode_codes(blobs)
        except ValueError as exc:
            raise AdapterError(f"{catalog.path}: {exc}") from None
        return cls(ids, np.ascontiguousarray(codes), scales)

    def rows_of(self, image_ids: Sequence[int]) -> np.ndarray:
        """The row of each photo, -1 where it has no embedding here."""
        want = np.asarray(image_ids, np.int64)
        if not len(self.ids):
            return np.full(len(want), -1, np.int64)
        rows = np.minimum(np.searchsorted(self.ids, want), len(self.ids) - 1)
        return np.where(self.ids[rows] == want, rows, -1)

    def embeddings(self, rows: np.ndarray) -> np.ndarray:
        """float32 [len(rows), k]: the embeddings of these rows (``codes * scale``)."""
        return self.codes[rows].astype(np.float32) * self.scales[rows, None]

    def rescore(
        self,
        scores_of: Callable[[list[int]], Mapping[int, np.ndarray]],
        adapter: Adapter,
        exclusive: Sequence[np.ndarray],
        skip: set[int] = frozenset(),  # type: ignore[assignment]
        block: int = 8192,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(image ids, their model-label scores [n, L], person-label scores [n, P]) under ``adapter`` for every
        photo with an embedding and the model's scores, except ``skip`` (e.g. reviewed photos). ``scores_of``
        gives the model's scores of a block of photos (e.g. ``Catalog.scores`` of the model)."""
        width = len(adapter.labels)
        out_ids, out, person = [], [], []
        for start in range(0, len(self.ids), block):
            chunk = [i for i in self.ids[start : start + block].tolist() if i not in skip]
            scored = scores_of(chunk)
            chunk = [i for i in chunk if len(scored.get(i, ())) == width]
            if not chunk:
                continue
            new, own = adapter.rescore(
                self.embeddings(self.rows_of(chunk)), np.stack([scored[i] for i in chunk]), exclusive
            )
            out_ids.append(np.asarray(chunk, np.int64))
            out.append(new)
            person.append(own)
        if not out:
            return np.zeros(0, np.int64), np.zeros((0, width), np.float32), np.zeros((0, 0), np.float32)
        return np.concatenate(out_ids), np.concatenate(out), np.concatenate(person)


def library_examples(
    catalog: Catalog, model_key: str, data: LibraryData | None = None
) -> tuple[Examples, int]:
    """The decided photos with this model's embedding (and how many decided photos have none). Photos whose
    picture changed after they were decided are left out until the person confirms them."""
    rec = _record(catalog, model_key)
    waiting = catalog.to_confirm_ids()
    decided = {i: d for i, d in catalog.all_decisions().items() if d and i not in waiting}
    person = tuple(lab for lab in catalog.person_labels() if lab not in rec.labels)
    data = data if data is not None else LibraryData.load(catalog, model_key)
    ids = [i for i, r in zip(sorted(decided), data.rows_of(sorted(decided)).tolist(), strict=True) if r >= 0]
    scores = catalog.scores(model_key, ids)
    ids = [i for i in ids if len(scores.get(i, ())) == len(rec.labels)]
    x = data.embeddings(data.rows_of(ids)) if ids else np.zeros((0, data.codes.shape[1]), np.float32)
    base = np.stack([scores[i] for i in ids]) if ids else np.zeros((0, len(rec.labels)), np.float32)
    ex = Examples(
        x, base, decision_rows(decided, ids, rec.labels), decision_rows(decided, ids, person), person
    )
    return ex, len(decided) - len(ids)


def fit_library(
    catalog: Catalog, model_key: str, store: bool = True, data: LibraryData | None = None
) -> LibraryFit:
    """Fit the library's adapter for ``model_key`` from every decision; store it (switch unchanged)."""
    rec = _record(catalog, model_key)
    ex, skipped = library_examples(catalog, model_key, data)
    adapter = fit_adapter(model_key, rec.labels, rec.groups, rec.exclusive, ex)
    if store:
        store_adapter(catalog, adapter)
    return LibraryFit(adapter, skipped)


def store_adapter(catalog: Catalog, adapter: Adapter) -> None:
    """Keep ``adapter`` as the library's one adapter for its model. Raises CatalogError naming the file."""
    rec = _record(catalog, adapter.model_key)
    try:
        with catalog.transaction() as db:
            db.execute(
                "INSERT INTO adapters(model_id, payload, fitted_at) VALUES(?,?,?) ON CONFLICT(model_id)"
                " DO UPDATE SET payload=excluded.payload, fitted_at=excluded.fitted_at",
                (rec.id, adapter.to_bytes(), timestamp()),
            )
    except sqlite3.Error as exc:
        raise CatalogError(f"{catalog.path}: the adapter was not saved ({exc})") from exc


def stored_adapter(catalog: Catalog, model_key: str) -> Adapter | None:
    """The library's adapter for ``model_key`` (None: none fitted yet). Raises AdapterError for one that
    cannot be read or was fitted for other labels."""
    rec = catalog.model(model_key)
    if rec is None:
        return None
    rows = catalog.query_newer_table("adapters", "SELECT payload FROM adapters WHERE model_id=?", (rec.id,))
    if not rows or rows[0][0] is None:
        return None
    adapter = Adapter.from_bytes(rows[0][0])
    if adapter.model_key != model_key or adapter.labels != rec.labels:
        raise AdapterError(f"{catalog.path}: the stored adapter is another model's")
    return adapter


def has_adapter(catalog: Catalog, model_key: str) -> bool:
    """Whether the library stores an adapter for ``model_key`` (one cheap query: nothing is read)."""
    rec = catalog.model(model_key)
    if rec is None:
        return False
    return bool(
        catalog.query_newer_table(
            "adapters", "SELECT 1 FROM adapters WHERE model_id=? AND payload IS NOT NULL", (rec.id,)
        )
    )


def adapter_enabled(catalog: Catalog, model_key: str) -> bool:
    """The person's switch (on unless they turned it off)."""
    rec = catalog.model(model_key)
    if rec is None:
        return True
    rows = catalog.query_newer_table("adapters", "SELECT enabled FROM adapters WHERE model_id=?", (rec.id,))
    return not rows or bool(rows[0][0])


def set_adapter_enabled(catalog: Catalog, model_key: str, on: bool) -> None:
    """Save the switch. Raises CatalogError naming the file."""
    rec = _record(catalog, model_key)
    try:
        with catalog.transaction() as db:
            db.execute(
                "INSERT INTO adapters(model_id, enabled) VALUES(?,?) ON CONFLICT(model_id)"
                " DO UPDATE SET enabled=excluded.enabled",
                (rec.id, int(on)),
            )
    except sqlite3.Error as exc:
        raise CatalogError(f"{catalog.path}: the adapter switch was not saved ({exc})") from exc


def reviewed_ids(catalog: Catalog) -> set[int]:
    """The present photos a person marked reviewed (the adapter never changes them)."""
    return {r[0] for r in catalog.query("SELECT id FROM images WHERE reviewed_at IS NOT NULL AND present=1")}


class AdaptedScorer:
    """Applies ``adapter`` to chunks of a library's scores, reading the embeddings and the reviewed photos
    once (an export goes through a big library a chunk at a time)."""

    def __init__(self, catalog: Catalog, model_key: str, adapter: Adapter) -> None:
        rec = _record(catalog, model_key)
        self.adapter = adapter
        self.width = len(rec.labels)
        self.exclusive = exclusive_columns(rec.labels, rec.groups, rec.exclusive)
        self.reviewed = reviewed_ids(catalog)
        ids_all, self.blobs = catalog.embeddings(model_key)
        self.row = {int(i): r for r, i in enumerate(ids_all.tolist())}

    def __call__(self, scores: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
        """``scores`` (by image id) with the adapter's applied to unreviewed photos that have an
        embedding; reviewed photos and photos without one keep the model's."""
        row = self.row
        todo = [i for i in scores if i not in self.reviewed and i in row and len(scores[i]) == self.width]
        out = dict(scores)
        for start in range(0, len(todo), 4096):
            chunk = todo[start : start + 4096]
            new, _ = self.adapter.rescore(
                decode([self.blobs[row[i]] for i in chunk]),
                np.stack([scores[i] for i in chunk]),
                self.exclusive,
            )
            out.update(zip(chunk, new, strict=True))
        return out


def refit_to_file(catalog_path: str | os.PathLike, model_key: str, fit: bool, out: str | os.PathLike) -> dict:
    """The window's refit, run in the tagging process's ``adapt`` mode (a child: its Python never holds the
    window's interpreter lock): fit the library's adapter (``fit``) or read the stored one, and write the
    adapted scores of every unreviewed photo to ``out`` (an npz: ``ids``, ``scores``, ``person``) when the
    adapter is switched on and beats the model. Returns what happened: ``enabled``, ``rescored`` (whether
    ``out`` was written) and ``problem`` (a stored adapter that could not be read; it learns again)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), Catalog(catalog_path) as catalog:  # one core: the window keeps the other
        problem, adapter = "", None
        if not fit:
            try:
                adapter = stored_adapter(catalog, model_key)
            except AdapterError as exc:
                problem = f"The library's adapter cannot be read ({exc}); it learns again from your reviews"
        enabled = adapter_enabled(catalog, model_key)
        data = LibraryData.load(catalog, model_key) if fit else None
        if fit:
            adapter = fit_library(catalog, model_key, data=data).adapter
        rescored = adapter is not None and adapter.useful and enabled
        if rescored:
            rec = _record(catalog, model_key)
            data = data if data is not None else LibraryData.load(catalog, model_key)
            ids, scores, person = data.rescore(
                lambda chunk: catalog.scores(model_key, chunk),
                adapter,
                exclusive_columns(rec.labels, rec.groups, rec.exclusive),
                reviewed_ids(catalog),
            )

            def save(tmp: Path) -> None:
                with tmp.open("wb") as f:  # a file object: given a path, savez would add ".npz" to it
                    np.savez(f, ids=ids, scores=scores, person=person)

            atomic_write(out, save)
    return {"enabled": enabled, "rescored": rescored, "problem": problem}
