"""What people decided: tags on photos, reviews, labels they created, the threshold view and keys they set."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence

from ..model.bundle_format import label_problem
from .catalog_records import CatalogAccess, CatalogError, DecisionChanges, check_label, timestamp
from .thresholds import ThresholdPolicy


class DecisionStore:
    """A person's decisions and what goes with them; every write commits before returning."""

    def __init__(self, catalog: CatalogAccess) -> None:
        self._catalog = catalog

    # -- human decisions ----------------------------------------------------------------------
    def set_decision(self, image_ids: int | Sequence[int], label: str, value: bool | None) -> None:
        """Record that a person turned ``label`` on/off for the images (None forgets the decision).

        Raises ValueError for a label name that cannot be one (empty, or holding the tag separator).
        """
        check_label(label)
        ids = [image_ids] if isinstance(image_ids, int) else list(image_ids)
        now = timestamp()
        with self._catalog.transaction() as db:
            if value is None:
                db.executemany(
                    "DELETE FROM decisions WHERE image_id=? AND label=?", [(i, label) for i in ids]
                )
            else:
                db.executemany(
                    "INSERT OR REPLACE INTO decisions(image_id, label, value, decided_at) VALUES(?,?,?,?)",
                    [(i, label, int(bool(value)), now) for i in ids],
                )

    def set_decisions(self, changes: DecisionChanges) -> None:
        """Apply many (image id, label, value-or-None) decisions in one transaction."""
        with self._catalog.transaction() as db:
            self._write_decisions(db, changes)

    @staticmethod
    def _write_decisions(db: sqlite3.Connection, changes: DecisionChanges) -> None:
        now = timestamp()
        delete = "DELETE FROM decisions WHERE image_id=? AND label=?"
        upsert = "INSERT OR REPLACE INTO decisions(image_id, label, value, decided_at) VALUES(?,?,?,?)"
        # executemany over runs of the same kind: much faster for big imports, order still kept.
        run: list[tuple] = []
        run_sql = upsert
        for image_id, label, value in changes:
            if value is not None:
                check_label(label)
            sql = delete if value is None else upsert
            if sql is not run_sql and run:
                db.executemany(run_sql, run)
                run = []
            run_sql = sql
            run.append((image_id, label) if value is None else (image_id, label, int(bool(value)), now))
        if run:
            db.executemany(run_sql, run)

    def decisions(self, image_id: int) -> dict[str, bool]:
        rows = self._catalog.query("SELECT label, value FROM decisions WHERE image_id=?", (image_id,))
        return {r[0]: bool(r[1]) for r in rows}

    def decisions_for(self, image_ids: Sequence[int]) -> dict[int, dict[str, bool]]:
        """Decisions of the given images only (images without any are absent), in chunked queries."""
        out: dict[int, dict[str, bool]] = {}
        ids = list(image_ids)
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for image_id, label, value in self._catalog.query(
                f"SELECT image_id, label, value FROM decisions WHERE image_id IN ({marks})", chunk
            ):
                out.setdefault(image_id, {})[label] = bool(value)
        return out

    def all_decisions(self) -> dict[int, dict[str, bool]]:
        out: dict[int, dict[str, bool]] = {}
        for image_id, label, value in self._catalog.query("SELECT image_id, label, value FROM decisions"):
            out.setdefault(image_id, {})[label] = bool(value)
        return out

    def set_reviewed(
        self, image_ids: int | Sequence[int], reviewed: bool = True, decisions: DecisionChanges = ()
    ) -> None:
        """Mark images reviewed (or not), together with the ``decisions`` that review records
        (``core.tags.review_decisions``), in one transaction: a photo is never reviewed without them.
        Marking a photo whose picture changed reviewed confirms its decisions."""
        ids = [image_ids] if isinstance(image_ids, int) else list(image_ids)
        with self._catalog.transaction() as db:
            self._write_decisions(db, decisions)
            # Reviewed again, a changed photo's decisions are the person's word on the new picture.
            db.executemany(
                "UPDATE images SET reviewed_at=?, confirm_since=CASE WHEN ? THEN NULL ELSE confirm_since END"
                " WHERE id=?",
                [(timestamp() if reviewed else None, reviewed, i) for i in ids],
            )

    # -- labels people created -------------------------------------------------------------------
    def person_labels(self) -> dict[str, str]:
        """Labels a person created, in creation order: ``{label: group}`` (an empty dict for a catalog
        older than schema 6 opened read-only)."""
        rows = self._catalog.query_newer_table(
            "person_labels", "SELECT label, group_name FROM person_labels ORDER BY created_at, rowid"
        )
        return {label: group or "" for label, group in rows}

    def add_person_label(self, label: str, group: str, decisions: DecisionChanges = ()) -> None:
        """Create ``label`` in ``group`` together with its first ``decisions`` (one transaction).

        Raises ValueError for a name or group that cannot be one (empty, holding the tag separator) or a
        label already created (names compare case-insensitively); CatalogError when read-only.
        """
        self.add_person_labels({label: group}, decisions)

    def add_person_labels(self, labels: Mapping[str, str], decisions: DecisionChanges = ()) -> None:
        """Create each ``{label: group}`` with the ``decisions`` in one transaction (an import's new tags);
        raises as ``add_person_label`` (then nothing is created)."""
        for label, group in labels.items():
            check_label(label)
            problem = label_problem(group.strip())
            if problem is not None:
                raise ValueError(f"not a usable group name: {problem}")
        with self._catalog.transaction() as db:
            for label, group in labels.items():
                same = db.execute(
                    "SELECT label FROM person_labels WHERE lower(label)=lower(?)", (label,)
                ).fetchone()
                if same is not None:
                    raise ValueError(f"“{label}” is already a label (“{same[0]}”)")
                db.execute(
                    "INSERT INTO person_labels(label, group_name, created_at) VALUES(?,?,?)",
                    (label, group.strip(), timestamp()),
                )
            self._write_decisions(db, decisions)

    def remove_person_label(self, label: str, decisions: DecisionChanges = ()) -> None:
        """Forget a created label (what undoing its creation does), with ``decisions`` (one transaction):
        the decisions on it are what the caller passes (None forgets one); nothing else changes."""
        self.remove_person_labels([label], decisions)

    def remove_person_labels(self, labels: Sequence[str], decisions: DecisionChanges = ()) -> None:
        """Forget created labels with ``decisions``, in one transaction (undoing an import's new tags)."""
        with self._catalog.transaction() as db:
            self._write_decisions(db, decisions)
            db.executemany("DELETE FROM person_labels WHERE label=?", [(label,) for label in labels])

    # -- view state -------------------------------------------------------------------------------
    def view_state(self, model_key: str) -> ThresholdPolicy | None:
        """The threshold view last set for a model (None: never set, or not readable: the defaults)."""
        rows = self._catalog.query_newer_table(
            "view_state", "SELECT state FROM view_state WHERE model_key=?", (model_key,)
        )
        if not rows:
            return None
        try:
            return ThresholdPolicy.from_json(rows[0][0])
        except ValueError:
            return None

    def set_view_state(self, model_key: str, policy: ThresholdPolicy) -> None:
        """Store the threshold view (overrides, global threshold, top-k, at least one) for a model.

        Raises CatalogError naming the file when it cannot be written (read-only, disk full)."""
        try:
            with self._catalog.transaction() as db:
                db.execute(
                    "INSERT OR REPLACE INTO view_state(model_key, state, updated_at) VALUES(?,?,?)",
                    (model_key, policy.to_json(), timestamp()),
                )
        except sqlite3.Error as exc:
            raise CatalogError(f"{self._catalog.path}: thresholds not saved ({exc})") from exc

    # -- label keys ---------------------------------------------------------------------------------
    def label_keys(self) -> dict[str, str]:
        """The review keys a person learnt in this library, ``{label: key text}`` (empty: none stored or
        not readable, the keys are assigned afresh)."""
        rows = self._catalog.query("SELECT value FROM meta WHERE key='label_keys'")
        try:
            keys = json.loads(rows[0][0]) if rows else {}
        except ValueError:
            return {}
        if not isinstance(keys, dict):
            return {}
        return {lab: key for lab, key in keys.items() if isinstance(key, str)}

    def set_label_keys(self, keys: Mapping[str, str]) -> None:
        """Store the review keys, so that reopening the library gives every label the key it had.

        Raises CatalogError naming the file when it cannot be written (read-only, disk full)."""
        try:
            with self._catalog.transaction() as db:
                db.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES('label_keys', ?)",
                    (json.dumps(dict(keys), ensure_ascii=False),),
                )
        except sqlite3.Error as exc:
            raise CatalogError(f"{self._catalog.path}: label keys not saved ({exc})") from exc
