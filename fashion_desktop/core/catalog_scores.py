"""The models a catalog knows and the scores they gave its photos."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import numpy as np

from .catalog_records import CatalogAccess, CatalogError, ModelRecord, timestamp


class ScoreStore:
    """Models (by their stable key) and their scores per image; every write commits before returning.

    ``hidden`` keys are models the catalog will not show (scores a pending upgrade would drop).
    """

    def __init__(self, catalog: CatalogAccess, hidden: frozenset[str] = frozenset()) -> None:
        self._catalog = catalog
        self._hidden_keys = hidden
        self._model_cache: dict[str, ModelRecord] = {}

    # -- models and predictions ---------------------------------------------------------------
    def register_model(
        self,
        key: str,
        labels: Sequence[str],
        name: str = "",
        path: str | None = None,
        groups: dict[str, str] | None = None,
        thresholds: Sequence[float] | None = None,
        exclusive: Sequence[str] = (),
        at_least_one: Sequence[str] = (),
    ) -> ModelRecord:
        """Register a model (by its stable key, e.g. ``Bundle.model_id``) with its default per-label
        ``thresholds``, its ``exclusive`` groups and its ``at_least_one`` groups; return its record."""
        if thresholds is not None and len(thresholds) != len(labels):
            raise ValueError(f"{len(thresholds)} thresholds for {len(labels)} labels")
        th = json.dumps([float(t) for t in thresholds]) if thresholds is not None else None
        excl = json.dumps(list(exclusive)) if exclusive else None
        one = json.dumps(list(at_least_one)) if at_least_one else None
        with self._catalog.transaction() as db:
            row = db.execute("SELECT id, labels FROM models WHERE model_key=?", (key,)).fetchone()
            if row is not None and tuple(json.loads(row[1])) != tuple(labels):
                raise CatalogError(self._other_labels_message(key, json.loads(row[1]), labels))
            if row is None:
                db.execute(
                    "INSERT INTO models(model_key, name, path, labels, groups, thresholds, exclusive,"
                    " at_least_one, added_at) VALUES(?,?,?,?,?,?,?,?,?)",
                    (key, name, path, json.dumps(list(labels)), json.dumps(groups or {}), th, excl, one,
                     timestamp()),
                )  # fmt: skip
            else:
                db.execute(
                    "UPDATE models SET path=COALESCE(?, path), name=COALESCE(NULLIF(?, ''), name),"
                    " thresholds=COALESCE(?, thresholds), exclusive=COALESCE(?, exclusive),"
                    " at_least_one=COALESCE(?, at_least_one) WHERE id=?",
                    (path, name, th, excl, one, row[0]),
                )
        self._model_cache.pop(key, None)
        rec = self.model(key)
        assert rec is not None
        return rec

    def _other_labels_message(self, key: str, known: Sequence[str], labels: Sequence[str]) -> str:
        def short(names: Sequence[str]) -> str:
            return ", ".join(names[:5]) + (f" ... ({len(names)} labels)" if len(names) > 5 else "")

        return (
            f"{self._catalog.path}: this catalog already has a model with the id {key!r} but other labels "
            f"({short(known)}, not {short(labels)}); its scores are not this bundle's, so nothing was reused. "
            "Two different models carry this id (a copied or edited bundle?): tag with this one into another catalog"
        )

    def model(self, key: str) -> ModelRecord | None:
        """The model registered under ``key``, or None."""
        if key in self._hidden_keys:
            return None
        if key in self._model_cache:
            return self._model_cache[key]
        columns = ModelRecord.columns_sql(r[1] for r in self._catalog.query("PRAGMA table_info(models)"))
        rows = self._catalog.query(f"SELECT {columns} FROM models WHERE model_key=?", (key,))
        if not rows:
            return None
        rec = ModelRecord.from_row(rows[0])
        self._model_cache[key] = rec
        return rec

    def models(self) -> list[ModelRecord]:
        keys = [r[0] for r in self._catalog.query("SELECT model_key FROM models ORDER BY id")]
        return [m for k in keys if (m := self.model(k)) is not None]

    def add_predictions(
        self,
        model_key: str,
        results: Iterable[tuple[int, np.ndarray]],
        embeddings: Sequence[bytes] | None = None,
    ) -> int:
        """Store scores (one float per model label) for image ids in one transaction; return the count.

        ``embeddings`` (one ``core.embeddings`` blob per result, in order) are stored with them, in the
        same transaction: a photo never has an embedding without its scores.
        """
        model = self.model(model_key)
        if model is None:
            raise CatalogError(f"model {model_key!r} is not registered in {self._catalog.path}")
        now = timestamp()
        rows = [(int(i), model.id, np.asarray(s, dtype="<f4").tobytes(), now) for i, s in results]
        if embeddings is not None and len(embeddings) != len(rows):
            raise ValueError(f"{len(embeddings)} embeddings for {len(rows)} photos")
        with self._catalog.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO predictions(image_id, model_id, scores, created_at) VALUES(?,?,?,?)",
                rows,
            )
            db.executemany("UPDATE images SET error=NULL WHERE id=?", [(r[0],) for r in rows])
            if embeddings is not None:
                db.executemany(
                    "INSERT OR REPLACE INTO embeddings(model_id, image_id, vector) VALUES(?,?,?)",
                    [(model.id, r[0], e) for r, e in zip(rows, embeddings, strict=True)],
                )
        return len(rows)

    def embeddings(self, model_key: str) -> tuple[np.ndarray, list[bytes]]:
        """Image ids (int64 [N], ascending) and their stored embedding blobs for one model, present
        photos only (none for an older catalog opened read-only, which has no embeddings yet)."""
        model = self.model(model_key)
        if model is None:
            return np.zeros(0, np.int64), []
        rows = self._catalog.query_newer_table(
            "embeddings",
            "SELECT e.image_id, e.vector FROM embeddings e JOIN images i ON i.id=e.image_id"
            " WHERE e.model_id=? AND i.present=1 ORDER BY e.image_id",
            (model.id,),
        )
        return np.fromiter((r[0] for r in rows), np.int64, len(rows)), [r[1] for r in rows]

    def embedded_paths(self, model_key: str) -> set[str]:
        """Paths that have this model's scores and its embedding (a run filling the missing ones skips them)."""
        model = self.model(model_key)
        if model is None:
            return set()
        rows = self._catalog.query_newer_table(
            "embeddings",
            "SELECT i.path FROM embeddings e JOIN predictions p ON p.model_id=e.model_id AND p.image_id=e.image_id"
            " JOIN images i ON i.id=e.image_id WHERE e.model_id=? AND length(p.scores)=?",
            (model.id, 4 * len(model.labels)),
        )
        return {r[0] for r in rows}

    def without_embeddings(self, model_key: str) -> int:
        """How many present photos have this model's scores but no embedding (tagged before embeddings
        were stored); re-tagging them with ``force`` gives them one."""
        model = self.model(model_key)
        return 0 if model is None else count_without_embeddings(self._catalog.query, model.id)

    def predicted_paths(self, model_key: str) -> set[str]:
        """Paths that already have predictions from this model (for resume)."""
        model = self.model(model_key)
        if model is None:
            return set()
        # Scores of another label count are not this model's (cannot happen since labels are checked
        # on registering; kept as a guard because a wrong skip loses a photo's scores silently).
        rows = self._catalog.query(
            "SELECT i.path FROM predictions p JOIN images i ON i.id=p.image_id"
            " WHERE p.model_id=? AND length(p.scores)=?",
            (model.id, 4 * len(model.labels)),
        )
        return {r[0] for r in rows}

    def scores(self, model_key: str, image_ids: Sequence[int] | None = None) -> dict[int, np.ndarray]:
        """Scores by image id for one model (all images, or the given ids)."""
        model = self.model(model_key)
        if model is None:
            return {}
        if image_ids is None:
            rows = self._catalog.query(
                "SELECT image_id, scores FROM predictions WHERE model_id=?", (model.id,)
            )
        else:
            rows = []
            ids = list(image_ids)
            for start in range(0, len(ids), 900):
                chunk = ids[start : start + 900]
                marks = ",".join("?" * len(chunk))
                rows += self._catalog.query(
                    f"SELECT image_id, scores FROM predictions WHERE model_id=? AND image_id IN ({marks})",
                    [model.id, *chunk],
                )
        return {r[0]: np.frombuffer(r[1], dtype="<f4") for r in rows}


def count_without_embeddings(query, model_id: int) -> int:
    """``ScoreStore.without_embeddings`` over any connection's ``query(sql, params) -> rows`` (the catalog's,
    or a reader's in a worker thread: at a million photos the count takes a second)."""
    has_table = query("SELECT 1 FROM sqlite_master WHERE type='table' AND name='embeddings'", ())
    missing = (
        " AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model_id=p.model_id AND e.image_id=p.image_id)"
        if has_table
        else ""
    )
    rows = query(
        "SELECT COUNT(*) FROM predictions p JOIN images i ON i.id=p.image_id"
        f" WHERE p.model_id=? AND i.present=1{missing}",
        (model_id,),
    )
    return int(rows[0][0])
