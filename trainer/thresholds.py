"""A run's final thresholds: tuned on validation where a label has photos enough, a stated fallback where not."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from fashion_desktop.model.bundle_format import DEFAULT_THRESHOLD
from fashion_desktop.model.metrics import group_floor, tune_thresholds
from fashion_desktop.model.run_folder import FROM_DEFAULT, FROM_PREVIOUS

# Fewer validation positives than this and a label's threshold is not tuned. The F1-best cut follows the
# positives' scores: on one or two photos it lands just under the lowest of them (a run tuned Pink to 0.02
# on one photo, and Pink then went on a third of the library). Ten is where the preview stops calling a
# label rare (trainer.preview.RARE_TRAIN), and where one photo more or less moves the cut by a step, not
# across the scale.
MIN_TUNE_POSITIVES = 10


def previous_thresholds(path: str | None) -> dict[str, float]:
    """Label -> threshold of the bundle a run started from (``init_from``); {} without one, or when it can
    no longer be read (the run then falls back to the default)."""
    if not path:
        return {}
    from fashion_desktop.model.bundle_file import read_header
    from fashion_desktop.model.bundle_format import BundleError

    try:
        desc, _header = read_header(path)
    except (BundleError, OSError):
        return {}
    return {lab: float(t) for lab, t in zip(desc.labels, desc.thresholds, strict=True)}


def final_thresholds(
    targets: np.ndarray,
    scores: np.ndarray,
    labels: Sequence[str],
    exclusive: Sequence[np.ndarray] = (),
    previous: Mapping[str, float] | None = None,
) -> tuple[np.ndarray, dict[str, str]]:
    """(thresholds [L], label -> where its threshold came from when it was not tuned).

    ``targets``/``scores`` are the validation photos' (1 / 0 / -1, [N, L]). A label with at least
    MIN_TUNE_POSITIVES known positives gets the F1-best cut (``tune_thresholds``); one with fewer keeps
    the ``previous`` model's threshold (fine-tuning from a bundle: FROM_PREVIOUS), else DEFAULT_THRESHOLD
    (FROM_DEFAULT). An exclusive group (``exclusive``: its columns) shares one floor, tuned on the photos
    with a known value in the group (``group_floor``) when there are MIN_TUNE_POSITIVES of them, else
    the previous model's (the highest of its labels', the careful end) or the default.
    """
    previous = previous or {}
    out = tune_thresholds(targets, scores)
    fell_back: dict[str, str] = {}
    in_groups = {int(j) for cols in exclusive for j in cols}
    positives = (np.asarray(targets) == 1).sum(axis=0)
    for j, lab in enumerate(labels):
        if j in in_groups or positives[j] >= MIN_TUNE_POSITIVES:
            continue
        out[j] = previous.get(lab, DEFAULT_THRESHOLD)
        fell_back[lab] = FROM_PREVIOUS if lab in previous else FROM_DEFAULT
    for cols in exclusive:  # one floor per exclusive group, shared by its labels
        photos = int((np.asarray(targets)[:, cols] == 1).any(axis=1).sum())
        if photos >= MIN_TUNE_POSITIVES:
            out[cols] = group_floor(targets[:, cols], scores[:, cols])
            continue
        before = [previous[labels[j]] for j in cols if labels[j] in previous]
        out[cols] = max(before) if before else DEFAULT_THRESHOLD
        fell_back.update({labels[j]: FROM_PREVIOUS if before else FROM_DEFAULT for j in cols})
    return out, fell_back
