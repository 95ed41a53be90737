"""The data a run would train on, without training: per-label counts per split and what looks wrong."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import numpy as np

from fashion_desktop.model.train_config import ConfigError, TrainConfig, check_source_weights

from .data import NEG, POS, LabelTable, dropped_note, load_dataset

SPLITS = ("train", "val", "test")
RARE_TRAIN = 10  # fewer positive training examples than this: the label will be learnt poorly


def load_run_dataset(cfg: TrainConfig) -> LabelTable:
    """The run's data exactly as training reads it: sources, mapping, splits (seed, fractions, group key)
    and label pruning. Raises DataError for unusable or empty data."""
    return load_dataset(
        cfg.data,
        cfg.mapping,
        cfg.val_fraction,
        cfg.test_fraction,
        cfg.seed,
        cfg.min_label_count,
        cfg.max_images,
        allow_new_labels=cfg.allow_new_labels,
        data_root=cfg.data_root,
    )


def with_data_rules(cfg: TrainConfig, table: LabelTable) -> TrainConfig:
    """``cfg`` with the one-value and at-least-one groups its data brings (a library: the rules of the
    model its photos were reviewed with) added to its own. A group the data no longer teaches is left
    out (one value needs two of its labels left, at least one needs one)."""
    size = Counter(table.groups.get(lab) for lab in table.labels)
    exclusive = [*cfg.exclusive_groups, *(g for g in table.exclusive_groups if size[g] >= 2)]
    required = [*cfg.at_least_one_groups, *(g for g in table.at_least_one_groups if size[g] >= 1)]
    return cfg.replace(
        exclusive_groups=tuple(dict.fromkeys(exclusive)), at_least_one_groups=tuple(dict.fromkeys(required))
    )


def dataset_preview(cfg: TrainConfig, table: LabelTable | None = None) -> dict[str, Any]:
    """The ``dataset_preview`` event's fields for ``cfg``'s data (``table`` when already loaded): labels,
    groups, images per split, positives and known answers per split per label, warnings, sources, and
    per data entry its source name, images and own label names (``inputs``), and the labels with fewer
    than RARE_TRAIN training examples (``rare``); what the model would keep and lose (``_rules``).

    Raises DataError as ``load_run_dataset``.
    """
    table = table if table is not None else load_run_dataset(cfg)
    counts: dict[str, dict[str, int]] = {}
    known: dict[str, dict[str, int]] = {}
    images: dict[str, int] = {}
    for split in SPLITS:
        rows = table.split_rows(split)
        t = table.targets[rows] if len(rows) else np.zeros((0, len(table.labels)), np.int8)
        images[split] = int(len(rows))
        counts[split] = {lab: int((t[:, j] == POS).sum()) for j, lab in enumerate(table.labels)}
        known[split] = {
            lab: int(((t[:, j] == POS) | (t[:, j] == NEG)).sum()) for j, lab in enumerate(table.labels)
        }
    # The labels left out get their own line in the preview (``dropped``), not a second one here.
    left_out = dropped_note(table.dropped, cfg.min_label_count) if table.dropped else None
    warnings = [n for n in table.notes if n != left_out]
    try:
        check_source_weights(cfg, table.sources)
    except ConfigError as exc:  # a run would stop here; the preview says why and goes on counting
        warnings.append(str(exc))
    for split in ("val", "test"):
        if not images[split]:
            fraction = cfg.val_fraction if split == "val" else cfg.test_fraction
            fix = "training cannot start without one" if split == "val" else "the final metrics come from val"
            warnings.append(f"the {split} split is empty ({split}_fraction {fraction}); {fix}")
    rare = [lab for lab in table.labels if counts["train"][lab] < RARE_TRAIN]
    if rare:
        shown = ", ".join(f"{lab} ({counts['train'][lab]})" for lab in rare[:12]) + (
            ", ..." if len(rare) > 12 else ""
        )
        warnings.append(f"{len(rare)} labels have fewer than {RARE_TRAIN} training examples: {shown}")
    missing = [p for p in table.paths if not os.path.isfile(p)]
    if missing:
        shown = "; ".join(missing[:3]) + ("; ..." if len(missing) > 3 else "")
        warnings.append(f"{len(missing)} photos are missing on disk and would be skipped: {shown}")
    sources: dict[str, int] = {}
    for s in table.sources:
        sources[s] = sources.get(s, 0) + 1
    out = {
        "labels": list(table.labels),
        "groups": dict(table.groups),
        "images": images,
        "counts": counts,
        "known": known,
        "warnings": warnings,
        "sources": sources,
        "inputs": [dict(i) for i in table.inputs],
        "rare": rare,
        **_rules(cfg, table),
    }
    if cfg.init_from:
        out["init_from"] = _init_from_labels(cfg.init_from, table.labels, warnings)
    return out


def _rules(cfg: TrainConfig, table: LabelTable) -> dict[str, Any]:
    """The preview's word on what the model would keep: its one-value (``exclusive_groups``) and
    at-least-one groups, the data's one-value groups it loses for want of a second value with training
    examples (``lost_exclusive``), and the labels too rare to learn at all (``dropped``, fewer than
    ``min_label_count`` training examples)."""
    ruled = with_data_rules(cfg, table)
    size = Counter(table.groups.get(lab) for lab in table.labels)
    return {
        "exclusive_groups": [g for g in ruled.exclusive_groups if size[g] >= 2],
        "at_least_one_groups": [g for g in ruled.at_least_one_groups if size[g] >= 1],
        "lost_exclusive": [g for g in table.exclusive_groups if size[g] < 2],
        "dropped": list(table.dropped),
        "min_label_count": max(cfg.min_label_count, 1),
    }


def _init_from_labels(path: str, labels: list[str], warnings: list[str]) -> dict[str, Any]:
    """Which of the run's labels bundle ``path`` knows (``kept``), which start fresh (``new``) and which
    of its labels the run drops (``dropped``); a warning instead when the bundle cannot be read."""
    from fashion_desktop.model.bundle_file import read_header
    from fashion_desktop.model.bundle_format import BundleError

    try:
        desc, _header = read_header(path)
    except (BundleError, OSError) as exc:
        warnings.append(f"--init-from: {exc}")
        return {"path": path, "kept": [], "new": list(labels), "dropped": []}
    known = set(desc.labels)
    return {
        "path": path,
        "kept": [lab for lab in labels if lab in known],
        "new": [lab for lab in labels if lab not in known],
        "dropped": [lab for lab in desc.labels if lab not in set(labels)],
    }


def format_preview(preview: dict[str, Any]) -> str:
    """The preview as a table (label, group, positives per split) followed by the warnings."""
    labels, groups, counts = preview["labels"], preview["groups"], preview["counts"]
    width = max([len("label"), *(len(lab) for lab in labels)])
    gwidth = max([len("group"), *(len(groups.get(lab, "")) for lab in labels)])
    head = f"{'label':<{width}}  {'group':<{gwidth}}" + "".join(f"  {s:>7}" for s in SPLITS)
    lines = [head, "-" * len(head)]
    for lab in labels:
        lines.append(
            f"{lab:<{width}}  {groups.get(lab, ''):<{gwidth}}"
            + "".join(f"  {counts[s][lab]:>7}" for s in SPLITS)
        )
    lines.append(
        f"{'images':<{width}}  {'':<{gwidth}}" + "".join(f"  {preview['images'][s]:>7}" for s in SPLITS)
    )
    start = preview.get("init_from")
    if start:
        for what in ("new", "dropped"):
            if start[what]:
                lines.append(f"{what} labels (vs {start['path']}): {', '.join(start[what])}")
    if preview.get("dropped"):
        lines.append(
            f"labels left out (fewer than {preview.get('min_label_count', 1)} training examples): "
            + ", ".join(preview["dropped"])
        )
    for what, key in (("one value per photo", "exclusive_groups"), ("lost one-value rule", "lost_exclusive")):
        if preview.get(key):
            lines.append(f"{what}: {', '.join(preview[key])}")
    for w in preview["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)
