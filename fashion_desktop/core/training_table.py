"""A library's reviewed photos as a training table, read without writing to (or migrating) the catalog.

The trainer's one door into a person's library: it opens the catalog file read-only and returns plain
rows, so a training run can never change or upgrade the file the person works in.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .catalog import SCHEMA_VERSION, ModelRecord, architecture_named, connect_read_only
from .tags import decision_matrix, default_thresholds, final_tag_matrix, known_matrix
from .thresholds import CONFIDENT_MARGIN, ThresholdPolicy

# The group of a label whose model recorded none (or that only people used).
DEFAULT_GROUP = "tags"


class TrainingTableError(ValueError):
    """The file cannot be read as a catalog; the message names it and the problem."""


@dataclass(frozen=True)
class TrainingRow:
    """One photo: its final tags (positives) and every label whose state is known.

    A label the person never judged on this photo, and the model never scored, is unknown (absent
    from ``known``), not a "no". ``tags`` holds the final tags per label group, in label order.
    ``reviewed`` is False for an unreviewed photo taken for its confident predictions (asked for).
    """

    path: str
    positives: frozenset[str]
    known: frozenset[str]
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    reviewed: bool = True


@dataclass(frozen=True)
class TrainingTable:
    """Reviewed, present photos of a library with their final tags by the one tag rule (core.tags)
    (and, when asked for, unreviewed photos with the model's confident answers).

    ``labels``: the model's labels in its order, then labels only people used (sorted). ``groups``:
    every label's group (the model's, else the group a person created it in, else ``DEFAULT_GROUP``);
    ``model_groups`` only those the model recorded. ``thresholds``: the thresholds applied to the
    model's labels. ``model_key`` is None when the catalog has no model (the tags are then people's
    decisions alone). A label a person created is unknown on photos reviewed before it existed.
    ``exclusive`` and ``at_least_one``: the model's one-value and at-least-one groups, the rules the
    photos were reviewed under (a model trained on them keeps them).
    """

    model_key: str | None
    labels: tuple[str, ...]
    groups: Mapping[str, str]
    model_groups: Mapping[str, str]
    thresholds: Mapping[str, float]
    rows: list[TrainingRow]
    exclusive: tuple[str, ...] = ()
    at_least_one: tuple[str, ...] = ()


def _connect_read_only(path: Path) -> sqlite3.Connection:
    # Read-only (or immutable where nobody can be writing it): no migration or checkpoint can change
    # the person's file, and a catalog the app is writing meanwhile stays readable.
    try:
        db = connect_read_only(path)
        db.execute("SELECT value FROM meta LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        raise TrainingTableError(f"{path}: cannot be read as a Fashion Finder catalog ({exc})") from None
    return db


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _check_version(db: sqlite3.Connection, path: Path) -> int:
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    version = int(row[0]) if row else 1
    if version > SCHEMA_VERSION:
        raise TrainingTableError(
            f"{path}: catalog schema version {version} is newer than this app ({SCHEMA_VERSION}); "
            "update Fashion Finder to train from it"
        )
    return version


def _pick_model(
    db: sqlite3.Connection, path: Path, model_key: str | None, version: int = SCHEMA_VERSION
) -> ModelRecord | None:
    """The named model, else the one registered last (the one the app shows when it opens the
    library); None when the catalog has none."""
    # Catalogs older than schema 3 have no thresholds column (their models get the untuned default),
    # older than 7 no exclusive groups, older than 8 no at-least-one groups.
    columns = ModelRecord.columns_sql(_columns(db, "models"))
    keys = [r[0] for r in db.execute("SELECT model_key FROM models ORDER BY id")]
    # Scores under an architecture's name (ids of older apps, shared by different models) are what the
    # v4 upgrade drops: a catalog not upgraded yet is read as if they were gone.
    hidden = set(architecture_named(keys)) if version < 4 else set()
    keys = [k for k in keys if k not in hidden]
    sql = f"SELECT {columns} FROM models WHERE model_key=?"
    if model_key is None:
        row = db.execute(sql, (keys[-1],)).fetchone() if keys else None
    else:
        row = db.execute(sql, (model_key,)).fetchone() if model_key in keys else None
        if row is None:
            raise TrainingTableError(
                f"{path}: no model {model_key!r} in this catalog (known: {', '.join(keys) or 'none'})"
            )
    if row is None:
        return None
    return ModelRecord.from_row(row)


_REVIEWED = "SELECT id, path, 1 FROM images WHERE present=1 AND reviewed_at IS NOT NULL"
# Reviewed photos, then (for ``confident_predictions``) unreviewed ones the model scored; {model} is an int.
_WITH_SCORED = (
    "SELECT id, path, reviewed_at IS NOT NULL FROM images WHERE present=1 AND (reviewed_at IS NOT NULL"
    " OR id IN (SELECT image_id FROM predictions WHERE model_id={model}))"
)


def training_table(
    path: str | os.PathLike,
    model_key: str | None = None,
    policy: ThresholdPolicy | None = None,
    confident_predictions: bool = False,
) -> TrainingTable:
    """The training table of the library at ``path``: reviewed photos still present, in path order.

    A photo's final tags follow the one tag rule (``core.tags``): the person's decision where there is
    one, else the model's score against its threshold (the model's own thresholds as the catalog
    recorded them, under ``policy`` when given). ``model_key`` picks the model (default: the one
    registered last; none in the catalog: decisions only). With ``confident_predictions`` unreviewed
    photos the model scored join too, each label known only where a person decided it or its score is
    at least ``CONFIDENT_MARGIN`` from the threshold (photos left with nothing known are skipped). The
    file is opened read-only and never migrated. Raises TrainingTableError for a missing or unreadable
    file, a catalog newer than this app, or an unknown ``model_key``.
    """
    path = Path(path)
    if not path.is_file():
        raise TrainingTableError(f"catalog not found: {path}")
    db = _connect_read_only(path)
    try:
        version = _check_version(db, path)
        model = _pick_model(db, path, model_key, version)
        photos = _REVIEWED
        if confident_predictions and model is not None:
            photos = _WITH_SCORED.format(model=int(model.id))
        images = db.execute(photos + " ORDER BY path").fetchall()
        decided: dict[int, dict[str, bool]] = {}
        # Decisions on a picture that changed since are no one's word on the new one until confirmed.
        waiting = ""
        if "confirm_since" in _columns(db, "images"):
            waiting = " AND image_id NOT IN (SELECT id FROM images WHERE confirm_since IS NOT NULL)"
        for image_id, label, value in db.execute(
            f"SELECT image_id, label, value FROM decisions WHERE image_id IN (SELECT id FROM ({photos})){waiting}"
        ):
            decided.setdefault(image_id, {})[label] = bool(value)
        person_groups: dict[str, str] = {}
        if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='person_labels'").fetchone():
            person_groups = {
                lab: g or "" for lab, g in db.execute("SELECT label, group_name FROM person_labels")
            }
        scores: dict[int, bytes] = {}
        if model is not None:
            scores = dict(
                db.execute(
                    "SELECT image_id, scores FROM predictions"
                    f" WHERE model_id=? AND image_id IN (SELECT id FROM ({photos}))",
                    (model.id,),
                )
            )
    except sqlite3.DatabaseError as exc:
        raise TrainingTableError(f"{path}: cannot be read as a Fashion Finder catalog ({exc})") from None
    finally:
        db.close()
    return _table(model, images, decided, scores, policy or ThresholdPolicy(), person_groups)


def _table(
    model: ModelRecord | None,
    images: list[tuple[int, str, int]],
    decided: dict[int, dict[str, bool]],
    scores: dict[int, bytes],
    policy: ThresholdPolicy,
    person_groups: Mapping[str, str] | None = None,
) -> TrainingTable:
    model_labels = model.labels if model is not None else ()
    people_only = sorted({lab for d in decided.values() for lab in d}.difference(model_labels))
    labels = (*model_labels, *people_only)
    nm = len(model_labels)
    floors = model.exclusive_labels() if model is not None else ()
    thresholds = policy.thresholds(model_labels, default_thresholds(model), floors)
    n = len(images)
    matrix = np.full((n, len(labels)), np.nan, np.float32)
    for i, (image_id, _path, _reviewed) in enumerate(images):
        blob = scores.get(image_id)
        if blob is not None and len(blob) == 4 * nm:  # scores of an older label list are not trusted
            matrix[i, :nm] = np.frombuffer(blob, dtype="<f4")
    decisions = [decided.get(image_id, {}) for image_id, _, _ in images]
    dec = decision_matrix(labels, decisions)
    # Labels only people used have no score and no threshold: only decisions decide them.
    all_thresholds = np.concatenate([thresholds, np.ones(len(people_only), np.float32)])
    exclusive = model.exclusive_columns() if model is not None else ()
    required = model.at_least_one_columns() if model is not None else ()
    final = final_tag_matrix(matrix, dec, all_thresholds, policy, exclusive, required)
    known = known_matrix(matrix, dec)
    unreviewed = np.array([not r for _, _, r in images], bool)
    if unreviewed.any():  # only the model's confident answers (and any decisions) are known there
        with np.errstate(invalid="ignore"):
            sure = np.abs(matrix[:, :nm] - thresholds[None, :]) >= CONFIDENT_MARGIN  # NaN: False
        sure = np.concatenate([sure, np.zeros((n, len(people_only)), bool)], axis=1)
        known[unreviewed] = (sure | (dec >= 0))[unreviewed]
    model_groups = dict(model.groups) if model is not None else {}
    # A label a person created keeps the group they put it in (the model's group wins for its own).
    person_groups = person_groups or {}
    groups = {lab: model_groups.get(lab) or person_groups.get(lab) or DEFAULT_GROUP for lab in labels}
    rows = []
    for i, (_id, image_path, reviewed) in enumerate(images):
        if not reviewed and not known[i].any():
            continue
        on = [labels[j] for j in np.flatnonzero(final[i] & (known[i] | bool(reviewed)))]
        by_group: dict[str, list[str]] = {}
        for lab in on:
            by_group.setdefault(groups[lab], []).append(lab)
        rows.append(
            TrainingRow(
                image_path,
                frozenset(on),
                frozenset(labels[j] for j in np.flatnonzero(known[i])),
                {g: tuple(tags) for g, tags in by_group.items()},
                bool(reviewed),
            )
        )
    return TrainingTable(
        model.key if model is not None else None,
        labels,
        groups,
        {lab: g for lab, g in model_groups.items() if lab in model_labels},
        {lab: float(t) for lab, t in zip(model_labels, thresholds, strict=True)},
        rows,
        tuple(model.exclusive) if model is not None else (),
        tuple(model.at_least_one) if model is not None else (),
    )


def reviewed_rows(
    path: str | os.PathLike, model_key: str | None = None, policy: ThresholdPolicy | None = None
) -> list[TrainingRow]:
    """The rows of ``training_table(path, model_key, policy)``; raises TrainingTableError as it does."""
    return training_table(path, model_key, policy).rows
